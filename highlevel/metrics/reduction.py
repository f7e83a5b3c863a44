"""Streaming reductions: ``Sum``, ``Mean`` and ``MeanMetricWrapper`` (the mean of a function).

Sample weights follow Keras: per-sample values ``(batch, ...)`` and a weight of rank
``r`` are first reduced over the axes the weight does not cover, multiplied by the
weight, then reduced to one value per sample; ``Mean`` divides the weighted total by
the total weight (the number of samples when there are no weights).
"""

from __future__ import annotations

from highlevel import ops
from highlevel.losses.loss import as_tensor, squeeze_or_expand_to_same_rank
from highlevel.metrics.metric import PACKAGE, Metric
from highlevel.saving import registry


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """``(values, weights)`` with one value per sample (Keras's ``reduce_to_samplewise_values``).

    values: ``(batch, ...)``; sample_weight: ``None`` or broadcastable to ``values``
    after aligning ranks. Returns values ``(batch,)`` (or a scalar) and weights
    ``(batch,)`` or ``None``.
    """
    values = ops.cast(values, dtype) if ops.dtype(values) != dtype else values
    if sample_weight is not None:
        sample_weight = ops.stop_gradient(ops.cast(ops.convert_to_tensor(sample_weight), dtype))
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = ops.ndim(sample_weight), ops.ndim(values)
        if values_ndim > weight_ndim:
            values = reduce_fn(values, axis=tuple(range(weight_ndim, values_ndim)))
        sample_weight = ops.broadcast_to(sample_weight, ops.shape(values))
        values = ops.multiply(values, sample_weight)
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, weight_ndim)))
    if ops.ndim(values) > 1:
        values = reduce_fn(values, axis=tuple(range(1, ops.ndim(values))))
    return values, sample_weight


@registry.register_serializable(package=PACKAGE)
class Sum(Metric):
    """The (weighted) sum of all values seen: ``[1, 3, 5, 7]`` -> 16."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(self._input(values), sample_weight, ops.sum, self.dtype)
        self.total.assign_add(ops.sum(values))

    def result(self):
        # A new tensor, not the state itself: torch variables are updated in place, and a
        # result kept in a history must not change with later updates.
        return ops.multiply(self.total.value, 1.0)


@registry.register_serializable(package=PACKAGE)
class Mean(Metric):
    """The (weighted) mean of all values seen: ``total / count``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(self._input(values), sample_weight, ops.mean,
                                                            self.dtype)
        self.total.assign_add(ops.sum(values))
        if sample_weight is not None:
            count = ops.sum(sample_weight)
        else:
            count = ops.full((), float(ops.shape(values)[0] if ops.ndim(values) else 1), self.dtype)
        self.count.assign_add(count)

    def result(self):
        count = self.count.value
        zero = ops.equal(count, 0.0)
        quotient = ops.divide(self.total.value, ops.where(zero, ops.ones_like(count), count))
        return ops.where(zero, ops.zeros_like(quotient), quotient)


@registry.register_serializable(package=PACKAGE)
class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample values).

    ``hl.metrics.get(fn)`` wraps plain functions this way; saving one needs ``fn``
    registered with ``@hl.saving.register_serializable()``.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"MeanMetricWrapper: fn must be callable, got {fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean_metric_wrapper", dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        # y_true keeps its dtype (integer labels stay integers); y_pred takes the metric's.
        y_true = ops.stop_gradient(as_tensor(y_true))
        values = self._fn(y_true, self._input(y_pred), **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        if type(self) is MeanMetricWrapper:
            try:
                config["fn"] = registry.get_registered_name(self._fn)
            except ValueError:
                raise ValueError(f"cannot serialize metric {self.name!r}: its function {self._fn!r} is not "
                                 f"registered; decorate it with @hl.saving.register_serializable()") from None
            config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is MeanMetricWrapper:
            name = config.pop("fn")
            fn = registry.get_registered_object(name) if isinstance(name, str) else name
            if fn is None:
                raise ValueError(f"unknown metric function {name!r}: register it with "
                                 f"@hl.saving.register_serializable()")
            return cls(fn, **config)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} fn={getattr(self._fn, '__name__', self._fn)}>"
