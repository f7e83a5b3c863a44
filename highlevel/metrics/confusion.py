"""Thresholded classification metrics: ``Precision``, ``Recall`` and ``AUC``.

They accumulate confusion counts (true/false positives/negatives) at a fixed list
of thresholds ``T``: a prediction is positive at threshold ``t`` when ``y_pred > t``
and a label is positive when it is non-zero. Counts are weighted by
``sample_weight`` (broadcast over the label axes).
"""

from __future__ import annotations

import numpy as np

from highlevel import ops
from highlevel.losses.loss import divide_no_nan, squeeze_or_expand_to_same_rank
from highlevel.metrics.metric import PACKAGE, Metric
from highlevel.saving import registry

NEG_INF = -1e10
EPSILON = 1e-7


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple, np.ndarray)) else [x]


def parse_thresholds(thresholds, default):
    """A list of thresholds, each in ``[0, 1]`` (``None`` gives ``[default]``)."""
    if thresholds is None:
        return [default]
    thresholds = [float(t) for t in _as_list(thresholds)]
    bad = [t for t in thresholds if not 0.0 <= t <= 1.0]
    if bad:
        raise ValueError(f"thresholds must be in [0, 1], got {bad}")
    return thresholds


def evenly_distributed(thresholds) -> bool:
    """Whether thresholds are ``i / (n - 1)`` for ``i = 0..n-1`` (Keras then clips predictions to [0, 1])."""
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON)


def filter_top_k(x, k):
    """Keep the ``k`` largest entries of the last axis; the others become ``-1e10``."""
    _, indices = ops.top_k(x, k)
    keep = ops.sum(ops.one_hot(indices, ops.shape(x)[-1], dtype=ops.dtype(x)), axis=-2)
    return ops.add(ops.multiply(x, keep), ops.multiply(ops.subtract(1.0, keep), NEG_INF))


def confusion_counts(y_true, y_pred, thresholds, sample_weight=None, top_k=None, class_id=None,
                     multi_label=False, label_weights=None, clip_predictions=False, dtype="float32"):
    """Weighted ``(tp, fp, tn, fn)`` at each threshold.

    y_true, y_pred: ``(batch, ...)`` (``(batch,)`` vs ``(batch, 1)`` is aligned).
    thresholds: a list of ``T`` floats. Returns four tensors of shape ``(T,)``, or
    ``(T, labels)`` with ``multi_label=True`` (y_pred then ``(batch, labels)``).
    """
    y_true = ops.cast(y_true, dtype)
    y_pred = ops.cast(y_pred, dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = ops.expand_dims(ops.cast(ops.convert_to_tensor(sample_weight), dtype), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if ops.ndim(y_pred) == 1:
            raise ValueError(f"class_id needs y_pred of shape (batch, classes), got {ops.shape(y_pred)}")
        pick = (Ellipsis, slice(class_id, class_id + 1))
        y_true, y_pred = ops.getitem(y_true, pick), ops.getitem(y_pred, pick)
    if clip_predictions:
        y_pred = ops.clip(y_pred, 0.0, 1.0)

    positive = ops.cast(ops.not_equal(y_true, 0.0), dtype)
    weights = ops.ones_like(y_pred)
    if sample_weight is not None:
        weights = ops.broadcast_to(sample_weight, ops.shape(y_pred))
    if label_weights is not None and not multi_label:
        weights = ops.multiply(weights, ops.broadcast_to(ops.expand_dims(label_weights, 0), ops.shape(y_pred)))
    thresholds = ops.convert_to_tensor(np.asarray(thresholds, dtype=dtype))
    if multi_label:
        # (T, batch, labels): thresholds on the first axis, counts summed over the batch.
        predicted = ops.greater(ops.expand_dims(y_pred, 0), ops.reshape(thresholds, (-1, 1, 1)))
    else:
        positive, y_pred, weights = (ops.reshape(t, (-1,)) for t in (positive, y_pred, weights))
        predicted = ops.greater(ops.expand_dims(y_pred, 0), ops.reshape(thresholds, (-1, 1)))
    predicted = ops.cast(predicted, dtype)
    true_weight = ops.multiply(positive, weights)
    false_weight = ops.multiply(ops.subtract(1.0, positive), weights)
    tp = ops.sum(ops.multiply(predicted, true_weight), axis=1)
    fp = ops.sum(ops.multiply(predicted, false_weight), axis=1)
    fn = ops.subtract(ops.sum(true_weight, axis=0), tp)
    tn = ops.subtract(ops.sum(false_weight, axis=0), fp)
    return tp, fp, tn, fn


class _ThresholdMetric(Metric):
    """Shared state of ``Precision`` and ``Recall``: counts per threshold."""

    _second = None  # "false_positives" (precision) or "false_negatives" (recall)

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._clip = evenly_distributed(self.thresholds)
        self.true_positives = self.add_variable((len(self.thresholds),), name="true_positives")
        setattr(self, self._second, self.add_variable((len(self.thresholds),), name=self._second))

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = confusion_counts(self._input(y_true), self._input(y_pred), self.thresholds,
                                         sample_weight=sample_weight, top_k=self.top_k, class_id=self.class_id,
                                         clip_predictions=self._clip, dtype=self.dtype)
        self.true_positives.assign_add(tp)
        getattr(self, self._second).assign_add(fp if self._second == "false_positives" else fn)

    def result(self):
        tp = self.true_positives.value
        ratio = divide_no_nan(tp, ops.add(tp, getattr(self, self._second).value))
        return ops.getitem(ratio, 0) if len(self.thresholds) == 1 else ratio

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


@registry.register_serializable(package=PACKAGE)
class Precision(_ThresholdMetric):
    """``tp / (tp + fp)`` at each threshold (default 0.5; a scalar for one threshold).

    ``top_k``: only the ``k`` highest predictions of a sample count as positive;
    ``class_id``: only that class (column) is scored.
    """

    _second = "false_positives"


@registry.register_serializable(package=PACKAGE)
class Recall(_ThresholdMetric):
    """``tp / (tp + fn)`` at each threshold (default 0.5; a scalar for one threshold)."""

    _second = "false_negatives"


_CURVES = ("ROC", "PR")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


@registry.register_serializable(package=PACKAGE)
class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at ``num_thresholds`` thresholds.

    Thresholds are ``-1e-7, 1/(n-1), ..., (n-2)/(n-1), 1 + 1e-7`` (or ``thresholds``
    plus the two ends). ``summation_method``: ``"interpolation"`` (trapezoids for ROC;
    Davis & Goadrich's interpolation for PR), ``"minoring"`` or ``"majoring"``.
    ``multi_label=True`` keeps one curve per label of ``y_pred (batch, labels)`` and
    averages them (weighted by ``label_weights``); its state is built from the label
    count (``num_labels`` or ``build``).
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        curve = str(curve).upper()
        if curve not in _CURVES:
            raise ValueError(f"AUC: invalid curve {curve!r}; expected one of {_CURVES}")
        summation_method = str(summation_method).lower()
        if summation_method not in _SUMMATIONS:
            raise ValueError(f"AUC: invalid summation_method {summation_method!r}; expected one of {_SUMMATIONS}")
        super().__init__(name=name, dtype=dtype)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
            self._clip = evenly_distributed([0.0] + inner + [1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1, got {num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._clip = True
        # The ends sit just outside [0, 1] so that predictions of exactly 0 or 1 are counted.
        self._thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]
        self.curve = curve
        self.summation_method = summation_method
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else [float(w) for w in _as_list(label_weights)]
        self._from_logits = bool(from_logits)
        self.built = False
        if self.multi_label:
            if num_labels:
                self.build(None, (None, num_labels))
        else:
            if num_labels:
                raise ValueError("AUC: num_labels is needed only when multi_label=True")
            self.build(None, None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def build(self, y_true_shape=None, y_pred_shape=None):
        if self.built:
            return
        if self.multi_label:
            if y_pred_shape is None or len(y_pred_shape) != 2:
                raise ValueError(f"AUC(multi_label=True) needs y_pred of shape (batch, labels), got {y_pred_shape}")
            self._num_labels = int(y_pred_shape[1])
            shape = (self.num_thresholds, self._num_labels)
        else:
            shape = (self.num_thresholds,)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.true_negatives = self.add_variable(shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = self._input(y_pred)
        if not self.built:
            self.build(None, ops.shape(y_pred))
        if self._from_logits:
            y_pred = ops.sigmoid(y_pred)
        label_weights = None
        if self.label_weights is not None and not self.multi_label:
            label_weights = ops.convert_to_tensor(np.asarray(self.label_weights, dtype=self.dtype))
        tp, fp, tn, fn = confusion_counts(self._input(y_true), y_pred, self._thresholds, sample_weight=sample_weight,
                                          multi_label=self.multi_label, label_weights=label_weights,
                                          clip_predictions=self._clip, dtype=self.dtype)
        self.true_positives.assign_add(tp)
        self.false_positives.assign_add(fp)
        self.true_negatives.assign_add(tn)
        self.false_negatives.assign_add(fn)

    def _average_labels(self, by_label):
        """Mean (or ``label_weights``-weighted mean) of per-label areas."""
        if self.label_weights is None:
            return ops.mean(by_label)
        weights = ops.convert_to_tensor(np.asarray(self.label_weights, dtype=self.dtype))
        return divide_no_nan(ops.sum(ops.multiply(by_label, weights)), ops.sum(weights))

    def _interpolate_pr_auc(self):
        """PR area with precision interpolated between thresholds (Davis & Goadrich, 2006)."""
        n = self.num_thresholds
        head, tail = slice(0, n - 1), slice(1, n)
        tp = self.true_positives.value
        p = ops.add(tp, self.false_positives.value)
        dtp = ops.subtract(ops.getitem(tp, head), ops.getitem(tp, tail))
        dp = ops.subtract(ops.getitem(p, head), ops.getitem(p, tail))
        slope = divide_no_nan(dtp, ops.maximum(dp, 0.0))
        intercept = ops.subtract(ops.getitem(tp, tail), ops.multiply(slope, ops.getitem(p, tail)))
        p_head, p_tail = ops.getitem(p, head), ops.getitem(p, tail)
        both = ops.logical_and(ops.greater(p_head, 0.0), ops.greater(p_tail, 0.0))
        ratio = ops.where(both, divide_no_nan(p_head, ops.maximum(p_tail, 0.0)), ops.ones_like(p_tail))
        increment = divide_no_nan(
            ops.multiply(slope, ops.add(dtp, ops.multiply(intercept, ops.log(ratio)))),
            ops.maximum(ops.add(ops.getitem(tp, tail), ops.getitem(self.false_negatives.value, tail)), 0.0))
        if self.multi_label:
            return self._average_labels(ops.sum(increment, axis=0))
        return ops.sum(increment)

    def result(self):
        if not self.built:
            return ops.zeros((), dtype=self.dtype)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        recall = divide_no_nan(tp, ops.add(tp, fn))
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, ops.add(fp, tn)), recall
        else:
            x, y = recall, divide_no_nan(tp, ops.add(tp, fp))
        n = self.num_thresholds
        y_head, y_tail = ops.getitem(y, slice(0, n - 1)), ops.getitem(y, slice(1, n))
        if self.summation_method == "interpolation":
            heights = ops.multiply(ops.add(y_head, y_tail), 0.5)
        elif self.summation_method == "minoring":
            heights = ops.minimum(y_head, y_tail)
        else:
            heights = ops.maximum(y_head, y_tail)
        widths = ops.subtract(ops.getitem(x, slice(0, n - 1)), ops.getitem(x, slice(1, n)))
        terms = ops.multiply(widths, heights)
        if self.multi_label:
            return self._average_labels(ops.sum(terms, axis=0))
        return ops.sum(terms)

    def reset_state(self):
        if self.built:
            super().reset_state()

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "label_weights": self.label_weights,
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self._thresholds[1:-1]
        return config
