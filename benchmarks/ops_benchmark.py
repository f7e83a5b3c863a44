"""Op throughput of every installed backend, side by side in one process.

Times three workloads through ``hl.ops`` on each backend:

* ``matmul``: (256, 512) @ (512, 512), forward only;
* ``conv2d f+b``: value and gradients of ``sum(conv(x, k) ** 2)``, x (32, 28, 28, 8), k (3, 3, 8, 16);
* ``softmax CE grad``: value and gradients of a dense layer + sparse softmax cross-entropy,
  x (256, 512), w (512, 100), integer labels.

Contenders alternate round by round, the first round is a warm-up, and the table shows
medians and the ratios ``backend time / torch time`` (above 1: slower than torch).
One thread per engine (see DESIGN.md: the machines are shared and noisy).

    python benchmarks/ops_benchmark.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from highlevel import backends  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import pin_engine_threads  # noqa: E402


def workloads(k, rng):
    """The three workloads as zero-argument callables for backend namespace ``k``."""
    a = k.convert_to_tensor(rng.standard_normal((256, 512), dtype=np.float32))
    b = k.convert_to_tensor(rng.standard_normal((512, 512), dtype=np.float32))

    x_img = k.convert_to_tensor(rng.standard_normal((32, 28, 28, 8), dtype=np.float32))
    kernel = k.Variable(rng.standard_normal((3, 3, 8, 16), dtype=np.float32) * 0.1)

    x = k.convert_to_tensor(rng.standard_normal((256, 512), dtype=np.float32))
    w = k.Variable(rng.standard_normal((512, 100), dtype=np.float32) * 0.05)
    labels = k.convert_to_tensor(rng.integers(0, 100, size=256).astype(np.int32))

    def sync(t):
        # Forces the computation to finish (GPU engines run asynchronously).
        return k.convert_to_numpy(t)

    def matmul():
        sync(k.matmul(a, b))

    def conv_loss():
        return k.sum(k.square(k.conv(x_img, kernel, padding="same")))

    def conv_fb():
        value, grads = k.value_and_grad(conv_loss, [kernel])
        sync(grads[0])

    def ce_loss():
        return k.mean(k.sparse_categorical_crossentropy(labels, k.matmul(x, w), from_logits=True))

    def ce_grad():
        value, grads = k.value_and_grad(ce_loss, [w])
        sync(grads[0])

    return {"matmul": matmul, "conv2d f+b": conv_fb, "softmax CE grad": ce_grad}


def time_call(fn, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=5, help="calls per timed round")
    args = parser.parse_args()

    names = [n for n in ("numpy", "torch", "tensorflow") if backends.available().get(n)]
    loaded = {}
    for name in names:
        pin_engine_threads(name)
        loaded[name] = workloads(backends.load(name), np.random.default_rng(0))

    times = {(n, w): [] for n in names for w in loaded[names[0]]}
    for round_index in range(args.rounds + 1):
        for workload in loaded[names[0]]:
            for name in names:  # alternate contenders inside each round
                elapsed = time_call(loaded[name][workload], args.repeats)
                if round_index:  # round 0 is the warm-up
                    times[name, workload].append(elapsed)

    print(f"median ms per call over {args.rounds} rounds x {args.repeats} calls (one thread each)")
    header = f"{'workload':18s}" + "".join(f"{n:>12s}" for n in names)
    if "torch" in names:
        header += "".join(f"{n + '/torch':>18s}" for n in names if n != "torch")
    print(header)
    for workload in loaded[names[0]]:
        medians = {n: statistics.median(times[n, workload]) * 1e3 for n in names}
        row = f"{workload:18s}" + "".join(f"{medians[n]:12.3f}" for n in names)
        if "torch" in names:
            row += "".join(f"{medians[n] / medians['torch']:18.2f}" for n in names if n != "torch")
        print(row)


if __name__ == "__main__":
    main()
