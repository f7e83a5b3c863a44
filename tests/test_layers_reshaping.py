"""Reshaping layers against NumPy: UpSampling1D/2D (nearest and bilinear), ZeroPadding1D/2D,
Cropping1D/2D, Permute, RepeatVector. Forward values, gradients (each layer is linear,
so the gradient of ``sum(layer(x) * probe)`` is the adjoint applied to ``probe``,
computed here from the NumPy definition), Keras outputs, configs, shapes, errors,
and an upsampling decoder that learns with ``fit``."""

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


def bilinear_1d(x, axis, factor):
    """Half-pixel-centre linear interpolation along ``axis``, written point by point."""
    n = x.shape[axis]
    outs = []
    for i in range(n * factor):
        src = min(max((i + 0.5) / factor - 0.5, 0.0), n - 1)
        lo = int(np.floor(src))
        hi = min(lo + 1, n - 1)
        w = src - lo
        outs.append((1 - w) * np.take(x, lo, axis=axis) + w * np.take(x, hi, axis=axis))
    return np.stack(outs, axis=axis)


def crop(x, axes, amounts):
    index = [slice(None)] * x.ndim
    for axis, (before, after) in zip(axes, amounts):
        index[axis] = slice(before, x.shape[axis] - after)
    return x[tuple(index)]


CASES = [
    ("UpSampling1D", dict(size=3), (2, 4, 3), lambda x: np.repeat(x, 3, axis=1)),
    ("UpSampling2D", dict(size=(2, 3)), (2, 3, 4, 2), lambda x: np.repeat(np.repeat(x, 2, 1), 3, 2)),
    ("UpSampling2D", dict(size=(2, 3), interpolation="bilinear"), (2, 3, 4, 2),
     lambda x: bilinear_1d(bilinear_1d(x, 1, 2), 2, 3)),
    ("UpSampling2D", dict(size=2, interpolation="bilinear", data_format="channels_first"), (2, 2, 3, 4),
     lambda x: bilinear_1d(bilinear_1d(x, 2, 2), 3, 2)),
    ("ZeroPadding1D", dict(padding=(2, 1)), (2, 4, 3), lambda x: np.pad(x, ((0, 0), (2, 1), (0, 0)))),
    ("ZeroPadding1D", dict(padding=1, data_format="channels_first"), (2, 3, 4),
     lambda x: np.pad(x, ((0, 0), (0, 0), (1, 1)))),
    ("ZeroPadding2D", dict(padding=((1, 2), (0, 3))), (2, 3, 4, 2),
     lambda x: np.pad(x, ((0, 0), (1, 2), (0, 3), (0, 0)))),
    ("ZeroPadding2D", dict(padding=(1, 2), data_format="channels_first"), (2, 2, 3, 4),
     lambda x: np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)))),
    ("Cropping1D", dict(cropping=(1, 2)), (2, 6, 3), lambda x: x[:, 1:4]),
    ("Cropping1D", dict(cropping=(2, 0)), (2, 6, 3), lambda x: x[:, 2:]),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 4, 5, 3), lambda x: crop(x, (1, 2), ((1, 0), (2, 1)))),
    ("Cropping2D", dict(cropping=1, data_format="channels_first"), (2, 3, 4, 5),
     lambda x: crop(x, (2, 3), ((1, 1), (1, 1)))),
    ("Permute", dict(dims=(2, 1)), (2, 5, 3), lambda x: np.transpose(x, (0, 2, 1))),
    ("Permute", dict(dims=(3, 1, 2)), (2, 5, 3, 4), lambda x: np.transpose(x, (0, 3, 1, 2))),
    ("RepeatVector", dict(n=3), (2, 5), lambda x: np.repeat(x[:, None, :], 3, axis=1)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw, _, _ in CASES]


@pytest.mark.parametrize("name, kw, shape, ref", CASES, ids=IDS)
def test_forward_and_gradient_match_numpy(name, kw, shape, ref):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    layer = getattr(layers, name)(**kw)
    expected = ref(x.astype(np.float64))
    y = to_numpy(layer(x))
    assert y.shape == expected.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape(shape) == expected.shape
    # The layer is linear: d/dx sum(layer(x) * probe) = sum_j probe_j * d layer(e)_j / d e, column by column.
    probe = rng.normal(size=expected.shape)
    x_var = hl.ops.Variable(x)
    _, (grad,) = hl.ops.value_and_grad(
        lambda: hl.ops.sum(hl.ops.multiply(layer(x_var), hl.ops.convert_to_tensor(probe.astype(np.float32)))),
        [x_var])
    basis = np.eye(x.size).reshape((x.size,) + shape)
    adjoint = np.array([np.sum(ref(e) * probe) for e in basis]).reshape(shape)
    np.testing.assert_allclose(to_numpy(grad), adjoint, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kw, shape, ref", CASES, ids=IDS)
def test_matches_keras(name, kw, shape, ref):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(to_numpy(getattr(layers, name)(**kw)(x)),
                               np.asarray(getattr(keras.layers, name)(**kw)(x)), rtol=1e-5, atol=1e-6)


def test_bilinear_keeps_constants_and_interpolates_midpoints():
    x = np.array([0.0, 4.0], np.float32).reshape(1, 2, 1, 1)
    y = to_numpy(layers.UpSampling2D((2, 1), interpolation="bilinear")(x)).ravel()
    np.testing.assert_allclose(y, [0.0, 1.0, 3.0, 4.0])   # samples at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped)
    ones = np.ones((1, 3, 5, 2), np.float32)
    np.testing.assert_allclose(to_numpy(layers.UpSampling2D(3, interpolation="bilinear")(ones)), 1.0, rtol=1e-6)


def test_integer_inputs_keep_their_dtype():
    x = np.arange(12, dtype=np.int32).reshape(1, 2, 2, 3)
    assert hl.ops.dtype(layers.UpSampling2D()(x)) == "int32"
    assert hl.ops.dtype(layers.ZeroPadding2D()(x)) == "int32"
    inputs = hl.Input((2, 2, 3), dtype="int32")
    assert layers.Cropping2D(((1, 0), (0, 1)))(inputs).dtype == "int32"
    assert layers.UpSampling2D(interpolation="bilinear")(inputs).dtype == "float32"


CONFIG_LAYERS = [
    layers.UpSampling1D(3, name="u1"),
    layers.UpSampling2D((2, 3), interpolation="bilinear", data_format="channels_first", name="u2"),
    layers.ZeroPadding1D((1, 2), name="z1"),
    layers.ZeroPadding2D(((1, 2), (3, 0)), name="z2"),
    layers.Cropping1D((0, 2), name="c1"),
    layers.Cropping2D(((1, 1), (0, 2)), data_format="channels_first", name="c2"),
    layers.Permute((2, 3, 1), name="p"),
    layers.RepeatVector(4, name="r"),
]


@pytest.mark.parametrize("layer", CONFIG_LAYERS, ids=[layer.name for layer in CONFIG_LAYERS])
def test_config_round_trip(layer):
    config = json.loads(json.dumps(hl.layers.serialize(layer)))
    clone = hl.layers.deserialize(config)
    assert type(clone) is type(layer) and clone.get_config() == json.loads(json.dumps(layer.get_config()))


def test_functional_shapes():
    inputs = hl.Input((None, 5, 3))
    assert layers.UpSampling2D((2, 3))(inputs).shape == (None, None, 15, 3)
    assert layers.ZeroPadding2D(((1, 2), (0, 1)))(inputs).shape == (None, None, 6, 3)
    assert layers.Cropping2D(((0, 0), (1, 2)))(inputs).shape == (None, None, 2, 3)
    assert layers.Permute((3, 1, 2))(inputs).shape == (None, 3, None, 5)
    vec = hl.Input((7,))
    assert layers.RepeatVector(4)(vec).shape == (None, 4, 7)
    seq = hl.Input((6, 2))
    assert layers.Cropping1D((1, 2))(layers.UpSampling1D(2)(layers.ZeroPadding1D(1)(seq))).shape == (None, 13, 2)


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"UpSampling2D 'up': interpolation must be one of 'nearest', 'bilinear', "
                                         r"got interpolation='bicubic'"):
        layers.UpSampling2D(interpolation="bicubic", name="up")
    with pytest.raises(ValueError, match="size must be a positive integer"):
        layers.UpSampling1D(0)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        layers.ZeroPadding1D(-1)
    with pytest.raises(ValueError, match=r"padding must be an int, a tuple of 2 ints"):
        layers.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="dims must be a permutation of 1..n"):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        layers.RepeatVector(0)
    with pytest.raises(ValueError, match=r"Cropping1D 'crop': cropping \(2, 3\) must leave at least one entry"):
        layers.Cropping1D((2, 3), name="crop")(hl.Input((5, 2)))
    with pytest.raises(ValueError, match="must leave at least one entry"):
        layers.Cropping2D(2)(np.zeros((1, 4, 6, 1), np.float32))
    with pytest.raises(ValueError) as info:
        layers.RepeatVector(2, name="rv")(np.zeros((2, 3, 4), np.float32))
    assert '"rv"' in str(info.value) and "ndim=2" in str(info.value) and "(2, 3, 4)" in str(info.value)
    with pytest.raises(ValueError) as info:
        layers.Permute((2, 1), name="perm")(np.zeros((2, 3, 4, 5), np.float32))
    assert '"perm"' in str(info.value) and "ndim=3" in str(info.value)


def test_decoder_with_upsampling_learns():
    rng = np.random.default_rng(0)
    # Smooth images: a bright Gaussian spot whose centre the 4-number code gives.
    codes = rng.uniform(-1, 1, size=(96, 4)).astype(np.float32)
    grid = np.linspace(-1, 1, 8)
    rows = np.exp(-4 * (grid[None, :] - codes[:, :1]) ** 2)
    cols = np.exp(-4 * (grid[None, :] - codes[:, 1:2]) ** 2)
    images = (rows[:, :, None] * cols[:, None, :])[..., None].astype(np.float32)
    model = hl.Sequential([
        hl.Input((4,)),
        layers.RepeatVector(4),
        layers.Permute((2, 1)),
        layers.Reshape((2, 2, 4)),
        layers.UpSampling2D(2, interpolation="bilinear"),
        layers.ZeroPadding2D(1),
        layers.Conv2D(8, 3, activation="tanh"),
        layers.UpSampling2D(2),
        layers.ZeroPadding2D(((1, 2), (2, 1))),
        layers.Cropping2D(((1, 2), (2, 1))),
        layers.Conv2D(1, 3, padding="same"),
    ])
    model.compile(optimizer=hl.optimizers.Adam(0.01), loss="mse")
    history = model.fit(codes, images, batch_size=32, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
