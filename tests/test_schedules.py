"""Learning-rate schedules against plain-Python formulas at many steps, eager and compiled."""

import json
import math

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops
from highlevel.optimizers import schedules

STEPS = list(range(0, 121)) + [150, 299, 300, 301, 1000, 12345]
# Keras runs eagerly on TensorFlow (slow per op): boundaries of every case, and a spread.
KERAS_STEPS = [0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 14, 16, 20, 25, 29, 30, 31, 40, 49, 50, 51, 60, 69, 70, 71, 99,
               100, 101, 120, 150, 300, 301, 1000, 12345]


def value(x):
    return float(np.asarray(ops.convert_to_numpy(x)))


# ------------------------------------------------------------ reference formulas (float64)


def exponential(step, initial, decay_steps, rate, staircase=False):
    p = step / decay_steps
    return initial * rate ** (math.floor(p) if staircase else p)


def piecewise(step, boundaries, values):
    for boundary, v in zip(boundaries, values):
        if step <= boundary:
            return v
    return values[-1]


def polynomial(step, initial, decay_steps, end=0.0001, power=1.0, cycle=False):
    if cycle:
        decay_steps = decay_steps * max(1, math.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    return (initial - end) * (1 - step / decay_steps) ** power + end


def inverse_time(step, initial, decay_steps, rate, staircase=False):
    p = step / decay_steps
    return initial / (1 + rate * (math.floor(p) if staircase else p))


def cosine(step, initial, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
    if warmup_target is not None:
        if step < warmup_steps:
            return initial + (warmup_target - initial) * step / warmup_steps
        initial, step = warmup_target, step - warmup_steps
    step = min(step, decay_steps)
    return initial * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * step / decay_steps)) + alpha)


def cosine_restarts(step, initial, first, t_mul=2.0, m_mul=1.0, alpha=0.0):
    # Walk the periods one by one (no closed form), as SGDR describes them.
    start, length, restart = 0.0, float(first), 0
    while step >= start + length:
        start += length
        length *= t_mul
        restart += 1
    fraction = (step - start) / length
    return initial * ((1 - alpha) * 0.5 * m_mul ** restart * (1 + math.cos(math.pi * fraction)) + alpha)


CASES = [
    (schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.9), lambda s: exponential(s, 0.1, 7, 0.9)),
    (schedules.ExponentialDecay(0.5, decay_steps=10, decay_rate=0.5, staircase=True),
     lambda s: exponential(s, 0.5, 10, 0.5, True)),
    (schedules.PiecewiseConstantDecay([10, 50, 100], [1.0, 0.5, 0.1, 0.01]),
     lambda s: piecewise(s, [10, 50, 100], [1.0, 0.5, 0.1, 0.01])),
    (schedules.PiecewiseConstantDecay([3], [0.2, 0.1]), lambda s: piecewise(s, [3], [0.2, 0.1])),
    (schedules.PolynomialDecay(0.1, decay_steps=100), lambda s: polynomial(s, 0.1, 100)),
    (schedules.PolynomialDecay(0.1, 30, end_learning_rate=0.01, power=0.5),
     lambda s: polynomial(s, 0.1, 30, 0.01, 0.5)),
    (schedules.PolynomialDecay(0.1, 30, end_learning_rate=0.01, power=2.0, cycle=True),
     lambda s: polynomial(s, 0.1, 30, 0.01, 2.0, True)),
    (schedules.InverseTimeDecay(0.1, decay_steps=5, decay_rate=0.5), lambda s: inverse_time(s, 0.1, 5, 0.5)),
    (schedules.InverseTimeDecay(0.1, decay_steps=5, decay_rate=0.5, staircase=True),
     lambda s: inverse_time(s, 0.1, 5, 0.5, True)),
    (schedules.CosineDecay(0.1, decay_steps=100), lambda s: cosine(s, 0.1, 100)),
    (schedules.CosineDecay(0.1, decay_steps=50, alpha=0.2), lambda s: cosine(s, 0.1, 50, 0.2)),
    (schedules.CosineDecay(0.0, decay_steps=80, warmup_target=0.1, warmup_steps=20),
     lambda s: cosine(s, 0.0, 80, 0.0, 0.1, 20)),
    (schedules.CosineDecay(0.01, decay_steps=40, alpha=0.1, warmup_target=0.05, warmup_steps=10),
     lambda s: cosine(s, 0.01, 40, 0.1, 0.05, 10)),
    (schedules.CosineDecayRestarts(0.1, first_decay_steps=10), lambda s: cosine_restarts(s, 0.1, 10)),
    (schedules.CosineDecayRestarts(0.1, 8, t_mul=1.0, m_mul=0.5, alpha=0.1),
     lambda s: cosine_restarts(s, 0.1, 8, 1.0, 0.5, 0.1)),
    (schedules.CosineDecayRestarts(0.2, 10, t_mul=1.5, m_mul=0.8), lambda s: cosine_restarts(s, 0.2, 10, 1.5, 0.8)),
]


def case_id(case):
    return repr(case[0])


def assert_close(actual, expected, schedule, step):
    assert actual == pytest.approx(expected, rel=2e-5, abs=1e-7), f"{schedule!r} at step {step}"


@pytest.mark.parametrize("schedule, formula", CASES, ids=[case_id(c) for c in CASES])
def test_schedule_matches_formula(schedule, formula):
    for step in STEPS:
        assert_close(value(schedule(step)), formula(step), schedule, step)


@pytest.mark.parametrize("schedule, formula", CASES, ids=[case_id(c) for c in CASES])
def test_schedule_with_variable_and_tensor_steps_compiled(schedule, formula):
    """The optimizer passes its int64 ``iterations`` Variable; the trainer may compile."""
    step_variable = hl.Variable(np.array(0, np.int64), trainable=False, dtype="int64")
    compiled = ops.compile_function(lambda: schedule(step_variable))
    for step in (0, 1, 5, 9, 10, 11, 29, 30, 31, 100, 301):
        step_variable.assign(np.array(step, np.int64))
        assert_close(value(compiled()), formula(step), schedule, step)
        assert_close(value(schedule(ops.convert_to_tensor(np.array(step, np.int32)))), formula(step), schedule, step)


@pytest.mark.parametrize("schedule, formula", CASES, ids=[case_id(c) for c in CASES])
def test_schedule_matches_keras(schedule, formula):
    keras = pytest.importorskip("keras")
    reference = getattr(keras.optimizers.schedules, type(schedule).__name__).from_config(schedule.get_config())
    for step in KERAS_STEPS:
        expected = float(keras.ops.convert_to_numpy(reference(step)))
        assert_close(value(schedule(step)), expected, schedule, step)


@pytest.mark.parametrize("schedule, formula", CASES, ids=[case_id(c) for c in CASES])
def test_config_round_trip(schedule, formula):
    config = schedule.get_config()
    assert json.loads(json.dumps(config)) == config
    clone = type(schedule).from_config(config)
    restored = schedules.deserialize(schedules.serialize(schedule))
    assert type(restored) is type(schedule)
    assert clone.get_config() == restored.get_config() == config
    for step in (0, 13, 77, 500):
        assert value(clone(step)) == pytest.approx(formula(step), rel=2e-5, abs=1e-7)


def test_results_are_float32_scalars():
    for schedule, _ in CASES:
        result = schedule(3)
        assert ops.shape(result) == () and ops.dtype(result) == "float32", schedule


def test_invalid_arguments():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.PolynomialDecay(0.1, -1)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.InverseTimeDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.CosineDecay(0.1, 0)
    with pytest.raises(ValueError, match="first_decay_steps"):
        schedules.CosineDecayRestarts(0.1, 0)
    with pytest.raises(ValueError, match="one entry less"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="increasing"):
        schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3])
    with pytest.raises(NotImplementedError):
        schedules.LearningRateSchedule()(1)


def test_user_schedule_drives_an_optimizer_and_serializes():
    @hl.saving.register_serializable(package="test_schedules")
    class HalveEvery(schedules.LearningRateSchedule):
        def __init__(self, initial, every):
            self.initial, self.every = initial, every

        def __call__(self, step):
            halvings = ops.floor(ops.divide(ops.cast(step, "float32"), float(self.every)))
            return ops.multiply(ops.power(ops.convert_to_tensor(0.5), halvings), self.initial)

        def get_config(self):
            return {"initial": self.initial, "every": self.every}

    optimizer = hl.optimizers.SGD(learning_rate=HalveEvery(1.0, 2))
    variable = hl.Variable(np.zeros(1, np.float32))
    for _ in range(5):
        optimizer.apply([np.ones(1, np.float32)], [variable])
    np.testing.assert_allclose(variable.numpy(), [-(1 + 1 + 0.5 + 0.5 + 0.25)], rtol=1e-6)
    assert optimizer.learning_rate == pytest.approx(0.25)
    clone = hl.optimizers.deserialize(hl.optimizers.serialize(optimizer))
    assert isinstance(clone._learning_rate, HalveEvery) and clone._learning_rate.every == 2
