"""Training throughput: ``model.fit`` vs hand-written loops vs Keras 3, side by side.

For each engine (a subprocess per engine, because highlevel and Keras bind their
backend at import) the same models train on the same synthetic data with:

* ``hl fit``    — ``model.fit`` with ``HIGHLEVEL_BACKEND=<engine>``;
* ``raw loop``  — a hand-written loop in the engine itself (torch autograd +
  ``torch.optim.Adam``; a ``tf.function`` step with ``GradientTape`` and Adam written
  in TF ops; NumPy forward/backward/Adam by hand);
* ``keras 3``   — Keras 3 on the same engine (``KERAS_BACKEND``), when installed;
* ``raw torch`` — (NumPy engine only) the torch loop, the reference for the target
  "NumPy MLP >= 0.8x raw torch".

Models: an MLP 784-256-256-10 (Adam, batch 128, sparse softmax cross-entropy from
logits), two conv nets on 28x28x1 (``cnn_contenders.py``: a small CNN and a 3-conv net), a tiny
20-10-1 regression (Adam, batch 32) that measures per-step overhead, and an LSTM
(50 steps x 32 features -> 64 units -> Dense 10, batch 64; ``rnn_contenders.py``). Every contender
trains one epoch per round, contenders alternate within a round, the first round is
a warm-up, and the table shows the median samples/s and ratios. One thread per
engine (DESIGN.md: the machines are shared and noisy).

    python benchmarks/train_throughput.py [--rounds 5] [--engines torch tensorflow numpy] [--quick]
                                          [--rows lstm mlp]

Targets (issues 3, 4): hl fit >= 0.9x the raw loop of the same engine on the MLP (and the
CNN, the LSTM); faster than Keras 3 on every model; NumPy MLP >= 0.8x raw torch; NumPy
conv net within 4x of raw torch (>= 0.25x).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnn_contenders  # noqa: E402  (the LSTM row; imports no engine)
import cnn_contenders  # noqa: E402  (the CNN rows; imports no engine)
from harness import TFAdam, torch_adam_epoch, pin_engine_threads, run_engine_children, time_contenders  # noqa: E402

MODELS = {
    # name: (input features, hidden sizes, outputs, batch size, samples per epoch, task)
    "mlp 784-256-256-10": (784, (256, 256), 10, 128, 8192, "classify"),
    "tiny 20-10-1": (20, (10,), 1, 32, 4096, "regress"),
}


# ------------------------------------------------------------------ contenders


def make_data(spec, seed=0):
    import numpy as np

    features, _, outputs, _, samples, task = spec
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, features)).astype(np.float32)
    if task == "classify":
        y = rng.integers(0, outputs, size=samples).astype(np.int64)
    else:
        y = rng.normal(size=(samples, outputs)).astype(np.float32)
    return x, y


def hl_contender(spec, x, y, jit_compile=False):
    import highlevel as hl

    features, hidden, outputs, batch, _, task = spec
    layers = [hl.Input((features,))] + [hl.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(hl.layers.Dense(outputs))
    model = hl.Sequential(layers)
    loss = hl.losses.SparseCategoricalCrossentropy(from_logits=True) if task == "classify" else "mse"
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=1e-3), loss=loss, jit_compile=jit_compile)

    def epoch():
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    return epoch


def keras_contender(spec, x, y):
    import keras

    features, hidden, outputs, batch, _, task = spec
    layers = [keras.Input((features,))] + [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(outputs))
    model = keras.Sequential(layers)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if task == "classify" else "mse"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=loss)

    def epoch():
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    return epoch


def torch_contender(spec, x, y):
    import torch

    torch.set_num_threads(1)
    features, hidden, outputs, batch, samples, task = spec
    sizes = (features,) + tuple(hidden)
    modules = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        modules += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    modules.append(torch.nn.Linear(sizes[-1], outputs))
    model = torch.nn.Sequential(*modules)
    loss_fn = torch.nn.functional.cross_entropy if task == "classify" else torch.nn.functional.mse_loss
    return torch_adam_epoch(model, x, y, batch, loss_fn)


def tf_contender(spec, x, y):
    import numpy as np
    import tensorflow as tf

    features, hidden, outputs, batch, samples, task = spec
    sizes = (features,) + tuple(hidden) + (outputs,)
    rng = np.random.default_rng(1)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        params.append(tf.Variable(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)))
        params.append(tf.Variable(np.zeros(fan_out, np.float32)))
    adam = TFAdam(params)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            h = xb
            for i in range(0, len(params) - 2, 2):
                h = tf.nn.relu(tf.matmul(h, params[i]) + params[i + 1])
            out = tf.matmul(h, params[-2]) + params[-1]
            if task == "classify":
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, out))
            else:
                loss = tf.reduce_mean(tf.square(out - yb))
        grads = tape.gradient(loss, params)
        adam.apply(grads)
        return loss

    def epoch():
        order = np.random.permutation(samples)
        for start in range(0, samples, batch):
            index = order[start:start + batch]
            train_step(tf.convert_to_tensor(x[index]), tf.convert_to_tensor(y[index]))
    return epoch


def numpy_contender(spec, x, y):
    import numpy as np

    features, hidden, outputs, batch, samples, task = spec
    sizes = (features,) + tuple(hidden) + (outputs,)
    rng = np.random.default_rng(1)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    state = {"t": 0}

    def step(xb, yb):
        acts = [xb]
        for i in range(0, len(params) - 2, 2):
            acts.append(np.maximum(acts[-1] @ params[i] + params[i + 1], 0))
        out = acts[-1] @ params[-2] + params[-1]
        n = len(xb)
        if task == "classify":
            e = np.exp(out - out.max(axis=1, keepdims=True))
            delta = e / e.sum(axis=1, keepdims=True)
            delta[np.arange(n), yb] -= 1
            delta /= n
        else:
            delta = 2 * (out - yb) / out.size
        grads = [None] * len(params)
        for layer in reversed(range(len(params) // 2)):
            grads[2 * layer] = acts[layer].T @ delta
            grads[2 * layer + 1] = delta.sum(axis=0)
            if layer:
                delta = (delta @ params[2 * layer].T) * (acts[layer] > 0)
        state["t"] += 1
        alpha = 1e-3 * np.sqrt(1 - 0.999 ** state["t"]) / (1 - 0.9 ** state["t"])
        for i, g in enumerate(grads):
            m[i] += (g - m[i]) * 0.1
            v[i] += (g * g - v[i]) * 0.001
            params[i] -= (alpha * m[i] / (np.sqrt(v[i]) + 1e-7)).astype(np.float32)

    def epoch():
        order = np.random.permutation(samples)
        for start in range(0, samples, batch):
            index = order[start:start + batch]
            step(x[index], y[index])
    return epoch


RAW = {"torch": torch_contender, "tensorflow": tf_contender, "numpy": numpy_contender}


# ------------------------------------------------------------------ measuring


def run_engine(engine: str, rounds: int, quick: bool, rows=None) -> dict:
    """In the child process: time every contender on every model; returns samples/s medians."""
    import importlib.util

    import numpy as np

    pin_engine_threads(engine)
    results = {}
    for name, spec in MODELS.items():
        if rows is not None and not any(r in name for r in rows):
            continue
        if quick:
            spec = spec[:4] + (spec[4] // 4,) + spec[5:]
        np.random.seed(0)
        x, y = make_data(spec)
        contenders = {"hl fit": hl_contender(spec, x, y), "raw loop": RAW[engine](spec, x, y)}
        if engine == "tensorflow":   # Keras 3 compiles with XLA on TensorFlow by default (jit_compile="auto")
            contenders["hl fit xla"] = hl_contender(spec, x, y, jit_compile=True)
        if engine == "numpy" and importlib.util.find_spec("torch"):
            contenders["raw torch"] = torch_contender(spec, x, y)
        if engine != "numpy" and importlib.util.find_spec("keras"):
            contenders["keras 3"] = keras_contender(spec, x, y)
        results[name] = time_contenders(contenders, rounds, spec[4])
    if rows is None or any(r in rnn_contenders.ROW for r in rows):
        np.random.seed(0)
        contenders, samples = rnn_contenders.contenders(engine, quick)
        results[rnn_contenders.ROW] = time_contenders(contenders, rounds, samples)
    for row in cnn_contenders.ROWS:
        if rows is None or any(r in row for r in rows):
            np.random.seed(0)
            contenders, samples = cnn_contenders.contenders(engine, quick, row)
            results[row] = time_contenders(contenders, rounds, samples)
    return results


def print_table(all_results: dict):
    print(f"\n{'engine':<11} {'model':<20} {'contender':<11} {'samples/s':>10} {'vs raw':>7} {'vs keras':>9}")
    for engine, results in all_results.items():
        if "error" in results:
            print(f"{engine:<11} error: {results['error']}")
            continue
        for model, rows in results.items():
            for contender, row in rows.items():
                vs_raw = f"{row['ratios']['raw loop']:6.2f}x" if "raw loop" in row["ratios"] else ""
                vs_keras = f"{row['ratios']['keras 3']:8.2f}x" if "keras 3" in row["ratios"] else ""
                print(f"{engine:<11} {model:<20} {contender:<11} {row['speed']:10.0f} {vs_raw:>7} {vs_keras:>9}")
    print("\nTargets: hl fit >= 0.90x raw loop (MLP, CNN); hl fit > keras 3 on every model; "
          "numpy hl fit >= 0.80x raw torch (MLP), >= 0.25x (conv net). Ratios: medians of per-round ratios.")
    for engine, results in all_results.items():
        if "error" in results:
            continue
        for model, rows in results.items():
            ratios = rows["hl fit"]["ratios"]
            checks = []
            if model.startswith("mlp"):
                checks.append(("vs raw loop", ratios["raw loop"], 0.9))
                if "raw torch" in ratios:
                    checks.append(("vs raw torch", ratios["raw torch"], 0.8))
            if model == rnn_contenders.ROW and "raw loop" in ratios:
                checks.append(("vs raw loop", ratios["raw loop"], 0.9))
            if model in cnn_contenders.ROWS:
                if "raw loop" in ratios:
                    checks.append(("vs raw loop", ratios["raw loop"], 0.9))
                if "raw torch" in ratios and model.startswith("convnet"):
                    checks.append(("vs raw torch", ratios["raw torch"], 0.25))
            if "keras 3" in ratios:
                checks.append(("vs keras 3", ratios["keras 3"], 1.0))
                if "hl fit xla" in rows:
                    checks.append(("xla vs keras 3", rows["hl fit xla"]["ratios"]["keras 3"], 1.0))
            for label, ratio, target in checks:
                verdict = "ok" if ratio >= target else "MISSED"
                print(f"  {engine:<11} {model:<20} {label:<15} {ratio:5.2f}x (target {target:g}x) {verdict}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after one warm-up round")
    parser.add_argument("--engines", nargs="+", default=["torch", "tensorflow", "numpy"])
    parser.add_argument("--quick", action="store_true", help="a quarter of the samples per epoch")
    parser.add_argument("--rows", nargs="+", help="only rows whose name contains one of these (e.g. lstm mlp)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_engine(args.child, args.rounds, args.quick, args.rows)))
        return None
    child_args = ["--rounds", str(args.rounds)] + (["--quick"] if args.quick else [])
    if args.rows:
        child_args += ["--rows", *args.rows]
    all_results = run_engine_children(__file__, args.engines, child_args)
    print_table(all_results)
    return all_results


if __name__ == "__main__":
    main()
