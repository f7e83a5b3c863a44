"""Inference latency on one sample: ``predict()`` vs ``predict_on_batch()`` vs the engine's own forward.

Per engine (a subprocess each: highlevel and Keras bind their backend at import), an
MLP 784-256-256-10 (softmax output) answers a single sample through:

* ``hl predict``      — ``model.predict(x, verbose=0)``;
* ``hl predict (bar)``— ``model.predict(x)`` with the default progress bar (to /dev/null);
* ``hl on_batch``     — ``model.predict_on_batch(x)``;
* ``raw forward``     — the engine alone: torch ``no_grad`` forward, a ``tf.function``
  forward, or NumPy matmuls — all returning a NumPy array;
* ``keras predict`` / ``keras on_batch`` — Keras 3 on the same engine, when installed.

Contenders alternate, round by round; each round times ``--calls`` calls; the first
round is a warm-up; the table shows median milliseconds per call.

    python benchmarks/predict_latency.py [--rounds 5] [--calls 200] [--engines torch tensorflow numpy]

Targets (issue 3): predict(1 sample) <= predict_on_batch + 1 ms; predict_on_batch <= 2x
the raw forward.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import pin_engine_threads, run_engine_children  # noqa: E402

SIZES = (784, 256, 256, 10)


def weights(seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        out += [rng.normal(scale=fan_in ** -0.5, size=(fan_in, fan_out)).astype(np.float32),
                np.zeros(fan_out, np.float32)]
    return out


def hl_model():
    import highlevel as hl

    layers = [hl.Input((SIZES[0],))] + [hl.layers.Dense(n, activation="relu") for n in SIZES[1:-1]]
    model = hl.Sequential(layers + [hl.layers.Dense(SIZES[-1], activation="softmax")])
    model.set_weights(weights())
    return model


def keras_model():
    import keras

    layers = [keras.Input((SIZES[0],))] + [keras.layers.Dense(n, activation="relu") for n in SIZES[1:-1]]
    model = keras.Sequential(layers + [keras.layers.Dense(SIZES[-1], activation="softmax")])
    model.set_weights(weights())
    return model


def raw_forward(engine):
    import numpy as np

    params = weights()
    if engine == "torch":
        import torch

        tensors = [torch.from_numpy(p) for p in params]

        def forward(x):
            with torch.no_grad():
                h = torch.from_numpy(x)
                for i in range(0, len(tensors) - 2, 2):
                    h = torch.relu(torch.addmm(tensors[i + 1], h, tensors[i]))
                return torch.softmax(torch.addmm(tensors[-1], h, tensors[-2]), dim=-1).numpy()
        return forward
    if engine == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(p) for p in params]

        @tf.function
        def graph(x):
            h = x
            for i in range(0, len(variables) - 2, 2):
                h = tf.nn.relu(tf.matmul(h, variables[i]) + variables[i + 1])
            return tf.nn.softmax(tf.matmul(h, variables[-2]) + variables[-1])

        def forward(x):
            return graph(tf.convert_to_tensor(x)).numpy()
        return forward

    def forward(x):
        h = x
        for i in range(0, len(params) - 2, 2):
            h = np.maximum(h @ params[i] + params[i + 1], 0)
        z = h @ params[-2] + params[-1]
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return forward


def run_engine(engine: str, rounds: int, calls: int) -> dict:
    import importlib.util

    import numpy as np

    pin_engine_threads(engine)
    x = np.random.default_rng(1).normal(size=(1, SIZES[0])).astype(np.float32)
    model = hl_model()
    devnull = open(os.devnull, "w")

    def predict_with_bar(sample):
        with contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
            return model.predict(sample)

    contenders = {
        "hl predict": lambda: model.predict(x, verbose=0),
        "hl predict (bar)": lambda: predict_with_bar(x),
        "hl on_batch": lambda: model.predict_on_batch(x),
        "raw forward": (lambda f: lambda: f(x))(raw_forward(engine)),
    }
    expected = contenders["raw forward"]()
    np.testing.assert_allclose(contenders["hl on_batch"](), expected, rtol=1e-4, atol=1e-6)
    if engine != "numpy" and importlib.util.find_spec("keras"):
        k = keras_model()
        contenders["keras predict"] = lambda: k.predict(x, verbose=0)
        contenders["keras on_batch"] = lambda: k.predict_on_batch(x)
    times = {name: [] for name in contenders}
    for round_index in range(rounds + 1):
        for name, call in contenders.items():
            n = calls if not name.startswith("keras predict") else max(calls // 10, 5)
            start = time.perf_counter()
            for _ in range(n):
                call()
            if round_index:
                times[name].append((time.perf_counter() - start) / n)
    return {name: statistics.median(v) * 1e3 for name, v in times.items()}


def print_table(all_results: dict):
    print(f"\n{'engine':<11} {'contender':<18} {'ms/call':>9}")
    for engine, results in all_results.items():
        if "error" in results:
            print(f"{engine:<11} error: {results['error']}")
            continue
        for name, ms in results.items():
            print(f"{engine:<11} {name:<18} {ms:9.3f}")
    print("\nTargets: predict(1 sample) <= predict_on_batch + 1 ms; predict_on_batch <= 2x raw forward.")
    for engine, r in all_results.items():
        if "error" in r:
            continue
        gap = r["hl predict"] - r["hl on_batch"]
        ratio = r["hl on_batch"] / r["raw forward"]
        print(f"  {engine:<11} predict - on_batch = {gap:6.3f} ms {'ok' if gap <= 1.0 else 'MISSED'};  "
              f"on_batch / raw = {ratio:5.2f}x {'ok' if ratio <= 2.0 else 'MISSED'}"
              + (f";  keras predict {r['keras predict']:.2f} ms" if "keras predict" in r else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--engines", nargs="+", default=["torch", "tensorflow", "numpy"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_engine(args.child, args.rounds, args.calls)))
        return None
    all_results = run_engine_children(__file__, args.engines,
                                      ["--rounds", str(args.rounds), "--calls", str(args.calls)])
    print_table(all_results)
    return all_results


if __name__ == "__main__":
    main()
