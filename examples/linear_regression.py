"""Linear regression: fit y = x @ w + b on noisy data and compare with least squares.

    HIGHLEVEL_BACKEND=torch python examples/linear_regression.py --epochs 50

A one-unit Dense layer trained by mini-batch SGD on the mean squared error must land
on the closed-form least-squares solution (NumPy's ``lstsq``) of the same data. The
learning rate decays exponentially (halving every 5 epochs) so that the mini-batch
noise dies out and the weights settle on the solution.
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl


def make_data(samples: int, rng):
    """x: (samples, 3); y = x @ [2, -3, 0.5] + 1 + noise: (samples, 1)."""
    true_w = np.array([[2.0], [-3.0], [0.5]], dtype=np.float32)
    x = rng.normal(size=(samples, 3)).astype(np.float32)
    y = (x @ true_w + 1.0 + 0.1 * rng.normal(size=(samples, 1))).astype(np.float32)
    return x, y


def least_squares(x, y):
    """The closed-form solution (w, b) minimizing the mean squared error."""
    design = np.hstack([x, np.ones((len(x), 1), x.dtype)]).astype(np.float64)
    solution = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    return solution[:-1], solution[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    x, y = make_data(args.samples, np.random.default_rng(args.seed))

    model = hl.Sequential([hl.Input((3,)), hl.layers.Dense(1, name="linear")])
    steps_per_epoch = -(-args.samples // args.batch_size)
    schedule = hl.optimizers.schedules.ExponentialDecay(args.learning_rate, decay_steps=5 * steps_per_epoch,
                                                        decay_rate=0.5)
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=schedule), loss="mse", metrics=["mae"])
    initial_loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
    final_loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]

    kernel, bias = model.get_weights()
    w_ls, b_ls = least_squares(x, y)
    print(f"backend: {hl.backend.name()}")
    print(f"initial loss: {initial_loss:.6f}")
    print(f"final loss: {final_loss:.6f}")
    print(f"{'':>10} {'fit':>10} {'lstsq':>10}")
    for i in range(3):
        print(f"{'w[' + str(i) + ']':>10} {kernel[i, 0]:10.4f} {w_ls[i, 0]:10.4f}")
    print(f"{'b':>10} {bias[0]:10.4f} {b_ls[0]:10.4f}")
    gap = max(np.max(np.abs(kernel - w_ls)), abs(bias[0] - b_ls[0]))
    print(f"max |fit - lstsq|: {gap:.2e}")
    return gap


if __name__ == "__main__":
    main()
