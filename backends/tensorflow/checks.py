"""Checks on tensor *values* (index and label ranges) that work eagerly and in graphs.

TensorFlow on GPU returns zeros for an out-of-range ``gather`` index and NaN for an
out-of-range sparse label instead of failing, so the contract's errors are raised
here. Eagerly the check is plain NumPy and raises ``InvalidArgumentError`` at once;
while tracing ``compile_function`` it becomes an ``Assert`` op whose failure surfaces
when the compiled function runs (``compile_function`` turns it into
``InvalidArgumentError`` too). Under XLA (``jit_compile=True``) asserts are dropped and
out-of-range indices are clamped: the check is then not enforced.
"""

from __future__ import annotations

from ..protocol import InvalidArgumentError
from ._engine import tf
from .core import INTS, cast, tensor

_INT32, _INT64 = tf.int32, tf.int64


def _assert(condition, data):
    """A graph assertion. The raw op, not tf.debugging.Assert: that one wraps it in a
    tf.cond (to format its data lazily), which costs a control-flow round trip on
    every call of a compiled step."""
    return tf.raw_ops.Assert(condition=condition, data=[tf.convert_to_tensor(d) for d in data], summarize=3)


def integer_indices(indices, op: str):
    """``indices`` as an int32/int64 tensor; floating indices are an error (as in NumPy)."""
    indices = tensor(indices)
    dt = indices.dtype
    if dt is _INT32 or dt is _INT64:
        return indices
    if dt in INTS:
        return cast(indices, _INT64 if dt.size >= 4 else _INT32)
    raise InvalidArgumentError(f"{op}: indices must be integers, got dtype {dt.name} "
                               f"(shape {tuple(indices.shape)})")


def wrapped_indices(indices, size, op: str):
    """Integer ``indices`` into an axis of length ``size``, negatives wrapped as in NumPy.

    Raises ``InvalidArgumentError`` (eagerly, or when the graph runs) for an index
    outside ``[-size, size)``.
    """
    indices = integer_indices(indices, op)
    if tf.executing_eagerly():
        values = indices.numpy()
        if not values.size:
            return indices
        low, high = values.min(), values.max()
        if low < -size or high >= size:
            bad = values[(values < -size) | (values >= size)]
            raise InvalidArgumentError(f"{op}: indices must be in [-{size}, {size}) for an axis of length "
                                       f"{size}, got {bad.ravel()[:5].tolist()} (indices shape {values.shape})")
        if low >= 0:
            return indices
        return tf.where(indices < 0, indices + size, indices)
    size_t = tf.cast(size, indices.dtype)
    low, high = tf.reduce_min(indices), tf.reduce_max(indices)
    inside = (low >= -size_t) & (high < size_t)
    message = f"{op}: indices must be in [-{size}, {size}) for an axis of length {size}; got min, max ="
    with tf.control_dependencies([_assert(inside, [message, low, high])]):
        return tf.where(indices < 0, indices + size_t, indices)


def checked_labels(labels, classes: int, op: str):
    """Integer class labels, checked to lie in ``[0, classes)``."""
    labels = integer_indices(labels, op)
    if tf.executing_eagerly():
        values = labels.numpy()
        if values.size and (values.min() < 0 or values.max() >= classes):
            bad = values[(values < 0) | (values >= classes)]
            raise InvalidArgumentError(f"{op}: labels must be in [0, {classes}), got {bad.ravel()[:5].tolist()}")
        return labels
    low, high = tf.reduce_min(labels), tf.reduce_max(labels)
    inside = (low >= 0) & (high < tf.cast(classes, labels.dtype))
    message = f"{op}: labels must be in [0, {classes}); got min, max ="
    with tf.control_dependencies([_assert(inside, [message, low, high])]):
        return tf.identity(labels)
