"""Reductions over axes (int, tuple or None) with ``keepdims``, and cumulative ops.

``axis=()`` reduces nothing (NumPy), whereas torch reads an empty ``dim`` as "all
axes", so every reduction checks for it. Integer sums keep their dtype (torch would
widen to int64); bool sums give int32.
"""

from __future__ import annotations

import torch

from ..protocol import normalize_axis
from .core import BOOL, FLOAT32, INT32, Tensor, _convert, axis_tuple, float_tensor


def _t(x):
    return x if type(x) is Tensor else _convert(x)


def _dims(axis, x, op):
    """torch ``dim`` for ``axis``: None stays None, ``()`` -> ``()`` (caller handles)."""
    if axis is None or type(axis) is int:
        return axis
    return axis_tuple(axis, x.dim(), op)


def _all_kept(out, x, keepdims):
    """Full reductions with keepdims: shape (1,) * ndim."""
    return out.reshape((1,) * x.dim()) if keepdims else out


def _int_dtype(x):
    """dtype= argument for sum/prod/cumsum: ints keep theirs, bool -> int32, floats None."""
    dt = x.dtype
    if dt.is_floating_point:
        return None
    return INT32 if dt is BOOL else dt


def sum(x, axis=None, keepdims=False):
    x = _t(x)
    dt = _int_dtype(x)
    if axis is None:
        return _all_kept(torch.sum(x, dtype=dt), x, keepdims)
    dims = _dims(axis, x, "sum")
    if dims == ():
        return x if dt is None else x.to(dt)
    if dt is None:
        return torch.sum(x, dims, keepdims)  # positional: torch parses keywords more slowly
    return torch.sum(x, dims, keepdims, dtype=dt)


def mean(x, axis=None, keepdims=False):
    x = float_tensor(x)
    if axis is None:
        return _all_kept(torch.mean(x), x, keepdims)
    dims = _dims(axis, x, "mean")
    if dims == ():
        return x
    return torch.mean(x, dims, keepdims)


def _extreme(fn, x, axis, keepdims, op):
    x = _t(x)
    if axis is None:
        return _all_kept(fn(x), x, keepdims)
    dims = _dims(axis, x, op)
    if dims == ():
        return x
    return fn(x, dim=dims, keepdim=keepdims)


def max(x, axis=None, keepdims=False):
    # amax shares the gradient equally among tied maxima, as the protocol asks.
    return _extreme(torch.amax, x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False):
    return _extreme(torch.amin, x, axis, keepdims, "min")


def prod(x, axis=None, keepdims=False):
    x = _t(x)
    dt = _int_dtype(x)
    if axis is None:
        return _all_kept(torch.prod(x, dtype=dt), x, keepdims)
    dims = (axis,) if type(axis) is int else _dims(axis, x, "prod")
    out = x if dt is None else x.to(dt)
    # torch.prod takes one dim at a time: reduce from the last axis so indices stay valid.
    for d in sorted((normalize_axis(d, x.dim(), "prod") for d in dims), reverse=True):
        out = torch.prod(out, dim=d, keepdim=keepdims, dtype=dt)
    return out


def _stat_input(x):
    """float16/bfloat16 statistics are computed in float32 for accuracy, then cast back."""
    x = float_tensor(x)
    return (x.to(FLOAT32), x.dtype) if x.dtype in (torch.float16, torch.bfloat16) else (x, None)


def var(x, axis=None, keepdims=False):
    x, back = _stat_input(x)
    dims = None if axis is None else _dims(axis, x, "var")
    if dims == ():
        out = torch.zeros_like(x)
    else:
        out = torch.var(x, dim=dims, correction=0, keepdim=keepdims)
    return out if back is None else out.to(back)


def std(x, axis=None, keepdims=False):
    x, back = _stat_input(x)
    dims = None if axis is None else _dims(axis, x, "std")
    if dims == ():
        out = torch.zeros_like(x)
    else:
        out = torch.std(x, dim=dims, correction=0, keepdim=keepdims)
    return out if back is None else out.to(back)


def logsumexp(x, axis=None, keepdims=False):
    x = float_tensor(x)
    dims = tuple(range(x.dim())) if axis is None else _dims(axis, x, "logsumexp")
    if dims == ():
        return x.clone()
    if not (x.requires_grad and torch.is_grad_enabled()):
        return torch.logsumexp(x, dim=dims, keepdim=keepdims)
    # torch.logsumexp's backward, exp(x - result), loses ~1e-5 relative accuracy when
    # |x| is large (x and result are both ~1e3); subtracting the detached peak first
    # gives the gradient softmax(x) to float32 precision.
    peak = torch.amax(x, dim=dims, keepdim=True).detach()
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    out = torch.log(torch.sum(torch.exp(x - peak), dim=dims, keepdim=True)) + peak
    return out if keepdims else out.squeeze(dims)


def _cumulative(fn, x, axis):
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return fn(x, dim=axis, dtype=_int_dtype(x))


def cumsum(x, axis=None):
    return _cumulative(torch.cumsum, x, axis)


def cumprod(x, axis=None):
    return _cumulative(torch.cumprod, x, axis)


# ----------------------------------------------------------------- index reductions


def _arg(fn, x, axis, keepdims):
    x = _t(x)
    if x.dtype is BOOL:
        x = x.to(torch.uint8)
    if axis is None:
        out = fn(x)
        return (out.reshape((1,) * x.dim()) if keepdims else out).to(INT32)
    return fn(x, dim=int(axis), keepdim=keepdims).to(INT32)


def argmax(x, axis=None, keepdims=False):
    return _arg(torch.argmax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg(torch.argmin, x, axis, keepdims)


def _boolean(fn, x, axis, keepdims):
    x = _t(x)
    if axis is None:
        out = _all_kept(fn(x), x, keepdims)
    else:
        dims = _dims(axis, x, fn.__name__)
        out = (x != 0) if dims == () else fn(x, dim=dims, keepdim=keepdims)
    return out if out.dtype is BOOL else out.to(BOOL)  # torch keeps uint8 for uint8 inputs


def any(x, axis=None, keepdims=False):
    return _boolean(torch.any, x, axis, keepdims)


def all(x, axis=None, keepdims=False):
    return _boolean(torch.all, x, axis, keepdims)

