"""Input conversion (the one helper every op uses), creation and conversion ops.

Op inputs may be ndarrays, traced ``Tensor``s, ``Variable``s, NumPy scalars or
Python scalars/lists. ``unwrap(x)`` turns any of them into ``(ndarray, node)``
where ``node`` is the Tensor to send gradients to (``None`` when untraced).
Python floats become float32 and ints int32; NumPy data keeps its dtype.
"""

from __future__ import annotations

import numpy as np

from ..protocol import InvalidArgumentError
from . import dtypes
from .dtypes import FLOAT32, FLOATS, INT32, INT64, PY_DTYPES, SUPPORTED
from .tape import Tensor
from .variable import Variable

ndarray = np.ndarray
_FLOAT64 = dtypes.FLOAT64
_BFLOAT16 = dtypes.BFLOAT16
_INT32_INFO = np.iinfo(np.int32)


# ------------------------------------------------------------------ conversion


def from_python(x) -> ndarray:
    """An ndarray for non-tensor data, with the contract's dtypes for Python data."""
    t = type(x)
    if t in PY_DTYPES:
        return np.asarray(x, PY_DTYPES[t])
    if isinstance(x, np.generic):
        array = np.asarray(x)
    elif isinstance(x, (list, tuple)):
        array = np.asarray([as_array(e) if isinstance(e, (Tensor, Variable)) else e for e in x])
        if array.dtype == _FLOAT64:
            array = array.astype(FLOAT32)
        elif array.dtype == INT64 and (not array.size or (
                _INT32_INFO.min <= array.min() and array.max() <= _INT32_INFO.max)):
            array = array.astype(INT32)
    elif isinstance(x, (bool, int, float)):  # subclasses such as IntEnum
        return from_python(bool(x) if isinstance(x, bool) else int(x) if isinstance(x, int) else float(x))
    elif isinstance(x, Variable):
        return x._value
    else:
        array = np.asarray(x)
    if array.dtype not in SUPPORTED:
        raise InvalidArgumentError(
            f"convert_to_tensor: unsupported dtype {array.dtype} of a {type(x).__name__}")
    return array


def as_array(x) -> ndarray:
    """The ndarray behind any input (a traced Tensor's data; no gradient kept)."""
    t = type(x)
    if t is ndarray:
        return x
    if t is Tensor:
        return x.data
    if isinstance(x, Variable):
        return x._value
    return from_python(x)


def unwrap(x):
    """``(ndarray, node)``: ``node`` is the Tensor to send gradients to, or ``None``."""
    t = type(x)
    if t is ndarray:
        return x, None
    if t is Tensor:
        return x.data, x
    if isinstance(x, Variable):
        value = x.value
        if type(value) is Tensor:
            return value.data, value
        return value, None
    return from_python(x), None


def unwrap_float(x):
    """``unwrap`` with integer and bool inputs cast to float32 (float-valued math)."""
    a, node = unwrap(x)
    if a.dtype not in FLOATS:
        a = a.astype(FLOAT32)
    return a, node


def binary(x1, x2):
    """``(a, node_a, b, node_b)`` promoted to the contract's result dtype.

    A Python scalar operand stays a Python scalar: NumPy 2 treats it as weak, so
    ``float32_array * 0.5`` stays float32 without a 0-d array allocation.
    """
    t1, t2 = type(x1), type(x2)
    if t1 is ndarray:
        a, na = x1, None
    elif t1 is Tensor:
        a, na = x1.data, x1
    elif t1 in PY_DTYPES:
        a, na = x1, None
    else:
        a, na = unwrap(x1)
    if t2 is ndarray:
        b, nb = x2, None
    elif t2 is Tensor:
        b, nb = x2.data, x2
    elif t2 in PY_DTYPES:
        b, nb = x2, None
    else:
        b, nb = unwrap(x2)
    weak_a, weak_b = type(a) in PY_DTYPES, type(b) in PY_DTYPES
    if not weak_a and not weak_b:
        da, db = a.dtype, b.dtype
        if da is not db and da != db:
            dt = dtypes.promote(da, db)
            if da != dt:
                a = a.astype(dt)
            if db != dt:
                b = b.astype(dt)
    elif weak_b and not weak_a:
        dt = dtypes.promote_weak(a.dtype, type(b))
        if a.dtype != dt:
            a = a.astype(dt)
        if dt is _BFLOAT16:  # ml_dtypes' bfloat16 takes no part in NumPy's weak scalars
            b = np.asarray(b, dt)
    elif weak_a and not weak_b:
        dt = dtypes.promote_weak(b.dtype, type(a))
        if b.dtype != dt:
            b = b.astype(dt)
        if dt is _BFLOAT16:
            a = np.asarray(a, dt)
    else:
        dt = dtypes.NP_DTYPES[_weak_pair(type(a), type(b))]
        a, b = np.asarray(a, dt), np.asarray(b, dt)
    return a, na, b, nb


def _weak_pair(t1, t2):
    from ..protocol import result_type

    return result_type(weak=(t1, t2))


def shape_tuple(shape) -> tuple:
    """``5`` -> ``(5,)``; sequences (of ints, NumPy ints or 0-d tensors) -> tuple of ints."""
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise InvalidArgumentError(f"shape: expected an int or a sequence of ints, got {shape!r}") from None


def axis_tuple(axis):
    """Normalize an ``axis`` argument for NumPy: lists become tuples."""
    if isinstance(axis, list):
        return tuple(axis)
    return axis


# ------------------------------------------------------------------- creation


def convert_to_tensor(x, dtype=None):
    """An ndarray (or the traced Tensor itself) from any array-like."""
    t = type(x)
    if dtype is None:
        if t is ndarray:
            if x.dtype not in SUPPORTED:
                raise InvalidArgumentError(f"convert_to_tensor: unsupported dtype {x.dtype}")
            return x
        if t is Tensor:
            return x
        if isinstance(x, Variable):
            return x.value
        if isinstance(x, (list, tuple)) and x and any(isinstance(e, (Tensor, Variable)) for e in x):
            from .shape_ops import stack

            return stack(list(x))
        return from_python(x)
    dt = dtypes.to_np(dtype, "convert_to_tensor")
    if t in PY_DTYPES or (isinstance(x, (list, tuple)) and not any(
            isinstance(e, (Tensor, Variable)) for e in x)):
        return np.asarray(x, dt)
    return cast(convert_to_tensor(x), dt)


def zeros(shape, dtype=None):
    """Zeros of ``shape``; float32 by default."""
    return np.zeros(shape_tuple(shape), dtypes.to_np(dtype, "zeros"))


def ones(shape, dtype=None):
    """Ones of ``shape``; float32 by default."""
    return np.ones(shape_tuple(shape), dtypes.to_np(dtype, "ones"))


def _scalar_dtype(value):
    if type(value) in PY_DTYPES:
        return PY_DTYPES[type(value)]
    return as_array(value).dtype


def full(shape, fill_value, dtype=None):
    """``shape`` filled with a scalar; the dtype defaults to the scalar's (float -> float32)."""
    dt = _scalar_dtype(fill_value) if dtype is None else dtypes.to_np(dtype, "full")
    value = fill_value if type(fill_value) in PY_DTYPES else as_array(fill_value)
    return np.full(shape_tuple(shape), value, dt)


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values: int32 when every bound is an int, else float32."""
    if dtype is None:
        bounds = [b for b in (start, stop, step) if b is not None]
        integral = all(isinstance(b, (int, np.integer)) or (
            isinstance(b, (ndarray, Tensor)) and np.asarray(b).dtype.kind in "iub") for b in bounds)
        dt = INT32 if integral else FLOAT32
    else:
        dt = dtypes.to_np(dtype, "arange")
    start, step = _plain(start), _plain(step)
    if stop is None:
        return np.arange(0, start, step, dtype=dt)
    return np.arange(start, _plain(stop), step, dtype=dt)


def _plain(value):
    if isinstance(value, (ndarray, Tensor, Variable)):
        return as_array(value).item()
    return value


def eye(N, M=None, k=0, dtype=None):
    """(N, M) matrix with ones on diagonal ``k``."""
    return np.eye(int(N), None if M is None else int(M), int(k), dtype=dtypes.to_np(dtype, "eye"))


def zeros_like(x, dtype=None):
    """Zeros with x's shape (and dtype unless given)."""
    a = as_array(x)
    return np.zeros(a.shape, a.dtype if dtype is None else dtypes.to_np(dtype, "zeros_like"))


def ones_like(x, dtype=None):
    """Ones with x's shape (and dtype unless given)."""
    a = as_array(x)
    return np.ones(a.shape, a.dtype if dtype is None else dtypes.to_np(dtype, "ones_like"))


def full_like(x, fill_value, dtype=None):
    """x's shape filled with a scalar (x's dtype unless given)."""
    a = as_array(x)
    value = fill_value if type(fill_value) in PY_DTYPES else as_array(fill_value)
    return np.full(a.shape, value, a.dtype if dtype is None else dtypes.to_np(dtype, "full_like"))


# ----------------------------------------------------------------- conversion


def cast(x, dtype):
    """Change dtype; differentiable between float dtypes (the cotangent is cast back)."""
    dt = dtypes.to_np(dtype, "cast")
    a, node = unwrap(x)
    if a.dtype == dt:
        return a if node is None else node
    out = a.astype(dt)
    if node is None or dt not in FLOATS or a.dtype not in FLOATS:
        return out
    source = a.dtype
    return Tensor(out, (node,), lambda g: (g.astype(source),))


def shape(x):
    """Static shape as a tuple of Python ints."""
    if type(x) is ndarray or type(x) is Tensor or isinstance(x, Variable):
        return tuple(x.shape)
    return as_array(x).shape


def ndim(x):
    """Rank as a Python int."""
    return as_array(x).ndim


def dtype(x):
    """Canonical dtype string (``"float32"``, ``"bfloat16"``, ...)."""
    return as_array(x).dtype.name


def size(x):
    """Number of elements as a Python int."""
    return int(as_array(x).size)


def convert_to_numpy(x):
    """The ndarray itself (a copy for Variables, whose storage must not be written)."""
    if isinstance(x, Variable):
        return x.numpy()
    return np.asarray(as_array(x))


def is_tensor(x):
    """Whether x is a tensor of this backend: an ndarray, a traced Tensor or a Variable."""
    return isinstance(x, (ndarray, Tensor, Variable))


def stop_gradient(x):
    """Identity whose gradient is zero: the data without its node."""
    return as_array(x)
