"""A convolutional digit classifier with data augmentation, on generated 8x8 digit images.

The images are drawn here (no download): each digit is a 5x3 bitmap glyph placed at a
random position of an 8x8 canvas, with random stroke strength and pixel noise. The
model augments its training batches with small random rotations and translations
(layers that are active only in training), then runs two convolution blocks, global
average pooling and a softmax classifier.

    HIGHLEVEL_BACKEND=torch python examples/cnn_digits.py --epochs 15
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl

# 5 rows x 3 columns per digit, "#" = ink.
GLYPHS = {
    0: ("###", "#.#", "#.#", "#.#", "###"),
    1: (".#.", "##.", ".#.", ".#.", "###"),
    2: ("###", "..#", "###", "#..", "###"),
    3: ("###", "..#", ".##", "..#", "###"),
    4: ("#.#", "#.#", "###", "..#", "..#"),
    5: ("###", "#..", "###", "..#", "###"),
    6: ("###", "#..", "###", "#.#", "###"),
    7: ("###", "..#", ".#.", ".#.", ".#."),
    8: ("###", "#.#", "###", "#.#", "###"),
    9: ("###", "#.#", "###", "..#", "###"),
}


def digit_images(samples_per_class: int, rng):
    """x: (n, 8, 8, 1) float32 in [0, 1]; y: (n,) int labels 0-9, shuffled."""
    xs, ys = [], []
    for label, rows in GLYPHS.items():
        glyph = np.array([[c == "#" for c in row] for row in rows], np.float32)
        for _ in range(samples_per_class):
            canvas = np.zeros((8, 8), np.float32)
            top, left = rng.integers(0, 4), rng.integers(0, 6)
            canvas[top:top + 5, left:left + 3] = glyph * rng.uniform(0.6, 1.0)
            canvas += rng.normal(scale=0.12, size=(8, 8))
            xs.append(np.clip(canvas, 0.0, 1.0))
            ys.append(label)
    x = np.stack(xs)[..., None].astype(np.float32)
    y = np.array(ys, np.int32)
    order = rng.permutation(len(x))
    return x[order], y[order]


def build_model():
    layers = hl.layers
    return hl.Sequential([
        hl.Input((8, 8, 1)),
        # Augmentation: only while training (fit); evaluate/predict see the images as they are.
        layers.RandomRotation(0.03, fill_mode="constant"),
        layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--samples-per-class", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, y = digit_images(args.samples_per_class, rng)
    split = int(0.8 * len(x))
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]

    model = build_model()
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1,
                        verbose=args.verbose)
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
    print(f"backend: {hl.backend.name()}")
    print(f"epochs run: {len(history.epoch)}")
    print(f"first epoch loss: {history.history['loss'][0]:.4f}")
    print(f"last epoch loss: {history.history['loss'][-1]:.4f}")
    print(f"test loss: {test['loss']:.4f}")
    print(f"test accuracy: {test['accuracy']:.4f} (from predict: {np.mean(predicted == y_test):.4f})")
    return test


if __name__ == "__main__":
    main()
