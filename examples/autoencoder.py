"""A denoising convolutional autoencoder on the real handwritten digits.

The digits (``hl.datasets.digits``, 8x8 pixels scaled to [0, 1]) get Gaussian noise
added; a Conv2D encoder maps each noisy image to a 4x4x8 code (half the resolution) and a
Conv2DTranspose decoder rebuilds the clean image from it. The script reports how far
the noisy and the denoised test images are from the clean ones (mean squared error)
and the size of the code.

    HIGHLEVEL_BACKEND=tensorflow python examples/autoencoder.py --epochs 30
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl


def noisy_digits(noise: float, seed: int, train_samples: int | None = None):
    """``(clean_train, noisy_train), (clean_test, noisy_test)``: (n, 8, 8, 1) float32 in [0, 1].

    The noise is N(0, noise^2) per pixel, drawn from ``np.random.default_rng([seed, 0])`` for
    the training images and ``np.random.default_rng([seed, 1])`` for the test images (so the
    test set's noise does not depend on ``train_samples``); noisy pixels are clipped into [0, 1].
    """
    (x_train, _), (x_test, _) = hl.datasets.digits.load_data()
    if train_samples is not None:
        x_train = x_train[:train_samples]
    pairs = []
    for stream, images in enumerate((x_train, x_test)):
        rng = np.random.default_rng([seed, stream])
        clean = (images.astype(np.float32) / 16.0)[..., None]
        noisy = np.clip(clean + rng.normal(scale=noise, size=clean.shape), 0.0, 1.0).astype(np.float32)
        pairs.append((clean, noisy))
    return pairs


def build_autoencoder():
    """(batch, 8, 8, 1) noisy images -> (batch, 8, 8, 1) denoised images; also returns the code's shape."""
    layers = hl.layers
    inputs = hl.Input((8, 8, 1))
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)                    # 8x8x32
    code = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)            # 4x4x8
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(code)  # 8x8x32
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return hl.Model(inputs, outputs, name="denoiser"), code.shape


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--train-samples", type=int, default=None, help="use only this many training images")
    parser.add_argument("--noise", type=float, default=0.3, help="standard deviation of the added noise")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    (clean_train, noisy_train), (clean_test, noisy_test) = noisy_digits(args.noise, args.seed, args.train_samples)

    model, code_shape = build_autoencoder()
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=3e-3), loss="binary_crossentropy", metrics=["mse"])
    if args.verbose:
        model.summary()
    history = model.fit(noisy_train, clean_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=0.1, verbose=args.verbose)
    denoised = model.predict(noisy_test, verbose=0)
    print(f"backend: {hl.backend.name()}")
    print(f"code shape: {tuple(code_shape[1:])} ({int(np.prod(code_shape[1:]))} numbers for 64 pixels)")
    print(f"first epoch loss: {history.history['loss'][0]:.5f}")
    print(f"last epoch loss: {history.history['loss'][-1]:.5f}")
    print(f"noisy input mse: {np.mean((noisy_test - clean_test) ** 2):.5f}")
    print(f"denoised mse: {np.mean((denoised - clean_test) ** 2):.5f}")
    return history


if __name__ == "__main__":
    main()
