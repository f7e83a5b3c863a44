"""Word sequences for IMDB and Reuters: tokenising, ranking words, Keras's index options.

Tokenising follows Keras's ``text_to_word_sequence`` defaults, the preprocessing
behind Keras's own files: lower-case, replace each of
``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~`` and tab/newline by a space, split on
whitespace (so ``"don't"`` stays one word and ``"<br />"`` becomes ``"br"``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_TO_SPACE = str.maketrans({c: " " for c in _FILTERS})


def tokenize(text: str) -> list:
    """Keras's ``text_to_word_sequence(text)`` with its default arguments."""
    return text.lower().translate(_TO_SPACE).split()


def rank_words(documents) -> dict:
    """``{word: rank}``, rank 1 = the most frequent word over ``documents`` (lists of words).

    Ties keep the order in which the words first appear (Keras's ``Tokenizer`` sorts
    its insertion-ordered counts with a stable sort, which gives the same order).
    """
    counts = Counter()
    for words in documents:
        counts.update(words)
    # Counter keeps first-insertion order; sorted() is stable.
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return {word: rank for rank, (word, _) in enumerate(ordered, start=1)}


def encode(words, word_index: dict) -> list:
    """The ranks of ``words``; words missing from ``word_index`` are dropped."""
    return [word_index[w] for w in words if w in word_index]


def shuffled(rng: np.random.RandomState, sequences: list, labels: np.ndarray) -> tuple:
    """``sequences`` and ``labels`` in the order of one ``rng.shuffle`` of their indices (as Keras)."""
    order = np.arange(len(sequences))
    rng.shuffle(order)
    return [sequences[i] for i in order], labels[order]


def shift(sequences: list, start_char, index_from: int) -> list:
    """Each rank ``r`` becomes ``r + index_from``; ``start_char`` (when not None) is prepended."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in s] for s in sequences]
    return [[w + index_from for w in s] for s in sequences]


def drop_long(sequences: list, labels, maxlen) -> tuple:
    """Only the sequences shorter than ``maxlen`` (Keras keeps ``len < maxlen``), and their labels."""
    labels = list(labels)
    if not maxlen:
        return sequences, labels
    kept = [i for i, s in enumerate(sequences) if len(s) < maxlen]
    return [sequences[i] for i in kept], [labels[i] for i in kept]


def limit_vocabulary(sequences: list, num_words, skip_top: int, oov_char) -> list:
    """Values outside ``[skip_top, num_words)`` become ``oov_char`` (dropped when it is None).

    As in Keras the bounds apply to the shifted values, the start character included;
    ``num_words`` None (or 0) means the largest value present.
    """
    if not num_words:
        num_words = max((max(s) for s in sequences if s), default=0)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in sequences]
    return [[w for w in s if skip_top <= w < num_words] for s in sequences]


def check_options(loader: str, num_words, skip_top, maxlen, index_from) -> None:
    """Clear errors for index options Keras would silently misuse."""
    for name, value in (("num_words", num_words), ("maxlen", maxlen)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
            raise ValueError(f"{loader}: {name} must be None or a non-negative int, got {value!r}")
    for name, value in (("skip_top", skip_top), ("index_from", index_from)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{loader}: {name} must be a non-negative int, got {value!r}")


def as_object_array(sequences: list) -> np.ndarray:
    """A 1-D object array of Python int lists (Keras's return type for ragged sequences)."""
    array = np.empty(len(sequences), dtype=object)
    array[:] = sequences
    return array
