"""Transfer learning with frozen layers: reuse what a CNN learned on digits 0-4 for digits 5-9.

1. Pretrain a small CNN (a convolutional base + a softmax head) on the digits 0-4 of
   the bundled UCI digits (``hl.datasets.digits``).
2. Freeze the base (``base.trainable = False``), put a new head on it and train it on
   only ``--shots`` labelled images per class of the digits 5-9.
3. Train the same architecture from scratch on the same few images, for the same
   number of epochs, and compare the test accuracies on all test images of 5-9.

On these small, clean images a tiny CNN also learns well from scratch, so expect the two
accuracies to be close (within a few points, either way depending on the seed); the
point is the mechanics: the frozen base keeps its weights and only the head trains. The
frozen base's weights are checked to be unchanged by the fine-tuning (``--weights-out``
saves them before and after, with the new head's, to an ``.npz`` file).

    HIGHLEVEL_BACKEND=torch python examples/transfer_learning.py --shots 2
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl


def split_digits():
    """``(x_train, y_train), (x_test, y_test)``: x (n, 8, 8, 1) float32 in [0, 1], y (n,) int32 in 0..9."""
    (x_train, y_train), (x_test, y_test) = hl.datasets.digits.load_data()
    scale = lambda images: (images.astype(np.float32) / 16.0)[..., None]   # noqa: E731
    return (scale(x_train), y_train.astype(np.int32)), (scale(x_test), y_test.astype(np.int32))


def few_shots(y, classes, shots: int, rng):
    """Indices of ``shots`` random samples of each class in ``classes`` (sorted)."""
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in classes]))


def build_base():
    """(batch, 8, 8, 1) -> (batch, 512) features: 4x4 maps of 32 stroke detectors.

    The base stops before a second pooling: features this close to the pixels describe
    strokes that digits 5-9 share with 0-4, so they carry over (pooled further they
    become specific to the pretraining classes and transfer poorly).
    """
    layers = hl.layers
    return hl.Sequential([
        hl.Input((8, 8, 1)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),                                    # 4x4x32
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Flatten(),
    ], name="conv_base")


def classifier(base, classes: int, name: str, learning_rate: float = 3e-3):
    """The base followed by a new softmax head of ``classes`` units."""
    model = hl.Sequential([hl.Input((8, 8, 1)), base, hl.layers.Dense(classes, activation="softmax", name="head")],
                          name=name)
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def accuracy(model, x, y) -> float:
    return float(model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=40, help="epochs on the few labelled digits 5-9")
    parser.add_argument("--shots", type=int, default=5, help="labelled training images per class of 5-9")
    parser.add_argument("--learning-rate", type=float, default=1e-2, help="Adam's, on the few digits 5-9")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights-out", default=None, help="save the base's weights before/after to this .npz")
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = split_digits()
    source_train, source_test = y_train < 5, y_test < 5
    target_test = ~source_test
    shots = few_shots(y_train, range(5, 10), args.shots, np.random.default_rng(args.seed))
    print(f"backend: {hl.backend.name()}")
    print(f"source task: digits 0-4, {source_train.sum()} training images; "
          f"target task: digits 5-9, {len(shots)} labelled training images, {target_test.sum()} test images")

    # 1) Pretrain base + head on digits 0-4.
    base = build_base()
    source = classifier(base, 5, "source_classifier")
    source.fit(x_train[source_train], y_train[source_train], epochs=args.pretrain_epochs,
               batch_size=args.batch_size, verbose=args.verbose)
    print(f"pretrained accuracy on digits 0-4: {accuracy(source, x_test[source_test], y_test[source_test]):.4f}")

    # 2) Freeze the base, new head, train on the few digits 5-9 (labels shifted to 0..4).
    base.trainable = False
    transfer = classifier(base, 5, "transfer_classifier", args.learning_rate)   # compile after freezing, as in Keras
    base_before = [np.copy(w) for w in base.get_weights()]
    history = transfer.fit(x_train[shots], y_train[shots] - 5, epochs=args.epochs, batch_size=args.batch_size,
                           verbose=args.verbose)
    base_after = base.get_weights()
    head_weights = transfer.get_layer("head").get_weights()
    change = max(float(np.max(np.abs(a - b))) for a, b in zip(base_after, base_before))
    print(f"trainable weights: transfer {len(transfer.trainable_weights)} (the head's), "
          f"frozen {len(transfer.non_trainable_weights)}")
    print(f"frozen base: max weight change: {change:.3g}")
    print(f"transfer: first epoch loss: {history.history['loss'][0]:.4f}")
    print(f"transfer: last epoch loss: {history.history['loss'][-1]:.4f}")
    transfer_accuracy = accuracy(transfer, x_test[target_test], y_test[target_test] - 5)

    # 3) The same architecture from scratch, on the same few images.
    scratch = classifier(build_base(), 5, "scratch_classifier", args.learning_rate)
    scratch.fit(x_train[shots], y_train[shots] - 5, epochs=args.epochs, batch_size=args.batch_size,
                verbose=args.verbose)
    scratch_accuracy = accuracy(scratch, x_test[target_test], y_test[target_test] - 5)
    predicted = np.argmax(transfer.predict(x_test[target_test], verbose=0), axis=1) + 5
    print(f"transfer accuracy on digits 5-9: {transfer_accuracy:.4f} "
          f"(from predict: {np.mean(predicted == y_test[target_test]):.4f})")
    print(f"scratch accuracy on digits 5-9: {scratch_accuracy:.4f}")
    if args.weights_out:
        np.savez(args.weights_out, shots=shots, **{f"before_{i}": w for i, w in enumerate(base_before)},
                 **{f"after_{i}": w for i, w in enumerate(base_after)},
                 head_kernel=head_weights[0], head_bias=head_weights[1])
        print(f"weights saved: {args.weights_out}")
    return transfer_accuracy, scratch_accuracy


if __name__ == "__main__":
    main()
