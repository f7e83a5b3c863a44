"""Losses: ``hl.losses.MeanSquaredError()``, ``hl.losses.get("mse")``, plain functions.

Classes and functions carry Keras 3's names, arguments and math. ``get`` accepts a
name, a serialized dict, a ``Loss`` instance or class, or a plain function
``fn(y_true, y_pred) -> per-sample values`` (wrapped in ``LossFunctionWrapper``), and
always returns a ``Loss`` instance.
"""

from __future__ import annotations

import inspect

from highlevel.losses.hinge import Hinge, hinge
from highlevel.losses.loss import Loss, LossFunctionWrapper, reduce_weighted_values
from highlevel.losses.probabilistic import (BinaryCrossentropy, CategoricalCrossentropy, KLDivergence,
                                            SparseCategoricalCrossentropy, binary_crossentropy,
                                            categorical_crossentropy, kl_divergence,
                                            sparse_categorical_crossentropy)
from highlevel.losses.regression import (CosineSimilarity, Huber, LogCosh, MeanAbsoluteError,
                                         MeanAbsolutePercentageError, MeanSquaredError, cosine_similarity,
                                         huber, log_cosh, mean_absolute_error, mean_absolute_percentage_error,
                                         mean_squared_error)
from highlevel.saving import registry

# Keras's short and legacy spellings.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
bce = BCE = binary_crossentropy

_CLASSES = (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, Huber, LogCosh, CosineSimilarity,
            BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Hinge)

#: Every name ``get`` understands -> the class it instantiates.
NAMES = {cls.__name__: cls for cls in _CLASSES}
NAMES.update({
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "huber": Huber, "huber_loss": Huber,
    "log_cosh": LogCosh, "logcosh": LogCosh,
    "cosine_similarity": CosineSimilarity,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "hinge": Hinge,
})

#: Loss functions by their own name (for ``metrics`` and ``LossFunctionWrapper``).
FUNCTIONS = {fn.__name__: fn for fn in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, huber, log_cosh, cosine_similarity,
    binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, kl_divergence, hinge)}

# The function behind each class, so that ``kind_of`` recognizes both forms.
_FUNCTION_OF_CLASS = {
    BinaryCrossentropy: binary_crossentropy, CategoricalCrossentropy: categorical_crossentropy,
    SparseCategoricalCrossentropy: sparse_categorical_crossentropy,
}


def _valid_names() -> str:
    return ", ".join(sorted(NAMES))


def get(identifier):
    """A ``Loss`` instance from a name, dict, ``Loss`` instance/class or function (``None`` -> ``None``).

    Unknown names raise ``ValueError`` listing the valid ones.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = NAMES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown loss {identifier!r}; valid names: {_valid_names()}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"cannot interpret {identifier!r} as a loss: expected a name ({_valid_names()}), "
                     f"a dict from serialize(), a Loss or a function (y_true, y_pred) -> per-sample values")


def serialize(loss) -> dict:
    """``{"class_name", "registered_name", "config"}`` for a ``Loss`` (or a registered function)."""
    return registry.serialize(loss)


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``; a bare class name resolves among the losses first."""
    if isinstance(config, str):
        return get(config)
    objects = {cls.__name__: cls for cls in (Loss, LossFunctionWrapper, *_CLASSES)}
    objects.update(FUNCTIONS)
    if custom_objects:
        objects.update(custom_objects)
    if isinstance(config, dict) and "class_name" in config and not config.get("registered_name"):
        config = {**config, "registered_name": config["class_name"]}
    obj = registry.deserialize(config, custom_objects=objects, expected="loss")
    return obj if isinstance(obj, Loss) else get(obj)


def kind_of(loss):
    """``"binary"``, ``"categorical"`` or ``"sparse_categorical"`` for a cross-entropy loss, else ``None``.

    Recognizes names, classes, instances and the functions (also inside a wrapper).
    """
    if loss is None:
        return None
    if isinstance(loss, str):
        cls = NAMES.get(loss)
        fn = _FUNCTION_OF_CLASS.get(cls)
    elif isinstance(loss, LossFunctionWrapper):
        fn = loss.fn
    elif isinstance(loss, Loss) or inspect.isclass(loss):
        fn = next((f for c, f in _FUNCTION_OF_CLASS.items()
                   if (isinstance(loss, c) if not inspect.isclass(loss) else issubclass(loss, c))), None)
    else:
        fn = loss
    return {binary_crossentropy: "binary", categorical_crossentropy: "categorical",
            sparse_categorical_crossentropy: "sparse_categorical"}.get(fn)


def shape_kind(y_true_shape=None, y_pred_shape=None):
    """Keras's shape rule: ``"binary"`` if ``y_pred`` ends in 1, ``"sparse_categorical"`` if
    ``y_true`` has lower rank (or ends in 1 against more classes), else ``"categorical"``.
    """
    if y_pred_shape is not None and len(y_pred_shape) and y_pred_shape[-1] == 1:
        return "binary"
    if y_true_shape is not None and y_pred_shape is not None:
        if len(y_true_shape) < len(y_pred_shape) or (len(y_true_shape) and y_true_shape[-1] == 1):
            return "sparse_categorical"
    return "categorical"


def resolve(identifier, y_true_shape=None, y_pred_shape=None):
    """``get``, plus Keras's ``"crossentropy"``/``"ce"``: chosen from the shapes (``shape_kind``)."""
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        kind = shape_kind(y_true_shape, y_pred_shape)
        return {"binary": BinaryCrossentropy, "categorical": CategoricalCrossentropy,
                "sparse_categorical": SparseCategoricalCrossentropy}[kind]()
    return get(identifier)


__all__ = ["Loss", "LossFunctionWrapper", "reduce_weighted_values", "get", "serialize", "deserialize", "resolve",
           "kind_of", *(cls.__name__ for cls in _CLASSES), *FUNCTIONS,
           "mse", "MSE", "mae", "MAE", "mape", "MAPE", "kld", "KLD", "kullback_leibler_divergence", "logcosh",
           "bce", "BCE"]
