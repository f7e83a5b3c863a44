"""The framework RNG (``hl.random``) and the augmentation layers.

* The RNG's integers are checked bit for bit against a pure-NumPy re-implementation of
  the hash written here (uint64 arithmetic with masks and shifts: an independent
  expression of the same function), so the same seed gives the same numbers on every
  backend; uniformity and independence statistics; state advancing; compiled == eager.
* Each augmentation layer against a NumPy computation of its output from those numbers
  (flips, crops, contrast, brightness, and the geometric layers through a NumPy
  projective-transform sampler), inference mode (identity), Keras layers on fixed
  parameters (degenerate factor ranges), gradients, fit, configs, shapes and errors.
"""

import math

import numpy as np
import pytest

import highlevel as hl
from highlevel import random as hr
from highlevel.layers import (Dense, Dropout, Flatten, Input, RandomBrightness, RandomContrast, RandomCrop,
                              RandomFlip, RandomRotation, RandomTranslation, RandomZoom)

M32 = np.uint64(0xFFFFFFFF)


def to_numpy(x):
    return np.asarray(hl.ops.convert_to_numpy(x))


# --------------------------------------------------------------- NumPy reference RNG


@np.errstate(over="ignore")  # uint64 products wrap mod 2**64, which is all the hash needs mod 2**32
def np_mix32(x):
    x = np.asarray(x, dtype=np.uint64)
    def fold(v):
        return (v & np.uint64(0xFFFF0000)) | (((v & np.uint64(0xFFFF)) + (v >> np.uint64(16))) & np.uint64(0xFFFF))
    def square(v):
        return (v * (np.uint64(2) * v + np.uint64(1))) & M32  # wraps mod 2**64: fine mod 2**32
    def mul(v, c):
        return (v * np.uint64(c)) & M32
    x = fold(x)
    x = mul(square(x), 0x85EBCA6B)
    x = fold(x)
    x = mul(square(x), 0xC2B2AE35)
    return fold(x)


def np_bits(shape, seed, counter=0, stream=0):
    add = lambda a, b: (np.uint64(a) + np.uint64(b)) & M32  # noqa: E731
    key = np_mix32(add(seed & 0xFFFFFFFF, 0x9E3779B9))
    key = np_mix32(add(key, (seed >> 32) & 0xFFFFFFFF))
    key = np_mix32(add(key, counter & 0xFFFFFFFF))
    key = np_mix32(add(key, (0x9E3779B9 * (2 * stream + 1)) & 0xFFFFFFFF))
    index = np.arange(int(np.prod(shape)), dtype=np.uint64)
    return np_mix32((index + key) & M32).reshape(shape).astype(np.int64)


def np_uniform(shape, seed, counter=0, lo=0.0, hi=1.0, stream=0):
    unit = (np_bits(shape, seed, counter, stream) >> 8).astype(np.float32) * np.float32(2.0 ** -24)
    if (lo, hi) == (0.0, 1.0):
        return unit
    return unit * np.float32(hi - lo) + np.float32(lo)


# ------------------------------------------------------------------------ the RNG


@pytest.mark.parametrize("seed, counter, stream", [(0, 0, 0), (1234, 7, 1), (2 ** 40 + 5, 3, 2), (99, 2 ** 33, 0)])
def test_random_bits_match_numpy_reference(seed, counter, stream):
    state = np.array([seed, counter], dtype=np.int64)
    got = to_numpy(hr.random_bits((3, 50), state, stream=stream))
    np.testing.assert_array_equal(got, np_bits((3, 50), seed, counter, stream))
    u = to_numpy(hr.uniform((3, 50), state, -2.0, 3.0, stream=stream))
    np.testing.assert_array_equal(u, np_uniform((3, 50), seed, counter, -2.0, 3.0, stream))
    assert u.dtype == np.float32


def test_uniform_statistics_and_independence():
    u = to_numpy(hr.uniform((100_000,), 5))
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    counts = np.histogram(u, 50, (0, 1))[0]
    chi2 = ((counts - 2000.0) ** 2 / 2000.0).sum()
    assert chi2 < 100  # 49 degrees of freedom: p ~ 1e-5 beyond this
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.015
    pairs = np.histogram2d(u[::2], u[1::2], 10, [[0, 1], [0, 1]])[0]
    assert ((pairs - 500.0) ** 2 / 500.0).sum() < 170  # 99 degrees of freedom
    other = to_numpy(hr.uniform((100_000,), np.array([5, 1])))
    assert abs(np.corrcoef(u, other)[0, 1]) < 0.015
    bits = to_numpy(hr.random_bits((20_000,), 11))
    for b in (0, 7, 15, 16, 31):
        assert abs(((bits >> b) & 1).mean() - 0.5) < 0.02


def test_normal_and_randint():
    z = to_numpy(hr.normal((50_000,), 3))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    r = to_numpy(hr.randint((30_000,), 3, 2, 7))
    assert set(np.unique(r)) == {2, 3, 4, 5, 6} and r.dtype == np.int32
    assert np.abs(np.bincount(r)[2:] / 30_000 - 0.2).max() < 0.015


def test_seed_generator_advances_and_repeats():
    a, b = hr.SeedGenerator(42), hr.SeedGenerator(42)
    first = [to_numpy(hr.uniform((5,), a)) for _ in range(3)]
    second = [to_numpy(hr.uniform((5,), b)) for _ in range(3)]
    for i in range(3):
        np.testing.assert_array_equal(first[i], second[i])
        np.testing.assert_array_equal(first[i], np_uniform((5,), 42, i))
    assert not np.array_equal(first[0], first[1])
    np.testing.assert_array_equal(to_numpy(a.state.value), [42, 3])
    hl.utils.set_random_seed(3)
    s1 = hr.SeedGenerator().seed
    hl.utils.set_random_seed(3)
    assert hr.SeedGenerator().seed == s1
    with pytest.raises(ValueError, match="seed"):
        hr.SeedGenerator(-1)
    with pytest.raises(ValueError, match="shape"):
        hr.uniform((2,), np.array([1, 2, 3]))


def test_compiled_draws_equal_eager_and_advance_every_step():
    eager_gen, graph_gen = hr.SeedGenerator(7), hr.SeedGenerator(7)
    step = hl.ops.compile_function(lambda: hr.uniform((4,), graph_gen))
    graph = [to_numpy(step()) for _ in range(3)]
    eager = [to_numpy(hr.uniform((4,), eager_gen)) for _ in range(3)]
    for g, e, i in zip(graph, eager, range(3)):
        np.testing.assert_array_equal(g, e)
        np.testing.assert_array_equal(g, np_uniform((4,), 7, i))


def test_seeded_dropout_is_fresh_every_compiled_step_and_backend_independent():
    x = np.ones((8, 16), np.float32)
    layer = Dropout(0.5, seed=5)
    step = hl.ops.compile_function(lambda v: layer(v, training=True))
    masks = [to_numpy(step(hl.ops.convert_to_tensor(x))) for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    for i, m in enumerate(masks):
        expected = np.where(np_uniform((8, 16), 5, i) >= 0.5, 2.0, 0.0)
        np.testing.assert_array_equal(m, expected)


# ------------------------------------------------------------ NumPy image helpers


def np_affine(images, transforms, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """A NumPy projective sampler with TensorFlow's rules (vectorized; see tests/backends for a loop)."""
    images = np.asarray(images, np.float64)
    n, h, w, c = images.shape
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    out = np.empty_like(images)
    for b in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = np.asarray(transforms[b], np.float32)
        k = c0 * xs + c1 * ys + np.float32(1)
        x = ((a0 * xs + a1 * ys + a2) / k).astype(np.float64)
        y = ((b0 * xs + b1 * ys + b2) / k).astype(np.float64)
        x, y = map_coords(x, w, fill_mode), map_coords(y, h, fill_mode)

        def read(iy, ix):
            inside = (iy >= 0) & (iy <= h - 1) & (ix >= 0) & (ix <= w - 1)
            vals = images[b, np.clip(iy, 0, h - 1).astype(int), np.clip(ix, 0, w - 1).astype(int)]
            return np.where(inside[..., None], vals, fill_value)

        if interpolation == "nearest":
            rnd = lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5)  # noqa: E731
            out[b] = read(rnd(y), rnd(x))
        else:
            x0, y0 = np.floor(x), np.floor(y)
            wx, wy = (x - x0)[..., None], (y - y0)[..., None]
            top = (1 - wx) * read(y0, x0) + wx * read(y0, x0 + 1)
            bottom = (1 - wx) * read(y0 + 1, x0) + wx * read(y0 + 1, x0 + 1)
            out[b] = (1 - wy) * top + wy * bottom
    return out


def map_coords(v, length, mode):
    if mode == "constant":
        return v
    if mode == "nearest":
        return np.clip(v, 0, length - 1)
    if mode == "reflect":
        period = 2 * length
        neg = np.floor(-v / period) * period + v
        neg = np.where(neg < -length, neg + period, -neg - 1)
        pos = v - np.floor(v / period) * period
        pos = np.where(pos >= length, period - pos - 1, pos)
    else:
        neg = v + length * (np.floor(-v / (length - 1)) + 1)
        pos = v - length * np.floor(v / (length - 1))
    return np.clip(np.where(v < 0, neg, np.where(v > length - 1, pos, v)), 0, length - 1)


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 255, size=(4, 9, 11, 3)).astype(np.float32)


# ------------------------------------------------------- layers vs NumPy (training)


def test_random_flip_matches_numpy(images):
    for mode in ("horizontal", "vertical", "horizontal_and_vertical"):
        layer = RandomFlip(mode, seed=3)
        for counter in range(2):
            got = to_numpy(layer(images, training=True))
            expected = images.copy()
            axes = {"horizontal": [2], "vertical": [1], "horizontal_and_vertical": [2, 1]}[mode]
            for stream, axis in enumerate(axes):
                flip = np_uniform((4,), 3, counter, stream=stream) < 0.5
                expected = np.where(flip[:, None, None, None], np.flip(expected, axis), expected)
            np.testing.assert_array_equal(got, expected)


def test_random_brightness_and_contrast_match_numpy(images):
    layer = RandomBrightness(0.3, seed=8)
    got = to_numpy(layer(images))
    delta = np_uniform((4,), 8, 0, -0.3 * 255, 0.3 * 255)
    np.testing.assert_allclose(got, np.clip(images + delta[:, None, None, None], 0, 255), rtol=1e-6, atol=1e-4)
    layer = RandomContrast((0.2, 0.5), value_range=(0, 200), seed=9)
    got = to_numpy(layer(images))
    factor = np_uniform((4,), 9, 0, 0.8, 1.5)[:, None, None, None]
    mean = images.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(got, np.clip((images - mean) * factor + mean, 0, 200), rtol=1e-5, atol=1e-3)


def test_random_crop_matches_numpy(images):
    layer = RandomCrop(5, 6, seed=4)
    got = to_numpy(layer(images, training=True))
    bits = (np_bits((4,), 4, 0, 0) >> 8)
    top = (bits * (9 - 5 + 1)) >> 24
    left = ((np_bits((4,), 4, 0, 1) >> 8) * (11 - 6 + 1)) >> 24
    expected = np.stack([images[b, top[b]:top[b] + 5, left[b]:left[b] + 6] for b in range(4)])
    np.testing.assert_array_equal(got, expected)
    assert len(set(zip(top.tolist(), left.tolist()))) > 1  # each image its own window


def test_geometric_layers_match_numpy(images):
    h, w = 9, 11
    rot = RandomRotation(0.2, fill_mode="constant", fill_value=7.0, seed=1)
    angle = np_uniform((4,), 1, 0, -0.2 * 2 * np.pi, 0.2 * 2 * np.pi).astype(np.float64)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    c, s = np.cos(angle), np.sin(angle)
    t = np.stack([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy, 0 * c, 0 * c], axis=1)
    np.testing.assert_allclose(to_numpy(rot(images)), np_affine(images, t, "bilinear", "constant", 7.0),
                               rtol=1e-4, atol=2e-2)
    tr = RandomTranslation((-0.2, 0.3), 0.25, fill_mode="wrap", interpolation="nearest", seed=2)
    dy = np_uniform((4,), 2, 0, -0.2, 0.3, stream=0) * h
    dx = np_uniform((4,), 2, 0, -0.25, 0.25, stream=1) * w
    t = np.stack([np.ones(4), 0 * dx, -dx, 0 * dx, np.ones(4), -dy, 0 * dx, 0 * dx], axis=1)
    np.testing.assert_allclose(to_numpy(tr(images)), np_affine(images, t, "nearest", "wrap"), rtol=1e-5, atol=1e-3)
    zoom = RandomZoom((-0.3, 0.2), (0.1, 0.4), fill_mode="reflect", seed=6)
    zy = np_uniform((4,), 6, 0, 0.7, 1.2, stream=0)
    zx = np_uniform((4,), 6, 0, 1.1, 1.4, stream=1)
    t = np.stack([zx, 0 * zx, (w - 1) / 2 * (1 - zx), 0 * zx, zy, (h - 1) / 2 * (1 - zy), 0 * zx, 0 * zx], axis=1)
    np.testing.assert_allclose(to_numpy(zoom(images)), np_affine(images, t, "bilinear", "reflect"),
                               rtol=1e-4, atol=2e-2)


def test_successive_training_calls_differ_and_inference_is_identity(images):
    for layer in (RandomFlip(seed=1), RandomRotation(0.3, seed=1), RandomTranslation(0.2, 0.2, seed=1),
                  RandomZoom(0.3, seed=1), RandomContrast(0.5, seed=1), RandomBrightness(0.4, seed=1),
                  RandomCrop(6, 6, seed=1)):
        a, b = to_numpy(layer(images, training=True)), to_numpy(layer(images, training=True))
        assert not np.array_equal(a, b), type(layer).__name__
        if not isinstance(layer, RandomCrop):
            np.testing.assert_array_equal(to_numpy(layer(images, training=False)), images)
            single = to_numpy(layer(images[0], training=True))
            assert single.shape == images.shape[1:]


def test_random_crop_inference_is_a_centred_aspect_crop_and_resize(images):
    out = to_numpy(RandomCrop(4, 8)(images, training=False))
    # 9x11 -> largest 4:8 window is 5x11 at row 2, resized to 4x8 (bilinear, half-pixel).
    window = images[:, 2:7]
    expected = to_numpy(hl.ops.resize(window, (4, 8)))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert to_numpy(RandomCrop(12, 12)(images, training=True)).shape == (4, 12, 12, 3)


def test_compiled_augmentation_equals_eager(images):
    eager_layer, graph_layer = RandomRotation(0.25, seed=21), RandomRotation(0.25, seed=21)
    step = hl.ops.compile_function(lambda x: graph_layer(x, training=True))
    x = hl.ops.convert_to_tensor(images)
    for _ in range(2):
        np.testing.assert_allclose(to_numpy(step(x)), to_numpy(eager_layer(images, training=True)), rtol=1e-5,
                                   atol=1e-3)


def test_gradients_flow_through_augmentation(images):
    layer = RandomZoom(0.2, fill_mode="nearest", seed=3)
    x = hl.ops.Variable(images[:1] / 255.0)
    weights = np.random.default_rng(1).normal(size=(1, 9, 11, 3)).astype(np.float32)
    # The output is linear in the images: the gradient of sum(w * f(x)) is f's transpose applied to w,
    # found here by finite differences at a few pixels (f linear: exact up to rounding).
    state = np.array([layer.seed_generator.seed, 0])

    def loss():
        return hl.ops.sum(hl.ops.multiply(layer.augment(x.value, state), weights))

    _, (grad,) = hl.ops.value_and_grad(loss, [x])
    grad = to_numpy(grad)
    base = images[:1] / 255.0
    for (i, j, ch) in [(0, 0, 0), (4, 5, 1), (8, 10, 2)]:
        bumped = base.copy()
        bumped[0, i, j, ch] += 1.0
        diff = float(to_numpy(hl.ops.sum(hl.ops.multiply(layer.augment(bumped, state), weights)))) - \
            float(to_numpy(hl.ops.sum(hl.ops.multiply(layer.augment(base, state), weights))))
        assert abs(grad[0, i, j, ch] - diff) < 1e-3


# ------------------------------------------------------------------ against Keras


def keras_layers():
    return pytest.importorskip("keras").layers


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_fixed_parameter_geometry_matches_keras(images, fill_mode, interpolation):
    kl = keras_layers()
    kwargs = dict(fill_mode=fill_mode, interpolation=interpolation, fill_value=3.0)
    pairs = [(RandomRotation((0.1, 0.1), **kwargs), kl.RandomRotation((0.1, 0.1), **kwargs)),
             (RandomTranslation((0.2, 0.2), (-0.3, -0.3), **kwargs),
              kl.RandomTranslation((0.2, 0.2), (-0.3, -0.3), **kwargs)),
             (RandomZoom((-0.3, -0.3), (0.2, 0.2), **kwargs), kl.RandomZoom((-0.3, -0.3), (0.2, 0.2), **kwargs))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(to_numpy(ours(images, training=True)),
                                   np.asarray(theirs(images, training=True)), rtol=1e-4, atol=2e-2,
                                   err_msg=type(ours).__name__)


def test_fixed_parameter_color_and_crop_match_keras(images):
    kl = keras_layers()
    np.testing.assert_allclose(to_numpy(RandomBrightness((0.1, 0.1))(images)),
                               np.asarray(kl.RandomBrightness((0.1, 0.1))(images, training=True)), rtol=1e-6,
                               atol=1e-3)
    # (lower, upper) = (-0.3, 0.3): the contrast factor is fixed at 1.3 in both.
    np.testing.assert_allclose(to_numpy(RandomContrast((-0.3, 0.3))(images)),
                               np.asarray(kl.RandomContrast((-0.3, 0.3))(images, training=True)), rtol=1e-5,
                               atol=1e-3)
    crop = kl.RandomCrop(9, 11)
    np.testing.assert_array_equal(to_numpy(RandomCrop(9, 11)(images, training=True)),
                                  np.asarray(crop(images, training=True)))


# ------------------------------------------------------------- models, configs, errors


def test_model_with_augmentation_trains_with_fit_and_advances_the_seed_state():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(64, 8, 8, 1)).astype(np.float32)
    y = (x[:, :, :4].mean(axis=(1, 2, 3)) > x[:, :, 4:].mean(axis=(1, 2, 3))).astype(np.int32)
    flip = RandomFlip("vertical", seed=1)
    model = hl.Sequential([Input((8, 8, 1)), flip, RandomTranslation(0.1, 0.0, fill_mode="nearest", seed=2),
                           RandomBrightness(0.05, value_range=(0, 1), seed=3), Flatten(), Dense(2)])
    model.compile(optimizer="adam", loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    assert to_numpy(flip.seed_generator.state.value)[1] == 6 * 4  # one draw per training step
    before = to_numpy(flip.seed_generator.state.value).copy()
    np.testing.assert_array_equal(to_numpy(model.predict(x, verbose=0)), to_numpy(model.predict(x, verbose=0)))
    np.testing.assert_array_equal(to_numpy(flip.seed_generator.state.value), before)  # inference draws nothing
    assert not any("seed" in w.path for w in model.weights)


LAYERS = [RandomFlip("horizontal", seed=1), RandomRotation((-0.1, 0.2), fill_mode="wrap", seed=2),
          RandomTranslation(0.1, (0.0, 0.3), interpolation="nearest", seed=3), RandomZoom(0.2, 0.1, seed=4),
          RandomCrop(4, 5, seed=5), RandomContrast(0.4, value_range=(0, 1), seed=6),
          RandomBrightness((-0.1, 0.3), seed=7)]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: type(l).__name__)
def test_config_round_trip_and_functional_shapes(layer, images):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    np.testing.assert_array_equal(to_numpy(clone(images, training=True)), to_numpy(
        type(layer).from_config(config)(images, training=True)))
    inputs = Input((9, 11, 3))
    out = layer(inputs)
    expected = (None, 4, 5, 3) if isinstance(layer, RandomCrop) else (None, 9, 11, 3)
    assert tuple(out.shape) == expected
    assert layer.compute_output_shape((2, 9, 11, 3)) == (2,) + expected[1:]


def test_errors_name_the_layer_and_values():
    with pytest.raises(ValueError, match="RandomFlip.*mode.*diagonal"):
        RandomFlip("diagonal")
    with pytest.raises(ValueError, match="RandomRotation.*factor"):
        RandomRotation(1.5)
    with pytest.raises(ValueError, match="RandomRotation.*fill_mode.*mirror"):
        RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="RandomZoom.*interpolation"):
        RandomZoom(0.1, interpolation="bicubic")
    with pytest.raises(ValueError, match="RandomCrop.*height"):
        RandomCrop(0, 3)
    with pytest.raises(ValueError, match="RandomContrast.*factor"):
        RandomContrast(-0.2)
    with pytest.raises(ValueError, match="RandomBrightness.*value_range"):
        RandomBrightness(0.1, value_range=3)
    with pytest.raises(ValueError, match="seed"):
        RandomFlip(seed=-3)
    with pytest.raises(ValueError, match=r"RandomFlip.*rank 3.*\(2, 3\)"):
        RandomFlip()(np.zeros((2, 3), np.float32))
