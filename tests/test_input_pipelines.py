"""fit/evaluate/predict fed by generators, PyDatasets, torch DataLoaders and tf.data — on every backend.

Training results are checked against SGD on a linear model written here in NumPy
(``reference_fit``), so every input kind is compared with the same independent numbers.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import traceback

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops
from highlevel.trainers.data_adapters import get_data_adapter
from pipeline_sources import ArrayBatches, ConstantBatches, EndlessBatches

torch = pytest.importorskip("torch", reason="the DataLoader tests need torch (a dev dependency)")
tf = pytest.importorskip("tensorflow", reason="the tf.data tests need tensorflow (a dev dependency)")

BATCH = 8
LR = 0.1
RNG = np.random.default_rng(6)
X = RNG.normal(size=(37, 5)).astype(np.float32)          # 5 batches: 8, 8, 8, 8, 5 rows
Y = RNG.normal(size=(37, 3)).astype(np.float32)
SW = RNG.uniform(0.2, 2.0, size=(37,)).astype(np.float32)
XV = RNG.normal(size=(13, 5)).astype(np.float32)
YV = RNG.normal(size=(13, 3)).astype(np.float32)
W0 = RNG.normal(scale=0.3, size=(5, 3)).astype(np.float32)
B0 = RNG.normal(scale=0.1, size=(3,)).astype(np.float32)
NUM_BATCHES = 5


# ------------------------------------------------------------------ reference


def batch_rows(index, n=len(X)):
    return slice(index * BATCH, min((index + 1) * BATCH, n))


def reference_fit(order_per_epoch, x=X, y=Y, sw=None, w=W0, b=B0):
    """SGD on ``x @ w + b`` with the mean squared error, batch by batch in the given orders.

    Returns the final ``(w, b)`` and each epoch's mean training loss (batch losses weighted
    by batch size, as the loss tracker averages them). A batch's loss is
    ``sum_i sw_i * mean_j (pred_ij - y_ij)^2 / batch_size`` (Keras's sum_over_batch_size).
    """
    w, b = w.astype(np.float64), b.astype(np.float64)
    epoch_losses = []
    for order in order_per_epoch:
        total, count = 0.0, 0
        for index in order:
            rows = batch_rows(index, len(x))
            xb, yb = x[rows].astype(np.float64), y[rows].astype(np.float64)
            weights = np.ones(len(xb)) if sw is None else sw[rows].astype(np.float64)
            error = xb @ w + b - yb
            total += float(np.sum(weights * np.mean(error ** 2, axis=1)) / len(xb)) * len(xb)
            count += len(xb)
            grad_pred = 2.0 * error * weights[:, None] / (len(xb) * yb.shape[1])
            w = w - LR * xb.T @ grad_pred
            b = b - LR * grad_pred.sum(axis=0)
        epoch_losses.append(total / count)
    return w, b, epoch_losses


def mse(w, b, x, y):
    return float(np.mean((x.astype(np.float64) @ w + b - y) ** 2))


def linear_model():
    model = hl.Sequential([hl.Input((5,)), hl.layers.Dense(3)])
    model.set_weights([W0, B0])
    model.compile(optimizer=hl.optimizers.SGD(LR), loss="mse")
    return model


def assert_weights(model, w, b):
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5, atol=1e-5)


def live_threads():
    return {t for t in threading.enumerate() if t.is_alive()}


def live_children():
    return set(multiprocessing.active_children())


# ------------------------------------------------------------- input kinds


class ReIterableBatches:
    """A re-iterable Python object: each ``iter()`` starts a fresh pass (a generator per epoch)."""

    def __init__(self, *arrays):
        self.arrays = arrays

    def __iter__(self):
        for index in range(-(-len(self.arrays[0]) // BATCH)):
            yield tuple(a[batch_rows(index, len(a))] for a in self.arrays)


def make_source(kind, *arrays):
    """The batches ``(arrays[0][rows], arrays[1][rows], ...)`` of ``BATCH`` rows as input kind ``kind``."""
    if kind == "generator":
        return ReIterableBatches(*arrays)
    if kind.startswith("pydataset"):
        workers = {"pydataset": {}, "pydataset-threads": {"workers": 4},
                   "pydataset-processes": {"workers": 2, "use_multiprocessing": True}}[kind]
        return ArrayBatches(*arrays, batch_size=BATCH, **workers)
    if kind == "dataloader":
        tensors = torch.utils.data.TensorDataset(*(torch.from_numpy(a) for a in arrays))
        return torch.utils.data.DataLoader(tensors, batch_size=BATCH, shuffle=False)
    if kind == "tfdata":
        return tf.data.Dataset.from_tensor_slices(tuple(arrays)).batch(BATCH)
    raise AssertionError(kind)


KINDS = ["arrays", "generator", "pydataset", "pydataset-threads", "pydataset-processes", "dataloader", "tfdata"]


@pytest.mark.parametrize("kind", KINDS)
def test_fit_evaluate_predict_match_numpy_sgd(kind):
    """Weights, per-epoch loss and val_loss, evaluate and predict equal the NumPy reference."""
    model = linear_model()
    if kind == "arrays":
        history = model.fit(X, Y, sample_weight=SW, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
                            validation_data=(XV, YV))
        evaluation = model.evaluate(XV, YV, batch_size=BATCH, verbose=0)
        predictions = model.predict(XV, batch_size=BATCH, verbose=0)
    else:
        history = model.fit(make_source(kind, X, Y, SW), epochs=2, shuffle=False, verbose=0,
                            validation_data=make_source(kind, XV, YV))
        evaluation = model.evaluate(make_source(kind, XV, YV), verbose=0)
        predictions = model.predict(make_source(kind, XV, YV), verbose=0)   # targets are ignored

    w1, b1, losses = reference_fit([range(NUM_BATCHES)], sw=SW)
    w, b, losses2 = reference_fit([range(NUM_BATCHES)], sw=SW, w=w1, b=b1)
    assert_weights(model, w, b)
    np.testing.assert_allclose(history.history["loss"], losses + losses2, rtol=1e-5)
    np.testing.assert_allclose(history.history["val_loss"], [mse(w1, b1, XV, YV), mse(w, b, XV, YV)], rtol=1e-5)
    np.testing.assert_allclose(evaluation, mse(w, b, XV, YV), rtol=1e-5)
    np.testing.assert_allclose(predictions, XV @ w + b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["pydataset", "dataloader", "tfdata"])
def test_class_weight_with_dataset_objects_matches_arrays(kind):
    labels = np.eye(3, dtype=np.float32)[np.arange(len(X)) % 3]
    class_weight = {0: 1.0, 1: 2.5, 2: 0.5}
    expected = linear_model()
    expected.fit(X, labels, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, class_weight=class_weight)
    model = linear_model()
    model.fit(make_source(kind, X, labels), epochs=1, shuffle=False, verbose=0, class_weight=class_weight)
    w, b, _ = reference_fit([range(NUM_BATCHES)], y=labels, sw=np.array([1.0, 2.5, 0.5])[np.arange(len(X)) % 3])
    assert_weights(expected, w, b)
    assert_weights(model, w, b)


# ------------------------------------------------------------------ PyDataset


def test_pydataset_on_epoch_end_never_overlaps_a_worker():
    # With 3 steps per epoch over 5 batches, workers are still preparing the next batches
    # when an epoch ends; they must be stopped before the dataset's hook runs.
    dataset = ArrayBatches(X, Y, batch_size=BATCH, delays=[0.02] * NUM_BATCHES, workers=4)
    model = linear_model()
    model.fit(dataset, epochs=3, steps_per_epoch=3, shuffle=False, verbose=0)
    assert dataset.in_flight_at_epoch_end == [0, 0, 0]
    w, b, _ = reference_fit([[0, 1, 2], [3, 4, 0], [1, 2, 3]])
    assert_weights(model, w, b)


@pytest.mark.parametrize("use_multiprocessing", [False, True], ids=["threads", "processes"])
def test_pydataset_workers_deliver_batches_in_index_order(use_multiprocessing):
    # Batch 0 takes longest, so the workers finish in reverse order; predict must still
    # see batch 0 first.
    delays = [0.04, 0.03, 0.02, 0.01, 0.0]
    dataset = ArrayBatches(X, batch_size=BATCH, delays=delays, workers=4, use_multiprocessing=use_multiprocessing)
    model = linear_model()
    np.testing.assert_allclose(model.predict(dataset, verbose=0), X @ W0 + B0, rtol=1e-5, atol=1e-5)


def test_pydataset_epoch_hooks_run_once_per_pass():
    train = ArrayBatches(X, Y, batch_size=BATCH, workers=3)
    val = ArrayBatches(XV, YV, batch_size=BATCH)
    model = linear_model()
    model.fit(train, epochs=3, shuffle=False, verbose=0, validation_data=val)
    assert (train.begins, train.ends) == (3, 3)
    assert (val.begins, val.ends) == (3, 3)       # one validation pass per epoch, as Keras
    assert sorted(train.requested) == sorted(list(range(NUM_BATCHES)) * 3)
    model.evaluate(val, verbose=0)
    assert (val.begins, val.ends) == (4, 4)


@pytest.mark.parametrize("workers,use_multiprocessing", [(1, False), (4, False), (2, True)],
                         ids=["main-thread", "threads", "processes"])
def test_pydataset_error_reaches_caller_with_traceback_and_workers_stop(workers, use_multiprocessing):
    threads_before, children_before = live_threads(), live_children()
    dataset = ArrayBatches(X, Y, batch_size=BATCH, fail_at=2, workers=workers, use_multiprocessing=use_multiprocessing)
    with pytest.raises(KeyError, match="batch 2 is corrupt") as info:
        linear_model().fit(dataset, epochs=2, shuffle=False, verbose=0)
    # The worker's frames travel with the error (a process's as the __cause__'s text).
    assert "raise_bad_batch" in "".join(traceback.format_exception(info.value))
    assert live_threads() <= threads_before
    assert live_children() <= children_before


class FailAtStep(hl.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            raise RuntimeError("stop here")


@pytest.mark.parametrize("use_multiprocessing", [False, True], ids=["threads", "processes"])
def test_no_workers_left_after_fit_ends_or_fails(use_multiprocessing):
    threads_before, children_before = live_threads(), live_children()
    train = ArrayBatches(X, Y, batch_size=BATCH, workers=3, use_multiprocessing=use_multiprocessing)
    val = ArrayBatches(XV, YV, batch_size=BATCH, workers=2, use_multiprocessing=use_multiprocessing)
    model = linear_model()
    model.fit(train, epochs=2, verbose=0, validation_data=val)
    assert live_threads() <= threads_before
    assert live_children() <= children_before
    # The training step (here a callback) fails while workers are preparing later batches.
    with pytest.raises(RuntimeError, match="stop here"):
        model.fit(train, epochs=2, verbose=0, callbacks=[FailAtStep()])
    assert live_threads() <= threads_before
    assert live_children() <= children_before


@pytest.mark.parametrize("workers", [1, 4])
def test_pydataset_steps_per_epoch_continues_across_epochs(workers):
    dataset = ArrayBatches(X, Y, batch_size=BATCH, workers=workers)
    model = linear_model()
    history = model.fit(dataset, epochs=3, steps_per_epoch=3, shuffle=False, verbose=0)
    # Epochs of 3 steps over 5 batches: 0 1 2 | 3 4 0 | 1 2 3 (a new pass starts after batch 4).
    orders = [[0, 1, 2], [3, 4, 0], [1, 2, 3]]
    w, b, losses = reference_fit(orders)
    assert_weights(model, w, b)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)
    assert dataset.ends == 3
    if workers == 1:   # (with workers, batches are also requested ahead of use)
        assert dataset.requested == [0, 1, 2, 3, 4, 0, 1, 2, 3]


def test_pydataset_shuffle_permutes_batch_order_each_epoch():
    dataset = ArrayBatches(X, Y, batch_size=BATCH)
    model = linear_model()
    hl.utils.set_random_seed(11)
    model.fit(dataset, epochs=2, shuffle=True, verbose=0)
    np.random.seed(11)   # the same generator set_random_seed seeded
    orders = [np.random.permutation(NUM_BATCHES).tolist() for _ in range(2)]
    assert orders[0] != list(range(NUM_BATCHES)) or orders[1] != list(range(NUM_BATCHES))
    assert dataset.requested == orders[0] + orders[1]
    w, b, _ = reference_fit(orders)
    assert_weights(model, w, b)
    dataset.requested.clear()
    model.evaluate(dataset, verbose=0)          # evaluate keeps the index order
    assert dataset.requested == list(range(NUM_BATCHES))


def test_endless_pydataset_needs_steps_and_continues():
    dataset = EndlessBatches(X, Y, batch_size=BATCH)
    model = linear_model()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(dataset, epochs=1, verbose=0)
    model.fit(dataset, epochs=2, steps_per_epoch=4, verbose=0)
    assert dataset.requested == list(range(8))
    w, b, _ = reference_fit([[0, 1, 2, 3], [4, 0, 1, 2]])
    assert_weights(model, w, b)
    with pytest.raises(ValueError, match="steps"):
        model.predict(dataset, verbose=0)


def test_repeated_tf_dataset_needs_steps_and_continues():
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(BATCH).repeat()
    model = linear_model()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(dataset, epochs=1, verbose=0)
    model.fit(dataset, epochs=2, steps_per_epoch=7, verbose=0)
    w, b, _ = reference_fit([[0, 1, 2, 3, 4, 0, 1], [2, 3, 4, 0, 1, 2, 3]])
    assert_weights(model, w, b)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kind", ["generator", "pydataset", "dataloader", "tfdata"])
def test_dataset_objects_reject_batch_size_y_and_validation_split(kind):
    model = linear_model()
    source = make_source(kind, X, Y)
    with pytest.raises(ValueError, match="batch_size must not be given"):
        model.fit(source, batch_size=BATCH, verbose=0)
    with pytest.raises(ValueError, match="do not also pass y"):
        model.fit(source, Y, verbose=0)
    with pytest.raises(ValueError, match="do not also pass sample_weight"):
        model.evaluate(source, sample_weight=SW, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(source, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="batch_size must not be given"):
        model.predict(source, batch_size=4, verbose=0)
    assert_weights(model, W0, B0)   # nothing was trained


def test_unsupported_inputs_are_type_errors():
    model = linear_model()
    with pytest.raises(TypeError, match="wrap it in a torch.utils.data.DataLoader"):
        model.fit(torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), verbose=0)
    with pytest.raises(TypeError, match="x: expected NumPy arrays.*got object"):
        model.fit(object(), Y, verbose=0)
    with pytest.raises(TypeError, match="y: expected NumPy arrays.*got str"):
        model.fit(X, "labels", verbose=0)


def test_pydataset_must_return_batches_of_the_known_forms():
    class FourParts(hl.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return X, Y, SW, SW

    with pytest.raises(ValueError, match="got a tuple of 4 elements"):
        linear_model().fit(FourParts(), verbose=0)


def test_pydataset_without_super_init_warns_and_uses_keras_defaults():
    class NoSuper(hl.utils.PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return NUM_BATCHES

        def __getitem__(self, index):
            rows = batch_rows(index)
            return X[rows], Y[rows]

    model = linear_model()
    with pytest.warns(UserWarning, match="super"):
        model.fit(NoSuper(), epochs=1, shuffle=False, verbose=0)
    w, b, _ = reference_fit([range(NUM_BATCHES)])
    assert_weights(model, w, b)


# --------------------------------------------------------------- conversions


class PremadeTorchBatches(torch.utils.data.Dataset):
    """Whole batches held as tensors (read with ``DataLoader(batch_size=None)``)."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        return self.batches[index]


def test_dataloader_batches_become_backend_tensors_sharing_memory():
    x64 = RNG.normal(size=(4, 5))
    batch = (torch.from_numpy(X[:4].copy()), torch.from_numpy(Y[:4].copy()), torch.from_numpy(x64))
    adapter = get_data_adapter(torch.utils.data.DataLoader(PremadeTorchBatches([batch]), batch_size=None))
    assert adapter.num_batches == 1
    (x, y, sample_weight), = list(adapter.batches())
    for leaf in (x, y, sample_weight):
        assert ops.is_tensor(leaf)
        assert ops.dtype(leaf) == "float32"     # float64 -> float32, as for arrays
    np.testing.assert_array_equal(ops.convert_to_numpy(x), X[:4])
    np.testing.assert_allclose(ops.convert_to_numpy(sample_weight), x64.astype(np.float32))
    if hl.backend.name() == "torch":
        assert x is batch[0]                    # the very tensor the loader yielded
    elif hl.backend.name() == "numpy":
        assert np.shares_memory(x, batch[0].numpy())


def test_tf_dataset_batches_become_backend_tensors():
    dataset = tf.data.Dataset.from_tensor_slices((X.astype(np.float64), Y)).batch(BATCH)
    adapter = get_data_adapter(dataset)
    assert adapter.num_batches == NUM_BATCHES
    batches = list(adapter.batches())
    assert len(batches) == NUM_BATCHES
    x, y = batches[-1]
    assert ops.is_tensor(x) and ops.is_tensor(y)
    assert ops.dtype(x) == "float32"
    np.testing.assert_allclose(ops.convert_to_numpy(x), X[32:], rtol=1e-7)
    filtered = get_data_adapter(dataset.filter(lambda a, b: True))
    assert filtered.num_batches is None          # unknown cardinality: counted while iterating


def test_dict_elements_are_x_for_two_input_models():
    a = hl.Input((5,), name="a")
    b = hl.Input((2,), name="b")
    model = hl.Model([a, b], hl.layers.Dense(3)(hl.layers.Concatenate()([a, b])))
    extra = RNG.normal(size=(len(X), 2)).astype(np.float32)
    expected = model.predict({"a": X, "b": extra}, batch_size=BATCH, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices({"a": X, "b": extra}).batch(BATCH)
    np.testing.assert_allclose(model.predict(dataset, verbose=0), expected, rtol=1e-6)
    loader = torch.utils.data.DataLoader(
        PremadeTorchBatches([{"a": torch.from_numpy(X[rows]), "b": torch.from_numpy(extra[rows])}
                             for rows in map(batch_rows, range(NUM_BATCHES))]), batch_size=None)
    np.testing.assert_allclose(model.predict(loader, verbose=0), expected, rtol=1e-6)


def test_dataset_engines_are_imported_only_when_used():
    script = ("import sys, numpy as np, highlevel as hl\n"
              "sys.path.insert(0, 'tests')\n"
              "from pipeline_sources import ArrayBatches\n"
              "m = hl.Sequential([hl.Input((2,)), hl.layers.Dense(1)]); m.compile('sgd', 'mse')\n"
              "x = np.ones((8, 2), 'float32'); y = np.ones((8, 1), 'float32')\n"
              "m.fit(x, y, verbose=0); m.fit(ArrayBatches(x, y, batch_size=4, workers=2), verbose=0)\n"
              "m.fit(iter([(x, y)]), verbose=0)\n"
              "print(sorted(name for name in ('torch', 'tensorflow') if name in sys.modules))\n")
    env = dict(os.environ, HIGHLEVEL_BACKEND="numpy")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


# ----------------------------------------------------------------- streaming

STREAM_BATCH, STREAM_FEATURES, STREAM_BATCHES = 2048, 1024, 256     # 8 MiB batches, 2 GiB in all
MEMORY_BUDGET = 300 * 2**20


def _status_bytes(key):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/self/status")


def _can_reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")     # resets VmHWM (peak RSS) to the current RSS
        return True
    except OSError:
        return False


class LazyTorchBatches(torch.utils.data.Dataset):
    """Batches made on request (nothing held): batch ``i`` is filled with ``i % 7``."""

    def __len__(self):
        return STREAM_BATCHES

    def __getitem__(self, index):
        x = torch.full((STREAM_BATCH, STREAM_FEATURES), float(index % 7))
        return x, x[:, :1]


def _stream(kind, count):
    shape = (STREAM_BATCH, STREAM_FEATURES)
    if kind == "pydataset":
        return ConstantBatches(count, shape, workers=2, max_queue_size=4)
    if kind == "dataloader":
        return torch.utils.data.DataLoader(torch.utils.data.Subset(LazyTorchBatches(), range(count)),
                                           batch_size=None)

    def fill(index):
        x = tf.fill(shape, tf.cast(index % 7, tf.float32))
        return x, x[:, :1]
    return tf.data.Dataset.range(count).map(fill)


@pytest.mark.skipif(not _can_reset_peak_rss(), reason="needs Linux's /proc/self/clear_refs to measure peak RSS")
@pytest.mark.parametrize("kind", ["pydataset", "dataloader", "tfdata"])
def test_streams_more_data_than_the_memory_budget(kind):
    model = hl.Sequential([hl.Input((STREAM_FEATURES,)), hl.layers.Dense(1)])
    model.compile(optimizer=hl.optimizers.SGD(1e-7), loss="mse")
    model.fit(_stream(kind, 2), epochs=1, verbose=0)     # warm-up: build, compile, first allocations
    total_bytes = STREAM_BATCHES * STREAM_BATCH * STREAM_FEATURES * 4
    assert total_bytes > 2 * 10**9 > 6 * MEMORY_BUDGET
    assert _can_reset_peak_rss()
    baseline = _status_bytes("VmRSS")
    steps = CountSteps()
    model.fit(_stream(kind, STREAM_BATCHES), epochs=1, verbose=0, callbacks=[steps])
    growth = _status_bytes("VmHWM") - baseline
    assert growth < MEMORY_BUDGET, f"peak RSS grew by {growth / 2**20:.0f} MiB while streaming {kind}"
    assert steps.count == STREAM_BATCHES        # it did train on every batch


class CountSteps(hl.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
