"""Forward values of every op of the table against independent NumPy expressions.

Each case runs twice: with backend tensors as inputs and with the raw NumPy arrays
(ops must accept both). Results must be backend tensors of the contract's dtype
and shape, within the case's tolerance of the float64 NumPy value.
"""

import numpy as np
import pytest

from conformance_utils import assert_close, map_arrays, to_numpy
from op_table import CASES, expected_of


def call(k, case, tensors=True):
    args = case.args
    if tensors and case.convert:
        args = [map_arrays(k.convert_to_tensor, a) for a in args]
    return getattr(k, case.op)(*args, **case.kwargs)


def check_tensor(k, result, expected, dtype, case, what):
    assert k.is_tensor(result), f"{what}: expected a {k.name} tensor, got {type(result).__name__}"
    assert k.dtype(result) == dtype, f"{what}: dtype {k.dtype(result)}, expected {dtype}"
    shape = k.shape(result)
    assert isinstance(shape, tuple) and all(type(d) is int for d in shape), f"{what}: shape {shape!r}"
    assert_close(to_numpy(k, result), expected, case.rtol, case.atol, what)


def check_result(k, case, result):
    expected = expected_of(case.id)
    if case.out == "python":
        assert type(result) is type(expected), f"{case.id}: {type(result).__name__}, expected {type(expected).__name__}"
        assert result == expected
        if isinstance(result, tuple):
            assert all(type(d) is int for d in result), f"{case.id}: shape entries must be Python ints: {result!r}"
    elif case.out == "numpy":
        assert isinstance(result, np.ndarray), f"{case.id}: expected an np.ndarray, got {type(result).__name__}"
        assert result.dtype.name == case.dtype
        assert_close(result, expected, case.rtol, case.atol, case.id)
    elif isinstance(case.dtype, tuple):
        assert isinstance(result, (list, tuple)), f"{case.id}: expected a list/tuple of tensors"
        assert len(result) == len(expected) == len(case.dtype)
        for i, (r, e, d) in enumerate(zip(result, expected, case.dtype)):
            check_tensor(k, r, e, d, case, f"{case.id}[{i}]")
    else:
        check_tensor(k, result, expected, case.dtype, case, case.id)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_forward(backend, case):
    check_result(backend, case, call(backend, case))


NUMPY_INPUT_CASES = [c for c in CASES if c.convert and c.out != "python" and c.leaves()]


@pytest.mark.parametrize("case", NUMPY_INPUT_CASES, ids=lambda c: c.id)
def test_forward_numpy_inputs(backend, case):
    check_result(backend, case, call(backend, case, tensors=False))


def test_is_tensor_of_foreign_values(backend):
    k = backend
    t = k.convert_to_tensor(np.zeros(2, np.float32))
    assert k.is_tensor(t) is True
    assert k.is_tensor(k.Variable(np.zeros(2, np.float32))) is True
    # A NumPy array is a tensor only for a backend whose tensors are NumPy arrays.
    assert k.is_tensor(np.zeros(2, np.float32)) is isinstance(t, np.ndarray)
    assert k.is_tensor(1.5) is False and k.is_tensor([1.0]) is False


NON_CONTIGUOUS = {
    "transposed": lambda a: a.T,
    "flipped": lambda a: np.flip(a, axis=0),
    "strided": lambda a: a[:, ::2],
    "broadcast_view": lambda a: np.broadcast_to(a[:1], a.shape),
}


@pytest.mark.parametrize("layout", list(NON_CONTIGUOUS))
def test_non_contiguous_numpy_inputs(backend, layout):
    """Views with odd strides (negative, zero, transposed) are valid NumPy inputs."""
    k = backend
    a = NON_CONTIGUOUS[layout](np.arange(24, dtype=np.float32).reshape(4, 6) / 7)
    expected = np.asarray(a, np.float64)
    for result, value in ((k.convert_to_tensor(a), expected), (k.exp(a), np.exp(expected)),
                          (k.matmul(a, np.ascontiguousarray(a.T)), expected @ expected.T),
                          (k.Variable(a).value, expected)):
        assert_close(to_numpy(k, result), value, rtol=1e-5, atol=1e-6, what=layout)


@pytest.mark.parametrize("op, args, dtype, expected", [
    ("exp", (1.0,), "float32", np.e),
    ("add", (1, 2), "int32", 3),
    ("add", (1.5, 2), "float32", 3.5),
    ("multiply", (True, False), "bool", False),
    ("maximum", ([1.0, 5.0], [3.0, 2.0]), "float32", [3.0, 5.0]),
    ("sum", ([[1, 2], [3, 4]],), "int32", 10),
    ("matmul", ([[1.0, 2.0]], [[3.0], [4.0]]), "float32", [[11.0]]),
    ("sqrt", (4,), "float32", 2.0),
])
def test_python_values_as_inputs(backend, op, args, dtype, expected):
    k = backend
    out = getattr(k, op)(*args)
    assert k.is_tensor(out) and k.dtype(out) == dtype
    assert_close(to_numpy(k, out), np.asarray(expected, np.float64), rtol=1e-6, atol=1e-6)
