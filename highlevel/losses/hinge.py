"""The hinge loss for ``-1/1`` (or ``0/1``) labels."""

from __future__ import annotations

from highlevel import ops
from highlevel.losses.loss import PACKAGE, Loss, as_tensor, squeeze_or_expand_to_same_rank
from highlevel.saving import registry


def binary_labels_to_hinge(y_true):
    """``0/1`` labels -> ``-1/1``; labels that are not all 0 or 1 are returned unchanged.

    Decided with ``where`` on the whole batch, so it traces without Python branching.
    """
    is_binary = ops.all(ops.logical_or(ops.equal(y_true, 0.0), ops.equal(y_true, 1.0)))
    return ops.where(is_binary, ops.subtract(ops.multiply(y_true, 2.0), 1.0), y_true)


@registry.register_serializable(package=PACKAGE)
def hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``: ``(batch, ..., d)`` -> ``(batch, ...)``."""
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, ops.dtype(y_pred))
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_true = binary_labels_to_hinge(y_true)
    return ops.mean(ops.maximum(ops.subtract(1.0, ops.multiply(y_true, y_pred)), 0.0), axis=-1)


@registry.register_serializable(package=PACKAGE)
class Hinge(Loss):
    """Hinge loss; ``0/1`` labels are mapped to ``-1/1``."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        return hinge(y_true, y_pred)
