"""Backend registry and loader (installed as ``highlevel.backends``).

``load(name)`` imports one backend module, checks it against ``protocol.OPS``, fills
in composite ops it leaves out, wraps every op so that engine errors become
``InvalidArgumentError``, and returns a ``Backend`` namespace. ``select_name()``
decides which backend ``import highlevel`` uses:

1. ``HIGHLEVEL_BACKEND``;
2. the ``"backend"`` key of ``$HIGHLEVEL_HOME/highlevel.json`` (default
   ``~/.highlevel/highlevel.json``), which is read but never written on import;
3. the first installed of torch, tensorflow, numpy.

Third-party backends register a module under the entry-point group
``highlevel.backends`` (``name = "package.module"``).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import types

from . import protocol
from .protocol import InvalidArgumentError

#: Built-in backends: name -> (module, the engine package it needs or None).
BUILTIN = {
    "numpy": ("highlevel.backends.numpy", None),
    "torch": ("highlevel.backends.torch", "torch"),
    "tensorflow": ("highlevel.backends.tensorflow", "tensorflow"),
}
AUTO_ORDER = ("torch", "tensorflow", "numpy")
ENTRY_POINT_GROUP = "highlevel.backends"


class BackendNotAvailableError(ImportError):
    """The requested backend is unknown or its engine package is not installed."""


class Backend(types.SimpleNamespace):
    """A loaded backend: every op of the protocol and every service as attributes."""

    def __repr__(self):
        return f"<highlevel backend {self.name!r}>"


def _entry_points() -> dict:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available() -> dict:
    """``{name: installed?}`` for built-in and registered backends, without importing engines."""
    status = {}
    for name, (_, package) in BUILTIN.items():
        status[name] = package is None or importlib.util.find_spec(package) is not None
    for name in _entry_points():
        status.setdefault(name, True)
    return status


def _install_hint(name: str) -> str:
    if name in BUILTIN and BUILTIN[name][1]:
        return f'pip install "highlevel[{name}]"'
    return f"install the package that registers the {name!r} backend"


def _unavailable(name: str, reason: str) -> BackendNotAvailableError:
    listing = ", ".join(f"{n} ({'installed' if ok else 'not installed: ' + _install_hint(n)})"
                        for n, ok in available().items())
    return BackendNotAvailableError(f"highlevel backend {name!r} {reason}. Available backends: {listing}. "
                                    f"Choose one with HIGHLEVEL_BACKEND=<name>.")


def config_path() -> str:
    home = os.environ.get("HIGHLEVEL_HOME") or os.path.join(os.path.expanduser("~"), ".highlevel")
    return os.path.join(home, "highlevel.json")


def _configured_name():
    path = config_path()
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            name = json.load(f).get("backend")
    except (OSError, ValueError, AttributeError) as error:
        raise BackendNotAvailableError(f"cannot read the highlevel config file {path}: {error}") from None
    return name


def select_name() -> str:
    """The backend name that ``import highlevel`` uses (see the module docstring)."""
    name = os.environ.get("HIGHLEVEL_BACKEND") or _configured_name()
    if name:
        return name.strip().lower()
    status = available()
    return next(n for n in AUTO_ORDER if status.get(n))


def _module_for(name: str):
    if name in BUILTIN:
        module_name, package = BUILTIN[name]
        if package and importlib.util.find_spec(package) is None:
            raise _unavailable(name, f"needs the {package!r} package, which is not installed")
        return importlib.import_module(module_name)
    entry_points = _entry_points()
    if name in entry_points:
        loaded = entry_points[name].load()
        return importlib.import_module(loaded) if isinstance(loaded, str) else loaded
    raise _unavailable(name, "is not known")


def _shapes_of(args) -> str:
    shapes = []
    for a in args:
        shape = getattr(a, "shape", None)
        if shape is not None:
            try:
                shapes.append(str(tuple(int(d) if d is not None else None for d in shape)))
            except TypeError:
                shapes.append(str(shape))
        elif isinstance(a, (list, tuple)) and a and all(hasattr(e, "shape") for e in a):
            shapes.append("[" + ", ".join(str(tuple(e.shape)) for e in a) + "]")
        else:
            shapes.append(type(a).__name__)
    return ", ".join(shapes)


def _with_uniform_errors(name: str, fn, native_errors: tuple):
    """Wrap an op so that engine-specific errors surface as ``InvalidArgumentError``.

    Costs one Python frame per call (about 0.1 us, against several us per engine op);
    the try block itself is free in CPython 3.11 when nothing is raised.
    """

    @functools.wraps(fn)
    def op(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InvalidArgumentError as error:
            # Raised by an inner op of a composite: say which op the user called.
            if str(error).startswith(name + ":"):
                raise
            raise InvalidArgumentError(f"{name}: {error}") from error
        except native_errors as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InvalidArgumentError(
                f"{name}: {first_line} (arguments: {_shapes_of(args)})") from error

    op.__wrapped__ = fn
    return op


def check_module(module) -> list:
    """Problems of a backend module against the protocol (missing services, wrong signatures)."""
    problems = [f"missing service {s!r}" for s in protocol.SERVICES if not hasattr(module, s)]
    for name, spec in protocol.OPS.items():
        fn = getattr(module, name, None)
        if fn is None:
            if name not in protocol.COMPOSITES:
                problems.append(f"missing op {name!r}")
            continue
        expected = f"({spec.signature})"
        # Parameters only: a return annotation is the backend's own business.
        actual = str(inspect.signature(fn).replace(return_annotation=inspect.Signature.empty))
        if actual.replace('"', "'") != expected:
            problems.append(f"op {name!r} has signature {actual}, expected {expected}")
    return problems


def build_composite(backend, op_name: str):
    """Op ``op_name`` built from ``protocol.COMPOSITES`` over namespace ``backend``, error-wrapped."""
    return _with_uniform_errors(op_name, protocol.COMPOSITES[op_name](backend), tuple(backend.native_errors))


@functools.lru_cache(maxsize=None)
def load(name: str) -> Backend:
    """Import, check and assemble backend ``name``; cached, so each loads once per process."""
    module = _module_for(name)
    problems = check_module(module)
    if problems:
        raise BackendNotAvailableError(f"highlevel backend {name!r} does not meet the protocol: "
                                       + "; ".join(problems))
    backend = Backend(name=module.name, module=module)
    native = tuple(module.native_errors)
    for service in protocol.SERVICES:
        setattr(backend, service, getattr(module, service))
    for op_name in protocol.OPS:
        fn = getattr(module, op_name, None)
        if fn is not None:
            setattr(backend, op_name, _with_uniform_errors(op_name, fn, native))
    # Composites see the assembled namespace, so they use the backend's fastest ops.
    for op_name in protocol.COMPOSITES:
        if getattr(backend, op_name, None) is None:
            setattr(backend, op_name, build_composite(backend, op_name))
    bind = getattr(module, "bind_backend", None)
    if bind is not None:
        bind(backend)
    return backend


def op_names() -> list:
    return list(protocol.OPS)
