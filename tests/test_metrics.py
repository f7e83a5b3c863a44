"""Metrics: streaming updates over several batches against NumPy on the concatenated data.

Also reset_state, sample weights, compiled (traced) updates, get/resolve/config, and
optional comparisons with Keras's classes. Runs on the backend chosen by HIGHLEVEL_BACKEND.
"""

import json

import numpy as np
import pytest

import highlevel as hl
from highlevel import losses, metrics

SPLITS = (5, 7, 4)          # batch sizes of the streamed updates
N = sum(SPLITS)
C = 4                       # classes


def to_np(x):
    return np.asarray(hl.ops.convert_to_numpy(x), dtype=np.float64)


def batches(*arrays):
    """Yield the arrays cut into SPLITS along axis 0 (None stays None)."""
    start = 0
    for size in SPLITS:
        yield tuple(None if a is None else a[start:start + size] for a in arrays)
        start += size


def stream(metric, y_true, y_pred, weights=None):
    for t, p, w in batches(y_true, y_pred, weights):
        metric.update_state(t, p, sample_weight=w)
    return to_np(metric.result())


def weighted_mean(values, weights):
    values = np.asarray(values, np.float64)
    if weights is None:
        return values.mean()
    return (values * weights).sum() / weights.sum()


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    probs = np_softmax(rng.normal(size=(N, C)) * 2).astype(np.float32)
    labels = rng.integers(0, C, N)
    binary_true = rng.integers(0, 2, (N, 1)).astype(np.float32)
    binary_pred = np.clip(binary_true * 0.4 + rng.uniform(0, 0.6, (N, 1)), 0, 1).astype(np.float32)
    return {
        "probs": probs, "labels": labels, "one_hot": np.eye(C, dtype=np.float32)[labels],
        "binary_true": binary_true, "binary_pred": binary_pred,
        "regression_true": rng.normal(size=(N, 3)).astype(np.float32),
        "regression_pred": rng.normal(size=(N, 3)).astype(np.float32),
        "weights": rng.uniform(0, 2, N).astype(np.float32),
        "multi_true": rng.integers(0, 2, (N, C)).astype(np.float32),
        "multi_pred": rng.uniform(size=(N, C)).astype(np.float32),
    }


def top_k_hits(labels, scores, k):
    """TensorFlow's in_top_k: fewer than k classes score strictly higher than the label."""
    target = scores[np.arange(len(labels)), labels]
    return ((scores > target[:, None]).sum(-1) < k).astype(np.float64)


# ------------------------------------------------------------------------ streamed mean-style metrics


@pytest.mark.parametrize("weighted", [False, True])
def test_accuracy_family(data, weighted):
    w = data["weights"] if weighted else None
    probs, labels, one_hot = data["probs"], data["labels"], data["one_hot"]
    bt, bp = data["binary_true"], data["binary_pred"]
    cases = [
        (metrics.BinaryAccuracy(), bt, bp, (bt[:, 0] == (bp[:, 0] > 0.5))),
        (metrics.BinaryAccuracy(threshold=0.7), bt, bp, (bt[:, 0] == (bp[:, 0] > 0.7))),
        (metrics.CategoricalAccuracy(), one_hot, probs, labels == probs.argmax(-1)),
        (metrics.SparseCategoricalAccuracy(), labels, probs, labels == probs.argmax(-1)),
        (metrics.SparseCategoricalAccuracy(), labels[:, None], probs, labels == probs.argmax(-1)),
        (metrics.TopKCategoricalAccuracy(k=2), one_hot, probs, top_k_hits(labels, probs, 2)),
        (metrics.SparseTopKCategoricalAccuracy(k=2), labels, probs, top_k_hits(labels, probs, 2)),
        (metrics.SparseTopKCategoricalAccuracy(k=3), labels[:, None], probs, top_k_hits(labels, probs, 3)),
        (metrics.Accuracy(), labels, probs.argmax(-1), labels == probs.argmax(-1)),
    ]
    for metric, y_true, y_pred, hits in cases:
        got = stream(metric, y_true, y_pred, w)
        np.testing.assert_allclose(got, weighted_mean(hits, w), rtol=1e-6, err_msg=metric.name)


def test_top_k_ties_and_sorted_ids():
    scores = np.array([[0.5, 0.5, 0.5, 0.1], [0.1, 0.2, 0.3, 0.4]], np.float32)
    metric = metrics.SparseTopKCategoricalAccuracy(k=1)
    metric.update_state(np.array([2, 1]), scores)
    assert to_np(metric.result()) == pytest.approx(0.5)   # a tie at the boundary counts as inside
    sorted_ids = np.array([[3, 1, 0], [0, 2, 1]], np.float32)
    metric = metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    metric.update_state(np.array([1, 1]), sorted_ids)
    assert to_np(metric.result()) == pytest.approx(0.5)


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_and_loss_metrics(data, weighted):
    w = data["weights"] if weighted else None
    t, p = data["regression_true"].astype(np.float64), data["regression_pred"].astype(np.float64)
    cases = [
        (metrics.MeanSquaredError(), ((t - p) ** 2).mean(-1)),
        (metrics.MeanAbsoluteError(), np.abs(t - p).mean(-1)),
        (metrics.MeanAbsolutePercentageError(), 100 * np.abs((t - p) / np.maximum(np.abs(t), 1e-7)).mean(-1)),
        (metrics.LogCoshError(), np.log(np.cosh(p - t)).mean(-1)),
        (metrics.CosineSimilarity(), (t * p).sum(-1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1)),
        (metrics.get("huber"), np.where(np.abs(t - p) <= 1, 0.5 * (t - p) ** 2, np.abs(t - p) - 0.5).mean(-1)),
    ]
    for metric, per_sample in cases:
        got = stream(metric, data["regression_true"], data["regression_pred"], w)
        np.testing.assert_allclose(got, weighted_mean(per_sample, w), rtol=1e-5, err_msg=metric.name)
    rmse = stream(metrics.RootMeanSquaredError(), data["regression_true"], data["regression_pred"], w)
    squared = ((t - p) ** 2)
    expected = np.sqrt(squared.mean() if w is None else (squared * w[:, None]).sum() / (w.sum() * 3))
    np.testing.assert_allclose(rmse, expected, rtol=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_crossentropy_metrics(data, weighted):
    w = data["weights"] if weighted else None
    probs, labels = data["probs"].astype(np.float64), data["labels"]
    nll = -np.log(np.clip(probs[np.arange(N), labels], 1e-7, 1 - 1e-7))
    np.testing.assert_allclose(stream(metrics.SparseCategoricalCrossentropy(), labels, data["probs"], w),
                               weighted_mean(nll, w), rtol=1e-5)
    np.testing.assert_allclose(stream(metrics.CategoricalCrossentropy(), data["one_hot"], data["probs"], w),
                               weighted_mean(nll, w), rtol=1e-5)
    bt, bp = data["binary_true"][:, 0], np.clip(data["binary_pred"][:, 0].astype(np.float64), 1e-7, 1 - 1e-7)
    bce = -(bt * np.log(bp) + (1 - bt) * np.log(1 - bp))
    np.testing.assert_allclose(stream(metrics.BinaryCrossentropy(), data["binary_true"], data["binary_pred"], w),
                               weighted_mean(bce, w), rtol=1e-5)
    keep = labels != 0
    ignored = metrics.SparseCategoricalCrossentropy(ignore_class=0)
    expected = weighted_mean(nll[keep], None if w is None else w[keep])
    np.testing.assert_allclose(stream(ignored, labels, data["probs"], w), expected, rtol=1e-5)


def test_mean_and_sum():
    values = np.arange(N, dtype=np.float32).reshape(N, 1) * np.array([[1.0, 2.0]], np.float32)   # (N, 2)
    weights = np.linspace(0, 1, N).astype(np.float32)
    mean, total = metrics.Mean(), metrics.Sum()
    for (v, w) in batches(values, weights):
        mean.update_state(v, sample_weight=w)
        total.update_state(v, sample_weight=w)
    per_sample = values.astype(np.float64).mean(-1)
    expected_mean = (per_sample * weights).sum() / weights.sum()
    np.testing.assert_allclose(to_np(mean.result()), expected_mean, rtol=1e-6)
    np.testing.assert_allclose(to_np(total.result()), (values.sum(-1) * weights).sum(), rtol=1e-6)
    kept = [total.result(), mean.result()]
    total.update_state(100.0)
    mean.update_state(100.0)
    np.testing.assert_allclose([to_np(r) for r in kept], [to_np(total.result()) - 100, expected_mean], rtol=1e-6)
    mean.reset_state()
    assert to_np(mean.result()) == 0.0                 # 0 / 0 -> 0
    mean.update_state(3.0)
    mean.update_state([1.0, 2.0])
    assert to_np(mean.result()) == pytest.approx(2.0)
    assert to_np(mean(5.0)) == pytest.approx(2.75)     # __call__ updates then returns result


# ----------------------------------------------------------------------------------- confusion-based


def np_counts(y_true, y_pred, thresholds, weights=None):
    """(tp, fp, tn, fn) per threshold, flattened over every label."""
    positive = (y_true != 0).reshape(-1).astype(np.float64)
    scores = y_pred.reshape(-1).astype(np.float64)
    w = np.ones_like(scores) if weights is None else np.broadcast_to(
        weights.reshape((-1,) + (1,) * (y_pred.ndim - 1)), y_pred.shape).reshape(-1)
    predicted = scores[None, :] > np.asarray(thresholds, np.float64)[:, None]
    tp = (predicted * positive * w).sum(1)
    fp = (predicted * (1 - positive) * w).sum(1)
    fn = ((~predicted) * positive * w).sum(1)
    tn = ((~predicted) * (1 - positive) * w).sum(1)
    return tp, fp, tn, fn


def ratio(a, b):
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1, b))


@pytest.mark.parametrize("weighted", [False, True])
def test_precision_recall(data, weighted):
    w = data["weights"] if weighted else None
    t, p = data["multi_true"], data["multi_pred"]
    for thresholds in (None, 0.3, [0.2, 0.5, 0.8]):
        tp, fp, _, fn = np_counts(t, p, [0.5] if thresholds is None else np.atleast_1d(thresholds), w)
        precision = stream(metrics.Precision(thresholds=thresholds), t, p, w)
        recall = stream(metrics.Recall(thresholds=thresholds), t, p, w)
        expected_p, expected_r = ratio(tp, tp + fp), ratio(tp, tp + fn)
        if not isinstance(thresholds, list):
            expected_p, expected_r = expected_p[0], expected_r[0]
        np.testing.assert_allclose(precision, expected_p, rtol=1e-6)
        np.testing.assert_allclose(recall, expected_r, rtol=1e-6)
    # class_id scores one column; top_k keeps each sample's k highest predictions.
    tp, fp, _, fn = np_counts(t[:, 2], p[:, 2], [0.5], w)
    np.testing.assert_allclose(stream(metrics.Precision(class_id=2), t, p, w), ratio(tp, tp + fp)[0], rtol=1e-6)
    top = np.argsort(-p, axis=-1, kind="stable")[:, :1]
    kept = np.zeros_like(t)
    np.put_along_axis(kept, top, 1.0, axis=-1)
    tp = (kept * t * (1 if w is None else w[:, None])).sum()
    fn = ((1 - kept) * t * (1 if w is None else w[:, None])).sum()
    np.testing.assert_allclose(stream(metrics.Recall(top_k=1), t, p, w), tp / (tp + fn), rtol=1e-6)


def np_auc(y_true, y_pred, num_thresholds=200, curve="ROC", weights=None):
    """Keras's AUC definition: counts at fixed thresholds, trapezoids (ROC) or interpolated PR."""
    inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    thresholds = [-1e-7] + inner + [1 + 1e-7]
    tp, fp, tn, fn = np_counts(y_true, np.clip(y_pred, 0, 1), thresholds, weights)
    if curve == "ROC":
        x, y = ratio(fp, fp + tn), ratio(tp, tp + fn)
        return np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2)
    # Davis & Goadrich interpolation between consecutive thresholds.
    p = tp + fp
    dtp, dp = tp[:-1] - tp[1:], p[:-1] - p[1:]
    slope = ratio(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    safe = np.where((p[:-1] > 0) & (p[1:] > 0), ratio(p[:-1], np.maximum(p[1:], 0)), 1.0)
    return np.sum(ratio(slope * (dtp + intercept * np.log(safe)), np.maximum(tp[1:] + fn[1:], 0)))


def exact_roc_auc(y_true, scores, weights=None):
    """Probability that a positive outscores a negative (ties count half)."""
    w = np.ones_like(scores) if weights is None else weights
    pos, neg = y_true == 1, y_true == 0
    diff = scores[pos][:, None] - scores[neg][None, :]
    pair_w = w[pos][:, None] * w[neg][None, :]
    return ((diff > 0) * pair_w + 0.5 * (diff == 0) * pair_w).sum() / pair_w.sum()


@pytest.mark.parametrize("weighted", [False, True])
def test_auc(data, weighted):
    w = data["weights"] if weighted else None
    t, p = data["binary_true"], data["binary_pred"]
    roc = stream(metrics.AUC(), t, p, w)
    np.testing.assert_allclose(roc, np_auc(t, p, weights=w), rtol=1e-5)
    assert abs(roc - exact_roc_auc(t[:, 0], p[:, 0].astype(np.float64), w)) < 0.02
    pr = stream(metrics.AUC(curve="PR"), t, p, w)
    np.testing.assert_allclose(pr, np_auc(t, p, curve="PR", weights=w), rtol=1e-5)
    logits = np.log(p / (1 - p + 1e-6) + 1e-6).astype(np.float32)
    from_logits = stream(metrics.AUC(from_logits=True), t, logits, w)
    np.testing.assert_allclose(from_logits, np_auc(t, 1 / (1 + np.exp(-logits.astype(np.float64))), weights=w),
                               rtol=1e-4)
    # Minoring/majoring bracket the interpolated area.
    low = stream(metrics.AUC(summation_method="minoring"), t, p, w)
    high = stream(metrics.AUC(summation_method="majoring"), t, p, w)
    assert low <= roc + 1e-6 <= high + 2e-6


def test_auc_multi_label(data):
    t, p = data["multi_true"], data["multi_pred"]
    metric = metrics.AUC(multi_label=True, num_thresholds=50)
    assert not metric.built
    metric.build(t.shape, p.shape)
    got = stream(metric, t, p)
    expected = np.mean([np_auc(t[:, j], p[:, j], num_thresholds=50) for j in range(C)])
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    weighted = metrics.AUC(multi_label=True, num_labels=C, num_thresholds=50, label_weights=[1, 2, 0, 1])
    got = stream(weighted, t, p)
    per_label = np.array([np_auc(t[:, j], p[:, j], num_thresholds=50) for j in range(C)])
    np.testing.assert_allclose(got, (per_label * [1, 2, 0, 1]).sum() / 4, rtol=1e-5)


def np_f1(y_true, y_pred, average, threshold, weights):
    if threshold is None:
        predicted = ((y_pred >= y_pred.max(-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)).astype(np.float64)
    else:
        predicted = (y_pred > threshold).astype(np.float64)
    w = np.ones((len(y_true), 1)) if weights is None else weights[:, None]
    axis = None if average == "micro" else 0
    tp = (predicted * y_true * w).sum(axis)
    fp = (predicted * (1 - y_true) * w).sum(axis)
    fn = ((1 - predicted) * y_true * w).sum(axis)
    support = (y_true * w).sum(axis)
    precision, recall = tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)
    f1 = 2 * precision * recall / (precision + recall + 1e-7)
    if average == "weighted":
        return (f1 * support / (support.sum() + 1e-7)).sum()
    return f1 if average is None else f1.mean()


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("threshold", [None, 0.5])
def test_f1_score(data, average, threshold):
    w = data["weights"]
    t, p = data["multi_true"], data["multi_pred"]
    metric = metrics.F1Score(average=average, threshold=threshold)
    assert not metric.built and metric.variables == []
    metric.build(t.shape, p.shape)
    assert len(metric.variables) == 4
    np.testing.assert_allclose(stream(metric, t, p, w), np_f1(t, p.astype(np.float64), average, threshold, w),
                               rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="mean")


def test_reset_state_restarts_every_metric(data):
    t, p = data["binary_true"], data["binary_pred"]
    for metric in (metrics.AUC(), metrics.Precision(), metrics.BinaryAccuracy(), metrics.F1Score(),
                   metrics.RootMeanSquaredError(), metrics.Sum()):
        args = (t,) if isinstance(metric, metrics.Sum) else (t, p)
        metric.update_state(*[a[:4] for a in args])
        metric.reset_state()
        assert all(np.all(v.numpy() == 0) for v in metric.variables), metric.name
        metric.update_state(*args)
        fresh = type(metric)()
        fresh.update_state(*args)
        np.testing.assert_allclose(to_np(metric.result()), to_np(fresh.result()), rtol=1e-6, err_msg=metric.name)


def test_state_is_non_trainable_and_named():
    metric = metrics.Precision(name="prec")
    assert [v.path for v in metric.variables] == ["prec/true_positives", "prec/false_positives"]
    assert not any(v.trainable for v in metric.variables)


# ------------------------------------------------------------------------------------- compiled steps


def test_updates_trace_under_compile_function(data):
    t, p, w = data["multi_true"], data["multi_pred"], data["weights"]
    built = [metrics.AUC(), metrics.Precision(thresholds=[0.3, 0.6]), metrics.F1Score(average="macro"),
             metrics.CategoricalAccuracy(), metrics.Mean(), metrics.SparseTopKCategoricalAccuracy(k=2)]
    for m in built:
        m.build(t.shape, p.shape)
    labels = hl.ops.convert_to_tensor(data["labels"])

    def update(y_true, y_pred, weights, sparse):
        for m in built[:4]:
            m.update_state(y_true, y_pred, sample_weight=weights)
        built[4].update_state(hl.ops.sum(y_pred, axis=-1), sample_weight=weights)
        built[5].update_state(sparse, y_pred, sample_weight=weights)
        return 0.0

    step = hl.ops.compile_function(update)
    for _ in range(2):        # the same shapes twice: the second call reuses the trace
        step(hl.ops.convert_to_tensor(t), hl.ops.convert_to_tensor(p), hl.ops.convert_to_tensor(w), labels)
    eager = [metrics.AUC(), metrics.Precision(thresholds=[0.3, 0.6]), metrics.F1Score(average="macro"),
             metrics.CategoricalAccuracy(), metrics.Mean(), metrics.SparseTopKCategoricalAccuracy(k=2)]
    for _ in range(2):
        for m in eager[:4]:
            m.update_state(t, p, sample_weight=w)
        eager[4].update_state(p.sum(-1), sample_weight=w)
        eager[5].update_state(data["labels"], p, sample_weight=w)
    for a, b in zip(built, eager):
        np.testing.assert_allclose(to_np(a.result()), to_np(b.result()), rtol=1e-5, err_msg=a.name)
    np.testing.assert_allclose(to_np(built[4].result()), weighted_mean(p.sum(-1), w), rtol=1e-5)


# ------------------------------------------------------------------------------ get / resolve / config


def test_get():
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("binary_accuracy"), metrics.BinaryAccuracy)
    assert isinstance(metrics.get("AUC"), metrics.AUC) and isinstance(metrics.get("auc"), metrics.AUC)
    assert isinstance(metrics.get("f1_score"), metrics.F1Score)
    assert isinstance(metrics.get("accuracy"), metrics.Accuracy)
    assert isinstance(metrics.get("kld"), metrics.KLDivergence)
    assert metrics.get("log_cosh")._fn is losses.log_cosh
    assert metrics.get(None) is None
    m = metrics.Recall()
    assert metrics.get(m) is m

    def fraction_positive(y_true, y_pred):
        return hl.ops.cast(hl.ops.greater(y_pred, 0.0), "float32")

    wrapped = metrics.get(fraction_positive)
    wrapped.update_state([0.0, 0.0, 0.0], [1.0, -1.0, 2.0])
    assert wrapped.name == "fraction_positive" and to_np(wrapped.result()) == pytest.approx(2 / 3)
    with pytest.raises(ValueError) as error:
        metrics.get("acuracy")
    assert "binary_accuracy" in str(error.value)


RESOLVE_TABLE = [
    # identifier, loss, output_shape, y_true_shape -> class
    ("accuracy", "binary_crossentropy", (None, 1), None, metrics.BinaryAccuracy),
    ("accuracy", losses.BinaryCrossentropy(from_logits=True), (None, 5), None, metrics.BinaryAccuracy),
    ("acc", "categorical_crossentropy", (None, 10), None, metrics.CategoricalAccuracy),
    ("accuracy", losses.CategoricalCrossentropy(), (None, 10), None, metrics.CategoricalAccuracy),
    ("accuracy", "sparse_categorical_crossentropy", (None, 10), None, metrics.SparseCategoricalAccuracy),
    ("Accuracy", losses.SparseCategoricalCrossentropy, (None, 10), None, metrics.SparseCategoricalAccuracy),
    ("accuracy", losses.get(losses.sparse_categorical_crossentropy), (None, 10), None,
     metrics.SparseCategoricalAccuracy),
    ("accuracy", losses.sparse_categorical_crossentropy, (None, 10), None, metrics.SparseCategoricalAccuracy),
    ("accuracy", "mse", (None, 1), None, metrics.BinaryAccuracy),
    ("accuracy", None, (None, 3), (None,), metrics.SparseCategoricalAccuracy),
    ("accuracy", None, (None, 3), (None, 1), metrics.SparseCategoricalAccuracy),
    ("accuracy", None, (None, 3), (None, 3), metrics.CategoricalAccuracy),
    ("accuracy", "hinge", (None, 3), None, metrics.CategoricalAccuracy),
    ("crossentropy", "binary_crossentropy", (None, 1), None, metrics.BinaryCrossentropy),
    ("ce", None, (None, 4), (None,), metrics.SparseCategoricalCrossentropy),
    ("ce", "categorical_crossentropy", (None, 4), None, metrics.CategoricalCrossentropy),
    ("mse", None, None, None, metrics.MeanSquaredError),
    ("auc", "binary_crossentropy", (None, 1), None, metrics.AUC),
]


@pytest.mark.parametrize("identifier,loss,output_shape,y_true_shape,expected", RESOLVE_TABLE)
def test_resolve_table(identifier, loss, output_shape, y_true_shape, expected):
    metric = metrics.resolve(identifier, loss=loss, output_shape=output_shape, y_true_shape=y_true_shape)
    assert type(metric) is expected
    assert metric.name == identifier


def test_resolve_crossentropy_follows_from_logits():
    metric = metrics.resolve("ce", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    assert isinstance(metric, metrics.SparseCategoricalCrossentropy) and metric.from_logits
    instance = metrics.AUC()
    assert metrics.resolve(instance) is instance


CONFIG_CASES = [
    metrics.Mean(name="avg"), metrics.Sum(), metrics.Accuracy(), metrics.BinaryAccuracy(threshold=0.3),
    metrics.CategoricalAccuracy(), metrics.SparseCategoricalAccuracy(), metrics.TopKCategoricalAccuracy(k=3),
    metrics.SparseTopKCategoricalAccuracy(k=2), metrics.Precision(thresholds=[0.2, 0.4], class_id=1),
    metrics.Recall(top_k=2), metrics.AUC(num_thresholds=50, curve="PR", multi_label=True, num_labels=3),
    metrics.AUC(thresholds=[0.1, 0.5, 0.9], label_weights=[1.0]), metrics.F1Score(average="macro", threshold=0.4),
    metrics.FBetaScore(beta=2.0), metrics.MeanSquaredError(), metrics.MeanAbsoluteError(),
    metrics.MeanAbsolutePercentageError(), metrics.RootMeanSquaredError(), metrics.LogCoshError(),
    metrics.CosineSimilarity(axis=1), metrics.BinaryCrossentropy(from_logits=True),
    metrics.CategoricalCrossentropy(label_smoothing=0.1), metrics.SparseCategoricalCrossentropy(ignore_class=0),
    metrics.KLDivergence(), metrics.Hinge(), metrics.MeanMetricWrapper(losses.huber, delta=2.0),
]


@pytest.mark.parametrize("metric", CONFIG_CASES, ids=lambda m: type(m).__name__)
def test_config_round_trip(metric):
    config = metric.get_config()
    clone = type(metric).from_config(config)
    assert clone.get_config() == config
    restored = metrics.deserialize(json.loads(json.dumps(metrics.serialize(metric))))
    assert type(restored) is type(metric) and restored.get_config() == config


# --------------------------------------------------------------------------------------- against Keras

KERAS_CASES = [
    ("AUC", {}, "binary"), ("AUC", {"curve": "PR"}, "binary"), ("AUC", {"num_thresholds": 20}, "binary"),
    ("AUC", {"multi_label": True, "num_thresholds": 30}, "multi"), ("Precision", {"thresholds": [0.3, 0.7]}, "multi"),
    ("Recall", {"top_k": 2}, "multi"), ("Precision", {"class_id": 1}, "multi"), ("F1Score", {"average": "weighted"},
                                                                                 "multi"),
    ("BinaryAccuracy", {}, "binary"), ("TopKCategoricalAccuracy", {"k": 2}, "one_hot"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"), ("SparseCategoricalAccuracy", {}, "sparse"),
    ("RootMeanSquaredError", {}, "regression"), ("CosineSimilarity", {}, "regression"),
]


@pytest.mark.parametrize("class_name,kwargs,kind", KERAS_CASES, ids=[f"{c}-{k}" for c, k, _ in KERAS_CASES])
def test_matches_keras(data, class_name, kwargs, kind):
    keras = pytest.importorskip("keras")
    y_true, y_pred = {
        "binary": (data["binary_true"], data["binary_pred"]), "multi": (data["multi_true"], data["multi_pred"]),
        "one_hot": (data["one_hot"], data["probs"]), "sparse": (data["labels"], data["probs"]),
        "regression": (data["regression_true"], data["regression_pred"]),
    }[kind]
    ours, theirs = getattr(metrics, class_name)(**kwargs), getattr(keras.metrics, class_name)(**kwargs)
    for t, p, w in batches(y_true, y_pred, data["weights"]):
        ours.update_state(t, p, sample_weight=w)
        theirs.update_state(t, p, sample_weight=w)
    np.testing.assert_allclose(to_np(ours.result()), np.asarray(theirs.result(), np.float64), rtol=1e-5, atol=1e-6)
