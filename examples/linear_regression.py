"""Linear regression two ways: the Keras style and the PyTorch style, both in highlevel.

    HIGHLEVEL_BACKEND=torch python examples/linear_regression.py --epochs 50

Both fit y = x @ w + b on the same noisy data and must land on the closed-form
least-squares solution (NumPy's ``lstsq``) of that data:

1. TensorFlow/Keras style: ``Sequential([Dense(1)])``, ``compile(optimizer="sgd",
   loss="mse")``, ``fit`` — mini-batch SGD (learning rate 0.01, Keras's default).
2. PyTorch style: an explicit training loop — compute the loss of the whole data set,
   ``hl.ops.value_and_grad`` over the model's trainable weights, ``optimizer.apply``
   (the ``loss.backward(); optimizer.step()`` of a PyTorch loop), one step per epoch.
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl
from highlevel import ops


def make_data(samples: int, rng):
    """x: (samples, 3); y = x @ [2, -3, 0.5] + 1 + noise: (samples, 1)."""
    true_w = np.array([[2.0], [-3.0], [0.5]], dtype=np.float32)
    x = rng.normal(size=(samples, 3)).astype(np.float32)
    y = (x @ true_w + 1.0 + 0.1 * rng.normal(size=(samples, 1))).astype(np.float32)
    return x, y


def least_squares(x, y):
    """The closed-form solution (w (3, 1), b (1,)) minimizing the mean squared error."""
    design = np.hstack([x, np.ones((len(x), 1), x.dtype)]).astype(np.float64)
    solution = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    return solution[:-1], solution[-1]


def linear_model():
    return hl.Sequential([hl.Input((3,)), hl.layers.Dense(1, name="linear")])


def keras_style(x, y, epochs: int, batch_size: int, verbose: int):
    """Returns (model, initial loss, final loss)."""
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    initial = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return model, initial, model.evaluate(x, y, verbose=0)


def pytorch_style(x, y, epochs: int, learning_rate: float):
    """Full-batch gradient descent in an explicit loop. Returns (model, per-epoch losses before each step)."""
    model = linear_model()
    loss_fn = hl.losses.MeanSquaredError()
    optimizer = hl.optimizers.SGD(learning_rate=learning_rate)
    inputs, targets = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
    weights = model.trainable_weights

    def compute_loss():
        return loss_fn(targets, model(inputs, training=True))

    losses = []
    for _ in range(epochs):
        loss, grads = ops.value_and_grad(compute_loss, weights)   # forward + backward
        optimizer.apply(grads, weights)                            # the optimizer step
        losses.append(float(ops.convert_to_numpy(loss)))
    losses.append(float(ops.convert_to_numpy(compute_loss())))
    return model, losses


def print_comparison(title, model, w_ls, b_ls):
    kernel, bias = model.get_weights()
    print(f"{title}")
    print(f"{'':>10} {'fit':>10} {'lstsq':>10}")
    for i in range(3):
        print(f"{'w[' + str(i) + ']':>10} {kernel[i, 0]:10.4f} {w_ls[i, 0]:10.4f}")
    print(f"{'b':>10} {bias[0]:10.4f} {b_ls[0]:10.4f}")
    return max(float(np.max(np.abs(kernel - w_ls))), abs(float(bias[0] - b_ls[0])))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--loop-learning-rate", type=float, default=0.1, help="for the PyTorch-style loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    x, y = make_data(args.samples, np.random.default_rng(args.seed))
    w_ls, b_ls = least_squares(x, y)
    print(f"backend: {hl.backend.name()}")

    model, initial, final = keras_style(x, y, args.epochs, args.batch_size, args.verbose)
    print(f"keras style: initial loss: {initial:.6f}")
    print(f"keras style: final loss: {final:.6f}")
    gap = print_comparison("keras style (compile + fit):", model, w_ls, b_ls)
    print(f"keras style: max |fit - lstsq|: {gap:.2e}")

    model, losses = pytorch_style(x, y, args.epochs, args.loop_learning_rate)
    print(f"pytorch style: initial loss: {losses[0]:.6f}")
    print(f"pytorch style: final loss: {losses[-1]:.6f}")
    loop_gap = print_comparison("pytorch style (explicit loop):", model, w_ls, b_ls)
    print(f"pytorch style: max |fit - lstsq|: {loop_gap:.2e}")
    return gap, loop_gap


if __name__ == "__main__":
    main()
