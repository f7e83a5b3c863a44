"""Serialization: the class registry (``register_serializable``) and config round trips.

Saving models to files is the saving issue's; the registry lives here from the start
because every configurable object (layers, losses, metrics, optimizers, schedules,
initializers, ...) is rebuilt through it.
"""

from highlevel.saving.registry import (
    deserialize,
    get_registered_name,
    get_registered_object,
    register_serializable,
    serialize,
)

__all__ = ["deserialize", "get_registered_name", "get_registered_object", "register_serializable", "serialize"]
