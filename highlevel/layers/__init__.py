"""``hl.layers``: the ``Layer`` base class and the layers built on it.

Core layers (this issue): ``Dense``, ``Activation``, ``Dropout``, ``Flatten``,
``Reshape``, ``InputLayer`` / ``Input``. ``InputSpec`` describes what a layer accepts.
"""

from highlevel.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from highlevel.layers.input_layer import Input, InputLayer
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import SymbolicTensor


def serialize(layer) -> dict:
    """A JSON-ready dict ``{"class_name", "registered_name", "config"}`` describing ``layer``."""
    from highlevel.saving import registry
    return registry.serialize(layer)


def deserialize(config, custom_objects=None):
    """Rebuild a layer (or model) from ``serialize``'s dict, using registered class names only."""
    from highlevel.saving import registry
    return registry.deserialize(config, custom_objects=custom_objects, expected="layer")


__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "InputSpec", "Layer", "Reshape",
           "SymbolicTensor", "deserialize", "serialize"]
