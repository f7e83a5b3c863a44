"""LSTM and GRU classifiers on a synthetic, sentiment-like sequence task.

Each sample is a sentence of ``--steps`` token ids from a small vocabulary in which a few
tokens are "positive" and a few "negative" words; the label says whether positive words
outnumber negative ones. Tokens are fed one-hot (``hl.utils.to_categorical``). The order
does not matter to the label, but a model must count over the whole sequence, which an
RNN learns; the two models are an ``LSTM`` and a ``Bidirectional(GRU)``.

    HIGHLEVEL_BACKEND=torch python examples/rnn_sequence.py --epochs 10
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl

VOCAB = 12
POSITIVE, NEGATIVE = (1, 2, 3), (4, 5, 6)


def make_data(samples: int, steps: int, rng):
    """x: (samples, steps, VOCAB) one-hot tokens; y: (samples,) 1 where positive words outnumber negative."""
    while True:
        tokens = rng.integers(0, VOCAB, size=(samples, steps))
        score = np.isin(tokens, POSITIVE).sum(axis=1) - np.isin(tokens, NEGATIVE).sum(axis=1)
        keep = score != 0   # no ties: every sentence leans one way
        if keep.sum() >= samples // 2:
            break
    tokens, score = tokens[keep], score[keep]
    x = hl.utils.to_categorical(tokens, VOCAB).astype(np.float32)
    return x, (score > 0).astype(np.int32)


def build(kind: str, steps: int, units: int):
    recurrent = hl.layers.LSTM(units) if kind == "lstm" else hl.layers.Bidirectional(hl.layers.GRU(units))
    model = hl.Sequential([hl.Input((steps, VOCAB)), recurrent, hl.layers.Dense(2, activation="softmax")],
                          name=f"{kind}_classifier")
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, y = make_data(args.samples, args.steps, rng)
    split = int(0.8 * len(x))
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
    print(f"backend: {hl.backend.name()}")
    print(f"sequences: {len(x_train)} train, {len(x_test)} test, {args.steps} steps, vocabulary {VOCAB}; "
          f"positive share {y.mean():.3f}")
    results = {}
    for kind in ("lstm", "gru"):
        model = build(kind, args.steps, args.units)
        if args.verbose:
            model.summary()
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                            validation_split=0.1, verbose=args.verbose)
        test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
        losses = history.history["loss"]
        print(f"{kind}: first epoch loss: {losses[0]:.4f}")
        print(f"{kind}: last epoch loss: {losses[-1]:.4f}")
        print(f"{kind}: test accuracy: {test['accuracy']:.4f} (from predict: {np.mean(predicted == y_test):.4f})")
        results[kind] = test
    return results


if __name__ == "__main__":
    main()
