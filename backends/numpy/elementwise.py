"""Elementwise math, comparisons and logical ops, each with its VJP beside it.

Binary ops take a fast path when both inputs are ndarrays of one dtype (no
promotion, no tape); otherwise ``core.binary`` promotes with the contract's
rules and a traced input makes the op return a ``Tensor``.
"""

from __future__ import annotations

import math

import numpy as np

from . import dtypes
from .core import as_array, binary, unwrap, unwrap_float
from .dtypes import BOOL, FLOAT32, FLOATS
from .tape import Tensor, unbroadcast

ndarray = np.ndarray
asarray = np.asarray
#: Float dtypes with which NumPy 2 treats a Python float as weak (not ml_dtypes' bfloat16).
_WEAK_FLOATS = frozenset(np.dtype(n) for n in ("float16", "float32", "float64"))


def _named(fn, name, doc):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


# --------------------------------------------------------------- binary ops


def _binary_op(name, np_fn, make_vjp, doc):
    """An op ``name(x1, x2)`` computing ``np_fn`` with VJPs from ``make_vjp(a, b, out, ta, tb)``."""

    def op(x1, x2):
        if type(x1) is ndarray:
            if type(x2) is ndarray and x1.dtype is x2.dtype:
                out = np_fn(x1, x2)
                # A ufunc of 0-d arrays returns a NumPy scalar; ops always return ndarrays.
                return out if type(out) is ndarray else np.asarray(out)
            if type(x2) is float and x1.dtype in _WEAK_FLOATS:  # NumPy keeps x1's dtype
                out = np_fn(x1, x2)
                return out if type(out) is ndarray else np.asarray(out)
        a, na, b, nb = binary(x1, x2)
        out = np_fn(a, b)
        if type(out) is not ndarray:
            out = np.asarray(out)
        if na is None and nb is None:
            return out
        return Tensor(out, (na, nb), make_vjp(a, b, out, na is not None, nb is not None))

    return _named(op, name, doc)


def _add_vjp(a, b, out, ta, tb):
    return lambda g: (unbroadcast(g, a.shape) if ta else None, unbroadcast(g, b.shape) if tb else None)


def _subtract_vjp(a, b, out, ta, tb):
    return lambda g: (unbroadcast(g, a.shape) if ta else None, unbroadcast(-g, b.shape) if tb else None)


def _multiply_vjp(a, b, out, ta, tb):
    return lambda g: (unbroadcast(g * b, a.shape) if ta else None,
                      unbroadcast(g * a, b.shape) if tb else None)


def _divide_vjp(a, b, out, ta, tb):
    return lambda g: (unbroadcast(g / b, a.shape) if ta else None,
                      unbroadcast(-g * out / b, b.shape) if tb else None)


def _power_vjp(a, b, out, ta, tb):
    def vjp(g):
        ga = gb = None
        if ta:
            # b * a**(b-1), with 0 where b == 0 (a**-1 would make 0 * inf at a == 0).
            ga = unbroadcast(np.where(b == 0, 0, g * b * np.power(a, b - 1)).astype(g.dtype, copy=False),
                             a.shape)
        if tb:
            positive = a > 0
            log_a = np.log(np.where(positive, a, 1))
            gb = unbroadcast(np.where(positive, g * out * log_a, 0).astype(g.dtype, copy=False), b.shape)
        return ga, gb

    return vjp


def _maximum_vjp(a, b, out, ta, tb):
    def vjp(g):
        first = a >= b  # ties go to x1
        return (unbroadcast(np.where(first, g, 0), np.shape(a)) if ta else None,
                unbroadcast(np.where(first, 0, g), np.shape(b)) if tb else None)

    return vjp


def _minimum_vjp(a, b, out, ta, tb):
    def vjp(g):
        first = a <= b
        return (unbroadcast(np.where(first, g, 0), np.shape(a)) if ta else None,
                unbroadcast(np.where(first, 0, g), np.shape(b)) if tb else None)

    return vjp


def _mod_vjp(a, b, out, ta, tb):
    return lambda g: (unbroadcast(g, a.shape) if ta else None,
                      unbroadcast(-g * np.floor_divide(a, b), b.shape) if tb else None)


add = _binary_op("add", np.add, _add_vjp, "x1 + x2, broadcasting.")
subtract = _binary_op("subtract", np.subtract, _subtract_vjp, "x1 - x2, broadcasting.")
multiply = _binary_op("multiply", np.multiply, _multiply_vjp, "x1 * x2, broadcasting.")
maximum = _binary_op("maximum", np.maximum, _maximum_vjp, "Elementwise max; gradient to x1 on ties.")
minimum = _binary_op("minimum", np.minimum, _minimum_vjp, "Elementwise min; gradient to x1 on ties.")
mod = _binary_op("mod", np.mod, _mod_vjp, "Remainder with the sign of x2.")
power = _binary_op("power", np.power, _power_vjp, "x1 ** x2 (ints to a negative int power raise).")


def divide(x1, x2):
    """True division; integer and bool inputs give float32."""
    if type(x1) is ndarray and type(x2) is ndarray and x1.dtype is x2.dtype and x1.dtype in FLOATS:
        return asarray(np.divide(x1, x2))
    a, na, b, nb = binary(x1, x2)
    dt = a.dtype if type(a) is ndarray else b.dtype
    if dt not in FLOATS:
        a, b = np.asarray(a, FLOAT32), np.asarray(b, FLOAT32)
    out = asarray(np.divide(a, b))
    if na is None and nb is None:
        return out
    return Tensor(out, (na, nb), _divide_vjp(a, b, out, na is not None, nb is not None))


def floor_divide(x1, x2):
    """x1 // x2 (zero gradient)."""
    if type(x1) is ndarray and type(x2) is ndarray and x1.dtype is x2.dtype:
        return asarray(np.floor_divide(x1, x2))
    a, _, b, _ = binary(x1, x2)
    return asarray(np.floor_divide(a, b))


# ---------------------------------------------------------------- unary ops


def _unary_float(name, np_fn, grad, doc):
    """A float-valued op (ints -> float32) whose VJP is ``grad(g, a, out)``."""

    def op(x):
        if type(x) is ndarray and x.dtype in FLOATS:
            out = np_fn(x)
            return out if type(out) is ndarray else np.asarray(out)
        a, node = unwrap_float(x)
        out = asarray(np_fn(a))
        if node is None:
            return out
        return Tensor(out, (node,), lambda g: (grad(g, a, out),))

    return _named(op, name, doc)


def _unary_same(name, np_fn, grad, doc):
    """A dtype-preserving op whose VJP is ``grad(g, a, out)``."""

    def op(x):
        if type(x) is ndarray:
            out = np_fn(x)
            return out if type(out) is ndarray else np.asarray(out)
        a, node = unwrap(x)
        out = asarray(np_fn(a))
        if node is None:
            return out
        return Tensor(out, (node,), lambda g: (grad(g, a, out),))

    return _named(op, name, doc)


def _no_grad(name, np_fn, doc, keep_ints=False):
    """A piecewise-constant op: returns untraced ndarrays (zero gradient)."""

    def op(x):
        a = as_array(x)
        if keep_ints and a.dtype not in FLOATS:
            # Integers are already whole; bool becomes float32 as other float-valued math.
            return a.copy() if a.dtype.kind in "iu" else a.astype(FLOAT32)
        return asarray(np_fn(a))

    return _named(op, name, doc)


def _rsqrt(a):
    return np.divide(1, np.sqrt(a))


def _reciprocal(a):
    return np.divide(1, a)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_erf_impl = None


def _erf(a):
    """scipy.special.erf when SciPy is installed; else math.erf elementwise (exact, slower)."""
    global _erf_impl
    if _erf_impl is None:
        try:
            from scipy.special import erf as scipy_erf

            _erf_impl = scipy_erf
        except ImportError:  # pragma: no cover - bare NumPy install
            _erf_impl = np.frompyfunc(math.erf, 1, 1)
    if a.dtype == FLOAT32 or a.dtype == dtypes.FLOAT64:
        out = _erf_impl(a)
    else:  # float16 / bfloat16: compute in float32
        out = _erf_impl(a.astype(FLOAT32))
    return out if out.dtype == a.dtype else np.asarray(out, dtype=np.float64).astype(a.dtype)


negative = _unary_same("negative", np.negative, lambda g, a, out: -g, "-x.")
square = _unary_same("square", np.square, lambda g, a, out: g * (2 * a), "x * x.")
abs = _unary_same("abs", np.abs, lambda g, a, out: g * np.sign(a), "|x|.")  # noqa: A001 - protocol name
sqrt = _unary_float("sqrt", np.sqrt, lambda g, a, out: g * 0.5 / out, "Square root (ints -> float32).")
rsqrt = _unary_float("rsqrt", _rsqrt, lambda g, a, out: g * (-0.5 * out * out * out), "1 / sqrt(x).")
reciprocal = _unary_float("reciprocal", _reciprocal, lambda g, a, out: -g * out * out, "1 / x.")
exp = _unary_float("exp", np.exp, lambda g, a, out: g * out, "e ** x.")
expm1 = _unary_float("expm1", np.expm1, lambda g, a, out: g * (out + 1), "exp(x) - 1.")
log = _unary_float("log", np.log, lambda g, a, out: g / a, "Natural logarithm.")
log1p = _unary_float("log1p", np.log1p, lambda g, a, out: g / (a + 1), "log(1 + x).")
sin = _unary_float("sin", np.sin, lambda g, a, out: g * np.cos(a), "Sine.")
cos = _unary_float("cos", np.cos, lambda g, a, out: -g * np.sin(a), "Cosine.")
tanh = _unary_float("tanh", np.tanh, lambda g, a, out: g * (1 - out * out), "Hyperbolic tangent.")
erf = _unary_float("erf", _erf, lambda g, a, out: g * (_TWO_OVER_SQRT_PI * np.exp(-a * a)),
                   "Gauss error function.")
sign = _no_grad("sign", np.sign, "Sign (-1, 0, 1); zero gradient.")
floor = _no_grad("floor", np.floor, "Floor (ints keep their dtype); zero gradient.", keep_ints=True)
ceil = _no_grad("ceil", np.ceil, "Ceil (ints keep their dtype); zero gradient.", keep_ints=True)


def round(x, decimals=0):  # noqa: A001 - protocol name
    """Round half to even; zero gradient; dtype kept."""
    return asarray(np.round(as_array(x), decimals))


# -------------------------------------------------------------- three-way ops


def clip(x, x_min, x_max):
    """Clamp to [x_min, x_max]; gradient 1 inside (bounds included), else to the bound."""
    if type(x) is ndarray and type(x_min) is float and type(x_max) is float and x.dtype in FLOATS:
        return asarray(np.minimum(np.maximum(x, x_min), x_max)).astype(x.dtype, copy=False)
    a, na, lo, nlo = binary(x, x_min)
    a, na2, hi, nhi = binary(a, x_max)
    if type(lo) is ndarray and lo.dtype != a.dtype:  # x_max promoted a further
        lo = lo.astype(a.dtype)
    out = asarray(np.minimum(np.maximum(a, lo), hi))
    if na is None and nlo is None and nhi is None:
        return out

    def vjp(g):
        below, above = a < lo, a > hi
        gx = unbroadcast(np.where(below | above, 0, g), a.shape) if na is not None else None
        glo = unbroadcast(np.where(below & ~above, g, 0), lo.shape) if nlo is not None else None
        ghi = unbroadcast(np.where(above, g, 0), hi.shape) if nhi is not None else None
        return gx, glo, ghi

    return Tensor(out, (na, nlo, nhi), vjp)


def where(condition, x1, x2):
    """Select x1 where condition else x2 (broadcasting)."""
    cond = as_array(condition)
    if cond.dtype != BOOL:
        cond = cond.astype(BOOL)
    a, na, b, nb = binary(x1, x2)
    if type(a) is not ndarray:
        a = np.asarray(a, b.dtype)
    if type(b) is not ndarray:
        b = np.asarray(b, a.dtype)
    out = np.where(cond, a, b)
    if na is None and nb is None:
        return out
    return Tensor(out, (na, nb), lambda g: (
        unbroadcast(np.where(cond, g, 0), a.shape) if na is not None else None,
        unbroadcast(np.where(cond, 0, g), b.shape) if nb is not None else None))


# --------------------------------------------------------- comparison / logic


def _compare(name, np_fn, doc):
    def op(x1, x2):
        if type(x1) is ndarray and type(x2) is ndarray and x1.dtype is x2.dtype:
            return asarray(np_fn(x1, x2))
        a, _, b, _ = binary(x1, x2)
        return asarray(np_fn(a, b))

    return _named(op, name, doc)


equal = _compare("equal", np.equal, "x1 == x2.")
not_equal = _compare("not_equal", np.not_equal, "x1 != x2.")
greater = _compare("greater", np.greater, "x1 > x2.")
greater_equal = _compare("greater_equal", np.greater_equal, "x1 >= x2.")
less = _compare("less", np.less, "x1 < x2.")
less_equal = _compare("less_equal", np.less_equal, "x1 <= x2.")


def _as_bool(x):
    a = as_array(x)
    return a if a.dtype == BOOL else a.astype(BOOL)


def logical_and(x1, x2):
    return asarray(np.logical_and(_as_bool(x1), _as_bool(x2)))


def logical_or(x1, x2):
    return asarray(np.logical_or(_as_bool(x1), _as_bool(x2)))


def logical_not(x):
    return asarray(np.logical_not(_as_bool(x)))


def isnan(x):
    a = as_array(x)
    if a.dtype not in FLOATS:
        return np.zeros(a.shape, BOOL)
    return asarray(np.isnan(a))


def isfinite(x):
    a = as_array(x)
    if a.dtype not in FLOATS:
        return np.ones(a.shape, BOOL)
    return asarray(np.isfinite(a))


__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "power", "square", "sqrt", "rsqrt",
    "reciprocal", "exp", "expm1", "log", "log1p", "abs", "sign", "maximum", "minimum", "clip",
    "where", "floor", "ceil", "round", "floor_divide", "mod", "sin", "cos", "tanh", "erf",
    "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and",
    "logical_or", "logical_not", "isnan", "isfinite",
]
