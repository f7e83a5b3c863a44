"""A backend's own ``lstm``/``gru``/``adam_update``/``sgd_update`` against the protocol's composites.

The NumPy backend replaces those composites with native kernels (``backends/numpy/recurrent.py``:
a hand-written backward pass through time; ``backends/numpy/optimizers.py``: in-place updates).
Here each native op meets the composite the loader builds on the same backend
(``build_composite``):

* recurrent ops, in float64: outputs and the gradients of every argument (with bias or
  without, forwards and backwards), with cotangents on only some outputs, with untraced
  arguments and a traced input computed from a variable; the gradients also against
  central finite differences of the native op itself (so the BPTT is checked against
  its own forward); inference (untraced) and training (traced) forwards agree; mixed
  dtypes (which NumPy hands to the composite);
* optimizer steps (NumPy only, where the native op keeps the composite's arithmetic):
  several steps must leave variables and slots bitwise equal to the composite's.

The recurrent checks run on every backend (torch: its fused ``_VF`` kernels).
"""

import numpy as np
import pytest

from conformance_utils import rng_for
from highlevel.backends import build_composite

B, T, F, U = 2, 3, 3, 2


def recurrent_args(op, with_bias, key, dtype="float64", steps=T):
    rng = rng_for(f"native-{op}-{with_bias}-{key}")
    gates = 4 if op == "lstm" else 3
    args = [rng.normal(size=(B, steps, F))]
    args += [rng.normal(size=(B, U)) * 0.5 for _ in range(2 if op == "lstm" else 1)]
    args += [rng.normal(size=(F, gates * U)) * 0.7, rng.normal(size=(U, gates * U)) * 0.7]
    bias = None
    if with_bias:
        bias = rng.normal(size=(4 * U,) if op == "lstm" else (2, 3 * U)) * 0.5
    return [a.astype(dtype) for a in args] + [None if bias is None else bias.astype(dtype)]


def both(backend, op):
    return {"native": getattr(backend, op), "composite": build_composite(backend, op)}


def to_numpy(backend, values):
    return [np.asarray(backend.convert_to_numpy(v)) for v in values]


def weighted_sum(backend, outputs, cotangents, used):
    """``sum_k <outputs[k], cotangents[k]>`` over the outputs in ``used``."""
    total = None
    for k in used:
        term = backend.sum(backend.multiply(outputs[k], backend.convert_to_tensor(cotangents[k])))
        total = term if total is None else backend.add(total, term)
    return total


def gradients(backend, fn, args, go_backwards, cotangents, used):
    """``(value, grads)`` of the weighted sum of fn's outputs w.r.t. every non-None argument."""
    variables = [None if a is None else backend.Variable(a, dtype=str(a.dtype)) for a in args]
    watched = [v for v in variables if v is not None]
    value, grads = backend.value_and_grad(
        lambda: weighted_sum(backend, fn(*variables, go_backwards=go_backwards), cotangents, used), watched)
    return float(backend.convert_to_numpy(value)), to_numpy(backend, grads)


CASES = [(op, with_bias, go_backwards) for op in ("lstm", "gru") for with_bias in (True, False)
         for go_backwards in (False, True)]
IDS = [f"{op}-{'bias' if b else 'nobias'}-{'backwards' if g else 'forwards'}" for op, b, g in CASES]


@pytest.mark.parametrize("op, with_bias, go_backwards", CASES, ids=IDS)
def test_recurrent_native_matches_composite_float64(backend, op, with_bias, go_backwards):
    args = recurrent_args(op, with_bias, "values")
    ops = both(backend, op)
    results = {name: to_numpy(backend, fn(*args, go_backwards=go_backwards)) for name, fn in ops.items()}
    for got, want in zip(results["native"], results["composite"]):
        assert got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    rng = rng_for(f"native-{op}-cotangents")
    cotangents = [rng.uniform(-1, 1, r.shape) for r in results["native"]]
    used = range(len(cotangents))
    value, grads = gradients(backend, ops["native"], args, go_backwards, cotangents, used)
    want_value, want_grads = gradients(backend, ops["composite"], args, go_backwards, cotangents, used)
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    for i, (got, want) in enumerate(zip(grads, want_grads)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"{op}: gradient of argument {i}")


def finite_differences(fn, args, eps=1e-6):
    """Central differences of scalar ``fn(args)`` for every entry of every non-None argument."""
    grads = []
    for index, a in enumerate(args):
        if a is None:
            continue
        g = np.zeros_like(a)
        for position in np.ndindex(a.shape):
            shifted = []
            for sign in (1, -1):
                changed = [b if b is None else b.copy() for b in args]
                changed[index][position] += sign * eps
                shifted.append(fn(changed))
            g[position] = (shifted[0] - shifted[1]) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("op, with_bias, go_backwards", [CASES[0], CASES[3], CASES[4], CASES[7]],
                         ids=[IDS[0], IDS[3], IDS[4], IDS[7]])
def test_recurrent_native_gradients_match_finite_differences(backend, op, with_bias, go_backwards):
    args = recurrent_args(op, with_bias, "fd")
    native = getattr(backend, op)
    rng = rng_for(f"native-{op}-fd-cotangents")
    cotangents = [rng.uniform(-1, 1, r.shape) for r in to_numpy(backend, native(*args))]

    def objective(values):
        outputs = to_numpy(backend, native(*values, go_backwards=go_backwards))
        return sum(float(np.sum(o * c)) for o, c in zip(outputs, cotangents))

    _, grads = gradients(backend, native, args, go_backwards, cotangents, range(len(cotangents)))
    for i, (got, want) in enumerate(zip(grads, finite_differences(objective, args))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8, err_msg=f"{op}: gradient of argument {i}")


@pytest.mark.parametrize("op", ["lstm", "gru"])
@pytest.mark.parametrize("used", [(0,), (1,), (-1,), (0, 1)], ids=["sequence", "last_h", "last_state", "two"])
def test_recurrent_gradients_with_some_outputs(backend, op, used):
    """Outputs without a cotangent contribute nothing; an output used twice adds up."""
    args = recurrent_args(op, True, "partial")
    ops = both(backend, op)
    rng = rng_for(f"native-{op}-partial")
    outputs = to_numpy(backend, ops["native"](*args))
    cotangents = [rng.uniform(-1, 1, o.shape) for o in outputs]
    used = [u % len(outputs) for u in used]
    twice = used + used[:1]  # the first output enters the loss twice
    value, grads = gradients(backend, ops["native"], args, True, cotangents, twice)
    want_value, want_grads = gradients(backend, ops["composite"], args, True, cotangents, twice)
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    for i, (got, want) in enumerate(zip(grads, want_grads)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"{op}: gradient of argument {i}")


@pytest.mark.parametrize("op", ["lstm", "gru"])
def test_recurrent_gradients_through_a_traced_input_and_constants(backend, op):
    """Inputs computed from a variable get their gradient through the op; plain-array
    arguments (the states here) stay constants."""
    args = recurrent_args(op, True, "traced")
    states = 2 if op == "lstm" else 1
    cotangents = [rng_for(f"native-{op}-traced-cot").uniform(-1, 1, (B, T, U))]
    results = {}
    for name, fn in both(backend, op).items():
        source = backend.Variable(args[0] * 0.5, dtype="float64")
        kernel = backend.Variable(args[1 + states], dtype="float64")
        rest = [backend.convert_to_tensor(a) if a is not None else None for a in args[2 + states:]]
        states_in = [backend.convert_to_tensor(s) for s in args[1:1 + states]]

        def loss():
            outputs = fn(backend.multiply(source, 2.0), *states_in, kernel, *rest)
            return weighted_sum(backend, outputs, cotangents, [0])

        value, grads = backend.value_and_grad(loss, [source, kernel])
        results[name] = (float(backend.convert_to_numpy(value)), to_numpy(backend, grads))
    (value, grads), (want_value, want_grads) = results["native"], results["composite"]
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    for g, w in zip(grads, want_grads):
        assert g.shape == w.shape and np.any(g != 0)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 2, 5])
@pytest.mark.parametrize("op", ["lstm", "gru"])
def test_recurrent_untraced_and_traced_forwards_agree(backend, op, steps):
    """Outside value_and_grad NumPy reuses per-step buffers; the outputs must not change
    (torch: its inference and training kernels differ in the last bits)."""
    args = recurrent_args(op, True, "untraced", steps=steps)
    ops = both(backend, op)
    plain = to_numpy(backend, ops["native"](*args, go_backwards=steps == 5))
    variables = [backend.Variable(a, dtype="float64") for a in args]
    captured = []

    def loss():
        outputs = ops["native"](*variables, go_backwards=steps == 5)
        captured.extend(to_numpy(backend, [backend.stop_gradient(o) for o in outputs]))
        return backend.sum(outputs[0])

    backend.value_and_grad(loss, variables)
    want = to_numpy(backend, ops["composite"](*args, go_backwards=steps == 5))
    for got, traced, expected in zip(plain, captured, want):
        np.testing.assert_allclose(got, traced, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", ["lstm", "gru"])
def test_recurrent_mixed_dtypes_match_composite(backend, op):
    """float64 inputs with float32 weights promote as the composite does."""
    args = recurrent_args(op, True, "mixed", dtype="float32")
    args[0] = args[0].astype(np.float64)
    ops = both(backend, op)
    got, want = (to_numpy(backend, ops[name](*args)) for name in ("native", "composite"))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- NumPy only


def require_numpy(backend):
    if backend.name != "numpy":
        pytest.skip("the bitwise and no-tape guarantees are the NumPy backend's (torch's kernels round "
                    "differently; TensorFlow runs the composites)")


@pytest.mark.parametrize("op", ["lstm", "gru"])
def test_numpy_recurrent_records_nothing_outside_value_and_grad(backend, op):
    require_numpy(backend)
    results = getattr(backend, op)(*recurrent_args(op, True, "plain", dtype="float32"))
    assert all(type(r) is np.ndarray and r.dtype == np.float32 for r in results)


SHAPES = [(4, 3), (3,), ()]
ADAM = {
    "defaults": {},
    "betas_epsilon": dict(beta_1=0.8, beta_2=0.99, epsilon=1e-3),
    "amsgrad": dict(amsgrad=True),
    "masked_decay": dict(amsgrad=True, weight_decay=0.2, decay_mask=[True, False, True]),
    "python_float_rate": dict(python_rate=True),
}
SGD = {
    "plain": {},
    "plain_decay": dict(weight_decay=0.1),
    "momentum": dict(momentum=0.9, momentums=True),
    "nesterov_masked_decay": dict(momentum=0.8, nesterov=True, weight_decay=0.05, decay_mask=[False, True, True],
                                  momentums=True),
    "momentum_decay": dict(momentum=0.5, weight_decay=0.1, momentums=True),
}


def optimizer_problem(key, dtype="float32"):
    rng = rng_for(f"native-opt-{key}")
    init = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    grads = [[(rng.normal(size=s) * (2.0 if k % 2 else 0.3)).astype(dtype) for s in SHAPES] for k in range(4)]
    return init, grads


def fresh(backend, arrays, zero=False):
    return [backend.Variable(np.zeros_like(a) if zero else a, dtype=str(a.dtype)) for a in arrays]


def run_adam(backend, fn, init, grads, config):
    config = dict(config)
    amsgrad, python_rate = config.pop("amsgrad", False), config.pop("python_rate", False)
    w, m, v = fresh(backend, init), fresh(backend, init, True), fresh(backend, init, True)
    v_hat = fresh(backend, init, True) if amsgrad else None
    rate = backend.Variable(np.float32(0.05))
    for step, g in enumerate(grads, start=1):
        rate.assign(np.float32(0.05 / step))
        fn(w, g, m, v, v_hat, 0.05 / step if python_rate else rate, step, **config)
    return [to_numpy(backend, slot) for slot in (w, m, v, v_hat or [])]


def run_sgd(backend, fn, init, grads, config):
    config = dict(config)
    momentums = fresh(backend, init, True) if config.pop("momentums", False) else None
    w = fresh(backend, init)
    rate = backend.Variable(np.float32(0.1))
    for step, g in enumerate(grads, start=1):
        rate.assign(np.float32(0.1 / step))
        fn(w, g, momentums, rate, **config)
    return [to_numpy(backend, slot) for slot in (w, momentums or [])]


def native_only(monkeypatch):
    """Make the NumPy native optimizer ops fail instead of falling back to the composite."""
    from highlevel.backends.numpy import optimizers

    def refuse(*args, **kwargs):
        raise AssertionError("the native op fell back to the composite")

    monkeypatch.setattr(optimizers, "_FALLBACK", {"adam_update": refuse, "sgd_update": refuse})


def assert_bitwise(got, want):
    for slot_got, slot_want in zip(got, want):
        assert len(slot_got) == len(slot_want)
        for g, w in zip(slot_got, slot_want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("config", list(ADAM.values()), ids=list(ADAM))
def test_numpy_adam_update_bitwise_equals_composite(backend, config, monkeypatch):
    require_numpy(backend)
    init, grads = optimizer_problem("adam")
    with monkeypatch.context() as patch:
        native_only(patch)
        got = run_adam(backend, backend.adam_update, init, grads, config)
    want = run_adam(backend, build_composite(backend, "adam_update"), init, grads, config)
    assert_bitwise(got, want)
    assert not np.array_equal(got[0][0], init[0])  # the steps did move the variables


@pytest.mark.parametrize("config", list(SGD.values()), ids=list(SGD))
def test_numpy_sgd_update_bitwise_equals_composite(backend, config, monkeypatch):
    require_numpy(backend)
    init, grads = optimizer_problem("sgd")
    with monkeypatch.context() as patch:
        native_only(patch)
        got = run_sgd(backend, backend.sgd_update, init, grads, config)
    want = run_sgd(backend, build_composite(backend, "sgd_update"), init, grads, config)
    assert_bitwise(got, want)
    assert not np.array_equal(got[0][0], init[0])


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_numpy_optimizers_other_dtypes_match_composite(backend, dtype):
    """Variables of another dtype take the composite's path (its promotion rules)."""
    require_numpy(backend)
    init, grads = optimizer_problem(f"dtype-{dtype}", dtype)
    config = dict(amsgrad=True, weight_decay=0.1)
    assert_bitwise(run_adam(backend, backend.adam_update, init, grads, config),
                   run_adam(backend, build_composite(backend, "adam_update"), init, grads, config))
    config = dict(momentum=0.9, nesterov=True, weight_decay=0.1, momentums=True)
    assert_bitwise(run_sgd(backend, backend.sgd_update, init, grads, config),
                   run_sgd(backend, build_composite(backend, "sgd_update"), init, grads, config))


def test_numpy_optimizer_updates_in_place(backend):
    """The native steps write into the Variables' own arrays (no new array per step)."""
    require_numpy(backend)
    init, grads = optimizer_problem("in-place")
    w, m, v = fresh(backend, init), fresh(backend, init, True), fresh(backend, init, True)
    before = [x._value for x in w + m + v]
    backend.adam_update(w, grads[0], m, v, None, np.float32(0.01), 1)
    assert all(x._value is b for x, b in zip(w + m + v, before))
    backend.sgd_update(w, grads[1], m, np.float32(0.01), momentum=0.9)
    assert all(x._value is b for x, b in zip(w + m, before))
