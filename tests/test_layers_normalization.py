"""Normalization layers against the textbook equations written in NumPy, and against Keras.

BatchNormalization in training mode (batch statistics, moving-statistics updates) and
inference mode, its gradients (NumPy backprop and finite differences), updates inside
``value_and_grad``, compiled steps and ``fit``, freezing, masks; LayerNormalization,
GroupNormalization and UnitNormalization forward and gradient; configs, functional shape
inference and errors.
"""

import json

import numpy as np
import pytest

import highlevel as hl
from highlevel.layers import (BatchNormalization, Dense, GroupNormalization, Input, LayerNormalization,
                              UnitNormalization)


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


# ----------------------------------------------------------------- NumPy references


def bn_numpy(x, gamma, beta, mean, var, axis=-1, eps=1e-3):
    shape = [1] * x.ndim
    shape[axis] = -1
    r = lambda v: np.reshape(v, shape)  # noqa: E731
    return (x - r(mean)) / np.sqrt(r(var) + eps) * r(gamma) + r(beta)


def batch_stats(x, axis=-1):
    axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    return x.mean(axis=axes), x.var(axis=axes)


def ln_numpy(x, gamma, beta, axes, eps=1e-3):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    out = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    return out


def gn_numpy(x, gamma, beta, groups, eps=1e-3):
    """Channels last: (N, ..., C) -> groups of C // groups channels, statistics over (..., group)."""
    n, c = x.shape[0], x.shape[-1]
    g = x.reshape(x.shape[:-1] + (groups, c // groups))
    axes = tuple(range(1, g.ndim - 2)) + (g.ndim - 1,)
    mean = g.mean(axis=axes, keepdims=True)
    var = g.var(axis=axes, keepdims=True)
    out = ((g - mean) / np.sqrt(var + eps)).reshape(x.shape)
    return out * gamma + beta


def unit_numpy(x, axes):
    return x / np.sqrt((x ** 2).sum(axis=axes, keepdims=True))


def finite_difference(fn, arrays, index, eps=1e-3):
    """Central differences of the float64 scalar ``fn(*arrays)`` with respect to ``arrays[index]``."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    target = arrays[index]
    grad = np.zeros_like(target)
    for i in np.ndindex(target.shape):
        old = target[i]
        target[i] = old + eps
        plus = fn(*arrays)
        target[i] = old - eps
        minus = fn(*arrays)
        target[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def grads_of(layer, x, weight, training):
    """``d sum(layer(x) * weight) / d(x, trainable weights...)`` through ``hl.ops.value_and_grad``."""
    xv = hl.Variable(f32(x))
    variables = [xv] + list(layer.trainable_weights)

    def loss():
        return hl.ops.sum(hl.ops.multiply(layer(xv, training=training), weight))

    value, grads = hl.ops.value_and_grad(loss, variables)
    return float(to_numpy(value)), [to_numpy(g) for g in grads]


# ----------------------------------------------------------------- BatchNormalization


@pytest.mark.parametrize("shape, axis", [((16, 5), -1), ((4, 3, 3, 6), -1), ((4, 6, 3, 3), 1)])
def test_batch_norm_training_and_inference_match_numpy(shape, axis, rng):
    x = f32(rng.normal(2.0, 3.0, size=shape))
    layer = BatchNormalization(axis=axis, momentum=0.9)
    layer.build(x.shape)
    c = shape[axis]
    gamma, beta = f32(rng.uniform(0.5, 1.5, c)), f32(rng.normal(size=c))
    mm, mv = f32(rng.normal(size=c)), f32(rng.uniform(0.5, 2.0, c))
    layer.set_weights([gamma, beta, mm, mv])
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]

    # Inference (the default): the moving statistics, nothing updated.
    np.testing.assert_allclose(to_numpy(layer(x)), bn_numpy(x, gamma, beta, mm, mv, axis), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.get_weights()[2], mm)

    # Training: batch statistics, moving = moving * momentum + batch * (1 - momentum).
    mean, var = batch_stats(x.astype(np.float64), axis)
    y = to_numpy(layer(x, training=True))
    np.testing.assert_allclose(y, bn_numpy(x, gamma, beta, mean, var, axis), rtol=1e-4, atol=1e-4)
    _, _, new_mm, new_mv = layer.get_weights()
    np.testing.assert_allclose(new_mm, mm * 0.9 + mean * 0.1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new_mv, mv * 0.9 + var * 0.1, rtol=1e-5, atol=1e-5)
    # A second training call updates again from the new values.
    layer(x, training=True)
    np.testing.assert_allclose(layer.get_weights()[2], new_mm * 0.9 + mean * 0.1, rtol=1e-5, atol=1e-5)


def test_batch_norm_without_center_and_scale(rng):
    x = f32(rng.normal(size=(8, 3)))
    layer = BatchNormalization(center=False, scale=False, epsilon=1e-5)
    y = to_numpy(layer(x, training=True))
    assert [w.name for w in layer.weights] == ["moving_mean", "moving_variance"] and not layer.trainable_weights
    mean, var = batch_stats(x.astype(np.float64))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-4)


def test_batch_norm_gradients_match_numpy_backprop_and_finite_differences(rng):
    x = f32(rng.normal(1.0, 2.0, size=(6, 4)))
    w = f32(rng.normal(size=(6, 4)))
    layer = BatchNormalization()
    layer.build(x.shape)
    gamma, beta = f32(rng.uniform(0.5, 1.5, 4)), f32(rng.normal(size=4))
    layer.set_weights([gamma, beta, np.zeros(4, np.float32), np.ones(4, np.float32)])
    value, (gx, ggamma, gbeta) = grads_of(layer, x, w, training=True)

    # Textbook backprop: xhat = (x - mu) / s; dx = gamma / (N s) * (N dy - sum dy - xhat sum(dy xhat)).
    xd = x.astype(np.float64)
    mu, var = batch_stats(xd)
    s = np.sqrt(var + 1e-3)
    xhat = (xd - mu) / s
    n = xd.shape[0]
    dx = gamma / (n * s) * (n * w - w.sum(0) - xhat * (w * xhat).sum(0))
    np.testing.assert_allclose(gx, dx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ggamma, (w * xhat).sum(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gbeta, w.sum(0), rtol=1e-5, atol=1e-5)
    assert value == pytest.approx(float((w * (xhat * gamma + beta)).sum()), rel=1e-4, abs=1e-4)

    def loss(x_, g_, b_):
        m, v = batch_stats(x_)
        return float((w * ((x_ - m) / np.sqrt(v + 1e-3) * g_ + b_)).sum())

    np.testing.assert_allclose(gx, finite_difference(loss, [x, gamma, beta], 0), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(ggamma, finite_difference(loss, [x, gamma, beta], 1), rtol=2e-3, atol=2e-3)

    # Inference mode: a fixed affine map, dx = w * gamma / sqrt(moving_var + eps).
    _, (gx_inf, _, _) = grads_of(layer, x, w, training=False)
    mv = layer.get_weights()[3]
    np.testing.assert_allclose(gx_inf, w * gamma / np.sqrt(mv + 1e-3), rtol=1e-5, atol=1e-5)


def test_batch_norm_updates_inside_value_and_grad_and_gives_no_gradient_to_moving_stats(rng):
    x = f32(rng.normal(3.0, 2.0, size=(10, 3)))
    layer = BatchNormalization(momentum=0.5)
    layer.build(x.shape)
    variables = layer.weights  # the moving statistics too: their gradient must be zero

    def loss():
        return hl.ops.sum(hl.ops.square(layer(x, training=True)))

    _, grads = hl.ops.value_and_grad(loss, variables)
    mean, var = batch_stats(x.astype(np.float64))
    np.testing.assert_allclose(to_numpy(grads[2]), 0.0)
    np.testing.assert_allclose(to_numpy(grads[3]), 0.0)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 + 0.5 * var, rtol=1e-5, atol=1e-5)


def test_batch_norm_updates_inside_a_compiled_step(rng):
    x = f32(rng.normal(-1.0, 0.5, size=(12, 4)))
    layer = BatchNormalization(momentum=0.8)
    layer.build(x.shape)
    variables = layer.trainable_weights

    def step(inputs):
        def loss():
            return hl.ops.mean(hl.ops.square(layer(inputs, training=True)))
        value, grads = hl.ops.value_and_grad(loss, variables)
        return value

    compiled = hl.ops.compile_function(step)
    tensor = hl.ops.convert_to_tensor(x)
    compiled(tensor)
    compiled(tensor)
    mean, var = batch_stats(x.astype(np.float64))
    # Two updates: m2 = 0.64 m0 + (0.16 + 0.2) batch.
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.36 * mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.64 + 0.36 * var, rtol=1e-5, atol=1e-5)


def test_frozen_batch_norm_runs_in_inference_mode_and_does_not_update(rng):
    x = f32(rng.normal(2.0, 1.0, size=(8, 3)))
    layer = BatchNormalization()
    layer.build(x.shape)
    before = layer.get_weights()
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    y = to_numpy(layer(x, training=True))
    np.testing.assert_allclose(y, bn_numpy(x, *before), rtol=1e-5, atol=1e-5)
    for got, want in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    # Unfreezing restores training behaviour and trainability of gamma/beta only.
    layer.trainable = True
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    layer(x, training=True)
    assert not np.allclose(layer.get_weights()[2], before[2])


def test_batch_norm_mask_excludes_entries_from_the_statistics(rng):
    x = f32(rng.normal(size=(3, 5, 2)))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
    layer = BatchNormalization(momentum=0.0)
    layer.build(x.shape)
    y = to_numpy(layer(x, training=True, mask=mask))
    kept = x[mask]  # (entries, channels)
    mean, var = kept.mean(0), kept.var(0)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), var, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="one dimension less"):
        layer(x, training=True, mask=np.ones((3, 5, 2), bool))


def make_bn_model(lib, layers):
    return lib.Sequential([lib.Input((4,)), layers.Dense(6), layers.BatchNormalization(momentum=0.9),
                           layers.Dense(1)])


def test_batch_norm_model_fit_step_matches_keras(rng):
    keras = pytest.importorskip("keras")
    x = f32(rng.normal(1.0, 2.0, size=(16, 4)))
    y = f32(rng.normal(size=(16, 1)))
    theirs = make_bn_model(keras, keras.layers)
    ours = make_bn_model(hl, hl.layers)
    ours.set_weights(theirs.get_weights())
    for model, lib in ((ours, hl), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1), loss="mse")
    # Inference and training outputs before any step.
    np.testing.assert_allclose(to_numpy(ours(x)), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(ours(x, training=True)), np.asarray(theirs(x, training=True)),
                               rtol=1e-4, atol=1e-5)
    ours.set_weights(theirs.get_weights())  # the training calls above updated both; start level
    ours.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    names = [w.path for w in theirs.weights]
    for name, got, want in zip(names, ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(to_numpy(ours.predict(x, verbose=0)), theirs.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_model_with_batch_norm_trains_and_loss_decreases(rng):
    x = f32(rng.normal(5.0, 3.0, size=(64, 4)))
    y = f32((x[:, :1] - 5.0) / 3.0 - (x[:, 1:2] - 5.0) / 3.0)
    model = hl.Sequential([Input((4,)), Dense(8, activation="relu"), BatchNormalization(), Dense(1)])
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=0.02), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    bn = model.layers[1]
    # The moving statistics moved towards the Dense outputs' statistics.
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)
    # A frozen model: fit leaves every BatchNormalization weight alone.
    bn.trainable = False
    model.compile(optimizer="adam", loss="mse")
    before = bn.get_weights()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for got, want in zip(bn.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_batch_norm_config_shape_inference_and_errors(rng):
    layer = BatchNormalization(axis=1, momentum=0.8, epsilon=1e-4, center=False, gamma_regularizer="l2",
                               name="bn_cfg")
    config = json.loads(json.dumps(layer.get_config()))
    clone = BatchNormalization.from_config(config)
    assert clone.get_config() == config and clone.axis == 1 and clone.momentum == 0.8
    again = hl.layers.deserialize(json.loads(json.dumps(hl.layers.serialize(layer))))
    assert isinstance(again, BatchNormalization) and again.epsilon == 1e-4
    inputs = Input((5, 3))
    out = BatchNormalization(axis=1)(inputs)
    assert out.shape == (None, 5, 3)
    with pytest.raises(ValueError, match=r"BatchNormalization .*axis 3 is out of bounds.*\(None, 5, 3\)"):
        BatchNormalization(axis=3)(inputs)
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=2.0)
    with pytest.raises(ValueError, match="renorm"):
        BatchNormalization(renorm=True)
    built = BatchNormalization(name="bn_rank")
    built(f32(rng.normal(size=(2, 3))))
    with pytest.raises(ValueError, match=r'bn_rank.*expected ndim=2, found ndim=3'):
        built(f32(rng.normal(size=(2, 3, 3))))
    with pytest.raises(ValueError, match=r"bn_rank.*axis -1 of input shape to have value 3"):
        built(f32(rng.normal(size=(2, 4))))


def test_batch_norm_matches_keras_layer_in_both_modes(rng):
    keras = pytest.importorskip("keras")
    x = f32(rng.normal(1.0, 2.0, size=(5, 3, 4)))
    theirs = keras.layers.BatchNormalization(momentum=0.7, epsilon=1e-2)
    theirs.build(x.shape)
    theirs.set_weights([f32(rng.uniform(0.5, 1.5, 4)), f32(rng.normal(size=4)), f32(rng.normal(size=4)),
                        f32(rng.uniform(0.5, 2.0, 4))])
    ours = BatchNormalization(momentum=0.7, epsilon=1e-2)
    ours.build(x.shape)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(x)), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(ours(x, training=True)), np.asarray(theirs(x, training=True)),
                               rtol=1e-4, atol=1e-5)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- LayerNormalization


@pytest.mark.parametrize("axis, shape", [(-1, (4, 6)), (-1, (2, 3, 5)), ([1, 2], (2, 3, 4)), (1, (2, 3, 4))])
def test_layer_norm_matches_numpy(axis, shape, rng):
    x = f32(rng.normal(1.0, 2.0, size=shape))
    layer = LayerNormalization(axis=axis)
    layer.build(shape)
    axes = tuple(a % len(shape) for a in (axis if isinstance(axis, list) else [axis]))
    wshape = tuple(shape[a] for a in axes)
    gamma, beta = f32(rng.uniform(0.5, 1.5, wshape)), f32(rng.normal(size=wshape))
    layer.set_weights([gamma, beta])
    assert [w.name for w in layer.weights] == ["gamma", "beta"]
    np.testing.assert_allclose(to_numpy(layer(x)), ln_numpy(x, gamma, beta, axes), rtol=1e-4, atol=1e-4)


def test_layer_norm_options_and_gradient(rng):
    x = f32(rng.normal(size=(3, 5)))
    plain = LayerNormalization(center=False, scale=False, epsilon=1e-5)
    np.testing.assert_allclose(to_numpy(plain(x)), ln_numpy(x, None, None, (1,), 1e-5), rtol=1e-4, atol=1e-4)
    assert plain.weights == []
    rms = LayerNormalization(rms_scaling=True)
    rms.build(x.shape)
    gamma = f32(rng.uniform(0.5, 1.5, 5))
    rms.set_weights([gamma])
    assert [w.name for w in rms.weights] == ["gamma"]
    # Keras 3's definition: divided by sqrt(variance + epsilon), no centering.
    np.testing.assert_allclose(to_numpy(rms(x)), x / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * gamma,
                               rtol=1e-4, atol=1e-4)

    layer = LayerNormalization()
    layer.build(x.shape)
    beta = f32(rng.normal(size=5))
    layer.set_weights([gamma, beta])
    w = f32(rng.normal(size=x.shape))
    _, (gx, ggamma, gbeta) = grads_of(layer, x, w, training=False)

    def loss(x_, g_, b_):
        return float((w * ln_numpy(x_, g_, b_, (1,))).sum())

    for i, got in enumerate((gx, ggamma, gbeta)):
        np.testing.assert_allclose(got, finite_difference(loss, [x, gamma, beta], i), rtol=2e-3, atol=2e-3)


def test_layer_norm_matches_keras(rng):
    keras = pytest.importorskip("keras")
    x = f32(rng.normal(size=(2, 3, 4)))
    for kwargs in ({"axis": -1}, {"axis": [1, 2], "epsilon": 1e-5}, {"center": False}):
        theirs = keras.layers.LayerNormalization(**kwargs)
        theirs.build(x.shape)
        theirs.set_weights([f32(rng.normal(size=w.shape)) for w in theirs.weights])
        ours = LayerNormalization(**kwargs)
        ours.build(x.shape)
        ours.set_weights(theirs.get_weights())
        np.testing.assert_allclose(to_numpy(ours(x)), np.asarray(theirs(x)), rtol=1e-4, atol=1e-5)


def test_layer_norm_config_shape_and_errors():
    layer = LayerNormalization(axis=[1, 2], epsilon=1e-6, beta_initializer="ones", name="ln_cfg")
    config = json.loads(json.dumps(layer.get_config()))
    clone = LayerNormalization.from_config(config)
    assert clone.get_config() == config and clone.axis == [1, 2]
    inputs = Input((3, 4))
    assert LayerNormalization(axis=[1, 2])(inputs).shape == (None, 3, 4)
    with pytest.raises(ValueError, match=r"LayerNormalization .*axis 3 is out of bounds.*\(None, 3, 4\)"):
        LayerNormalization(axis=3)(inputs)
    with pytest.raises(ValueError, match="axis must be an int"):
        LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="must have defined sizes"):
        LayerNormalization(axis=1)(Input((None, 4)))


# ----------------------------------------------------------------- GroupNormalization


@pytest.mark.parametrize("groups", [1, 2, 4, -1])
def test_group_norm_matches_numpy(groups, rng):
    x = f32(rng.normal(1.0, 2.0, size=(2, 3, 3, 4)))
    layer = GroupNormalization(groups=groups)
    layer.build(x.shape)
    gamma, beta = f32(rng.uniform(0.5, 1.5, 4)), f32(rng.normal(size=4))
    layer.set_weights([gamma, beta])
    expected = gn_numpy(x.astype(np.float64), gamma, beta, 4 if groups == -1 else groups)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-4, atol=1e-4)


def test_group_norm_channels_first_gradient_and_keras(rng):
    x = f32(rng.normal(size=(2, 4, 3)))  # (batch, channels, steps), axis=1
    layer = GroupNormalization(groups=2, axis=1)
    layer.build(x.shape)
    gamma, beta = f32(rng.uniform(0.5, 1.5, 4)), f32(rng.normal(size=4))
    layer.set_weights([gamma, beta])

    def reference(x_, g_, b_):
        moved = np.moveaxis(x_, 1, -1)
        return np.moveaxis(gn_numpy(moved, g_, b_, 2), -1, 1)

    np.testing.assert_allclose(to_numpy(layer(x)), reference(x, gamma, beta), rtol=1e-4, atol=1e-4)
    w = f32(rng.normal(size=x.shape))
    _, grads = grads_of(layer, x, w, training=False)
    for i, got in enumerate(grads):
        fd = finite_difference(lambda *a: float((w * reference(*a)).sum()), [x, gamma, beta], i)
        np.testing.assert_allclose(got, fd, rtol=2e-3, atol=2e-3)
    keras = pytest.importorskip("keras")
    theirs = keras.layers.GroupNormalization(groups=2, axis=1)
    theirs.build(x.shape)
    theirs.set_weights([gamma, beta])
    np.testing.assert_allclose(to_numpy(layer(x)), np.asarray(theirs(x)), rtol=1e-4, atol=1e-5)


def test_group_norm_config_and_errors():
    layer = GroupNormalization(groups=4, epsilon=1e-5, name="gn_cfg")
    config = json.loads(json.dumps(layer.get_config()))
    assert GroupNormalization.from_config(config).get_config() == config
    assert GroupNormalization(groups=2)(Input((5, 4))).shape == (None, 5, 4)
    with pytest.raises(ValueError, match=r"GroupNormalization .*channels \(6\) must be a multiple of the number "
                                         r"of groups \(4\)"):
        GroupNormalization(groups=4)(Input((5, 6)))
    with pytest.raises(ValueError, match=r"groups \(8\) cannot be more than the number of channels \(4\)"):
        GroupNormalization(groups=8)(Input((5, 4)))
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        GroupNormalization(groups=0)


# ----------------------------------------------------------------- UnitNormalization


def test_unit_norm_forward_gradient_keras_and_config(rng):
    x = f32(rng.normal(size=(3, 4, 5)))
    for axis in (-1, [1, 2]):
        axes = (2,) if axis == -1 else (1, 2)
        layer = UnitNormalization(axis=axis)
        y = to_numpy(layer(x))
        np.testing.assert_allclose(y, unit_numpy(x, axes), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.sqrt((y ** 2).sum(axis=axes)), 1.0, rtol=1e-5)
    w = f32(rng.normal(size=x.shape))
    _, (gx,) = grads_of(UnitNormalization(), x, w, training=False)
    fd = finite_difference(lambda a: float((w * unit_numpy(a, (2,))).sum()), [x], 0)
    np.testing.assert_allclose(gx, fd, rtol=2e-3, atol=2e-3)
    # An all-zero vector stays zero (the inverse norm is capped).
    zeros = to_numpy(UnitNormalization()(np.zeros((1, 3), np.float32)))
    np.testing.assert_array_equal(zeros, 0.0)
    keras = pytest.importorskip("keras")
    np.testing.assert_allclose(to_numpy(UnitNormalization(axis=[1, 2])(x)),
                               np.asarray(keras.layers.UnitNormalization(axis=[1, 2])(x)), rtol=1e-5, atol=1e-6)
    layer = UnitNormalization(axis=[1, 2], name="un_cfg")
    config = json.loads(json.dumps(layer.get_config()))
    assert UnitNormalization.from_config(config).get_config() == config
    assert UnitNormalization()(Input((4, 5))).shape == (None, 4, 5)
    with pytest.raises(ValueError, match=r"UnitNormalization .*axis 2 is out of bounds.*\(None, 5\)"):
        UnitNormalization(axis=2)(Input((5,)))


def test_normalization_layers_train_in_a_functional_model(rng):
    x = f32(rng.normal(size=(48, 6, 4)))
    y = f32(x.mean(axis=(1, 2))[:, None] * 3.0)
    inputs = Input((6, 4))
    h = LayerNormalization()(Dense(8)(inputs))
    h = GroupNormalization(groups=4)(h)
    h = UnitNormalization()(h)
    h = BatchNormalization()(hl.layers.Flatten()(h))
    model = hl.Model(inputs, Dense(1)(h))
    model.compile(optimizer="adam", loss="mse")
    losses = model.fit(x, y, batch_size=16, epochs=6, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
