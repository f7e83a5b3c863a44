"""``Variable``: creation dtypes, attributes, assignment, use in ops and Python arithmetic."""

import numpy as np
import pytest

from conformance_utils import TOL, assert_close, to_numpy
from highlevel.backends.protocol import InvalidArgumentError


@pytest.mark.parametrize("value, dtype, expected", [
    (np.array([1.0, 2.0]), None, "float32"),  # floating values become floatx
    (np.array([1.0, 2.0], np.float32), None, "float32"),
    ([1.5, 2.5], None, "float32"),
    (0.5, None, "float32"),
    (np.array([1, 2], np.int64), None, "int64"),
    (np.array([1, 2], np.int32), None, "int32"),
    ([1, 2], None, "int32"),
    (np.array([True, False]), None, "bool"),
    (np.array([1.0, 2.0]), "float64", "float64"),
    ([1.0, 2.0], "float16", "float16"),
    ([1.0, 2.0], "bfloat16", "bfloat16"),
    ([1, 2], "int64", "int64"),
    ([1.0, 2.0], "int32", "int32"),
], ids=lambda v: repr(v)[:20])
def test_variable_dtype(backend, value, dtype, expected):
    v = backend.Variable(value, dtype=dtype)
    assert v.dtype == expected
    assert backend.dtype(v.value) == expected
    assert_close(np.asarray(v.numpy(), np.float64), np.asarray(value, np.float64), rtol=1e-2, atol=0)


def test_variable_from_callable_initializer(backend):
    v = backend.Variable(lambda: np.full((2, 3), 0.25))
    assert v.shape == (2, 3) and v.dtype == "float32"
    assert_close(v.numpy(), np.full((2, 3), 0.25), rtol=0, atol=0)


def test_variable_from_backend_tensor(backend):
    v = backend.Variable(backend.ones((2, 2), "float64"))  # floating values become floatx
    assert v.dtype == "float32" and v.shape == (2, 2)
    w = backend.Variable(backend.ones((3,), "int64"))
    assert w.dtype == "int64" and w.shape == (3,)


def test_variable_attributes(backend):
    k = backend
    v = k.Variable(np.zeros((2, 3), np.float32), trainable=False, name="kernel")
    assert v.name == "kernel" and v.path == "kernel"
    assert v.trainable is False
    assert v.shape == (2, 3) and all(type(d) is int for d in v.shape)
    assert v.ndim == 2 and v.dtype == "float32"
    assert isinstance(v.numpy(), np.ndarray) and v.numpy().shape == (2, 3)
    assert k.is_tensor(v)
    assert k.shape(v) == (2, 3) and k.dtype(v) == "float32" and k.ndim(v) == 2 and k.size(v) == 6
    w = k.Variable(np.zeros(3, np.float32))
    assert w.trainable is True and w.name and w.name != v.name and w.path == w.name
    v.path = "dense_1/kernel"
    assert v.path == "dense_1/kernel"


def test_variables_hash_by_identity(backend):
    a, b = backend.Variable(np.zeros(2, np.float32)), backend.Variable(np.zeros(2, np.float32))
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_assign_family(backend):
    k = backend
    v = k.Variable(np.array([1.0, 2.0, 3.0], np.float32))
    v.assign(np.array([4.0, 5.0, 6.0]))  # float64 input: the variable keeps float32
    assert v.dtype == "float32"
    assert_close(v.numpy(), [4.0, 5.0, 6.0], rtol=0, atol=0)
    v.assign(k.convert_to_tensor(np.array([1.0, 1.0, 1.0], np.float32)))
    assert_close(v.numpy(), [1.0, 1.0, 1.0], rtol=0, atol=0)
    v.assign_add(np.array([0.5, 1.0, 1.5], np.float32))
    assert_close(v.numpy(), [1.5, 2.0, 2.5], rtol=0, atol=0)
    v.assign_sub(k.convert_to_tensor(np.array([1.0, 1.0, 1.0], np.float32)))
    assert_close(v.numpy(), [0.5, 1.0, 1.5], rtol=0, atol=0)
    v.assign([7.0, 8.0, 9.0])
    assert_close(v.numpy(), [7.0, 8.0, 9.0], rtol=0, atol=0)
    v.assign(k.multiply(v, 2.0))  # from an expression over itself
    assert_close(v.numpy(), [14.0, 16.0, 18.0], rtol=0, atol=0)


def test_assign_does_not_alias_source(backend):
    k = backend
    source = np.array([1.0, 2.0], np.float32)
    v = k.Variable(source)
    source[0] = 100.0
    assert_close(v.numpy(), [1.0, 2.0], rtol=0, atol=0)
    before = k.add(v, 0.0)
    v.assign([5.0, 5.0])
    assert_close(to_numpy(k, before), [1.0, 2.0], rtol=0, atol=0)


def test_int_variable_assign_add(backend):
    v = backend.Variable(np.array([1, 2], np.int32))
    v.assign_add(np.array([3, 4], np.int32))
    assert v.dtype == "int32"
    np.testing.assert_array_equal(v.numpy(), [4, 6])


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_assign_wrong_shape_raises(backend, method):
    v = backend.Variable(np.zeros((2, 3), np.float32), name="w")
    with pytest.raises(InvalidArgumentError) as info:
        getattr(v, method)(np.zeros((3, 2), np.float32))
    assert "(3, 2)" in str(info.value) and "(2, 3)" in str(info.value)
    assert_close(v.numpy(), np.zeros((2, 3)), rtol=0, atol=0)  # nothing was written


# ------------------------------------------------------------------ arithmetic

X = np.array([1.0, -2.0, 4.0], np.float32)
M = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]], np.float32)

ARITHMETIC = {
    "var + 1": (lambda k, v, t: v + 1, lambda x: x + 1),
    "1 + var": (lambda k, v, t: 1 + v, lambda x: 1 + x),
    "var + 1.5": (lambda k, v, t: v + 1.5, lambda x: x + 1.5),
    "2 * var": (lambda k, v, t: 2 * v, lambda x: 2 * x),
    "var * 2": (lambda k, v, t: v * 2, lambda x: x * 2),
    "var - 1": (lambda k, v, t: v - 1, lambda x: x - 1),
    "1 - var": (lambda k, v, t: 1 - v, lambda x: 1 - x),
    "var / 2": (lambda k, v, t: v / 2, lambda x: x / 2),
    "2 / var": (lambda k, v, t: 2 / v, lambda x: 2 / x),
    "var ** 2": (lambda k, v, t: v ** 2, lambda x: x ** 2),
    "2 ** var": (lambda k, v, t: 2.0 ** v, lambda x: 2.0 ** x),
    "-var": (lambda k, v, t: -v, lambda x: -x),
    "abs(var)": (lambda k, v, t: abs(v), np.abs),
    "ndarray + var": (lambda k, v, t: np.ones(3, np.float32) + v, lambda x: 1 + x),
    "ndarray * var": (lambda k, v, t: np.full(3, 3.0, np.float32) * v, lambda x: 3 * x),
    "var - ndarray": (lambda k, v, t: v - np.ones(3, np.float32), lambda x: x - 1),
    "ndarray - var": (lambda k, v, t: np.ones(3, np.float32) - v, lambda x: 1 - x),
    "tensor + var": (lambda k, v, t: t + v, lambda x: x + x),
    "var * tensor": (lambda k, v, t: v * t, lambda x: x * x),
    "tensor - var": (lambda k, v, t: (t * 2.0) - v, lambda x: x),
    "var + var": (lambda k, v, t: v + v, lambda x: 2 * x),
    "var @ matrix": (lambda k, v, t: v @ k.convert_to_tensor(M), lambda x: x @ M),
    "matrix.T @ var": (lambda k, v, t: k.convert_to_tensor(M.T) @ v, lambda x: M.T @ x),
    "var @ ndarray": (lambda k, v, t: v @ M, lambda x: x @ M),
    "var[1:]": (lambda k, v, t: v[1:], lambda x: x[1:]),
    "var > 0": (lambda k, v, t: v > 0, lambda x: x > 0),
    "var <= tensor": (lambda k, v, t: v <= t, lambda x: x <= x),
    "exp(var)": (lambda k, v, t: k.exp(v), np.exp),
    "concatenate([var, tensor])": (lambda k, v, t: k.concatenate([v, t]), lambda x: np.concatenate([x, x])),
    "reshape(var)": (lambda k, v, t: k.reshape(v, (3, 1)), lambda x: x.reshape(3, 1)),
}


@pytest.mark.parametrize("name", list(ARITHMETIC))
def test_variable_arithmetic(backend, name):
    k = backend
    v = k.Variable(X)
    t = k.convert_to_tensor(X)
    fn, expected = ARITHMETIC[name]
    result = fn(k, v, t)
    assert k.is_tensor(result), type(result)
    assert np.asarray(to_numpy(k, result)).dtype != object  # not a NumPy object array of Variables
    assert_close(to_numpy(k, result), expected(X.astype(np.float64)), **TOL, what=name)


def test_variable_equality_is_identity(backend):
    v = backend.Variable(X)
    w = backend.Variable(X)
    assert (v == v) is True and (v == w) is False and (v != w) is True


def test_variable_python_conversions(backend):
    v = backend.Variable(np.float32(2.5))
    assert float(v) == 2.5 and int(backend.Variable(np.int32(3))) == 3
    assert len(backend.Variable(X)) == 3
    assert_close(np.asarray(backend.Variable(X)), X, rtol=0, atol=0)
