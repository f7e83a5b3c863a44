"""Learning-rate schedules: ``schedule(step) -> learning rate`` as Keras 3 defines them.

An optimizer given a ``LearningRateSchedule`` evaluates it at its ``iterations``
counter inside every ``apply``. Every schedule is written with ``hl.ops`` and no
Python branching on tensor values, so it traces inside ``hl.ops.compile_function``;
``step`` may be a Python number, a NumPy scalar, a backend tensor or a Variable.
Results are float32 scalars.

    lr = hl.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
    opt = hl.optimizers.SGD(learning_rate=lr)
"""

from __future__ import annotations

import math

from highlevel import ops
from highlevel.saving import registry

_FLOAT = "float32"


def _as_float_step(step):
    """``step`` (number, tensor or Variable) as a float32 scalar tensor."""
    return ops.cast(ops.convert_to_tensor(step), _FLOAT)


def _check_positive(value, argument, schedule):
    if not value > 0:
        raise ValueError(f"{schedule}: argument `{argument}` must be > 0, got {argument}={value!r}")


@registry.register_serializable(package="highlevel")
class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` and ``get_config()``.

    ``from_config(config)`` calls ``cls(**config)``, so a subclass whose constructor
    arguments match its config needs nothing more to round-trip.
    """

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule {type(self).__name__!r} must override "
                                  f"`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule {type(self).__name__!r} must override "
                                  f"`get_config()` to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class _StaircaseDecay(LearningRateSchedule):
    """Shared by ExponentialDecay and InverseTimeDecay: both decay in ``p = step / decay_steps``
    (floored with ``staircase=True``) and share their arguments; subclasses give ``_decay(p)``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        _check_positive(decay_steps, "decay_steps", type(self).__name__)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name or type(self).__name__

    def __call__(self, step):
        p = ops.divide(_as_float_step(step), float(self.decay_steps))
        if self.staircase:
            p = ops.floor(p)
        return self._decay(p)

    def _decay(self, p):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


@registry.register_serializable(package="highlevel")
class ExponentialDecay(_StaircaseDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decay(self, p):
        rate = ops.convert_to_tensor(float(self.decay_rate))
        return ops.multiply(ops.power(rate, p), float(self.initial_learning_rate))


@registry.register_serializable(package="highlevel")
class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[1]`` while
    ``step <= boundaries[1]``, ..., ``values[-1]`` after the last boundary.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"PiecewiseConstantDecay: `boundaries` must have one entry less than `values`; got "
                f"boundaries={boundaries} (length {len(boundaries)}) and values={values} "
                f"(length {len(values)})")
        if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: `boundaries` must be strictly increasing, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = ops.convert_to_tensor(step)
        # The interval index is the number of boundaries the step has passed; one
        # gather then picks the value, however many boundaries there are.
        boundaries = ops.cast(ops.convert_to_tensor(self.boundaries), ops.dtype(step))
        passed = ops.sum(ops.cast(ops.greater(step, boundaries), "int32"))
        return ops.take(ops.convert_to_tensor([float(v) for v in self.values]), passed)

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@registry.register_serializable(package="highlevel")
class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, step capped at
    ``decay_steps``; with ``cycle=True`` ``decay_steps`` grows to the first multiple
    of itself that is >= step instead (1x at step 0).
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _check_positive(decay_steps, "decay_steps", "PolynomialDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step = _as_float_step(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            multiplier = ops.maximum(ops.ceil(ops.divide(step, decay_steps)), 1.0)
            p = ops.divide(step, ops.multiply(multiplier, decay_steps))
        else:
            p = ops.divide(ops.minimum(step, decay_steps), decay_steps)
        remaining = ops.power(ops.subtract(1.0, p), ops.convert_to_tensor(float(self.power)))
        span = float(self.initial_learning_rate) - float(self.end_learning_rate)
        return ops.add(ops.multiply(remaining, span), float(self.end_learning_rate))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


@registry.register_serializable(package="highlevel")
class InverseTimeDecay(_StaircaseDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    With ``staircase=True``, ``step / decay_steps`` is floored.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decay(self, p):
        denominator = ops.add(ops.multiply(p, float(self.decay_rate)), 1.0)
        return ops.divide(float(self.initial_learning_rate), denominator)


@registry.register_serializable(package="highlevel")
class CosineDecay(LearningRateSchedule):
    """Cosine decay, optionally after a linear warmup (SGDR without restarts).

    Without ``warmup_target``: ``initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)``
    with ``s = min(step, decay_steps)``. With ``warmup_target``: the rate rises linearly
    from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then
    decays as above from ``warmup_target`` (``s = min(step, warmup + decay) - warmup``).
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _check_positive(decay_steps, "decay_steps", "CosineDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decayed(self, step, start):
        fraction = ops.divide(step, float(self.decay_steps))
        cosine = ops.multiply(ops.add(ops.cos(ops.multiply(fraction, math.pi)), 1.0), 0.5)
        alpha = float(self.alpha)
        return ops.multiply(ops.add(ops.multiply(cosine, 1.0 - alpha), alpha), start)

    def __call__(self, step):
        step = _as_float_step(step)
        initial = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decayed(ops.minimum(step, float(self.decay_steps)), initial)
        target, warmup = float(self.warmup_target), float(self.warmup_steps)
        step = ops.minimum(step, float(self.decay_steps) + warmup)
        # Both branches are computed and one is selected (traceable); with
        # warmup_steps == 0 the warmup branch divides by zero but is never chosen.
        warming = ops.add(ops.multiply(ops.divide(step, warmup) if warmup else step, target - initial), initial)
        decaying = self._decayed(ops.subtract(step, warmup), target)
        return ops.where(ops.less(step, warmup), warming, decaying)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


@registry.register_serializable(package="highlevel")
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2016).

    The first period lasts ``first_decay_steps``; each next one ``t_mul`` times longer
    and starting from ``m_mul`` times the previous peak. Within a period the rate falls
    from its peak to ``alpha`` times the initial rate along a half cosine.
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        _check_positive(first_decay_steps, "first_decay_steps", "CosineDecayRestarts")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        fraction = ops.divide(_as_float_step(step), float(self.first_decay_steps))
        t_mul = float(self.t_mul)
        if t_mul == 1.0:
            restart = ops.floor(fraction)
            fraction = ops.subtract(fraction, restart)
        else:
            # Periods have lengths 1, t, t^2, ...: restart i starts at (1 - t^i) / (1 - t).
            t_mul_tensor = ops.convert_to_tensor(t_mul)
            restart = ops.floor(ops.divide(ops.log(ops.add(ops.multiply(fraction, t_mul - 1.0), 1.0)),
                                           ops.log(t_mul_tensor)))
            t_power = ops.power(t_mul_tensor, restart)
            start = ops.divide(ops.subtract(1.0, t_power), 1.0 - t_mul)
            fraction = ops.divide(ops.subtract(fraction, start), t_power)
        peak = ops.power(ops.convert_to_tensor(float(self.m_mul)), restart)
        cosine = ops.multiply(ops.add(ops.cos(ops.multiply(fraction, math.pi)), 1.0), ops.multiply(peak, 0.5))
        alpha = float(self.alpha)
        return ops.multiply(ops.add(ops.multiply(cosine, 1.0 - alpha), alpha), float(self.initial_learning_rate))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


def serialize(schedule) -> dict:
    """``{"class_name", "registered_name", "config"}`` for a schedule."""
    if not isinstance(schedule, LearningRateSchedule):
        raise ValueError(f"serialize: expected a LearningRateSchedule, got {schedule!r}")
    return registry.serialize(schedule)


def deserialize(config, custom_objects=None):
    """Rebuild a schedule from ``serialize``'s dict (registered names only)."""
    schedule = registry.deserialize(config, custom_objects, expected="learning rate schedule")
    if not isinstance(schedule, LearningRateSchedule):
        raise ValueError(f"deserialize: {config.get('class_name')!r} is not a LearningRateSchedule")
    return schedule


__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize"]
