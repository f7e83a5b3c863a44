"""Which backend this process runs on: chosen once, at ``import highlevel``.

``hl.backend.name()`` -> ``"numpy" | "torch" | "tensorflow" | <plugin>``.
"""

from highlevel.backends import available, load, select_name

_current = load(select_name())


def current():
    """The loaded ``Backend`` namespace (every op and service)."""
    return _current


def name() -> str:
    """The name of the backend in use."""
    return _current.name


def device() -> str:
    """Where new tensors are placed (``"cpu"``, ``"cuda:0"``, ``"/GPU:0"``, ...)."""
    return _current.device()


__all__ = ["available", "current", "device", "name"]
