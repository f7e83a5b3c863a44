"""Reductions over axes (``axis`` None, int or tuple; ``keepdims``) and their VJPs."""

from __future__ import annotations

import builtins

import numpy as np

from ..protocol import InvalidArgumentError, normalize_axis
from .core import as_array, axis_tuple, unwrap, unwrap_float
from . import dtypes, fastreduce
from .dtypes import BOOL, FLOAT32, FLOATS, INT32
from .tape import Tensor

ndarray = np.ndarray
asarray = np.asarray


def _axes(axis, ndim, op):
    """The reduced axes as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        return (normalize_axis(int(axis), ndim, op),)
    axes = tuple(sorted(normalize_axis(int(a), ndim, op) for a in axis))
    if len(set(axes)) != len(axes):
        raise InvalidArgumentError(f"{op}: repeated axis in {tuple(axis)}")
    return axes


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _expand(g, shape, axes):
    """A cotangent of a reduction, broadcast back to the input's ``shape``."""
    g = g.reshape(_kept_shape(shape, axes))
    if _prod(shape) <= 4096:
        # Small results: filling a new array beats np.broadcast_to's Python overhead.
        out = np.empty(shape, g.dtype)
        out[...] = g
        return out
    return np.broadcast_to(g, shape)


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _int_accumulator(a):
    """NumPy sums int32 into int64; the contract keeps the input's int dtype (bool -> int32)."""
    if a.dtype == BOOL:
        return INT32
    return a.dtype if a.dtype.kind in "iu" else None


# ufunc.reduce skips np.sum's Python-level dispatch (about half its cost on small arrays).
_add_reduce = fastreduce.add_reduce
_max_reduce = fastreduce.max_reduce
_min_reduce = fastreduce.min_reduce
_HALF_ACCUMULATE = {d: FLOAT32 for d in dtypes.HALVES}


def sum(x, axis=None, keepdims=False):  # noqa: A001 - protocol name
    """Sum over axes; bool sums to int32, ints keep their dtype."""
    if type(x) is ndarray and x.dtype in FLOATS:
        return asarray(_add_reduce(x, axis_tuple(axis), keepdims=keepdims))
    a, node = unwrap(x)
    out = asarray(_add_reduce(a, axis_tuple(axis), dtype=_int_accumulator(a), keepdims=keepdims))
    if node is None:
        return out
    axes = _axes(axis, a.ndim, "sum")
    return Tensor(out, (node,), lambda g: (_expand(g, a.shape, axes),))


def _mean(a, axis, keepdims):
    """(mean, count) of a float array; float16 accumulates in float32 as np.mean does."""
    acc = _HALF_ACCUMULATE.get(a.dtype)
    total = asarray(_add_reduce(a, axis, dtype=acc, keepdims=keepdims))
    count = a.size // total.size if total.size else 1
    return asarray(np.true_divide(total, count, dtype=acc)).astype(a.dtype, copy=False), count


def mean(x, axis=None, keepdims=False):
    """Mean over axes; integer inputs give float32."""
    if type(x) is ndarray and x.dtype in FLOATS:
        return _mean(x, axis_tuple(axis), keepdims)[0]
    a, node = unwrap_float(x)
    out, count = _mean(a, axis_tuple(axis), keepdims)
    if node is None:
        return out
    axes = _axes(axis, a.ndim, "mean")
    scale = 1.0 / builtins.max(count, 1)
    return Tensor(out, (node,), lambda g: (_expand(g * scale, a.shape, axes),))


def _extreme(name, reduce):
    def op(x, axis=None, keepdims=False):
        a, node = unwrap(x)
        out = asarray(reduce(a, axis_tuple(axis), keepdims=keepdims))
        if node is None:
            return out
        axes = _axes(axis, a.ndim, name)

        def vjp(g):
            kept = _kept_shape(a.shape, axes)
            hit = a == out.reshape(kept)
            # Ties share the cotangent equally.
            count = _add_reduce(hit, axis=axes, keepdims=True, dtype=g.dtype)
            return (np.where(hit, g.reshape(kept) / count, 0).astype(g.dtype, copy=False),)

        return Tensor(out, (node,), vjp)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{name.capitalize()} over axes; the gradient is shared equally among ties."
    return op


max = _extreme("max", _max_reduce)  # noqa: A001 - protocol name
min = _extreme("min", _min_reduce)  # noqa: A001 - protocol name


def prod(x, axis=None, keepdims=False):
    """Product over axes; the gradient is exact where inputs are zero."""
    a, node = unwrap(x)
    out = np.asarray(np.prod(a, axis_tuple(axis), dtype=_int_accumulator(a), keepdims=keepdims))
    if node is None:
        return out
    axes = _axes(axis, a.ndim, "prod")

    def vjp(g):
        kept = _kept_shape(a.shape, axes)
        g = g.reshape(kept)
        zero = a == 0
        safe = np.where(zero, 1, a)
        others = np.prod(safe, axis=axes, keepdims=True)  # product of the non-zero entries
        zeros = np.sum(zero, axis=axes, keepdims=True)
        # No zero: prod / x. One zero: only that entry gets the product of the others.
        grad = np.where(zeros == 0, others / safe, np.where(zero & (zeros == 1), others, 0))
        return ((g * grad).astype(a.dtype, copy=False),)

    return Tensor(out, (node,), vjp)


def _moments(a, axes, keepdims):
    m = np.mean(a, axes, keepdims=True)
    centered = a - m
    var_ = np.mean(np.square(centered), axes, keepdims=keepdims)
    return centered, var_


def var(x, axis=None, keepdims=False):
    """Population variance over axes (ints -> float32)."""
    a, node = unwrap_float(x)
    axes = _axes(axis, a.ndim, "var")
    centered, out = _moments(a, axes, keepdims)
    out = np.asarray(out)
    if node is None:
        return out
    count = 1
    for i in axes:
        count *= a.shape[i]
    scale = 2.0 / builtins.max(count, 1)
    kept = _kept_shape(a.shape, axes)
    return Tensor(out, (node,), lambda g: (g.reshape(kept) * scale * centered,))


def std(x, axis=None, keepdims=False):
    """Population standard deviation over axes (ints -> float32)."""
    a, node = unwrap_float(x)
    axes = _axes(axis, a.ndim, "std")
    centered, variance = _moments(a, axes, keepdims)
    out = np.asarray(np.sqrt(variance))
    if node is None:
        return out
    count = 1
    for i in axes:
        count *= a.shape[i]
    kept = _kept_shape(a.shape, axes)
    return Tensor(out, (node,), lambda g: ((g / (count * out)).reshape(kept) * centered,))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over axes, shifted by the max for stability."""
    a, node = unwrap_float(x)
    axes = _axes(axis, a.ndim, "logsumexp")
    peak = _max_reduce(a, axis=axes, keepdims=True)
    if not np.isfinite(peak).all():
        peak = np.where(np.isfinite(peak), peak, 0)
    e = np.exp(a - peak)
    total = _add_reduce(e, axis=axes, keepdims=True)
    kept_out = np.log(total) + peak
    out = np.asarray(kept_out if keepdims else kept_out.reshape(
        tuple(d for i, d in enumerate(a.shape) if i not in axes)))
    if node is None:
        return out
    kept = kept_out.shape
    # softmax from the shifted exponentials: exp(x - out) would lose digits when |x| is large.
    return Tensor(out, (node,), lambda g: (g.reshape(kept) * (e / total),))


def _cumulative(a, axis, op):
    """(array to accumulate, axis): flattened when axis is None."""
    if axis is None:
        return a.reshape(-1), 0
    return a, normalize_axis(int(axis), a.ndim, op)


def _reverse_cumsum(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def cumsum(x, axis=None):
    """Cumulative sum (flattened when axis is None); ints keep their dtype, bool -> int32."""
    a, node = unwrap(x)
    flat, ax = _cumulative(a, axis, "cumsum")
    out = np.cumsum(flat, axis=ax, dtype=_int_accumulator(a))
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (_reverse_cumsum(g, ax).reshape(a.shape),))


def cumprod(x, axis=None):
    """Cumulative product (flattened when axis is None); exact gradient with zeros."""
    a, node = unwrap(x)
    flat, ax = _cumulative(a, axis, "cumprod")
    out = np.cumprod(flat, axis=ax, dtype=_int_accumulator(a))
    if node is None:
        return out

    def vjp(g):
        if not np.any(flat == 0):
            return ((_reverse_cumsum(g * out, ax) / flat).reshape(a.shape),)
        # With zeros, x_i's gradient is sum_{j >= i} g_j * prod_{k <= j, k != i} x_k:
        # one cumprod per position along the axis (never per element).
        grad = np.empty_like(flat, dtype=g.dtype)
        length = flat.shape[ax]
        for i in range(length):
            others = flat.copy()
            index = (slice(None),) * ax + (i,)
            others[index] = 1
            partial = np.cumprod(others, axis=ax) * g
            tail = (slice(None),) * ax + (slice(i, None),)
            grad[index] = np.sum(partial[tail], axis=ax)
        return (grad.reshape(a.shape),)

    return Tensor(out, (node,), vjp)


def argmax(x, axis=None, keepdims=False):
    """Index of the first maximum (int32); axis None flattens."""
    return np.asarray(np.argmax(as_array(x), axis, keepdims=keepdims), dtype=INT32)


def argmin(x, axis=None, keepdims=False):
    """Index of the first minimum (int32); axis None flattens."""
    return np.asarray(np.argmin(as_array(x), axis, keepdims=keepdims), dtype=INT32)


def any(x, axis=None, keepdims=False):  # noqa: A001 - protocol name
    return np.asarray(np.any(as_array(x), axis_tuple(axis), keepdims=keepdims))


def all(x, axis=None, keepdims=False):  # noqa: A001 - protocol name
    return np.asarray(np.all(as_array(x), axis_tuple(axis), keepdims=keepdims))
