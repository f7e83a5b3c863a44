"""Keras 3 file compatibility: ``.keras`` archives and ``.weights.h5`` weight files.

* ``save_keras(model, path)`` writes a Keras 3 archive (``metadata.json``, ``config.json``
  in Keras's schema, ``model.weights.h5`` in Keras's h5 layout) that
  ``keras.models.load_model`` opens for models of built-in layers.
* ``load_keras(path)`` opens an archive written by Keras 3: Keras class names are mapped
  to highlevel's registered built-ins; unknown names (and ``Lambda``, whose Keras config
  carries code) are refused with ``FileFormatError``.
* ``save_weights_h5`` / ``load_weights_h5``: Keras's h5 layout (``layers/<key>/vars/<i>``,
  ``<key>`` the snake_case class name made unique within its list, nested layers under
  their attribute name, e.g. ``layers/lstm/cell/vars/0``).

Safety: nothing is imported, evaluated or unpickled; h5 external links, soft links,
virtual and externally stored datasets are refused; archive members and datasets are
size-checked before they are read; files are written atomically.
"""

from __future__ import annotations

import datetime
import inspect
import io
import json
import os
import re
import warnings
import zipfile

import numpy as np

from highlevel.saving import registry
from highlevel.saving.file_format import (MAX_JSON_BYTES, MAX_MEMBER_BYTES, FileFormatError, atomic_write, loads_json,
                                          read_zip)

MAX_WEIGHTS_BYTES = 16 * 1024 ** 3
MAX_NESTING = 64
KERAS_VERSION = "3.15.1"

_MODULE_BY_PACKAGE = (
    ("highlevel.layers", "keras.layers"),
    ("highlevel.initializers", "keras.initializers"),
    ("highlevel.regularizers", "keras.regularizers"),
    ("highlevel.constraints", "keras.constraints"),
    ("highlevel.activations", "keras.activations"),
    ("highlevel.losses", "keras.losses"),
    ("highlevel.metrics", "keras.metrics"),
    ("highlevel.optimizers", "keras.optimizers"),
)
# Keras-only config keys that highlevel's constructors do not take, dropped on load when they
# hold the value meaning "off".
_KERAS_ONLY_DEFAULTS = {"quantization_config": None, "ragged": False, "zero_output_for_mask": False,
                        "lora_rank": None, "lora_alpha": None, "lora_enabled": False,
                        # optimizers
                        "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                        "loss_scale_factor": None, "gradient_accumulation_steps": None}
_KERAS_ONLY_COMPILE_DEFAULTS = {"steps_per_execution": 1, "auto_scale_loss": True}
_REFUSED = {"Lambda": "a Keras Lambda layer's config holds Python code, which highlevel never loads"}


_atomic_write = atomic_write
_CONFIG_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, NotImplementedError, RecursionError)


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Keras .keras and .weights.h5 files need the h5py package: pip install h5py") from None
    return h5py


# --------------------------------------------------------------- config: hl -> keras


def _keras_module(obj_class, class_name) -> str:
    if class_name == "Sequential":
        return "keras"
    if class_name == "Functional":
        return "keras.src.models.functional"
    if class_name == "Model":
        return "keras.src.models.model"
    module = getattr(obj_class, "__module__", "") or ""
    for ours, theirs in _MODULE_BY_PACKAGE:
        if module == ours or module.startswith(ours + "."):
            return theirs
    return "keras"


def _to_keras(value, depth=0):
    """highlevel serialize() output -> Keras's schema (recursively)."""
    if depth > MAX_NESTING:
        raise FileFormatError("config nested too deeply")
    if isinstance(value, list):
        return [_to_keras(v, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__tensor__"}:
        return {"class_name": "__keras_tensor__", "config": {"shape": [], "dtype": "float32",
                                                              "keras_history": list(value["__tensor__"])}}  # Keras maps it by history
    if "class_name" in value and "registered_name" in value and "config" in value:
        registered = value["registered_name"] or ""
        package = registered.split(">")[0] if ">" in registered else ""
        obj = registry.get_registered_object(registered) if registered else None
        class_name = value["class_name"]
        out = {k: _to_keras(v, depth + 1) for k, v in value.items() if k not in ("class_name", "registered_name",
                                                                                   "config")}
        if class_name == "function":
            # A built-in function (activation, loss) is saved by its name, as Keras does.
            return registered.split(">")[-1]
        if class_name in _REFUSED and package == "highlevel":
            raise FileFormatError(f"cannot write {class_name!r} to a .keras file: Keras would need the function's "
                                  f"code; save to a .hl file instead")
        if package != "highlevel":
            raise FileFormatError(f"cannot write {class_name!r} ({registered!r}) to a .keras file: only "
                                  f"highlevel's built-in classes have Keras equivalents")
        config = _to_keras(value["config"], depth + 1)
        result = {"module": _keras_module(obj, class_name), "class_name": class_name, "config": config,
                  "registered_name": None}
        result.update(out)
        return result
    return {k: _to_keras(v, depth + 1) for k, v in value.items()}


def _build_configs(model, keras_config):
    """Add ``build_config`` entries (input shapes of built layers), as Keras writes them."""
    shape = _build_shape(model)
    if shape is not None:
        keras_config["build_config"] = {"input_shape": shape}
    inner = keras_config.get("config", {})
    entries = inner.get("layers") if isinstance(inner, dict) else None
    if not entries:
        return
    layers = _model_layer_list(model, include_inputs=True)
    by_name = {layer.name: layer for layer in layers}
    for entry in entries:
        layer = by_name.get(entry.get("config", {}).get("name"))
        if layer is not None and entry.get("class_name") != "InputLayer":
            _build_configs(layer, entry)


def _build_shape(layer):
    try:
        params = [p for p in inspect.signature(type(layer).build).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if len(params) > 2:
        # build(query_shape, value_shape, ...): Keras wants a shapes dict; it builds such a layer
        # anyway when it replays the graph, so no build_config is written.
        return None
    for attr in ("_build_input_shape", "_build_shapes_dict"):
        shape = layer.__dict__.get(attr)
        if shape is not None and not isinstance(shape, dict):
            return _jsonable_shape(shape)
    return None


def _jsonable_shape(shape):
    if isinstance(shape, (list, tuple)):
        return [_jsonable_shape(s) for s in shape]
    return None if shape is None else int(shape)


# --------------------------------------------------------------- config: keras -> hl


def _from_keras(value, depth=0):
    """Keras's schema -> highlevel's serialize() format, refusing unknown classes."""
    if depth > MAX_NESTING:
        raise FileFormatError("config nested too deeply")
    if isinstance(value, list):
        return [_from_keras(v, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    class_name = value.get("class_name")
    if class_name == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
        if not (isinstance(history, list) and len(history) == 3):
            raise FileFormatError(f"malformed Keras tensor reference {value!r}")
        return {"__tensor__": list(history)}
    if class_name == "DTypePolicy" or class_name == "FloatDTypePolicy":
        return (value.get("config") or {}).get("name", "float32")
    if isinstance(class_name, str) and "config" in value and ("module" in value or "registered_name" in value):
        if class_name in _REFUSED:
            raise FileFormatError(f"refusing to load {class_name!r}: {_REFUSED[class_name]}")
        if class_name == "function":
            name = value.get("config")
            if not isinstance(name, str):
                raise FileFormatError(f"malformed Keras function reference {value!r}")
            return name
        registered = value.get("registered_name")
        module = value.get("module")
        if module is not None and (not isinstance(module, str) or module.split(".")[0] != "keras"):
            raise FileFormatError(f"unknown class {class_name!r} from module {module!r}: only Keras's built-in "
                                  f"classes (module keras.*) are mapped to highlevel")
        if isinstance(registered, str) and ">" in registered and not registered.startswith("keras"):
            raise FileFormatError(f"unknown class {registered!r}: a custom Keras object has no highlevel "
                                  f"equivalent (only Keras's built-in classes are mapped)")
        key = f"highlevel>{class_name}"
        if registry.get_registered_object(key) is None:
            raise FileFormatError(f"unknown Keras class {class_name!r} (module {value.get('module')!r}): "
                                  f"highlevel has no built-in class of that name")
        config = _from_keras(value["config"], depth + 1)
        if isinstance(config, dict):
            config = {k: v for k, v in config.items()
                      if not (k in _KERAS_ONLY_DEFAULTS and v == _KERAS_ONLY_DEFAULTS[k])}
        out = {"class_name": class_name, "registered_name": key, "config": config}
        for extra in ("name", "inbound_nodes"):
            if extra in value:
                out[extra] = _from_keras(value[extra], depth + 1)
        return out
    return {k: _from_keras(v, depth + 1) for k, v in value.items() if k != "shared_object_id"}


# ------------------------------------------------------------------ h5 structure


def _snake(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _model_layer_list(model, include_inputs):
    from highlevel.models.sequential import Sequential
    layers = list(model.layers)
    if isinstance(model, Sequential) and include_inputs:
        layers = list(model._layers)
    return layers


def _children(layer):
    """``[(key, layer_or_list)]``: the nested saveables in Keras's h5 layout."""
    from highlevel.layers.layer import Layer
    from highlevel.models.model import Model
    if isinstance(layer, Model):
        if layer._graph is None and not hasattr(layer, "_layers"):
            raise FileFormatError(f"model {layer.name!r}: only Sequential and functional models can be written in "
                                  f"Keras's h5 layout")
        return [("layers", list(layer.layers))]
    # Keras walks the attributes in sorted order (first name wins) and its layers expose private
    # sublayers through public properties (``_query_dense`` is saved as ``query_dense``).
    tracked = {id(child) for child in layer._direct_sublayers()}
    out = []
    for key, value in sorted(vars(layer).items()):
        if key.startswith("__"):
            continue
        if isinstance(value, Layer) and id(value) in tracked:
            out.append((key.lstrip("_"), value))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) and id(v) in tracked
                                                                 for v in value):
            out.append((key.lstrip("_"), list(value)))
    return out


def _plan(layer, prefix, out, seen):
    """Fill ``out`` with ``(h5 vars path, [variables])`` for ``layer`` and its nested layers."""
    if id(layer) in seen:
        return
    seen.add(id(layer))
    out.append((f"{prefix}vars" if prefix else "vars", layer, list(layer._own_variables())))
    for key, child in _children(layer):
        if isinstance(child, list):
            used = {}
            for item in child:
                base = _snake(type(item).__name__)
                n = used.get(base, 0)
                used[base] = n + 1
                name = base if n == 0 else f"{base}_{n}"
                _plan(item, f"{prefix}{key}/{name}/", out, seen)
        else:
            _plan(child, f"{prefix}{key}/", out, seen)


def weight_plan(model):
    out = []
    _plan(model, "", out, set())
    return out


def _model_optimizer(model):
    return getattr(model, "optimizer", None)


def _write_h5(model, handle, optimizer=None):
    h5py = _h5py()
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built: build it (call it on data) before saving weights")
    plan = weight_plan(model)
    if optimizer is not None:
        plan.append(("optimizer/vars", optimizer, list(optimizer.variables)))
    with h5py.File(handle, "w") as f:
        for path, layer, variables in plan:
            group = f.require_group(path)
            group.attrs["name"] = layer.name
            for i, variable in enumerate(variables):
                group.create_dataset(str(i), data=np.asarray(variable.numpy()))


def _check_safe(f):
    h5py = _h5py()
    problems = []

    def visit(group, depth):
        if depth > MAX_NESTING:
            raise FileFormatError("h5 file nested too deeply")
        for name in group.keys():
            link = group.get(name, getlink=True)
            if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
                problems.append(f"{group.name}/{name} is a {type(link).__name__}")
                continue
            item = group.get(name)
            if isinstance(item, h5py.Group):
                visit(item, depth + 1)
            elif isinstance(item, h5py.Dataset):
                if item.is_virtual or item.external:
                    problems.append(f"{item.name} is a virtual or externally stored dataset")
    visit(f, 0)
    if problems:
        raise FileFormatError("refusing the h5 file: " + "; ".join(problems))


def _stored_var_groups(f):
    """Paths of the non-empty ``vars`` groups (links were checked by ``_check_safe``)."""
    h5py = _h5py()
    found = []

    def visit(name, item):
        if isinstance(item, h5py.Group) and name.split("/")[-1] == "vars" and len(item.keys()):
            found.append(name)
    f.visititems(visit)
    return found


def _read_h5(model, handle, source, optimizer=None):
    h5py = _h5py()
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built: build it (call it on data) before loading weights")
    try:
        f = h5py.File(handle, "r")
    except (OSError, ValueError, RuntimeError, OverflowError) as exc:
        raise FileFormatError(f"{source}: not a readable h5 file ({exc})") from None
    try:
        with f:
            assignments = _collect_h5(f, model, source, optimizer)
    except FileFormatError:
        raise
    except (OSError, KeyError, RuntimeError, AttributeError, TypeError, ValueError, OverflowError,
            MemoryError) as exc:
        raise FileFormatError(f"{source}: damaged h5 file ({type(exc).__name__}: {exc})") from exc
    for variable, value in assignments:
        variable.assign(np.asarray(value).astype(np.dtype(variable.numpy().dtype), copy=False))


def _collect_h5(f, model, source, optimizer):
    """``[(variable, array)]`` read from the open h5 file ``f`` after every check."""
    h5py = _h5py()
    _check_safe(f)
    assignments = []
    plan = weight_plan(model)
    stored = f.get("optimizer/vars")
    if optimizer is not None and isinstance(stored, h5py.Group):
        if len(stored.keys()) != len(optimizer.variables) and not getattr(optimizer, "built", False):
            try:
                optimizer.build(model.trainable_weights)  # the file holds a built optimizer's state
            except (TypeError, ValueError) as exc:
                raise FileFormatError(f"{source}: cannot build the optimizer: {exc}") from exc
        plan.append(("optimizer/vars", optimizer, list(optimizer.variables)))
    expected = {path for path, _, _ in plan}
    extra = sorted(path for path in _stored_var_groups(f) if path not in expected and
                   not path.startswith("optimizer/"))
    if extra:
        raise FileFormatError(f"{source}: holds weights for {extra}, which the model does not have; the file "
                              f"does not match the model")
    for path, layer, variables in plan:
        group = f.get(path)
        if group is not None and not isinstance(group, h5py.Group):
            raise FileFormatError(f"{source}: {path!r} is not a group")
        count = 0 if group is None else len(group.keys())
        if path == "optimizer/vars" and count != len(variables):
            warnings.warn(f"{source}: not loading the optimizer state: the file holds {count} optimizer "
                          f"variables, the model's optimizer has {len(variables)}", stacklevel=3)
            continue
        if count != len(variables):
            raise FileFormatError(f"{source}: {path!r} holds {count} weights but layer {layer.name!r} has "
                                  f"{len(variables)}; the file does not match the model")
        for i, variable in enumerate(variables):
            dataset = group.get(str(i))
            if not isinstance(dataset, h5py.Dataset):
                raise FileFormatError(f"{source}: {path}/{i} is missing")
            if tuple(dataset.shape) != tuple(variable.shape):
                raise FileFormatError(f"{source}: {path}/{i} has shape {tuple(dataset.shape)}, but "
                                      f"{variable.path!r} has shape {tuple(variable.shape)}")
            if dataset.dtype.kind not in "fiub":
                raise FileFormatError(f"{source}: {path}/{i} has the non-numeric dtype {dataset.dtype}")
            assignments.append((variable, dataset[()]))
    return assignments


# -------------------------------------------------------------------- public API


def _check_overwrite(path, overwrite, what):
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{what}: {os.fspath(path)!r} exists and overwrite=False")


def save_weights_h5(model, path, overwrite=True):
    """Write ``model``'s weights to ``path`` (``.weights.h5``) in Keras's h5 layout, atomically."""
    _check_overwrite(path, overwrite, "save_weights")
    _atomic_write(path, lambda handle: _write_h5(model, handle))


def load_weights_h5(model, path):
    """Assign weights from a Keras-layout ``.weights.h5`` file (all checked before any is assigned)."""
    path = os.fspath(path)
    if os.path.getsize(path) > MAX_WEIGHTS_BYTES:
        raise FileFormatError(f"{path}: larger than {MAX_WEIGHTS_BYTES} bytes")
    with open(path, "rb") as handle:
        _read_h5(model, handle, path)


def keras_config(model) -> dict:
    """``model``'s config in Keras 3's ``config.json`` schema."""
    config = _to_keras(registry.serialize(model))
    _build_configs(model, config)
    compile_config = _compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    return config


def _compile_config(model):
    getter = getattr(model, "get_compile_config", None)
    if getter is None:
        return None
    try:
        config = getter()
    except Exception:
        return None
    if not config:
        return None
    try:
        return _to_keras(json.loads(json.dumps(config)))
    except (FileFormatError, TypeError, ValueError):
        return None


def save_keras(model, path, overwrite=True):
    """Write a Keras 3 ``.keras`` archive of a Sequential/functional ``model`` of built-in layers."""
    _check_overwrite(path, overwrite, "save")
    config = keras_config(model)
    weights = io.BytesIO()
    _write_h5(model, weights, optimizer=_model_optimizer(model) if "compile_config" in config else None)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}

    def write(handle):
        with zipfile.ZipFile(handle, "w") as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("model.weights.h5", weights.getvalue())

    _atomic_write(path, write)


def load_keras(path, custom_objects=None, compile=True):
    """Rebuild a model from a Keras 3 ``.keras`` archive: config, weights and (``compile=True``)
    the compile config and optimizer state."""
    from highlevel.layers.layer import weight_budget
    from highlevel.models.model import Model
    source = os.fspath(path)
    members = read_zip(source, {"config.json": (True, MAX_JSON_BYTES), "metadata.json": (False, MAX_JSON_BYTES),
                                "model.weights.h5": (False, min(MAX_WEIGHTS_BYTES, MAX_MEMBER_BYTES))},
                       what=".keras archive")
    config = loads_json(members["config.json"], f"{source}: config.json")
    if not isinstance(config, dict):
        raise FileFormatError(f"{source}: config.json is not a JSON object")
    weights = members.get("model.weights.h5")
    hl_config = _from_keras({k: v for k, v in config.items() if k not in ("build_config", "compile_config")})
    # Every weight element takes at least one byte of model.weights.h5: a config declaring more
    # is refused by add_weight before it allocates (see docs/file-format.md).
    budget = len(weights) if weights is not None else MAX_WEIGHTS_BYTES
    try:
        with weight_budget(budget):
            model = registry.deserialize(hl_config, custom_objects=custom_objects, expected="model")
            if not isinstance(model, Model):
                raise FileFormatError(f"{source}: config.json describes a {type(model).__name__}, not a model")
            if not model.built:
                shape = (config.get("build_config") or {}).get("input_shape")
                if isinstance(shape, list):
                    model.build(tuple(shape))
    except FileFormatError:
        raise
    except _CONFIG_ERRORS as exc:
        raise FileFormatError(f"{source}: cannot rebuild the model from its Keras config: "
                              f"{type(exc).__name__}: {exc}") from exc
    optimizer = None
    compile_config = config.get("compile_config")
    if compile and isinstance(compile_config, dict):
        optimizer = _compile_from_keras(model, compile_config, source)
    if weights is not None:
        _read_h5(model, io.BytesIO(weights), f"{source}:model.weights.h5", optimizer=optimizer)
    return model


def _compile_from_keras(model, compile_config, source):
    """Compile ``model`` from Keras's compile config; the built optimizer (to load its state) or None."""
    config = _from_keras({k: v for k, v in compile_config.items()
                          if not (k in _KERAS_ONLY_COMPILE_DEFAULTS and v == _KERAS_ONLY_COMPILE_DEFAULTS[k])})
    try:
        model.compile_from_config(config)
    except FileFormatError:
        raise
    except _CONFIG_ERRORS as exc:
        raise FileFormatError(f"{source}: cannot compile the model from its Keras compile config: {exc}") from exc
    return getattr(model, "optimizer", None)


__all__ = ["keras_config", "load_keras", "load_weights_h5", "save_keras", "save_weights_h5", "weight_plan"]
