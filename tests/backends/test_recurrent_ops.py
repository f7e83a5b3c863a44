"""The fused recurrent ops ``lstm`` and ``gru`` against NumPy loops written here.

They sit outside the op table (``op_table.RECURRENT_OPS``): each case runs the backend's
own op (torch: ``_VF.lstm``/``_VF.gru``) and the protocol's composite (the step-by-step
recurrence) built on the backend, and compares with a float64 NumPy computation of the
textbook equations in Keras's layout: forward values, gradients of every float argument
(against central finite differences of that NumPy computation), compiled, and bad input.
"""

import numpy as np
import pytest

from conformance_utils import rng_for
from highlevel.backends import build_composite
from highlevel.backends.protocol import InvalidArgumentError

BATCH, STEPS, FEATURES, UNITS = 3, 4, 5, 2


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_lstm(x, h, c, kernel, recurrent_kernel, bias=None, go_backwards=False):
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outputs = []
    u = h.shape[1]
    for t in steps:
        z = x[:, t] @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        i, f, g, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), h, c


def np_gru(x, h, kernel, recurrent_kernel, bias=None, go_backwards=False):
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    u = h.shape[1]
    b_in, b_rec = (0, 0) if bias is None else (bias[0], bias[1])
    outputs = []
    for t in steps:
        xw = x[:, t] @ kernel + b_in
        hw = h @ recurrent_kernel + b_rec
        z = sigmoid(xw[:, :u] + hw[:, :u])
        r = sigmoid(xw[:, u:2 * u] + hw[:, u:2 * u])
        candidate = np.tanh(xw[:, 2 * u:] + r * hw[:, 2 * u:])
        h = z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, 1), h


def make_args(op, with_bias, key):
    rng = rng_for(f"{op}-{with_bias}-{key}")
    gates = 4 if op == "lstm" else 3
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    states = [rng.normal(size=(BATCH, UNITS)).astype(np.float32) * 0.5 for _ in range(2 if op == "lstm" else 1)]
    kernel = rng.normal(size=(FEATURES, gates * UNITS)).astype(np.float32) * 0.5
    recurrent = rng.normal(size=(UNITS, gates * UNITS)).astype(np.float32) * 0.5
    bias = None
    if with_bias:
        shape = (4 * UNITS,) if op == "lstm" else (2, 3 * UNITS)
        bias = rng.normal(size=shape).astype(np.float32) * 0.5
    return [x, *states, kernel, recurrent, bias]


REFERENCE = {"lstm": np_lstm, "gru": np_gru}
CASES = [(op, with_bias, go_backwards) for op in ("lstm", "gru") for with_bias in (True, False)
         for go_backwards in (False, True)]
IDS = [f"{op}-{'bias' if b else 'nobias'}-{'backwards' if g else 'forwards'}" for op, b, g in CASES]


@pytest.fixture(params=["native", "composite"])
def impl(request, backend):
    if request.param == "native":
        return lambda name: getattr(backend, name)
    return lambda name: build_composite(backend, name)


def as_numpy(backend, values):
    return [np.asarray(backend.convert_to_numpy(v)) for v in values]


@pytest.mark.parametrize("op, with_bias, go_backwards", CASES, ids=IDS)
def test_forward_matches_numpy(backend, impl, op, with_bias, go_backwards):
    args = make_args(op, with_bias, "forward")
    expected = REFERENCE[op](*[None if a is None else a.astype(np.float64) for a in args], go_backwards=go_backwards)
    tensors = [None if a is None else backend.convert_to_tensor(a) for a in args]
    result = impl(op)(*tensors, go_backwards=go_backwards)
    assert len(result) == len(expected)
    for got, want in zip(as_numpy(backend, result), expected):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def numeric_gradients(fn, args, eps=1e-6):
    """Central differences of scalar ``fn(*args)`` (float64) for every non-None argument."""
    grads = []
    for index, a in enumerate(args):
        if a is None:
            grads.append(None)
            continue
        g = np.zeros_like(a)
        for position in np.ndindex(a.shape):
            plus = [b.copy() if b is not None else None for b in args]
            minus = [b.copy() if b is not None else None for b in args]
            plus[index][position] += eps
            minus[index][position] -= eps
            g[position] = (fn(*plus) - fn(*minus)) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("op, with_bias, go_backwards", CASES, ids=IDS)
def test_gradients_match_finite_differences(backend, impl, op, with_bias, go_backwards, compiled):
    args = make_args(op, with_bias, "grad")
    rng = rng_for(f"{op}-cotangents")
    outputs = REFERENCE[op](*[None if a is None else a.astype(np.float64) for a in args])
    cotangents = [rng.uniform(-1, 1, o.shape) for o in outputs]

    def objective_np(*values):
        outs = REFERENCE[op](*values, go_backwards=go_backwards)
        return sum(float(np.sum(o * c)) for o, c in zip(outs, cotangents))

    expected = numeric_gradients(objective_np, [None if a is None else a.astype(np.float64) for a in args])
    variables = [None if a is None else backend.Variable(a) for a in args]
    watched = [v for v in variables if v is not None]
    fn = impl(op)
    cots = [backend.convert_to_tensor(c.astype(np.float32)) for c in cotangents]

    def objective():
        outs = fn(*variables, go_backwards=go_backwards)
        total = None
        for o, c in zip(outs, cots):
            term = backend.sum(backend.multiply(o, c))
            total = term if total is None else backend.add(total, term)
        return total

    run = (lambda: backend.value_and_grad(objective, watched))
    value, grads = backend.compile_function(run)() if compiled else run()
    np.testing.assert_allclose(float(backend.convert_to_numpy(value)), objective_np(
        *[None if a is None else a.astype(np.float64) for a in args]), rtol=1e-5, atol=1e-5)
    for i, (g, want) in enumerate(zip(grads, [e for e in expected if e is not None])):
        np.testing.assert_allclose(np.asarray(backend.convert_to_numpy(g)), want, rtol=1e-4, atol=1e-5,
                                   err_msg=f"{op}: gradient of argument {i}")


def test_single_step_and_batch_of_one(backend, impl):
    rng = rng_for("single")
    x = rng.normal(size=(1, 1, 3)).astype(np.float32)
    h = np.zeros((1, 2), np.float32)
    kernel = rng.normal(size=(3, 8)).astype(np.float32)
    recurrent = rng.normal(size=(2, 8)).astype(np.float32)
    outputs, last_h, last_c = as_numpy(backend, impl("lstm")(x, h, h, kernel, recurrent))
    want = np_lstm(x.astype(np.float64), h, h, kernel, recurrent)
    np.testing.assert_allclose(outputs, want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last_c, want[2], rtol=1e-5, atol=1e-6)


BAD = [
    ("lstm", "rank2_inputs", lambda a: [a[0][:, 0]] + a[1:], "rank 3"),
    ("lstm", "kernel_rows", lambda a: a[:3] + [a[3][:-1]] + a[4:], "kernel must have shape"),
    ("lstm", "recurrent_not_4u", lambda a: a[:4] + [a[4][:, :-1]] + a[5:], "recurrent_kernel"),
    ("lstm", "bias_size", lambda a: a[:5] + [a[5][:-1]], "bias must have shape"),
    ("lstm", "state_units", lambda a: [a[0], a[1][:, :1]] + a[2:], "initial state 0"),
    ("lstm", "state_batch", lambda a: [a[0], a[1], a[2][:1]] + a[3:], "initial state 1"),
    ("gru", "bias_rank1", lambda a: a[:4] + [a[4][0]], "bias must have shape"),
    ("gru", "zero_steps", lambda a: [a[0][:, :0]] + a[1:], "steps >= 1"),
]


@pytest.mark.parametrize("op, variant, change, shows", BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_bad_input_raises_invalid_argument(backend, impl, op, variant, change, shows):
    args = change(make_args(op, True, "bad"))
    with pytest.raises(InvalidArgumentError, match=shows) as info:
        impl(op)(*args)
    assert str(info.value).startswith(op)
