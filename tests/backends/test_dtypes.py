"""Every dtype of the contract is accepted by creation, conversion and cast, and
float16/bfloat16/float64/int32/int64/bool flow through basic math keeping their dtype."""

import ml_dtypes
import numpy as np
import pytest

from conformance_utils import assert_close, to_numpy
from highlevel.backends import protocol
from highlevel.backends.protocol import InvalidArgumentError

#: The dtypes models use; the others of protocol.DTYPES get creation/cast checks only.
MAIN = ("float16", "bfloat16", "float32", "float64", "int32", "int64", "bool")
NUMPY_DTYPE = {name: (ml_dtypes.bfloat16 if name == "bfloat16" else np.dtype(name)) for name in protocol.DTYPES}
VALUES = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 1.0]])  # exact in every dtype


def _values(dtype):
    return VALUES.astype(bool) if dtype == "bool" else VALUES


@pytest.mark.parametrize("dtype", protocol.DTYPES)
def test_creation_accepts_dtype(backend, dtype):
    k = backend
    expected_one = True if dtype == "bool" else 1
    for x, fill in ((k.zeros((2, 3), dtype), 0), (k.ones((2, 3), dtype=dtype), expected_one),
                    (k.full((2, 3), expected_one, dtype), expected_one)):
        assert k.dtype(x) == dtype and k.shape(x) == (2, 3)
        assert_close(np.asarray(to_numpy(k, x), np.float64), np.full((2, 3), float(fill)), rtol=0, atol=0)
    assert k.dtype(k.zeros_like(k.ones((2,)), dtype=dtype)) == dtype
    assert k.dtype(k.eye(2, dtype=dtype)) == dtype


@pytest.mark.parametrize("dtype", protocol.DTYPES)
def test_cast_to_and_from_dtype(backend, dtype):
    k = backend
    source = k.convert_to_tensor(VALUES.astype(np.float32))
    x = k.cast(source, dtype)
    assert k.dtype(x) == dtype
    assert_close(np.asarray(to_numpy(k, x), np.float64), _values(dtype).astype(np.float64), rtol=0, atol=0)
    back = k.cast(x, "float32")
    assert k.dtype(back) == "float32"
    assert_close(to_numpy(k, back), _values(dtype).astype(np.float64), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", protocol.DTYPES)
def test_convert_to_tensor_keeps_numpy_dtype(backend, dtype):
    k = backend
    array = _values(dtype).astype(NUMPY_DTYPE[dtype])
    x = k.convert_to_tensor(array)
    assert k.dtype(x) == dtype
    assert_close(np.asarray(to_numpy(k, x), np.float64), array.astype(np.float64), rtol=0, atol=0)
    # convert_to_tensor(dtype=...) converts.
    assert k.dtype(k.convert_to_tensor(VALUES, dtype=dtype)) == dtype


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_float_math_keeps_dtype(backend, dtype):
    k = backend
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 2.0, (3, 4))
    b = rng.uniform(0.5, 2.0, (4, 2))
    ta, tb = k.cast(k.convert_to_tensor(a), dtype), k.cast(k.convert_to_tensor(b), dtype)
    a, b = (np.asarray(to_numpy(k, t), np.float64) for t in (ta, tb))  # the values the dtype holds
    tol = {"float16": 5e-3, "bfloat16": 3e-2}.get(dtype, 1e-5)
    results = {
        "add": (k.add(ta, ta), a + a),
        "multiply": (k.multiply(ta, 2.0), a * 2),
        "exp": (k.exp(ta), np.exp(a)),
        "sum": (k.sum(ta, axis=1), a.sum(1)),
        "mean": (k.mean(ta), a.mean()),
        "matmul": (k.matmul(ta, tb), a @ b),
        "softmax": (k.softmax(ta), np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
        "relu": (k.relu(k.subtract(ta, 1.0)), np.maximum(a - 1, 0)),
    }
    for name, (out, expected) in results.items():
        assert k.dtype(out) == dtype, f"{name}: dtype {k.dtype(out)}, expected {dtype}"
        assert_close(np.asarray(to_numpy(k, out), np.float64), expected, rtol=tol, atol=tol, what=name)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_math_keeps_dtype(backend, dtype):
    k = backend
    a = np.array([[1, -2, 3], [4, 5, -6]], dtype)
    t = k.convert_to_tensor(a)
    for name, out, expected in (("add", k.add(t, t), a + a), ("multiply", k.multiply(t, 3), a * 3),
                                ("sum", k.sum(t, axis=0), a.sum(0)), ("max", k.max(t), a.max()),
                                ("abs", k.abs(t), np.abs(a)), ("matmul", k.matmul(t, k.transpose(t)), a @ a.T)):
        assert k.dtype(out) == dtype, f"{name}: dtype {k.dtype(out)}"
        np.testing.assert_array_equal(to_numpy(k, out), expected)


def test_bool_ops(backend):
    k = backend
    a = np.array([True, False, True])
    t = k.convert_to_tensor(a)
    assert k.dtype(t) == "bool"
    assert k.dtype(k.logical_not(t)) == "bool"
    assert k.dtype(k.sum(t)) == "int32" and int(to_numpy(k, k.sum(t))) == 2
    assert k.dtype(k.cast(t, "float32")) == "float32"
    np.testing.assert_array_equal(to_numpy(k, k.where(t, 1, 0)), [1, 0, 1])


@pytest.mark.parametrize("alias, name", [("float", "float32"), ("double", "float64"), ("half", "float16"),
                                         ("int", "int32"), (np.dtype("float64"), "float64"),
                                         (np.dtype("int64"), "int64")])
def test_dtype_aliases(backend, alias, name):
    assert protocol.standardize_dtype(alias) == name
    assert backend.dtype(backend.zeros((1,), protocol.standardize_dtype(alias))) == name


@pytest.mark.parametrize("bad", ["float8", "complex64", "string", "int4", "uint128"])
def test_unknown_dtype_strings_raise(backend, bad):
    for make in (lambda: backend.zeros((2,), bad), lambda: backend.cast(backend.ones((2,)), bad),
                 lambda: backend.convert_to_tensor([1.0], dtype=bad)):
        with pytest.raises(InvalidArgumentError, match=bad):
            make()
