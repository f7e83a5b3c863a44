"""Tensor creation and conversion: ``convert_to_tensor``, ``zeros``, ``arange``, ``cast``, ``shape``, ..."""

from __future__ import annotations

import numpy as np

from .. import protocol
from ..protocol import InvalidArgumentError
from ._engine import tf
from .core import (FLOAT32, FLOATS, INT32, Tensor, Variable, cast as _cast, dtype_name, int_tensor, tensor,
                   tf_dtype, typed_scalar)

_raw = tf.raw_ops

_SCALARS = (bool, int, float)


def convert_to_tensor(x, dtype=None):
    """A tf.Tensor from an array-like; Python floats -> float32, ints -> int32."""
    out = tensor(x)
    return out if dtype is None else _cast(out, tf_dtype(dtype, "convert_to_tensor"))


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise InvalidArgumentError(f"shape: dimensions must be non-negative, got {shape}")
    return shape


def zeros(shape, dtype=None):
    return _raw.Fill(dims=int_tensor(_shape(shape)), value=typed_scalar(0, tf_dtype(dtype, "zeros")))


def ones(shape, dtype=None):
    return _raw.Fill(dims=int_tensor(_shape(shape)), value=typed_scalar(1, tf_dtype(dtype, "ones")))


def _fill_dtype(fill_value, dtype):
    if dtype is not None:
        return tf_dtype(dtype, "full")
    if type(fill_value) in _SCALARS:
        return tf_dtype(type(fill_value), "full")
    return tensor(fill_value).dtype


def full(shape, fill_value, dtype=None):
    """Tensor of ``shape`` filled with a scalar; dtype defaults to the scalar's."""
    dt = _fill_dtype(fill_value, dtype)
    value = _cast(tensor(fill_value), dt)
    return tf.broadcast_to(value, _shape(shape))


def arange(start, stop=None, step=1, dtype=None):
    """``np.arange``: int32 when every bound is an int, else float32 (unless ``dtype``)."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise InvalidArgumentError("arange: step must not be zero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, stop, step))
        dt = INT32 if is_int else FLOAT32
    else:
        dt = tf_dtype(dtype, "arange")
    if dt in FLOATS:
        # Compute in float64 like NumPy, so lengths and values agree for float steps.
        count = max(int(np.ceil((float(stop) - float(start)) / float(step))), 0)
        return tf.cast(float(start) + float(step) * tf.range(count, dtype=tf.float64), dt)
    if dt is INT32 or dt is tf.int64:
        return tf.range(int(start), int(stop), int(step), dtype=dt)
    return tf.cast(tf.range(int(start), int(stop), int(step)), dt)


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 - NumPy's names
    """``(N, M)`` matrix with ones on diagonal ``k``."""
    M = N if M is None else M
    rows = tf.range(N)[:, None]
    cols = tf.range(M)[None, :]
    return tf.cast(tf.equal(rows + k, cols), tf_dtype(dtype, "eye"))


def zeros_like(x, dtype=None):
    x = tensor(x)
    if dtype is None:
        return _raw.ZerosLike(x=x)
    return _raw.Fill(dims=_raw.Shape(input=x), value=typed_scalar(0, tf_dtype(dtype, "zeros_like")))


def ones_like(x, dtype=None):
    x = tensor(x)
    if dtype is None:
        return _raw.OnesLike(x=x)
    return _raw.Fill(dims=_raw.Shape(input=x), value=typed_scalar(1, tf_dtype(dtype, "ones_like")))


def full_like(x, fill_value, dtype=None):
    x = tensor(x)
    dt = x.dtype if dtype is None else tf_dtype(dtype, "full_like")
    return tf.broadcast_to(_cast(tensor(fill_value), dt), x.shape)


# ------------------------------------------------------------------- conversion


def cast(x, dtype):
    """``x`` as ``dtype`` (float -> int truncates toward zero, as NumPy)."""
    return _cast(tensor(x), tf_dtype(dtype, "cast"))


def shape(x):
    """Static shape as a tuple of Python ints."""
    if isinstance(x, Tensor):
        return tuple(x.shape)
    if isinstance(x, Variable):
        return tuple(x._var.shape)
    if isinstance(x, np.ndarray):
        return x.shape
    return tuple(tensor(x).shape)


def ndim(x):
    if isinstance(x, Tensor):
        return x.shape.rank
    return len(shape(x))


def dtype(x):
    """Canonical dtype name of a tensor (or of what ``convert_to_tensor`` makes of x)."""
    if isinstance(x, Variable):
        return x.dtype
    if isinstance(x, np.ndarray):
        return protocol.standardize_dtype(x.dtype)
    return dtype_name(tensor(x).dtype)


def size(x):
    return int(np.prod(shape(x), dtype=np.int64))


def convert_to_numpy(x):
    """A NumPy copy of a tensor (host memory). Not available inside compiled functions."""
    x = tensor(x)
    if not hasattr(x, "numpy"):
        raise InvalidArgumentError(f"convert_to_numpy: tensor of shape {tuple(x.shape)} is symbolic (inside "
                                   "compile_function); return it from the compiled function instead")
    # TensorFlow hands back NumPy scalars for rank-0 tensors; the contract wants arrays.
    return np.asarray(x.numpy())


def is_tensor(x):
    """Whether ``x`` is a TensorFlow tensor, a ``tf.Variable`` or our ``Variable``."""
    return isinstance(x, (Tensor, Variable, tf.Variable))

