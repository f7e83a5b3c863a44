"""Ops and gradients inside ``compile_function``, as the trainer runs them.

A compiled function must behave as the plain one: same values, same dtypes, same
``InvalidArgumentError`` for bad input, current variable values. One case per op
runs compiled (tracing is slow on graph engines), and gradients for the ops that
training steps use most.
"""

import numpy as np
import pytest

from conformance_utils import assert_close, to_numpy
from highlevel.backends.protocol import InvalidArgumentError
from op_table import CASES, grad_cases
from test_forward import check_result
from test_gradients import gradients, grad_tolerance


def _first_per_op(cases):
    seen, picked = set(), []
    for case in cases:
        if case.op not in seen:
            seen.add(case.op)
            picked.append(case)
    return picked


FORWARD = _first_per_op(c for c in CASES if c.out == "tensor" and c.convert and c.leaves())
TRAINING_OPS = {
    "conv", "depthwise_conv", "conv_transpose", "max_pool", "average_pool", "batch_normalization", "moments",
    "softmax", "log_softmax", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "relu", "gelu", "sigmoid", "tanh", "matmul", "einsum", "sum", "mean", "max", "take", "concatenate", "reshape",
    "transpose", "getitem", "where", "clip", "logsumexp", "var", "sqrt", "top_k", "split", "pad",
}
GRADIENTS = _first_per_op(c for c in grad_cases() if c.op in TRAINING_OPS)


@pytest.mark.parametrize("case", FORWARD, ids=lambda c: c.id)
def test_compiled_forward(backend, case):
    k = backend
    arrays = [(i, a) for i, a in enumerate(case.args) if isinstance(a, np.ndarray) or
              (isinstance(a, list) and a and all(isinstance(e, np.ndarray) for e in a))]
    positions = [i for i, _ in arrays]

    def fn(*tensors):
        args = list(case.args)
        for i, t in zip(positions, tensors):
            args[i] = t
        return getattr(k, case.op)(*args, **case.kwargs)

    inputs = [[k.convert_to_tensor(e) for e in a] if isinstance(a, list) else k.convert_to_tensor(a)
              for _, a in arrays]
    check_result(k, case, k.compile_function(fn)(*inputs))


@pytest.mark.parametrize("case", GRADIENTS, ids=lambda c: c.id)
def test_compiled_gradient_matches_reference(backend, ref, case):
    _, grads, variables = gradients(backend, case, "float32", compiled=True)
    _, ref_grads, _ = gradients(ref, case, "float64")
    for i, (g, v, rg) in enumerate(zip(grads, variables, ref_grads)):
        assert backend.dtype(g) == "float32" and backend.shape(g) == v.shape
        assert_close(to_numpy(backend, g), to_numpy(ref, rg), what=f"{case.id}: gradient {i}", **grad_tolerance(case))


def test_compiled_function_reads_current_variable_values(backend):
    k = backend
    v = k.Variable(np.array([1.0, 2.0], np.float32))
    compiled = k.compile_function(lambda x: k.multiply(v, x))
    x = k.convert_to_tensor(np.array([3.0, 3.0], np.float32))
    assert_close(to_numpy(k, compiled(x)), [3.0, 6.0], rtol=0, atol=0)
    v.assign(np.array([-1.0, 0.5], np.float32))
    assert_close(to_numpy(k, compiled(x)), [-3.0, 1.5], rtol=0, atol=0)


def test_compiled_assign_is_visible_outside(backend):
    k = backend
    v = k.Variable(np.zeros(3, np.float32))

    def add(delta):
        v.assign_add(delta)

    step = k.compile_function(add)
    for _ in range(3):
        step(k.convert_to_tensor(np.ones(3, np.float32)))
    assert_close(v.numpy(), [3.0, 3.0, 3.0], rtol=0, atol=0)


@pytest.mark.parametrize("name, fn, args", [
    ("matmul", lambda k: (lambda x, y: k.matmul(x, y)), (np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32))),
    ("take", lambda k: (lambda x, i: k.take(x, i, axis=0)), (np.zeros((3, 4), np.float32), np.array([0, 7], np.int32))),
    ("sparse_categorical_crossentropy",
     lambda k: (lambda t, o: k.sparse_categorical_crossentropy(t, o)), (np.array([0, 5], np.int32),
                                                                         np.full((2, 3), 1 / 3, np.float32))),
    ("add", lambda k: (lambda x, y: k.add(x, y)), (np.zeros((2, 3), np.float32), np.zeros((4,), np.float32))),
], ids=lambda v: v if isinstance(v, str) else "")
def test_compiled_bad_input_raises_invalid_argument(backend, name, fn, args):
    k = backend
    compiled = k.compile_function(fn(k))
    with pytest.raises(InvalidArgumentError, match=name):
        out = compiled(*[k.convert_to_tensor(a) for a in args])
        k.convert_to_numpy(out)
