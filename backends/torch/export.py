"""``torch.export`` of a highlevel model (used by ``highlevel.export``)."""

from __future__ import annotations

import os
import tempfile

import torch

from .core import torch_dtype


class _Served(torch.nn.Module):
    """An ``nn.Module`` whose forward runs the model in inference mode; the weights are its buffers."""

    def __init__(self, model):
        super().__init__()
        self._model = [model]   # a list: not an nn.Module attribute
        for i, variable in enumerate(model.weights):
            self.register_buffer(f"w{i}", variable.value, persistent=True)

    def forward(self, *inputs):
        model = self._model[0]
        return model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)


def _atomic(filepath, suffix, write):
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)   # mkstemp makes 0600 files
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def export_model(model, filepath, format, signature):
    if format not in ("torch_export", "onnx"):
        raise ValueError(f"the torch backend exports formats 'torch_export' and 'onnx', not {format!r}")
    examples = tuple(torch.zeros(tuple(2 if d is None else d for d in shape), dtype=torch_dtype(dtype))
                     for shape, dtype in signature)
    batch = torch.export.Dim("batch", min=1)
    dynamic = tuple({0: batch} if shape and shape[0] is None else None for shape, _ in signature)
    module = _Served(model).eval()
    with torch.no_grad():
        program = torch.export.export(module, examples, dynamic_shapes={"inputs": dynamic})
    if format == "torch_export":
        _atomic(filepath, ".pt2", lambda tmp: torch.export.save(program, tmp))
        return
    names = [f"input_{i}" for i in range(len(signature))]

    def write_onnx(tmp):
        # From the exported program (dynamo exporter); the weights are embedded in the file.
        onnx_program = torch.onnx.export(program, examples, dynamo=True, input_names=names,
                                         output_names=["output_0"], external_data=False, verbose=False)
        onnx_program.save(tmp, external_data=False)

    _atomic(filepath, ".onnx", write_onnx)
