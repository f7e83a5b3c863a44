"""Elementwise math and comparisons, with the protocol's dtype promotion.

Binary ops take the fast path when both inputs are tensors of one dtype; otherwise
``core.operands`` applies ``protocol.result_type`` (torch's own promotion differs for
0-d tensors and bool/int mixes) and leaves a trailing Python scalar weak.
"""

from __future__ import annotations

import torch

from ..protocol import InvalidArgumentError
from .core import BOOL, FLOAT32, SCALAR_TYPES, Tensor, as_tensor, float_tensor, operands, promote, scalar_tensor, weak


def _pair(x1, x2):
    if type(x1) is Tensor and type(x2) is Tensor and x1.dtype is x2.dtype:
        return x1, x2
    return operands(x1, x2)


# ------------------------------------------------------------------------ arithmetic


def add(x1, x2):
    if type(x1) is Tensor and type(x2) is Tensor and x1.dtype is x2.dtype:
        return torch.add(x1, x2)
    if type(x1) in SCALAR_TYPES and type(x2) is Tensor:
        a, b = operands(x2, x1)  # commutes: the scalar stays a weak Python number
        return torch.add(a, b)
    a, b = operands(x1, x2)
    return torch.add(a, b)


def subtract(x1, x2):
    if type(x1) is Tensor and type(x2) is Tensor and x1.dtype is x2.dtype:
        return torch.sub(x1, x2)
    if type(x1) in SCALAR_TYPES and type(x2) is Tensor:
        a, b = operands(x2, x1)  # keeps the scalar weak and un-materialized: x1 - x2 = rsub(x2, x1)
        return torch.rsub(a, b)
    a, b = operands(x1, x2)
    return torch.sub(a, b)


def multiply(x1, x2):
    if type(x1) is Tensor and type(x2) is Tensor and x1.dtype is x2.dtype:
        return torch.mul(x1, x2)
    if type(x1) in SCALAR_TYPES and type(x2) is Tensor:
        a, b = operands(x2, x1)
        return torch.mul(a, b)
    a, b = operands(x1, x2)
    return torch.mul(a, b)


def divide(x1, x2):
    a, b = _pair(x1, x2)
    if not a.is_floating_point():
        # Integer and bool division gives float32 (torch would give its default dtype).
        a = a.to(FLOAT32)
        if type(b) is Tensor:
            b = b.to(FLOAT32)
    return torch.div(a, b)


def negative(x):
    return torch.neg(as_tensor(x))


def power(x1, x2):
    a, b = _pair(x1, x2)
    return torch.pow(a, b)


def square(x):
    x = as_tensor(x)
    if x.dtype is BOOL:
        return x.clone()
    return torch.square(x)


def sqrt(x):
    return torch.sqrt(float_tensor(x))


def rsqrt(x):
    return torch.rsqrt(float_tensor(x))


def reciprocal(x):
    return torch.reciprocal(float_tensor(x))


def exp(x):
    return torch.exp(float_tensor(x))


def expm1(x):
    return torch.expm1(float_tensor(x))


def log(x):
    return torch.log(float_tensor(x))


def log1p(x):
    return torch.log1p(float_tensor(x))


def sin(x):
    return torch.sin(float_tensor(x))


def cos(x):
    return torch.cos(float_tensor(x))


def tanh(x):
    return torch.tanh(float_tensor(x))


def erf(x):
    return torch.erf(float_tensor(x))


def abs(x):
    x = as_tensor(x)
    if x.dtype is BOOL:
        return x.clone()
    return torch.abs(x)


def sign(x):
    return torch.sign(as_tensor(x))


# ------------------------------------------------------------------ min, max, clip


def maximum(x1, x2):
    a, b = _pair(x1, x2)
    if a.dtype is BOOL:
        return torch.logical_or(a, b if type(b) is Tensor else scalar_tensor(bool(b), BOOL))
    if type(b) is not Tensor:
        return torch.clamp_min(a, b)  # clamp's gradient goes to a on ties, as the protocol asks
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        # torch.maximum splits the gradient on ties; the protocol gives it all to x1.
        return torch.where((a >= b) | torch.isnan(a), a, b)
    return torch.maximum(a, b)


def minimum(x1, x2):
    a, b = _pair(x1, x2)
    if a.dtype is BOOL:
        return torch.logical_and(a, b if type(b) is Tensor else scalar_tensor(bool(b), BOOL))
    if type(b) is not Tensor:
        return torch.clamp_max(a, b)
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return torch.where((a <= b) | torch.isnan(a), a, b)
    return torch.minimum(a, b)


def _bound(value):
    if value is None or type(value) in SCALAR_TYPES:
        return value
    return as_tensor(value)


def clip(x, x_min, x_max):
    x = as_tensor(x)
    lo, hi = _bound(x_min), _bound(x_max)
    dt = x.dtype
    for b in (lo, hi):
        if type(b) is Tensor:
            if b.dtype is not dt:
                dt = promote(dt, b.dtype)
        elif b is not None:
            dt = weak(dt, type(b))
    if dt is not x.dtype:
        x = x.to(dt)
    if type(lo) is Tensor and lo.dtype is not dt:
        lo = lo.to(dt)
    if type(hi) is Tensor and hi.dtype is not dt:
        hi = hi.to(dt)
    if dt is BOOL:
        raise InvalidArgumentError("clip: bool tensors cannot be clipped")
    if type(lo) is Tensor or type(hi) is Tensor:
        # torch.clamp wants both bounds of one kind: make both tensors.
        if lo is not None and type(lo) is not Tensor:
            lo = torch.full((), lo, dtype=dt, device=x.device)
        if hi is not None and type(hi) is not Tensor:
            hi = torch.full((), hi, dtype=dt, device=x.device)
    return torch.clamp(x, lo, hi)


def where(condition, x1, x2):
    condition = as_tensor(condition)
    if condition.dtype is not BOOL:
        condition = condition != 0
    a, b = _pair(x1, x2)
    return torch.where(condition, a, b)


# ---------------------------------------------------------------------- rounding


def floor(x):
    x = as_tensor(x)
    return torch.floor(x) if x.is_floating_point() else x


def ceil(x):
    x = as_tensor(x)
    return torch.ceil(x) if x.is_floating_point() else x


def round(x, decimals=0):
    x = as_tensor(x)
    decimals = int(decimals)
    if x.is_floating_point():
        return torch.round(x, decimals=decimals) if decimals else torch.round(x)
    if decimals >= 0 or x.dtype is BOOL:
        return x
    # Integers to tens, hundreds, ...: half to even like NumPy.
    scale = 10 ** (-decimals)
    return (torch.round(x.to(torch.float64) / scale) * scale).to(x.dtype)


def floor_divide(x1, x2):
    a, b = _pair(x1, x2)
    # Zero gradient by definition (and torch has no derivative for it).
    return torch.floor_divide(a.detach(), b.detach() if type(b) is Tensor else b)


def mod(x1, x2):
    a, b = _pair(x1, x2)
    return torch.remainder(a, b)


# -------------------------------------------------------------------- comparisons


def _compare(fn, x1, x2):
    if type(x1) is Tensor and type(x2) is Tensor and x1.dtype is x2.dtype:
        return fn(x1, x2)
    a, b = operands(x1, x2)
    return fn(a, b)


def equal(x1, x2):
    return _compare(torch.eq, x1, x2)


def not_equal(x1, x2):
    return _compare(torch.ne, x1, x2)


def greater(x1, x2):
    return _compare(torch.gt, x1, x2)


def greater_equal(x1, x2):
    return _compare(torch.ge, x1, x2)


def less(x1, x2):
    return _compare(torch.lt, x1, x2)


def less_equal(x1, x2):
    return _compare(torch.le, x1, x2)


def logical_and(x1, x2):
    return torch.logical_and(as_tensor(x1), as_tensor(x2))


def logical_or(x1, x2):
    return torch.logical_or(as_tensor(x1), as_tensor(x2))


def logical_not(x):
    return torch.logical_not(as_tensor(x))


def isnan(x):
    return torch.isnan(as_tensor(x))


def isfinite(x):
    return torch.isfinite(as_tensor(x))
