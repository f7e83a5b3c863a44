"""Layer base class and core layers, checked against NumPy computations.

Dense vs ``x @ W + b``, Dropout statistics, Flatten/Reshape vs ``np.reshape``,
weights bookkeeping (names, paths, order, freezing, get/set), regularization
penalties and constraints vs their closed forms, the training flag, configs, errors.
"""

import json

import numpy as np
import pytest

import highlevel as hl
from highlevel import constraints, regularizers
from highlevel.layers import Activation, Dense, Dropout, Flatten, Layer, Reshape


@pytest.fixture(autouse=True)
def seeded():
    # Statistical checks must not depend on which tests ran before.
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(hl.ops.convert_to_numpy(x))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {
    None: lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": softmax,
}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ----------------------------------------------------------------------- Dense


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_dense_forward_matches_numpy(activation, rng):
    x = rng.normal(size=(6, 5)).astype(np.float32)
    layer = Dense(4, activation=activation)
    y = to_numpy(layer(x))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (5, 4) and bias.shape == (4,)
    np.testing.assert_allclose(y, ACTIVATIONS[activation](x @ kernel + bias), rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32


def test_dense_on_rank3_input_applies_to_last_axis(rng):
    x = rng.normal(size=(2, 3, 5)).astype(np.float32)
    layer = Dense(4, use_bias=False)
    y = to_numpy(layer(x))
    assert y.shape == (2, 3, 4) and len(layer.weights) == 1
    np.testing.assert_allclose(y, np.einsum("btf,fu->btu", x, layer.kernel.numpy()), rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None, 7, 5)) == (None, 7, 4)


def test_dense_autocasts_float64_and_builds_lazily(rng):
    layer = Dense(3)
    assert not layer.built and layer.weights == []
    y = layer(rng.normal(size=(2, 4)))  # float64 NumPy input
    assert layer.built and hl.ops.dtype(y) == "float32"
    assert [w.path for w in layer.weights] == [f"{layer.name}/kernel", f"{layer.name}/bias"]
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert layer.count_params() == 4 * 3 + 3


def test_dense_argument_and_shape_errors():
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(ValueError, match="units"):
        Dense("4")
    layer = Dense(2, name="head")
    with pytest.raises(ValueError) as info:
        layer(np.ones((3,), np.float32))
    message = str(info.value)
    assert '"head"' in message and "min_ndim=2" in message and "(3,)" in message
    layer(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError) as info:
        layer(np.ones((3, 5), np.float32))
    message = str(info.value)
    assert '"head"' in message and "value 4" in message and "(3, 5)" in message
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        Dense(2, kernel_initialiser="zeros")
    with pytest.raises(ValueError, match="unknown activation"):
        Dense(2, activation="relux")


def test_count_params_before_build_is_an_error():
    with pytest.raises(ValueError, match="isn't built"):
        Dense(3, name="lazy").count_params()


# ------------------------------------------------------- names and bookkeeping


class MyCustomLayer(Layer):
    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="offset")

    def call(self, inputs):
        return inputs * self.scale + self.offset


def test_unique_snake_case_names_and_weight_order():
    a, b = MyCustomLayer(), MyCustomLayer()
    assert a.name.startswith("my_custom_layer")
    assert a.name != b.name
    suffix_a = 0 if a.name == "my_custom_layer" else int(a.name.rsplit("_", 1)[1])
    assert b.name == f"my_custom_layer_{suffix_a + 1}"
    a(np.ones((2, 3), np.float32))
    # Keras order: trainable weights (creation order), then non-trainable.
    assert [w.name for w in a.weights] == ["scale", "offset", "count"]
    assert [w.name for w in a.trainable_weights] == ["scale", "offset"]
    assert [w.name for w in a.non_trainable_weights] == ["count"]
    with pytest.raises(ValueError, match="'/'"):
        Dense(2, name="a/b")


class Block(Layer):
    """Sublayers as attributes, in a list and in a dict; one layer shared twice."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = Dense(3, name=f"{self.name}_first")
        self.stack = [Dense(3, name=f"{self.name}_s0"), Dense(3, name=f"{self.name}_s1")]
        self.heads = {"out": Dense(2, name=f"{self.name}_out")}
        self.alias = self.first  # tracked once

    def call(self, x, training=None):
        x = self.first(x)
        for layer in self.stack:
            x = layer(x)
        return self.heads["out"](x)


def test_sublayer_tracking_is_recursive_and_deduplicated(rng):
    block = Block(name="blk")
    y = to_numpy(block(rng.normal(size=(4, 3)).astype(np.float32)))
    names = [w.path for w in block.weights]
    assert names == ["blk_first/kernel", "blk_first/bias", "blk_s0/kernel", "blk_s0/bias", "blk_s1/kernel",
                     "blk_s1/bias", "blk_out/kernel", "blk_out/bias"]
    w = block.get_weights()
    x = rng.normal(size=(4, 3)).astype(np.float32)
    expected = x
    for k, b in zip(w[::2], w[1::2]):
        expected = expected @ k + b
    np.testing.assert_allclose(to_numpy(block(x)), expected, rtol=1e-5, atol=1e-5)
    assert y.shape == (4, 2)


class GrowingBlock(Layer):
    """Sublayers appended to a list attribute after it was assigned."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.parts = []
        self.parts.append(Dense(2))
        self.by_name = {}

    def call(self, x):
        for part in self.parts:
            x = part(x)
        return x


def test_containers_mutated_after_assignment_are_tracked(rng):
    block = GrowingBlock()
    x = rng.normal(size=(3, 4)).astype(np.float32)
    block(x)
    assert len(block.weights) == 2
    block.parts.append(Dense(5))
    block(x)
    assert [w.shape for w in block.weights] == [(4, 2), (2,), (2, 5), (5,)]
    block.by_name["extra"] = Dense(1)
    assert len(block._flatten_layers()) == 4
    del block.parts[0]
    assert [w.shape for w in block.weights] == [(2, 5), (5,)]


def test_trainable_freezes_the_subtree(rng):
    block = Block(name="frz")
    block(rng.normal(size=(2, 3)).astype(np.float32))
    block.stack[0].trainable = False
    assert [w.path for w in block.trainable_weights] == ["frz_first/kernel", "frz_first/bias", "frz_s1/kernel",
                                                         "frz_s1/bias", "frz_out/kernel", "frz_out/bias"]
    assert [w.path for w in block.non_trainable_weights] == ["frz_s0/kernel", "frz_s0/bias"]
    block.trainable = False
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 8
    assert all(not layer.trainable for layer in [block.first, *block.stack, block.heads["out"]])
    block.trainable = True
    assert len(block.trainable_weights) == 8
    # A layer frozen before it is built creates frozen weights.
    frozen = Dense(2, trainable=False)
    frozen(np.ones((1, 3), np.float32))
    assert frozen.trainable_weights == [] and all(not w.trainable for w in frozen.weights)
    frozen.trainable = True
    assert len(frozen.trainable_weights) == 2


def test_get_set_weights_round_trip_and_errors(rng):
    layer = Dense(3, name="rt")
    layer.build((None, 2))
    new = [rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)]
    layer.set_weights(new)
    for got, want in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    x = rng.normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(layer(x)), x @ new[0] + new[1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError) as info:
        layer.set_weights(new[:1])
    assert "'rt'" in str(info.value) and "length 1" in str(info.value) and "expecting 2" in str(info.value)
    before = layer.get_weights()
    with pytest.raises(ValueError) as info:
        layer.set_weights([np.zeros((2, 3)), np.zeros((4,))])
    message = str(info.value)
    assert "'rt'" in message and "(3,)" in message and "(4,)" in message and "rt/bias" in message
    # Nothing was assigned: the check runs before any assignment.
    np.testing.assert_array_equal(layer.get_weights()[0], before[0])


# --------------------------------------------------------------- other layers


def test_activation_layer(rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(Activation("softmax")(x)), softmax(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(Activation(lambda t: hl.ops.multiply(t, 2.0))(x)), 2 * x, rtol=1e-6)


def test_dropout_is_identity_at_inference(rng):
    x = rng.normal(size=(50, 40)).astype(np.float32)
    layer = Dropout(0.5)
    np.testing.assert_array_equal(to_numpy(layer(x)), x)
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)), x)


def test_dropout_statistics_in_training():
    x = np.ones((400, 250), np.float32)
    rate = 0.3
    y = to_numpy(Dropout(rate)(x, training=True))
    kept = y != 0
    assert kept.mean() == pytest.approx(1 - rate, abs=0.01)
    # Inverted dropout: survivors are scaled by 1 / (1 - rate), so the mean is preserved.
    np.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.02)


def test_dropout_noise_shape_and_seed():
    x = np.ones((64, 10), np.float32)
    y = to_numpy(Dropout(0.5, noise_shape=(1, 10))(x, training=True))
    # One mask row broadcast over the batch: every column is all kept or all dropped.
    assert all(len(set(y[:, j])) == 1 for j in range(10))
    a, b = Dropout(0.5, seed=11), Dropout(0.5, seed=11)
    first = [to_numpy(a(x, training=True)) for _ in range(2)]
    second = [to_numpy(b(x, training=True)) for _ in range(2)]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])  # a new mask per call
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.5)


def test_flatten(rng):
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(to_numpy(Flatten()(x)), x.reshape(2, 60))
    np.testing.assert_array_equal(to_numpy(Flatten(data_format="channels_first")(x)),
                                  np.transpose(x, (0, 2, 3, 1)).reshape(2, 60))
    assert to_numpy(Flatten()(np.arange(3.0))).shape == (3, 1)
    assert Flatten().compute_output_shape((None, 3, 4)) == (None, 12)
    assert Flatten().compute_output_shape((None, None, 4)) == (None, None)


def test_reshape(rng):
    x = rng.normal(size=(4, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(to_numpy(Reshape((3, 4))(x)), x.reshape(4, 3, 4))
    np.testing.assert_array_equal(to_numpy(Reshape((-1, 2))(x)), x.reshape(4, 6, 2))
    assert Reshape((2, -1)).compute_output_shape((None, 6, 2)) == (None, 2, 6)
    with pytest.raises(ValueError) as info:
        Reshape((5, 5), name="bad_reshape")(x)
    assert "bad_reshape" in str(info.value) and "(5, 5)" in str(info.value)
    with pytest.raises(ValueError, match="-1"):
        Reshape((-1, -1))


# -------------------------------------------------------------- training flag


class Recorder(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, training=None):
        self.seen.append(training)
        return x


class Outer(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = Recorder()
        self.forced = Recorder()

    def call(self, x):  # no training argument: it still reaches the sublayers
        return self.forced(self.inner(x), training=False)


def test_training_flag_propagates_to_sublayers():
    outer = Outer()
    x = np.ones((1, 2), np.float32)
    outer(x, training=True)
    outer(x)
    outer(x, training=False)
    assert outer.inner.seen == [True, None, False]
    assert outer.forced.seen == [False, False, False]  # an explicit value wins


def test_training_flag_on_repeated_tensor_calls():
    # From the second call on, a layer takes the eager fast path: the flag must resolve the same way.
    outer = Outer()
    x = hl.ops.convert_to_tensor(np.ones((1, 2), np.float32))
    for _ in range(3):
        outer(x, training=True)
        outer(x)
        outer(x, training=False)
    assert outer.inner.seen == [True, None, False] * 3
    assert outer.forced.seen == [False] * 9


# ------------------------------------------------------ repeated eager calls


def test_repeated_calls_still_convert_check_and_rebuild_nothing(rng):
    layer = Dense(3, name="repeat")
    x = rng.normal(size=(4, 5)).astype(np.float32)
    tensor = hl.ops.convert_to_tensor(x)
    first = to_numpy(layer(tensor))
    for _ in range(3):
        np.testing.assert_array_equal(to_numpy(layer(tensor)), first)
    kernel, bias = layer.get_weights()
    # Another dtype is still cast to the layer's dtype; a NumPy array is still converted.
    out = layer(x.astype(np.float64))
    assert hl.ops.dtype(out) == "float32"
    np.testing.assert_allclose(to_numpy(out), x @ kernel + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(layer(x)), first, rtol=1e-6, atol=1e-6)
    # Other batch sizes pass; a wrong feature size still fails, named, after many good calls.
    assert to_numpy(layer(hl.ops.convert_to_tensor(x[:2]))).shape == (2, 3)
    with pytest.raises(ValueError) as info:
        layer(hl.ops.convert_to_tensor(np.ones((4, 6), np.float32)))
    assert "repeat" in str(info.value) and "axis -1" in str(info.value)
    # A new input spec applies at once.
    layer.input_spec = hl.layers.InputSpec(ndim=3)
    with pytest.raises(ValueError, match="ndim=3"):
        layer(tensor)
    assert len(layer.weights) == 2


class LossAdder(Layer):
    def call(self, x):
        self.add_loss(hl.ops.sum(x))
        return x


def test_losses_are_replaced_not_accumulated_over_repeated_calls(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    activity = Dense(3, activity_regularizer=regularizers.L1(0.1), name="act")
    model_a = hl.Sequential([hl.Input((3,)), activity, LossAdder()])
    model_b = hl.Sequential([hl.Input((3,)), LossAdder()])
    for scale in (1.0, 2.0, 3.0):
        data = hl.ops.convert_to_tensor(scale * x)
        y = to_numpy(model_a(data))
        assert len(model_a.losses) == 2
        assert float(to_numpy(model_a.losses[1])) == pytest.approx(y.sum(), rel=1e-5, abs=1e-5)
        # Calling another model leaves this one's losses alone (and vice versa).
        model_b(data)
        assert len(model_a.losses) == 2 and len(model_b.losses) == 1
        assert float(to_numpy(model_b.losses[0])) == pytest.approx(scale * x.sum(), rel=1e-5, abs=1e-5)
    # A layer called on its own clears only its own losses.
    activity(hl.ops.convert_to_tensor(x))
    assert len(activity.losses) == 1 and len(model_a.losses) == 2


# ----------------------------------------------------------- regularization


def test_regularizer_values(rng):
    w = rng.normal(size=(4, 3)).astype(np.float32)
    cases = [(regularizers.L1(0.1), 0.1 * np.abs(w).sum()), (regularizers.L2(0.2), 0.2 * (w ** 2).sum()),
             (regularizers.L1L2(0.1, 0.2), 0.1 * np.abs(w).sum() + 0.2 * (w ** 2).sum()),
             (regularizers.get("l1"), 0.01 * np.abs(w).sum()), (regularizers.get("l2"), 0.01 * (w ** 2).sum())]
    for reg, expected in cases:
        assert float(to_numpy(reg(hl.ops.convert_to_tensor(w)))) == pytest.approx(expected, rel=1e-5)
    assert float(to_numpy(regularizers.get("l1_l2")(hl.ops.convert_to_tensor(w)))) == 0.0
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    gram = unit @ unit.T
    expected = 0.3 * 0.5 * np.abs(gram - np.diag(np.diag(gram))).sum() / (4 * 3 / 2)
    got = float(to_numpy(regularizers.OrthogonalRegularizer(0.3)(hl.ops.convert_to_tensor(w))))
    assert got == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="l1"):
        regularizers.L1(-1.0)
    with pytest.raises(ValueError) as info:
        regularizers.get("l3")
    assert "l1_l2" in str(info.value)


def test_layer_losses_from_weight_and_activity_regularizers(rng):
    layer = Dense(3, kernel_regularizer=regularizers.L2(0.1), bias_regularizer="l1",
                  activity_regularizer=regularizers.L1(0.05), bias_initializer="ones")
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = to_numpy(layer(x))
    kernel, bias = layer.get_weights()
    losses = [float(to_numpy(v)) for v in layer.losses]
    # Activity penalty (divided by the batch size, as Keras 3), then the weights' penalties.
    assert losses == pytest.approx([0.05 * np.abs(y).sum() / 8, 0.1 * (kernel ** 2).sum(), 0.01 * np.abs(bias).sum()],
                                   rel=1e-5)
    # Weight penalties are recomputed on access; the activity term is replaced at the next call.
    layer.set_weights([2 * kernel, bias])
    y2 = to_numpy(layer(x[:4]))
    losses = [float(to_numpy(v)) for v in layer.losses]
    assert losses == pytest.approx([0.05 * np.abs(y2).sum() / 4, 0.4 * (kernel ** 2).sum(),
                                    0.01 * np.abs(bias).sum()], rel=1e-5)
    # Frozen weights are not regularized (Keras: only trainable weights).
    layer.trainable = False
    assert len(layer.losses) == 1


# ----------------------------------------------------------------- constraints


def test_constraint_values(rng):
    w = rng.normal(size=(5, 4)).astype(np.float32) * 2
    norms = np.sqrt((w ** 2).sum(axis=0, keepdims=True))
    eps = 1e-7
    expected = {
        "max_norm": w * np.clip(norms, 0, 2.0) / (eps + norms),
        "non_neg": np.maximum(w, 0),
        "unit_norm": w / (eps + norms),
        "min_max_norm": w * (0.5 * np.clip(norms, 1.0, 2.0) + 0.5 * norms) / (eps + norms),
    }
    objects = {"max_norm": constraints.MaxNorm(2.0), "non_neg": constraints.get("non_neg"),
               "unit_norm": constraints.UnitNorm(), "min_max_norm": constraints.MinMaxNorm(1.0, 2.0, rate=0.5)}
    for name, constraint in objects.items():
        np.testing.assert_allclose(to_numpy(constraint(hl.ops.convert_to_tensor(w))), expected[name], rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    row_norms = np.sqrt((w ** 2).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(to_numpy(constraints.UnitNorm(axis=1)(hl.ops.convert_to_tensor(w))),
                               w / (eps + row_norms), rtol=1e-5)
    with pytest.raises(ValueError) as info:
        constraints.get("maxnorm")
    assert "max_norm" in str(info.value)


def test_constraints_are_exposed_on_variables():
    layer = Dense(2, kernel_constraint="non_neg")
    layer.build((None, 3))
    assert isinstance(layer.kernel.constraint, constraints.NonNeg)
    assert layer.bias.constraint is None
    # What an optimizer does after a step: project the variable.
    layer.kernel.assign(-np.ones((3, 2), np.float32))
    layer.kernel.assign(layer.kernel.constraint(layer.kernel))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.zeros((3, 2)))


# ---------------------------------------------------------------------- config


@pytest.mark.parametrize("layer", [
    Dense(4, activation="relu", use_bias=False, kernel_initializer="he_normal", kernel_regularizer="l2",
          bias_constraint=constraints.MaxNorm(3.0), activity_regularizer=regularizers.L1L2(0.1, 0.2), name="cfg_dense"),
    Activation("tanh", name="cfg_act"),
    Dropout(0.25, noise_shape=(None, 1), seed=3, name="cfg_drop"),
    Flatten(data_format="channels_first", name="cfg_flat"),
    Reshape((2, -1), name="cfg_reshape"),
])
def test_layer_config_round_trip(layer):
    config = json.loads(json.dumps(hl.layers.serialize(layer)))
    clone = hl.layers.deserialize(config)
    assert type(clone) is type(layer)
    assert clone.get_config() == json.loads(json.dumps(layer.get_config()))
    assert clone.name == layer.name


def test_config_round_trip_preserves_behaviour(rng):
    layer = Dense(3, activation="sigmoid", kernel_initializer=hl.initializers.RandomNormal(seed=5))
    x = rng.normal(size=(2, 4)).astype(np.float32)
    y = to_numpy(layer(x))
    clone = Dense.from_config(layer.get_config())
    clone.build((None, 4))
    # The seeded initializer gives the same kernel; the bias starts at zero in both.
    np.testing.assert_allclose(to_numpy(clone(x)), y, rtol=1e-6)


class Scale(Layer):
    """A user layer without get_config: the constructor arguments are captured automatically."""

    def __init__(self, factor, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.factor, self.offset = factor, offset

    def call(self, x):
        return x * self.factor + self.offset


def test_automatic_config_of_user_layers():
    layer = Scale(3.0, offset=1.0, name="scaler")
    config = layer.get_config()
    assert config["factor"] == 3.0 and config["offset"] == 1.0 and config["name"] == "scaler"
    clone = Scale.from_config(config)
    np.testing.assert_allclose(to_numpy(clone(np.ones((1, 2), np.float32))), [[4.0, 4.0]])
    with pytest.raises(NotImplementedError, match="JSON"):
        Scale(np.ones(3)).get_config()


def test_stand_in_shape_inference_for_layers_without_compute_output_shape():
    layer = Scale(2.0)
    x = hl.Input((None, 3))
    y = layer(x)
    assert y.shape == (None, None, 3) and y.dtype == "float32"
    assert layer.compute_output_shape((None, 4)) == (None, 4)
