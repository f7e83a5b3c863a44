"""Export for serving (issue 5): model.export and ``python -m highlevel convert``, once per backend.

Each artifact is run in a fresh subprocess that never imports highlevel (torch.export.load,
tf.saved_model.load) and its outputs are compared with ``model.predict``.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import highlevel as hl
from highlevel.export import ExportError

BACKEND = hl.backend.name()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATIVE = {"torch": "torch_export", "tensorflow": "tf_saved_model"}
FORMATS = ("onnx", "tf_saved_model", "torch_export")

RUNNER = textwrap.dedent('''
    import json, sys
    import numpy as np
    jobs, inputs_path, out_path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    with np.load(inputs_path) as data:
        inputs = [data[f"arr_{i}"] for i in range(len(data.files))]
    results = {}
    for name, (fmt, path) in jobs.items():
        for rows in (len(inputs[0]), 1):                        # the batch dimension is dynamic
            batch = [a[:rows] for a in inputs]
            if fmt == "onnx":
                import onnxruntime
                session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
                out = session.run(None, {f"input_{i}": a for i, a in enumerate(batch)})[0]
            elif fmt == "torch_export":
                import torch
                module = torch.export.load(path).module()
                out = module(*[torch.from_numpy(a) for a in batch]).detach().numpy()
            else:
                import tensorflow as tf
                served = tf.saved_model.load(path)
                out = served.serve(*batch).numpy()
                sig = served.signatures["serving_default"]
                by_name = sig(**{f"input_{i}": tf.constant(a) for i, a in enumerate(batch)})
                assert np.array_equal(list(by_name.values())[0].numpy(), out)
            results[f"{name}_{rows}"] = out
    assert not any(m == "highlevel" or m.startswith("highlevel.") for m in sys.modules), "highlevel was imported"
    np.savez(out_path, **results)
''')


def _env(**extra):
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", **extra)


def _model():
    hl.utils.set_random_seed(0)
    a, b = hl.Input((3,), name="a"), hl.Input((2,), name="b")
    h = hl.layers.Dense(5, activation="tanh")(hl.layers.Concatenate()([a, b]))
    return hl.Model([a, b], hl.layers.Dense(2)(h))


def _inputs():
    rng = np.random.RandomState(0)
    return [rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")]


def _run_artifacts(tmp_path, jobs, inputs):
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    np.savez(tmp_path / "inputs.npz", *inputs)
    env = {k: v for k, v in _env().items() if k != "PYTHONPATH"}   # highlevel is not importable there
    done = subprocess.run([sys.executable, str(runner), json.dumps(jobs), str(tmp_path / "inputs.npz"),
                           str(tmp_path / "outputs.npz")], env=env, capture_output=True, text=True, timeout=120,
                          cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(tmp_path / "outputs.npz") as data:
        return {k: data[k] for k in data.files}


def test_export_and_convert_run_without_highlevel(tmp_path):
    model = _model()
    inputs = _inputs()
    expected = model.predict(inputs, verbose=0)
    jobs = {}
    direct = direct_formats()
    model.save(tmp_path / "model.hl")
    others = sorted(set(FORMATS) - set(direct))   # the CLI for the others, in one call (run meanwhile)
    command = [sys.executable, "-m", "highlevel", "convert", str(tmp_path / "model.hl"), "--to", ",".join(others)]
    cli = subprocess.Popen(command, env=_env(HIGHLEVEL_BACKEND=BACKEND), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    for fmt in direct:   # direct export from the backend that writes the format
        path = str(tmp_path / f"direct_{fmt}")
        model.export(path, format=fmt)
        jobs[f"direct_{fmt}"] = (fmt, path)
    stdout, stderr = cli.communicate(timeout=120)
    assert cli.returncode == 0, stderr[-3000:]
    suffix = {"torch_export": ".pt2", "onnx": ".onnx", "tf_saved_model": "_saved_model"}
    for fmt in others:
        out = str(tmp_path / f"model{suffix[fmt]}")      # the default output: next to the model
        assert f"wrote {fmt} to {out}" in stdout
        jobs[f"cli_{fmt}"] = (fmt, out)
    assert sorted(fmt for fmt, _ in jobs.values()) == sorted(FORMATS)
    results = _run_artifacts(tmp_path, jobs, inputs)
    for name in jobs:
        np.testing.assert_allclose(results[f"{name}_6"], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(results[f"{name}_1"], expected[:1], rtol=1e-5, atol=1e-6)


def direct_formats():
    return {"torch": ("torch_export", "onnx"), "tensorflow": ("tf_saved_model",)}.get(BACKEND, ())


def test_export_errors_are_clear(tmp_path):
    model = _model()
    with pytest.raises(ExportError, match="unknown format"):
        model.export(tmp_path / "x", format="tflite")
    for fmt in set(FORMATS) - set(direct_formats()):
        with pytest.raises(ExportError, match="python -m highlevel convert"):
            model.export(tmp_path / "x", format=fmt)
    assert not (tmp_path / "x").exists()


def test_convert_cli_reports_missing_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "highlevel", "convert", str(tmp_path / "missing.hl"), "--to",
                           NATIVE.get(BACKEND, "torch_export")], env=_env(HIGHLEVEL_BACKEND=BACKEND),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "missing.hl" in done.stderr


def test_missing_engine_is_reported(tmp_path, monkeypatch):
    import importlib.util

    import highlevel.export as export
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a))
    assert export.missing_packages("onnx") == ["onnxscript"]
    with pytest.raises(ExportError, match="needs onnxscript, not installed here"):
        _model().export(tmp_path / "m.onnx", format="onnx")
