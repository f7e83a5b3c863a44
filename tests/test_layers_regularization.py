"""Regularization layers: SpatialDropout1D/2D, GaussianNoise, GaussianDropout,
ActivityRegularization.

Noise layers: the identity in inference; in training, the structure of the noise
(whole channels dropped, survivors scaled by 1 / (1 - rate)), its statistics on large
tensors, seeded repeatability, gradients (the noise itself), configs and errors.
ActivityRegularization: its penalty against the closed form and Keras, and its share of
the training loss.
"""

import json

import numpy as np
import pytest

import highlevel as hl
from highlevel.layers import (ActivityRegularization, Dense, GaussianDropout, GaussianNoise, Input, SpatialDropout1D,
                              SpatialDropout2D)


@pytest.fixture(autouse=True)
def seeded():
    hl.utils.set_random_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def to_numpy(x):
    return np.asarray(hl.ops.convert_to_numpy(x))


def f32(a):
    return np.asarray(a, dtype=np.float32)


# ----------------------------------------------------------------- spatial dropout


def check_channel_dropout(x, y, rate, channel_axis, map_axes):
    """Every (sample, channel) map is either all zero or all x / (1 - rate); about ``rate`` are dropped."""
    kept = y != 0
    per_map = kept.all(axis=map_axes) | ~kept.any(axis=map_axes)
    assert per_map.all(), "a feature map was partly dropped"
    keep = kept.any(axis=map_axes)  # (batch, channels)
    expanded = np.expand_dims(keep, map_axes) if channel_axis == -1 else keep.reshape(keep.shape + (1,) * 2)
    np.testing.assert_allclose(y, np.where(expanded, x / (1 - rate), 0), rtol=1e-6)
    drop_fraction = 1 - keep.mean()
    assert abs(drop_fraction - rate) < 4 * np.sqrt(rate * (1 - rate) / keep.size)


def test_spatial_dropout_1d_drops_whole_channels(rng):
    x = f32(rng.uniform(0.5, 1.5, size=(64, 7, 32)))
    layer = SpatialDropout1D(0.3)
    np.testing.assert_array_equal(to_numpy(layer(x)), x)  # inference: the identity
    y = to_numpy(layer(x, training=True))
    check_channel_dropout(x, y, 0.3, -1, (1,))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_spatial_dropout_2d_drops_whole_feature_maps(data_format, rng):
    shape = (32, 5, 4, 24) if data_format == "channels_last" else (32, 24, 5, 4)
    x = f32(rng.uniform(0.5, 1.5, size=shape))
    layer = SpatialDropout2D(0.5, data_format=data_format)
    y = to_numpy(layer(x, training=True))
    if data_format == "channels_last":
        check_channel_dropout(x, y, 0.5, -1, (1, 2))
    else:
        check_channel_dropout(x, y, 0.5, 1, (2, 3))


def test_spatial_dropout_seed_gradient_config_and_errors(rng):
    x = f32(rng.uniform(0.5, 1.5, size=(8, 5, 16)))
    a, b = SpatialDropout1D(0.4, seed=7), SpatialDropout1D(0.4, seed=7)
    first = to_numpy(a(x, training=True))
    np.testing.assert_array_equal(first, to_numpy(b(x, training=True)))  # same seed, same sequence
    assert not np.array_equal(first, to_numpy(a(x, training=True)))  # the next call draws a new mask
    # Gradient: the mask scaled by 1 / (1 - rate).
    v = hl.Variable(x)
    layer = SpatialDropout1D(0.4, seed=3)
    _, (g,) = hl.ops.value_and_grad(lambda: hl.ops.sum(layer(v, training=True)), [v])
    g = to_numpy(g)
    assert np.all(np.isclose(g, 0.0) | np.isclose(g, 1 / 0.6, rtol=1e-6))
    assert (g == g[:, :1, :]).all()  # constant over steps
    config = json.loads(json.dumps(SpatialDropout2D(0.2, data_format="channels_first", seed=1,
                                                    name="sd").get_config()))
    assert config["rate"] == 0.2 and config["seed"] == 1 and "noise_shape" not in config
    assert SpatialDropout2D.from_config(config).get_config() == config
    assert SpatialDropout1D.from_config(SpatialDropout1D(0.1).get_config()).rate == 0.1
    assert SpatialDropout2D(0.1)(Input((4, 4, 3))).shape == (None, 4, 4, 3)
    with pytest.raises(ValueError, match=r'spatial_1d.*expected ndim=3, found ndim=2'):
        SpatialDropout1D(0.1, name="spatial_1d")(f32(rng.normal(size=(2, 3))))
    with pytest.raises(ValueError, match="rate must be a float in"):
        SpatialDropout2D(1.5)
    with pytest.raises(ValueError, match="data_format"):
        SpatialDropout2D(0.1, data_format="nchw")


# ----------------------------------------------------------------- Gaussian noise


def test_gaussian_noise_statistics_seed_and_gradient(rng):
    x = f32(rng.normal(size=(200, 250)))
    layer = GaussianNoise(0.3)
    np.testing.assert_array_equal(to_numpy(layer(x)), x)
    noise = to_numpy(layer(x, training=True)) - x
    assert abs(noise.mean()) < 4 * 0.3 / np.sqrt(noise.size)
    assert noise.std() == pytest.approx(0.3, rel=0.02)
    assert abs(np.corrcoef(noise.ravel(), x.ravel())[0, 1]) < 0.02  # independent of the input
    a, b = GaussianNoise(0.1, seed=5), GaussianNoise(0.1, seed=5)
    np.testing.assert_array_equal(to_numpy(a(x, training=True)), to_numpy(b(x, training=True)))
    v = hl.Variable(x[:4])
    _, (g,) = hl.ops.value_and_grad(lambda: hl.ops.sum(layer(v, training=True)), [v])
    np.testing.assert_array_equal(to_numpy(g), 1.0)


def test_gaussian_dropout_statistics_seed_and_gradient(rng):
    x = f32(rng.uniform(1.0, 2.0, size=(200, 250)))
    rate = 0.2
    layer = GaussianDropout(rate)
    np.testing.assert_array_equal(to_numpy(layer(x)), x)
    factor = to_numpy(layer(x, training=True)) / x
    stddev = np.sqrt(rate / (1 - rate))
    assert abs(factor.mean() - 1.0) < 4 * stddev / np.sqrt(factor.size)  # unbiased: E[output] = x
    assert factor.std() == pytest.approx(stddev, rel=0.02)
    a, b = GaussianDropout(rate, seed=5), GaussianDropout(rate, seed=5)
    np.testing.assert_array_equal(to_numpy(a(x, training=True)), to_numpy(b(x, training=True)))
    # The gradient is the multiplicative noise itself.
    small = x[:3, :4]
    v = hl.Variable(small)
    seeded_layer = GaussianDropout(rate, seed=11)
    _, (g,) = hl.ops.value_and_grad(lambda: hl.ops.sum(seeded_layer(v, training=True)), [v])
    again = GaussianDropout(rate, seed=11)
    np.testing.assert_allclose(to_numpy(g), to_numpy(again(small, training=True)) / small, rtol=1e-5)


@pytest.mark.parametrize("make", [lambda: GaussianNoise(0.5, seed=2), lambda: GaussianDropout(0.3, seed=2),
                                  lambda: SpatialDropout1D(0.5, seed=2)], ids=["noise", "gdropout", "spatial"])
def test_seeded_noise_is_fresh_on_each_compiled_step_and_repeats_the_eager_sequence(make, rng):
    x = hl.ops.convert_to_tensor(f32(rng.uniform(1.0, 2.0, size=(4, 3, 8))))
    eager = make()
    expected = [to_numpy(eager(x, training=True)) for _ in range(2)]
    layer = make()
    step = hl.ops.compile_function(lambda t: layer(t, training=True))
    got = [to_numpy(step(x)) for _ in range(2)]
    assert not np.allclose(got[0], got[1])  # the seed state advanced inside the compiled step
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_noise_configs_and_errors():
    for layer in (GaussianNoise(0.2, seed=3, name="gn"), GaussianDropout(0.4, name="gd")):
        config = json.loads(json.dumps(layer.get_config()))
        assert type(layer).from_config(config).get_config() == config
        again = hl.layers.deserialize(json.loads(json.dumps(hl.layers.serialize(layer))))
        assert type(again) is type(layer)
    assert GaussianNoise(0.1)(Input((3, 2))).shape == (None, 3, 2)
    with pytest.raises(ValueError, match=r"GaussianNoise .*stddev must be a float in \[0, 1\], got stddev=2"):
        GaussianNoise(2)
    with pytest.raises(ValueError, match=r"GaussianDropout .*rate must be a float in \[0, 1\), got rate=1"):
        GaussianDropout(1)
    with pytest.raises(ValueError, match="seed must be an int"):
        GaussianNoise(0.1, seed="x")


# ----------------------------------------------------------------- ActivityRegularization


def test_activity_regularization_penalty_matches_closed_form_and_keras(rng):
    x = f32(rng.normal(size=(4, 5)))
    layer = ActivityRegularization(l1=0.01, l2=0.1)
    np.testing.assert_array_equal(to_numpy(layer(x)), x)
    (penalty,) = layer.losses
    expected = (0.01 * np.abs(x).sum() + 0.1 * (x ** 2).sum()) / 4
    assert float(to_numpy(penalty)) == pytest.approx(expected, rel=1e-5)
    keras = pytest.importorskip("keras")
    theirs = keras.layers.ActivityRegularization(l1=0.01, l2=0.1)
    theirs(x)
    assert float(to_numpy(penalty)) == pytest.approx(float(np.asarray(theirs.losses[0])), rel=1e-5)
    config = json.loads(json.dumps(layer.get_config()))
    assert config["l1"] == 0.01 and config["l2"] == 0.1 and "activity_regularizer" not in config
    assert ActivityRegularization.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="l2 must be a non-negative float"):
        ActivityRegularization(l2=-1.0)


def test_activity_regularization_adds_to_the_training_loss(rng):
    x = f32(rng.normal(size=(8, 3)))
    y = np.zeros((8, 3), np.float32)
    model = hl.Sequential([Input((3,)), ActivityRegularization(l2=0.5)])
    model.compile(optimizer="sgd", loss="mse")
    loss = model.evaluate(x, y, batch_size=8, verbose=0)
    assert loss == pytest.approx(float((x ** 2).mean() + 0.5 * (x ** 2).sum() / 8), rel=1e-5)


def test_model_with_regularization_layers_trains(rng):
    x = f32(rng.normal(size=(64, 6, 4)))
    y = f32(x.sum(axis=(1, 2))[:, None] / 4)
    model = hl.Sequential([Input((6, 4)), Dense(8, activation="relu"), SpatialDropout1D(0.1), GaussianNoise(0.05),
                           GaussianDropout(0.1), ActivityRegularization(l2=1e-4), hl.layers.Flatten(), Dense(1)])
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=0.01), loss="mse")
    losses = model.fit(x, y, batch_size=16, epochs=10, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    # Inference is deterministic: the noise layers are the identity.
    np.testing.assert_array_equal(to_numpy(model.predict(x, verbose=0)), to_numpy(model.predict(x, verbose=0)))
