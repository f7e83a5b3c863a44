"""Batch gradient descent vs stochastic vs mini-batch, on the same problem.

    HIGHLEVEL_BACKEND=numpy python examples/gradient_descent.py --epochs 20

The same linear-regression problem and the same initial weights are trained with
``batch_size`` = all samples (batch GD: one step per epoch), 1 (SGD: one step per
sample) and 32 (mini-batch). After every epoch the full-data mean squared error is
measured, and the three loss curves are printed side by side: SGD makes the most
progress per epoch (the most steps) but ends noisier; batch GD moves smoothly and
slowly; mini-batch sits in between at a fraction of SGD's cost.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import highlevel as hl


def full_data_mse(model, x, y) -> float:
    """Mean squared error over all samples, computed in NumPy from the current weights."""
    kernel, bias = model.get_weights()
    return float(np.mean((x @ kernel + bias - y) ** 2))


def train(x, y, batch_size, epochs, learning_rate, initial_weights):
    """Loss curve (before training, then after each epoch) and seconds taken."""
    model = hl.Sequential([hl.Input((x.shape[1],)), hl.layers.Dense(1)])
    model.set_weights(initial_weights)
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    curve = [full_data_mse(model, x, y)]
    record = hl.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: curve.append(full_data_mse(model, x, y)))
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[record])
    return curve, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.samples, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 1)) + 0.5 + 0.1 * rng.normal(size=(args.samples, 1))).astype(np.float32)
    initial = [rng.normal(size=(5, 1)).astype(np.float32) * 0.1, np.zeros(1, np.float32)]

    runs = {"batch GD": args.samples, "mini-batch (32)": 32, "SGD (1)": 1}
    curves, seconds = {}, {}
    for name, batch_size in runs.items():
        curves[name], seconds[name] = train(x, y, batch_size, args.epochs, args.learning_rate, initial)

    print(f"backend: {hl.backend.name()}   learning rate {args.learning_rate}   {args.samples} samples")
    print("full-data MSE after each epoch:")
    print(f"{'epoch':>5} " + " ".join(f"{name:>16}" for name in runs))
    for epoch in range(args.epochs + 1):
        print(f"{epoch:>5} " + " ".join(f"{curves[name][epoch]:16.6f}" for name in runs))
    print(f"{'time':>5} " + " ".join(f"{seconds[name]:15.2f}s" for name in runs))
    return curves


if __name__ == "__main__":
    main()
