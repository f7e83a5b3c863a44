"""A small transformer encoder classifying synthetic, padded token sequences.

Each sample is a sequence of up to ``--steps`` token ids (0 is padding, at the end;
the lengths vary) holding exactly one ``A`` and one ``B`` token among filler words; the
label says whether ``A`` comes before ``B``. Bags of words cannot tell: the model needs
positions and attention. The model:

    token + position embedding (mask_zero=True: padding is masked)
    -> MultiHeadAttention -> Add & LayerNormalization -> feed-forward -> Add & LayerNormalization
    -> GlobalAveragePooling1D (over the unpadded steps) -> Dense softmax

The padding mask made by the embedding reaches the attention (padded keys get no
weight) and the pooling by itself.

    HIGHLEVEL_BACKEND=torch python examples/transformer_classifier.py --epochs 10
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl

VOCAB = 16
TOKEN_A, TOKEN_B = 1, 2   # fillers are 3 .. VOCAB - 1


def make_data(samples: int, steps: int, rng):
    """ids: (samples, steps) int32, padded with 0 after a length in [4, steps]; y: 1 where A precedes B."""
    lengths = rng.integers(4, steps + 1, size=samples)
    ids = rng.integers(3, VOCAB, size=(samples, steps))
    ids[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    y = np.zeros(samples, np.int32)
    for i, length in enumerate(lengths):
        a, b = rng.choice(length, size=2, replace=False)
        ids[i, a], ids[i, b] = TOKEN_A, TOKEN_B
        y[i] = a < b
    return ids.astype(np.int32), y


@hl.saving.register_serializable(package="examples")
class TokenAndPositionEmbedding(hl.layers.Layer):
    """ids ``(batch, steps)`` -> token embedding + embedding of the position ``(batch, steps, dim)``;
    the output's mask is the token embedding's (``ids != 0``)."""

    def __init__(self, steps, vocab, dim, **kwargs):
        super().__init__(**kwargs)
        self.steps, self.vocab, self.dim = steps, vocab, dim
        self.tokens = hl.layers.Embedding(vocab, dim, mask_zero=True)
        self.positions = hl.layers.Embedding(steps, dim)
        self.autocast = False

    def build(self, input_shape):
        # Create the weights now (the functional API infers shapes without calling ``call``).
        self.tokens.build()
        self.positions.build()
        self.built = True

    def call(self, ids):
        positions = hl.ops.arange(hl.ops.shape(ids)[-1])
        return hl.ops.add(self.tokens(ids), self.positions(positions))

    def compute_mask(self, inputs, mask=None):
        return self.tokens.compute_mask(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.dim,)

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "vocab": self.vocab, "dim": self.dim}


def encoder_block(x, dim, heads, ff_dim, dropout):
    attended = hl.layers.MultiHeadAttention(num_heads=heads, key_dim=dim // heads, dropout=dropout)(x, x)
    x = hl.layers.LayerNormalization(epsilon=1e-6)(hl.layers.Add()([x, hl.layers.Dropout(dropout)(attended)]))
    hidden = hl.layers.Dense(ff_dim, activation="relu")(x)
    hidden = hl.layers.Dropout(dropout)(hl.layers.Dense(dim)(hidden))
    return hl.layers.LayerNormalization(epsilon=1e-6)(hl.layers.Add()([x, hidden]))


def build(steps: int, dim: int, heads: int, ff_dim: int, dropout: float):
    ids = hl.Input((steps,), dtype="int32", name="ids")
    x = TokenAndPositionEmbedding(steps, VOCAB, dim)(ids)
    x = encoder_block(x, dim, heads, ff_dim, dropout)
    x = hl.layers.GlobalAveragePooling1D()(x)
    outputs = hl.layers.Dense(2, activation="softmax")(x)
    model = hl.Model(ids, outputs, name="transformer_classifier")
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ff-dim", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    ids, y = make_data(args.samples, args.steps, rng)
    split = int(0.8 * len(ids))
    x_train, y_train, x_test, y_test = ids[:split], y[:split], ids[split:], y[split:]
    print(f"backend: {hl.backend.name()}")
    print(f"sequences: {len(x_train)} train, {len(x_test)} test, up to {args.steps} steps, vocabulary {VOCAB}; "
          f"positive share {y.mean():.3f}")
    model = build(args.steps, args.dim, args.heads, args.ff_dim, args.dropout)
    if args.verbose:
        model.summary()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1,
                        verbose=args.verbose)
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
    losses = history.history["loss"]
    print(f"first epoch loss: {losses[0]:.4f}")
    print(f"last epoch loss: {losses[-1]:.4f}")
    print(f"test accuracy: {test['accuracy']:.4f} (from predict: {np.mean(predicted == y_test):.4f})")
    return test


if __name__ == "__main__":
    main()
