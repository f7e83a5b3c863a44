"""Broadcasting and dtype promotion: a table against ``protocol.result_type``, and
property-based cases (hypothesis) for elementwise and reduction ops against NumPy."""

import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conformance_utils import assert_close, to_numpy
from highlevel.backends import protocol
from op_table import logsumexp

PROPERTY = settings(max_examples=30, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------- dtype promotion

PAIRS = [
    ("float32", "float32"), ("float32", "float64"), ("float64", "float32"), ("float16", "float32"),
    ("bfloat16", "float32"), ("float16", "bfloat16"), ("float16", "float16"), ("bfloat16", "bfloat16"),
    ("int32", "float32"), ("float32", "int32"), ("int64", "float32"), ("int32", "float64"), ("int8", "float16"),
    ("uint8", "float32"), ("int32", "int32"), ("int32", "int64"), ("int8", "int32"), ("int16", "int8"),
    ("uint8", "int8"), ("uint8", "int16"), ("uint8", "uint8"), ("uint8", "int32"), ("int64", "int64"),
    ("bool", "bool"), ("bool", "int32"), ("bool", "float32"), ("float16", "bool"),
    # Python scalars are weak.
    ("float32", float), (float, "float32"), ("float32", int), ("float16", float), ("bfloat16", int),
    ("float64", float), ("int32", float), ("int64", float), ("int32", int), ("int64", int), ("int8", int),
    ("uint8", int), ("bool", int), ("bool", float), ("bool", bool), (int, "int64"), (float, "bfloat16"),
]
PY_VALUES = {float: 1.5, int: 2, bool: True}
LOOSE = {"float16": dict(rtol=2e-3, atol=2e-3), "bfloat16": dict(rtol=2e-2, atol=2e-2)}


def _name(d):
    return d if isinstance(d, str) else d.__name__


def operand(k, d, seed):
    if not isinstance(d, str):
        return PY_VALUES[d], PY_VALUES[d]
    rng = np.random.default_rng(seed)
    if d == "bool":
        values = rng.random((2, 3)) < 0.5
    elif protocol.is_int_dtype(d):
        values = rng.integers(1, 5, (2, 3))
    else:
        values = rng.integers(1, 9, (2, 3)) / 4.0  # exact in every float dtype
    return k.cast(k.convert_to_tensor(values), d), values


BINARY = {
    "add": lambda a, b: a + b,
    "multiply": lambda a, b: a * b,
    "maximum": np.maximum,
    "subtract": lambda a, b: a - b,
    "divide": lambda a, b: a / b,
}


def expected_dtype(op, a, b):
    tensors = tuple(d for d in (a, b) if isinstance(d, str))
    weak = tuple(d for d in (a, b) if not isinstance(d, str))
    out = protocol.result_type(*tensors, weak=weak)
    if op == "divide" and not protocol.is_float_dtype(out):
        return "float32"  # true division of integers gives floatx
    return out


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{_name(p[0])}-{_name(p[1])}")
def test_binary_promotion(backend, op, pair):
    a, b = pair
    if "bool" in (a, b) and op in ("subtract", "divide"):
        pytest.skip("NumPy defines no boolean subtract/divide")
    k = backend
    (ta, va), (tb, vb) = operand(k, a, 1), operand(k, b, 2)
    out = getattr(k, op)(ta, tb)
    dtype = expected_dtype(op, a, b)
    assert k.dtype(out) == dtype, f"{op}({_name(a)}, {_name(b)}): dtype {k.dtype(out)}, expected {dtype}"
    va, vb = np.asarray(va), np.asarray(vb)
    if va.dtype == bool and vb.dtype == bool:
        expected = BINARY[op](va, vb)  # add is "or", multiply is "and"
    elif protocol.is_int_dtype(dtype):
        expected = BINARY[op](va.astype(dtype), vb.astype(dtype))  # wraps like the engines
    else:
        expected = BINARY[op](va.astype(np.float64), vb.astype(np.float64))
    assert_close(np.asarray(to_numpy(k, out), np.float64), np.asarray(expected, np.float64),
                 **LOOSE.get(dtype, dict(rtol=1e-6, atol=1e-6)))


@pytest.mark.parametrize("a, b", [("int32", "float32"), ("bool", "float64"), ("float16", "float32"),
                                  ("int32", "int64")])
def test_where_promotes_branches(backend, a, b):
    k = backend
    (ta, _), (tb, _) = operand(k, a, 3), operand(k, b, 4)
    out = k.where(k.convert_to_tensor(np.array([[True, False, True]] * 2)), ta, tb)
    assert k.dtype(out) == protocol.result_type(a, b)


@pytest.mark.parametrize("op", ["equal", "less", "greater_equal"])
@pytest.mark.parametrize("a, b", [("int32", "float32"), ("float16", "float64"), ("bool", "int32"), ("int64", float)])
def test_comparison_of_mixed_dtypes_is_bool(backend, op, a, b):
    k = backend
    (ta, va), (tb, vb) = operand(k, a, 5), operand(k, b, 6)
    out = getattr(k, op)(ta, tb)
    assert k.dtype(out) == "bool"
    expected = getattr(np, op)(np.asarray(va, np.float64), np.asarray(vb, np.float64))
    np.testing.assert_array_equal(to_numpy(k, out), expected)


# ------------------------------------------------------------------ broadcasting table

SHAPES = [((), ()), ((), (3,)), ((3,), ()), ((1,), (4,)), ((4, 3), (3,)), ((3,), (4, 3)), ((4, 1), (1, 3)),
          ((2, 1, 4), (3, 1)), ((5, 1, 1), (1, 4, 1)), ((2, 3, 4), (2, 3, 4)), ((1, 1), (2, 1, 3)),
          ((2, 1, 3, 1), (4, 1, 5))]


@pytest.mark.parametrize("op", ["add", "multiply", "maximum", "subtract"])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_broadcasting_table(backend, op, shapes):
    k = backend
    rng = np.random.default_rng(7)
    a = rng.normal(size=shapes[0]).astype(np.float32)
    b = rng.normal(size=shapes[1]).astype(np.float32)
    out = getattr(k, op)(k.convert_to_tensor(a), k.convert_to_tensor(b))
    assert k.shape(out) == np.broadcast_shapes(shapes[0], shapes[1])
    expected = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum, "subtract": np.subtract}[op](
        a.astype(np.float64), b.astype(np.float64))
    assert_close(to_numpy(k, out), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shapes", [((3, 1), (1, 4), (3, 4)), ((4,), (2, 1), ()), ((2, 1, 1), (3, 1), (1, 4))],
                         ids=str)
def test_where_broadcasts_all_three(backend, shapes):
    k = backend
    rng = np.random.default_rng(8)
    cond = rng.random(shapes[0]) < 0.5
    x1 = rng.normal(size=shapes[1]).astype(np.float32)
    x2 = rng.normal(size=shapes[2]).astype(np.float32)
    out = k.where(k.convert_to_tensor(cond), k.convert_to_tensor(x1), k.convert_to_tensor(x2))
    assert_close(to_numpy(k, out), np.where(cond, x1, x2), rtol=0, atol=0)


# -------------------------------------------------------------- property-based cases



def f32s(lo, hi):
    """float32 values in [lo, hi] (bounds rounded to float32, as hypothesis requires)."""
    return st.floats(float(np.float32(lo)), float(np.float32(hi)), width=32, allow_subnormal=False)


FLOATS = f32s(-10, 10)
AWAY_FROM_ZERO = st.one_of(f32s(0.5, 10), f32s(-10, -0.5))
PROPERTY_BINARY = {
    "add": (np.add, FLOATS, FLOATS),
    "subtract": (np.subtract, FLOATS, FLOATS),
    "multiply": (np.multiply, FLOATS, FLOATS),
    "divide": (np.divide, FLOATS, AWAY_FROM_ZERO),
    "maximum": (np.maximum, FLOATS, FLOATS),
    "minimum": (np.minimum, FLOATS, FLOATS),
    "power": (np.power, f32s(0.1, 4), f32s(-3, 3)),
    "greater": (np.greater, FLOATS, FLOATS),
    "equal": (np.equal, st.sampled_from([-1.0, 0.0, 2.5]), st.sampled_from([-1.0, 0.0, 2.5])),
}


@PROPERTY
@given(data=st.data(), op=st.sampled_from(sorted(PROPERTY_BINARY)))
def test_property_binary_broadcasting(backend, data, op):
    k = backend
    fn, left, right = PROPERTY_BINARY[op]
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4))
    a = data.draw(hnp.arrays(np.float32, shapes.input_shapes[0], elements=left))
    b = data.draw(hnp.arrays(np.float32, shapes.input_shapes[1], elements=right))
    out = getattr(k, op)(k.convert_to_tensor(a), k.convert_to_tensor(b))
    assert k.shape(out) == shapes.result_shape
    expected = fn(a.astype(np.float64), b.astype(np.float64))
    assert k.dtype(out) == ("bool" if expected.dtype == bool else "float32")
    assert_close(to_numpy(k, out), expected, rtol=1e-5, atol=1e-5, what=op)


PROPERTY_UNARY = {
    "exp": (np.exp, f32s(-10, 10)),
    "log": (np.log, f32s(1e-3, 100)),
    "sqrt": (np.sqrt, f32s(0, 100)),
    "tanh": (np.tanh, FLOATS),
    "sin": (np.sin, FLOATS),
    "abs": (np.abs, FLOATS),
    "negative": (np.negative, FLOATS),
    "square": (np.square, FLOATS),
    "sigmoid": (scipy.special.expit, f32s(-30, 30)),
    "softplus": (lambda x: np.logaddexp(x, 0), f32s(-30, 30)),
    "erf": (scipy.special.erf, FLOATS),
    "expm1": (np.expm1, f32s(-5, 5)),
    "log1p": (np.log1p, f32s(-0.99, 100)),
    "floor": (np.floor, FLOATS),
}


@PROPERTY
@given(data=st.data(), op=st.sampled_from(sorted(PROPERTY_UNARY)))
def test_property_unary(backend, data, op):
    k = backend
    fn, elements = PROPERTY_UNARY[op]
    x = data.draw(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=4, max_side=4), elements=elements))
    out = getattr(k, op)(k.convert_to_tensor(x))
    assert k.dtype(out) == "float32" and k.shape(out) == x.shape
    # log1p near -1 and exp near 10 amplify the float32 rounding of the input itself.
    assert_close(to_numpy(k, out), fn(x.astype(np.float64)), rtol=2e-5, atol=1e-6, what=op)


def _axis_strategy(ndim):
    if ndim == 0:
        return st.just(None)
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                     hnp.valid_tuple_axes(ndim, min_size=1))


PROPERTY_REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "var": np.var, "std": np.std,
    "logsumexp": logsumexp, "prod": np.prod,
}


@PROPERTY
@given(data=st.data(), op=st.sampled_from(sorted(PROPERTY_REDUCTIONS)), keepdims=st.booleans())
def test_property_reductions(backend, data, op, keepdims):
    k = backend
    side, elements = (3, f32s(-2, 2)) if op == "prod" else (4, FLOATS)
    x = data.draw(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=side),
                             elements=elements))
    axis = data.draw(_axis_strategy(x.ndim))
    out = getattr(k, op)(k.convert_to_tensor(x), axis=axis, keepdims=keepdims)
    x64 = x.astype(np.float64)
    expected = PROPERTY_REDUCTIONS[op](x64, axis=axis, keepdims=keepdims)
    assert k.dtype(out) == "float32" and k.shape(out) == np.shape(expected)
    actual = to_numpy(k, out).astype(np.float64)
    # Rounding of float32 accumulation grows with the magnitudes summed.
    atol = 1e-6 * max(1.0, float(np.sum(x64 ** 2 if op in ("var", "std") else np.abs(x64))))
    if op == "std":  # sqrt magnifies the error of a near-zero variance: compare variances
        actual, expected = actual ** 2, expected ** 2
    assert_close(actual, expected, rtol=1e-5, atol=atol, what=f"{op} axis={axis}")


@PROPERTY
@given(data=st.data(), op=st.sampled_from(["argmax", "argmin", "any", "all", "cumsum"]))
def test_property_index_reductions(backend, data, op):
    k = backend
    x = data.draw(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                             elements=st.sampled_from([-2.0, 0.0, 1.0, 3.5])))
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    t = k.convert_to_tensor(x)
    if op == "cumsum":
        out, expected = k.cumsum(t, axis=axis), np.cumsum(x.astype(np.float64), axis=axis)
    else:
        out, expected = getattr(k, op)(t, axis=axis), getattr(np, op)(x, axis=axis)
    assert_close(to_numpy(k, out), expected, rtol=1e-6, atol=1e-6, what=f"{op} axis={axis}")
