"""An LSTM sentiment classifier: Embedding -> Bidirectional(LSTM) -> Dense, on IMDB-style reviews.

Two data sources:

- ``--data synthetic`` (default, no download): generated reviews in the IMDB data set's
  encoding (token ids; 0 = padding, 1 = start of review, 2 = out-of-vocabulary, words
  from 4 on). A review is filler words with a few sentiment phrases scattered in it:
  a positive or negative word, sometimes preceded by a negation ("not good") which
  flips it. The label is the sign of the phrases' total, so a model must find the
  sentiment words among the filler and read the word before each one.
- ``--data imdb``: the real 25,000 + 25,000 movie reviews, through
  ``hl.datasets.imdb.load_data(num_words=..., maxlen=...)`` (downloaded once into the
  cache).

Reviews have different lengths; ``hl.utils.pad_sequences`` pads them (in front, as
Keras's IMDB example does) to ``--maxlen`` tokens.

    HIGHLEVEL_BACKEND=torch python examples/imdb_sentiment.py --epochs 5
    python examples/imdb_sentiment.py --data imdb --num-words 10000 --maxlen 200 --epochs 3
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl

PAD, START, OOV = 0, 1, 2           # the IMDB encoding's reserved ids (3 is unused there too)
POSITIVE = tuple(range(4, 24))      # "great", "wonderful", ... as ids
NEGATIVE = tuple(range(24, 44))     # "boring", "awful", ...
NEGATIONS = (44, 45, 46)            # "not", "never", "hardly": flip the next sentiment word
FIRST_FILLER = 47                   # neutral words: 47 .. num_words - 1


def make_reviews(samples: int, num_words: int, min_length: int, max_length: int, rng):
    """``(reviews, labels)``: a list of int lists (start id first; lengths in [min_length, max_length])
    and (samples,) int32 labels, 1 for a positive review.

    Each review holds 3 or 5 sentiment phrases (an odd count: no ties); each phrase agrees
    with the review's label with probability 0.75, and is written as a negated opposite
    word ("not boring" for positive) a third of the time. Filler words follow a Zipf law.
    """
    if num_words <= FIRST_FILLER + 1:
        raise ValueError(f"make_reviews: num_words must be > {FIRST_FILLER + 1}, got {num_words}")
    if not 12 <= min_length <= max_length:
        raise ValueError(f"make_reviews: need 12 <= min_length <= max_length, got {min_length}, {max_length}")
    fillers = np.arange(FIRST_FILLER, num_words)
    frequency = 1.0 / np.arange(1, len(fillers) + 1)
    frequency /= frequency.sum()
    reviews, labels = [], np.zeros(samples, np.int32)
    for i in range(samples):
        label = int(rng.integers(0, 2))
        while True:   # draw phrase polarities until their majority is the label
            polarities = np.where(rng.random(rng.choice([3, 5])) < 0.75, label, 1 - label)
            if (2 * polarities.sum() > len(polarities)) == bool(label):
                break
        length = int(rng.integers(min_length, max_length + 1))
        words = list(rng.choice(fillers, size=length - 1, p=frequency))
        # Sentiment phrases at distinct places (2 tokens each, so space them by 2).
        slots = np.sort(rng.choice(np.arange(0, length - 2, 2), size=len(polarities), replace=False))
        for slot, polarity in zip(slots, polarities):
            negate = rng.random() < 1 / 3
            written = 1 - polarity if negate else polarity   # "not <opposite>" says <polarity>
            word = int(rng.choice(POSITIVE if written else NEGATIVE))
            if negate:
                words[slot:slot + 2] = [int(rng.choice(NEGATIONS)), word]
            else:
                words[slot + 1] = word
        reviews.append([START] + [int(w) for w in words])
        labels[i] = label
    return reviews, labels


def load(args):
    """``(x_train, y_train), (x_test, y_test)``: x (n, maxlen) int32 padded ids, y (n,) int32."""
    if args.data == "imdb":
        (x_train, y_train), (x_test, y_test) = hl.datasets.imdb.load_data(num_words=args.num_words,
                                                                         maxlen=args.maxlen)
    else:
        rng = np.random.default_rng(args.seed)
        reviews, labels = make_reviews(args.samples, args.num_words, max(12, args.maxlen // 4), args.maxlen, rng)
        split = int(0.8 * len(reviews))
        x_train, y_train, x_test, y_test = reviews[:split], labels[:split], reviews[split:], labels[split:]
    pad = lambda sequences: hl.utils.pad_sequences(sequences, maxlen=args.maxlen)   # noqa: E731
    return (pad(x_train), np.asarray(y_train, np.int32)), (pad(x_test), np.asarray(y_test, np.int32))


def build_model(num_words: int, maxlen: int, units: int, bidirectional: bool = True):
    """(batch, maxlen) token ids -> (batch, 1) probability that the review is positive."""
    layers = hl.layers
    recurrent = layers.LSTM(units)
    return hl.Sequential([
        hl.Input((maxlen,), dtype="int32"),
        layers.Embedding(num_words, 16),
        layers.Bidirectional(recurrent) if bidirectional else recurrent,
        layers.Dense(1, activation="sigmoid"),
    ], name="sentiment_lstm")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("synthetic", "imdb"), default="synthetic")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--samples", type=int, default=2000, help="synthetic reviews to generate")
    parser.add_argument("--num-words", type=int, default=None,
                        help="vocabulary size (default: 200 synthetic, 10000 imdb)")
    parser.add_argument("--maxlen", type=int, default=None, help="tokens per padded review (default: 40 / 200)")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--no-bidirectional", action="store_true", help="a forward LSTM only")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)
    synthetic = args.data == "synthetic"
    args.num_words = args.num_words or (200 if synthetic else 10000)
    args.maxlen = args.maxlen or (40 if synthetic else 200)

    hl.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load(args)
    print(f"backend: {hl.backend.name()}")
    print(f"reviews: {len(x_train)} train, {len(x_test)} test, padded to {x_train.shape[1]} tokens; "
          f"positive share {y_train.mean():.3f}")
    model = build_model(args.num_words, args.maxlen, args.units, not args.no_bidirectional)
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=1e-2), loss="binary_crossentropy",
                  metrics=["accuracy"])
    if args.verbose:
        model.summary()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1,
                        verbose=args.verbose)
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    predicted = (model.predict(x_test, verbose=0)[:, 0] > 0.5).astype(np.int32)
    print(f"first epoch loss: {history.history['loss'][0]:.4f}")
    print(f"last epoch loss: {history.history['loss'][-1]:.4f}")
    print(f"test accuracy: {test['accuracy']:.4f} (from predict: {np.mean(predicted == y_test):.4f})")
    return test


if __name__ == "__main__":
    main()
