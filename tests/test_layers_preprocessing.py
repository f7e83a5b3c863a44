"""Preprocessing layers against NumPy computations and Keras 3.

Rescaling, Normalization (adapt on arrays and batches, invert, gradients), Resizing and
CenterCrop (vs TensorFlow's resize rule via keras), Discretization, CategoryEncoding,
Hashing (stable values), IntegerLookup / StringLookup / TextVectorization (vocabularies,
indices and encodings vs Keras), configs, functional shapes, errors, and a model that
trains with fit.
"""

import hashlib

import numpy as np
import pytest

import highlevel as hl
from highlevel.layers import (CategoryEncoding, CenterCrop, Dense, Discretization, Hashing, Input, IntegerLookup,
                              Normalization, Rescaling, Resizing, StringLookup, TextVectorization)


def to_numpy(x):
    return np.asarray(hl.ops.convert_to_numpy(x))


def keras():
    return pytest.importorskip("keras")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ------------------------------------------------------------------ numeric layers


def test_rescaling(rng):
    x = rng.uniform(0, 255, size=(3, 4, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(Rescaling(1 / 127.5, -1)(x)), x / 127.5 - 1, rtol=1e-6, atol=1e-6)
    scale = np.array([0.5, 2.0], np.float32)
    np.testing.assert_allclose(to_numpy(Rescaling(scale)(x)), x * scale, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(Rescaling(0.1, 2.0)(x.astype(np.uint8))),
                               np.asarray(keras().layers.Rescaling(0.1, 2.0)(x.astype(np.uint8))), rtol=1e-6)


@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
def test_normalization_adapt_matches_numpy_and_keras(rng, axis):
    x = rng.normal(3.0, 2.0, size=(20, 4, 3)).astype(np.float32)
    layer = Normalization(axis=axis)
    layer.adapt([x[:7], x[7:]])  # batches: the pairwise update must equal the one-shot moments
    keep = () if axis is None else tuple(a % 3 for a in ((axis,) if isinstance(axis, int) else axis))
    reduce = tuple(a for a in range(3) if a not in keep)
    mean, var = x.astype(np.float64).mean(reduce, keepdims=True), x.astype(np.float64).var(reduce, keepdims=True)
    np.testing.assert_allclose(to_numpy(layer(x)), (x - mean) / np.sqrt(var), rtol=1e-4, atol=1e-4)
    theirs = keras().layers.Normalization(axis=axis)
    theirs.adapt(x)
    np.testing.assert_allclose(to_numpy(layer(x)), np.asarray(theirs(x)), rtol=1e-4, atol=1e-4)
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
    copy = Normalization(axis=axis)
    copy.build(x.shape)
    copy.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(copy(x)), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


def test_normalization_given_stats_invert_and_gradient(rng):
    x = rng.normal(size=(5, 3)).astype(np.float32)
    mean, var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1.0])
    layer = Normalization(mean=mean, variance=var)
    y = to_numpy(layer(x))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(Normalization(mean=mean, variance=var, invert=True)(y)), x, rtol=1e-5,
                               atol=1e-5)
    v = hl.ops.Variable(x)
    _, (grad,) = hl.ops.value_and_grad(lambda: hl.ops.sum(layer(v.value)), [v])
    np.testing.assert_allclose(to_numpy(grad), np.broadcast_to(1 / np.sqrt(var), x.shape), rtol=1e-5)
    assert layer.weights == []


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("aspect", [None, "crop", "pad"])
def test_resizing_matches_keras(rng, interpolation, aspect):
    x = rng.uniform(0, 1, size=(2, 7, 12, 3)).astype(np.float32)
    kwargs = dict(interpolation=interpolation, crop_to_aspect_ratio=aspect == "crop",
                  pad_to_aspect_ratio=aspect == "pad", fill_value=0.5)
    for size in [(5, 5), (10, 6)]:
        ours = to_numpy(Resizing(*size, **kwargs)(x))
        theirs = np.asarray(keras().layers.Resizing(*size, **kwargs)(x))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_resizing_bilinear_matches_numpy_and_has_gradients(rng):
    x = rng.normal(size=(1, 2, 3, 1)).astype(np.float32)
    # Upsampling 2 -> 4 rows: half-pixel sources -0.25, 0.25, 0.75, 1.25 (clamped at the ends).
    rows = np.array([[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])
    cols = np.eye(3)
    expected = np.einsum("ih,jw,hw->ij", rows, cols, x[0, :, :, 0])
    np.testing.assert_allclose(to_numpy(Resizing(4, 3)(x))[0, :, :, 0], expected, rtol=1e-6, atol=1e-6)
    v = hl.ops.Variable(x)
    w = rng.normal(size=(1, 4, 3, 1)).astype(np.float32)
    _, (grad,) = hl.ops.value_and_grad(lambda: hl.ops.sum(hl.ops.multiply(Resizing(4, 3)(v.value), w)), [v])
    np.testing.assert_allclose(to_numpy(grad)[0, :, :, 0], rows.T @ w[0, :, :, 0] @ cols, rtol=1e-5, atol=1e-6)


def test_center_crop_matches_numpy_and_keras(rng):
    x = rng.uniform(size=(2, 9, 10, 3)).astype(np.float32)
    np.testing.assert_array_equal(to_numpy(CenterCrop(5, 4)(x)), x[:, 2:7, 3:7])
    np.testing.assert_array_equal(to_numpy(CenterCrop(5, 4)(x[0])), x[0, 2:7, 3:7])
    for size in [(5, 4), (12, 6), (4, 14)]:  # smaller: crop to aspect ratio, then resize
        np.testing.assert_allclose(to_numpy(CenterCrop(*size)(x)), np.asarray(keras().layers.CenterCrop(*size)(x)),
                                   rtol=1e-5, atol=1e-5)


def test_discretization(rng):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    bounds = [-0.5, 0.0, 0.7]
    out = to_numpy(Discretization(bounds)(x))
    np.testing.assert_array_equal(out, np.digitize(x, bounds))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, np.asarray(keras().layers.Discretization(bounds)(x)))
    hot = to_numpy(Discretization(bounds, output_mode="multi_hot")(x))
    np.testing.assert_array_equal(hot, np.stack([np.isin(np.arange(4), r) for r in np.digitize(x, bounds)]))
    data = np.arange(100.0)
    ours, theirs = Discretization(num_bins=4), keras().layers.Discretization(num_bins=4)
    ours.adapt(data)
    theirs.adapt(data)
    np.testing.assert_allclose(ours.bin_boundaries, theirs.bin_boundaries, atol=1e-3)


def test_category_encoding(rng):
    x = np.array([[0, 1, 1, 3], [2, 2, 2, 0]])
    for mode in ("multi_hot", "count"):
        ours = to_numpy(CategoryEncoding(5, mode)(x))
        np.testing.assert_array_equal(ours, np.asarray(keras().layers.CategoryEncoding(5, mode)(x)))
    np.testing.assert_array_equal(to_numpy(CategoryEncoding(4, "one_hot")(np.array([3, 0, 1]))), np.eye(4)[[3, 0, 1]])
    weights = np.array([[0.5, 1.0, 2.0, 1.0], [1.0, 1.0, 1.0, 3.0]], np.float32)
    np.testing.assert_allclose(to_numpy(CategoryEncoding(5, "count")(x, count_weights=weights)),
                               [[0.5, 3.0, 0, 1.0, 0], [3.0, 0, 3.0, 0, 0]])


def test_hashing_is_stable_and_in_range():
    strings = np.array(["cat", "dog", "fish", "cat"])
    out = to_numpy(Hashing(7, salt=3)(strings))
    expected = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8, key=(3).to_bytes(4, "little")).digest(),
                               "little") % 7 for s in strings]
    np.testing.assert_array_equal(out, expected)
    ints = np.array([[0, 1, 2, 3], [2 ** 40, -5, 7, 1]], np.int64)
    a = to_numpy(Hashing(11)(ints))
    assert a.dtype == np.int64 and a.min() >= 0 and a.max() < 11 and a[0, 1] == a[1, 3]
    # Fixed expected buckets: the same in every process and on every backend.
    np.testing.assert_array_equal(a, [[4, 4, 0, 3], [9, 2, 5, 4]])
    masked = to_numpy(Hashing(5, mask_value=0)(np.array([0, 4, 9])))
    assert masked[0] == 0 and (masked[1:] >= 1).all()
    values = to_numpy(Hashing(1000)(np.arange(20_000)))
    assert len(np.unique(values)) == 1000 and np.bincount(values).max() < 45


# ------------------------------------------------------------------ lookups and text


def test_string_lookup_matches_keras():
    data = np.array([["a", "b", "a"], ["c", "a", "b"]])
    ours, theirs = StringLookup(mask_token="[M]"), keras().layers.StringLookup(mask_token="[M]")
    ours.adapt(data)
    theirs.adapt(data)
    assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
    query = np.array([["a", "z", "[M]"], ["c", "b", "q"]])
    np.testing.assert_array_equal(to_numpy(ours(query)), np.asarray(theirs(query)))
    for mode in ("one_hot", "multi_hot", "count"):
        kw = dict(vocabulary=["a", "b", "c"], output_mode=mode)
        q = np.array(["a", "z"]) if mode == "one_hot" else query[:, :2]
        np.testing.assert_array_equal(to_numpy(StringLookup(**kw)(q)),
                                      np.asarray(keras().layers.StringLookup(**kw)(q)))
    inverse = StringLookup(vocabulary=["a", "b"], invert=True)(np.array([[1, 2, 0]]))
    assert inverse.tolist() == [["a", "b", "[UNK]"]]
    two = StringLookup(vocabulary=["a"], num_oov_indices=2)(np.array(["x", "y", "z", "a"]))
    assert set(to_numpy(two)[:3]) <= {0, 1} and to_numpy(two)[3] == 2


def test_integer_lookup_matches_keras_and_runs_compiled():
    data = np.array([5, 5, 7, 7, 9, 3])
    ours, theirs = IntegerLookup(num_oov_indices=2, mask_token=0), keras().layers.IntegerLookup(num_oov_indices=2,
                                                                                               mask_token=0)
    ours.adapt(data)
    theirs.adapt(data)
    assert ours.get_vocabulary() == [int(t) for t in theirs.get_vocabulary()]
    query = np.array([5, 7, 9, 3, 0, 12, 13])
    np.testing.assert_array_equal(to_numpy(ours(query)), np.asarray(theirs(query)))
    step = hl.ops.compile_function(lambda q: ours(q))
    np.testing.assert_array_equal(to_numpy(step(hl.ops.convert_to_tensor(query))), np.asarray(theirs(query)))
    inv = IntegerLookup(vocabulary=[5, 7], invert=True)
    np.testing.assert_array_equal(to_numpy(inv(np.array([0, 1, 2]))),
                                  np.asarray(keras().layers.IntegerLookup(vocabulary=[5, 7], invert=True)(
                                      np.array([0, 1, 2]))))
    kw = dict(vocabulary=[5, 7, 9], output_mode="multi_hot")
    q = np.array([[5, 9], [7, 11]])
    np.testing.assert_array_equal(to_numpy(IntegerLookup(**kw)(q)), np.asarray(keras().layers.IntegerLookup(**kw)(q)))


DOCS = ["The cat sat.", "the dog, the CAT!", "a bird", "Dogs and cats; birds?"]


@pytest.mark.parametrize("kwargs", [dict(output_mode="int"), dict(output_mode="int", output_sequence_length=7),
                                    dict(output_mode="int", ngrams=2, max_tokens=9, output_sequence_length=6),
                                    dict(output_mode="multi_hot"), dict(output_mode="count", ngrams=(1, 2)),
                                    dict(output_mode="tf_idf", max_tokens=6)])
def test_text_vectorization_matches_keras(kwargs):
    ours, theirs = TextVectorization(**kwargs), keras().layers.TextVectorization(**kwargs)
    ours.adapt(DOCS)
    theirs.adapt(DOCS)
    assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
    query = ["the cat flew over the dog", "Birds!", "the the the"]
    np.testing.assert_allclose(to_numpy(ours(query)), np.asarray(theirs(query)), rtol=1e-5, atol=1e-6)


def test_text_vectorization_with_vocabulary_and_config_round_trip():
    layer = TextVectorization(vocabulary=["hello", "world"], output_sequence_length=4)
    np.testing.assert_array_equal(to_numpy(layer(["Hello, big world!"])), [[2, 1, 3, 0]])
    clone = TextVectorization.from_config(layer.get_config())
    assert clone.get_vocabulary() == layer.get_vocabulary() == ["", "[UNK]", "hello", "world"]


# --------------------------------------------------- configs, shapes, errors, training


CONFIG_LAYERS = [Rescaling(0.5, 1.0), Normalization(mean=[1.0, 2.0], variance=[1.0, 4.0]), Resizing(3, 5, "nearest"),
                 CenterCrop(2, 2), Discretization([0.0, 1.0], output_mode="one_hot"), CategoryEncoding(4, "count"),
                 Hashing(8, salt=2, mask_value=0), IntegerLookup(vocabulary=[4, 5], mask_token=0),
                 StringLookup(vocabulary=["x", "y"], output_mode="multi_hot")]


@pytest.mark.parametrize("layer", CONFIG_LAYERS, ids=lambda l: type(l).__name__)
def test_config_round_trips(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = hl.layers.deserialize(hl.layers.serialize(layer))
    assert type(restored) is type(layer)


def test_functional_shape_inference():
    image = Input((8, 10, 3))
    assert tuple(Resizing(4, 5)(image).shape) == (None, 4, 5, 3)
    assert tuple(CenterCrop(6, 6)(image).shape) == (None, 6, 6, 3)
    assert tuple(Rescaling(2.0)(image).shape) == (None, 8, 10, 3)
    features = Input((5,))
    assert tuple(Discretization([0.0], output_mode="int")(features).shape) == (None, 5)
    tokens = Input((4,), dtype="int32")
    assert tuple(CategoryEncoding(6)(tokens).shape) == (None, 6)
    assert tuple(IntegerLookup(vocabulary=[1, 2, 3], output_mode="count")(tokens).shape) == (None, 4)
    assert tuple(Hashing(3)(tokens).shape) == (None, 4)


def test_errors_name_the_layer_and_values():
    with pytest.raises(ValueError, match=r"Resizing.*rank 3.*\(4, 4\)"):
        Resizing(2, 2)(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="Resizing.*interpolation.*lanczos3"):
        Resizing(2, 2, interpolation="lanczos3")
    with pytest.raises(ValueError, match="CenterCrop.*height.*-1"):
        CenterCrop(-1, 2)
    with pytest.raises(ValueError, match="Normalization.*mean"):
        Normalization(mean=[1.0])
    with pytest.raises(ValueError, match="Normalization.*axis"):
        Normalization(axis=3)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="Discretization.*exactly one"):
        Discretization()
    with pytest.raises(ValueError, match="CategoryEncoding.*num_tokens"):
        CategoryEncoding(0)
    with pytest.raises(ValueError, match="Hashing.*num_bins"):
        Hashing(0)
    with pytest.raises(ValueError, match="StringLookup.*output_mode.*bag"):
        StringLookup(output_mode="bag")
    with pytest.raises(ValueError, match="StringLookup.*num_oov_indices=0"):
        StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["b"]))
    with pytest.raises(ValueError, match="TextVectorization.*split"):
        TextVectorization(split="comma")


def test_model_with_preprocessing_trains_with_fit(rng):
    x = rng.normal(5.0, 3.0, size=(96, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 10).astype(np.float32)[:, None]
    norm = Normalization()
    norm.adapt(x)
    model = hl.Sequential([Input((4,)), norm, Rescaling(1.0), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    losses = model.fit(x, y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(norm.get_weights()[0], x.mean(0), rtol=1e-5)
