"""Export a model for serving without highlevel: ``model.export(path, format=...)``.

Formats: ``"tf_saved_model"`` (a TensorFlow SavedModel whose ``serve`` function runs the
forward pass with the weights as ``tf.Variable``s; needs the tensorflow backend),
``"torch_export"`` (a ``torch.export`` program saved with ``torch.export.save``; needs the
torch backend) and ``"onnx"`` (one self-contained .onnx file made by
``torch.onnx.export`` from that program; needs the torch backend and the onnx and
onnxscript packages). The batch dimension stays dynamic. From any other backend, ``python -m highlevel convert model.hl --to
FORMAT`` loads the saved model under the right backend in a subprocess and exports it.

The engine code lives in ``highlevel.backends.<engine>.export``; this module only
describes the model's inputs and picks the exporter.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

from highlevel import backend

#: format -> (backend that writes it, packages it needs)
FORMATS = {"tf_saved_model": ("tensorflow", ("tensorflow",)), "torch_export": ("torch", ("torch",)),
           "onnx": ("torch", ("torch", "onnx", "onnxscript"))}


def missing_packages(format) -> list:
    """The packages ``format`` needs that are not installed."""
    return [p for p in FORMATS[format][1] if importlib.util.find_spec(p) is None]


class ExportError(ValueError):
    """The model cannot be exported in the asked format from this process."""


def input_signature(model):
    """``[(shape with None batch, dtype)]`` of the model's inputs, in ``model.inputs`` order."""
    inputs = getattr(model, "inputs", None)
    if inputs:
        return [(tuple(t.shape), str(t.dtype)) for t in inputs]
    shape = getattr(model, "_build_input_shape", None)
    if shape and all(isinstance(d, (int, type(None))) for d in shape):
        return [((None, *tuple(shape)[1:]), str(getattr(model, "compute_dtype", "float32")))]
    raise ExportError(f"export: cannot tell the inputs of model {getattr(model, 'name', model)!r}; export a "
                      f"functional or Sequential model, or build the subclassed model with a single input shape")


def export_model(model, filepath, format="tf_saved_model", verbose=False):
    """Write ``model`` to ``filepath`` in ``format`` (see the module docstring)."""
    if format not in FORMATS:
        raise ExportError(f"export: unknown format {format!r}; choose one of {sorted(FORMATS)}")
    needed = FORMATS[format][0]
    current = backend.name()
    missing = missing_packages(format)
    if missing:
        raise ExportError(f"export: format {format!r} needs {', '.join(missing)}, not installed here "
                          f"(pip install {' '.join(missing)})")
    if current != needed:
        raise ExportError(f"export: format {format!r} is written from the {needed!r} backend, but this process "
                          f"runs on {current!r}. Save the model (model.save('model.hl')) and run: "
                          f"python -m highlevel convert model.hl --to {format} --output PATH")
    if not getattr(model, "built", False):
        raise ExportError("export: the model is not built; call it on data or build() it first")
    module = importlib.import_module(f"highlevel.backends.{needed}.export")
    module.export_model(model, os.fspath(filepath), format, input_signature(model))
    if verbose:
        print(f"Saved {format} artifact to {filepath}")


__all__ = ["ExportError", "FORMATS", "export_model", "input_signature", "missing_packages"]
