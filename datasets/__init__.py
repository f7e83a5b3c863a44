"""Dataset loaders (installed as ``highlevel.datasets``), with Keras's module names.

``hl.datasets.digits`` is shipped in the package; the others download once into the
cache under ``HIGHLEVEL_HOME`` (see ``highlevel.datasets.download``; origins and
pinned SHA-256 in ``highlevel.datasets.sources``). A failed download with nothing
cached raises ``DatasetUnavailableError`` (an ``OSError``) naming the path to put
the file at.
"""

import importlib

from highlevel.datasets.errors import ChecksumMismatchError, DatasetUnavailableError  # tiny, no I/O

_SUBMODULES = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters",
               "boston_housing", "california_housing")

__all__ = ["ChecksumMismatchError", "DatasetUnavailableError", *_SUBMODULES]


def __getattr__(name):
    # Submodules load on first use: `import highlevel` must not read dataset files.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
