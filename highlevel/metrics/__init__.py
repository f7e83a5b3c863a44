"""Metrics: stateful ``update_state`` / ``result`` / ``reset_state`` objects, by class or name.

``get(identifier)`` accepts a name (class name, its snake-case form, Keras's
aliases such as ``"mse"``, or any loss function name), a serialized dict, a
``Metric`` instance or class, or a function ``fn(y_true, y_pred) -> per-sample
values`` (wrapped in ``MeanMetricWrapper``). ``resolve`` is what ``compile`` uses: it
also maps ``"accuracy"``/``"acc"`` and ``"crossentropy"``/``"ce"`` to the variant that
fits the loss and the output shape, and names string-given metrics by that string.
"""

from __future__ import annotations

import inspect

from highlevel import losses as _losses
from highlevel.losses.loss import snake_case
from highlevel.metrics.accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                                        SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy,
                                        binary_accuracy, categorical_accuracy, in_top_k, sparse_categorical_accuracy,
                                        sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from highlevel.metrics.confusion import AUC, Precision, Recall
from highlevel.metrics.f_score import F1Score, FBetaScore
from highlevel.metrics.metric import Metric
from highlevel.metrics.probabilistic import (BinaryCrossentropy, CategoricalCrossentropy, Hinge, KLDivergence,
                                             SparseCategoricalCrossentropy)
from highlevel.metrics.reduction import Mean, MeanMetricWrapper, Sum
from highlevel.metrics.regression import (CosineSimilarity, LogCoshError, MeanAbsoluteError,
                                          MeanAbsolutePercentageError, MeanSquaredError, RootMeanSquaredError)
from highlevel.saving import registry

# Function forms, as ``keras.metrics.<name>`` (the loss-valued ones are the loss functions).
from highlevel.losses import (binary_crossentropy, categorical_crossentropy, hinge, kl_divergence,  # noqa: E402
                              mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                              sparse_categorical_crossentropy)

_CLASSES = (Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall, AUC, F1Score, FBetaScore,
            MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, RootMeanSquaredError, LogCoshError,
            CosineSimilarity, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            KLDivergence, Hinge)

#: Every name ``get`` understands -> the metric class it instantiates.
NAMES = {cls.__name__: cls for cls in _CLASSES}
NAMES.update({snake_case(cls.__name__): cls for cls in _CLASSES})
NAMES.update({
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError, "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy, "kld": KLDivergence, "KLD": KLDivergence, "logcosh": LogCoshError,
    "rmse": RootMeanSquaredError,
})
# Loss functions without a metric class of their own (e.g. "huber", "log_cosh") become running means.
_LOSS_FUNCTIONS = {name: fn for name, fn in _losses.FUNCTIONS.items() if name not in NAMES}


def _valid_names() -> str:
    return ", ".join(sorted(set(NAMES) | set(_LOSS_FUNCTIONS)))


def get(identifier):
    """A ``Metric`` from a name, dict, ``Metric`` instance/class or function (``None`` -> ``None``).

    Unknown names raise ``ValueError`` listing the valid ones.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in NAMES:
            return NAMES[identifier]()
        if identifier in _LOSS_FUNCTIONS:
            return MeanMetricWrapper(_LOSS_FUNCTIONS[identifier], name=identifier)
        raise ValueError(f"unknown metric {identifier!r}; valid names: {_valid_names()}")
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"cannot interpret {identifier!r} as a metric: expected a name, a dict from serialize(), "
                     f"a Metric or a function (y_true, y_pred) -> per-sample values")


def _kind(loss, output_shape, y_true_shape):
    """``"binary"``/``"categorical"``/``"sparse_categorical"``: from the loss, else from the shapes."""
    kind = _losses.kind_of(loss)
    if kind is None:
        kind = _losses.shape_kind(y_true_shape, output_shape)
    return kind


def resolve(identifier, loss=None, output_shape=None, y_true_shape=None):
    """The metric ``compile(metrics=[...])`` means by ``identifier``.

    ``"accuracy"``/``"acc"`` (any case) -> ``BinaryAccuracy``, ``CategoricalAccuracy``
    or ``SparseCategoricalAccuracy``, and ``"crossentropy"``/``"ce"`` -> the matching
    cross-entropy metric (with the loss's ``from_logits``). The choice follows the
    loss when it is a cross-entropy (name, class, instance or function); otherwise
    the shapes, as Keras 3: ``output_shape`` ending in 1 -> binary; ``y_true_shape`` of
    lower rank or ending in 1 -> sparse; else categorical. A metric given by a string
    is named by that string (so logs say ``"acc"``, ``"mse"``).
    """
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            cls = {"binary": BinaryAccuracy, "categorical": CategoricalAccuracy,
                   "sparse_categorical": SparseCategoricalAccuracy}[_kind(loss, output_shape, y_true_shape)]
            return cls(name=identifier)
        if key in ("crossentropy", "ce"):
            cls = {"binary": BinaryCrossentropy, "categorical": CategoricalCrossentropy,
                   "sparse_categorical": SparseCategoricalCrossentropy}[_kind(loss, output_shape, y_true_shape)]
            from_logits = bool(getattr(_losses.get(loss) if isinstance(loss, str) else loss, "from_logits", False))
            return cls(name=identifier, from_logits=from_logits)
        metric = get(identifier)
        metric.name = identifier
        return metric
    return get(identifier)


def serialize(metric) -> dict:
    """``{"class_name", "registered_name", "config"}`` for a ``Metric``."""
    return registry.serialize(metric)


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``; a bare class name resolves among the metrics first."""
    if isinstance(config, str):
        return get(config)
    objects = {cls.__name__: cls for cls in (Metric, MeanMetricWrapper, *_CLASSES)}
    if custom_objects:
        objects.update(custom_objects)
    if isinstance(config, dict) and "class_name" in config and not config.get("registered_name"):
        config = {**config, "registered_name": config["class_name"]}
    obj = registry.deserialize(config, custom_objects=objects, expected="metric")
    return obj if isinstance(obj, Metric) else get(obj)


__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "get", "resolve", "serialize", "deserialize",
           *(cls.__name__ for cls in _CLASSES), "accuracy", "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
           "in_top_k", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "kl_divergence", "hinge", "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error"]
