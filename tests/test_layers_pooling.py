"""Pooling layers against NumPy window loops, finite differences and Keras.

Max/AveragePooling1D/2D/3D (strides, valid/same padding: padding never wins a max and
is left out of an average's count), global pooling (keepdims, channels_first),
GlobalAveragePooling1D with a mask; configs, shapes, errors, and a model that learns.
"""

import itertools
import json

import numpy as np
import pytest

import highlevel as hl
from highlevel import layers


@pytest.fixture(autouse=True)
def seeded():
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(hl.ops.convert_to_numpy(x))


def same_pads(length, k, s):
    out = -(-length // s)
    total = max((out - 1) * s + k - length, 0)
    return total // 2, total - total // 2


def np_pool(x, pool, strides, padding, mode):
    """Each output entry: max or mean of its window, over the entries inside the input only."""
    spatial = x.shape[1:-1]
    pads = [same_pads(n, k, s) if padding == "same" else (0, 0) for n, k, s in zip(spatial, pool, strides)]
    outs = [(n + b + a - k) // s + 1 for n, (b, a), k, s in zip(spatial, pads, pool, strides)]
    out = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for index in itertools.product(*(range(o) for o in outs)):
        window = []
        for o, (before, _), k, s, n in zip(index, pads, pool, strides, spatial):
            start = o * s - before
            window.append(slice(max(start, 0), min(start + k, n)))
        values = x[(slice(None),) + tuple(window)].reshape(x.shape[0], -1, x.shape[-1])
        out[(slice(None),) + index] = values.max(axis=1) if mode == "max" else values.mean(axis=1)
    return out


POOL_CASES = [
    ("MaxPooling1D", dict(), (2, 9, 3)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 8, 3)),
    ("MaxPooling2D", dict(), (2, 6, 7, 2)),
    ("MaxPooling2D", dict(pool_size=(3, 2), strides=(2, 1), padding="same"), (2, 7, 6, 3)),
    ("MaxPooling3D", dict(pool_size=2, padding="same"), (2, 3, 5, 4, 2)),
    ("AveragePooling1D", dict(pool_size=2), (2, 9, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 8, 3)),
    ("AveragePooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 3)),
    ("AveragePooling2D", dict(pool_size=(2, 3)), (2, 6, 7, 2)),
    ("AveragePooling3D", dict(pool_size=(2, 2, 3), strides=1), (1, 3, 4, 5, 2)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw, _ in POOL_CASES]


def reference(name, kw, x):
    rank = x.ndim - 2
    default = 2 if name.startswith("Max") else None
    pool = kw.get("pool_size", default)
    pool = (pool,) * rank if isinstance(pool, int) else tuple(pool)
    strides = kw.get("strides") or pool
    strides = (strides,) * rank if isinstance(strides, int) else tuple(strides)
    return np_pool(x, pool, strides, kw.get("padding", "valid"), "max" if name.startswith("Max") else "average")


@pytest.mark.parametrize("name, kw, shape", POOL_CASES, ids=IDS)
def test_pooling_forward_and_gradient(name, kw, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    layer = getattr(layers, name)(**kw)
    y = to_numpy(layer(x))
    expected = reference(name, kw, x.astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    assert layer.compute_output_shape(shape) == expected.shape
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + expected.shape[1:]

    probe = rng.normal(size=expected.shape)
    x_var = hl.ops.Variable(x)
    _, (grad,) = hl.ops.value_and_grad(
        lambda: hl.ops.sum(hl.ops.multiply(layer(x_var), hl.ops.convert_to_tensor(probe.astype(np.float32)))),
        [x_var])
    x64 = x.astype(np.float64)
    numeric = np.zeros(x.size)
    for i in range(x.size):   # values are distinct, so no max ties: the difference quotient is exact
        plus, minus = x64.copy(), x64.copy()
        plus.flat[i] += 1e-6
        minus.flat[i] -= 1e-6
        numeric[i] = (np.sum(reference(name, kw, plus) * probe) - np.sum(reference(name, kw, minus) * probe)) / 2e-6
    np.testing.assert_allclose(to_numpy(grad), numeric.reshape(x.shape), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, kw, shape", POOL_CASES, ids=IDS)
def test_pooling_matches_keras(name, kw, shape):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    kw = dict(kw, pool_size=kw.get("pool_size", 2))
    np.testing.assert_allclose(to_numpy(getattr(layers, name)(**kw)(x)),
                               np.asarray(getattr(keras.layers, name)(**kw)(x)), rtol=1e-5, atol=1e-6)


def test_channels_first_pooling():
    x = np.random.default_rng(2).normal(size=(2, 3, 6, 5)).astype(np.float32)
    layer = layers.MaxPooling2D(2, padding="same", data_format="channels_first")
    expected = np.transpose(np_pool(np.transpose(x, (0, 2, 3, 1)), (2, 2), (2, 2), "same", "max"), (0, 3, 1, 2))
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-6)
    assert layer.compute_output_shape(x.shape) == expected.shape == (2, 3, 3, 3)


# ------------------------------------------------------------------ global pooling

GLOBAL = [
    ("GlobalMaxPooling1D", (2, 5, 3), np.max),
    ("GlobalMaxPooling2D", (2, 4, 5, 3), np.max),
    ("GlobalMaxPooling3D", (2, 3, 4, 2, 3), np.max),
    ("GlobalAveragePooling1D", (2, 5, 3), np.mean),
    ("GlobalAveragePooling2D", (2, 4, 5, 3), np.mean),
    ("GlobalAveragePooling3D", (2, 3, 4, 2, 3), np.mean),
]


@pytest.mark.parametrize("name, shape, reduce", GLOBAL, ids=[g[0] for g in GLOBAL])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pooling(name, shape, reduce, keepdims, data_format):
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    axes = tuple(range(1, len(shape) - 1)) if data_format == "channels_last" else tuple(range(2, len(shape)))
    layer = getattr(layers, name)(keepdims=keepdims, data_format=data_format)
    expected = reduce(x, axis=axes, keepdims=keepdims)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-6, atol=1e-7)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + expected.shape[1:]
    x_var = hl.ops.Variable(x)
    _, (grad,) = hl.ops.value_and_grad(lambda: hl.ops.sum(layer(x_var)), [x_var])
    if reduce is np.mean:
        expected_grad = np.full(shape, 1.0 / np.prod([shape[a] for a in axes]))
    else:
        expected_grad = (x == x.max(axis=axes, keepdims=True)).astype(np.float64)
    np.testing.assert_allclose(to_numpy(grad), expected_grad, rtol=1e-6)


def test_global_average_pooling_1d_honours_a_mask():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 4] = np.inf   # a masked step must not leak in, whatever it holds
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0]], bool)
    layer = layers.GlobalAveragePooling1D()
    assert layer.supports_masking and layer.compute_mask(x, mask) is None
    expected = np.stack([x[i][mask[i]].mean(axis=0) for i in range(3)])
    y = to_numpy(layer(x, mask=hl.ops.convert_to_tensor(mask)))
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    kept = to_numpy(layers.GlobalAveragePooling1D(keepdims=True)(x, mask=mask))
    np.testing.assert_allclose(kept, expected[:, None, :], rtol=1e-6)
    x_var = hl.ops.Variable(np.where(np.isinf(x), 0, x))
    _, (grad,) = hl.ops.value_and_grad(lambda: hl.ops.sum(layer(x_var, mask=mask)), [x_var])
    np.testing.assert_allclose(to_numpy(grad), np.repeat((mask / mask.sum(1, keepdims=True))[..., None], 2, -1),
                               rtol=1e-6)
    keras = pytest.importorskip("keras")
    finite = np.where(np.isinf(x), 0, x)
    np.testing.assert_allclose(to_numpy(layer(finite, mask=mask)),
                               np.asarray(keras.layers.GlobalAveragePooling1D()(finite, mask=mask)), rtol=1e-6)


# --------------------------------------------------------- configs, shapes, errors

CONFIG_LAYERS = [
    layers.MaxPooling1D(3, strides=1, padding="same", name="mp1"),
    layers.MaxPooling2D((2, 3), data_format="channels_first", name="mp2"),
    layers.MaxPooling3D(name="mp3"),
    layers.AveragePooling1D(2, name="ap1"),
    layers.AveragePooling2D(3, strides=2, padding="same", name="ap2"),
    layers.AveragePooling3D((1, 2, 2), name="ap3"),
    layers.GlobalMaxPooling1D(keepdims=True, name="gm1"),
    layers.GlobalMaxPooling2D(data_format="channels_first", name="gm2"),
    layers.GlobalAveragePooling1D(name="ga1"),
    layers.GlobalAveragePooling2D(keepdims=True, name="ga2"),
    layers.GlobalAveragePooling3D(name="ga3"),
]


@pytest.mark.parametrize("layer", CONFIG_LAYERS, ids=[layer.name for layer in CONFIG_LAYERS])
def test_config_round_trip(layer):
    config = json.loads(json.dumps(hl.layers.serialize(layer)))
    clone = hl.layers.deserialize(config)
    assert type(clone) is type(layer) and clone.get_config() == json.loads(json.dumps(layer.get_config()))


def test_keras_defaults_and_config_keys():
    keras = pytest.importorskip("keras")
    for name in ("MaxPooling2D", "GlobalAveragePooling1D"):
        ours, theirs = getattr(layers, name)().get_config(), getattr(keras.layers, name)().get_config()
        assert set(theirs) <= set(ours)
        for key in set(theirs) - {"name", "dtype", "trainable"}:
            value = theirs[key]
            assert ours[key] == (list(value) if isinstance(value, tuple) else value), key
    with pytest.raises(TypeError):
        layers.AveragePooling2D()   # pool_size is required, as in Keras 3


def test_functional_shapes_and_dtype():
    inputs = hl.Input((28, 28, 3))
    x = layers.MaxPooling2D()(inputs)
    x = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    assert x.shape == (None, 7, 7, 3)
    assert layers.GlobalMaxPooling2D()(x).shape == (None, 3)
    assert layers.GlobalAveragePooling2D(keepdims=True)(x).shape == (None, 1, 1, 3)
    seq = hl.Input((None, 4))
    assert layers.MaxPooling1D(2)(seq).shape == (None, None, 4)
    assert layers.GlobalAveragePooling1D()(seq).shape == (None, 4)
    ints = hl.Input((4, 4, 1), dtype="int32")
    assert layers.MaxPooling2D()(ints).dtype == "int32"


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"MaxPooling2D 'mp': pool_size must be positive, got pool_size=0"):
        layers.MaxPooling2D(0, name="mp")
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same'"):
        layers.AveragePooling1D(2, padding="causal")
    with pytest.raises(ValueError, match="strides must be an integer or a tuple of 2 integers"):
        layers.MaxPooling2D(strides=(1, 2, 3))
    with pytest.raises(ValueError) as info:
        layers.MaxPooling2D(name="rank")(np.zeros((2, 4, 4), np.float32))
    assert '"rank"' in str(info.value) and "ndim=4" in str(info.value) and "(2, 4, 4)" in str(info.value)
    with pytest.raises(ValueError) as info:
        layers.GlobalAveragePooling1D(name="g1")(np.zeros((2, 4, 4, 1), np.float32))
    assert '"g1"' in str(info.value) and "ndim=3" in str(info.value)
    with pytest.raises(ValueError, match=r"MaxPooling2D 'tiny': inputs of shape \(None, 1, 5, 2\) are smaller"):
        layers.MaxPooling2D(name="tiny")(hl.Input((1, 5, 2)))


def test_sequence_model_with_pooling_learns():
    rng = np.random.default_rng(0)
    # Class 1: a spike somewhere in the sequence; class 0: noise only.
    y = rng.integers(0, 2, size=128)
    x = rng.normal(scale=0.5, size=(128, 16, 2)).astype(np.float32)
    positions = rng.integers(0, 14, size=128)
    x[np.arange(128)[y == 1], positions[y == 1]] += 3.0
    model = hl.Sequential([
        hl.Input((16, 2)),
        layers.Conv1D(8, 3, padding="same", activation="relu"),
        layers.MaxPooling1D(2),
        layers.AveragePooling1D(2, padding="same"),
        layers.GlobalMaxPooling1D(),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=hl.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.85
