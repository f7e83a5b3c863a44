"""Splitting in-memory datasets: ``split_dataset`` (Keras's) and ``train_test_split`` (scikit-learn's).

Both take NumPy arrays (or structures of them) and return the same structure holding
NumPy arrays — backend-neutral, where Keras's ``split_dataset`` returns ``tf.data``
datasets. Pass the results straight to ``fit``.
"""

from __future__ import annotations

import math
import numbers
import random

import numpy as np


# ------------------------------------------------------------------ structures of arrays


def _leaves(dataset):
    """``(kind, [(key, array), ...])`` for an array, a tuple/list of arrays or a dict of arrays."""
    if isinstance(dataset, np.ndarray):
        return "array", [(None, dataset)]
    if isinstance(dataset, dict):
        items = list(dataset.items())
        kind = "dict"
    elif isinstance(dataset, (tuple, list)):
        items = list(enumerate(dataset))
        kind = type(dataset).__name__
    else:
        raise TypeError(f"split_dataset: dataset must be a NumPy array or a tuple/list/dict of NumPy arrays, "
                        f"got {type(dataset).__name__}")
    if not items:
        raise ValueError(f"split_dataset: dataset is an empty {kind}; it needs at least one array")
    for key, leaf in items:
        if not isinstance(leaf, np.ndarray):
            raise TypeError(f"split_dataset: every element of the {kind} must be a NumPy array; element {key!r} "
                            f"is a {type(leaf).__name__}")
    return kind, items


def _num_samples(items, what):
    """The shared first dimension of the arrays (they must agree)."""
    lengths = {key: (leaf.shape[0] if leaf.ndim else None) for key, leaf in items}
    if any(length is None for length in lengths.values()):
        raise ValueError(f"{what}: arrays must have a sample axis; got a 0-d array")
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{what}: all arrays must have the same number of samples, got lengths {lengths}")
    return next(iter(lengths.values()))


def _take(kind, items, indices):
    """The structure of ``kind`` holding each array's rows ``indices``."""
    rows = [(key, leaf[indices]) for key, leaf in items]
    if kind == "array":
        return rows[0][1]
    if kind == "dict":
        return dict(rows)
    values = [leaf for _, leaf in rows]
    return tuple(values) if kind == "tuple" else values


# ------------------------------------------------------------------ split_dataset


def _check_split_size(function, name, size, total):
    """A split size is None, an int count in [1, total) or a float fraction in (0, 1) — the rule of
    both Keras's ``split_dataset`` and scikit-learn's ``train_test_split``; errors name ``function``."""
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, (numbers.Integral, numbers.Real)):
        raise TypeError(f"{function}: {name} must be an int, a float or None, got {type(size).__name__}")
    if isinstance(size, numbers.Integral):
        if not 0 < size < total:
            raise ValueError(f"{function}: an int {name} must be a count in [1, {total}) for {total} samples, "
                             f"got {name}={size}")
    elif not 0 < size < 1:
        raise ValueError(f"{function}: a float {name} must be a fraction in (0, 1), got {name}={size}")


def split_sizes(left_size, right_size, total):
    """``(left, right)`` sample counts for ``split_dataset`` (Keras's rules).

    Ints are counts, floats fractions of ``total`` (rounded half to even, Python's
    ``round``); a ``None`` side is the complement of the other. Raises ``ValueError`` when
    both are ``None``, when they add up to more than ``total`` or when a side is empty.
    """
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: at least one of left_size and right_size must be given; both are None")
    _check_split_size("split_dataset", "left_size", left_size, total)
    _check_split_size("split_dataset", "right_size", right_size, total)
    counts = {}
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None:
            counts[name] = int(size) if isinstance(size, numbers.Integral) else round(size * total)
    left = counts.get("left_size", total - counts.get("right_size", 0))
    right = counts.get("right_size", total - left)
    if left + right > total:
        raise ValueError(f"split_dataset: left_size and right_size add up to {left} + {right} = {left + right} "
                         f"samples, more than the dataset's {total}")
    for side, count in (("left", left), ("right", right)):
        if count == 0:
            raise ValueError(f"split_dataset: with {total} samples, left_size={left_size} and "
                             f"right_size={right_size} leave the {side} split empty")
    return left, right


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split a dataset into a left and a right part (e.g. train / test), as ``keras.utils.split_dataset``.

    dataset: a NumPy array ``(n, ...)``, or a tuple, list or dict of NumPy arrays sharing
        their first dimension ``n`` (e.g. ``(x, y)`` or ``{"image": x, "label": y}``).
    left_size / right_size: an int (number of samples), a float in (0, 1) (fraction of
        ``n``) or ``None`` (the complement of the other side). When both are given and add
        up to less than ``n``, the samples between the two parts are left out.
    shuffle: permute the samples before splitting.
    seed: seed of that permutation. With the same seed the samples land in the same order
        as with ``keras.utils.split_dataset`` (both use Python's ``random.Random(seed).shuffle``);
        ``None`` draws a seed from Python's global ``random`` (so ``hl.utils.set_random_seed``
        makes it repeat). Unlike Keras, the global ``random`` state is not reseeded.
    Returns ``(left, right)``, each of ``dataset``'s structure (array / tuple / list / dict)
    holding NumPy arrays of ``left`` and ``right`` samples — Keras returns ``tf.data`` datasets.
    """
    kind, items = _leaves(dataset)
    total = _num_samples(items, "split_dataset")
    if total == 0:
        raise ValueError("split_dataset: dataset has no samples")
    left, right = split_sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    order = np.asarray(order, dtype=np.int64)
    return _take(kind, items, order[:left]), _take(kind, items, order[total - right:])


# ------------------------------------------------------------------ train_test_split


def train_test_sizes(total, test_size, train_size):
    """``(n_train, n_test)`` with scikit-learn's rules.

    A float ``test_size`` rounds up (``ceil``), a float ``train_size`` down (``floor``);
    ``None`` is the complement of the other side (both ``None``: ``test_size=0.25``).
    """
    if test_size is None and train_size is None:
        test_size = 0.25
    for name, size in (("test_size", test_size), ("train_size", train_size)):
        _check_split_size("train_test_split", name, size, total)
    if (isinstance(test_size, float) and isinstance(train_size, float)) and test_size + train_size > 1:
        raise ValueError(f"train_test_split: test_size + train_size = {test_size + train_size} exceeds 1")
    n_test = None if test_size is None else (
        math.ceil(test_size * total) if isinstance(test_size, float) else int(test_size))
    n_train = None if train_size is None else (
        math.floor(train_size * total) if isinstance(train_size, float) else int(train_size))
    if n_train is None:
        n_train = total - n_test
    if n_test is None:
        n_test = total - n_train
    if n_train + n_test > total:
        raise ValueError(f"train_test_split: {n_train} train + {n_test} test samples exceed the {total} samples")
    if n_train == 0 or n_test == 0:
        raise ValueError(f"train_test_split: with {total} samples, test_size={test_size} and "
                         f"train_size={train_size} leave the {'train' if n_train == 0 else 'test'} split empty")
    return n_train, n_test


def allocate_by_class(class_counts, n_draw):
    """How many of each class to draw so that ``n_draw`` samples keep the class proportions.

    Each class gets ``floor(count * n_draw / total)``; the samples still missing go one
    each to the classes with the largest fractional remainders (ties: lower class index
    first). class_counts: ``(n_classes,)`` ints. Returns ``(n_classes,)`` ints summing to ``n_draw``.
    """
    class_counts = np.asarray(class_counts, dtype=np.int64)
    total = int(class_counts.sum())
    exact = class_counts * n_draw
    drawn = exact // total
    remainder = exact - drawn * total  # integer remainders: no float ties to break wrongly
    missing = n_draw - int(drawn.sum())
    order = np.lexsort((np.arange(len(class_counts)), -remainder))
    drawn[order[:missing]] += 1
    return drawn


def _stratified_indices(labels, n_train, n_test, rng):
    """Train and test row indices with every class split in proportion (shuffled within each split)."""
    if labels.ndim > 1:  # one-hot or multi-column labels: each distinct row is a class
        _, class_of = np.unique(labels.reshape(len(labels), -1), axis=0, return_inverse=True)
    else:
        _, class_of = np.unique(labels, return_inverse=True)
    class_of = class_of.reshape(-1)
    class_counts = np.bincount(class_of)
    if class_counts.min() < 2:
        raise ValueError(f"train_test_split: every class in stratify needs at least 2 samples; the smallest has "
                         f"{int(class_counts.min())}")
    for name, count in (("test", n_test), ("train", n_train)):
        if count < len(class_counts):
            raise ValueError(f"train_test_split: the {name} split has {count} samples, fewer than the "
                             f"{len(class_counts)} classes in stratify")
    test_per_class = allocate_by_class(class_counts, n_test)
    train_per_class = allocate_by_class(class_counts - test_per_class, n_train)
    train, test = [], []
    for cls, (n_cls_train, n_cls_test) in enumerate(zip(train_per_class, test_per_class)):
        members = rng.permutation(np.flatnonzero(class_of == cls))
        test.append(members[:n_cls_test])
        train.append(members[n_cls_test:n_cls_test + n_cls_train])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def train_test_split(*arrays, test_size=0.25, train_size=None, shuffle=True, stratify=None, seed=None):
    """Split arrays into random train and test parts, as scikit-learn's ``train_test_split``.

    arrays: one or more array-likes with the same number of samples ``n`` (first axis).
    test_size / train_size: an int (count), a float in (0, 1) (fraction; test rounds up,
        train down) or ``None`` (the complement of the other). Note the default
        ``test_size=0.25`` is kept when only ``train_size`` is given; pass ``test_size=None``
        for the complement, as in scikit-learn.
    shuffle: permute before splitting; ``False`` takes the first ``n_train`` rows for
        training and the next ``n_test`` for testing.
    stratify: labels ``(n,)`` (or ``(n, k)`` rows, e.g. one-hot); each class then appears in
        both splits in proportion to its frequency (see ``allocate_by_class``). Needs ``shuffle``.
    seed: seed of NumPy's ``default_rng`` for the permutation (``None``: fresh entropy).
    Returns a list ``[a_train, a_test, b_train, b_test, ...]`` of NumPy arrays (scikit-learn's order).
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array is required")
    arrays = [np.asarray(array) for array in arrays]
    total = _num_samples(list(enumerate(arrays)), "train_test_split")
    n_train, n_test = train_test_sizes(total, test_size, train_size)
    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify needs shuffle=True (a stratified split must reorder)")
        labels = np.asarray(stratify)
        if labels.ndim == 0 or len(labels) != total:
            raise ValueError(f"train_test_split: stratify must have one label per sample ({total}), got shape "
                             f"{labels.shape}")
        train, test = _stratified_indices(labels, n_train, n_test, np.random.default_rng(seed))
    elif shuffle:
        order = np.random.default_rng(seed).permutation(total)
        test, train = order[:n_test], order[n_test:n_test + n_train]
    else:
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    return [part for array in arrays for part in (array[train], array[test])]


__all__ = ["split_dataset", "train_test_split"]
