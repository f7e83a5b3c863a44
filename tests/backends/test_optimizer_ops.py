"""The fused optimizer steps ``adam_update`` and ``sgd_update`` against NumPy, step by step.

They update Variables in place and return None, so they sit outside the op table
(``op_table.STATEFUL_OPS``). Here each runs several steps on variables of a few
shapes, with a learning rate that changes between steps, and after every step the
variables and slots must match a float64 NumPy computation written below (Keras 3's
formulas, independent of ``highlevel``). Each runs as the backend's own op, as the
protocol's composite built on the backend, and on torch also with its device-scalar
path forced (the one CUDA takes); then compiled, inside ``value_and_grad``, with
mixed dtypes and NumPy gradients, and with bad input.
"""

import numpy as np
import pytest

from conformance_utils import rng_for
from highlevel.backends import build_composite
from highlevel.backends.protocol import InvalidArgumentError

SHAPES = [(5, 3), (4,), ()]
STEPS = 5
RATES = [0.05, 0.02, 0.1, 0.01, 0.03]
TOL = dict(rtol=1e-5, atol=1e-6)


def f32(x):
    """A hyperparameter as float32 holds it (the bias corrections use float32 powers)."""
    return float(np.float32(x))


# ------------------------------------------------------------------ NumPy references


def reference_adam(state, grads, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                   decay_mask=None, amsgrad=False):
    """One Adam step on ``state`` (dict of float64 lists: w, m, v, vhat), in place."""
    step_size = lr * np.sqrt(1 - f32(beta_2) ** t) / (1 - f32(beta_1) ** t)
    for i, g in enumerate(grads):
        g = g.astype(np.float64)
        w = state["w"][i]
        if weight_decay and (decay_mask is None or decay_mask[i]):
            w = w - w * lr * weight_decay
        m = beta_1 * state["m"][i] + (1 - beta_1) * g
        v = beta_2 * state["v"][i] + (1 - beta_2) * g * g
        state["m"][i], state["v"][i] = m, v
        if amsgrad:
            v = state["vhat"][i] = np.maximum(state["vhat"][i], v)
        state["w"][i] = w - step_size * m / (np.sqrt(v) + epsilon)


def reference_sgd(state, grads, lr, momentum=0.0, nesterov=False, weight_decay=None, decay_mask=None,
                  use_momentums=False):
    for i, g in enumerate(grads):
        g = g.astype(np.float64)
        w = state["w"][i]
        if weight_decay and (decay_mask is None or decay_mask[i]):
            w = w - w * lr * weight_decay
        if not use_momentums:
            state["w"][i] = w - lr * g
            continue
        velocity = state["m"][i] = momentum * state["m"][i] - lr * g
        state["w"][i] = w + (momentum * velocity - lr * g if nesterov else velocity)


ADAM_CASES = {
    "defaults": {},
    "betas_epsilon": dict(beta_1=0.8, beta_2=0.99, epsilon=1e-3),
    "amsgrad": dict(amsgrad=True),
    "weight_decay": dict(weight_decay=0.1),
    "amsgrad_masked_decay": dict(amsgrad=True, weight_decay=0.2, decay_mask=[True, False, True]),
}
SGD_CASES = {
    "plain": {},
    "momentum": dict(momentum=0.9),
    "nesterov": dict(momentum=0.9, nesterov=True),
    "masked_decay": dict(weight_decay=0.05, decay_mask=[False, True, True]),
    "nesterov_decay": dict(momentum=0.5, nesterov=True, weight_decay=0.1),
    "momentum_zero_with_slots": dict(momentum=0.0),
}


def make_problem(key, dtypes=("float32",) * len(SHAPES)):
    """Initial values and per-step gradients (magnitudes vary, signs flip)."""
    rng = rng_for(key)
    init = [rng.normal(size=s).astype(d) for s, d in zip(SHAPES, dtypes)]
    grads = [[(rng.normal(size=s) * (3.0 if k % 2 else 0.2)).astype(np.float32) for s in SHAPES]
             for k in range(STEPS)]
    return init, grads


# -------------------------------------------------------------- running the ops


@pytest.fixture(params=["native", "composite", "device_scalars"])
def impl(request, backend, monkeypatch):
    """The op under test: the backend's own, the protocol's composite on the backend, or
    (torch) the native op with its device-scalar path forced, as on CUDA."""
    kind = request.param
    if kind == "composite":
        return lambda name: build_composite(backend, name)
    if kind == "device_scalars":
        if backend.name != "torch":
            pytest.skip("device scalars: a path of the torch backend")
        from highlevel.backends.torch import optimizers

        monkeypatch.setattr(optimizers, "_host_scalars", lambda learning_rate, step: False)
    return lambda name: getattr(backend, name)


def variables_of(k, arrays, name):
    return [k.Variable(a, name=f"{name}{i}", dtype=str(a.dtype)) for i, a in enumerate(arrays)]


def adam_state(k, init, amsgrad):
    zeros = [np.zeros_like(w) for w in init]
    state = {"w": variables_of(k, init, "w"), "m": variables_of(k, zeros, "m"), "v": variables_of(k, zeros, "v"),
             "vhat": variables_of(k, zeros, "vhat") if amsgrad else None}
    ref = {"w": [w.astype(np.float64) for w in init], "m": [z.astype(np.float64) for z in zeros],
           "v": [z.astype(np.float64) for z in zeros], "vhat": [z.astype(np.float64) for z in zeros]}
    return state, ref


def sgd_state(k, init, use_momentums):
    zeros = [np.zeros_like(w) for w in init]
    state = {"w": variables_of(k, init, "w"), "m": variables_of(k, zeros, "m") if use_momentums else None}
    ref = {"w": [w.astype(np.float64) for w in init], "m": [z.astype(np.float64) for z in zeros]}
    return state, ref


def assert_state_close(k, state, ref, names, what, tol=TOL):
    for name in names:
        if state[name] is None:
            continue
        for i, (variable, want) in enumerate(zip(state[name], ref[name])):
            got = np.asarray(k.convert_to_numpy(variable.value))
            assert got.shape == want.shape, f"{what}: {name}[{i}] shape {got.shape}, expected {want.shape}"
            np.testing.assert_allclose(got, want, err_msg=f"{what}: {name}[{i}]", **tol)


def adam_kwargs(config):
    return {k: v for k, v in config.items() if k != "amsgrad"}


def run_adam(k, op, config, key, steps=STEPS):
    amsgrad = config.get("amsgrad", False)
    init, grads = make_problem(key)
    state, ref = adam_state(k, init, amsgrad)
    lr = k.Variable(np.float32(RATES[0]), name="lr")
    for step in range(steps):
        lr.assign(np.float32(RATES[step]))
        result = op(state["w"], [k.convert_to_tensor(g) for g in grads[step]], state["m"], state["v"],
                    state["vhat"], lr, k.convert_to_tensor(np.int64(step + 1)), **adam_kwargs(config))
        assert result is None
        reference_adam(ref, grads[step], f32(RATES[step]), step + 1, amsgrad=amsgrad, **adam_kwargs(config))
        assert_state_close(k, state, ref, ("w", "m", "v", "vhat"), f"{key} step {step + 1}")
    return state, ref


def sgd_kwargs(config):
    return dict(config)


def run_sgd(k, op, config, key, steps=STEPS):
    use_momentums = "momentum" in config
    init, grads = make_problem(key)
    state, ref = sgd_state(k, init, use_momentums)
    lr = k.Variable(np.float32(RATES[0]), name="lr")
    for step in range(steps):
        lr.assign(np.float32(RATES[step]))
        result = op(state["w"], [k.convert_to_tensor(g) for g in grads[step]], state["m"], lr, **config)
        assert result is None
        reference_sgd(ref, grads[step], f32(RATES[step]), use_momentums=use_momentums, **config)
        assert_state_close(k, state, ref, ("w", "m"), f"{key} step {step + 1}")
    return state, ref


# ------------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", list(ADAM_CASES))
def test_adam_update_matches_numpy(backend, impl, name):
    run_adam(backend, impl("adam_update"), ADAM_CASES[name], f"adam-{name}")


@pytest.mark.parametrize("name", list(SGD_CASES))
def test_sgd_update_matches_numpy(backend, impl, name):
    run_sgd(backend, impl("sgd_update"), SGD_CASES[name], f"sgd-{name}")


def test_python_numbers_and_numpy_gradients(backend, impl):
    """A Python float learning rate, a Python int step and NumPy gradients are accepted."""
    k = backend
    init, grads = make_problem("python-numbers")
    state, ref = adam_state(k, init, amsgrad=False)
    sgd, sgd_ref = sgd_state(k, init, use_momentums=True)
    for step in range(3):
        impl("adam_update")(state["w"], grads[step], state["m"], state["v"], None, 0.05, step + 1)
        reference_adam(ref, grads[step], f32(0.05), step + 1)
        impl("sgd_update")(sgd["w"], grads[step], sgd["m"], 0.1, momentum=0.9)
        reference_sgd(sgd_ref, grads[step], f32(0.1), momentum=0.9, use_momentums=True)
    assert_state_close(k, state, ref, ("w", "m", "v"), "adam")
    assert_state_close(k, sgd, sgd_ref, ("w", "m"), "sgd")


def test_variables_keep_their_dtypes(backend, impl):
    """A float64 variable with a float32 gradient and the reverse: dtypes stay, values match."""
    k = backend
    init = [np.array([1.0, -2.0, 0.5]), np.array([0.25, 3.0, -1.0], np.float32)]
    grads = [np.array([0.5, -0.5, 2.0], np.float32), np.array([-1.0, 0.1, 0.3])]
    zeros = [np.zeros_like(w) for w in init]
    w, m, v = variables_of(k, init, "w"), variables_of(k, zeros, "m"), variables_of(k, zeros, "v")
    ref = {"w": [a.astype(np.float64) for a in init], "m": [z.astype(np.float64) for z in zeros],
           "v": [z.astype(np.float64) for z in zeros]}
    for step in range(1, 4):
        impl("adam_update")(w, [k.convert_to_tensor(g) for g in grads], m, v, None, k.convert_to_tensor(0.1),
                            k.convert_to_tensor(np.int64(step)), weight_decay=0.1)
        reference_adam(ref, grads, f32(0.1), step, weight_decay=0.1)
    assert [x.dtype for x in w + m + v] == ["float64", "float32"] * 3
    assert_state_close(k, {"w": w, "m": m, "v": v}, ref, ("w", "m", "v"), "mixed dtypes")
    sgd_w, sgd_m = variables_of(k, init, "sw"), variables_of(k, zeros, "sm")
    impl("sgd_update")(sgd_w, [k.convert_to_tensor(g) for g in grads], sgd_m, k.convert_to_tensor(0.1),
                       momentum=0.5, nesterov=True)
    assert [x.dtype for x in sgd_w + sgd_m] == ["float64", "float32"] * 2
    expected = [a - 0.1 * g.astype(np.float64) * 1.5 for a, g in zip(init, grads)]
    for got, want in zip(sgd_w, expected):
        np.testing.assert_allclose(got.numpy(), want, **TOL)


def test_compiled_steps_match_numpy(backend, impl):
    """Inside compile_function (tf.function on TensorFlow): traced once, values per step."""
    k = backend
    config = dict(weight_decay=0.1, decay_mask=[True, False, True])
    init, grads = make_problem("compiled")
    state, ref = adam_state(k, init, amsgrad=True)
    sgd, sgd_ref = sgd_state(k, init, use_momentums=True)
    lr = k.Variable(np.float32(RATES[0]), name="lr")
    adam_op, sgd_op = impl("adam_update"), impl("sgd_update")

    def train_step(step, g0, g1, g2):
        adam_op(state["w"], [g0, g1, g2], state["m"], state["v"], state["vhat"], lr, step, **config)
        sgd_op(sgd["w"], [g0, g1, g2], sgd["m"], lr, momentum=0.9, nesterov=True, **config)
        return k.sum(state["w"][0].value)

    compiled = k.compile_function(train_step)
    for step in range(STEPS):
        lr.assign(np.float32(RATES[step]))
        compiled(k.convert_to_tensor(np.int64(step + 1)), *[k.convert_to_tensor(g) for g in grads[step]])
        reference_adam(ref, grads[step], f32(RATES[step]), step + 1, amsgrad=True, **config)
        reference_sgd(sgd_ref, grads[step], f32(RATES[step]), momentum=0.9, nesterov=True, use_momentums=True,
                      **config)
        assert_state_close(k, state, ref, ("w", "m", "v", "vhat"), f"compiled adam step {step + 1}")
        assert_state_close(k, sgd, sgd_ref, ("w", "m"), f"compiled sgd step {step + 1}")


def test_update_inside_value_and_grad_keeps_the_gradient(backend, impl):
    """An update of a variable the loss read before must not change that loss's gradient
    (an in-place write would corrupt what the backward pass saved)."""
    k = backend
    w = k.Variable(np.array([1.0, 2.0, 3.0], np.float32), name="w")
    m = k.Variable(np.zeros(3, np.float32), name="m")

    def loss_fn():
        loss = k.sum(k.multiply(k.multiply(w, w), w))
        impl("sgd_update")([w], [k.ones((3,))], [m], 0.5, momentum=0.9)
        return loss

    loss, (grad,) = k.value_and_grad(loss_fn, [w])
    np.testing.assert_allclose(k.convert_to_numpy(loss), 36.0, rtol=1e-6)
    np.testing.assert_allclose(k.convert_to_numpy(grad), [3.0, 12.0, 27.0], rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), [0.5, 1.5, 2.5], rtol=1e-6)
    np.testing.assert_allclose(m.numpy(), [-0.5, -0.5, -0.5], rtol=1e-6)


def test_empty_lists_do_nothing(backend, impl):
    assert impl("adam_update")([], [], [], [], None, 0.1, 1) is None
    assert impl("sgd_update")([], [], None, 0.1) is None


def test_bad_input_raises_invalid_argument(backend, impl):
    k = backend
    w = [k.Variable(np.ones((2, 3), np.float32), name="w0"), k.Variable(np.ones(3, np.float32), name="w1")]
    slots = [k.Variable(np.zeros((2, 3), np.float32)), k.Variable(np.zeros(3, np.float32))]
    good = [np.ones((2, 3), np.float32), np.ones(3, np.float32)]
    with pytest.raises(InvalidArgumentError, match=r"^adam_update: .*1 gradients for 2 variables"):
        impl("adam_update")(w, good[:1], slots, slots, None, 0.1, 1)
    with pytest.raises(InvalidArgumentError, match=r"^adam_update: .*1 velocity_hats for 2 variables"):
        impl("adam_update")(w, good, slots, slots, slots[:1], 0.1, 1)
    with pytest.raises(InvalidArgumentError, match=r"^sgd_update: .*1 decay_mask for 2 variables"):
        impl("sgd_update")(w, good, None, 0.1, weight_decay=0.1, decay_mask=[True])
    # A gradient that would broadcast to its variable's shape is still an error.
    with pytest.raises(InvalidArgumentError, match=r"^sgd_update: gradients\[0\] has shape \(3,\)"):
        impl("sgd_update")(w, [np.ones(3, np.float32), good[1]], None, 0.1)
    with pytest.raises(InvalidArgumentError, match=r"^adam_update: gradients\[1\] has shape \(2,\)"):
        impl("adam_update")(w, [good[0], np.ones(2, np.float32)], slots, slots, None, 0.1, 1)
    np.testing.assert_array_equal(w[0].numpy(), 1.0)  # nothing was updated
