"""Elementwise math and comparisons (NumPy broadcasting, ``protocol.result_type`` dtypes).

Hot ops call ``tf.raw_ops`` directly: it skips TensorFlow's Python dispatch layers,
which roughly halves the eager cost of a small op, and raw ops keep their registered
gradients inside a ``GradientTape``.
"""

from __future__ import annotations

from ._engine import tf
from .core import BOOL, FLOAT32, FLOATS, Tensor, as_float, cast, operands, same_dtype, tensor

_raw = tf.raw_ops
_Add, _Sub, _Mul, _RealDiv = _raw.AddV2, _raw.Sub, _raw.Mul, _raw.RealDiv
_Maximum, _Minimum, _Cast = _raw.Maximum, _raw.Minimum, _raw.Cast
_INT8 = tf.int8
_NUMBERS = (int, float)

# ------------------------------------------------------------------ arithmetic


def add(x1, x2):
    """``x1 + x2`` with broadcasting (``or`` for bools, as NumPy)."""
    x1, x2 = operands(x1, x2)
    if x1.dtype is BOOL:
        return _raw.LogicalOr(x=x1, y=_boolean(x2))
    return _Add(x=x1, y=x2)


def subtract(x1, x2):
    """``x1 - x2`` with broadcasting."""
    x1, x2 = operands(x1, x2)
    return _Sub(x=x1, y=x2)


def multiply(x1, x2):
    """``x1 * x2`` with broadcasting (``and`` for bools)."""
    x1, x2 = operands(x1, x2)
    if x1.dtype is BOOL:
        return _raw.LogicalAnd(x=x1, y=_boolean(x2))
    return _Mul(x=x1, y=x2)


def divide(x1, x2):
    """True division ``x1 / x2``; integer and bool operands give float32."""
    x1, x2 = operands(x1, x2)
    if x1.dtype not in FLOATS:
        x1 = _Cast(x=x1, DstT=FLOAT32)
        x2 = _Cast(x=x2, DstT=FLOAT32) if isinstance(x2, Tensor) else float(x2)
    return _RealDiv(x=x1, y=x2)


def negative(x):
    return _raw.Neg(x=tensor(x))


def power(x1, x2):
    """``x1 ** x2`` elementwise."""
    x1, x2 = operands(x1, x2)
    return _raw.Pow(x=x1, y=x2)


def square(x):
    return _raw.Square(x=tensor(x))


def _float_unary(raw_op):
    """A float-valued unary op: integer and bool inputs are computed in float32."""

    def op(x):
        x = tensor(x)
        if x.dtype not in FLOATS:
            x = _Cast(x=x, DstT=FLOAT32)
        return raw_op(x=x)

    return op


sqrt = _float_unary(_raw.Sqrt)
rsqrt = _float_unary(_raw.Rsqrt)
reciprocal = _float_unary(_raw.Reciprocal)
exp = _float_unary(_raw.Exp)
expm1 = _float_unary(_raw.Expm1)
log = _float_unary(_raw.Log)
log1p = _float_unary(_raw.Log1p)
sin = _float_unary(_raw.Sin)
cos = _float_unary(_raw.Cos)
tanh = _float_unary(_raw.Tanh)
erf = _float_unary(_raw.Erf)
for _name, _fn in [("sqrt", sqrt), ("rsqrt", rsqrt), ("reciprocal", reciprocal), ("exp", exp),
                   ("expm1", expm1), ("log", log), ("log1p", log1p), ("sin", sin), ("cos", cos),
                   ("tanh", tanh), ("erf", erf)]:
    _fn.__name__ = _fn.__qualname__ = _name
    _fn.__doc__ = f"Elementwise {_name}; integer inputs give float32."


def floor(x):
    """Round toward -inf (zero gradient); integers are returned unchanged."""
    x = tensor(x)
    return _raw.Floor(x=x) if x.dtype in FLOATS else x


def ceil(x):
    """Round toward +inf (zero gradient); integers are returned unchanged."""
    x = tensor(x)
    return _raw.Ceil(x=x) if x.dtype in FLOATS else x


def abs(x):  # noqa: A001 - the protocol's name
    return _raw.Abs(x=tensor(x))


def sign(x):
    """-1, 0 or 1 (zero gradient)."""
    return _raw.Sign(x=tensor(x))


def maximum(x1, x2):
    """Elementwise max; on ties the gradient goes to ``x1``."""
    x1, x2 = operands(x1, x2)
    if x1.dtype is BOOL:
        return _raw.LogicalOr(x=x1, y=_boolean(x2))
    return _Maximum(x=x1, y=x2)


def minimum(x1, x2):
    """Elementwise min; on ties the gradient goes to ``x1``."""
    x1, x2 = operands(x1, x2)
    if x1.dtype is BOOL:
        return _raw.LogicalAnd(x=x1, y=_boolean(x2))
    return _Minimum(x=x1, y=x2)


def clip(x, x_min, x_max):
    """Clamp to ``[x_min, x_max]``; gradient 1 inside, bounds included, 0 outside."""
    if isinstance(x, Tensor) and type(x_min) in _NUMBERS and type(x_max) in _NUMBERS and x.dtype in FLOATS:
        return _Minimum(x=_Maximum(x=x, y=float(x_min)), y=float(x_max))
    x, lo, hi = same_dtype(x, x_min, x_max)
    # Maximum/Minimum pass the gradient to their first input on ties: bounds included.
    return _Minimum(x=_Maximum(x=x, y=lo), y=hi)


def where(condition, x1, x2):
    """``x1`` where ``condition`` else ``x2`` (all three broadcast)."""
    condition = cast(tensor(condition), BOOL)
    x1, x2 = operands(x1, x2)
    return _raw.SelectV2(condition=condition, t=x1, e=x2)


def round(x, decimals=0):  # noqa: A001 - the protocol's name
    """Round half to even, to ``decimals`` digits (zero gradient)."""
    x = tensor(x)
    if x.dtype not in FLOATS:
        if decimals >= 0:
            return x
        factor = 10 ** (-decimals)
        return cast(_raw.Round(x=_RealDiv(x=as_float(x), y=float(factor))) * factor, x.dtype)
    if decimals == 0:
        return _raw.Round(x=x)
    factor = 10.0 ** decimals
    return _RealDiv(x=_raw.Round(x=_Mul(x=x, y=factor)), y=factor)


def floor_divide(x1, x2):
    """``x1 // x2`` (zero gradient)."""
    x1, x2 = operands(x1, x2)
    return _raw.FloorDiv(x=x1, y=x2)


def mod(x1, x2):
    """Remainder with the sign of ``x2`` (``np.mod``)."""
    x1, x2 = operands(x1, x2)
    return _raw.FloorMod(x=x1, y=x2)


# ------------------------------------------------------------------ comparisons


def _ordered(x1, x2):
    """Operands of an ordering comparison; bools compare as small integers."""
    x1, x2 = operands(x1, x2)
    if x1.dtype is BOOL:
        x1 = _Cast(x=x1, DstT=_INT8)
        x2 = _Cast(x=x2, DstT=_INT8) if isinstance(x2, Tensor) else int(x2)
    return x1, x2


def equal(x1, x2):
    x1, x2 = operands(x1, x2)
    return _raw.Equal(x=x1, y=x2)


def not_equal(x1, x2):
    x1, x2 = operands(x1, x2)
    return _raw.NotEqual(x=x1, y=x2)


def greater(x1, x2):
    x1, x2 = _ordered(x1, x2)
    return _raw.Greater(x=x1, y=x2)


def greater_equal(x1, x2):
    x1, x2 = _ordered(x1, x2)
    return _raw.GreaterEqual(x=x1, y=x2)


def less(x1, x2):
    x1, x2 = _ordered(x1, x2)
    return _raw.Less(x=x1, y=x2)


def less_equal(x1, x2):
    x1, x2 = _ordered(x1, x2)
    return _raw.LessEqual(x=x1, y=x2)


def _boolean(x):
    return cast(tensor(x), BOOL)


def logical_and(x1, x2):
    return _raw.LogicalAnd(x=_boolean(x1), y=_boolean(x2))


def logical_or(x1, x2):
    return _raw.LogicalOr(x=_boolean(x1), y=_boolean(x2))


def logical_not(x):
    return _raw.LogicalNot(x=_boolean(x))


def isnan(x):
    x = tensor(x)
    if x.dtype not in FLOATS:
        return tf.zeros_like(x, dtype=BOOL)
    return _raw.IsNan(x=x)


def isfinite(x):
    x = tensor(x)
    if x.dtype not in FLOATS:
        return tf.ones_like(x, dtype=BOOL)
    return _raw.IsFinite(x=x)
