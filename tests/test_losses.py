"""Losses against closed-form NumPy (float64), finite-difference gradients and Keras's classes.

Runs on the backend chosen by HIGHLEVEL_BACKEND.
"""

import math

import numpy as np
import pytest

import highlevel as hl
from highlevel import losses

EPS = 1e-7
REDUCTIONS = ["sum_over_batch_size", "mean", "sum", "none", None, "mean_with_sample_weight"]


def to_np(x):
    return np.asarray(hl.ops.convert_to_numpy(x), dtype=np.float64)


# ----------------------------------------------------------------------------- NumPy references (float64)


def np_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_bce(t, p, from_logits=False, label_smoothing=0.0, axis=-1):
    t = t * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        e = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
    else:
        p = np.clip(p, EPS, 1 - EPS)
        e = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return e.mean(axis=axis)


def np_cce(t, p, from_logits=False, label_smoothing=0.0, axis=-1):
    t = t * (1 - label_smoothing) + label_smoothing / t.shape[axis]
    if from_logits:
        log_p = p - p.max(axis=axis, keepdims=True)
        log_p = log_p - np.log(np.exp(log_p).sum(axis=axis, keepdims=True))
    else:
        log_p = np.log(np.clip(p / p.sum(axis=axis, keepdims=True), EPS, 1 - EPS))
    return -(t * log_p).sum(axis=axis)


def np_scce(labels, p, from_logits=False):
    one_hot = np.eye(p.shape[-1])[labels.astype(int)]
    return np_cce(one_hot, p, from_logits)


def np_huber(t, p, delta=1.0):
    e = np.abs(p - t)
    return np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2).mean(-1)


def np_cosine(t, p, axis=-1):
    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), EPS)
    return -(unit(t) * unit(p)).sum(axis=axis)


def np_kld(t, p):
    t, p = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
    return (t * np.log(t / p)).sum(-1)


def np_hinge(t, p):
    if np.all((t == 0) | (t == 1)):
        t = 2 * t - 1
    return np.maximum(1 - t * p, 0).mean(-1)


REFERENCES = {
    "mse": lambda t, p: ((t - p) ** 2).mean(-1),
    "mae": lambda t, p: np.abs(t - p).mean(-1),
    "mape": lambda t, p: 100 * np.abs((t - p) / np.maximum(np.abs(t), EPS)).mean(-1),
    "huber": np_huber,
    "log_cosh": lambda t, p: np.log(np.cosh(p - t)).mean(-1),
    "cosine_similarity": np_cosine,
    "binary_crossentropy": np_bce,
    "categorical_crossentropy": np_cce,
    "sparse_categorical_crossentropy": np_scce,
    "kld": np_kld,
    "hinge": np_hinge,
}


def make_data(name, rng, batch=6, classes=4):
    """(y_true, y_pred) float32 arrays suited to loss ``name``."""
    f = np.float32
    if name in ("mse", "mae", "huber", "log_cosh", "cosine_similarity"):
        return rng.normal(size=(batch, classes)).astype(f), (2 * rng.normal(size=(batch, classes))).astype(f)
    if name == "mape":
        t = rng.uniform(0.5, 2.0, (batch, classes)) * rng.choice([-1, 1], (batch, classes))
        return t.astype(f), rng.normal(size=(batch, classes)).astype(f)
    if name == "binary_crossentropy":
        return rng.integers(0, 2, (batch, classes)).astype(f), rng.uniform(0.01, 0.99, (batch, classes)).astype(f)
    if name in ("categorical_crossentropy", "kld"):
        t = np.eye(classes)[rng.integers(0, classes, batch)] if name != "kld" else \
            np_softmax(rng.normal(size=(batch, classes)))
        return t.astype(f), np_softmax(rng.normal(size=(batch, classes))).astype(f)
    if name == "sparse_categorical_crossentropy":
        return rng.integers(0, classes, batch).astype(f), np_softmax(rng.normal(size=(batch, classes))).astype(f)
    if name == "hinge":
        return rng.choice([-1.0, 1.0], (batch, classes)).astype(f), rng.normal(size=(batch, classes)).astype(f)
    raise KeyError(name)


def np_reduce(values, weights, reduction):
    """Weight per-sample values (weights get trailing axes) and reduce, in float64."""
    if weights is None:
        weighted, w = values, np.ones_like(values)
    else:
        w = np.asarray(weights, np.float64)
        if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
            w = w[..., 0]
        w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
        weighted = values * w
        w = np.broadcast_to(w, values.shape)
    if reduction in (None, "none"):
        return weighted
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean_with_sample_weight" and weights is not None:
        return weighted.sum() / w.sum()
    return weighted.sum() / weighted.size


# ------------------------------------------------------------------------------------------- values


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_matches_numpy(name, reduction, weighted):
    rng = np.random.default_rng(abs(hash((name, str(reduction), weighted))) % 2**32)
    y_true, y_pred = make_data(name, rng)
    weights = rng.uniform(0, 2, len(y_true)).astype(np.float32) if weighted else None
    loss = losses.get(name)
    loss.reduction = reduction
    got = to_np(loss(y_true, y_pred, sample_weight=weights))
    expected = np_reduce(REFERENCES[name](y_true.astype(np.float64), y_pred.astype(np.float64)), weights, reduction)
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_function_form_is_per_sample(name):
    rng = np.random.default_rng(1)
    y_true, y_pred = make_data(name, rng)
    function_name = {"mse": "mean_squared_error", "mae": "mean_absolute_error",
                     "mape": "mean_absolute_percentage_error", "kld": "kl_divergence"}.get(name, name)
    fn = getattr(losses, function_name)
    got = to_np(fn(y_true, y_pred))
    assert got.shape == (len(y_true),)
    np.testing.assert_allclose(got, REFERENCES[name](y_true.astype(np.float64), y_pred.astype(np.float64)),
                               rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("from_logits", [False, True])
def test_crossentropy_options(smoothing, from_logits):
    rng = np.random.default_rng(2)
    logits = (3 * rng.normal(size=(5, 3))).astype(np.float32)
    probs = np_softmax(logits).astype(np.float32)
    y_pred = logits if from_logits else probs
    one_hot = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    got = to_np(losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=smoothing)(one_hot, y_pred))
    np.testing.assert_allclose(got, np_cce(one_hot, y_pred.astype(np.float64), from_logits, smoothing).mean(),
                               rtol=1e-5)
    binary = rng.integers(0, 2, (5, 3)).astype(np.float32)
    y_pred = logits if from_logits else (1 / (1 + np.exp(-logits))).astype(np.float32)
    got = to_np(losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=smoothing)(binary, y_pred))
    np.testing.assert_allclose(got, np_bce(binary, y_pred.astype(np.float64), from_logits, smoothing).mean(),
                               rtol=1e-5)
    labels = rng.integers(0, 3, 5)
    got = to_np(losses.SparseCategoricalCrossentropy(from_logits=from_logits)(labels, logits if from_logits else probs))
    np.testing.assert_allclose(got, np_scce(labels, (logits if from_logits else probs).astype(np.float64),
                                            from_logits).mean(), rtol=1e-5)


def test_crossentropy_from_logits_is_stable_for_large_logits():
    logits = np.array([[200.0, -200.0, 0.0], [-300.0, 300.0, 1.0]], np.float32)
    labels = np.array([1, 0])
    got = to_np(losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(labels, logits))
    np.testing.assert_allclose(got, [400.0, 600.0], rtol=1e-6)
    got = to_np(losses.BinaryCrossentropy(from_logits=True, reduction="none")([[0.0], [1.0]], [[500.0], [-500.0]]))
    np.testing.assert_allclose(got, [500.0, 500.0], rtol=1e-6)


def test_categorical_crossentropy_axis():
    rng = np.random.default_rng(3)
    y_pred = np_softmax(rng.normal(size=(4, 3, 2)), axis=1).astype(np.float32)
    y_true = np.eye(3, dtype=np.float32)[rng.integers(0, 3, (4, 2))].transpose(0, 2, 1)
    got = to_np(losses.CategoricalCrossentropy(axis=1, reduction="none")(y_true, y_pred))
    np.testing.assert_allclose(got, np_cce(y_true, y_pred.astype(np.float64), axis=1), rtol=1e-5)


def test_rank_alignment_and_label_shapes():
    # (batch,) labels against (batch, 1) predictions, and sparse labels of shape (batch, 1).
    y_true = np.array([0.0, 1.0, 1.0, 0.0], np.float32)
    y_pred = np.array([[0.2], [0.7], [0.9], [0.4]], np.float32)
    got = to_np(losses.BinaryCrossentropy()(y_true, y_pred))
    np.testing.assert_allclose(got, np_bce(y_true[:, None], y_pred.astype(np.float64)).mean(), rtol=1e-6)
    got = to_np(losses.MeanSquaredError(reduction="none")(y_true, y_pred))
    np.testing.assert_allclose(got, (y_true - y_pred[:, 0]) ** 2, rtol=1e-6)
    probs = np_softmax(np.random.default_rng(4).normal(size=(4, 3))).astype(np.float32)
    labels = np.array([[0], [2], [1], [2]])
    np.testing.assert_allclose(to_np(losses.SparseCategoricalCrossentropy()(labels, probs)),
                               np_scce(labels[:, 0], probs.astype(np.float64)).mean(), rtol=1e-5)


def test_sample_weight_shapes():
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.normal(size=(4, 3, 2)).astype(np.float32), rng.normal(size=(4, 3, 2)).astype(np.float32)
    values = ((y_true - y_pred) ** 2).mean(-1).astype(np.float64)      # (4, 3)
    mse = losses.MeanSquaredError()
    per_sample = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    # (batch,) weights every step of the sample; (batch, 1) the same; (batch, steps) each value.
    for weights in (per_sample, per_sample[:, None]):
        np.testing.assert_allclose(to_np(mse(y_true, y_pred, sample_weight=weights)),
                                   (values * per_sample[:, None]).sum() / values.size, rtol=1e-5)
    full = rng.uniform(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(to_np(mse(y_true, y_pred, sample_weight=full)), (values * full).sum() / values.size,
                               rtol=1e-5)
    scalar = to_np(mse(y_true, y_pred, sample_weight=2.0))
    np.testing.assert_allclose(scalar, 2 * values.mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="sample_weight"):
        mse(y_true, y_pred, sample_weight=np.ones((3,), np.float32))


def test_sparse_ignore_class_averages_over_kept_entries():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    labels = np.array([0, -1, 3, 2, -1, 1])
    keep = labels != -1
    per = np_scce(np.where(keep, labels, 0), logits.astype(np.float64), from_logits=True) * keep
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(to_np(loss(labels, logits)), per.sum() / keep.sum(), rtol=1e-5)
    np.testing.assert_allclose(to_np(losses.sparse_categorical_crossentropy(labels, logits, True, ignore_class=-1)),
                               per, rtol=1e-5)
    loss.reduction = "sum"
    np.testing.assert_allclose(to_np(loss(labels, logits)), per.sum(), rtol=1e-5)
    weights = rng.uniform(size=6).astype(np.float32)
    loss.reduction = "sum_over_batch_size"
    np.testing.assert_allclose(to_np(loss(labels, logits, sample_weight=weights)),
                               (per * weights).sum() / keep.sum(), rtol=1e-5)


def test_sparse_labels_out_of_range_raise():
    probs = np.full((2, 3), 1 / 3, np.float32)
    with pytest.raises(ValueError, match="0, 3"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 3]), probs)
    with pytest.raises(ValueError):
        losses.SparseCategoricalCrossentropy()(np.array([-1, 0]), probs)


def test_hinge_keeps_non_binary_labels():
    y_pred = np.array([[0.3, -0.8], [1.5, 0.2]], np.float32)
    binary = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    signed = 2 * binary - 1
    np.testing.assert_allclose(to_np(losses.hinge(binary, y_pred)), np_hinge(signed, y_pred), rtol=1e-6)
    np.testing.assert_allclose(to_np(losses.hinge(signed, y_pred)), np_hinge(signed, y_pred), rtol=1e-6)


def test_huber_delta_and_zero_vectors_in_cosine():
    rng = np.random.default_rng(7)
    y_true, y_pred = rng.normal(size=(5, 3)).astype(np.float32), (3 * rng.normal(size=(5, 3))).astype(np.float32)
    np.testing.assert_allclose(to_np(losses.Huber(delta=2.5)(y_true, y_pred)), np_huber(y_true, y_pred, 2.5).mean(),
                               rtol=1e-5)
    zeros = np.zeros((2, 3), np.float32)
    np.testing.assert_allclose(to_np(losses.cosine_similarity(zeros, y_pred[:2])), [0.0, 0.0], atol=1e-7)


def test_empty_batch_and_scalar_values():
    empty = np.zeros((0, 3), np.float32)
    assert to_np(losses.MeanSquaredError()(empty, empty)) == 0.0
    assert to_np(losses.MeanSquaredError(reduction="sum")(empty, empty)) == 0.0


# ---------------------------------------------------------------------------------------- gradients


def _finite_difference(fn, x, h=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (fn(up) - fn(down)) / (2 * h)
    return grad


GRADIENT_CASES = [
    ("mse", {}), ("mae", {}), ("huber", {}), ("log_cosh", {}), ("cosine_similarity", {}), ("kld", {}),
    ("hinge", {}), ("binary_crossentropy", {"from_logits": True}), ("categorical_crossentropy", {"from_logits": True}),
    ("sparse_categorical_crossentropy", {"from_logits": True}), ("categorical_crossentropy", {}),
    ("binary_crossentropy", {"label_smoothing": 0.2}),
]


@pytest.mark.parametrize("name,kwargs", GRADIENT_CASES, ids=[f"{n}-{k}" for n, k in GRADIENT_CASES])
def test_gradient_matches_finite_differences(name, kwargs):
    rng = np.random.default_rng(8)
    y_true, y_pred = make_data(name, rng, batch=3, classes=3)
    if kwargs.get("from_logits"):
        y_pred = rng.normal(size=y_pred.shape).astype(np.float32)
    weights = np.array([1.0, 0.5, 2.0], np.float32)
    loss = type(losses.get(name))(**kwargs)
    variable = hl.Variable(y_pred)
    _, grads = hl.ops.value_and_grad(lambda: loss(y_true, variable, sample_weight=weights), [variable])
    reference = REFERENCES[name]

    def np_loss(p):
        return np_reduce(reference(y_true.astype(np.float64), p, **kwargs), weights, "sum_over_batch_size")

    expected = _finite_difference(np_loss, y_pred.astype(np.float64))
    np.testing.assert_allclose(to_np(grads[0]), expected, rtol=2e-3, atol=2e-5)


# ----------------------------------------------------------------------------------- compiled steps


def test_losses_trace_under_compile_function():
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 1])
    weights = np.array([1.0, 0.0, 2.0, 1.0], np.float32)
    scce = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2)
    hinge = losses.Hinge()
    binary = (rng.uniform(size=(4, 3)) > 0.5).astype(np.float32)
    step = hl.ops.compile_function(lambda t, p, w, b: (scce(t, p, sample_weight=w), hinge(b, p)))
    for _ in range(2):
        got_scce, got_hinge = step(hl.ops.convert_to_tensor(labels), hl.ops.convert_to_tensor(logits),
                                   hl.ops.convert_to_tensor(weights), hl.ops.convert_to_tensor(binary))
        keep = labels != 2
        per = np_scce(np.where(keep, labels, 0), logits.astype(np.float64), True) * keep * weights
        np.testing.assert_allclose(to_np(got_scce), per.sum() / keep.sum(), rtol=1e-5)
        np.testing.assert_allclose(to_np(got_hinge),
                                   np_hinge(binary.astype(np.float64), logits.astype(np.float64)).mean(), rtol=1e-5)


# ------------------------------------------------------------------------ get / config / serialization


def test_get_names_instances_functions():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    assert isinstance(losses.get("logcosh"), losses.LogCosh)
    assert isinstance(losses.get("kld"), losses.KLDivergence)
    assert losses.get(None) is None
    instance = losses.Huber(delta=2.0)
    assert losses.get(instance) is instance
    assert isinstance(losses.get(losses.Hinge), losses.Hinge)

    def my_loss(y_true, y_pred):
        return hl.ops.sum(hl.ops.abs(hl.ops.subtract(y_true, y_pred)), axis=-1)

    wrapped = losses.get(my_loss)
    assert isinstance(wrapped, losses.Loss) and wrapped.name == "my_loss"
    got = to_np(wrapped(np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32), sample_weight=[1.0, 0.0]))
    assert got == pytest.approx(1.5)
    with pytest.raises(ValueError) as error:
        losses.get("mean_sqared_error")
    assert "mean_squared_error" in str(error.value) and "sparse_categorical_crossentropy" in str(error.value)
    with pytest.raises(ValueError):
        losses.get(42)
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")


CONFIG_CASES = [
    losses.MeanSquaredError(reduction="sum"), losses.MeanAbsoluteError(name="l1"), losses.MeanAbsolutePercentageError(),
    losses.Huber(delta=0.5), losses.LogCosh(), losses.CosineSimilarity(axis=1),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    losses.CategoricalCrossentropy(label_smoothing=0.2, reduction="none"),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0), losses.KLDivergence(), losses.Hinge(),
]


@pytest.mark.parametrize("loss", CONFIG_CASES, ids=lambda loss: type(loss).__name__)
def test_config_round_trip(loss):
    clone = type(loss).from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    restored = losses.deserialize(losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
    import json
    json.dumps(losses.serialize(loss))


def test_wrapped_function_serialization_needs_registration():
    def unregistered(y_true, y_pred):
        return hl.ops.mean(y_pred, axis=-1)

    with pytest.raises(ValueError, match="register"):
        losses.serialize(losses.get(unregistered))
    wrapped = losses.LossFunctionWrapper(losses.huber, delta=3.0)
    restored = losses.deserialize(losses.serialize(wrapped))
    assert restored.fn is losses.huber and restored.get_config() == wrapped.get_config()


def test_resolve_crossentropy_by_shape():
    assert isinstance(losses.resolve("crossentropy", (8, 1), (8, 1)), losses.BinaryCrossentropy)
    assert isinstance(losses.resolve("ce", (8,), (8, 5)), losses.SparseCategoricalCrossentropy)
    assert isinstance(losses.resolve("CE", (8, 5), (8, 5)), losses.CategoricalCrossentropy)
    assert isinstance(losses.resolve("mse"), losses.MeanSquaredError)


# ------------------------------------------------------------------------------------ against Keras

KERAS_CASES = [
    ("MeanSquaredError", "mse", {}), ("MeanAbsoluteError", "mae", {}), ("MeanAbsolutePercentageError", "mape", {}),
    ("Huber", "huber", {"delta": 0.7}), ("LogCosh", "log_cosh", {}), ("CosineSimilarity", "cosine_similarity", {}),
    ("BinaryCrossentropy", "binary_crossentropy", {"label_smoothing": 0.2}),
    ("CategoricalCrossentropy", "categorical_crossentropy", {"label_smoothing": 0.1}),
    ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", {}),
    ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", {"ignore_class": 1}),
    ("KLDivergence", "kld", {}), ("Hinge", "hinge", {}),
]


@pytest.mark.parametrize("class_name,data,kwargs", KERAS_CASES, ids=[f"{c}-{k}" for c, _, k in KERAS_CASES])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none", "mean_with_sample_weight"])
def test_matches_keras(class_name, data, kwargs, reduction):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(10)
    y_true, y_pred = make_data(data, rng, batch=6, classes=4)
    weights = rng.uniform(0, 2, 6).astype(np.float32)
    ours = getattr(losses, class_name)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, class_name)(reduction=reduction, **kwargs)
    for w in (None, weights):
        expected = np.asarray(theirs(y_true, y_pred, sample_weight=w), np.float64)
        np.testing.assert_allclose(to_np(ours(y_true, y_pred, sample_weight=w)), expected, rtol=1e-5, atol=1e-6)
    assert math.isfinite(float(np.sum(to_np(ours(y_true, y_pred)))))
