"""Weight constraints, as in Keras: projections applied to a weight after each optimizer step.

A constraint is a callable ``constraint(w) -> projected w``. ``Layer.add_weight``
stores it on the variable as ``variable.constraint`` (``None`` when absent); the
optimizer assigns ``constraint(variable)`` after updating a variable.
Norms are taken along ``axis`` (``0`` for a Dense kernel ``(in, out)``: one norm per
output unit); ``epsilon`` is ``1e-7``.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.saving import registry

EPSILON = 1e-7


def _norms(w, axis):
    return ops.sqrt(ops.sum(ops.square(w), axis=_axis(axis), keepdims=True))


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


@registry.register_serializable(package="highlevel")
class Constraint:
    """Base class: ``constraint(w)`` returns the projected weight (the identity here)."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@registry.register_serializable(package="highlevel")
class MaxNorm(Constraint):
    """Rescale each slice along ``axis`` whose L2 norm exceeds ``max_value`` down to it.

    ``w * clip(norm, 0, max_value) / (epsilon + norm)``.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = ops.clip(norms, 0.0, float(self.max_value))
        return ops.multiply(w, ops.divide(desired, ops.add(norms, EPSILON)))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


@registry.register_serializable(package="highlevel")
class NonNeg(Constraint):
    """``max(w, 0)``."""

    def __call__(self, w):
        return ops.maximum(w, 0.0)


@registry.register_serializable(package="highlevel")
class UnitNorm(Constraint):
    """``w / (epsilon + norm)``: unit L2 norm along ``axis``."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return ops.divide(w, ops.add(_norms(w, self.axis), EPSILON))

    def get_config(self):
        return {"axis": self.axis}


@registry.register_serializable(package="highlevel")
class MinMaxNorm(Constraint):
    """Move each slice's norm into ``[min_value, max_value]`` at ``rate``.

    ``desired = rate * clip(norm, min, max) + (1 - rate) * norm``; ``w * desired / (epsilon + norm)``.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        clipped = ops.clip(norms, float(self.min_value), float(self.max_value))
        desired = ops.add(ops.multiply(clipped, float(self.rate)), ops.multiply(norms, 1.0 - float(self.rate)))
        return ops.multiply(w, ops.divide(desired, ops.add(norms, EPSILON)))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({"constraint": Constraint, "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
                 "min_max_norm": MinMaxNorm})


_FAMILY = registry.ObjectFamily("constraint", _BY_NAME, callable_hint="a callable")
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize
get = _FAMILY.get


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "deserialize", "get", "serialize"]
