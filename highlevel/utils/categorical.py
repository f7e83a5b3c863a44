"""``to_categorical``: integer class labels -> one-hot rows (NumPy in, NumPy out)."""

from __future__ import annotations

import numpy as np


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer labels, as ``keras.utils.to_categorical``.

    y: array-like of integer class ids, shape ``(...)``; a trailing axis of size 1
    (``(batch, 1)``) is dropped first, as Keras does.
    num_classes: number of classes; ``None`` infers ``max(y) + 1``.
    Returns a NumPy array of shape ``(..., num_classes)`` and ``dtype``.

    Labels must be integers in ``[0, num_classes)``: anything else raises ``ValueError``
    (NumPy indexing would silently wrap negative labels around).
    """
    labels = np.asarray(y)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("to_categorical: labels must be whole numbers, got non-integer values")
    elif labels.dtype.kind not in "iub":
        raise ValueError(f"to_categorical: labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    num_classes = int(num_classes)
    if num_classes < 0:
        raise ValueError(f"to_categorical: num_classes must be >= 0, got {num_classes}")
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        bad = flat[(flat < 0) | (flat >= num_classes)]
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), got {bad[:5].tolist()}")
    categorical = np.zeros((flat.size, num_classes), dtype=dtype)
    categorical[np.arange(flat.size), flat] = 1
    return categorical.reshape(shape + (num_classes,))


__all__ = ["to_categorical"]
