"""Optimizers (``hl.optimizers``) and learning-rate schedules (``hl.optimizers.schedules``).

    opt = hl.optimizers.get("adam")                  # by name, default arguments
    opt = hl.optimizers.SGD(0.1, momentum=0.9, nesterov=True, clipnorm=1.0)
    opt.apply(grads, variables)                      # one step; traceable
    opt.learning_rate = 0.01                         # between epochs, no retrace
"""

from highlevel.optimizers import schedules
from highlevel.optimizers.adadelta import Adadelta
from highlevel.optimizers.adagrad import Adagrad
from highlevel.optimizers.adam import Adam, AdamW
from highlevel.optimizers.adamax import Adamax
from highlevel.optimizers.base import Optimizer
from highlevel.optimizers.nadam import Nadam
from highlevel.optimizers.rmsprop import RMSprop
from highlevel.optimizers.sgd import SGD
from highlevel.saving import registry as _registry

#: Built-in optimizers by their lower-case class names (what strings and configs use).
ALL_OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax,
                                                        Nadam)}


def _valid_names() -> str:
    return ", ".join(repr(name) for name in ALL_OPTIMIZERS)


def serialize(optimizer) -> dict:
    """``{"class_name", "registered_name", "config"}`` describing an optimizer."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"serialize: expected an Optimizer, got {optimizer!r}")
    return _registry.serialize(optimizer)


def deserialize(config, custom_objects=None):
    """Rebuild an optimizer from ``serialize``'s dict; built-in names are case-insensitive."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"cannot deserialize an optimizer from {config!r}: expected a dict with 'class_name'")
    builtin = ALL_OPTIMIZERS.get(str(config["class_name"]).lower())
    custom = custom_objects and (config["class_name"] in custom_objects
                                 or config.get("registered_name") in custom_objects)
    if builtin is not None and not custom:
        optimizer = builtin.from_config(config.get("config") or {}, custom_objects=custom_objects)
    else:
        optimizer = _registry.deserialize(config, custom_objects, expected="optimizer")
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"{config['class_name']!r} does not name an optimizer")
    return optimizer


def get(identifier):
    """An optimizer from a name (``"adam"``), a config dict or an instance (returned as is).

    ``None`` gives ``None``. Unknown names raise ``ValueError`` listing the valid ones.
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = ALL_OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}. Valid names: {_valid_names()}.")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier {identifier!r}: expected a name "
                     f"({_valid_names()}), a config dict or an Optimizer instance.")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "schedules",
           "get", "serialize", "deserialize", "ALL_OPTIMIZERS"]
