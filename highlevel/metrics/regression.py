"""Regression metrics: running means of MSE, MAE, MAPE, log-cosh, cosine similarity; RMSE.

Per-sample values come from the loss functions of the same name (``hl.losses``).
"""

from __future__ import annotations

from highlevel import ops
from highlevel.losses.loss import as_tensor, squeeze_or_expand_to_same_rank
from highlevel.losses.regression import (l2_normalize, log_cosh, mean_absolute_error, mean_absolute_percentage_error,
                                         mean_squared_error)
from highlevel.metrics.metric import PACKAGE
from highlevel.metrics.reduction import Mean, MeanMetricWrapper
from highlevel.saving import registry


@registry.register_serializable(package=PACKAGE)
def cosine_similarity(y_true, y_pred, axis=-1):
    """``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`` (1 when aligned; the loss negates it)."""
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, ops.dtype(y_pred))
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return ops.sum(ops.multiply(l2_normalize(y_true, axis), l2_normalize(y_pred, axis)), axis=axis)


@registry.register_serializable(package=PACKAGE)
class MeanSquaredError(MeanMetricWrapper):
    """Running mean of ``mean((y_true - y_pred) ** 2, axis=-1)``."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


@registry.register_serializable(package=PACKAGE)
class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of ``mean(|y_true - y_pred|, axis=-1)``."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


@registry.register_serializable(package=PACKAGE)
class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Running mean of the mean absolute percentage error."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


@registry.register_serializable(package=PACKAGE)
class LogCoshError(MeanMetricWrapper):
    """Running mean of ``mean(log(cosh(y_pred - y_true)), axis=-1)``."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name=name, dtype=dtype)


@registry.register_serializable(package=PACKAGE)
class CosineSimilarity(MeanMetricWrapper):
    """Running mean of the cosine similarity along ``axis``."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@registry.register_serializable(package=PACKAGE)
class RootMeanSquaredError(Mean):
    """``sqrt`` of the running (weighted) mean of the squared errors (each element counts)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = self._input(y_pred)
        y_true = self._input(y_true)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return super().update_state(ops.square(ops.subtract(y_pred, y_true)), sample_weight=sample_weight)

    def result(self):
        return ops.sqrt(super().result())
