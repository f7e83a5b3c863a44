"""compile/fit/evaluate/predict against independent NumPy computations, on the backend in use.

Every expectation is computed here with NumPy from the same initial weights (set with
``set_weights``): least squares, hand-written SGD/Adam steps with manual backprop,
weighted losses. Run once per backend (``HIGHLEVEL_BACKEND=numpy|torch|tensorflow``).
"""

from __future__ import annotations

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops

RTOL, ATOL = 2e-5, 2e-6


# ----------------------------------------------------------------- helpers


def mlp(sizes, hidden_activation="relu", output_activation=None, seed=0):
    """Sequential Dense stack ``sizes[0] -> ... -> sizes[-1]`` with fixed random weights."""
    rng = np.random.default_rng(seed)
    layers = [hl.Input((sizes[0],))]
    for i, units in enumerate(sizes[1:]):
        last = i == len(sizes) - 2
        layers.append(hl.layers.Dense(units, activation=output_activation if last else hidden_activation))
    model = hl.Sequential(layers)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        weights.append(rng.normal(scale=1 / np.sqrt(fan_in), size=(fan_in, fan_out)).astype(np.float32))
        weights.append(rng.normal(scale=0.1, size=(fan_out,)).astype(np.float32))
    model.set_weights(weights)
    return model, [w.copy() for w in weights]


def np_relu(x):
    return np.maximum(x, 0.0)


def np_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def np_forward(weights, x):
    """Hidden relu layers, linear last layer; returns the activations of every layer."""
    acts = [x.astype(np.float64)]
    n = len(weights) // 2
    for i in range(n):
        z = acts[-1] @ weights[2 * i] + weights[2 * i + 1]
        acts.append(np_relu(z) if i < n - 1 else z)
    return acts


def np_backward(weights, acts, d_out):
    """Gradients of every weight given d(loss)/d(last layer output)."""
    grads = [None] * len(weights)
    delta = d_out
    for i in reversed(range(len(weights) // 2)):
        grads[2 * i] = acts[i].T @ delta
        grads[2 * i + 1] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ weights[2 * i].T) * (acts[i] > 0)
    return grads


def mse_grad(weights, x, y, sample_weight=None):
    """Loss and gradients of Keras's mean squared error (sum_over_batch_size) for a batch."""
    acts = np_forward(weights, x)
    out = acts[-1]
    per_sample = np.mean((out - y) ** 2, axis=1)
    sw = np.ones(len(x)) if sample_weight is None else sample_weight.astype(np.float64)
    loss = np.sum(per_sample * sw) / len(x)
    d_out = 2 * (out - y) / out.shape[1] * sw[:, None] / len(x)
    return loss, np_backward(weights, acts, d_out)


def sparse_ce_grad(weights, x, labels):
    """Loss and gradients of softmax + sparse categorical cross-entropy from logits."""
    acts = np_forward(weights, x)
    p = np_softmax(acts[-1])
    n = len(x)
    loss = -np.mean(np.log(p[np.arange(n), labels]))
    d_out = p.copy()
    d_out[np.arange(n), labels] -= 1
    return loss, np_backward(weights, acts, d_out / n)


def np_adam(weights, grads_fn, batches, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); w -= alpha * m / (sqrt(v) + eps)."""
    weights = [w.astype(np.float64) for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for t, (xb, yb) in enumerate(batches, start=1):
        _, grads = grads_fn(weights, xb, yb)
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            weights[i] = weights[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
    return weights


def batches_of(x, y, batch_size, epochs=1):
    return [(x[i:i + batch_size], y[i:i + batch_size]) for _ in range(epochs) for i in range(0, len(x), batch_size)]


def assert_weights_close(model, expected, rtol=RTOL, atol=ATOL):
    got = model.get_weights()
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


@pytest.fixture
def regression_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = rng.normal(size=(24, 2)).astype(np.float32)
    return x, y


@pytest.fixture
def classification_data():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=30).astype(np.int32)
    return x, y


# ------------------------------------------------------------ training math


def test_linear_regression_recovers_least_squares():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = (x @ np.array([[1.5], [-2.0], [0.7]]) + 0.4 + 0.2 * rng.normal(size=(200, 1))).astype(np.float32)
    model = hl.Sequential([hl.Input((3,)), hl.layers.Dense(1)])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.2), loss="mse")
    model.fit(x, y, batch_size=200, epochs=150, verbose=0)
    design = np.hstack([x, np.ones((200, 1))]).astype(np.float64)
    solution = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel, solution[:3], atol=1e-4)
    np.testing.assert_allclose(bias, solution[3], atol=1e-4)


def test_sgd_steps_match_numpy_backprop(regression_data):
    x, y = regression_data
    model, weights = mlp([4, 5, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

    expected = [w.astype(np.float64) for w in weights]
    epoch_losses = []
    for epoch in range(2):
        losses = []
        for xb, yb in batches_of(x, y, 8):
            loss, grads = mse_grad(expected, xb, yb)
            losses.append(loss)
            expected = [w - 0.1 * g for w, g in zip(expected, grads)]
        epoch_losses.append(np.mean(losses))
    assert_weights_close(model, expected)
    np.testing.assert_allclose(history.history["loss"], epoch_losses, rtol=1e-5)


def test_adam_on_classifier_matches_numpy(classification_data):
    """The same model and initial weights give NumPy's Adam weights on every backend."""
    x, labels = classification_data
    model, weights = mlp([5, 6, 3])
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=0.01),
                  loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, labels, batch_size=10, epochs=3, shuffle=False, verbose=0)
    expected = np_adam(weights, sparse_ce_grad, batches_of(x, labels, 10, epochs=3), lr=0.01)
    assert_weights_close(model, expected, rtol=1e-4, atol=1e-5)


def test_regularization_losses_are_added():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=(16, 1)).astype(np.float32)
    model = hl.Sequential([hl.Input((3,)), hl.layers.Dense(1, kernel_regularizer=hl.regularizers.L2(0.1))])
    kernel = rng.normal(size=(3, 1)).astype(np.float32)
    model.set_weights([kernel, np.zeros(1, np.float32)])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.05), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    mse = np.mean((x @ kernel - y) ** 2)
    np.testing.assert_allclose(history.history["loss"][0], mse + 0.1 * np.sum(kernel ** 2), rtol=1e-5)
    grad = 2 * x.T @ (x @ kernel - y) / 16 + 0.2 * kernel
    np.testing.assert_allclose(model.get_weights()[0], kernel - 0.05 * grad, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------- logs and evaluation


def test_history_equals_evaluate_when_weights_are_fixed(regression_data):
    """With a zero learning rate the epoch's running loss is exactly evaluate()'s loss."""
    x, y = regression_data
    model, weights = mlp([4, 5, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.0), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=7, epochs=2, verbose=0, validation_data=(x[:10], y[:10]))
    evaluated = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    out = np_forward(weights, x)[-1]
    np.testing.assert_allclose(history.history["loss"], [np.mean((out - y) ** 2)] * 2, rtol=1e-5)
    np.testing.assert_allclose(evaluated["loss"], np.mean((out - y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(evaluated["mae"], np.mean(np.abs(out - y)), rtol=1e-5)
    val = model.evaluate(x[:10], y[:10], verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-6)
    assert history.history["val_mae"][-1] == pytest.approx(val["mae"], rel=1e-6)
    assert sorted(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history.epoch == [0, 1]


def test_validation_split_takes_the_last_fraction_before_shuffling(regression_data):
    x, y = regression_data
    model, weights = mlp([4, 3, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.0), loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=1, validation_split=0.25, shuffle=True, verbose=0)
    out = np_forward(weights, x)[-1]
    per_sample = np.mean((out - y) ** 2, axis=1)
    np.testing.assert_allclose(history.history["loss"][0], per_sample[:18].mean(), rtol=1e-5)
    np.testing.assert_allclose(history.history["val_loss"][0], per_sample[18:].mean(), rtol=1e-5)


def test_validation_freq():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 2)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    model, _ = mlp([2, 1])
    model.compile("sgd", "mse")
    seen = []
    record = hl.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append("val_loss" in logs))
    model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0, callbacks=[record])
    assert seen == [False, True, False, True]
    seen.clear()
    model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=[1, 4], verbose=0, callbacks=[record])
    assert seen == [True, False, False, True]


def test_sample_weight_and_class_weight_match_numpy(classification_data):
    x, labels = classification_data
    sample_weight = np.linspace(0.5, 2.0, len(x)).astype(np.float32)
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    model, weights = mlp([5, 4, 3])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.0),
                  loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True), weighted_metrics=["accuracy"])
    logits = np_forward(weights, x)[-1]
    nll = -np.log(np_softmax(logits)[np.arange(len(x)), labels])
    correct = np.argmax(logits, axis=1) == labels

    history = model.fit(x, labels, batch_size=30, sample_weight=sample_weight, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], np.sum(nll * sample_weight) / len(x), rtol=1e-5)
    np.testing.assert_allclose(history.history["accuracy"][0],
                               np.sum(correct * sample_weight) / np.sum(sample_weight), rtol=1e-5)

    history = model.fit(x, labels, batch_size=30, class_weight=class_weight, verbose=0)
    cw = np.array([class_weight[c] for c in labels])
    np.testing.assert_allclose(history.history["loss"][0], np.sum(nll * cw) / len(x), rtol=1e-5)

    history = model.fit(x, labels, batch_size=30, class_weight=class_weight, sample_weight=sample_weight,
                        verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], np.sum(nll * cw * sample_weight) / len(x), rtol=1e-5)

    # One-hot targets pick the class by argmax; evaluate() takes sample weights too.
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.0),
                  loss=hl.losses.CategoricalCrossentropy(from_logits=True))
    history = model.fit(x, np.eye(3)[labels], batch_size=30, class_weight=class_weight, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], np.sum(nll * cw) / len(x), rtol=1e-5)
    evaluated = model.evaluate(x, np.eye(3)[labels], sample_weight=sample_weight, batch_size=7, verbose=0)
    np.testing.assert_allclose(evaluated, np.sum(nll * sample_weight) / len(x), rtol=1e-5)


def test_sample_weight_changes_the_gradient(regression_data):
    x, y = regression_data
    sample_weight = np.arange(1, 25, dtype=np.float32) / 10
    model, weights = mlp([4, 3, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(x, y, batch_size=12, sample_weight=sample_weight, shuffle=False, verbose=0)
    expected = [w.astype(np.float64) for w in weights]
    for start in (0, 12):
        _, grads = mse_grad(expected, x[start:start + 12], y[start:start + 12], sample_weight[start:start + 12])
        expected = [w - 0.1 * g for w, g in zip(expected, grads)]
    assert_weights_close(model, expected)


def test_metrics_names_and_accuracy_resolution():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(12, 3)).astype(np.float32)
    model, weights = mlp([3, 4], output_activation="softmax")
    model.compile("sgd", "categorical_crossentropy", metrics=["acc", "mse"])
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 12)]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "acc", "mse"]
    assert model.metrics_names == ["loss", "acc", "mse"]
    probs = np_softmax(np_forward(weights, x)[-1])
    assert logs["acc"] == pytest.approx(np.mean(probs.argmax(1) == y.argmax(1)))
    assert logs["mse"] == pytest.approx(np.mean((probs - y) ** 2), rel=1e-5)
    values = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(values, [logs["loss"], logs["acc"], logs["mse"]], rtol=1e-6)
    model.compile("sgd", "categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)


# --------------------------------------------------------------- input kinds


def test_generator_matches_arrays(regression_data):
    x, y = regression_data
    model_a, weights = mlp([4, 3, 2])
    model_a.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    model_a.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0)

    def endless():
        while True:
            for i in range(0, 24, 6):
                yield x[i:i + 6], y[i:i + 6]

    model_b, _ = mlp([4, 3, 2])
    model_b.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model_b.fit(endless(), steps_per_epoch=4, epochs=2, verbose=0)
    assert history.epoch == [0, 1]
    assert_weights_close(model_b, model_a.get_weights(), rtol=1e-6, atol=1e-7)

    class Batches:
        """A re-iterable source: each epoch/evaluate starts a fresh pass."""

        def __iter__(self):
            return iter([(x[i:i + 6], y[i:i + 6]) for i in range(0, 24, 6)])

    batches = Batches()
    np.testing.assert_allclose(model_b.evaluate(batches, verbose=0), model_b.evaluate(x, y, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(model_b.predict((xb for xb, _ in batches), verbose=0),
                               model_b.predict(x, verbose=0), rtol=1e-6)


def test_validation_data_from_a_generator_and_batch_shuffle(regression_data):
    x, y = regression_data
    model, weights = mlp([4, 3, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.0), loss="mse")

    class Validation:
        def __iter__(self):
            return iter([(x[:12], y[:12]), (x[12:], y[12:])])

    history = model.fit(x, y, batch_size=8, epochs=2, shuffle="batch", validation_data=Validation(), verbose=0)
    out = np_forward(weights, x)[-1]
    np.testing.assert_allclose(history.history["val_loss"], [np.mean((out - y) ** 2)] * 2, rtol=1e-5)
    np.testing.assert_allclose(history.history["loss"], [np.mean((out - y) ** 2)] * 2, rtol=1e-5)


def test_one_shot_generator_stops_after_running_dry(regression_data):
    x, y = regression_data
    model, _ = mlp([4, 2])
    model.compile("sgd", "mse")
    with pytest.warns(UserWarning, match="no batches"):
        history = model.fit(((x[i:i + 8], y[i:i + 8]) for i in range(0, 24, 8)), epochs=3, verbose=0)
    assert history.epoch == [0]


def test_steps_per_epoch_with_arrays_continues_across_epochs(regression_data):
    x, y = regression_data
    model_a, _ = mlp([4, 2])
    model_a.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    model_a.fit(x, y, batch_size=8, epochs=3, steps_per_epoch=2, shuffle=False, verbose=0)   # 6 steps
    model_b, _ = mlp([4, 2])
    model_b.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    model_b.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)                     # the same 6 steps
    assert_weights_close(model_a, model_b.get_weights(), rtol=1e-6, atol=1e-7)


def test_backend_tensors_as_input(regression_data):
    x, y = regression_data
    model, _ = mlp([4, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(ops.convert_to_tensor(x), ops.convert_to_tensor(y), batch_size=8, shuffle=False, verbose=0)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(ops.convert_to_tensor(x), verbose=0), expected, rtol=1e-6)
    assert model.evaluate(ops.convert_to_tensor(x), ops.convert_to_tensor(y), verbose=0) == \
        pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)


def test_float64_inputs_are_cast_to_float32(regression_data):
    x, y = regression_data
    model, _ = mlp([4, 2])
    model.compile("sgd", "mse")
    out = model.predict(x.astype(np.float64), verbose=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, model.predict(x, verbose=0))


def test_multi_input_multi_output_with_dict_losses():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(20, 3)).astype(np.float32)
    b = rng.normal(size=(20, 2)).astype(np.float32)
    reg = rng.normal(size=(20, 1)).astype(np.float32)
    cls = rng.integers(0, 3, size=20).astype(np.int32)

    in_a, in_b = hl.Input((3,), name="a"), hl.Input((2,), name="b")
    shared = hl.layers.Dense(4, activation="relu", name="shared")
    h = hl.layers.Dense(4, name="merge")(in_a)
    hb = hl.layers.Dense(4, name="merge_b")(in_b)
    out_reg = hl.layers.Dense(1, name="reg")(shared(h))
    out_cls = hl.layers.Dense(3, activation="softmax", name="cls")(shared(hb))
    model = hl.Model({"a": in_a, "b": in_b}, {"reg": out_reg, "cls": out_cls})
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.0),
                  loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 2.0, "cls": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    x = {"a": a, "b": b}
    y = {"reg": reg, "cls": cls}
    history = model.fit(x, y, batch_size=20, verbose=0)
    pred = model.predict(x, verbose=0)
    assert set(pred) == {"reg", "cls"}
    mse = np.mean((pred["reg"] - reg) ** 2)
    ce = -np.mean(np.log(pred["cls"][np.arange(20), cls]))
    logs = {k: v[0] for k, v in history.history.items()}
    assert set(logs) == {"loss", "reg_loss", "cls_loss", "cls_accuracy", "reg_mae"}
    assert logs["reg_loss"] == pytest.approx(mse, rel=1e-5)
    assert logs["cls_loss"] == pytest.approx(ce, rel=1e-5)
    assert logs["loss"] == pytest.approx(2.0 * mse + 0.5 * ce, rel=1e-5)
    assert logs["cls_accuracy"] == pytest.approx(np.mean(pred["cls"].argmax(1) == cls))
    assert logs["reg_mae"] == pytest.approx(np.mean(np.abs(pred["reg"] - reg)), rel=1e-5)
    # Lists in output order work too, and targets may be a list.
    order = list(model.output_names)
    model.compile(optimizer="sgd", loss=[{"reg": "mse", "cls": "sparse_categorical_crossentropy"}[n] for n in order],
                  loss_weights=[{"reg": 2.0, "cls": 0.5}[n] for n in order])
    value = model.evaluate(x, [y[n] for n in order], verbose=0, return_dict=True)["loss"]
    assert value == pytest.approx(2.0 * mse + 0.5 * ce, rel=1e-5)


def test_multi_output_gradients_follow_loss_weights(regression_data):
    x, y = regression_data
    inputs = hl.Input((4,))
    first = hl.layers.Dense(2, name="first")(inputs)
    second = hl.layers.Dense(2, name="second")(inputs)
    model = hl.Model(inputs, [first, second])
    rng = np.random.default_rng(7)
    weights = [rng.normal(size=(4, 2)).astype(np.float32), np.zeros(2, np.float32),
               rng.normal(size=(4, 2)).astype(np.float32), np.zeros(2, np.float32)]
    model.set_weights(weights)
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss=["mse", "mae"], loss_weights=[1.0, 3.0])
    model.fit(x, [y, -y], batch_size=24, verbose=0)
    out1 = x @ weights[0]
    out2 = x @ weights[2]
    g1 = x.T @ (2 * (out1 - y) / (2 * 24))
    g2 = 3.0 * x.T @ (np.sign(out2 + y) / (2 * 24))
    got = model.get_weights()
    np.testing.assert_allclose(got[0], weights[0] - 0.1 * g1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], weights[2] - 0.1 * g2, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------- custom steps


class SubclassedWithCustomStep(hl.Model):
    """A subclassed model whose train_step is written with hl.ops.value_and_grad."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hl.layers.Dense(5, activation="relu")
        self.out = hl.layers.Dense(2)
        self.steps_seen = hl.metrics.Sum(name="steps")

    def call(self, x, training=None):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        variables = self.trainable_weights

        def loss_fn():
            return ops.mean(ops.square(ops.subtract(self(x, training=True), y)))

        loss, grads = ops.value_and_grad(loss_fn, variables)
        self.optimizer.apply(grads, variables)
        self.steps_seen.update_state(1.0)
        return {"my_loss": loss, "steps": self.steps_seen.result()}


def test_custom_train_step_matches_default_fit(regression_data):
    x, y = regression_data
    model_a, weights = mlp([4, 5, 2])
    model_a.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    model_a.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

    model_b = SubclassedWithCustomStep()
    model_b(x[:1])
    model_b.set_weights(weights)
    model_b.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1))
    history = model_b.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert_weights_close(model_b, model_a.get_weights(), rtol=1e-6, atol=1e-7)
    assert set(history.history) == {"my_loss", "steps"}
    assert history.history["steps"] == [3.0, 3.0]   # metrics set as attributes reset every epoch
    # The epoch's logs are the last step's: the loss of the last batch before its update.
    expected = [w.astype(np.float64) for w in weights]
    for xb, yb in batches_of(x, y, 8, epochs=2):
        last_loss, grads = mse_grad(expected, xb, yb)
        expected = [w - 0.1 * g for w, g in zip(expected, grads)]
    assert history.history["my_loss"][-1] == pytest.approx(last_loss, rel=1e-5)


def test_run_eagerly_and_jit_compile_give_the_same_weights(classification_data):
    x, labels = classification_data
    results = []
    variants = [(False, False), (True, False)]
    if hl.backend.name() != "torch":   # torch.compile needs ~20 s to compile: too slow for this suite
        variants.append((False, True))
    for eager, jit in variants:
        model, _ = mlp([5, 4, 3])
        model.compile(optimizer="adam", loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True),
                      run_eagerly=eager, jit_compile=jit)
        model.fit(x, labels, batch_size=10, epochs=2, shuffle=False, verbose=0)
        results.append(model.get_weights())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batch_methods(regression_data):
    x, y = regression_data
    model, weights = mlp([4, 3, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    out = np_forward(weights, x[:8])[-1]
    np.testing.assert_allclose(model.predict_on_batch(x[:8]), out, rtol=1e-5, atol=1e-6)
    loss, mae = model.test_on_batch(x[:8], y[:8])
    assert loss == pytest.approx(np.mean((out - y[:8]) ** 2), rel=1e-5)
    assert mae == pytest.approx(np.mean(np.abs(out - y[:8])), rel=1e-5)
    logs = model.train_on_batch(x[:8], y[:8], return_dict=True)
    assert logs["loss"] == pytest.approx(loss, rel=1e-5)   # the loss before the update
    _, grads = mse_grad([w.astype(np.float64) for w in weights], x[:8], y[:8])
    assert_weights_close(model, [w - 0.1 * g for w, g in zip(weights, grads)])


def test_predict_batches_and_multi_output_structure(regression_data):
    x, _ = regression_data
    inputs = hl.Input((4,))
    model = hl.Model(inputs, [hl.layers.Dense(2)(inputs), hl.layers.Dense(3)(inputs)])
    full = model.predict_on_batch(x)
    parts = model.predict(x, batch_size=5, verbose=0)
    assert isinstance(parts, list) and len(parts) == 2
    for got, want in zip(parts, full):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_predict_steps_limits_batches(regression_data):
    x, _ = regression_data
    model, _ = mlp([4, 2])
    assert model.predict(x, batch_size=5, steps=2, verbose=0).shape == (10, 2)


# ----------------------------------------------------------------- errors


def test_fit_before_compile_raises(regression_data):
    x, y = regression_data
    model, _ = mlp([4, 2])
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="compile"):
        model.evaluate(x, y, verbose=0)


def test_length_mismatch_raises(regression_data):
    x, y = regression_data
    model, _ = mlp([4, 2])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"x: 24.*y: 23"):
        model.fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="sample_weight: 5"):
        model.fit(x, y, sample_weight=np.ones(5), verbose=0)


def test_wrong_feature_count_raises(regression_data):
    x, y = regression_data
    model, _ = mlp([3, 2])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"expects shape \(None, 3\).*\(24, 4\)"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"expects shape \(None, 3\)"):
        model.predict(x, verbose=0)


@pytest.mark.parametrize("argument, value, listed", [
    ("optimizer", "adamm", "adam"),
    ("loss", "mean_squared_eror", "mean_squared_error"),
    ("metrics", ["acuracy"], "accuracy"),
])
def test_unknown_names_list_the_valid_ones(argument, value, listed):
    model, _ = mlp([4, 2])
    kwargs = {"optimizer": "sgd", "loss": "mse", argument: value}
    with pytest.raises(ValueError, match=listed):
        model.compile(**kwargs)


def test_sparse_labels_out_of_range_raise(classification_data):
    x, labels = classification_data
    model, _ = mlp([5, 3], output_activation="softmax")
    model.compile("sgd", "sparse_categorical_crossentropy")
    bad = labels.copy()
    bad[7] = 3
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        model.fit(x, bad, batch_size=10, verbose=0)
    with pytest.raises(ValueError):
        model.evaluate(x, -1 - labels, verbose=0)


def test_bad_arguments_raise(regression_data):
    x, y = regression_data
    model, _ = mlp([4, 2])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="verbose"):
        model.fit(x, y, verbose=3)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(((x, y) for _ in range(2)), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(x, y, class_weight=[1.0, 2.0], verbose=0)
    with pytest.raises(TypeError, match="x"):
        model.fit("not data", y, verbose=0)


# ------------------------------------------------------------ determinism


def _seeded_run(seed):
    hl.utils.set_random_seed(seed)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    model = hl.Sequential([hl.Input((6,)), hl.layers.Dense(8, activation="relu"), hl.layers.Dropout(0.3),
                           hl.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.2, shuffle=True, verbose=0)
    return model.get_weights(), history.history


def test_same_seed_gives_identical_runs():
    weights_a, history_a = _seeded_run(123)
    weights_b, history_b = _seeded_run(123)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)
    assert history_a == history_b
    weights_c, _ = _seeded_run(124)
    assert any(not np.array_equal(a, c) for a, c in zip(weights_a, weights_c))


def test_compile_is_cheap_and_resets_state(regression_data):
    x, y = regression_data
    model, weights = mlp([4, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(x, y, batch_size=24, verbose=0)
    model.set_weights(weights)
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.1), loss="mae")
    history = model.fit(x, y, batch_size=24, verbose=0)
    out = np_forward(weights, x)[-1]
    assert history.history["loss"][0] == pytest.approx(np.mean(np.abs(out - y)), rel=1e-5)


def test_compile_config_round_trip(regression_data):
    x, y = regression_data
    model, weights = mlp([4, 2])
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.3), loss="mae", metrics=["mse"])
    config = model.get_compile_config()
    other, _ = mlp([4, 2])
    other.compile_from_config(config)
    assert other.optimizer.learning_rate == pytest.approx(0.3)
    assert other.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(
        model.evaluate(x, y, verbose=0, return_dict=True), rel=1e-6)
