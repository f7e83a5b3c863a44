"""An MLP classifier on generated data (three interleaved spirals), with validation,
early stopping and test accuracy.

    HIGHLEVEL_BACKEND=tensorflow python examples/mlp_classifier.py --epochs 30
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl


def spirals(samples_per_class: int, classes: int, rng):
    """x: (n, 2) points on ``classes`` noisy spiral arms; y: (n,) int labels."""
    xs, ys = [], []
    for label in range(classes):
        radius = np.linspace(0.1, 1.0, samples_per_class)
        angle = np.linspace(0.0, 4.0, samples_per_class) + label * 2 * np.pi / classes
        angle = angle + rng.normal(scale=0.15, size=samples_per_class)
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(samples_per_class, label))
    x = np.concatenate(xs).astype(np.float32)
    y = np.concatenate(ys).astype(np.int32)
    order = rng.permutation(len(x))
    return x[order], y[order]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples-per-class", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, y = spirals(args.samples_per_class, 3, rng)
    split = int(0.8 * len(x))
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]

    model = hl.Sequential([
        hl.Input((2,)),
        hl.layers.Dense(64, activation="relu"),
        hl.layers.Dense(64, activation="relu"),
        hl.layers.Dropout(0.1),
        hl.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    stop = hl.callbacks.EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=True)
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.15,
                        callbacks=[stop], verbose=args.verbose)
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
    print(f"backend: {hl.backend.name()}")
    print(f"epochs run: {len(history.epoch)}")
    print(f"first epoch loss: {history.history['loss'][0]:.4f}")
    print(f"test loss: {test['loss']:.4f}")
    print(f"test accuracy: {test['accuracy']:.4f} (from predict: {np.mean(predicted == y_test):.4f})")
    return test


if __name__ == "__main__":
    main()
