"""The flagship demo: a convolutional network learns real handwritten digits.

The data is the UCI handwritten digits bundled with highlevel (1797 images of 8x8
pixels, ``hl.datasets.digits``; no download). The model runs two convolution blocks
and a softmax classifier, trained with Adam under a cosine learning-rate decay, and
reaches about 99% test accuracy in a few seconds on one CPU thread. (``--augment``
adds random one-pixel shifts while training; measured, they do not help on this data.)
The script then saves the trained model, loads it back and checks that the reloaded
model predicts exactly what the trained one does.

    python examples/cnn_digits.py                           # what `make demo` runs
    HIGHLEVEL_BACKEND=torch python examples/cnn_digits.py --epochs 30 --save build/torch.hl
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import highlevel as hl


def load_digits(train_samples: int | None = None):
    """``(x_train, y_train), (x_test, y_test)``: x (n, 8, 8, 1) float32 in [0, 1], y (n,) int32 in 0..9.

    ``train_samples`` keeps only the first that many training images (quick runs); the
    test set is always the full held-out 20%.
    """
    (x_train, y_train), (x_test, y_test) = hl.datasets.digits.load_data()
    if train_samples is not None:
        x_train, y_train = x_train[:train_samples], y_train[:train_samples]

    def prepare(images, labels):
        # Pixels count inked cells of a 4x4 block: 0..16. Scale to [0, 1], add the channel axis.
        return (images.astype(np.float32) / 16.0)[..., None], labels.astype(np.int32)

    return prepare(x_train, y_train), prepare(x_test, y_test)


def build_model(augment: bool = False):
    """(batch, 8, 8, 1) images -> (batch, 10) class probabilities."""
    layers = hl.layers
    stack = [hl.Input((8, 8, 1))]
    if augment:
        # Shift by up to one pixel, only while training: handwriting is not always centred.
        stack.append(layers.RandomTranslation(0.125, 0.125, fill_mode="constant"))
    stack += [
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),                                      # 4x4x32
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),                                      # 2x2x64
        layers.Flatten(),
        layers.Dropout(0.25),
        layers.Dense(10, activation="softmax"),
    ]
    return hl.Sequential(stack, name="digits_cnn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train-samples", type=int, default=None, help="use only this many training images")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--augment", action="store_true",
                        help="shift training images randomly by up to a pixel (measured: no gain on this data)")
    parser.add_argument("--save", default=os.path.join("build", "digits_cnn.hl"), help="where to save the model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, help="0 silent, 1 progress bar, 2 one line per epoch")
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_digits(args.train_samples)
    print(f"backend: {hl.backend.name()}")
    print(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels")

    model = build_model(augment=args.augment)
    # The learning rate falls to zero along a cosine over the run: big steps first, then settling.
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    schedule = hl.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=max(steps, 1))
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if args.verbose:
        model.summary()
    started = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
    print(f"training time: {time.perf_counter() - started:.1f} s")
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    probabilities = model.predict(x_test, verbose=0)
    predicted = np.argmax(probabilities, axis=1)
    print(f"epochs run: {len(history.epoch)}")
    print(f"first epoch loss: {history.history['loss'][0]:.4f}")
    print(f"last epoch loss: {history.history['loss'][-1]:.4f}")
    print(f"test loss: {test['loss']:.4f}")
    print(f"test accuracy: {test['accuracy']:.4f} (from predict: {np.mean(predicted == y_test):.4f})")

    # Save, load back, and check the reloaded model is the same function.
    os.makedirs(os.path.dirname(os.path.abspath(args.save)), exist_ok=True)
    model.save(args.save)
    print(f"saved model: {args.save}")
    reloaded = hl.saving.load_model(args.save)
    reloaded_probabilities = reloaded.predict(x_test, verbose=0)
    gap = float(np.max(np.abs(reloaded_probabilities - probabilities)))
    same = bool(np.array_equal(np.argmax(reloaded_probabilities, axis=1), predicted))
    print(f"reloaded test accuracy: {np.mean(np.argmax(reloaded_probabilities, axis=1) == y_test):.4f} "
          f"(same predictions: {same}, max probability difference {gap:.2e})")
    return test


if __name__ == "__main__":
    main()
