"""Reductions over axes: ``axis`` is None (all axes), an int or a tuple; ``keepdims`` as NumPy."""

from __future__ import annotations

from ..protocol import InvalidArgumentError, normalize_axis
from ._engine import tf
from .core import BOOL, FLOAT32, FLOATS, INT32, as_float, cast, int_tensor, tensor

_raw = tf.raw_ops
_INT8 = tf.int8


def axes(axis, ndim: int, op: str):
    """``axis`` as a sorted tuple of non-negative ints (all axes for None); bad axes raise."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        out = tuple(sorted(normalize_axis(int(a), ndim, op) for a in axis))
        if len(set(out)) != len(out):
            raise InvalidArgumentError(f"{op}: repeated axis in {tuple(axis)}")
        return out
    return (normalize_axis(int(axis), ndim, op),)


def _dims_arg(dims: tuple):
    """The ``axis`` input of a raw reduction: an int converts fast, a tuple is cached."""
    return dims[0] if len(dims) == 1 else int_tensor(dims)


def _reduce(raw_op, x, axis, keepdims, op):
    dims = axes(axis, x.shape.rank, op)
    if not dims:
        # A rank-0 tensor: nothing to reduce (and an empty axis list has no dtype).
        return x
    return raw_op(input=x, axis=_dims_arg(dims), keep_dims=bool(keepdims))


def sum(x, axis=None, keepdims=False):  # noqa: A001 - the protocol's name
    """Sum over axes; bool sums to int32."""
    x = tensor(x)
    if x.dtype is BOOL:
        x = cast(x, INT32)
    return _reduce(_raw.Sum, x, axis, keepdims, "sum")


def mean(x, axis=None, keepdims=False):
    """Mean over axes; integer and bool inputs give float32."""
    x = tensor(x)
    if x.dtype not in FLOATS:
        x = cast(x, FLOAT32)
    return _reduce(_raw.Mean, x, axis, keepdims, "mean")


def _orderable(x):
    x = tensor(x)
    return cast(x, _INT8) if x.dtype is BOOL else x


def max(x, axis=None, keepdims=False):  # noqa: A001
    """Max over axes; tied maxima share the gradient equally (TensorFlow's rule too)."""
    x = tensor(x)
    out = _reduce(_raw.Max, _orderable(x), axis, keepdims, "max")
    return cast(out, BOOL) if x.dtype is BOOL else out


def min(x, axis=None, keepdims=False):  # noqa: A001
    """Min over axes; tied minima share the gradient equally."""
    x = tensor(x)
    out = _reduce(_raw.Min, _orderable(x), axis, keepdims, "min")
    return cast(out, BOOL) if x.dtype is BOOL else out


def prod(x, axis=None, keepdims=False):
    """Product over axes; bool gives int32."""
    x = tensor(x)
    if x.dtype is BOOL:
        x = cast(x, INT32)
    return _reduce(_raw.Prod, x, axis, keepdims, "prod")


def var(x, axis=None, keepdims=False):
    """Population variance ``mean((x - mean(x))**2)``; integer inputs give float32."""
    x = as_float(tensor(x))
    dims = axes(axis, x.shape.rank, "var")
    if not dims:
        return _raw.ZerosLike(x=x)
    dims = _dims_arg(dims)
    centered = _raw.SquaredDifference(x=x, y=_raw.Mean(input=x, axis=dims, keep_dims=True))
    return _raw.Mean(input=centered, axis=dims, keep_dims=bool(keepdims))


def std(x, axis=None, keepdims=False):
    """Population standard deviation."""
    return _raw.Sqrt(x=var(x, axis, keepdims))


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))``, stable: the (finite) max is subtracted first."""
    x = as_float(tensor(x))
    dims = axes(axis, x.shape.rank, "logsumexp")
    if not dims:
        return x
    dims = _dims_arg(dims)
    peak = _raw.Max(input=x, axis=dims, keep_dims=True)
    peak = _raw.StopGradient(input=_raw.SelectV2(condition=_raw.IsFinite(x=peak), t=peak, e=_raw.ZerosLike(x=peak)))
    total = _raw.Sum(input=_raw.Exp(x=_raw.Sub(x=x, y=peak)), axis=dims, keep_dims=bool(keepdims))
    if not keepdims:
        peak = _raw.Reshape(tensor=peak, shape=int_tensor(tuple(total.shape)))
    return _raw.AddV2(x=_raw.Log(x=total), y=peak)


def _cumulative(raw_op, x, axis, op):
    x = tensor(x)
    if x.dtype is BOOL:
        x = cast(x, INT32)
    if axis is None:
        x = _raw.Reshape(tensor=x, shape=int_tensor((-1,)))
        axis = 0
    return raw_op(x=x, axis=normalize_axis(int(axis), x.shape.rank, op))


def cumsum(x, axis=None):
    """Cumulative sum along ``axis`` (the flattened tensor when None)."""
    return _cumulative(_raw.Cumsum, x, axis, "cumsum")


def cumprod(x, axis=None):
    """Cumulative product along ``axis`` (the flattened tensor when None)."""
    return _cumulative(_raw.Cumprod, x, axis, "cumprod")


def _arg(raw_op, x, axis, keepdims, op):
    x = _orderable(x)
    if axis is None:
        out = raw_op(input=_raw.Reshape(tensor=x, shape=int_tensor((-1,))), dimension=0, output_type=INT32)
        return _raw.Reshape(tensor=out, shape=int_tensor((1,) * x.shape.rank)) if keepdims else out
    axis = normalize_axis(int(axis), x.shape.rank, op)
    out = raw_op(input=x, dimension=axis, output_type=INT32)
    return _raw.ExpandDims(input=out, axis=axis) if keepdims else out


def argmax(x, axis=None, keepdims=False):
    """int32 index of the first maximum (the flattened tensor when axis is None)."""
    return _arg(_raw.ArgMax, x, axis, keepdims, "argmax")


def argmin(x, axis=None, keepdims=False):
    """int32 index of the first minimum."""
    return _arg(_raw.ArgMin, x, axis, keepdims, "argmin")


def any(x, axis=None, keepdims=False):  # noqa: A001
    x = cast(tensor(x), BOOL)
    return _reduce(_raw.Any, x, axis, keepdims, "any")


def all(x, axis=None, keepdims=False):  # noqa: A001
    x = cast(tensor(x), BOOL)
    return _reduce(_raw.All, x, axis, keepdims, "all")
