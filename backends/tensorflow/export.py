"""TensorFlow SavedModel export of a highlevel model (used by ``highlevel.export``)."""

from __future__ import annotations

import os
import shutil
import tempfile

import tensorflow as tf

from .core import tf_dtype


class _Served(tf.Module):
    """Tracks the model's ``tf.Variable``s; ``serve`` runs the forward pass in inference mode."""

    def __init__(self, model, signature):
        super().__init__(name="highlevel_model")
        self._model = model
        self.model_variables = [variable._var for variable in model.weights]
        specs = [tf.TensorSpec(shape, tf_dtype(dtype), name=f"input_{i}") for i, (shape, dtype) in
                 enumerate(signature)]

        def serve(*inputs):
            outputs = self._model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
            return tf.nest.map_structure(tf.convert_to_tensor, outputs)

        self.serve = tf.function(serve, input_signature=specs, autograph=False)


def export_model(model, filepath, format, signature):
    if format != "tf_saved_model":
        raise ValueError(f"the tensorflow backend exports format 'tf_saved_model', not {format!r}")
    served = _Served(model, signature)
    served.serve.get_concrete_function()   # trace now: errors surface before anything is written
    parent = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-export-", dir=parent)
    try:
        tf.saved_model.save(served, tmp, signatures={"serving_default": served.serve})
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)   # mkdtemp makes a 0700 folder
        old = None
        if os.path.exists(filepath):
            old = tempfile.mkdtemp(prefix=".old-export-", dir=parent)
            os.replace(filepath, os.path.join(old, "previous"))
        os.replace(tmp, filepath)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
