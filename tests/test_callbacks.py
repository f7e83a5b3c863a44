"""Callbacks: hook order, History, progress output and each built-in callback's behaviour.

Monitor-based callbacks are checked twice: driven by hand with a sequence of values
(expectations derived from Keras's documented rules, and compared with Keras's own
callbacks when ``keras`` is importable), and inside real ``fit`` runs whose effect on
the weights is computed with NumPy.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

import highlevel as hl


def linear_model(seed=0, n_in=3):
    rng = np.random.default_rng(seed)
    model = hl.Sequential([hl.Input((n_in,)), hl.layers.Dense(1)])
    weights = [rng.normal(size=(n_in, 1)).astype(np.float32), np.zeros(1, np.float32)]
    model.set_weights(weights)
    return model, weights


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-1.0], [2.0]]) + 0.5).astype(np.float32)
    return x, y


def np_sgd_epoch(weights, x, y, lr, batch_size):
    """One epoch of SGD on the MSE of a linear model, in batch order (float64)."""
    kernel, bias = [w.astype(np.float64) for w in weights]
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        residual = xb @ kernel + bias - yb
        kernel = kernel - lr * 2 * xb.T @ residual / len(xb)
        bias = bias - lr * 2 * residual.sum(axis=0) / len(xb)
    return [kernel, bias]


class Recorder(hl.callbacks.Callback):
    """Records every hook call as (hook, index or None, sorted log keys)."""

    def __init__(self):
        super().__init__()
        self.calls = []
        self.batch_logs = []

    def _record(self, hook, index=None, logs=None):
        self.calls.append((hook, index))

    def on_train_begin(self, logs=None):
        self._record("train_begin")

    def on_train_end(self, logs=None):
        self._record("train_end")

    def on_epoch_begin(self, epoch, logs=None):
        self._record("epoch_begin", epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._record("epoch_end", epoch)

    def on_train_batch_begin(self, batch, logs=None):
        self._record("train_batch_begin", batch)

    def on_train_batch_end(self, batch, logs=None):
        self._record("train_batch_end", batch)
        self.batch_logs.append(dict(logs))

    def on_test_begin(self, logs=None):
        self._record("test_begin")

    def on_test_end(self, logs=None):
        self._record("test_end")

    def on_test_batch_begin(self, batch, logs=None):
        self._record("test_batch_begin", batch)

    def on_test_batch_end(self, batch, logs=None):
        self._record("test_batch_end", batch)

    def on_predict_begin(self, logs=None):
        self._record("predict_begin")

    def on_predict_end(self, logs=None):
        self._record("predict_end")

    def on_predict_batch_begin(self, batch, logs=None):
        self._record("predict_batch_begin", batch)

    def on_predict_batch_end(self, batch, logs=None):
        self._record("predict_batch_end", batch)


def test_hook_order_and_batch_logs(data):
    x, y = data
    model, _ = linear_model()
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.0), loss="mse")
    recorder = Recorder()
    model.fit(x, y, batch_size=16, epochs=2, validation_data=(x[:8], y[:8]), callbacks=[recorder], shuffle=False,
              verbose=0)
    epoch = lambda e: [("epoch_begin", e), ("train_batch_begin", 0), ("train_batch_end", 0),  # noqa: E731
                       ("train_batch_begin", 1), ("train_batch_end", 1), ("test_begin", None),
                       ("test_batch_begin", 0), ("test_batch_end", 0), ("test_end", None), ("epoch_end", e)]
    assert recorder.calls == [("train_begin", None)] + epoch(0) + epoch(1) + [("train_end", None)]
    # Batch logs reach user callbacks as Python floats: the running mean of the epoch so far.
    assert all(isinstance(logs["loss"], float) for logs in recorder.batch_logs)
    residual = x @ model.get_weights()[0] + model.get_weights()[1] - y
    assert recorder.batch_logs[0]["loss"] == pytest.approx(np.mean(residual[:16] ** 2), rel=1e-5)
    assert recorder.batch_logs[1]["loss"] == pytest.approx(np.mean(residual ** 2), rel=1e-5)

    recorder.calls.clear()
    model.evaluate(x, y, batch_size=32, callbacks=[recorder], verbose=0)
    model.predict(x, batch_size=20, callbacks=[recorder], verbose=0)
    assert recorder.calls == [("test_begin", None), ("test_batch_begin", 0), ("test_batch_end", 0),
                              ("test_end", None), ("predict_begin", None), ("predict_batch_begin", 0),
                              ("predict_batch_end", 0), ("predict_batch_begin", 1), ("predict_batch_end", 1),
                              ("predict_end", None)]


def test_history_params_and_model_history(data):
    x, y = data
    model, _ = linear_model()
    model.compile("sgd", "mse")
    history = model.fit(x, y, batch_size=10, epochs=3, verbose=0)
    assert model.history is history
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss"] and len(history.history["loss"]) == 3
    history = model.fit(x, y, batch_size=10, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4]


def test_callback_can_stop_training_mid_epoch(data):
    x, y = data
    model, _ = linear_model()
    model.compile("sgd", "mse")
    seen = []

    def on_batch(batch, logs):
        seen.append(batch)
        if batch == 1:
            model.stop_training = True

    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0,
                        callbacks=[hl.callbacks.LambdaCallback(on_train_batch_end=on_batch)])
    assert seen == [0, 1]
    assert history.epoch == [0]


def test_lambda_callback_hooks(data):
    x, y = data
    model, _ = linear_model()
    model.compile("sgd", "mse")
    calls = []
    callback = hl.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_train_end=lambda logs: calls.append("train_end"))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    assert calls == ["train_begin", ("batch_end", 0), ("batch_end", 1), ("epoch_end", 0, ["loss"]), "train_end"]
    with pytest.raises(ValueError, match="unknown hook"):
        hl.callbacks.LambdaCallback(on_epoch_finish=print)


# ------------------------------------------------------------------ progress


def test_progress_output_by_verbosity(data, capsys):
    x, y = data
    model, _ = linear_model()
    model.compile("sgd", "mse", metrics=["mae"])
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, batch_size=8, epochs=2, verbose=2, validation_data=(x, y))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2") and lines[1].startswith("Epoch 2/2")
    for key in ("loss:", "mae:", "val_loss:", "val_mae:", "4 steps"):
        assert key in lines[1]
    model.fit(x, y, batch_size=8, epochs=1, verbose=1)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Epoch 1/1" in text and "4/4" in text and "loss:" in text
    model.evaluate(x, y, verbose=1)
    captured = capsys.readouterr()
    assert "Evaluate" in captured.out + captured.err


# ------------------------------------------------------------ EarlyStopping


class FakeModel:
    """Just what monitor callbacks touch: weights, stop_training, optimizer."""

    def __init__(self, learning_rate=1.0):
        self.stop_training = False
        self.current = 0
        self.restored = None
        self.optimizer = type("Opt", (), {"learning_rate": learning_rate})()
        self.metrics = []

    def get_weights(self):
        return [np.array(self.current)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def drive(callback, values, model=None, monitor="loss"):
    """Run ``callback`` over epochs with ``values``; returns (epochs seen, model)."""
    model = model or FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    seen = []
    for epoch, value in enumerate(values):
        model.current = epoch
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {monitor: value})
        seen.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end()
    return seen, model


VALUES = [1.0, 0.9, 0.95, 0.93, 0.92, 0.8]


@pytest.mark.parametrize("kwargs, stopped_at, best_epoch", [
    ({"patience": 2}, 3, 1),
    ({"patience": 0}, 2, 1),
    ({"patience": 2, "min_delta": 0.05}, 3, 1),
    ({"patience": 2, "baseline": 0.5}, 2, 1),
    ({"patience": 2, "start_from_epoch": 2}, None, 5),
])
def test_early_stopping_rules(kwargs, stopped_at, best_epoch):
    callback = hl.callbacks.EarlyStopping(monitor="loss", restore_best_weights=True, **kwargs)
    seen, model = drive(callback, VALUES)
    if stopped_at is None:
        assert seen == list(range(len(VALUES))) and not model.stop_training
    else:
        assert seen[-1] == stopped_at and callback.stopped_epoch == stopped_at
    assert callback.best_epoch == best_epoch
    assert model.restored == best_epoch


@pytest.mark.parametrize("kwargs", [{"patience": 2}, {"patience": 0}, {"patience": 2, "min_delta": 0.05},
                                    {"patience": 2, "baseline": 0.5}, {"patience": 1, "start_from_epoch": 2}])
def test_early_stopping_agrees_with_keras(kwargs):
    keras = pytest.importorskip("keras")
    ours = drive(hl.callbacks.EarlyStopping(monitor="loss", **kwargs), VALUES)[0]
    theirs = drive(keras.callbacks.EarlyStopping(monitor="loss", **kwargs), VALUES)[0]
    assert ours == theirs


def test_early_stopping_mode_auto_maximizes_accuracy():
    callback = hl.callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    seen, _ = drive(callback, [0.5, 0.6, 0.55, 0.58], monitor="val_accuracy")
    assert seen == [0, 1, 2] and callback.best == 0.6
    with pytest.raises(ValueError, match="mode"):
        drive(hl.callbacks.EarlyStopping(monitor="my_score"), [1.0, 2.0], monitor="my_score")


def test_early_stopping_restores_best_weights_in_fit(data):
    x, y = data
    model, _ = linear_model()
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.05), loss="mse")
    snapshots = []
    record = hl.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    blow_up = hl.callbacks.LearningRateScheduler(lambda epoch, lr: 0.05 if epoch < 3 else 2.0)
    stop = hl.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    history = model.fit(x, y, batch_size=8, epochs=20, verbose=0, callbacks=[blow_up, record, stop])
    losses = history.history["loss"]
    assert len(losses) < 20 and model.stop_training
    best = int(np.nanargmin(losses))
    assert stop.best_epoch == best
    for got, want in zip(model.get_weights(), snapshots[best]):
        np.testing.assert_array_equal(got, want)


# -------------------------------------------------------- ReduceLROnPlateau


def test_reduce_lr_on_plateau_rules():
    callback = hl.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=0.1)
    model = FakeModel(learning_rate=1.0)
    rates = []
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]):
        logs = {"loss": value}
        callback.on_epoch_end(epoch, logs)
        assert logs["learning_rate"] == (rates[-1] if rates else 1.0)   # logged before any reduction
        rates.append(model.optimizer.learning_rate)
    # Patience 2, a one-epoch cooldown after each cut, and the floor min_lr=0.1 at the end.
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.1, 0.1]
    with pytest.raises(ValueError, match="factor"):
        hl.callbacks.ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_on_plateau_agrees_with_keras():
    keras = pytest.importorskip("keras")
    values = [1.0, 0.99995, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85]
    results = []
    for module in (hl.callbacks, keras.callbacks):
        callback = module.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2)
        model = FakeModel(learning_rate=1.0)
        callback.set_model(model)
        callback.on_train_begin()
        rates = []
        for epoch, value in enumerate(values):
            callback.on_epoch_end(epoch, {"loss": value})
            rates.append(float(model.optimizer.learning_rate))
        results.append(rates)
    assert results[0] == results[1]


def test_reduce_lr_on_plateau_changes_the_optimizer_in_fit(data):
    x, y = data
    model, _ = linear_model()
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=0.05), loss="mse")
    snapshots = []
    record = hl.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    # Nothing counts as an improvement after the first epoch: the rate drops to 0 after epoch 1.
    reduce = hl.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.0, patience=1, min_delta=1e9)
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[reduce, record])
    assert model.optimizer.learning_rate == 0.0
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.0, 0.0])
    for later in snapshots[2:]:
        for got, want in zip(later, snapshots[1]):
            np.testing.assert_array_equal(got, want)
    assert not np.array_equal(snapshots[0][0], snapshots[1][0])


# ---------------------------------------------------- LearningRateScheduler


def test_learning_rate_scheduler_drives_sgd(data):
    x, y = data
    model, weights = linear_model()
    model.compile(optimizer=hl.optimizers.SGD(learning_rate=1.0), loss="mse")
    schedule = hl.callbacks.LearningRateScheduler(lambda epoch, lr: 0.02 * (epoch + 1))
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[schedule])
    assert history.history["learning_rate"] == pytest.approx([0.02, 0.04, 0.06])
    expected = weights
    for epoch in range(3):
        expected = np_sgd_epoch(expected, x, y, 0.02 * (epoch + 1), 8)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The older one-argument form, and a bad return value.
    model.fit(x, y, epochs=1, verbose=0, callbacks=[hl.callbacks.LearningRateScheduler(lambda epoch: 0.001)])
    assert model.optimizer.learning_rate == pytest.approx(0.001)
    with pytest.raises(ValueError, match="float"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[hl.callbacks.LearningRateScheduler(lambda e, lr: "fast")])


# ---------------------------------------------------------------- CSVLogger


def test_csv_logger_writes_history(data, tmp_path):
    x, y = data
    model, _ = linear_model()
    model.compile("sgd", "mse", metrics=["mae"])
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[hl.callbacks.CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    for i, key in enumerate(rows[0][1:], start=1):
        assert [float(r[i]) for r in rows[1:]] == pytest.approx(history.history[key], rel=1e-12)

    model.fit(x, y, epochs=2, verbose=0, callbacks=[hl.callbacks.CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 6 and rows[4][0] == "0"
    assert rows[4][3] == "NA"   # no validation in the second run

    path2 = tmp_path / "semicolon.csv"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[hl.callbacks.CSVLogger(path2, separator=";")])
    assert path2.read_text().splitlines()[0] == "epoch;loss;mae;val_loss;val_mae"


# ----------------------------------------------------------- TerminateOnNaN


def test_terminate_on_nan_stops_at_the_bad_batch(data):
    x, y = data
    y = y.copy()
    y[17] = np.nan   # the third batch of 8
    model, _ = linear_model()
    model.compile("sgd", "mse")
    batches = []
    count = hl.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                        callbacks=[hl.callbacks.TerminateOnNaN(), count])
    assert batches == [0, 1, 2]
    assert history.epoch == [0] and np.isnan(history.history["loss"][0])
    with pytest.raises(RuntimeError, match="NaN"):
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
                  callbacks=[hl.callbacks.TerminateOnNaN(raise_error=True)])
