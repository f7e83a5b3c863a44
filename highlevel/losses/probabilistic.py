"""Probabilistic losses: binary, categorical and sparse categorical cross-entropy, KL divergence.

The cross-entropies use the backend's fused ops (``hl.ops.binary_crossentropy`` ...),
which clip probabilities to ``[1e-7, 1 - 1e-7]`` and are stable on logits
(``from_logits=True``). Per-sample shapes: ``y_pred (batch, ..., classes)`` ->
``(batch, ...)``.
"""

from __future__ import annotations

import warnings

from highlevel import ops
from highlevel.losses.loss import PACKAGE, Loss, as_tensor, squeeze_or_expand_to_same_rank
from highlevel.saving import registry

EPSILON = 1e-7


def _pair(y_true, y_pred):
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, ops.dtype(y_pred))
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def _check_smoothing(label_smoothing):
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    return float(label_smoothing)


@registry.register_serializable(package=PACKAGE)
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over ``axis`` of the elementwise binary cross-entropy.

    ``label_smoothing`` ``s`` moves targets towards 0.5: ``t * (1 - s) + 0.5 * s``.
    y_true, y_pred: ``(batch, ..., d)`` (``(batch,)`` vs ``(batch, 1)`` is aligned) -> ``(batch, ...)``.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    smoothing = _check_smoothing(label_smoothing)
    if smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - smoothing), 0.5 * smoothing)
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


@registry.register_serializable(package=PACKAGE)
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y_true * log(p), axis)`` with one-hot (or probability) targets.

    ``label_smoothing`` ``s`` mixes targets with the uniform distribution over the
    ``C`` classes: ``t * (1 - s) + s / C``.
    y_true, y_pred: ``(batch, ..., C)`` -> ``(batch, ...)``.
    """
    if isinstance(axis, bool):
        raise ValueError(f"categorical_crossentropy: axis must be an int, got {axis!r}")
    y_true, y_pred = _pair(y_true, y_pred)
    if ops.shape(y_pred)[axis] == 1:
        warnings.warn(f"categorical_crossentropy: y_pred has shape {ops.shape(y_pred)}, with a single class; "
                      f"use binary_crossentropy for two classes", stacklevel=2)
    smoothing = _check_smoothing(label_smoothing)
    if smoothing:
        classes = ops.shape(y_true)[axis]
        y_true = ops.add(ops.multiply(y_true, 1.0 - smoothing), smoothing / classes)
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def _sparse_labels(y_true, y_pred, axis):
    """Labels with the class axis removed: ``(batch, 1)`` against ``(batch, C)`` -> ``(batch,)``."""
    y_true = as_tensor(y_true)
    if ops.ndim(y_true) == ops.ndim(y_pred) and ops.shape(y_true)[axis] == 1:
        y_true = ops.squeeze(y_true, axis=axis)
    return y_true


def _ignored_mask(y_true, ignore_class):
    """Boolean mask of the labels that count (``y_true != ignore_class``)."""
    return ops.not_equal(y_true, ops.cast(ops.convert_to_tensor(ignore_class), ops.dtype(y_true)))


@registry.register_serializable(package=PACKAGE)
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy with integer labels.

    y_true: ``(batch, ...)`` (or ``(batch, ..., 1)``) class ids in ``[0, C)``; a label out
    of range raises ``hl.ops.InvalidArgumentError``. y_pred: ``(batch, ..., C)``.
    Entries whose label equals ``ignore_class`` give 0 (the ``Loss`` class also leaves
    them out of the average).
    """
    y_pred = as_tensor(y_pred)
    y_true = _sparse_labels(y_true, y_pred, axis)
    valid = None
    if ignore_class is not None:
        valid = _ignored_mask(y_true, ignore_class)
        y_true = ops.where(valid, y_true, ops.zeros_like(y_true))
        # Ignored rows become uniform, so their (discarded) loss and gradient stay finite.
        y_pred = ops.where(ops.expand_dims(valid, axis), y_pred, ops.ones_like(y_pred))
    values = ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    if valid is not None:
        values = ops.where(valid, values, ops.zeros_like(values))
    return values


@registry.register_serializable(package=PACKAGE)
def kl_divergence(y_true, y_pred):
    """``sum(t * log(t / p), axis=-1)`` with both clipped to ``[1e-7, 1]``."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = ops.clip(y_true, EPSILON, 1.0)
    y_pred = ops.clip(y_pred, EPSILON, 1.0)
    return ops.sum(ops.multiply(y_true, ops.log(ops.divide(y_true, y_pred))), axis=-1)


@registry.register_serializable(package=PACKAGE)
class BinaryCrossentropy(Loss):
    """Binary cross-entropy for 0/1 (or soft) targets, averaged over ``axis``."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.axis = axis

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, from_logits=self.from_logits,
                                   label_smoothing=self.label_smoothing, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


@registry.register_serializable(package=PACKAGE)
class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot targets ``(batch, ..., C)``."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.axis = axis

    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits,
                                        label_smoothing=self.label_smoothing, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


@registry.register_serializable(package=PACKAGE)
class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer labels ``(batch, ...)`` against ``(batch, ..., C)``.

    With ``ignore_class``, entries with that label are left out: the default reduction
    averages over the remaining entries only (as Keras).
    """

    _float_labels = False   # integer labels go to the op as they are (no float round trip)

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.ignore_class = ignore_class
        self.axis = axis

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits,
                                               ignore_class=self.ignore_class, axis=self.axis)

    def compute_mask(self, y_true, y_pred):
        if self.ignore_class is None:
            return None
        return _ignored_mask(_sparse_labels(y_true, y_pred, self.axis), self.ignore_class)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class,
                "axis": self.axis}


@registry.register_serializable(package=PACKAGE)
class KLDivergence(Loss):
    """Kullback-Leibler divergence ``sum(t * log(t / p))`` over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        return kl_divergence(y_true, y_pred)
