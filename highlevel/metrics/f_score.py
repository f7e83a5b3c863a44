"""``FBetaScore`` and ``F1Score`` over one-hot / multi-label predictions ``(batch, classes)``."""

from __future__ import annotations

from highlevel import ops
from highlevel.metrics.metric import PACKAGE, Metric
from highlevel.saving import registry

EPSILON = 1e-7
_AVERAGES = (None, "micro", "macro", "weighted")


@registry.register_serializable(package=PACKAGE)
class FBetaScore(Metric):
    """``(1 + b^2) * P * R / (b^2 * P + R)`` per class, optionally averaged.

    average: ``None`` (one score per class), ``"micro"`` (counts pooled over classes),
    ``"macro"`` (unweighted mean of class scores) or ``"weighted"`` (mean weighted by
    each class's number of true labels). threshold: ``None`` marks the arg-max of each
    sample as predicted (ties all count); a float in ``(0, 1]`` marks ``y_pred > threshold``.

    Its state depends on the class count, so it is created by ``build(y_true_shape,
    y_pred_shape)`` (the trainer calls it before compiling; a standalone
    ``update_state`` builds on first use).
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in _AVERAGES:
            raise ValueError(f"{type(self).__name__}: invalid average {average!r}; expected one of {_AVERAGES}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"{type(self).__name__}: beta must be a Python float > 0, got {beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"{type(self).__name__}: threshold must be None or a float in (0, 1], "
                             f"got {threshold!r}")
        super().__init__(name=name, dtype=dtype)
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self.built = False

    def build(self, y_true_shape=None, y_pred_shape=None):
        if self.built:
            return
        if y_pred_shape is None or len(y_pred_shape) != 2 or (y_true_shape is not None and len(y_true_shape) != 2):
            raise ValueError(f"{type(self).__name__} expects 2-D inputs (batch, classes); got y_true shape "
                             f"{y_true_shape} and y_pred shape {y_pred_shape}")
        if y_pred_shape[-1] is None:
            raise ValueError(f"{type(self).__name__}: the class count of y_pred must be known, got {y_pred_shape}")
        shape = () if self.average == "micro" else (int(y_pred_shape[-1]),)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self.intermediate_weights = self.add_variable(shape, name="intermediate_weights")
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = self._input(y_true)
        y_pred = self._input(y_pred)
        if not self.built:
            self.build(ops.shape(y_true), ops.shape(y_pred))
        if self.threshold is None:
            top = ops.max(y_pred, axis=-1, keepdims=True)
            predicted = ops.logical_and(ops.greater_equal(y_pred, top), ops.greater(ops.abs(y_pred), 1e-9))
        else:
            predicted = ops.greater(y_pred, self.threshold)
        predicted = ops.cast(predicted, self.dtype)
        weight = None
        if sample_weight is not None:
            weight = ops.expand_dims(ops.cast(ops.convert_to_tensor(sample_weight), self.dtype), 1)

        def weighted_sum(values):
            if weight is not None:
                values = ops.multiply(values, weight)
            return ops.sum(values, axis=self.axis)

        self.true_positives.assign_add(weighted_sum(ops.multiply(predicted, y_true)))
        self.false_positives.assign_add(weighted_sum(ops.multiply(predicted, ops.subtract(1.0, y_true))))
        self.false_negatives.assign_add(weighted_sum(ops.multiply(ops.subtract(1.0, predicted), y_true)))
        self.intermediate_weights.assign_add(weighted_sum(y_true))

    def result(self):
        if not self.built:
            return ops.zeros((), dtype=self.dtype)
        tp = self.true_positives.value
        precision = ops.divide(tp, ops.add(ops.add(tp, self.false_positives.value), EPSILON))
        recall = ops.divide(tp, ops.add(ops.add(tp, self.false_negatives.value), EPSILON))
        beta2 = self.beta ** 2
        score = ops.divide(ops.multiply(precision, recall),
                           ops.add(ops.add(ops.multiply(precision, beta2), recall), EPSILON))
        score = ops.multiply(score, 1.0 + beta2)
        if self.average == "weighted":
            counts = self.intermediate_weights.value
            weights = ops.divide(counts, ops.add(ops.sum(counts), EPSILON))
            return ops.sum(ops.multiply(score, weights))
        if self.average is not None:
            return ops.mean(score)
        return score

    def reset_state(self):
        if self.built:
            super().reset_state()

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


@registry.register_serializable(package=PACKAGE)
class F1Score(FBetaScore):
    """The F-beta score with ``beta = 1``: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
