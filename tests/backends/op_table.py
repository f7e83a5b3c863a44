"""The op table of the conformance suite: every op of ``protocol.OPS``, in variants.

Each ``Case`` names an op, its positional arguments (NumPy arrays or Python values),
its keyword arguments, an *independent* NumPy expression for the expected value
(computed in float64 from the same inputs), the expected result dtype and the
tolerance. The forward tests run every case; the gradient tests run every case of an
op with ``grad=True`` that has floating inputs, differentiating with respect to them.

Inputs are built away from kinks and ties (``away``, ``distinct``, ``off_integers``)
so that gradients are well defined and central finite differences apply; variants
that sit on a kink on purpose (ties, clip bounds) set ``fd=False``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.special

from conformance_utils import SUM_TOL, TOL, upcast
import naive_ops as naive

_R = np.random.default_rng(20240601)
F32, I32, I64 = np.float32, np.int32, np.int64


@dataclass
class Case:
    """One op call and what it must return.

    ``dtype``: expected dtype string of the result (a tuple for multi-output ops,
    ``None`` for ops returning Python values). ``out``: ``"tensor"`` (a backend
    tensor or a list/tuple of them), ``"python"`` (compare with ``==``) or
    ``"numpy"`` (an ``np.ndarray``). ``convert``: pass arrays as backend tensors
    (True) or exactly as given (False). ``wrt``: leaf indices to differentiate
    (default: every floating leaf). ``fd``: whether central differences apply.
    ``rtol``/``atol``: forward tolerance; ``grad_tol``: gradient tolerance when it
    must differ (default: the forward one).
    """

    op: str
    variant: str
    args: tuple
    kwargs: dict
    expected: Callable
    dtype: Any = "float32"
    rtol: float = TOL["rtol"]
    atol: float = TOL["atol"]
    out: str = "tensor"
    convert: bool = True
    grad: bool = True
    wrt: tuple | None = None
    fd: bool = True
    grad_tol: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.variant}"

    def leaves(self):
        """``[(path, array)]`` for every array argument; path is ``(i,)`` or ``(i, j)`` for lists."""
        found = []
        for i, a in enumerate(self.args):
            if isinstance(a, np.ndarray):
                found.append(((i,), a))
            elif isinstance(a, list) and a and all(isinstance(e, np.ndarray) for e in a):
                found.extend(((i, j), e) for j, e in enumerate(a))
        return found

    def float_leaves(self):
        leaves = [(p, a) for p, a in self.leaves() if a.dtype.kind == "f"]
        if self.wrt is not None:
            leaves = [leaves[i] for i in self.wrt]
        return leaves

    def with_leaves(self, replace: dict):
        """The positional args with the leaves at the given paths replaced."""
        args = list(self.args)
        for i, a in enumerate(args):
            if isinstance(a, list) and any((i, j) in replace for j in range(len(a))):
                args[i] = [replace.get((i, j), e) for j, e in enumerate(a)]
            elif (i,) in replace:
                args[i] = replace[(i,)]
        return tuple(args)


CASES: list[Case] = []


def add(op, variant, args, kwargs=None, expected=None, **options):
    kwargs = kwargs or {}
    assert not any(isinstance(v, np.ndarray) for v in kwargs.values()), "arrays go in args"
    CASES.append(Case(op, variant, tuple(args), kwargs, expected, **options))


# ----------------------------------------------------------------------- input builders


def f32(*shape, lo=-2.0, hi=2.0):
    return _R.uniform(lo, hi, shape).astype(F32)


def away(*shape, lo=-3.0, hi=3.0, points=(0.0,), gap=0.1):
    """Uniform values at least ``gap`` from every kink in ``points``."""
    x = _R.uniform(lo, hi, shape)
    for _ in range(1000):
        bad = np.zeros(shape, bool)
        for p in points:
            bad |= np.abs(x - p) < gap
        if not bad.any():
            break
        x[bad] = _R.uniform(lo, hi, int(bad.sum()))
    return x.astype(F32)


def off_integers(*shape, lo=-3.0, hi=3.0, gap=0.1, step=1.0):
    """Values at least ``gap * step`` away from every multiple of ``step`` (floor, round, ...)."""
    whole = _R.integers(int(lo / step), int(hi / step), shape)
    frac = _R.uniform(gap, 1 - gap, shape)
    return ((whole + frac) * step).astype(F32)


def distinct(*shape, lo=-2.0, hi=2.0):
    """Pairwise distinct values (gaps >= (hi - lo) / (2 n)): no ties for max, sort, argmax."""
    n = int(np.prod(shape)) if shape else 1
    grid = np.linspace(lo, hi, max(n, 2))[:n]
    jitter = _R.uniform(-0.25, 0.25, n) * (hi - lo) / max(n, 2)
    return _R.permutation(grid + jitter).reshape(shape).astype(F32)


def ints(*shape, lo=-5, hi=6, dtype=I32):
    return _R.integers(lo, hi, shape).astype(dtype)


def bools(*shape):
    return _R.random(shape) < 0.5


def probs(*shape, lo=0.05, hi=0.95):
    return _R.uniform(lo, hi, shape).astype(F32)


def positive(*shape, lo=0.5, hi=2.0):
    return _R.uniform(lo, hi, shape).astype(F32)


# The clip bounds of the cross-entropies, as float32 computes them (1 - 1e-7 rounds).
EPS_LO = float(F32(1e-7))
EPS_HI = float(F32(1.0) - F32(1e-7))


# --------------------------------------------------------------------------- creation

def _creation():
    def arr(value, dtype):
        return lambda *a, **k: np.asarray(value, dtype)

    options = dict(convert=False)
    add("convert_to_tensor", "float_list", [[[1.5, 2.0], [3.0, -4.5]]], expected=np.asarray, **options)
    add("convert_to_tensor", "int_list", [[1, 2, 3]], expected=np.asarray, dtype="int32", **options)
    add("convert_to_tensor", "bool_list", [[True, False]], expected=np.asarray, dtype="bool", **options)
    add("convert_to_tensor", "mixed_list", [[1, 2.5]], expected=np.asarray, **options)
    add("convert_to_tensor", "python_float", [2.5], expected=np.asarray, **options)
    add("convert_to_tensor", "python_int", [3], expected=np.asarray, dtype="int32", **options)
    add("convert_to_tensor", "python_bool", [True], expected=np.asarray, dtype="bool", **options)
    add("convert_to_tensor", "ndarray_float32", [f32(2, 3)], expected=np.asarray, **options)
    add("convert_to_tensor", "ndarray_float64", [_R.normal(size=(2, 3))], expected=np.asarray, dtype="float64",
        **options)
    add("convert_to_tensor", "ndarray_float16", [f32(3).astype(np.float16)], expected=np.asarray, dtype="float16",
        **options)
    add("convert_to_tensor", "ndarray_int64", [ints(4, dtype=I64)], expected=np.asarray, dtype="int64", **options)
    add("convert_to_tensor", "ndarray_bool", [bools(2, 2)], expected=np.asarray, dtype="bool", **options)
    add("convert_to_tensor", "dtype_float64", [[1, 2]], {"dtype": "float64"}, expected=lambda x, dtype: np.asarray(x),
        dtype="float64", **options)
    add("convert_to_tensor", "dtype_int64", [f32(3) * 0 + 2], {"dtype": "int64"},
        expected=lambda x, dtype: np.asarray(x).astype(np.int64), dtype="int64", **options)
    add("convert_to_tensor", "tensor", [f32(2, 3)], expected=np.asarray)

    for op, fill in (("zeros", 0), ("ones", 1)):
        add(op, "default", [(2, 3)], expected=arr(np.full((2, 3), fill), np.float64), **options)
        add(op, "int_shape", [4], expected=arr(np.full(4, fill), np.float64), **options)
        add(op, "scalar", [()], expected=arr(fill, np.float64), **options)
        add(op, "int32", [(2, 1, 3), "int32"], expected=arr(np.full((2, 1, 3), fill), I32), dtype="int32", **options)
        add(op, "float64", [(3,)], {"dtype": "float64"}, expected=arr(np.full(3, fill), np.float64), dtype="float64",
            **options)
        add(op, "bool", [(2,), "bool"], expected=arr(np.full(2, bool(fill)), bool), dtype="bool", **options)

    add("full", "float", [(2, 3), 1.5], expected=arr(np.full((2, 3), 1.5), np.float64), **options)
    add("full", "int", [(2,), 7], expected=arr([7, 7], I32), dtype="int32", **options)
    add("full", "bool", [(2,), True], expected=arr([True, True], bool), dtype="bool", **options)
    add("full", "dtype", [(2, 2), 2, "float64"], expected=arr(np.full((2, 2), 2.0), np.float64), dtype="float64",
        **options)

    add("arange", "stop", [5], expected=arr(np.arange(5), I32), dtype="int32", **options)
    add("arange", "start_stop_step", [1, 8, 3], expected=arr([1, 4, 7], I32), dtype="int32", **options)
    add("arange", "negative_step", [10, 2, -3], expected=arr([10, 7, 4], I32), dtype="int32", **options)
    add("arange", "float", [0.0, 1.0, 0.25], expected=arr([0, 0.25, 0.5, 0.75], np.float64), **options)
    add("arange", "mixed", [1, 2.5, 0.5], expected=arr([1, 1.5, 2.0], np.float64), **options)
    add("arange", "dtype", [4], {"dtype": "float32"}, expected=arr([0, 1, 2, 3], np.float64), **options)
    add("arange", "dtype_int64", [2, 5], {"dtype": "int64"}, expected=arr([2, 3, 4], I64), dtype="int64", **options)

    add("eye", "square", [3], expected=arr(np.eye(3), np.float64), **options)
    add("eye", "rect", [3, 4], expected=arr(np.eye(3, 4), np.float64), **options)
    add("eye", "k_positive", [4, 3, 1], expected=arr(np.eye(4, 3, 1), np.float64), **options)
    add("eye", "k_negative_int", [3, None, -1, "int32"], expected=arr(np.eye(3, k=-1), I32), dtype="int32",
        **options)

    x, xi = f32(2, 3), ints(2, 3)
    for op, fill in (("zeros_like", 0), ("ones_like", 1)):
        add(op, "float32", [x], expected=lambda x, fill=fill: np.full(x.shape, fill, np.float64))
        add(op, "int32", [xi], expected=lambda x, fill=fill: np.full(x.shape, fill, I32), dtype="int32")
        add(op, "dtype", [x], {"dtype": "float64"}, expected=lambda x, dtype, fill=fill: np.full(x.shape, fill, float),
            dtype="float64")
        add(op, "bool_dtype", [xi, "bool"], expected=lambda x, d, fill=fill: np.full(x.shape, bool(fill)), dtype="bool")
    add("full_like", "float32", [x, 2.5], expected=lambda x, v: np.full(x.shape, v))
    add("full_like", "int32", [xi, 3], expected=lambda x, v: np.full(x.shape, v, I32), dtype="int32")
    add("full_like", "dtype", [x, 1, "int64"], expected=lambda x, v, d: np.full(x.shape, v, I64), dtype="int64")


# ------------------------------------------------------------------------- conversion

def _conversion():
    x = np.array([[-1.7, -0.2, 0.0], [0.4, 1.5, 2.9]], F32)
    cast = dict(grad=False)
    add("cast", "float_to_int32", [x, "int32"], expected=lambda x, d: np.trunc(x).astype(I32), dtype="int32", **cast)
    add("cast", "float_to_int64", [x, "int64"], expected=lambda x, d: np.trunc(x).astype(I64), dtype="int64", **cast)
    add("cast", "float_to_float64", [x, "float64"], expected=lambda x, d: x, dtype="float64", **cast)
    add("cast", "float_to_float16", [x, "float16"], expected=lambda x, d: x, dtype="float16", rtol=1e-3, atol=1e-3,
        **cast)
    add("cast", "float_to_bfloat16", [x, "bfloat16"], expected=lambda x, d: x, dtype="bfloat16", rtol=1e-2,
        atol=1e-2, **cast)
    add("cast", "float_to_bool", [x, "bool"], expected=lambda x, d: x != 0, dtype="bool", **cast)
    add("cast", "float_to_float32", [x, "float32"], expected=lambda x, d: x, **cast)
    add("cast", "int_to_float32", [ints(3, 2), "float32"], expected=lambda x, d: x.astype(float), **cast)
    add("cast", "int32_to_int64", [ints(4), "int64"], expected=lambda x, d: x.astype(I64), dtype="int64", **cast)
    add("cast", "int64_to_int32", [ints(4, dtype=I64), "int32"], expected=lambda x, d: x.astype(I32), dtype="int32",
        **cast)
    add("cast", "bool_to_float32", [bools(5), "float32"], expected=lambda x, d: x.astype(float), **cast)
    add("cast", "bool_to_int32", [bools(5), "int32"], expected=lambda x, d: x.astype(I32), dtype="int32", **cast)
    add("cast", "float64_to_float32", [_R.normal(size=(3,)), "float32"], expected=lambda x, d: x, **cast)

    py = dict(out="python", dtype=None)
    x3 = f32(2, 3, 4)
    add("shape", "rank3", [x3], expected=lambda x: (2, 3, 4), **py)
    add("shape", "scalar", [np.array(1.5, F32)], expected=lambda x: (), **py)
    add("ndim", "rank3", [x3], expected=lambda x: 3, **py)
    add("ndim", "scalar", [np.array(1.5, F32)], expected=lambda x: 0, **py)
    add("size", "rank3", [x3], expected=lambda x: 24, **py)
    add("size", "scalar", [np.array(1.5, F32)], expected=lambda x: 1, **py)
    for name, value in (("float32", f32(2)), ("float64", _R.normal(size=2)), ("float16", f32(2).astype(np.float16)),
                        ("int32", ints(2)), ("int64", ints(2, dtype=I64)), ("bool", bools(2)),
                        ("uint8", ints(2, lo=0, dtype=np.uint8))):
        add("dtype", name, [value], expected=lambda x, name=name: name, **py)
    add("is_tensor", "tensor", [f32(2)], expected=lambda x: True, **py)
    add("is_tensor", "python_float", [1.5], expected=lambda x: False, **py)
    add("is_tensor", "list", [[1.0, 2.0]], expected=lambda x: False, **py)
    for name, value in (("float32", f32(2, 3)), ("int64", ints(4, dtype=I64)), ("bool", bools(3)),
                        ("float64", _R.normal(size=(2,))), ("scalar", np.array(2.5, F32))):
        add("convert_to_numpy", name, [value], expected=lambda x: x, out="numpy", dtype=name if name != "scalar"
            else "float32")


# ------------------------------------------------------------------------ elementwise

def _elementwise():
    binary = {
        "add": lambda a, b: a + b,
        "subtract": lambda a, b: a - b,
        "multiply": lambda a, b: a * b,
        "divide": lambda a, b: a / b,
        "maximum": np.maximum,
        "minimum": np.minimum,
    }
    def lattice(*shape, frac=(0.05, 0.4)):
        # Operands of maximum/minimum drawn from disjoint fractional parts never come within 0.15.
        return (_R.integers(-2, 2, shape) + _R.uniform(*frac, shape)).astype(F32)

    for op, fn in binary.items():
        if op == "divide":  # denominators away from 0
            a, b = (lambda *s: f32(*s)), (lambda *s: away(*s, lo=-2, hi=2, gap=0.3))
        elif op in ("maximum", "minimum"):
            a, b = (lambda *s: lattice(*s)), (lambda *s: lattice(*s, frac=(0.55, 0.9)))
        else:
            a, b = (lambda *s: f32(*s)), (lambda *s: f32(*s))
        add(op, "same_shape", [a(3, 4), b(3, 4)], expected=fn)
        add(op, "broadcast_row", [a(4, 3), b(3)], expected=fn)
        add(op, "broadcast_both", [a(4, 1), b(1, 3)], expected=fn)
        add(op, "broadcast_rank3", [a(2, 1, 3), b(4, 1)], expected=fn)
        add(op, "rank0_tensor", [np.array(1.25, F32), b(2, 3)], expected=fn)
        add(op, "python_float_right", [a(2, 3), 0.5], expected=fn)
        add(op, "python_float_left", [1.5, b(2, 3)], expected=fn)
        add(op, "python_int_right", [a(2, 3), 1], expected=fn)
        if op == "divide":
            add(op, "int32", [ints(3, 4), ints(3, 4, lo=1, hi=5)], expected=fn)
            add(op, "int32_python_int", [ints(3, 4), 2], expected=fn)
        else:
            add(op, "int32", [ints(3, 4), ints(4)], expected=fn, dtype="int32")
            add(op, "int64", [ints(3, 4, dtype=I64), ints(3, 4, dtype=I64)], expected=fn, dtype="int64")
        add(op, "float64", [a(3, 2).astype(np.float64), b(3, 2).astype(np.float64)], expected=fn, dtype="float64")
    # Ties: the gradient goes to x1 (a kink, so no finite differences).
    x = f32(3, 4)
    x2 = x.copy()
    x2[0] += 1.0
    add("maximum", "ties", [x, x2], expected=np.maximum, fd=False)
    add("minimum", "ties", [x, x2], expected=np.minimum, fd=False)

    power = lambda a, b: a ** b  # noqa: E731
    add("power", "float_exponents", [positive(3, 4), f32(3, 4)], expected=power)
    add("power", "broadcast", [positive(2, 3), f32(3)], expected=power)
    add("power", "python_int_exponent", [f32(3, 4), 2], expected=power)
    add("power", "python_float_exponent", [positive(3, 4), 0.5], expected=power)
    add("power", "python_base", [2.0, f32(3, 4)], expected=power)
    add("power", "int32", [ints(3, 4, lo=-3, hi=4), ints(3, 4, lo=0, hi=4)], expected=power, dtype="int32")

    # x1 = q * x2 with q away from integers: floor(x1 / x2) and mod stay away from their jumps.
    q = off_integers(3, 4, lo=-6, hi=6)
    divisors = np.array([2.5, -2.5, 1.25, -0.5], F32)
    add("floor_divide", "float", [q * 1.5, np.full((3, 4), 1.5, F32)], expected=lambda a, b: np.floor(a / b))
    add("floor_divide", "float_broadcast_signs", [q * divisors, divisors], expected=lambda a, b: np.floor(a / b))
    add("floor_divide", "int32_negative", [np.array([7, -7, 7, -7, 0, 9], I32), np.array([2, 2, -2, -2, 3, 3], I32)],
        expected=lambda a, b: np.floor_divide(a, b), dtype="int32")
    add("floor_divide", "int32_python_int", [ints(5, lo=-9, hi=10), 4], expected=lambda a, b: np.floor_divide(a, b),
        dtype="int32")
    add("mod", "float", [q * 1.5, np.full((3, 4), 1.5, F32)], expected=np.mod)
    add("mod", "float_broadcast_signs", [q * divisors, divisors], expected=np.mod)
    add("mod", "int32_negative", [np.array([7, -7, 7, -7, 0, 9], I32), np.array([3, 3, -3, -3, 3, 4], I32)],
        expected=np.mod, dtype="int32")
    add("mod", "int32_python_int", [ints(6, lo=-9, hi=10), 4], expected=np.mod, dtype="int32")

    unary = {
        "negative": (lambda x: -x, lambda *s: f32(*s)),
        "square": (lambda x: x * x, lambda *s: f32(*s)),
        "sqrt": (np.sqrt, lambda *s: positive(*s, lo=0.1, hi=4.0)),
        "rsqrt": (lambda x: 1 / np.sqrt(x), lambda *s: positive(*s, lo=0.2, hi=4.0)),
        "reciprocal": (lambda x: 1 / x, lambda *s: away(*s, gap=0.3)),
        "exp": (np.exp, lambda *s: f32(*s, lo=-4, hi=4)),
        "expm1": (np.expm1, lambda *s: f32(*s, lo=-3, hi=3)),
        "log": (np.log, lambda *s: positive(*s, lo=0.05, hi=5.0)),
        "log1p": (np.log1p, lambda *s: positive(*s, lo=-0.9, hi=4.0)),
        "abs": (np.abs, lambda *s: away(*s)),
        "sign": (np.sign, lambda *s: away(*s)),
        "floor": (np.floor, lambda *s: off_integers(*s)),
        "ceil": (np.ceil, lambda *s: off_integers(*s)),
        "round": (np.round, lambda *s: off_integers(*s, step=0.5, lo=-3, hi=3)),
        "sin": (np.sin, lambda *s: f32(*s, lo=-4, hi=4)),
        "cos": (np.cos, lambda *s: f32(*s, lo=-4, hi=4)),
        "tanh": (np.tanh, lambda *s: f32(*s, lo=-3, hi=3)),
        "erf": (scipy.special.erf, lambda *s: f32(*s, lo=-2.5, hi=2.5)),
    }
    for op, (fn, make) in unary.items():
        add(op, "matrix", [make(3, 4)], expected=fn)
        add(op, "rank3", [make(2, 3, 2)], expected=fn)
        add(op, "scalar", [make()], expected=fn)
        add(op, "float64", [make(5).astype(np.float64)], expected=fn, dtype="float64")
    # Integer inputs: float-valued math gives float32, the rest keep the integer dtype.
    for op in ("sqrt", "exp", "log", "sin", "cos", "tanh", "erf", "log1p", "expm1", "rsqrt"):
        low = 1 if op in ("log", "rsqrt", "sqrt") else 0
        add(op, "int32", [ints(3, 4, lo=low, hi=5)], expected=unary[op][0])
    for op in ("negative", "square", "abs", "sign"):
        add(op, "int32", [ints(3, 4)], expected=unary[op][0], dtype="int32")
    add("sign", "zeros", [np.array([-2.0, 0.0, 3.0, -0.0], F32)], expected=np.sign, fd=False)
    # Accurate near 0: exp(x) - 1 computed naively in float32 would lose every digit here.
    tiny = (f32(3, 4) * 1e-5).astype(F32)
    add("expm1", "tiny", [tiny], expected=np.expm1, rtol=1e-5, atol=0.0)
    add("log1p", "tiny", [tiny], expected=np.log1p, rtol=1e-5, atol=0.0)
    # Half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0, -1.5 -> -2.
    add("round", "half_to_even", [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 3.5, -2.5], F32)], expected=np.round, fd=False)
    # round(x, 1) jumps at odd multiples of 0.05: keep 0.02 away from them.
    add("round", "decimals", [off_integers(3, 4, step=0.1, lo=-2, hi=2, gap=0.2) + F32(0.05)], {"decimals": 1},
        expected=lambda x, decimals: np.round(x, decimals), atol=1e-6)
    add("round", "int32", [ints(5)], expected=np.round, dtype="int32")

    add("clip", "inside_outside", [away(3, 4, lo=-2, hi=2, points=(-0.5, 0.7)), -0.5, 0.7],
        expected=np.clip)
    add("clip", "python_ints", [away(3, 4, lo=-3, hi=3, points=(-1, 1)), -1, 1], expected=np.clip)
    add("clip", "int32", [ints(3, 4), -2, 3], expected=np.clip, dtype="int32")
    add("clip", "at_bounds", [np.array([-0.5, 0.7, 0.0, 1.0, -1.0], F32), -0.5, 0.7], expected=np.clip, fd=False)

    cond = bools(3, 4)
    add("where", "same_shape", [cond, f32(3, 4), f32(3, 4)], expected=np.where)
    add("where", "broadcast", [bools(3, 1), f32(1, 4), f32(3, 4)], expected=np.where)
    add("where", "python_scalar", [cond, f32(3, 4), 0.0], expected=np.where)
    add("where", "int32", [cond, ints(3, 4), ints(3, 4)], expected=np.where, dtype="int32")


# ------------------------------------------------------------------------- comparison

def _comparison():
    fns = {
        "equal": lambda a, b: a == b,
        "not_equal": lambda a, b: a != b,
        "greater": lambda a, b: a > b,
        "greater_equal": lambda a, b: a >= b,
        "less": lambda a, b: a < b,
        "less_equal": lambda a, b: a <= b,
    }
    x1 = f32(3, 4)
    x2 = f32(3, 4)
    x2[:, ::2] = x1[:, ::2]  # equal entries, so ==, >= and <= see ties
    row = x1[1].copy()
    for op, fn in fns.items():
        options = dict(expected=fn, dtype="bool", grad=False)
        add(op, "float", [x1, x2], **options)
        add(op, "broadcast", [x1, row], **options)
        add(op, "python_scalar", [ints(3, 4), 2], **options)
        add(op, "python_float", [x1, float(x1[0, 0])], **options)
        add(op, "int32", [ints(3, 4, lo=-2, hi=3), ints(3, 4, lo=-2, hi=3)], **options)
        add(op, "mixed_dtypes", [ints(3, 4, lo=-2, hi=3), f32(3, 4)], **options)
    b1, b2 = bools(3, 4), bools(3, 4)
    logical = dict(dtype="bool", grad=False)
    add("logical_and", "bool", [b1, b2], expected=np.logical_and, **logical)
    add("logical_and", "broadcast", [b1, bools(4)], expected=np.logical_and, **logical)
    add("logical_or", "bool", [b1, b2], expected=np.logical_or, **logical)
    add("logical_or", "broadcast", [bools(3, 1), b2], expected=np.logical_or, **logical)
    add("logical_not", "bool", [b1], expected=np.logical_not, **logical)
    add("logical_and", "numeric", [ints(6, lo=0, hi=2), np.array([0, 1.5, 0, 2, 0, -1], F32)],
        expected=np.logical_and, **logical)
    add("logical_not", "numeric", [np.array([0.0, 1.0, -2.0], F32)], expected=np.logical_not, **logical)
    special = np.array([0.0, np.nan, np.inf, -np.inf, -1.5, 3.0], F32)
    add("isnan", "special", [special], expected=np.isnan, **logical)
    add("isfinite", "special", [special], expected=np.isfinite, **logical)
    add("isnan", "float64", [special.astype(np.float64)], expected=np.isnan, **logical)
    add("isfinite", "int32", [ints(3)], expected=np.isfinite, **logical)


# -------------------------------------------------------------------------- reductions

AXES = ((None, False), (None, True), (0, False), (-1, False), (1, True), ((0, 2), False), ((0, 2), True),
        ((-1, -3), False))


def _axis_id(axis, keepdims):
    name = "all" if axis is None else ("_".join(str(a) for a in axis) if isinstance(axis, tuple) else str(axis))
    return f"axis_{name}" + ("_keepdims" if keepdims else "")


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) computed stably, with NumPy's keepdims semantics (also for 0-d input)."""
    peak = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    if keepdims:
        return out
    return out.reshape(()) if axis is None else np.squeeze(out, axis=axis)


def _reductions():
    fns = {
        "sum": (np.sum, lambda: f32(2, 3, 4)),
        "mean": (np.mean, lambda: f32(2, 3, 4)),
        "max": (np.max, lambda: distinct(2, 3, 4)),
        "min": (np.min, lambda: distinct(2, 3, 4)),
        "prod": (np.prod, lambda: away(2, 3, 4, lo=-1.6, hi=1.6, gap=0.5)),
        "var": (np.var, lambda: f32(2, 3, 4)),
        "std": (np.std, lambda: f32(2, 3, 4)),
        "logsumexp": (logsumexp, lambda: f32(2, 3, 4, lo=-3, hi=3)),
    }
    for op, (fn, make) in fns.items():
        x = make()
        for axis, keepdims in AXES:
            add(op, _axis_id(axis, keepdims), [x], {"axis": axis, "keepdims": keepdims},
                expected=lambda x, axis, keepdims, fn=fn: fn(x, axis=axis, keepdims=keepdims))
        add(op, "positional_axis", [make(), 1], expected=lambda x, axis, fn=fn: fn(x, axis=axis))
        add(op, "float64", [make().astype(np.float64)], {"axis": 1}, dtype="float64",
            expected=lambda x, axis, fn=fn: fn(x, axis=axis))
        # std of one element sits on sqrt's kink at 0: no gradient to compare.
        add(op, "scalar_input", [np.array(0.7, F32)], expected=lambda x, fn=fn: fn(x), grad=op != "std")
    # Empty reductions: the identity of the reduction.
    add("sum", "empty_axis", [np.zeros((0, 3), F32)], {"axis": 0}, expected=lambda x, axis: np.sum(x, axis))
    add("prod", "empty_axis", [np.zeros((2, 0), F32)], {"axis": 1}, expected=lambda x, axis: np.prod(x, axis))
    # Integer and bool rules: sum keeps ints (bool -> int32), mean gives float32.
    add("sum", "int32", [ints(3, 4)], {"axis": 0}, expected=lambda x, axis: np.sum(x, axis), dtype="int32")
    add("sum", "bool", [bools(3, 4)], {"axis": -1}, expected=lambda x, axis: np.sum(x, axis), dtype="int32")
    add("sum", "bool_all", [bools(3, 4)], expected=np.sum, dtype="int32")
    add("mean", "int32", [ints(3, 4)], {"axis": 0}, expected=lambda x, axis: np.mean(x, axis))
    add("max", "int32", [ints(3, 4)], {"axis": 1}, expected=lambda x, axis: np.max(x, axis), dtype="int32")
    add("min", "int32", [ints(3, 4)], {"axis": 1}, expected=lambda x, axis: np.min(x, axis), dtype="int32")
    add("prod", "int32", [ints(3, 4, lo=-3, hi=4)], {"axis": 1}, expected=lambda x, axis: np.prod(x, axis),
        dtype="int32")
    # Ties share the gradient equally (max/min); a kink, so no finite differences.
    tied = np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 0.5]], F32)
    add("max", "ties", [tied], {"axis": 1}, expected=lambda x, axis: np.max(x, axis), fd=False)
    add("min", "ties", [-tied], {"axis": 1}, expected=lambda x, axis: np.min(x, axis), fd=False)
    add("max", "ties_all", [tied], expected=np.max, fd=False)
    # Stability: exp(1000) overflows float32.
    # The gradient exp(x - logsumexp) is as exact as float32 can hold logsumexp ~ 1000 (ulp 6e-5).
    large = dict(grad_tol=dict(rtol=2e-4, atol=1e-6))
    add("logsumexp", "large", [f32(3, 4, lo=-1, hi=1) + 1000.0], {"axis": -1},
        expected=lambda x, axis: logsumexp(x, axis), **large)
    add("logsumexp", "very_negative", [f32(3, 4, lo=-1, hi=1) - 1000.0], {"axis": -1},
        expected=lambda x, axis: logsumexp(x, axis), **large)

    for op, fn in (("cumsum", np.cumsum), ("cumprod", np.cumprod)):
        make = (lambda: f32(2, 3, 4)) if op == "cumsum" else (lambda: away(2, 3, 4, lo=-1.6, hi=1.6, gap=0.5))
        add(op, "axis_none_flattens", [make()], expected=fn)
        add(op, "axis_0", [make()], {"axis": 0}, expected=lambda x, axis, fn=fn: fn(x, axis))
        add(op, "axis_-1", [make()], {"axis": -1}, expected=lambda x, axis, fn=fn: fn(x, axis))
        add(op, "axis_1", [make()], {"axis": 1}, expected=lambda x, axis, fn=fn: fn(x, axis))
        add(op, "int32", [ints(3, 4, lo=-3, hi=4)], {"axis": 1}, expected=lambda x, axis, fn=fn: fn(x, axis),
            dtype="int32")

    for op, fn in (("argmax", np.argmax), ("argmin", np.argmin)):
        options = dict(dtype="int32", grad=False)
        x = distinct(3, 4, 5)
        add(op, "axis_none", [x], expected=fn, **options)
        add(op, "axis_0", [x], {"axis": 0}, expected=lambda x, axis, fn=fn: fn(x, axis), **options)
        add(op, "axis_-1", [x], {"axis": -1}, expected=lambda x, axis, fn=fn: fn(x, axis), **options)
        add(op, "axis_1_keepdims", [x], {"axis": 1, "keepdims": True},
            expected=lambda x, axis, keepdims, fn=fn: fn(x, axis, keepdims=keepdims), **options)
        add(op, "first_of_ties", [np.array([[1, 5, 5, 0, 5], [0, 0, -3, -3, 2]], I32)], {"axis": 1},
            expected=lambda x, axis, fn=fn: fn(x, axis), **options)
        add(op, "int32", [ints(4, 6)], {"axis": 0}, expected=lambda x, axis, fn=fn: fn(x, axis), **options)

    for op, fn in (("any", np.any), ("all", np.all)):
        options = dict(dtype="bool", grad=False)
        b = np.array([[True, False, True], [True, True, True], [False, False, False]])
        add(op, "axis_none", [b], expected=fn, **options)
        add(op, "axis_0", [b], {"axis": 0}, expected=lambda x, axis, fn=fn: fn(x, axis), **options)
        add(op, "axis_-1_keepdims", [b], {"axis": -1, "keepdims": True},
            expected=lambda x, axis, keepdims, fn=fn: fn(x, axis, keepdims=keepdims), **options)
        add(op, "axis_tuple", [bools(2, 3, 4)], {"axis": (0, 2)}, expected=lambda x, axis, fn=fn: fn(x, axis),
            **options)
        add(op, "numeric", [np.array([[0.0, 1.5], [0.0, 0.0], [2.0, -1.0]], F32)], {"axis": 1},
            expected=lambda x, axis, fn=fn: fn(x, axis), **options)


# ------------------------------------------------------------------------------ linalg

def _linalg():
    tol = dict(rtol=SUM_TOL["rtol"], atol=SUM_TOL["atol"])
    grad_tol = dict(grad_tol=dict(tol))
    mm = dict(expected=np.matmul, **tol, **grad_tol)
    add("matmul", "2d", [f32(3, 4), f32(4, 5)], **mm)
    add("matmul", "batched", [f32(2, 3, 4), f32(2, 4, 5)], **mm)
    add("matmul", "broadcast_batch", [f32(2, 1, 3, 4), f32(3, 4, 2)], **mm)
    add("matmul", "matrix_by_batch", [f32(3, 4), f32(2, 4, 5)], **mm)
    add("matmul", "vector_matrix", [f32(4), f32(4, 5)], **mm)
    add("matmul", "matrix_vector", [f32(3, 4), f32(4)], **mm)
    add("matmul", "vector_vector", [f32(4), f32(4)], **mm)
    add("matmul", "batch_vector", [f32(2, 3, 4), f32(4)], **mm)
    add("matmul", "empty_inner", [np.zeros((3, 0), F32), np.zeros((0, 2), F32)], expected=np.matmul)
    add("matmul", "empty_batch", [np.zeros((0, 3, 4), F32), f32(4, 2)], expected=np.matmul)
    add("matmul", "int32", [ints(3, 4), ints(4, 2)], expected=np.matmul, dtype="int32")
    add("matmul", "float64", [f32(3, 4).astype(float), f32(4, 2).astype(float)], expected=np.matmul, dtype="float64")

    dot = dict(expected=np.dot, **tol, **grad_tol)
    add("dot", "2d", [f32(3, 4), f32(4, 5)], **dot)
    add("dot", "vector_vector", [f32(4), f32(4)], **dot)
    add("dot", "nd_vector", [f32(2, 3, 4), f32(4)], **dot)
    add("dot", "nd_matrix", [f32(2, 3, 4), f32(4, 5)], **dot)
    add("dot", "matrix_nd", [f32(2, 3), f32(4, 3, 5)], **dot)
    add("dot", "vector_matrix", [f32(3), f32(3, 2)], **dot)

    es = dict(expected=np.einsum, **tol, **grad_tol)
    add("einsum", "matmul", ["ij,jk->ik", f32(3, 4), f32(4, 5)], **es)
    add("einsum", "batch_matmul", ["bij,bjk->bik", f32(2, 3, 4), f32(2, 4, 5)], **es)
    add("einsum", "transpose", ["ij->ji", f32(3, 4)], **es)
    add("einsum", "inner", ["i,i->", f32(5), f32(5)], **es)
    add("einsum", "sum_all", ["ij->", f32(3, 4)], **es)
    add("einsum", "outer_batch", ["bi,bj->bij", f32(2, 3), f32(2, 4)], **es)
    add("einsum", "ellipsis", ["...ij,...jk->...ik", f32(2, 3, 4), f32(2, 4, 2)], **es)
    add("einsum", "implicit_output", ["ij,jk", f32(3, 4), f32(4, 2)], **es)
    add("einsum", "three_operands", ["ij,jk,kl->il", f32(2, 3), f32(3, 4), f32(4, 2)], **es)

    td = dict(**tol, **grad_tol)
    add("tensordot", "default_axes", [f32(2, 3, 4), f32(3, 4, 5)], expected=np.tensordot, **td)
    add("tensordot", "axes_1", [f32(3, 4), f32(4, 5)], {"axes": 1},
        expected=lambda a, b, axes: np.tensordot(a, b, axes), **td)
    add("tensordot", "axes_0_outer", [f32(2, 3), f32(4)], {"axes": 0},
        expected=lambda a, b, axes: np.tensordot(a, b, axes), **td)
    add("tensordot", "axes_pairs", [f32(3, 4, 5), f32(4, 3, 2)], {"axes": ([1, 0], [0, 1])},
        expected=lambda a, b, axes: np.tensordot(a, b, axes), **td)


# ------------------------------------------------------------------------------- shape

def _shape():
    x = f32(2, 3, 4)
    add("reshape", "flatten_leading", [x, (6, 4)], expected=np.reshape)
    add("reshape", "minus_one", [x, (-1,)], expected=np.reshape)
    add("reshape", "minus_one_middle", [x, (4, -1, 2)], expected=np.reshape)
    add("reshape", "list_shape", [x, [3, 8]], expected=np.reshape)
    add("reshape", "to_scalar", [f32(1, 1), ()], expected=np.reshape)
    add("reshape", "int32", [ints(2, 6), (3, 4)], expected=np.reshape, dtype="int32")
    add("reshape", "empty", [np.zeros((0, 4), F32), (2, 0, 2)], expected=np.reshape)

    add("transpose", "default_reverses", [x], expected=np.transpose)
    add("transpose", "axes", [x, (1, 0, 2)], expected=np.transpose)
    add("transpose", "axes_cycle", [x, (2, 0, 1)], expected=np.transpose)
    add("transpose", "negative_axes", [x, (-1, 0, 1)], expected=np.transpose)
    add("transpose", "matrix", [f32(3, 5)], expected=np.transpose)

    for axis in (0, 1, -1, 3):
        add("expand_dims", f"axis_{axis}", [x, axis], expected=np.expand_dims)
    add("expand_dims", "bool", [bools(3), 0], expected=np.expand_dims, dtype="bool")

    s = f32(1, 3, 1, 4)
    add("squeeze", "all", [s], expected=np.squeeze)
    add("squeeze", "axis_0", [s, 0], expected=np.squeeze)
    add("squeeze", "axis_-2", [s, -2], expected=np.squeeze)
    add("squeeze", "axis_tuple", [s, (0, 2)], expected=np.squeeze)

    conc = lambda xs, axis=0: np.concatenate(xs, axis)  # noqa: E731
    add("concatenate", "axis_0", [[f32(2, 3), f32(4, 3)]], expected=conc)
    add("concatenate", "axis_-1_three", [[f32(2, 3), f32(2, 1), f32(2, 2)]], {"axis": -1}, expected=conc)
    add("concatenate", "rank3_axis_1", [[f32(2, 1, 4), f32(2, 3, 4)], 1], expected=conc)
    add("concatenate", "single", [[f32(2, 3)]], {"axis": 0}, expected=conc)
    add("concatenate", "with_empty", [[f32(2, 3), np.zeros((0, 3), F32)]], expected=conc)
    add("concatenate", "int32", [[ints(2, 2), ints(1, 2)]], expected=conc, dtype="int32")
    add("concatenate", "tuple_input", [(f32(2, 3), f32(1, 3))], expected=lambda xs: np.concatenate(xs), grad=False)

    stack = lambda xs, axis=0: np.stack(xs, axis)  # noqa: E731
    triple = [f32(2, 3), f32(2, 3), f32(2, 3)]
    add("stack", "axis_0", [triple], expected=stack)
    add("stack", "axis_1", [triple, 1], expected=stack)
    add("stack", "axis_-1", [triple], {"axis": -1}, expected=stack)
    add("stack", "scalars", [[np.array(1.0, F32), np.array(2.0, F32)]], expected=stack)
    add("stack", "int32", [[ints(3), ints(3)]], expected=stack, dtype="int32")

    def split(x, sections, axis=0):
        return np.split(x, sections, axis)

    y = f32(6, 4)
    add("split", "sections_3", [y, 3], expected=split, dtype=("float32",) * 3)
    add("split", "indices", [y, [1, 4]], expected=split, dtype=("float32",) * 3)
    add("split", "axis_1", [y, 2], {"axis": 1}, expected=split, dtype=("float32",) * 2)
    add("split", "axis_-1_indices", [y, [3]], {"axis": -1}, expected=split, dtype=("float32",) * 2)
    add("split", "one_section", [y, 1], expected=split, dtype=("float32",))
    add("split", "int32", [ints(4, 2), 2], expected=split, dtype=("int32",) * 2)

    m = f32(2, 3)
    for reps in ((2, 1), (1, 3), (2, 2)):
        add("tile", "reps_" + "x".join(map(str, reps)), [m, reps], expected=np.tile)
    add("tile", "int_reps", [m, 2], expected=np.tile)
    add("tile", "more_reps_than_dims", [m, (2, 1, 2)], expected=np.tile)
    add("tile", "int32", [ints(2, 2), (1, 2)], expected=np.tile, dtype="int32")

    add("repeat", "flatten", [m, 2], expected=lambda x, r: np.repeat(x, r))
    add("repeat", "axis_0", [m, 2, 0], expected=np.repeat)
    add("repeat", "axis_-1", [m, 3], {"axis": -1}, expected=lambda x, r, axis: np.repeat(x, r, axis))
    add("repeat", "per_element", [m, [1, 0, 2], 1], expected=np.repeat)
    add("repeat", "int32", [ints(2, 2), 2, 1], expected=np.repeat, dtype="int32")

    def pad(x, pad_width, mode="constant", constant_values=0):
        if mode == "constant":
            return np.pad(x, pad_width, mode, constant_values=constant_values)
        return np.pad(x, pad_width, mode)

    add("pad", "constant", [m, ((1, 2), (0, 1))], expected=pad)
    add("pad", "constant_value", [m, ((1, 0), (2, 1))], {"constant_values": 1.5}, expected=pad)
    add("pad", "reflect", [f32(3, 4), ((1, 2), (2, 1))], {"mode": "reflect"}, expected=pad)
    add("pad", "symmetric", [f32(3, 4), ((1, 2), (2, 1))], {"mode": "symmetric"}, expected=pad)
    add("pad", "rank3_list", [x, [[0, 0], [1, 1], [2, 0]]], expected=pad)
    add("pad", "rank4_image", [f32(1, 3, 3, 2), ((0, 0), (1, 1), (1, 1), (0, 0))], {"mode": "reflect"},
        expected=pad)
    add("pad", "int32", [ints(2, 2), ((1, 1), (0, 2))], {"constant_values": 7}, expected=pad, dtype="int32")

    for axis in (None, 0, -1, (0, 2)):
        name = "all" if axis is None else ("0_2" if isinstance(axis, tuple) else str(axis))
        add("flip", f"axis_{name}", [x], {"axis": axis}, expected=lambda x, axis: np.flip(x, axis))

    add("broadcast_to", "vector", [f32(3), (2, 3)], expected=np.broadcast_to)
    add("broadcast_to", "column", [f32(3, 1), (3, 4)], expected=np.broadcast_to)
    add("broadcast_to", "scalar", [np.array(1.5, F32), (2, 2)], expected=np.broadcast_to)
    add("broadcast_to", "new_leading", [f32(1, 3), (2, 4, 3)], expected=np.broadcast_to)
    add("broadcast_to", "int32", [ints(3), (2, 3)], expected=np.broadcast_to, dtype="int32")

    def slice_(x, start, shape):
        return x[tuple(slice(s, None if n == -1 else s + n) for s, n in zip(start, shape))]

    z = f32(4, 5, 6)
    add("slice", "middle", [z, (1, 0, 2), (2, 5, 3)], expected=slice_)
    add("slice", "to_end", [z, (2, 1, 0), (-1, 3, -1)], expected=slice_)
    add("slice", "single", [z, [3, 4, 5], [1, 1, 1]], expected=slice_)
    add("slice", "int32", [ints(4, 4), (1, 1), (2, 2)], expected=slice_, dtype="int32")

    keys = {
        "int": 1,
        "negative_int": -1,
        "ints": (1, 2),
        "slice": slice(1, 3),
        "step_slice": (slice(None), slice(None, None, 2)),
        "reverse_slice": slice(None, None, -1),
        "ellipsis": (Ellipsis, 0),
        "newaxis": (None, 0),
        "mixed": (slice(1, 4), None, -2, slice(None, 3)),
        "index_array": np.array([3, 0, 1, 0], I64),
        "index_array_axis_1": (slice(None), np.array([4, 0, 2])),
    }
    for name, key in keys.items():
        add("getitem", name, [z, key], expected=lambda x, key: x[key])

    t = f32(4, 5)
    take = dict(expected=lambda x, i, axis=None: np.take(x, i, axis))
    add("take", "axis_0", [t, np.array([3, 0, 2, 0], I32), 0], **take)
    add("take", "axis_1", [t, np.array([4, 1], I32)], {"axis": 1}, **take)
    add("take", "axis_-1", [t, np.array([4, 1], I32)], {"axis": -1}, **take)
    add("take", "axis_none_flat", [t, np.array([19, 0, 7], I32)], **take)
    add("take", "matrix_indices", [t, np.array([[0, 1], [3, 3]], I32), 1], **take)
    add("take", "int64_indices", [t, np.array([1, 2], I64), 0], **take)
    add("take", "list_indices", [t, [2, 0]], {"axis": 0}, **take)
    add("take", "int32_values", [ints(3, 3), np.array([2, 0], I32), 1], dtype="int32", **take)

    tal = dict(expected=lambda x, i, axis: np.take_along_axis(x, i, axis))
    add("take_along_axis", "axis_1", [t, np.array([[0, 4], [1, 1], [3, 2], [0, 0]], I32), 1], **tal)
    add("take_along_axis", "axis_0", [t, ints(2, 5, lo=0, hi=4), 0], **tal)
    add("take_along_axis", "axis_-1_rank3", [x, ints(2, 3, 2, lo=0, hi=4)], {"axis": -1}, **tal)
    add("take_along_axis", "argsort_gather", [t, np.argsort(t, axis=1).astype(I32), 1], **tal)

    d = distinct(3, 5)
    add("sort", "axis_-1", [d], expected=lambda x, axis=-1: np.sort(x, axis))
    add("sort", "axis_0", [d, 0], expected=lambda x, axis: np.sort(x, axis))
    add("sort", "rank3_axis_1", [distinct(2, 4, 3)], {"axis": 1}, expected=lambda x, axis: np.sort(x, axis))
    add("sort", "int32", [ints(3, 5)], expected=lambda x: np.sort(x, -1), dtype="int32")

    def top_k(x, k, sorted=True):
        order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        return np.take_along_axis(x, order, -1), order

    add("top_k", "k2", [distinct(3, 6), 2], expected=top_k, dtype=("float32", "int32"))
    add("top_k", "vector_k3", [distinct(7), 3], expected=top_k, dtype=("float32", "int32"))
    add("top_k", "k_all", [distinct(2, 4), 4], expected=top_k, dtype=("float32", "int32"))
    add("top_k", "rank3", [distinct(2, 3, 5)], {"k": 1}, expected=top_k, dtype=("float32", "int32"))

    argsort = dict(dtype="int32", grad=False)
    add("argsort", "axis_-1", [d], expected=lambda x, axis=-1: np.argsort(x, axis, kind="stable"), **argsort)
    add("argsort", "axis_0", [d, 0], expected=lambda x, axis: np.argsort(x, axis, kind="stable"), **argsort)
    add("argsort", "stable_ties", [np.array([[3, 1, 3, 1, 2, 3], [0, 0, 0, 0, 0, 0]], I32)],
        expected=lambda x: np.argsort(x, -1, kind="stable"), **argsort)
    add("argsort", "stable_ties_float", [np.array([0.5, -1.0, 0.5, 2.0, -1.0, 0.5], F32)],
        expected=lambda x: np.argsort(x, -1, kind="stable"), **argsort)

    def one_hot(x, num_classes, axis=-1, dtype=None):
        out = (np.asarray(x)[..., None] == np.arange(num_classes)).astype(np.float64)
        return np.moveaxis(out, -1, axis)

    labels = np.array([0, 2, 1, 3, 2], I32)
    grid = np.array([[0, 1, 2], [2, 2, 0]], I32)
    oh = dict(expected=one_hot, grad=False)
    add("one_hot", "vector", [labels, 4], **oh)
    add("one_hot", "axis_0", [labels, 4, 0], **oh)
    add("one_hot", "matrix", [grid, 3], **oh)
    add("one_hot", "matrix_axis_1", [grid, 3], {"axis": 1}, **oh)
    add("one_hot", "dtype_int32", [labels, 4], {"dtype": "int32"}, dtype="int32", **oh)
    add("one_hot", "int64_labels", [labels.astype(I64), 5], **oh)
    add("one_hot", "out_of_range_is_zero", [np.array([1, -1, 4, 0], I32), 3], **oh)


# ---------------------------------------------------------------------------------- nn

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _gelu(x, approximate=True):
    if approximate:
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + scipy.special.erf(x / np.sqrt(2)))


def _along(t, axis, ndim):
    shape = [1] * ndim
    shape[axis] = -1
    return np.reshape(t, shape)


def _batch_norm(x, mean, variance, axis, offset=None, scale=None, epsilon=0.001):
    out = (x - _along(mean, axis, x.ndim)) / np.sqrt(_along(variance, axis, x.ndim) + epsilon)
    if scale is not None:
        out = out * _along(scale, axis, x.ndim)
    if offset is not None:
        out = out + _along(offset, axis, x.ndim)
    return out


def _bce(target, output, from_logits=False):
    if from_logits:
        # -(t log s(z) + (1 - t) log(1 - s(z))) = softplus(z) - t z
        return np.logaddexp(0.0, output) - target * output
    p = np.clip(output, EPS_LO, EPS_HI)
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


def _cce(target, output, from_logits=False, axis=-1):
    if from_logits:
        log_p = output - scipy.special.logsumexp(output, axis=axis, keepdims=True)
    else:
        log_p = np.log(np.clip(output / np.sum(output, axis=axis, keepdims=True), EPS_LO, EPS_HI))
    return -np.sum(target * log_p, axis=axis)


def _scce(target, output, from_logits=False, axis=-1):
    classes = output.shape[axis]
    one_hot = np.moveaxis((np.asarray(target)[..., None] == np.arange(classes)).astype(np.float64), -1, axis)
    return _cce(one_hot, output, from_logits, axis)


# In gelu's tails the float32 gradient through 1 - tanh(z)^2 (or erf') cancels to ~1e-6 absolute.
GELU_GRAD_TOL = dict(rtol=1e-5, atol=5e-6)


def _activations():
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    acts = {  # op: (numpy expression, kinks to keep away from, a kwargs variant, input range)
        "relu": (lambda x: np.maximum(x, 0), (0.0,), {}, (-5, 5)),
        "relu6": (lambda x: np.clip(x, 0, 6), (0.0, 6.0), {}, (-8, 9)),
        "leaky_relu": (lambda x, negative_slope=0.2: np.where(x >= 0, x, negative_slope * x), (0.0,),
                       {"negative_slope": 0.1}, (-5, 5)),
        "elu": (lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), (0.0,), {"alpha": 0.5},
                (-5, 5)),
        "selu": (lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))), (0.0,), {},
                 (-5, 5)),
        "gelu": (_gelu, (), {"approximate": False}, (-5, 5)),
        "silu": (lambda x: x * sigmoid(x), (), {}, (-6, 6)),
        "sigmoid": (sigmoid, (), {}, (-6, 6)),
        "softplus": (lambda x: np.logaddexp(x, 0), (), {}, (-6, 6)),
        "softsign": (lambda x: x / (1 + np.abs(x)), (0.0,), {}, (-5, 5)),
        "hard_sigmoid": (lambda x: np.clip(x / 6 + 0.5, 0, 1), (-3.0, 3.0), {}, (-5, 5)),
    }
    for op, (fn, kinks, variant_kwargs, (lo, hi)) in acts.items():
        def make(*shape, kinks=kinks, lo=lo, hi=hi):
            return away(*shape, lo=lo, hi=hi, points=kinks) if kinks else f32(*shape, lo=lo, hi=hi)

        extra = dict(grad_tol=GELU_GRAD_TOL) if op == "gelu" else {}
        add(op, "matrix", [make(4, 5)], expected=fn, **extra)
        add(op, "rank4", [make(2, 3, 2, 2)], expected=fn, **extra)
        add(op, "float64", [make(6).astype(np.float64)], expected=fn, dtype="float64")
        if variant_kwargs:
            name = "_".join(f"{k}_{v}" for k, v in variant_kwargs.items())
            add(op, name, [make(4, 5)], dict(variant_kwargs), expected=fn, **extra)
    add("gelu", "approximate_explicit", [f32(4, 5, lo=-4, hi=4)], {"approximate": True}, expected=_gelu,
        grad_tol=GELU_GRAD_TOL)
    add("sigmoid", "int32", [ints(3, 4)], expected=sigmoid)
    # Large |x|: no overflow, no NaN (the unused branch of elu/selu must stay finite too).
    big = np.array([-100.0, -30.0, -1.0, 1.0, 30.0, 100.0], F32)
    for op in ("sigmoid", "softplus", "silu", "elu", "selu", "softsign", "gelu"):
        extra = dict(grad_tol=GELU_GRAD_TOL) if op == "gelu" else {}
        add(op, "large_magnitude", [big], expected=acts[op][0], **extra)
    add("relu", "at_zero", [np.array([-1.0, 0.0, 2.0], F32)], expected=acts["relu"][0], fd=False)

    for op, fn in (("softmax", lambda x, axis=-1: np.exp(x - scipy.special.logsumexp(x, axis, keepdims=True))),
                   ("log_softmax", lambda x, axis=-1: x - scipy.special.logsumexp(x, axis, keepdims=True))):
        add(op, "axis_-1", [f32(4, 5)], expected=fn)
        add(op, "axis_0", [f32(4, 5)], {"axis": 0}, expected=fn)
        add(op, "rank3_axis_1", [f32(2, 3, 4)], {"axis": 1}, expected=fn)
        add(op, "rank3_axes_1_2", [f32(2, 3, 4)], {"axis": (1, 2)}, expected=fn)
        add(op, "large_logits", [f32(3, 4) * 10 + 1000.0], expected=fn)
        add(op, "vector", [f32(6)], expected=fn)
        add(op, "float64", [f32(3, 4).astype(float)], expected=fn, dtype="float64")


def _conv_cases():
    tol = dict(rtol=SUM_TOL["rtol"], atol=SUM_TOL["atol"], grad_tol=dict(SUM_TOL))
    conv = [  # variant, x shape, kernel shape, kwargs
        ("1d_valid", (2, 7, 3), (3, 3, 4), {}),
        ("1d_same_stride2_even", (2, 8, 3), (3, 3, 4), {"strides": 2, "padding": "same"}),
        ("1d_same_stride2_odd", (2, 7, 2), (4, 2, 3), {"strides": 2, "padding": "same"}),
        ("1d_same_dilation2", (2, 7, 3), (3, 3, 2), {"padding": "same", "dilation_rate": 2}),
        ("1d_groups", (2, 6, 4), (3, 2, 4), {}),
        ("2d_valid", (2, 5, 6, 3), (3, 3, 3, 4), {}),
        ("2d_same", (2, 5, 5, 2), (3, 3, 2, 3), {"padding": "same"}),
        ("2d_same_even_kernel", (1, 6, 6, 2), (2, 2, 2, 3), {"padding": "same"}),
        ("2d_same_stride2_extra_after", (2, 6, 6, 2), (3, 3, 2, 3), {"strides": 2, "padding": "same"}),
        ("2d_strides_tuple", (2, 7, 6, 2), (3, 2, 2, 3), {"strides": (2, 1)}),
        ("2d_stride3_same", (1, 8, 7, 2), (4, 4, 2, 2), {"strides": 3, "padding": "same"}),
        ("2d_dilation2_valid", (1, 7, 7, 2), (3, 3, 2, 3), {"dilation_rate": 2}),
        ("2d_dilation_tuple_same", (1, 6, 7, 2), (3, 2, 2, 2), {"dilation_rate": (2, 3), "padding": "same"}),
        ("2d_groups2", (2, 5, 5, 4), (3, 3, 2, 6), {}),
        ("2d_groups_depthwise_like", (1, 5, 5, 3), (3, 3, 1, 6), {"padding": "same"}),
        ("2d_pointwise", (2, 4, 4, 3), (1, 1, 3, 5), {}),
        ("2d_strides_list", (1, 6, 6, 2), (2, 2, 2, 2), {"strides": [2, 2]}),
        ("3d_valid", (1, 4, 4, 4, 2), (2, 2, 2, 2, 3), {}),
        ("3d_same_stride2", (1, 5, 4, 3, 2), (3, 2, 2, 2, 2), {"strides": 2, "padding": "same"}),
    ]
    for variant, xs, ks, kw in conv:
        add("conv", variant, [f32(*xs), f32(*ks, lo=-1, hi=1)], kw, expected=naive.conv, **tol)
    add("conv", "float64", [f32(1, 5, 5, 2).astype(float), f32(3, 3, 2, 2).astype(float)], {"padding": "same"},
        expected=naive.conv, dtype="float64", **tol)

    depthwise = [
        ("2d_valid", (2, 5, 5, 3), (3, 3, 3, 1), {}),
        ("2d_multiplier2", (2, 5, 4, 2), (3, 3, 2, 2), {"padding": "same"}),
        ("2d_same_stride2", (1, 6, 6, 3), (3, 3, 3, 2), {"strides": 2, "padding": "same"}),
        ("2d_dilation2", (1, 7, 7, 2), (3, 3, 2, 1), {"dilation_rate": 2}),
        ("1d", (2, 7, 3), (3, 3, 2), {"padding": "same"}),
    ]
    for variant, xs, ks, kw in depthwise:
        add("depthwise_conv", variant, [f32(*xs), f32(*ks, lo=-1, hi=1)], kw, expected=naive.depthwise_conv, **tol)

    transpose = [  # kernel (*k, out, in)
        ("1d_valid", (2, 5, 3), (3, 4, 3), {}),
        ("1d_valid_stride2", (2, 5, 3), (3, 4, 3), {"strides": 2}),
        ("1d_same_stride2", (2, 5, 3), (3, 2, 3), {"strides": 2, "padding": "same"}),
        ("1d_same_even_kernel", (2, 5, 2), (4, 3, 2), {"strides": 2, "padding": "same"}),
        ("1d_stride_larger_than_kernel", (1, 4, 2), (2, 2, 2), {"strides": 3}),
        ("1d_output_padding_valid", (2, 4, 2), (3, 2, 2), {"strides": 2, "output_padding": 1}),
        ("1d_output_padding_same", (2, 4, 2), (3, 2, 2), {"strides": 2, "padding": "same", "output_padding": 1}),
        ("1d_dilation2", (2, 5, 2), (3, 2, 2), {"dilation_rate": 2}),
        ("2d_valid", (2, 3, 4, 3), (3, 3, 2, 3), {}),
        ("2d_same_stride2", (2, 3, 4, 3), (3, 3, 2, 3), {"strides": 2, "padding": "same"}),
        ("2d_valid_strides_tuple", (1, 3, 3, 2), (3, 2, 2, 2), {"strides": (2, 3)}),
        ("2d_output_padding_tuple", (1, 3, 4, 2), (3, 2, 3, 2), {"strides": (2, 3), "output_padding": (1, 2)}),
        ("2d_same_kernel5_stride3_op2", (1, 3, 3, 2), (5, 5, 2, 2),
         {"strides": 3, "padding": "same", "output_padding": 2}),
        ("2d_same_dilation2", (1, 4, 4, 2), (3, 3, 2, 2), {"padding": "same", "dilation_rate": 2}),
        ("3d_same_stride2", (1, 2, 3, 2, 2), (2, 3, 2, 3, 2), {"strides": 2, "padding": "same"}),
        ("3d_valid", (1, 2, 2, 2, 2), (2, 2, 2, 2, 2), {}),
    ]
    for variant, ys, ks, kw in transpose:
        add("conv_transpose", variant, [f32(*ys), f32(*ks, lo=-1, hi=1)], kw, expected=naive.conv_transpose, **tol)

    pools = [  # variant, x shape, pool_size, kwargs
        ("1d_default_strides", (2, 7, 3), 2, {}),
        ("1d_same_stride2", (2, 7, 3), 3, {"strides": 2, "padding": "same"}),
        ("1d_same_window4_stride3", (2, 8, 2), 4, {"strides": 3, "padding": "same"}),
        ("2d_valid", (2, 6, 7, 3), 3, {"strides": 2}),
        ("2d_default_strides", (2, 4, 6, 2), (2, 2), {}),
        ("2d_same_tuple", (2, 6, 7, 3), (2, 3), {"strides": (2, 2), "padding": "same"}),
        ("2d_same_stride1", (1, 5, 5, 2), 3, {"strides": 1, "padding": "same"}),
        ("2d_overlapping_valid", (1, 6, 6, 2), 3, {"strides": 1}),
        ("3d_same", (1, 4, 5, 6, 2), 2, {"padding": "same"}),
        ("3d_valid_tuple", (1, 4, 5, 6, 2), (2, 3, 2), {"strides": (1, 2, 2)}),
    ]
    for op, fn in (("max_pool", naive.max_pool), ("average_pool", naive.average_pool)):
        for variant, xs, size, kw in pools:
            x = distinct(*xs, lo=-3, hi=3) if op == "max_pool" else f32(*xs)
            add(op, variant, [x, size], kw, expected=fn, **tol)
        add(op, "all_negative_same", [f32(1, 5, 5, 1, lo=-5, hi=-1), 2], {"padding": "same"}, expected=fn, **tol)
    # Ties inside a window: the gradient goes to the first maximum.
    tied = np.array([[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 1.0]], F32).reshape(1, 2, 4, 1)
    add("max_pool", "ties", [tied, 2], expected=naive.max_pool, fd=False)


def _nn_rest():
    x = f32(2, 3, 4)
    moments = lambda x, axes, keepdims=False: (np.mean(x, tuple(axes), keepdims=keepdims),  # noqa: E731
                                               np.var(x, tuple(axes), keepdims=keepdims))
    two = ("float32", "float32")
    add("moments", "axes_0", [x, [0]], expected=moments, dtype=two)
    add("moments", "axes_0_1", [x, [0, 1]], expected=moments, dtype=two)
    add("moments", "axes_-1", [x, (-1,)], expected=moments, dtype=two)
    add("moments", "keepdims", [x, [0, 2]], {"keepdims": True}, expected=moments, dtype=two)
    add("moments", "all_axes", [x, [0, 1, 2]], expected=moments, dtype=two)

    c = 3
    mean, var, off, scale = f32(c), positive(c, lo=0.2, hi=2.0), f32(c), positive(c)
    add("batch_normalization", "last_axis", [f32(4, c), mean, var, -1, off, scale], expected=_batch_norm)
    add("batch_normalization", "no_offset_scale", [f32(4, c), mean, var, -1], expected=_batch_norm)
    add("batch_normalization", "axis_1_rank3", [f32(2, c, 4), mean, var, 1, off, scale], {"epsilon": 1e-5},
        expected=_batch_norm)
    add("batch_normalization", "image", [f32(2, 3, 3, c), mean, var, 3, None, scale], expected=_batch_norm)

    t01 = (_R.random((4, 3)) < 0.5).astype(F32)
    soft = probs(4, 3)
    add("binary_crossentropy", "probs", [t01, probs(4, 3)], expected=_bce)
    add("binary_crossentropy", "soft_targets", [soft, probs(4, 3)], expected=_bce)
    add("binary_crossentropy", "logits", [t01, f32(4, 3, lo=-4, hi=4)], {"from_logits": True}, expected=_bce)
    add("binary_crossentropy", "logits_large", [np.array([1, 0, 1, 0, 1, 0], F32),
                                                np.array([-100, 100, 80, -80, 0.5, -0.5], F32)],
        {"from_logits": True}, expected=_bce)
    # Probabilities 0 and 1 are clipped (zero gradient there). The gradient w.r.t. the target,
    # log(p) - log(1 - p), depends on how float32 rounds 1 - 1e-7: not compared.
    add("binary_crossentropy", "clipped_probs", [np.array([1, 0, 1, 0], F32), np.array([0.0, 1.0, 1.0, 0.0], F32)],
        expected=_bce, fd=False, wrt=(1,))
    add("binary_crossentropy", "int_targets", [t01.astype(I32), probs(4, 3)], expected=_bce)

    def onehot(labels, n):
        return np.eye(n, dtype=F32)[labels]

    labels = np.array([0, 2, 1, 2], I32)
    add("categorical_crossentropy", "probs", [onehot(labels, 3), probs(4, 3)], expected=_cce)
    add("categorical_crossentropy", "soft_targets", [scipy.special.softmax(f32(4, 3), -1).astype(F32), probs(4, 3)],
        expected=_cce)
    add("categorical_crossentropy", "logits", [onehot(labels, 3), f32(4, 3, lo=-4, hi=4)], {"from_logits": True},
        expected=_cce)
    add("categorical_crossentropy", "logits_large", [onehot(labels[:2], 3),
                                                     np.array([[1000.0, 0.0, -1000.0], [0.0, 500.0, 999.0]], F32)],
        {"from_logits": True}, expected=_cce)
    add("categorical_crossentropy", "axis_1", [np.moveaxis(onehot(ints(2, 3, lo=0, hi=4), 4), -1, 1),
                                               probs(2, 4, 3)], {"axis": 1}, expected=_cce)
    add("categorical_crossentropy", "logits_axis_0", [onehot(labels, 3).T.copy(), f32(3, 4)],
        {"from_logits": True, "axis": 0}, expected=_cce)

    add("sparse_categorical_crossentropy", "probs", [labels, probs(4, 3)], expected=_scce)
    add("sparse_categorical_crossentropy", "logits", [labels, f32(4, 3, lo=-4, hi=4)], {"from_logits": True},
        expected=_scce)
    add("sparse_categorical_crossentropy", "int64_labels", [labels.astype(I64), f32(4, 3)], {"from_logits": True},
        expected=_scce)
    add("sparse_categorical_crossentropy", "sequence", [ints(2, 3, lo=0, hi=5), f32(2, 3, 5)],
        {"from_logits": True}, expected=_scce)
    add("sparse_categorical_crossentropy", "axis_1", [ints(2, 3, lo=0, hi=4), probs(2, 4, 3)], {"axis": 1},
        expected=_scce)
    add("sparse_categorical_crossentropy", "logits_large", [np.array([0, 2], I32),
                                                            np.array([[1000.0, 0.0, -1000.0], [0.0, 500.0, 999.0]],
                                                                     F32)],
        {"from_logits": True}, expected=_scce)

    # Forward is the identity; the gradient is zero (so finite differences do not apply).
    add("stop_gradient", "matrix", [f32(3, 4)], expected=lambda x: x, fd=False)
    add("stop_gradient", "int32", [ints(3)], expected=lambda x: x, dtype="int32")


_creation()
_conversion()
_elementwise()
_comparison()
_reductions()
_linalg()
_shape()
_activations()
_conv_cases()
_nn_rest()

#: Ops whose values are random: tested statistically in test_random.py, not here.
RANDOM_OPS = ("normal", "uniform", "truncated_normal", "randint", "shuffle", "dropout")
#: Ops that update Variables in place and return None: tested step by step against
#: NumPy in test_optimizer_ops.py (natively, as composites and compiled), not here.
STATEFUL_OPS = ("adam_update", "sgd_update")
#: Image resampling ops: tested against loop references of TensorFlow's kernels in test_image_ops.py.
IMAGE_OPS = ("resize", "affine_transform")
#: Fused recurrent loops (multi-step, several outputs): tested against NumPy loops, with
#: gradients vs finite differences, natively and as composites, in test_recurrent_ops.py.
RECURRENT_OPS = ("lstm", "gru")
#: Training-mode batch normalization (outputs plus gradient-free batch statistics) and layer
#: normalization: tested against NumPy, with gradients vs finite differences, natively and as
#: composites, in test_normalization_ops.py.
NORMALIZATION_OPS = ("normalize_batch", "layer_normalization")

BY_ID = {case.id: case for case in CASES}
assert len(BY_ID) == len(CASES), "duplicate case ids"


@functools.lru_cache(maxsize=None)
def expected_of(case_id):
    """The case's expected value, computed once in float64."""
    case = BY_ID[case_id]
    return case.expected(*[upcast(a) for a in case.args], **case.kwargs)


def grad_cases():
    """Cases of differentiable ops that have floating inputs to differentiate."""
    from highlevel.backends import protocol

    return [c for c in CASES if protocol.OPS[c.op].grad and c.grad and c.float_leaves()
            and all(a.dtype == F32 for _, a in c.float_leaves())]
