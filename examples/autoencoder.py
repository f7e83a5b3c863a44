"""A convolutional denoising autoencoder (Conv2D encoder, Conv2DTranspose decoder).

The images are generated here: 16x16 pictures of random rectangles, discs and lines.
The model sees them with Gaussian noise added and learns to return the clean image;
the script reports how far the noisy and the denoised test images are from the clean
ones (mean squared error) and the size of the code the encoder squeezes them through.

    HIGHLEVEL_BACKEND=tensorflow python examples/autoencoder.py --epochs 10
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl


def shape_images(count: int, rng, size: int = 16):
    """(count, size, size, 1) float32 in [0, 1]: one filled rectangle, disc or line per image."""
    rows, cols = np.mgrid[0:size, 0:size]
    images = np.zeros((count, size, size), np.float32)
    for i in range(count):
        kind = rng.integers(0, 3)
        r, c = rng.uniform(3, size - 3, size=2)
        if kind == 0:
            h, w = rng.uniform(2, 5, size=2)
            picture = (np.abs(rows - r) <= h) & (np.abs(cols - c) <= w)
        elif kind == 1:
            picture = (rows - r) ** 2 + (cols - c) ** 2 <= rng.uniform(2, 5) ** 2
        else:
            angle = rng.uniform(0, np.pi)
            distance = np.abs((rows - r) * np.cos(angle) - (cols - c) * np.sin(angle))
            picture = distance <= 0.8
        images[i] = picture * rng.uniform(0.5, 1.0)
    return images[..., None]


def build_autoencoder(size: int = 16):
    layers = hl.layers
    inputs = hl.Input((size, size, 1))
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)     # 8x8x16
    code = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)        # 4x4x8
    x = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(code)  # 8x8x16
    x = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(x)     # 16x16x16
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return hl.Model(inputs, outputs, name="denoiser"), code.shape


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    clean = shape_images(args.samples, rng)
    noisy = np.clip(clean + rng.normal(scale=args.noise, size=clean.shape), 0.0, 1.0).astype(np.float32)
    split = int(0.9 * len(clean))

    model, code_shape = build_autoencoder()
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=2e-3), loss="binary_crossentropy", metrics=["mse"])
    model.summary()
    history = model.fit(noisy[:split], clean[:split], epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=0.1, verbose=args.verbose)
    denoised = model.predict(noisy[split:], verbose=0)
    print(f"backend: {hl.backend.name()}")
    print(f"code shape: {code_shape[1:]} ({int(np.prod(code_shape[1:]))} numbers for {16 * 16} pixels)")
    print(f"first epoch loss: {history.history['loss'][0]:.5f}")
    print(f"last epoch loss: {history.history['loss'][-1]:.5f}")
    print(f"noisy input mse: {np.mean((noisy[split:] - clean[split:]) ** 2):.5f}")
    print(f"denoised mse: {np.mean((denoised - clean[split:]) ** 2):.5f}")
    return history


if __name__ == "__main__":
    main()
