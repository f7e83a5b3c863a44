"""Optimizers: every update rule and option, step by step, against closed-form NumPy.

The references below are the textbook algorithms as Keras 3 defines them, written
in float64 NumPy, independently of ``highlevel``'s code (no shared helpers). When
``keras`` is installed the same steps also run through Keras's own optimizers.
"""

import math

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops
from highlevel.optimizers import schedules

RTOL, ATOL = 2e-5, 1e-6
SHAPES = [(3, 2), (4,)]
STEPS = 6


def to_np(x):
    return np.asarray(ops.convert_to_numpy(x))


def make_problem(seed=0, scale=1.0):
    """Initial values and a gradient sequence for two variables.

    Gradient magnitudes vary across steps (some large, some small, with sign flips)
    so clipping is active on some steps only and moment estimates move.
    """
    rng = np.random.default_rng(seed)
    init = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = []
    for k in range(STEPS):
        factor = scale * (3.0 if k % 3 == 0 else 0.3)
        grads.append([(rng.normal(size=s) * factor).astype(np.float32) for s in SHAPES])
    return init, grads


# ------------------------------------------------------------------ NumPy references


def f32(x):
    """A hyperparameter as float32 training sees it. Bias corrections like
    ``1 - 0.999**t`` are sensitive to it: 0.999 in float32 is 0.99900001..., which moves
    ``1 - beta_2`` by 1e-5 relative. Keras and highlevel use float32 powers, so the
    references raise the float32 value to the power (in float64)."""
    return float(np.float32(x))


class Reference:
    """One algorithm in float64; ``step(params, grads, lr, t)`` with 1-based ``t``."""

    def __init__(self, n_vars, **config):
        self.config = config
        self.state = [{} for _ in range(n_vars)]

    def slot(self, i, name, like, fill=0.0):
        return self.state[i].setdefault(name, np.full_like(like, fill, dtype=np.float64))


class RefSGD(Reference):
    def step(self, params, grads, lr, t):
        mu, nesterov = self.config.get("momentum", 0.0), self.config.get("nesterov", False)
        out = []
        for i, (w, g) in enumerate(zip(params, grads)):
            if mu == 0:
                out.append(w - lr * g)
                continue
            velocity = mu * self.slot(i, "m", w) - lr * g
            self.state[i]["m"] = velocity
            out.append(w + mu * velocity - lr * g if nesterov else w + velocity)
        return out


class RefAdam(Reference):
    def step(self, params, grads, lr, t):
        b1, b2 = self.config.get("beta_1", 0.9), self.config.get("beta_2", 0.999)
        eps, amsgrad = self.config.get("epsilon", 1e-7), self.config.get("amsgrad", False)
        out = []
        for i, (w, g) in enumerate(zip(params, grads)):
            m = b1 * self.slot(i, "m", w) + (1 - b1) * g
            v = b2 * self.slot(i, "v", w) + (1 - b2) * g * g
            self.state[i].update(m=m, v=v)
            if amsgrad:
                v = np.maximum(self.slot(i, "vhat", w), v)
                self.state[i]["vhat"] = v
            step_size = lr * math.sqrt(1 - f32(b2) ** t) / (1 - f32(b1) ** t)
            out.append(w - step_size * m / (np.sqrt(v) + eps))
        return out


class RefRMSprop(Reference):
    def step(self, params, grads, lr, t):
        rho, mu = self.config.get("rho", 0.9), self.config.get("momentum", 0.0)
        eps, centered = self.config.get("epsilon", 1e-7), self.config.get("centered", False)
        out = []
        for i, (w, g) in enumerate(zip(params, grads)):
            ms = rho * self.slot(i, "ms", w) + (1 - rho) * g ** 2
            self.state[i]["ms"] = ms
            if centered:
                mg = rho * self.slot(i, "mg", w) + (1 - rho) * g
                self.state[i]["mg"] = mg
                denominator = ms - mg ** 2 + eps
            else:
                denominator = ms + eps
            increment = lr * g / np.sqrt(denominator)
            if mu > 0:
                increment = mu * self.slot(i, "mom", w) + increment
                self.state[i]["mom"] = increment
            out.append(w - increment)
        return out


class RefAdagrad(Reference):
    def step(self, params, grads, lr, t):
        init, eps = self.config.get("initial_accumulator_value", 0.1), self.config.get("epsilon", 1e-7)
        out = []
        for i, (w, g) in enumerate(zip(params, grads)):
            acc = self.slot(i, "acc", w, init) + g ** 2
            self.state[i]["acc"] = acc
            out.append(w - lr * g / np.sqrt(acc + eps))
        return out


class RefAdadelta(Reference):
    def step(self, params, grads, lr, t):
        rho, eps = self.config.get("rho", 0.95), self.config.get("epsilon", 1e-7)
        out = []
        for i, (w, g) in enumerate(zip(params, grads)):
            eg = rho * self.slot(i, "eg", w) + (1 - rho) * g ** 2
            dx = -np.sqrt(self.slot(i, "edx", w) + eps) / np.sqrt(eg + eps) * g
            edx = rho * self.slot(i, "edx", w) + (1 - rho) * dx ** 2
            self.state[i].update(eg=eg, edx=edx)
            out.append(w + lr * dx)
        return out


class RefAdamax(Reference):
    def step(self, params, grads, lr, t):
        b1, b2, eps = self.config.get("beta_1", 0.9), self.config.get("beta_2", 0.999), self.config.get("epsilon", 1e-7)
        out = []
        for i, (w, g) in enumerate(zip(params, grads)):
            m = b1 * self.slot(i, "m", w) + (1 - b1) * g
            u = np.maximum(b2 * self.slot(i, "u", w), np.abs(g))
            self.state[i].update(m=m, u=u)
            out.append(w - lr / (1 - f32(b1) ** t) * m / (u + eps))
        return out


class RefNadam(Reference):
    def step(self, params, grads, lr, t):
        b1, b2, eps = self.config.get("beta_1", 0.9), self.config.get("beta_2", 0.999), self.config.get("epsilon", 1e-7)
        mu_t = b1 * (1 - 0.5 * f32(0.96) ** t)
        mu_next = b1 * (1 - 0.5 * f32(0.96) ** (t + 1))
        self.product = getattr(self, "product", 1.0) * mu_t
        out = []
        for i, (w, g) in enumerate(zip(params, grads)):
            m = b1 * self.slot(i, "m", w) + (1 - b1) * g
            v = b2 * self.slot(i, "v", w) + (1 - b2) * g * g
            self.state[i].update(m=m, v=v)
            m_hat = mu_next * m / (1 - self.product * mu_next) + (1 - mu_t) * g / (1 - self.product)
            v_hat = v / (1 - f32(b2) ** t)
            out.append(w - lr * m_hat / (np.sqrt(v_hat) + eps))
        return out


REFERENCES = {"SGD": RefSGD, "Adam": RefAdam, "AdamW": RefAdam, "RMSprop": RefRMSprop, "Adagrad": RefAdagrad,
              "Adadelta": RefAdadelta, "Adamax": RefAdamax, "Nadam": RefNadam}
ALGORITHM_ARGS = {"momentum", "nesterov", "beta_1", "beta_2", "epsilon", "amsgrad", "rho", "centered",
                  "initial_accumulator_value"}
DEFAULT_LR = {"SGD": 0.01}
DEFAULT_WD = {"AdamW": 0.004}


def reference_clip(grads, config):
    if config.get("clipnorm"):
        c = config["clipnorm"]
        return [g * c / max(np.linalg.norm(g), c) for g in grads]
    if config.get("global_clipnorm"):
        c = config["global_clipnorm"]
        norm = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads))
        return [g * min(1.0, c / norm) for g in grads]
    if config.get("clipvalue"):
        c = config["clipvalue"]
        return [np.clip(g, -c, c) for g in grads]
    return grads


def reference_run(name, config, init, grad_steps, lr_at=None, decayed=None):
    """Parameters after each step (float64), per Keras: clip, decay, then update."""
    algorithm = REFERENCES[name](len(init), **{k: v for k, v in config.items() if k in ALGORITHM_ARGS})
    base_lr = config.get("learning_rate", DEFAULT_LR.get(name, 0.001))
    lr_at = lr_at or (lambda step: base_lr)
    wd = config.get("weight_decay", DEFAULT_WD.get(name))
    decayed = decayed or [True] * len(init)
    params = [w.astype(np.float64) for w in init]
    history = []
    for k, grads in enumerate(grad_steps):
        lr = lr_at(k)
        grads = reference_clip([g.astype(np.float64) for g in grads], config)
        if wd:
            params = [w - w * wd * lr if d else w for w, d in zip(params, decayed)]
        params = algorithm.step(params, grads, lr, k + 1)
        history.append([p.copy() for p in params])
    return history


# -------------------------------------------------------------------------- cases

CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.05}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "clipnorm": 1.0}),
    ("SGD", {"learning_rate": 0.1, "global_clipnorm": 2.0}),
    ("SGD", {"learning_rate": 0.1, "clipvalue": 0.5}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}),
    ("Adam", {"learning_rate": 0.05, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("Adam", {"learning_rate": 0.05, "clipnorm": 0.5}),
    ("Adam", {"learning_rate": 0.05, "global_clipnorm": 1.0}),
    ("Adam", {"learning_rate": 0.05, "clipvalue": 0.2}),
    ("AdamW", {}),
    ("AdamW", {"learning_rate": 0.05, "weight_decay": 0.2, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.3, "rho": 0.8}),
    ("RMSprop", {"learning_rate": 0.01, "weight_decay": 0.1, "global_clipnorm": 1.0}),
    ("Adagrad", {}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-4}),
    ("Adagrad", {"learning_rate": 0.1, "clipnorm": 1.0, "weight_decay": 0.01}),
    ("Adadelta", {}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-4}),
    ("Adadelta", {"learning_rate": 1.0, "clipvalue": 0.5}),
    ("Adamax", {}),
    ("Adamax", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95}),
    ("Adamax", {"learning_rate": 0.05, "weight_decay": 0.1, "clipnorm": 0.5}),
    ("Nadam", {}),
    ("Nadam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.99}),
    ("Nadam", {"learning_rate": 0.05, "global_clipnorm": 1.0, "weight_decay": 0.05}),
]


def case_id(case):
    name, config = case
    return name + "".join(f"-{k}={v}" for k, v in config.items())


def run_highlevel(name, config, init, grad_steps, apply=None):
    optimizer = getattr(hl.optimizers, name)(**config)
    variables = [hl.Variable(w, name=f"w{i}") for i, w in enumerate(init)]
    history = []
    for grads in grad_steps:
        tensors = [ops.convert_to_tensor(g) for g in grads]
        if apply is None:
            optimizer.apply(tensors, variables)
        else:
            apply(optimizer, tensors, variables)
        history.append([v.numpy() for v in variables])
    return optimizer, variables, history


def assert_histories_close(actual, expected, label=""):
    for step, (got_step, want_step) in enumerate(zip(actual, expected)):
        for i, (got, want) in enumerate(zip(got_step, want_step)):
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{label} step {step + 1}, variable {i}")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_update_rule_matches_numpy_reference(case):
    name, config = case
    init, grad_steps = make_problem(seed=len(case_id(case)))
    optimizer, variables, history = run_highlevel(name, config, init, grad_steps)
    assert_histories_close(history, reference_run(name, config, init, grad_steps), case_id(case))
    assert int(optimizer.iterations) == STEPS
    assert ops.dtype(optimizer.iterations) == "int64"
    # The parameters really moved (a no-op optimizer must not pass).
    assert not np.array_equal(history[-1][0], init[0])


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_update_rule_matches_keras(case, keras):
    name, config = case
    init, grad_steps = make_problem(seed=len(case_id(case)))
    optimizer, _, history = run_highlevel(name, config, init, grad_steps)
    keras_optimizer = getattr(keras.optimizers, name)(**config)
    keras_variables = [keras.Variable(w) for w in init]
    for step, grads in enumerate(grad_steps):
        keras_optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads], keras_variables)
        for i, kv in enumerate(keras_variables):
            np.testing.assert_allclose(history[step][i], keras.ops.convert_to_numpy(kv), rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case_id(case)} step {step + 1}, variable {i}")
    # Same state layout as Keras: the same number of variables with the same shapes.
    assert sorted(tuple(v.shape) for v in optimizer.variables) == \
        sorted(tuple(v.shape) for v in keras_optimizer.variables)


# ---------------------------------------------------------------- schedules in optimizers

SCHEDULE_CASES = [
    ("SGD", {"momentum": 0.9}, schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5),
     lambda k: 0.1 * 0.5 ** (k / 2)),
    ("Adam", {}, schedules.PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01]),
     lambda k: 0.1 if k <= 1 else (0.05 if k <= 3 else 0.01)),
    ("AdamW", {"weight_decay": 0.1}, schedules.InverseTimeDecay(0.05, decay_steps=1, decay_rate=0.5),
     lambda k: 0.05 / (1 + 0.5 * k)),
    ("RMSprop", {}, schedules.CosineDecay(0.0, decay_steps=4, warmup_target=0.02, warmup_steps=2),
     lambda k: 0.01 * k if k < 2 else 0.02 * 0.5 * (1 + math.cos(math.pi * min(k - 2, 4) / 4))),
]


@pytest.mark.parametrize("name, config, schedule, formula", SCHEDULE_CASES, ids=[c[0] for c in SCHEDULE_CASES])
def test_schedule_is_evaluated_at_iterations(name, config, schedule, formula):
    init, grad_steps = make_problem(seed=3)
    optimizer, _, history = run_highlevel(name, dict(config, learning_rate=schedule), init, grad_steps)
    expected = reference_run(name, config, init, grad_steps, lr_at=formula)
    assert_histories_close(history, expected, name)
    # Reading learning_rate gives the schedule's value at the current iteration.
    assert optimizer.learning_rate == pytest.approx(formula(STEPS), rel=1e-5, abs=1e-9)
    with pytest.raises(TypeError, match="schedule"):
        optimizer.learning_rate = 0.5


def test_callable_learning_rate():
    init, grad_steps = make_problem(seed=4)
    state = {"lr": 0.1}
    _, _, history = run_highlevel("SGD", {"learning_rate": lambda: state["lr"]}, init, grad_steps[:1])
    assert_histories_close(history, reference_run("SGD", {"learning_rate": 0.1}, init, grad_steps[:1]))


# --------------------------------------------------------------------- compiled steps

COMPILED_CASES = [("Adam", {"learning_rate": 0.05, "amsgrad": True, "clipnorm": 1.0}),
                  ("Nadam", {"learning_rate": 0.05, "weight_decay": 0.05}),
                  ("RMSprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.3}),
                  ("SGD", {"learning_rate": schedules.ExponentialDecay(0.1, 2, 0.5), "momentum": 0.9,
                           "nesterov": True, "global_clipnorm": 2.0})]


@pytest.mark.parametrize("name, config", COMPILED_CASES, ids=[c[0] for c in COMPILED_CASES])
def test_apply_inside_compile_function_matches_eager(name, config):
    init, grad_steps = make_problem(seed=5)
    _, _, eager = run_highlevel(name, config, init, grad_steps)
    compiled = {}

    def apply(optimizer, grads, variables):
        if "step" not in compiled:
            optimizer.build(variables)  # eagerly, as the trainer does: no variables created in the trace
            compiled["step"] = ops.compile_function(lambda g0, g1: optimizer.apply([g0, g1], variables))
        compiled["step"](*grads)

    optimizer, _, traced = run_highlevel(name, config, init, grad_steps, apply=apply)
    assert_histories_close(traced, eager, f"compiled {name}")
    assert int(optimizer.iterations) == STEPS


def test_compiled_train_step_with_value_and_grad():
    """The trainer's step: value_and_grad -> apply, compiled once; least squares with Adam."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    init = [rng.normal(size=(3, 1)).astype(np.float32), np.zeros(1, np.float32)]
    variables = [hl.Variable(w) for w in init]
    optimizer = hl.optimizers.Adam(learning_rate=0.1, clipnorm=5.0)
    optimizer.build(variables)
    xt, yt = ops.convert_to_tensor(x), ops.convert_to_tensor(y)

    def train_step(inputs, targets):
        def loss_fn():
            residual = ops.subtract(ops.add(ops.matmul(inputs, variables[0]), variables[1]), targets)
            return ops.mean(ops.square(residual))
        loss, grads = ops.value_and_grad(loss_fn, variables)
        optimizer.apply(grads, variables)
        return loss

    step = ops.compile_function(train_step)
    reference = RefAdam(2)
    params = [w.astype(np.float64) for w in init]
    for t in range(1, 6):
        residual = x @ params[0] + params[1] - y
        grads = reference_clip([2 / len(x) * x.T @ residual, 2 / len(x) * residual.sum(0)], {"clipnorm": 5.0})
        loss = step(xt, yt)
        assert float(ops.convert_to_numpy(loss)) == pytest.approx(float(np.mean(residual ** 2)), rel=1e-5)
        params = reference.step(params, grads, 0.1, t)
        for variable, want in zip(variables, params):
            np.testing.assert_allclose(variable.numpy(), want, rtol=1e-4, atol=1e-6)


def test_learning_rate_set_between_calls_takes_effect_without_retracing():
    optimizer = hl.optimizers.SGD(learning_rate=0.1)
    variable = hl.Variable(np.zeros(3, np.float32))
    optimizer.build([variable])
    traces = []

    def step(gradient):
        traces.append(1)
        optimizer.apply([gradient], [variable])

    compiled = ops.compile_function(step)
    gradient = ops.convert_to_tensor(np.ones(3, np.float32))
    compiled(gradient)
    np.testing.assert_allclose(variable.numpy(), -0.1, rtol=1e-6)
    optimizer.learning_rate = 0.01
    assert isinstance(optimizer.learning_rate, float)
    assert optimizer.learning_rate == pytest.approx(0.01)
    compiled(gradient)
    np.testing.assert_allclose(variable.numpy(), -0.11, rtol=1e-6)
    optimizer.learning_rate = 1
    compiled(gradient)
    np.testing.assert_allclose(variable.numpy(), -1.11, rtol=1e-6)
    # Traced once (a compiling backend) or run eagerly each time: never retraced.
    assert len(traces) in (1, 3)
    assert float(optimizer.learning_rate) == 1.0


# ----------------------------------------------------------------- state and behaviour


def test_slots_are_non_trainable_named_variables_created_by_build():
    optimizer = hl.optimizers.Adam(amsgrad=True, name="adam")
    kernel = hl.Variable(np.ones((2, 3), np.float32), name="kernel")
    kernel.path = "dense/kernel"
    bias = hl.Variable(np.ones(3, np.float32), name="bias")
    bias.path = "dense/bias"
    before = len(optimizer.variables)  # iterations and learning_rate exist from the start
    assert before == 2
    optimizer.build([kernel, bias])
    slots = optimizer.variables[before:]
    assert len(slots) == 6
    assert all(not v.trainable for v in optimizer.variables)
    paths = [v.path for v in slots]
    assert "adam/dense_kernel_momentum" in paths and "adam/dense_bias_velocity_hat" in paths
    assert [tuple(v.shape) for v in slots[:2]] == [(2, 3), (2, 3)]
    assert all(float(np.abs(v.numpy()).sum()) == 0.0 for v in slots)
    optimizer.build([kernel, bias])  # idempotent
    assert len(optimizer.variables) == before + 6
    optimizer.apply([np.ones((2, 3), np.float32), np.ones(3, np.float32)])  # built: variables optional
    assert len(optimizer.variables) == before + 6
    assert int(optimizer.iterations) == 1


def test_adagrad_accumulators_start_at_initial_value():
    optimizer = hl.optimizers.Adagrad(initial_accumulator_value=0.25)
    optimizer.build([hl.Variable(np.zeros(4, np.float32))])
    np.testing.assert_allclose(optimizer.variables[-1].numpy(), 0.25)


def test_sgd_without_momentum_keeps_no_state():
    optimizer = hl.optimizers.SGD()
    optimizer.build([hl.Variable(np.zeros(4, np.float32))])
    assert len(optimizer.variables) == 2


def test_constraint_is_applied_after_the_update():
    variable = hl.Variable(np.array([0.5, -0.5, 2.0], np.float32))
    variable.constraint = lambda w: ops.clip(w, -1.0, 1.0)
    free = hl.Variable(np.array([0.5, -0.5, 2.0], np.float32))
    optimizer = hl.optimizers.SGD(learning_rate=1.0)
    optimizer.apply([np.array([-1.0, 1.0, 0.5], np.float32)] * 2, [variable, free])
    np.testing.assert_allclose(variable.numpy(), [1.0, -1.0, 1.0])
    np.testing.assert_allclose(free.numpy(), [1.5, -1.5, 1.5])


def test_none_gradients_are_skipped_with_a_warning():
    a, b = hl.Variable(np.ones(2, np.float32), name="a"), hl.Variable(np.ones(2, np.float32), name="b")
    optimizer = hl.optimizers.SGD(learning_rate=0.5)
    with pytest.warns(UserWarning, match="b"):
        optimizer.apply([np.ones(2, np.float32), None], [a, b])
    np.testing.assert_allclose(a.numpy(), 0.5)
    np.testing.assert_allclose(b.numpy(), 1.0)
    with pytest.raises(ValueError, match="No gradients"):
        optimizer.apply([None, None], [a, b])


def test_exclude_from_weight_decay():
    kernel = hl.Variable(np.ones(2, np.float32), name="kernel")
    bias = hl.Variable(np.ones(2, np.float32), name="bias")
    optimizer = hl.optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.apply([np.zeros(2, np.float32)] * 2, [kernel, bias])
    np.testing.assert_allclose(kernel.numpy(), 0.95)
    np.testing.assert_allclose(bias.numpy(), 1.0)
    with pytest.raises(ValueError, match="before"):
        optimizer.exclude_from_weight_decay(var_names=["kernel"])


def test_apply_gradients_pairs():
    variable = hl.Variable(np.ones(2, np.float32))
    optimizer = hl.optimizers.SGD(learning_rate=0.25)
    iterations = optimizer.apply_gradients([(np.ones(2, np.float32), variable)])
    np.testing.assert_allclose(variable.numpy(), 0.75)
    assert int(iterations) == 1


def test_variables_keep_their_dtype_whatever_the_gradient_dtype():
    wide = hl.Variable(np.array([1.0, 2.0]), dtype="float64")
    narrow = hl.Variable(np.array([1.0, 2.0], np.float32))
    optimizer = hl.optimizers.Adam(learning_rate=0.1)
    # float32 gradient for the float64 variable and float64 for the float32 one.
    optimizer.apply([np.array([0.5, -0.5], np.float32), np.array([0.5, -0.5])], [wide, narrow])
    assert wide.dtype == "float64" and narrow.dtype == "float32"
    # Slots follow their variable's dtype (created interleaved: m, v per variable).
    assert [v.dtype for v in optimizer.variables[2:]] == ["float64", "float64", "float32", "float32"]
    # First Adam step: w - lr * g / (|g| + epsilon / sqrt(1 - beta_2)) = w -/+ 0.1 (nearly).
    for variable in (wide, narrow):
        np.testing.assert_allclose(variable.numpy(), [0.9, 2.1], rtol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="only one of"):
        hl.optimizers.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        hl.optimizers.SGD(learning_rate="fast")
    with pytest.raises(ValueError, match="momentum"):
        hl.optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="weight_decay"):
        hl.optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="not recognized"):
        hl.optimizers.Adam(betas=0.9)
    with pytest.raises(ValueError, match="use_ema"):
        hl.optimizers.Adam(use_ema=True)
    optimizer = hl.optimizers.SGD()
    with pytest.raises(ValueError, match="build"):
        optimizer.apply([np.ones(2, np.float32)])
    known, other = hl.Variable(np.ones(2, np.float32)), hl.Variable(np.ones(2, np.float32), name="stranger")
    optimizer.build([known])
    with pytest.raises(ValueError, match="stranger"):
        optimizer.apply([np.ones(2, np.float32)], [other])
    with pytest.raises(ValueError, match="align"):
        optimizer.apply([np.ones(2, np.float32)] * 2, [known])


# ----------------------------------------------------------------- lookup and configs


def test_get_by_name_dict_and_instance():
    for name in ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam"):
        optimizer = hl.optimizers.get(name)
        assert type(optimizer).__name__.lower() == name
    assert isinstance(hl.optimizers.get("Adam"), hl.optimizers.Adam)
    assert hl.optimizers.get("sgd").learning_rate == pytest.approx(0.01)
    assert hl.optimizers.get("adam").learning_rate == pytest.approx(0.001)
    instance = hl.optimizers.RMSprop()
    assert hl.optimizers.get(instance) is instance
    assert hl.optimizers.get(None) is None
    from_dict = hl.optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.5, "momentum": 0.25}})
    assert isinstance(from_dict, hl.optimizers.SGD) and from_dict.momentum == 0.25
    assert from_dict.learning_rate == 0.5
    with pytest.raises(ValueError) as error:
        hl.optimizers.get("adamm")
    for name in ("'sgd'", "'adam'", "'nadam'", "'rmsprop'"):
        assert name in str(error.value)
    with pytest.raises(ValueError, match="Could not interpret"):
        hl.optimizers.get(42)


CONFIG_CASES = [
    hl.optimizers.SGD(0.5, momentum=0.25, nesterov=True, clipvalue=2.0, name="my_sgd"),
    hl.optimizers.Adam(0.02, beta_1=0.8, beta_2=0.9, epsilon=1e-5, amsgrad=True, weight_decay=0.01),
    hl.optimizers.AdamW(weight_decay=0.3, global_clipnorm=1.5),
    hl.optimizers.RMSprop(rho=0.7, momentum=0.1, centered=True, clipnorm=3.0),
    hl.optimizers.Adagrad(initial_accumulator_value=0.2, epsilon=1e-3),
    hl.optimizers.Adadelta(1.0, rho=0.8),
    hl.optimizers.Adamax(beta_2=0.99),
    hl.optimizers.Nadam(0.002, beta_1=0.85),
    hl.optimizers.SGD(learning_rate=schedules.CosineDecayRestarts(0.1, 10, t_mul=1.5, m_mul=0.9, alpha=0.1)),
]


@pytest.mark.parametrize("optimizer", CONFIG_CASES, ids=lambda o: type(o).__name__)
def test_config_round_trip(optimizer):
    config = optimizer.get_config()
    clone = type(optimizer).from_config(config)
    assert clone.get_config() == config
    restored = hl.optimizers.deserialize(hl.optimizers.serialize(optimizer))
    assert type(restored) is type(optimizer) and restored.get_config() == config
    import json
    assert json.loads(json.dumps(config)) == config  # plain JSON
    # Same behaviour, not just the same config: one step on the same variable.
    a, b = hl.Variable(np.ones(3, np.float32)), hl.Variable(np.ones(3, np.float32))
    gradient = np.array([3.0, -0.5, 0.1], np.float32)
    type(optimizer).from_config(config).apply([gradient], [a])
    clone.apply([gradient], [b])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert not np.allclose(a.numpy(), 1.0)


def test_keras_configs_load(keras):
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"):
        keras_config = getattr(keras.optimizers, name)(learning_rate=0.125).get_config()
        optimizer = getattr(hl.optimizers, name).from_config(keras_config)
        assert optimizer.learning_rate == 0.125
        mine = optimizer.get_config()
        assert all(keras_config[k] == v for k, v in mine.items() if k != "name"), name


def test_user_optimizer_in_keras_style():
    """A subclass written as for Keras (build + update_step) works, decay and all."""

    class SignSGD(hl.optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)

        def build(self, variables):
            if self.built:
                return
            super().build(variables)
            self.counts = self.add_optimizer_variables(variables, "count")

        def update_step(self, gradient, variable, learning_rate):
            count = self.counts[self._get_variable_index(variable)]
            count.assign(count + 1.0)
            variable.assign(variable - ops.sign(gradient) * learning_rate)

    variable = hl.Variable(np.array([1.0, 1.0], np.float32))
    optimizer = SignSGD(weight_decay=0.5)
    for _ in range(2):
        optimizer.apply([np.array([3.0, -0.01], np.float32)], [variable])
    expected = np.array([1.0, 1.0])
    for _ in range(2):
        expected = expected - expected * 0.05 - np.array([0.1, -0.1])
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(optimizer.counts[0].numpy(), 2.0)
