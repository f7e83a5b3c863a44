"""Train the same model on every installed backend and compare them side by side.

Each backend runs in its own process (``HIGHLEVEL_BACKEND=...``; a process holds one
engine), pinned to one thread so that the engines compete on equal terms. Every run
trains the digits CNN of ``cnn_digits.py`` (or an MLP with ``--model mlp``) from the
same seed, hence from the same initial weights and the same batch order (the CNN's
dropout masks come from each engine's own generator, so its accuracies differ a
little; the MLP has no dropout and its accuracies agree to float32 rounding), and
prints one JSON line; this script collects them into a table:

- test accuracy: from ``evaluate`` on the held-out digits;
- epoch time: the median of the per-epoch wall times, the first (warm-up: tracing,
  compilation) epoch excluded when there are several;
- predict latency: the median time of ``predict`` on one image;
- throughput: test images per second through ``predict`` on the whole test set.

    python examples/compare_backends.py
    python examples/compare_backends.py --backends numpy,torch --epochs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

RESULT_TAG = "RESULT "   # the prefix of the JSON line a worker prints
HERE = os.path.dirname(os.path.abspath(__file__))


def installed_backends() -> list:
    """Names of the backends whose engine is installed (without importing any engine)."""
    from highlevel import backends
    return [name for name, ok in backends.available().items() if ok]


def build_mlp():
    """(batch, 8, 8, 1) -> (batch, 10) probabilities: a two-layer perceptron."""
    import highlevel as hl
    return hl.Sequential([hl.Input((8, 8, 1)), hl.layers.Flatten(), hl.layers.Dense(64, activation="relu"),
                          hl.layers.Dense(10, activation="softmax")], name="digits_mlp")


def run_worker(args) -> dict:
    """Train on the backend this process imported; return the measurements."""
    import numpy as np

    import highlevel as hl
    sys.path.insert(0, HERE)
    from cnn_digits import build_model, load_digits

    hl.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_digits(args.train_samples)
    # No augmentation: its random shifts would come from each engine's own generator.
    model = build_model(augment=False) if args.model == "cnn" else build_mlp()
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    # A fingerprint of the initial weights: equal on every backend when the seed is.
    initial_weights = float(sum(np.sum(np.abs(w), dtype=np.float64) for w in model.get_weights()))
    epoch_times, started = [], []
    timer = hl.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: started.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_times.append(time.perf_counter() - started[-1]))
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0, callbacks=[timer])
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)

    one = x_test[:1]
    model.predict(one, verbose=0)   # warm-up (tracing, first allocation)
    latencies = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.predict(one, verbose=0)
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.predict(x_test, batch_size=256, verbose=0)
    bulk = time.perf_counter() - start
    steady = epoch_times[1:] if len(epoch_times) > 1 else epoch_times
    return {"backend": hl.backend.name(), "model": args.model, "epochs": args.epochs,
            "initial_weights_abs_sum": initial_weights,
            "test_accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]),
            "epoch_time_s": statistics.median(steady), "first_epoch_s": epoch_times[0],
            "predict_latency_ms": 1000 * statistics.median(latencies),
            "images_per_s": len(x_test) / bulk}


def run_backend(name: str, args) -> dict:
    """Run this script as a worker under ``HIGHLEVEL_BACKEND=name``; its parsed JSON result."""
    env = dict(os.environ, HIGHLEVEL_BACKEND=name, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
               TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--model", args.model,
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
               "--repeats", str(args.repeats)]
    if args.train_samples is not None:
        command += ["--train-samples", str(args.train_samples)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    raise RuntimeError(f"the {name} run failed (exit code {done.returncode}):\n{done.stderr[-3000:]}")


def print_table(results: list) -> None:
    header = f"{'backend':<12}{'test accuracy':>15}{'epoch time (s)':>16}{'predict 1 (ms)':>16}{'images/s':>11}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['backend']:<12}{r['test_accuracy']:>15.4f}{r['epoch_time_s']:>16.3f}"
              f"{r['predict_latency_ms']:>16.2f}{r['images_per_s']:>11.0f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=None, help="comma-separated names (default: every installed one)")
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-samples", type=int, default=None, help="use only this many training images")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=50, help="single-image predict calls to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(RESULT_TAG + json.dumps(run_worker(args)), flush=True)
        return None
    names = args.backends.split(",") if args.backends else installed_backends()
    print(f"model: {args.model}, {args.epochs} epochs, batch {args.batch_size}, seed {args.seed}, one thread each")
    results = []
    for name in names:
        results.append(run_backend(name.strip(), args))
        print(f"  {name}: done", flush=True)
    print_table(results)
    for r in results:
        print(RESULT_TAG + json.dumps(r))
    return results


if __name__ == "__main__":
    main()
