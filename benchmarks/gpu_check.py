"""GPU check: device placement, GPU-vs-CPU parity and GPU-vs-CPU speed, per engine.

For each engine (torch, tensorflow) two worker subprocesses run the same script part
(highlevel binds its backend and device at import, so each pair needs its own process):

* ``default`` — ``HIGHLEVEL_DEVICE`` unset: the backend's own choice (the GPU when there is one);
* ``cpu``     — ``HIGHLEVEL_DEVICE=cpu``.

Each worker reports:

* placement — ``hl.backend.device()`` and where a Variable, an op result, a model's
  weights, a model call's output and the weights after ``fit`` live; that ``fit``'s history
  holds Python floats and ``predict`` returns NumPy;
* parity arrays — three seeded models (an MLP 784-64-10, the digits CNN of
  ``examples/cnn_digits.py`` without its Dropout, a Conv2D+BatchNorm+Dense net) on the same
  NumPy-drawn weights: forward outputs, the loss and gradients of one batch
  (``hl.ops.value_and_grad``) and the weights after 2 epochs of ``fit`` (SGD with momentum,
  ``shuffle=False``);
* spot checks — an out-of-range label in ``sparse_categorical_crossentropy`` raises
  ``InvalidArgumentError`` (directly and inside ``fit``); float64 ops keep float64 and match NumPy;
* benchmark — ``fit`` samples/s (median of 3 epochs after a warm-up epoch) of an MLP
  784-256-256-10 at batch 128 and a 28x28 conv net at batch 256, and ``predict`` latency
  on one sample.

The parent compares the ``default`` arrays with the ``cpu`` ones: max abs difference, max
relative difference (``max|a - b| / max|b|`` per array) and PASS/FAIL at float32 tolerances:
forward 1e-5 (dense) / 1e-4 (with convolutions), gradients 1e-4, weights after training
1e-3. TF32 stays off (the backends' default). Without a GPU both workers run on the CPU,
so every difference must be exactly 0: that checks the comparison plumbing.

    python benchmarks/gpu_check.py [--quick] [--engines torch tensorflow] [--cpu-threads N]

Output: a readable report, then one line ``GPU_CHECK {json}`` with every figure.
Exit status: 0 when every check passes or no GPU is present; 1 when a parity, placement or
spot check fails (or a worker crashes) on a GPU that is present; 2 when any of those goes wrong
without a GPU (the check itself, or the CPU path, is broken). An engine that is not installed,
or TensorFlow's CPU-only wheel, is a finding, not a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ENGINES = ("torch", "tensorflow")
RUNS = ("default", "cpu")
#: Scale-relative tolerances (max|a - b| / max|b|) per stage; "forward" depends on the model.
FORWARD_TOLERANCE = {"mlp": 1e-5, "digits_cnn": 1e-4, "conv_bn": 1e-4}
GRADIENT_TOLERANCE = 1e-4
TRAINED_TOLERANCE = 1e-3


# =============================================================================== worker
# Everything below up to the parent section runs inside a worker subprocess, where
# HIGHLEVEL_BACKEND / HIGHLEVEL_DEVICE are already set.


def tensor_device(value) -> str:
    """Where a backend tensor (or a Variable's value) lives, as the engine spells it."""
    value = getattr(value, "value", value)
    device = getattr(value, "device", None)
    return "numpy" if device is None else str(device)


def engine_info(engine: str) -> dict:
    """Engine version, whether it was built with CUDA and which GPUs it sees."""
    if engine == "torch":
        import torch

        cuda = torch.cuda.is_available()
        return {"version": torch.__version__, "cuda_build": torch.version.cuda,
                "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
                "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
                "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32)}
    import tensorflow as tf

    return {"version": tf.__version__, "cuda_build": bool(tf.test.is_built_with_cuda()),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
            "tf32": bool(tf.config.experimental.tensor_float_32_execution_enabled())}


def check_placement(hl, np) -> dict:
    """Where new tensors, Variables, model weights and outputs live; what fit/predict return."""
    ops = hl.ops
    variable = hl.Variable(np.ones((2, 2), np.float32))
    product = ops.matmul(variable, ops.convert_to_tensor(np.ones((2, 2), np.float32)))
    model = hl.Sequential([hl.Input((4,)), hl.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 4), np.float32), np.zeros((8, 3), np.float32)
    called = model(ops.convert_to_tensor(x))
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    predicted = model.predict(x, verbose=0)
    return {"backend_device": hl.backend.device(), "variable": tensor_device(variable),
            "op_result": tensor_device(product),
            "model_weights": sorted({tensor_device(w) for w in model.weights}),
            "model_call_output": tensor_device(called),
            "weights_after_fit": sorted({tensor_device(w) for w in model.weights}),
            "history_loss_type": type(history.history["loss"][0]).__name__,
            "predict_type": f"{type(predicted).__module__}.{type(predicted).__name__}"}


def seeded_weights(model, np, seed):
    """Replace a built model's weights with NumPy draws, the same on every device.

    The backends' RNGs differ between CPU and GPU, so nothing may depend on the initial
    draws: constant arrays (zero biases, BatchNorm's ones and zeros) stay as they are, every
    other array becomes ``normal(0, 1/sqrt(fan_in))`` from NumPy's generator.
    """
    rng = np.random.default_rng(seed)
    new = []
    for weight in model.get_weights():
        if weight.size and weight.min() == weight.max():
            new.append(weight)
            continue
        fan_in = int(np.prod(weight.shape[:-1])) if weight.ndim > 1 else weight.size
        new.append((rng.standard_normal(weight.shape) / np.sqrt(fan_in)).astype(weight.dtype))
    model.set_weights(new)


def parity_models(hl):
    """name -> (builder, input kind, loss from logits?)."""
    layers = hl.layers

    def mlp():
        return hl.Sequential([hl.Input((784,)), layers.Dense(64, activation="relu"), layers.Dense(10)])

    def digits_cnn():
        # The example's model, its Dropout left out: dropout masks come from the backend's
        # RNG, which differs between CPU and GPU.
        sys.path.insert(0, os.path.join(REPO, "examples"))
        try:
            import cnn_digits
            kept = [layer for layer in cnn_digits.build_model().layers if not isinstance(layer, layers.Dropout)]
        except ImportError:
            return conv_bn()
        finally:
            sys.path.pop(0)
        return hl.Sequential([hl.Input((8, 8, 1))] + kept)

    def conv_bn():
        # No conv bias: BatchNorm cancels it, so its gradient is pure rounding noise (mathematically 0)
        # and no relative tolerance could compare it.
        return hl.Sequential([hl.Input((8, 8, 1)), layers.Conv2D(16, 3, padding="same", use_bias=False),
                              layers.BatchNormalization(), layers.Activation("relu"), layers.MaxPooling2D(),
                              layers.Flatten(), layers.Dense(10)])

    return {"mlp": (mlp, "dense", True), "digits_cnn": (digits_cnn, "digits", False),
            "conv_bn": (conv_bn, "digits", True)}


def parity_data(hl, np, kind, samples):
    """``(x float32, y int32)``: synthetic 784-feature rows or the first bundled digits."""
    if kind == "dense":
        rng = np.random.default_rng(1)
        return (rng.normal(size=(samples, 784)).astype(np.float32),
                rng.integers(0, 10, size=samples).astype(np.int32))
    (x, y), _ = hl.datasets.digits.load_data()
    return (x[:samples].astype(np.float32) / 16.0)[..., None], y[:samples].astype(np.int32)


def parity_arrays(hl, np, samples) -> dict:
    """``"model/stage/i"`` -> array, for the parent to compare across devices."""
    ops = hl.ops
    arrays = {}
    for index, (name, (build, kind, from_logits)) in enumerate(parity_models(hl).items()):
        x, y = parity_data(hl, np, kind, samples)
        loss = hl.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        model = build()
        seeded_weights(model, np, seed=10 + index)
        arrays[f"{name}/forward/0"] = model.predict(x, batch_size=64, verbose=0)

        xb, yb = ops.convert_to_tensor(x[:64]), ops.convert_to_tensor(y[:64])
        value, grads = ops.value_and_grad(lambda: loss(yb, model(xb, training=True)), model.trainable_weights)
        arrays[f"{name}/gradient/loss"] = np.asarray(ops.convert_to_numpy(value)).reshape(1)
        for i, grad in enumerate(grads):
            arrays[f"{name}/gradient/{i}"] = np.asarray(ops.convert_to_numpy(grad))

        model = build()
        seeded_weights(model, np, seed=10 + index)
        # SGD with momentum, not Adam: Adam divides by sqrt(v), which turns float32 noise in
        # near-zero gradients into full-size steps, so its trajectories are not comparable at 1e-3.
        model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss=loss)
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        for i, weight in enumerate(model.get_weights()):
            arrays[f"{name}/trained/{i}"] = weight
    return arrays


def spot_checks(hl, np) -> dict:
    """name -> {"ok": bool, "detail": str}. Run last: a device-side assert would poison the process."""
    ops = hl.ops
    results = {}

    def record(name, check):
        try:
            results[name] = {"ok": True, "detail": check()}
        except Exception as error:  # a failed check is a result, not a crash
            results[name] = {"ok": False, "detail": f"{type(error).__name__}: {error}"}

    def expect_invalid(call):
        try:
            call()
        except ops.InvalidArgumentError as error:
            return f"raised InvalidArgumentError: {str(error)[:120]}"
        raise AssertionError("no InvalidArgumentError for an out-of-range label")

    logits = np.zeros((3, 10), np.float32)
    labels = np.array([1, 10, 2])
    record("scce_label_out_of_range_logits", lambda: expect_invalid(
        lambda: ops.convert_to_numpy(hl.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))))
    record("scce_label_out_of_range_probs", lambda: expect_invalid(
        lambda: ops.convert_to_numpy(hl.losses.sparse_categorical_crossentropy(labels, logits + 0.1))))

    def fit_with_bad_label():
        model = hl.Sequential([hl.Input((4,)), hl.layers.Dense(10)])
        model.compile(optimizer="sgd", loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True))
        return expect_invalid(lambda: model.fit(np.ones((4, 4), np.float32), np.array([0, 1, 12, 3]),
                                                batch_size=4, verbose=0))
    record("scce_label_out_of_range_in_fit", fit_with_bad_label)

    def float64_ops():
        rng = np.random.default_rng(3)
        a, b = rng.normal(size=(5, 7)), rng.normal(size=(7, 3))
        ta, tb = ops.convert_to_tensor(a, dtype="float64"), ops.convert_to_tensor(b, dtype="float64")
        results64 = {"matmul": (ops.matmul(ta, tb), a @ b),
                     "exp_sum": (ops.sum(ops.exp(ta), axis=1), np.exp(a).sum(axis=1)),
                     "softmax": (ops.softmax(ta), np.exp(a) / np.exp(a).sum(axis=1, keepdims=True))}
        worst = 0.0
        for name, (got, want) in results64.items():
            got_np = np.asarray(ops.convert_to_numpy(got))
            if got_np.dtype != np.float64:
                raise AssertionError(f"{name} returned {got_np.dtype}, expected float64")
            worst = max(worst, float(np.max(np.abs(got_np - want) / np.maximum(np.abs(want), 1e-300))))
        if worst > 1e-12:
            raise AssertionError(f"float64 results differ from NumPy by {worst:.1e} (relative) > 1e-12")
        return f"matmul, exp+sum, softmax stay float64 (device {tensor_device(ta)}); max rel diff {worst:.1e}"
    record("float64_ops", float64_ops)
    return results


def sync(engine, device):
    """Wait for queued GPU work, so a timer measures it (TensorFlow's fit already waits)."""
    if engine == "torch" and device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()


def benchmark(hl, np, engine, quick) -> dict:
    """fit samples/s (median of 3 epochs after a warm-up epoch) and one-sample predict latency."""
    layers = hl.layers
    rng = np.random.default_rng(5)

    def mlp():
        return hl.Sequential([hl.Input((784,)), layers.Dense(256, activation="relu"),
                              layers.Dense(256, activation="relu"), layers.Dense(10)])

    def convnet():
        return hl.Sequential([hl.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                              layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10)])

    rows = {  # name: (builder, input shape, batch, samples per epoch)
        "mlp 784-256-256-10 b128": (mlp, (784,), 128, 1024 if quick else 8192),
        "convnet 28x28x1 b256": (convnet, (28, 28, 1), 256, 512 if quick else 4096),
    }
    epochs, calls = (1, 10) if quick else (3, 100)
    out = {}
    for name, (build, shape, batch, samples) in rows.items():
        x = rng.normal(size=(samples,) + shape).astype(np.float32)
        y = rng.integers(0, 10, size=samples).astype(np.int32)
        model = build()
        model.compile(optimizer=hl.optimizers.Adam(1e-3),
                      loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True))
        speeds = []
        for epoch in range(epochs + 1):   # the first epoch is the warm-up
            sync(engine, hl.backend.device())
            started = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
            sync(engine, hl.backend.device())
            if epoch:
                speeds.append(samples / (time.perf_counter() - started))
        one = x[:1]
        model.predict(one, verbose=0)
        latencies = []
        for _ in range(calls):
            started = time.perf_counter()
            model.predict(one, verbose=0)
            latencies.append(time.perf_counter() - started)
        out[name] = {"fit_samples_per_s": statistics.median(speeds), "fit_epochs_timed": len(speeds),
                     "predict_1_ms": 1000 * statistics.median(latencies)}
    return out


def worker(engine: str, out_dir: str, quick: bool, threads: int) -> None:
    """One engine on one device: writes result.json and arrays.npz into out_dir."""
    result = {"engine": engine, "device_env": os.environ.get("HIGHLEVEL_DEVICE")}
    started = time.perf_counter()
    try:
        import numpy as np
        import highlevel as hl
    except ImportError as error:   # the engine is not installed here: a finding, not a crash
        result["unavailable"] = f"{type(error).__name__}: {error}"
        with open(os.path.join(out_dir, "result.json"), "w") as handle:
            json.dump(result, handle)
        return
    result["import_s"] = time.perf_counter() - started
    if engine == "torch":
        import torch
        torch.set_num_threads(threads)
    result["info"] = dict(engine_info(engine), highlevel=os.path.dirname(hl.__file__))
    stage = "placement"
    try:
        result["placement"] = check_placement(hl, np)
        stage = "parity"
        hl.utils.set_random_seed(0)
        arrays = parity_arrays(hl, np, samples=128 if quick else 512)
        np.savez(os.path.join(out_dir, "arrays.npz"), **arrays)
        stage = "benchmark"
        result["benchmark"] = benchmark(hl, np, engine, quick)
        stage = "spot checks"
        result["spot_checks"] = spot_checks(hl, np)
    except Exception:
        result["error"] = f"during {stage}:\n{traceback.format_exc()}"
    with open(os.path.join(out_dir, "result.json"), "w") as handle:
        json.dump(result, handle)


# =============================================================================== parent


def run_worker(engine, run, out_dir, quick, threads, timeout) -> dict:
    """Start one worker subprocess; its result.json, or an error record."""
    env = dict(os.environ, HIGHLEVEL_BACKEND=engine, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(min(threads, 2)),
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    env.pop("HIGHLEVEL_DEVICE", None)
    if run == "cpu":
        env["HIGHLEVEL_DEVICE"] = "cpu"
    os.makedirs(out_dir, exist_ok=True)
    command = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--out", out_dir,
               "--cpu-threads", str(threads)] + (["--quick"] if quick else [])
    started = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"worker timed out after {timeout} s"}
    path = os.path.join(out_dir, "result.json")
    if not os.path.exists(path):
        return {"error": f"worker exited with {done.returncode} and no result:\n{done.stderr[-3000:]}"}
    with open(path) as handle:
        result = json.load(handle)
    result["wall_s"] = time.perf_counter() - started
    return result


def on_gpu(engine: str, device: str) -> bool:
    device = device.lower()
    return device.startswith(("cuda", "mps")) if engine == "torch" else "gpu" in device


def placement_problems(engine, run, result, gpu) -> list:
    """What is on the wrong device, or of the wrong type, in one worker's placement record."""
    placement = result.get("placement")
    if not placement:
        return []
    want_gpu = gpu and run == "default"   # HIGHLEVEL_DEVICE=cpu must keep everything off the GPU
    problems = []
    for key in ("backend_device", "variable", "op_result", "model_call_output"):
        if on_gpu(engine, placement[key]) != want_gpu:
            problems.append(f"{key} is on {placement[key]}, expected {'the GPU' if want_gpu else 'the CPU'}")
    for key in ("model_weights", "weights_after_fit"):
        if any(on_gpu(engine, device) != want_gpu for device in placement[key]):
            problems.append(f"{key} are on {placement[key]}, expected {'the GPU' if want_gpu else 'the CPU'}")
    if placement["predict_type"] != "numpy.ndarray":
        problems.append(f"predict returned {placement['predict_type']}, expected numpy.ndarray")
    if placement["history_loss_type"] != "float":
        problems.append(f"fit's history holds {placement['history_loss_type']}, expected float")
    return problems


def compare(default_npz: str, cpu_npz: str) -> dict:
    """Per model and stage: max abs diff, max relative diff (per array, over max|cpu|), tolerance, PASS?"""
    import numpy as np

    with np.load(default_npz) as a, np.load(cpu_npz) as b:
        if sorted(a.files) != sorted(b.files):
            raise RuntimeError(f"the two workers saved different arrays: {sorted(set(a.files) ^ set(b.files))}")
        groups = {}
        for key in a.files:
            model, stage, _ = key.split("/")
            got, want = a[key].astype(np.float64), b[key].astype(np.float64)
            if got.shape != want.shape:
                raise RuntimeError(f"{key}: shape {got.shape} on the default device vs {want.shape} on the CPU")
            gap = float(np.max(np.abs(got - want))) if got.size else 0.0
            scale = float(np.max(np.abs(want))) if want.size else 0.0
            rel = gap / scale if scale > 0 else (0.0 if gap == 0 else float("inf"))
            entry = groups.setdefault((model, stage), {"max_abs": 0.0, "max_rel": 0.0, "arrays": 0})
            entry["max_abs"] = max(entry["max_abs"], gap)
            entry["max_rel"] = max(entry["max_rel"], rel)
            entry["arrays"] += 1
    out = {}
    for (model, stage), entry in groups.items():
        tolerance = {"forward": FORWARD_TOLERANCE[model], "gradient": GRADIENT_TOLERANCE,
                     "trained": TRAINED_TOLERANCE}[stage]
        out[f"{model}/{stage}"] = dict(entry, tolerance=tolerance, passed=entry["max_rel"] <= tolerance)
    return out


def check_engine(engine, work_dir, quick, threads, timeout) -> dict:
    """Both workers of one engine, compared; a report dict."""
    runs = {run: run_worker(engine, run, os.path.join(work_dir, f"{engine}_{run}"), quick, threads, timeout)
            for run in RUNS}
    report = {"runs": runs, "findings": [], "failures": [], "errors": []}
    default = runs["default"]
    if "unavailable" in default:
        report["findings"].append(f"{engine} is not importable here ({default['unavailable']})")
        report["gpu"] = False
        return report
    device = default.get("placement", {}).get("backend_device", "?")
    report["gpu"] = gpu = on_gpu(engine, device)
    if not gpu:
        info = default.get("info", {})
        what = "TensorFlow" if engine == "tensorflow" else "torch"
        report["findings"].append(
            f"{what} sees no GPU (default device {device}; CUDA build: {info.get('cuda_build')}): the parity "
            "figures compare the CPU with the CPU and must be exactly 0 (a plumbing check)")
    problems = report["failures"] if gpu else report["errors"]
    for run, result in runs.items():
        if "error" in result:
            problems.append(f"{run} worker: {result['error']}")
        problems += [f"{run} placement: {line}" for line in placement_problems(engine, run, result, gpu)]
        for name, check in result.get("spot_checks", {}).items():
            if not check["ok"]:
                problems.append(f"{run} spot check {name}: {check['detail']}")
    npz = [os.path.join(work_dir, f"{engine}_{run}", "arrays.npz") for run in RUNS]
    if all(os.path.exists(path) for path in npz):
        try:
            report["parity"] = compare(*npz)
        except RuntimeError as error:
            problems.append(f"parity: {error}")
        for name, entry in report.get("parity", {}).items():
            if gpu and not entry["passed"]:
                problems.append(f"parity {name}: max rel diff {entry['max_rel']:.2e} > {entry['tolerance']:.0e}")
    else:
        problems.append("parity: a worker saved no arrays")
    return report


def print_report(engine, report) -> None:
    runs = report["runs"]
    print(f"\n=== {engine} " + "=" * (60 - len(engine)))
    for finding in report["findings"]:
        print(f"finding: {finding}")
    if "unavailable" in runs["default"]:
        return
    for run, result in runs.items():
        info, placement = result.get("info", {}), result.get("placement", {})
        print(f"[{run}] {engine} {info.get('version')} (CUDA build {info.get('cuda_build')}, GPUs {info.get('gpus')}), "
              f"import {result.get('import_s', float('nan')):.1f} s, worker {result.get('wall_s', float('nan')):.0f} s, "
              f"highlevel from {info.get('highlevel')}")
        for key, value in placement.items():
            print(f"    {key:18s} {value}")
        tf32 = {k: v for k, v in info.items() if k.startswith("tf32")}
        if tf32 and on_gpu(engine, placement.get("backend_device", "")):   # TF32 only matters on a GPU
            print(f"    {'tf32':18s} {tf32}")
    if "parity" in report:
        label = "GPU vs CPU" if report["gpu"] else "CPU vs CPU (no GPU: plumbing check)"
        print(f"parity, {label}:")
        print(f"    {'model/stage':22s} {'arrays':>6s} {'max abs':>10s} {'max rel':>10s} {'tol':>7s}  result")
        for name, entry in report["parity"].items():
            print(f"    {name:22s} {entry['arrays']:6d} {entry['max_abs']:10.3e} {entry['max_rel']:10.3e} "
                  f"{entry['tolerance']:7.0e}  {'PASS' if entry['passed'] else 'FAIL'}")
    print("spot checks:")
    for run, result in runs.items():
        for name, check in result.get("spot_checks", {}).items():
            print(f"    [{run}] {name:32s} {'ok ' if check['ok'] else 'BAD'} {check['detail']}")
    benches = {run: result.get("benchmark", {}) for run, result in runs.items()}
    if any(benches.values()):
        print(f"benchmark ({'default' if not report['gpu'] else 'GPU'} vs CPU):")
        print(f"    {'model':26s} {'metric':18s} {'default':>10s} {'cpu':>10s} {'ratio':>7s}")
        for model in benches["default"] or benches["cpu"]:
            for metric, unit in (("fit_samples_per_s", "fit samples/s"), ("predict_1_ms", "predict(1) ms")):
                a = benches["default"].get(model, {}).get(metric)
                b = benches["cpu"].get(model, {}).get(metric)
                if a is None or b is None:
                    continue
                # Ratios read "times faster on the default device" for both metrics.
                ratio = a / b if metric == "fit_samples_per_s" else b / a
                print(f"    {model:26s} {unit:18s} {a:10.1f} {b:10.1f} {ratio:6.2f}x")
    for kind in ("failures", "errors"):
        for line in report[kind]:
            print(f"{kind[:-1].upper()}: {line}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small data, one timed epoch, 10 predict calls")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--cpu-threads", type=int,
                        default=int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count() or 1,
                        help="threads for the engines (default: OMP_NUM_THREADS, else every core)")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per worker (default 60 quick, 300)")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.out, args.quick, args.cpu_threads)
        return 0

    timeout = args.timeout or (60 if args.quick else 300)
    started = time.perf_counter()
    print(f"gpu_check: engines {', '.join(args.engines)}, {'quick' if args.quick else 'full'}, "
          f"{args.cpu_threads} CPU thread(s), python {sys.version.split()[0]}")
    reports = {}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as work_dir:
        for engine in args.engines:
            reports[engine] = check_engine(engine, work_dir, args.quick, args.cpu_threads, timeout)
            print_report(engine, reports[engine])
    failed = any(report["failures"] for report in reports.values())
    broken = any(report["errors"] for report in reports.values())
    verdict = "FAIL" if failed else ("ERROR" if broken else "PASS")
    print(f"\nverdict: {verdict} ({time.perf_counter() - started:.0f} s)")
    summary = {"verdict": verdict, "quick": args.quick, "cpu_threads": args.cpu_threads,
               "engines": {engine: {key: value for key, value in report.items() if key != "runs"}
                           | {"runs": {run: {k: v for k, v in result.items() if k != "error"}
                                       | ({"error": result["error"][-2000:]} if "error" in result else {})
                                       for run, result in report["runs"].items()}}
                           for engine, report in reports.items()}}
    print("GPU_CHECK " + json.dumps(summary, sort_keys=True))
    return 1 if failed else (2 if broken else 0)


if __name__ == "__main__":
    sys.exit(main())
