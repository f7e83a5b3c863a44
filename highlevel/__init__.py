"""highlevel: a Keras-style deep learning framework on PyTorch, TensorFlow or NumPy.

The backend is chosen once, here, from ``HIGHLEVEL_BACKEND`` (see ``highlevel.backends``).
Subpackages (``hl.layers``, ``hl.losses``, ...) and the model classes load on first use,
so ``import highlevel`` stays cheap.
"""

import importlib

__version__ = "0.1.0"

from highlevel import backend, ops, utils  # noqa: E402
from highlevel.ops import Variable  # noqa: E402

_SUBMODULES = ("activations", "callbacks", "constraints", "datasets", "initializers", "layers", "losses",
               "metrics", "models", "optimizers", "random", "regularizers", "saving", "trainers")
_LAZY_ATTRIBUTES = {
    "Model": "highlevel.models",
    "Sequential": "highlevel.models",
    "Input": "highlevel.layers",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"highlevel.{name}")
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'highlevel' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + list(_LAZY_ATTRIBUTES))


__all__ = ["Variable", "backend", "ops", "utils", "__version__", *_SUBMODULES, *_LAZY_ATTRIBUTES]
