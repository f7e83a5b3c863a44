"""Weight and activity regularizers, as in Keras: ``penalty = l1 * sum|w| + l2 * sum w^2``.

A regularizer is a callable ``regularizer(x) -> scalar tensor``. Layers add the
penalty of each regularized weight to ``layer.losses`` (recomputed on access) and
the trainer adds ``model.losses`` to the loss. Strings ``"l1"``, ``"l2"``,
``"l1_l2"`` (and the class names) give the Keras defaults (0.01, 0.01, 0 and 0).
"""

from __future__ import annotations

import math

from highlevel import ops
from highlevel.saving import registry


def _validate(value, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
            or math.isinf(value) or value < 0):
        raise ValueError(f"invalid value for argument {name}: expected a non-negative float, got {name}={value!r}")
    return float(value)


@registry.register_serializable(package="highlevel")
class Regularizer:
    """Base class: ``regularizer(x)`` returns a scalar penalty for tensor ``x``."""

    def __call__(self, x):
        return ops.convert_to_tensor(0.0)

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


@registry.register_serializable(package="highlevel")
class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x^2)``; both default to 0."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validate(0.0 if l1 is None else l1, "l1")
        self.l2 = _validate(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        dtype = ops.dtype(x)
        penalty = ops.zeros((), dtype=dtype)
        if self.l1:
            penalty = ops.add(penalty, ops.multiply(ops.sum(ops.abs(x)), self.l1))
        if self.l2:
            penalty = ops.add(penalty, ops.multiply(ops.sum(ops.square(x)), self.l2))
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


@registry.register_serializable(package="highlevel")
class L1(Regularizer):
    """``l1 * sum(|x|)``, ``l1`` 0.01 by default."""

    def __init__(self, l1=0.01):
        self.l1 = _validate(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        return ops.multiply(ops.sum(ops.abs(x)), self.l1)

    def get_config(self):
        return {"l1": self.l1}


@registry.register_serializable(package="highlevel")
class L2(Regularizer):
    """``l2 * sum(x^2)``, ``l2`` 0.01 by default."""

    def __init__(self, l2=0.01):
        self.l2 = _validate(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return ops.multiply(ops.sum(ops.square(x)), self.l2)

    def get_config(self):
        return {"l2": self.l2}


@registry.register_serializable(package="highlevel")
class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D ``x`` towards orthogonality.

    ``factor * 0.5 * sum(|P - diag(P)|) / (n (n - 1) / 2)``, ``P`` the Gram matrix of
    the L2-normalized rows (``mode="rows"``) or columns (``"columns"``), ``n`` their count.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _validate(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got mode={mode!r}")
        self.mode = mode

    def __call__(self, x):
        shape = ops.shape(x)
        if len(shape) != 2:
            raise ValueError(f"OrthogonalRegularizer: inputs must have rank 2, got shape {shape}")
        axis = 1 if self.mode == "rows" else 0
        norms = ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))
        unit = ops.divide(x, norms)
        gram = ops.matmul(unit, ops.transpose(unit)) if axis == 1 else ops.matmul(ops.transpose(unit), unit)
        n = shape[0] if axis == 1 else shape[1]
        off_diagonal = ops.multiply(gram, ops.subtract(1.0, ops.eye(n, dtype=ops.dtype(x))))
        pairs = n * (n - 1) / 2.0
        return ops.multiply(ops.sum(ops.abs(off_diagonal)), self.factor * 0.5 / pairs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({"regularizer": Regularizer, "l1": L1, "l2": L2, "l1_l2": L1L2,
                 "orthogonal_regularizer": OrthogonalRegularizer})


_FAMILY = registry.ObjectFamily("regularizer", _BY_NAME, callable_hint="a callable")
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize
get = _FAMILY.get


# Keras's lower-case aliases.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "deserialize", "get", "serialize",
           "l1", "l2", "l1_l2"]
