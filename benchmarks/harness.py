"""What the side-by-side benchmark scripts share: one thread per engine, a child process per
engine, and alternating timed rounds reported as medians of per-round ratios. Imports no engine."""

from __future__ import annotations

import os
import statistics
import time

# Every engine on one thread: the numbers do not depend on a noisy second core.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
              "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def child_env(engine: str) -> dict:
    """The environment of a child process benchmarking ``engine`` (highlevel and Keras bind their
    backend at import, hence one process per engine)."""
    return dict(os.environ, **THREAD_ENV, HIGHLEVEL_BACKEND=engine, KERAS_BACKEND=engine)


def pin_engine_threads(engine: str) -> None:
    """In the child: the engine's own thread pools to one thread (the environment covers OpenMP)."""
    if engine == "torch":
        import torch
        torch.set_num_threads(1)
    elif engine == "tensorflow":
        import tensorflow as tf
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass   # already initialized: TF_NUM_*_THREADS in the environment did it


def time_contenders(contenders: dict, rounds: int, samples: int) -> dict:
    """Alternate the contenders' epochs (``{name: run_one_epoch}``) for ``rounds`` timed rounds
    after a warm-up round; ``{name: {"speed": samples/s, "ratios": {other: median ratio}}}``."""
    times = {k: [] for k in contenders}
    for round_index in range(rounds + 1):
        for contender, epoch in contenders.items():
            start = time.perf_counter()
            epoch()
            if round_index:   # round 0 warms up (tracing, allocation, first imports)
                times[contender].append(time.perf_counter() - start)
    # Speeds are medians; ratios are medians of per-round ratios, which a shared machine's
    # load drifting between rounds disturbs less than a ratio of medians.
    return {k: {"speed": samples / statistics.median(v),
                "ratios": {other: statistics.median(t_other / t for t, t_other in zip(v, times[other]))
                           for other in contenders}}
            for k, v in times.items()}


def run_engine_children(script: str, engines, child_args) -> dict:
    """Run ``script --child <engine> *child_args`` once per engine, each in its own process with
    :func:`child_env`; ``{engine: the JSON object of the child's last "{" line, or {"error": ...}}``."""
    import json
    import subprocess
    import sys

    results = {}
    for engine in engines:
        print(f"running {engine} ...", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, script, "--child", engine, *child_args], env=child_env(engine),
                              capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            results[engine] = {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
        else:
            results[engine] = json.loads(lines[-1])
        print(f"  {engine}: {time.perf_counter() - start:.0f} s", flush=True)
    return results


class TFAdam:
    """Adam written in TF ops for the hand-written ``tf.function`` contenders (Keras's update:
    lr 1e-3, betas 0.9/0.999, epsilon 1e-7 outside the square root). Call ``apply`` inside the step."""

    def __init__(self, params, learning_rate=1e-3):
        import tensorflow as tf

        self.params, self.learning_rate = params, learning_rate
        self.moments = [tf.Variable(tf.zeros_like(p)) for p in params]
        self.velocities = [tf.Variable(tf.zeros_like(p)) for p in params]
        self.step_count = tf.Variable(0.0)

    def apply(self, grads):
        import tensorflow as tf

        self.step_count.assign_add(1.0)
        alpha = self.learning_rate * tf.sqrt(1 - 0.999 ** self.step_count) / (1 - 0.9 ** self.step_count)
        for p, g, m, v in zip(self.params, grads, self.moments, self.velocities):
            m.assign_add((g - m) * 0.1)
            v.assign_add((tf.square(g) - v) * 0.001)
            p.assign_sub(alpha * m / (tf.sqrt(v) + 1e-7))


def torch_adam_epoch(model, x, y, batch, loss_fn=None):
    """One shuffled epoch of a hand-written torch loop (``torch.optim.Adam``, lr 1e-3, eps 1e-7 as
    Keras) over host arrays ``x``/``y``; returns ``epoch()`` for :func:`time_contenders`."""
    import numpy as np
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    samples = len(x)

    def epoch():
        order = np.random.permutation(samples)
        for start in range(0, samples, batch):
            index = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(torch.from_numpy(x[index])), torch.from_numpy(y[index]))
            loss.backward()
            optimizer.step()
    return epoch
