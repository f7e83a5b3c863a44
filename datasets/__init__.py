"""Dataset loaders (installed as ``highlevel.datasets``), with Keras's module names.

``hl.datasets.digits`` is shipped in the package; the others download once into the
cache under ``HIGHLEVEL_HOME`` (see ``highlevel.datasets.download``).
"""

import importlib

_SUBMODULES = ("digits",)


def __getattr__(name):
    # Submodules load on first use: `import highlevel` must not read dataset files.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
