"""Accuracy metrics: exact, binary (thresholded), categorical, sparse categorical, top-k.

Each function returns per-sample matches (1.0 / 0.0) of shape ``(batch, ...)``; each
class is the running (weighted) mean of its function.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.losses.loss import as_tensor, squeeze_or_expand_to_same_rank
from highlevel.metrics.metric import PACKAGE
from highlevel.metrics.reduction import MeanMetricWrapper
from highlevel.saving import registry


def _matches(a, b):
    return ops.cast(ops.equal(a, b), "float32")


@registry.register_serializable(package=PACKAGE)
def accuracy(y_true, y_pred):
    """``y_true == y_pred`` elementwise."""
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, ops.dtype(y_pred))
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return _matches(y_true, y_pred)


@registry.register_serializable(package=PACKAGE)
def binary_accuracy(y_true, y_pred, threshold=0.5):
    """``y_true == (y_pred > threshold)`` elementwise, then averaged over the last axis."""
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    predicted = ops.cast(ops.greater(y_pred, threshold), ops.dtype(y_true))
    return _matches(y_true, predicted)


@registry.register_serializable(package=PACKAGE)
def categorical_accuracy(y_true, y_pred):
    """``argmax(y_true) == argmax(y_pred)``: one-hot ``(batch, ..., C)`` -> ``(batch, ...)``."""
    return _matches(ops.argmax(as_tensor(y_true), axis=-1), ops.argmax(as_tensor(y_pred), axis=-1))


def _squeeze_sparse_labels(y_true, y_pred):
    if ops.ndim(y_true) == ops.ndim(y_pred) and ops.shape(y_true)[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    return y_true


@registry.register_serializable(package=PACKAGE)
def sparse_categorical_accuracy(y_true, y_pred):
    """``y_true == argmax(y_pred)``: labels ``(batch, ...)`` or ``(batch, ..., 1)`` -> ``(batch, ...)``."""
    y_pred = as_tensor(y_pred)
    y_true = _squeeze_sparse_labels(as_tensor(y_true), y_pred)
    # Compared as floats, as Keras: a label of 1.5 matches no class.
    predicted = ops.cast(ops.argmax(y_pred, axis=-1), "float32")
    return _matches(ops.cast(y_true, "float32"), predicted)


def in_top_k(targets, predictions, k):
    """Whether each target class is among the ``k`` highest predictions (TensorFlow's rule).

    targets: ``(n,)`` integer classes; predictions: ``(n, C)``. Ties at the boundary
    count as inside (a class is in the top k when fewer than ``k`` classes score
    strictly higher); a target out of ``[0, C)`` or with a non-finite score is not.
    """
    classes = ops.shape(predictions)[-1]
    targets = ops.cast(targets, "int32")
    in_range = ops.logical_and(ops.greater_equal(targets, 0), ops.less(targets, classes))
    safe = ops.clip(targets, 0, max(classes - 1, 0))
    target_score = ops.take_along_axis(predictions, ops.expand_dims(safe, -1), axis=-1)
    higher = ops.sum(ops.cast(ops.greater(predictions, target_score), "int32"), axis=-1)
    finite = ops.squeeze(ops.isfinite(target_score), axis=-1)
    return ops.logical_and(ops.logical_and(ops.less(higher, k), in_range), finite)


def _top_k_matches(labels, y_pred, k):
    """``in_top_k`` over any leading shape: labels ``(batch, ...)``, y_pred ``(batch, ..., C)``."""
    shape = ops.shape(labels)
    flat_pred = ops.reshape(y_pred, (-1, ops.shape(y_pred)[-1]))
    matches = in_top_k(ops.reshape(labels, (-1,)), flat_pred, k)
    return ops.reshape(ops.cast(matches, "float32"), shape)


@registry.register_serializable(package=PACKAGE)
def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Whether ``argmax(y_true)`` is among the top ``k`` of ``y_pred``: ``(batch, C)`` -> ``(batch,)``."""
    y_pred = as_tensor(y_pred)
    return _top_k_matches(ops.argmax(as_tensor(y_true), axis=-1), y_pred, k)


@registry.register_serializable(package=PACKAGE)
def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """Whether the label is among the top ``k`` of ``y_pred``.

    With ``from_sorted_ids=True``, ``y_pred`` holds class ids sorted by score
    ``(batch, >= k)`` and the label must be among its first ``k`` entries.
    """
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true)
    if from_sorted_ids:
        labels = ops.cast(ops.reshape(y_true, (-1, 1)), ops.dtype(y_pred))
        first_k = ops.getitem(ops.reshape(y_pred, (-1, ops.shape(y_pred)[-1])), (slice(None), slice(0, k)))
        matches = ops.any(ops.equal(labels, first_k), axis=1)
        return ops.reshape(ops.cast(matches, "float32"), ops.shape(y_true))
    return _top_k_matches(y_true, y_pred, k)


@registry.register_serializable(package=PACKAGE)
class Accuracy(MeanMetricWrapper):
    """How often ``y_pred`` equals ``y_true`` exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


@registry.register_serializable(package=PACKAGE)
class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 label."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@registry.register_serializable(package=PACKAGE)
class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of ``y_pred`` matches that of the one-hot label."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


@registry.register_serializable(package=PACKAGE)
class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of ``y_pred`` equals the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


@registry.register_serializable(package=PACKAGE)
class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label's class is among the ``k`` highest predictions."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@registry.register_serializable(package=PACKAGE)
class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest predictions."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self):
        config = {**super().get_config(), "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
