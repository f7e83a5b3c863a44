"""Regression losses: MSE, MAE, MAPE, Huber, log-cosh, cosine similarity.

Each function maps ``y_true``, ``y_pred`` of shape ``(batch, ..., d)`` to per-sample
values ``(batch, ...)`` (the mean over the last axis); each class wraps its function
with sample weighting and reduction (see ``loss.py``). ``(batch,)`` against
``(batch, 1)`` is accepted: ranks are aligned first, as in Keras.
"""

from __future__ import annotations

import math

from highlevel import ops
from highlevel.losses.loss import PACKAGE, Loss, as_tensor, squeeze_or_expand_to_same_rank
from highlevel.saving import registry

EPSILON = 1e-7


def _pair(y_true, y_pred):
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, ops.dtype(y_pred))
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


@registry.register_serializable(package=PACKAGE)
def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred) ** 2, axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


@registry.register_serializable(package=PACKAGE)
def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|, axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


@registry.register_serializable(package=PACKAGE)
def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|, axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = ops.abs(ops.divide(ops.subtract(y_true, y_pred), ops.maximum(ops.abs(y_true), EPSILON)))
    return ops.multiply(ops.mean(diff, axis=-1), 100.0)


@registry.register_serializable(package=PACKAGE)
def huber(y_true, y_pred, delta=1.0):
    """Mean over the last axis of ``0.5 e^2`` where ``|e| <= delta``, else ``delta |e| - 0.5 delta^2``."""
    y_true, y_pred = _pair(y_true, y_pred)
    delta = float(delta)
    error = ops.subtract(y_pred, y_true)
    abs_error = ops.abs(error)
    quadratic = ops.multiply(ops.square(error), 0.5)
    linear = ops.subtract(ops.multiply(abs_error, delta), 0.5 * delta * delta)
    return ops.mean(ops.where(ops.less_equal(abs_error, delta), quadratic, linear), axis=-1)


@registry.register_serializable(package=PACKAGE)
def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed as ``x + softplus(-2x) - log 2`` (no overflow)."""
    y_true, y_pred = _pair(y_true, y_pred)
    x = ops.subtract(y_pred, y_true)
    values = ops.subtract(ops.add(x, ops.softplus(ops.multiply(x, -2.0))), math.log(2.0))
    return ops.mean(values, axis=-1)


def l2_normalize(x, axis=-1):
    """``x / max(||x||, 1e-7)`` along ``axis``, as Keras's ``normalize`` (zero vectors stay zero).

    ``rsqrt(max(s, eps^2))`` equals Keras's ``min(rsqrt(s), 1 / eps)`` and keeps the
    gradient finite at ``s = 0``.
    """
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.multiply(x, ops.rsqrt(ops.maximum(square_sum, EPSILON * EPSILON)))


@registry.register_serializable(package=PACKAGE)
def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: -1 when aligned, 0 if orthogonal."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.negative(ops.sum(ops.multiply(l2_normalize(y_true, axis), l2_normalize(y_pred, axis)), axis=axis))


@registry.register_serializable(package=PACKAGE)
class MeanSquaredError(Loss):
    """Mean of squared errors over the last axis, then reduced over the batch."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


@registry.register_serializable(package=PACKAGE)
class MeanAbsoluteError(Loss):
    """Mean of absolute errors over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


@registry.register_serializable(package=PACKAGE)
class MeanAbsolutePercentageError(Loss):
    """``100 * mean(|(y_true - y_pred) / y_true|)`` over the last axis (denominator at least 1e-7)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        return mean_absolute_percentage_error(y_true, y_pred)


@registry.register_serializable(package=PACKAGE)
class Huber(Loss):
    """Huber loss: quadratic for errors up to ``delta``, linear beyond."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.delta = delta

    def call(self, y_true, y_pred):
        return huber(y_true, y_pred, delta=self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


@registry.register_serializable(package=PACKAGE)
class LogCosh(Loss):
    """Mean of ``log(cosh(y_pred - y_true))`` over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        return log_cosh(y_true, y_pred)


@registry.register_serializable(package=PACKAGE)
class CosineSimilarity(Loss):
    """Negative cosine similarity along ``axis`` (minimizing it aligns the vectors)."""

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.axis = axis

    def call(self, y_true, y_pred):
        return cosine_similarity(y_true, y_pred, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
