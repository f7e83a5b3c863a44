"""Serialization: the class registry (``register_serializable``) and config round trips.

Every configurable object (layers, losses, metrics, optimizers, schedules, initializers,
...) is rebuilt through the registry. Model files: ``save_model``/``load_model`` (the
native ``.hl`` format, ``native.py``), ``FileFormatError`` for damaged files; see
docs/file-format.md.
"""

from highlevel.saving.registry import (
    deserialize,
    get_registered_name,
    get_registered_object,
    register_serializable,
    serialize,
)
from highlevel.saving.file_format import FileFormatError


def __getattr__(name):
    # The file functions import highlevel.models, which imports this package: load them lazily.
    if name in ("save_model", "load_model", "save_weights", "load_weights", "model_from_json", "clone_model"):
        from highlevel.saving import native
        return getattr(native, name)
    raise AttributeError(f"module 'highlevel.saving' has no attribute {name!r}")


__all__ = ["FileFormatError", "clone_model", "deserialize", "get_registered_name", "get_registered_object",
           "load_model", "load_weights", "model_from_json", "register_serializable", "save_model", "save_weights",
           "serialize"]
