"""benchmarks/gpu_check.py: its comparison arithmetic, and a quick run on this GPU-less machine.

The script starts its own engine subprocesses, so the run happens in the NumPy pass only.
Without a GPU both of its workers run on the CPU and must agree exactly (same device twice
is deterministic): that checks the plumbing that, on a GPU machine, compares GPU with CPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import highlevel as hl

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"
ON_NUMPY = hl.backend.name() == "numpy"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_reports_max_abs_and_scale_relative_differences(tmp_path):
    gpu_check = load_script()
    rng = np.random.default_rng(0)
    forward = rng.normal(size=(6, 10)).astype(np.float32)
    grads = [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)]
    shifted = forward.copy()
    shifted[2, 7] += 3e-3                       # over the conv forward tolerance (1e-4 of max|x|)
    grad_shifted = [grads[0], grads[1] + np.float32(1e-6)]
    np.savez(tmp_path / "a.npz", **{"conv_bn/forward/0": shifted, "conv_bn/gradient/0": grad_shifted[0],
                                    "conv_bn/gradient/1": grad_shifted[1]})
    np.savez(tmp_path / "b.npz", **{"conv_bn/forward/0": forward, "conv_bn/gradient/0": grads[0],
                                    "conv_bn/gradient/1": grads[1]})
    result = gpu_check.compare(str(tmp_path / "a.npz"), str(tmp_path / "b.npz"))

    gap = np.abs(shifted.astype(np.float64) - forward).max()
    assert result["conv_bn/forward"]["max_abs"] == pytest.approx(gap, rel=1e-12)
    assert result["conv_bn/forward"]["max_rel"] == pytest.approx(gap / np.abs(forward).max(), rel=1e-12)
    assert result["conv_bn/forward"]["passed"] is False
    # The gradient group is the worse of its two arrays; only the bias moved.
    bias_gap = np.abs(grad_shifted[1].astype(np.float64) - grads[1]).max()
    assert result["conv_bn/gradient"]["arrays"] == 2
    assert result["conv_bn/gradient"]["max_rel"] == pytest.approx(bias_gap / np.abs(grads[1]).max(), rel=1e-12)
    assert result["conv_bn/gradient"]["passed"] is True


def test_seeded_weights_do_not_depend_on_the_backend_rng():
    """GPU and CPU workers draw different initial weights; the parity models must not."""
    gpu_check = load_script()
    build = gpu_check.parity_models(hl)["conv_bn"][0]
    first, second = build(), build()            # the backend RNG has moved on between the two
    for model in (first, second):
        gpu_check.seeded_weights(model, np, seed=3)
    rng = np.random.default_rng(3)
    kernel_shape = (3, 3, 1, 16)
    expected_kernel = (rng.standard_normal(kernel_shape) / np.sqrt(9)).astype(np.float32)
    for model in (first, second):
        weights = model.get_weights()
        np.testing.assert_array_equal(weights[0], expected_kernel)
        # BatchNorm's gamma, beta, moving mean and variance keep their constant initial values.
        for weight, value in zip(weights[1:5], (1.0, 0.0, 0.0, 1.0)):
            np.testing.assert_array_equal(weight, np.full(16, value, np.float32))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


FORWARD = np.linspace(-1.0, 1.0, 20, dtype=np.float32).reshape(4, 5)


def fake_gpu_worker(forward_shift, weights_device="cuda:0"):
    """A stand-in for run_worker: a torch 'default' run on cuda:0 whose forward output is shifted."""

    def run_worker(engine, run, out_dir, quick, threads, timeout):
        os.makedirs(out_dir, exist_ok=True)
        device = "cuda:0" if run == "default" else "cpu"
        shifted = FORWARD + np.float32(forward_shift if run == "default" else 0.0)
        np.savez(os.path.join(out_dir, "arrays.npz"), **{"mlp/forward/0": shifted})
        placement = {"backend_device": device, "variable": device, "op_result": device,
                     "model_call_output": device, "model_weights": [weights_device if run == "default" else "cpu"],
                     "weights_after_fit": [device], "history_loss_type": "float", "predict_type": "numpy.ndarray"}
        return {"engine": engine, "placement": placement, "info": {}, "spot_checks": {}, "benchmark": {}}
    return run_worker


@pytest.mark.parametrize("shift, weights_device, status", [
    (5e-6, "cuda:0", 0),     # 5e-6 of max|x| = 1: within the dense forward tolerance 1e-5
    (5e-5, "cuda:0", 1),     # over it: a parity FAIL on a GPU exits 1
    (0.0, "cpu", 1),         # weights left on the CPU while the backend says cuda:0
])
def test_a_present_gpu_fails_on_parity_or_placement(monkeypatch, capsys, shift, weights_device, status):
    gpu_check = load_script()
    monkeypatch.setattr(gpu_check, "run_worker", fake_gpu_worker(shift, weights_device))
    assert gpu_check.main(["--engines", "torch", "--quick"]) == status
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("GPU_CHECK "))
    report = summary["engines"]["torch"]
    assert report["gpu"] is True
    gap = np.abs((FORWARD + np.float32(shift)).astype(np.float64) - FORWARD).max()   # max|x| is 1
    assert report["parity"]["mlp/forward"]["max_abs"] == pytest.approx(gap, rel=1e-12, abs=0)
    assert report["parity"]["mlp/forward"]["max_rel"] == pytest.approx(gap, rel=1e-12, abs=0)
    assert summary["verdict"] == ("PASS" if status == 0 else "FAIL")


@pytest.mark.skipif(not ON_NUMPY, reason="gpu_check.py starts its own torch subprocesses: run it once, "
                                         "in the NumPy pass")
def test_quick_run_without_gpu_reports_exact_cpu_parity():
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the CPU-vs-CPU plumbing check applies only without one")
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--engines", "torch"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "torch sees no GPU" in done.stdout
    summary = json.loads(done.stdout.strip().splitlines()[-1].removeprefix("GPU_CHECK "))
    report = summary["engines"]["torch"]
    assert summary["verdict"] == "PASS" and report["gpu"] is False
    assert not report["failures"] and not report["errors"]
    stages = {f"{model}/{stage}" for model in ("mlp", "digits_cnn", "conv_bn")
              for stage in ("forward", "gradient", "trained")}
    assert set(report["parity"]) == stages
    for name, entry in report["parity"].items():
        assert entry["arrays"] >= 1, name
        assert entry["max_abs"] == 0.0 and entry["max_rel"] == 0.0, (name, entry)
    # The printed table says the same: every parity row reads exactly zero.
    rows = [line.split() for line in done.stdout.splitlines() if line.strip().split(" ")[0] in stages]
    assert len(rows) == len(stages)
    assert all(row[2:4] == ["0.000e+00", "0.000e+00"] and row[-1] == "PASS" for row in rows)
    for run in ("default", "cpu"):
        result = report["runs"][run]
        assert result["placement"]["backend_device"] == "cpu"
        assert result["placement"]["predict_type"] == "numpy.ndarray"
        assert all(check["ok"] for check in result["spot_checks"].values()), result["spot_checks"]
        assert result["benchmark"]["mlp 784-256-256-10 b128"]["fit_samples_per_s"] > 0
