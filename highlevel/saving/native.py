"""The native ``.hl`` model format, weights files, JSON configs and ``clone_model``.

A ``.hl`` file is a zip holding ``config.json`` (architecture, compile config, versions),
``model.weights.safetensors`` (the weights, Keras order) and, for a compiled model whose
optimizer is built, ``optimizer.safetensors``. Loading rebuilds objects only from
registered class names. See docs/file-format.md.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from highlevel.saving import registry
from highlevel.saving.file_format import (
    MAX_JSON_BYTES,
    MAX_MEMBER_BYTES,
    FileFormatError,
    atomic_write,
    decode_safetensors,
    encode_safetensors,
    loads_json,
    read_zip,
)

FORMAT_NAME = "highlevel.model"
FORMAT_VERSION = 1
CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.safetensors"
OPTIMIZER_MEMBER = "optimizer.safetensors"
_MEMBERS = {CONFIG_MEMBER: (True, MAX_JSON_BYTES), WEIGHTS_MEMBER: (True, MAX_MEMBER_BYTES),
            OPTIMIZER_MEMBER: (False, MAX_MEMBER_BYTES)}


def _keras_format():
    """``highlevel.saving.keras_format``, imported on first use (it needs h5py, an optional package)."""
    from highlevel.saving import keras_format
    return keras_format


def _backend_name() -> str:
    from highlevel import backend
    return backend.name()


def _version() -> str:
    import highlevel
    return highlevel.__version__


# ------------------------------------------------------------------ helpers
def _unique_names(variables) -> list:
    names, seen = [], {}
    for variable in variables:
        name = str(getattr(variable, "path", None) or getattr(variable, "name", "variable"))
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name}#{count}")
    return names


def _variables_bytes(variables) -> list:
    return encode_safetensors(zip(_unique_names(variables), [v.numpy() for v in variables]))


def _assign(variables, arrays, what: str, error=FileFormatError) -> None:
    """Check then assign ``arrays`` (``(name, array)`` in file order) to ``variables``.

    Matches by name when the file's names are exactly the variables' names, else by order."""
    names = _unique_names(variables)
    file_names = [name for name, _ in arrays]
    if sorted(file_names) == sorted(names):
        by_name = dict(arrays)
        ordered = [(name, by_name[name]) for name in names]
    elif len(arrays) == len(variables):
        ordered = list(arrays)
    else:
        raise error(f"{what} holds {len(arrays)} weights ({', '.join(file_names[:8])}"
                    f"{', ...' if len(file_names) > 8 else ''}) but the model expects {len(variables)} "
                    f"({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})")
    checked = []
    for variable, name, (file_name, array) in zip(variables, names, ordered):
        shape = tuple(int(d) for d in variable.shape)
        if tuple(array.shape) != shape:
            raise error(f"{what}: weight {name!r} has shape {shape} in the model but {file_name!r} has shape "
                        f"{tuple(array.shape)} in the file")
        want = np.dtype(str(getattr(variable, "dtype", array.dtype)).replace("torch.", "")) \
            if _is_dtype(getattr(variable, "dtype", None)) else array.dtype
        if array.dtype != want and not (array.dtype.kind == want.kind or
                                        (array.dtype.kind in "iu" and want.kind in "iu")):
            raise error(f"{what}: weight {name!r} has dtype {want} in the model but {file_name!r} has dtype "
                        f"{array.dtype} in the file")
        checked.append(array.astype(want, copy=False))
    for variable, array in zip(variables, checked):
        variable.assign(array)


def _is_dtype(value) -> bool:
    try:
        np.dtype(str(value).replace("torch.", ""))
        return True
    except TypeError:
        return False


def _build_shape(model):
    shape = getattr(model, "_build_input_shape", None)
    return _listify(shape) if shape is not None else None


def _listify(value):
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _listify(v) for k, v in value.items()}
    return None if value is None else int(value)


def _tupleify(value):
    if isinstance(value, list):
        if all(v is None or isinstance(v, int) for v in value):
            return tuple(value)
        return [_tupleify(v) for v in value]
    if isinstance(value, dict):
        return {k: _tupleify(v) for k, v in value.items()}
    return value


def _model_config(model) -> dict:
    try:
        return registry.serialize(model)
    except NotImplementedError:
        raise
    except ValueError as error:
        raise ValueError(f"cannot save model {model.name!r}: {error}") from error


def _deserialize_model(serialized, custom_objects):
    """``registry.deserialize``, passing ``custom_objects`` on to a ``from_config`` that takes it
    (Sequential/functional models rebuild their layers with it)."""
    import inspect
    if not custom_objects or not isinstance(serialized, dict) or "class_name" not in serialized:
        return registry.deserialize(serialized, custom_objects=custom_objects, expected="model")
    name = serialized.get("registered_name") or serialized["class_name"]
    cls = registry.get_registered_object(name, custom_objects) if isinstance(name, str) else None
    from_config = getattr(cls, "from_config", None)
    if from_config is not None and "custom_objects" in inspect.signature(from_config).parameters:
        config = serialized.get("config") or {}
        if not isinstance(config, dict):
            raise FileFormatError(f"the config of {name!r} must be a JSON object")
        return from_config(config, custom_objects=custom_objects)
    return registry.deserialize(serialized, custom_objects=custom_objects, expected="model")


def _rebuild(serialized, build_shape, custom_objects, source: str):
    """A model from its serialized dict; any failure is the file's fault: ``FileFormatError``."""
    from highlevel.models import Model
    if not isinstance(serialized, dict):
        raise FileFormatError(f"{source}: the model config must be a JSON object")
    try:
        model = _deserialize_model(serialized, custom_objects)
    except FileFormatError:
        raise
    except Exception as error:  # noqa: BLE001  a damaged config can fail anywhere in a from_config
        raise FileFormatError(f"{source}: cannot rebuild the model: {error}") from error
    if not isinstance(model, Model):
        raise FileFormatError(f"{source}: the config describes a {type(model).__name__}, not a model")
    if not model.built and build_shape is not None:
        try:
            model.build(_tupleify(build_shape))
        except Exception as error:  # noqa: BLE001
            raise FileFormatError(f"{source}: cannot build the model for input shape {build_shape}: "
                                  f"{error}") from error
    return model


# ------------------------------------------------------------------- .hl save
def save_model(model, filepath, overwrite=True) -> None:
    """Write ``model`` to ``filepath`` (a ``.hl`` zip), atomically."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        _keras_format().save_keras(model, filepath, overwrite=overwrite)
        return
    if not filepath.endswith(".hl"):
        raise ValueError(f"save: the file name must end in .hl (got {filepath!r}); use save_weights for "
                         f".weights.safetensors files")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save: {filepath!r} exists and overwrite=False")
    config = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "highlevel_version": _version(),
              "backend": _backend_name(), "model": _model_config(model), "build_input_shape": _build_shape(model),
              "compile_config": model.get_compile_config() if getattr(model, "compiled", False) else None}
    config_bytes = json.dumps(config, indent=1).encode("utf-8")
    weights = _variables_bytes(model.weights)
    optimizer = getattr(model, "optimizer", None)
    optimizer_chunks = None
    if config["compile_config"] is not None and optimizer is not None and getattr(optimizer, "built", False):
        optimizer_chunks = _variables_bytes(optimizer.variables)

    def write(handle):
        with zipfile.ZipFile(handle, "w") as archive:
            archive.writestr(zipfile.ZipInfo(CONFIG_MEMBER, (1980, 1, 1, 0, 0, 0)), config_bytes,
                             compress_type=zipfile.ZIP_DEFLATED)
            for name, chunks in ((WEIGHTS_MEMBER, weights), (OPTIMIZER_MEMBER, optimizer_chunks)):
                if chunks is None:
                    continue
                info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                info.file_size = sum(len(c) for c in chunks)
                with archive.open(info, "w", force_zip64=info.file_size > 2**31) as stream:
                    for chunk in chunks:
                        stream.write(chunk)

    atomic_write(filepath, write)


# ------------------------------------------------------------------- .hl load
def _read_config(data: bytes, source: str) -> dict:
    config = loads_json(data, f"{source}: {CONFIG_MEMBER}")
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise FileFormatError(f"{source}: {CONFIG_MEMBER} is not a highlevel model config "
                              f"(expected \"format\": \"{FORMAT_NAME}\")")
    if config.get("format_version") != FORMAT_VERSION:
        raise FileFormatError(f"{source}: format version {config.get('format_version')!r} is not supported "
                              f"(this highlevel reads version {FORMAT_VERSION})")
    return config


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by ``model.save(path)`` (a ``.hl`` file).

    Raises ``FileFormatError`` (a ``ValueError``) for any damaged or unexpected file; an unknown
    class name is reported with how to register it."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        return _keras_format().load_keras(filepath, custom_objects=custom_objects, compile=compile)
    members = read_zip(filepath, _MEMBERS, "highlevel model file")
    config = _read_config(members[CONFIG_MEMBER], filepath)
    weights, _ = decode_safetensors(members[WEIGHTS_MEMBER], f"{filepath}: {WEIGHTS_MEMBER}")
    optimizer_arrays = None
    if OPTIMIZER_MEMBER in members:
        optimizer_arrays, _ = decode_safetensors(members[OPTIMIZER_MEMBER], f"{filepath}: {OPTIMIZER_MEMBER}")
    build_shape = config.get("build_input_shape")
    # The config may declare any layer sizes; the weights it comes with bound what it may
    # allocate (every weight a layer creates is saved, so a valid file fits exactly).
    from highlevel.layers.layer import weight_budget
    stored_elements = sum(int(np.asarray(array).size) for _, array in weights)
    with weight_budget(stored_elements):
        model = _rebuild(config.get("model"), build_shape, custom_objects, filepath)
    _assign(model.weights, weights, f"{filepath}: {WEIGHTS_MEMBER}")
    compile_config = config.get("compile_config")
    if compile and compile_config is not None:
        if not isinstance(compile_config, dict):
            raise FileFormatError(f"{filepath}: the compile config must be a JSON object")
        try:
            model.compile_from_config(compile_config)
        except Exception as error:  # noqa: BLE001
            raise FileFormatError(f"{filepath}: cannot compile the model from its saved config: {error}") from error
        if optimizer_arrays is not None:
            optimizer = model.optimizer
            try:
                optimizer.build(model.trainable_weights)
            except Exception as error:  # noqa: BLE001
                raise FileFormatError(f"{filepath}: cannot build the optimizer: {error}") from error
            _assign(optimizer.variables, optimizer_arrays, f"{filepath}: {OPTIMIZER_MEMBER}")
    return model


# -------------------------------------------------------------- weights files
def save_weights(model, filepath, overwrite=True) -> None:
    """Write the model's weights (Keras order, keyed by weight path) to a ``.weights.safetensors`` file."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".h5"):
        _keras_format().save_weights_h5(model, filepath, overwrite=overwrite)
        return
    if not filepath.endswith(".weights.safetensors"):
        raise ValueError(f"save_weights: the file name must end in .weights.safetensors (got {filepath!r})")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_weights: {filepath!r} exists and overwrite=False")
    chunks = _variables_bytes(model.weights)

    def write(handle):
        for chunk in chunks:
            handle.write(chunk)

    atomic_write(filepath, write)


def load_weights(model, filepath) -> None:
    """Load weights from a ``.weights.safetensors`` file or a ``.hl`` model file.

    A count/shape mismatch raises ``ValueError`` naming the weight path and both shapes;
    a damaged file raises ``FileFormatError``."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".h5"):
        _keras_format().load_weights_h5(model, filepath)
        return
    if filepath.endswith(".hl"):
        members = read_zip(filepath, _MEMBERS, "highlevel model file")
        data, what = members[WEIGHTS_MEMBER], f"{filepath}: {WEIGHTS_MEMBER}"
    else:
        size = os.path.getsize(filepath)
        if size > MAX_MEMBER_BYTES:
            raise FileFormatError(f"{filepath} is {size} bytes, over the limit of {MAX_MEMBER_BYTES} bytes")
        with open(filepath, "rb") as handle:
            data = handle.read()
        what = filepath
    arrays, _ = decode_safetensors(data, what)
    if not model.built:
        raise ValueError(f"load_weights: model {model.name!r} is not built; call it on data or build() it first")
    _assign(model.weights, arrays, f"load_weights({what!r}) into model {model.name!r}", error=ValueError)


# ------------------------------------------------------------------- JSON
def to_json(model, **kwargs) -> str:
    """The model's architecture as a JSON string (no weights)."""
    config = _model_config(model)
    config["highlevel_version"] = _version()
    config["backend"] = _backend_name()
    shape = _build_shape(model)
    if shape is not None:
        config["build_input_shape"] = shape
    return json.dumps(config, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A fresh (newly initialized) model from ``to_json``'s string."""
    config = loads_json(json_string, "model JSON")
    if not isinstance(config, dict):
        raise FileFormatError("model JSON must be a JSON object")
    shape = config.pop("build_input_shape", None)
    config.pop("highlevel_version", None)
    config.pop("backend", None)
    return _rebuild(config, shape, custom_objects, "model JSON")


def clone_model(model, custom_objects=None):
    """A new model with the same architecture and freshly initialized weights."""
    serialized = json.loads(json.dumps(_model_config(model)))
    shape = _build_shape(model)
    clone = _deserialize_model(serialized, custom_objects)
    if not clone.built and shape is not None:
        clone.build(_tupleify(shape))
    return clone


__all__ = ["FileFormatError", "clone_model", "load_model", "load_weights", "model_from_json", "save_model",
           "save_weights", "to_json"]
