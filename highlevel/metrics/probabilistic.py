"""Loss-valued metrics: running means of the cross-entropies, KL divergence and hinge."""

from __future__ import annotations

from highlevel import ops
from highlevel.losses.hinge import hinge
from highlevel.losses.loss import apply_mask, as_tensor
from highlevel.losses.probabilistic import (_ignored_mask, _sparse_labels, binary_crossentropy,
                                            categorical_crossentropy, kl_divergence, sparse_categorical_crossentropy)
from highlevel.metrics.metric import PACKAGE
from highlevel.metrics.reduction import MeanMetricWrapper
from highlevel.saving import registry


@registry.register_serializable(package=PACKAGE)
class BinaryCrossentropy(MeanMetricWrapper):
    """Running mean of the binary cross-entropy."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


@registry.register_serializable(package=PACKAGE)
class CategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of the categorical cross-entropy (one-hot labels)."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


@registry.register_serializable(package=PACKAGE)
class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of the sparse categorical cross-entropy; ``ignore_class`` entries do not count."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is not None:
            # Ignored entries get weight 0, so they leave both the total and the count.
            labels = _sparse_labels(ops.stop_gradient(as_tensor(y_true)), as_tensor(y_pred), self.axis)
            sample_weight = apply_mask(sample_weight, _ignored_mask(labels, self.ignore_class), self.dtype, "sum")
        return super().update_state(y_true, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class,
                "axis": self.axis}


@registry.register_serializable(package=PACKAGE)
class KLDivergence(MeanMetricWrapper):
    """Running mean of the Kullback-Leibler divergence."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


@registry.register_serializable(package=PACKAGE)
class Hinge(MeanMetricWrapper):
    """Running mean of the hinge loss."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)
