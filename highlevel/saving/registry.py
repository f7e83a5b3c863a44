"""The registry of serializable classes and functions, and ``serialize``/``deserialize``.

Objects are rebuilt only from names found here: highlevel's built-in classes (package
``"highlevel"``) and what users register with ``@hl.saving.register_serializable()``.
Nothing named by a config is imported or evaluated.

A serialized object is a plain dict::

    {"class_name": "Dense", "registered_name": "highlevel>Dense", "config": {...}}
"""

from __future__ import annotations

_REGISTRY: dict = {}          # "package>Name" -> class or function
_NAMES: dict = {}             # id(class or function) -> "package>Name"


def register_serializable(package: str = "Custom", name: str | None = None):
    """Decorator registering a class or function under ``"package>name"``.

    ``name`` defaults to the object's ``__name__``. Registering another object under a
    name already taken raises ``ValueError``.
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_serializable: package must be a string without '>', got {package!r}")

    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        if key in _REGISTRY and _REGISTRY[key] is not obj:
            existing = _REGISTRY[key]
            # Re-running a module (notebooks, reloads) re-registers the same qualified name.
            if getattr(existing, "__qualname__", None) != getattr(obj, "__qualname__", None) or \
                    getattr(existing, "__module__", None) != getattr(obj, "__module__", None):
                raise ValueError(f"register_serializable: {key!r} is already registered to {existing!r}")
        _REGISTRY[key] = obj
        _NAMES[id(obj)] = key
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """``"package>Name"`` of a registered class/function (or of an instance's class)."""
    is_class_or_function = isinstance(obj, type) or (callable(obj) and not hasattr(obj, "get_config"))
    target = obj if is_class_or_function else type(obj)
    key = _NAMES.get(id(target))
    if key is None:
        raise ValueError(f"{getattr(target, '__name__', target)!r} is not registered; decorate it with "
                         f"@hl.saving.register_serializable()")
    return key


def get_registered_object(name: str, custom_objects: dict | None = None):
    """Look up ``name`` (``"package>Name"`` or a bare class name) in ``custom_objects`` then the registry."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _REGISTRY:
        return _REGISTRY[name]
    bare = name.split(">")[-1]
    if custom_objects and bare in custom_objects:
        return custom_objects[bare]
    matches = [obj for key, obj in _REGISTRY.items() if key.split(">")[-1] == bare]
    if len(matches) == 1:
        return matches[0]
    return None


def serialize(obj) -> dict:
    """A JSON-ready dict describing ``obj`` (an object with ``get_config`` or a registered function)."""
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        return {"class_name": type(obj).__name__, "registered_name": get_registered_name(obj),
                "config": obj.get_config()}
    return {"class_name": "function", "registered_name": get_registered_name(obj), "config": None}


def deserialize(config: dict, custom_objects: dict | None = None, expected: str = "object"):
    """Rebuild an object from ``serialize``'s dict, using only registered names.

    ``expected`` names the kind (``"layer"``, ``"loss"``, ...) for error messages.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"cannot deserialize {expected} from {config!r}: expected a dict with 'class_name'")
    name = config.get("registered_name") or config["class_name"]
    obj = get_registered_object(name, custom_objects)
    if obj is None:
        raise ValueError(f"unknown {expected} {name!r}: it is neither built into highlevel nor registered "
                         f"(use @hl.saving.register_serializable() or pass custom_objects)")
    if config["class_name"] == "function":
        return obj
    if hasattr(obj, "from_config"):
        return obj.from_config(config.get("config") or {})
    return obj(**(config.get("config") or {}))


class ObjectFamily:
    """Lookup for one family of configurable objects (initializers, regularizers, ...).

    ``by_name`` maps accepted names (class names and Keras's snake_case aliases) to
    classes. ``get`` takes ``None``, a name, a ``serialize`` dict (or Keras's
    ``{"class_name", "config"}``), a class, an instance or a plain callable; an unknown
    name raises ``ValueError`` listing the valid ones.
    """

    def __init__(self, kind: str, by_name: dict, callable_hint: str = "a callable"):
        self.kind = kind
        self.by_name = by_name
        self.callable_hint = callable_hint

    def valid_names(self) -> str:
        return ", ".join(sorted(self.by_name))

    def serialize(self, obj):
        """``serialize(obj)``, or ``None`` for ``None`` (an unset initializer/regularizer/constraint)."""
        return None if obj is None else serialize(obj)

    def deserialize(self, config, custom_objects=None):
        if isinstance(config, dict) and config.get("class_name") in self.by_name and "registered_name" not in config:
            return self.by_name[config["class_name"]].from_config(config.get("config") or {})
        return deserialize(config, custom_objects=custom_objects, expected=self.kind)

    def get(self, identifier):
        if identifier is None:
            return None
        if isinstance(identifier, str):
            cls = self.by_name.get(identifier)
            if cls is None:
                raise ValueError(f"unknown {self.kind} {identifier!r}; valid names: {self.valid_names()}")
            return cls()
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if isinstance(identifier, type):
            return identifier()
        if callable(identifier):
            return identifier
        article = "an" if self.kind[0] in "aeiou" else "a"
        raise ValueError(f"cannot interpret {identifier!r} as {article} {self.kind}: expected None, a name "
                         f"({self.valid_names()}), a dict or {self.callable_hint}")
