"""Models: Sequential, functional (multi-input/output, shared layers, nesting), subclassed.

Every forward pass is compared with the same computation written in NumPy from
the model's own weights; weight order is compared with Keras's when it is installed.
"""

import json

import numpy as np
import pytest

import highlevel as hl
from highlevel.layers import Dense, Dropout, Flatten, Input, Layer, Reshape


@pytest.fixture(autouse=True)
def seeded():
    # Statistical checks must not depend on which tests ran before.
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(hl.ops.convert_to_numpy(x))


def relu(z):
    return np.maximum(z, 0)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def mlp_numpy(x, weights, activations):
    for (kernel, bias), act in zip(zip(weights[::2], weights[1::2]), activations):
        x = act(x @ kernel + bias)
    return x


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def make_mlp(name=None):
    return hl.Sequential([Input((6,)), Dense(5, activation="relu"), Dropout(0.5), Dense(3, activation="softmax")],
                         name=name)


# ------------------------------------------------------------------ Sequential


def test_sequential_forward_matches_numpy(rng):
    model = make_mlp()
    assert model.built and [type(l).__name__ for l in model.layers] == ["Dense", "Dropout", "Dense"]
    x = rng.normal(size=(7, 6)).astype(np.float32)
    expected = mlp_numpy(x, model.get_weights(), [relu, softmax])
    np.testing.assert_allclose(to_numpy(model(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(model(x, training=False)), expected, rtol=1e-5, atol=1e-6)
    # Dropout is active only with training=True.
    assert not np.allclose(to_numpy(model(x, training=True)), expected)
    assert [w.shape for w in model.get_weights()] == [(6, 5), (5,), (5, 3), (3,)]
    assert model.count_params() == 6 * 5 + 5 + 5 * 3 + 3


def test_sequential_add_input_shape_and_lazy_build(rng):
    model = hl.Sequential(name="added")
    model.add(Dense(4, input_shape=(3,)))
    model.add(Dense(2))
    assert model.built and model.inputs[0].shape == (None, 3) and model.outputs[0].shape == (None, 2)
    lazy = hl.Sequential([Dense(4), Dense(2)])
    assert not lazy.built and lazy.inputs is None
    x = rng.normal(size=(5, 3)).astype(np.float32)
    y = to_numpy(lazy(x))
    assert lazy.built and lazy.inputs[0].shape == (None, 3) and y.shape == (5, 2)
    np.testing.assert_allclose(y, mlp_numpy(x, lazy.get_weights(), [lambda z: z] * 2), rtol=1e-5, atol=1e-6)
    explicit = hl.Sequential([Dense(4), Dense(2)])
    explicit.build((None, 3))
    assert explicit.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    assert explicit.pop().units == 2 and explicit.outputs[0].shape == (None, 4)


def test_sequential_calls_follow_add_and_pop(rng):
    model = hl.Sequential([Input((3,)), Dense(4)])
    x = hl.ops.convert_to_tensor(rng.normal(size=(2, 3)).astype(np.float32))
    for _ in range(2):
        assert to_numpy(model(x)).shape == (2, 4)
    model.add(Dense(2))
    assert to_numpy(model(x)).shape == (2, 2)
    model.pop()
    assert to_numpy(model(x)).shape == (2, 4)
    np.testing.assert_allclose(to_numpy(model(x)), mlp_numpy(to_numpy(x), model.get_weights(), [lambda z: z]),
                               rtol=1e-5, atol=1e-5)


def test_sequential_shape_error_when_adding(rng):
    model = hl.Sequential([Input((3,)), Dense(4)], name="seq_err")
    prebuilt = Dense(2, name="needs_five")
    prebuilt.build((None, 5))
    with pytest.raises(ValueError) as info:
        model.add(prebuilt)
    message = str(info.value)
    assert "needs_five" in message and "value 5" in message and "(None, 4)" in message
    assert len(model.layers) == 1  # the model is unchanged
    with pytest.raises(ValueError) as info:
        model(np.ones((2, 7), np.float32))
    assert "seq_err" in str(info.value) and "(None, 3)" in str(info.value) and "(2, 7)" in str(info.value)
    with pytest.raises(ValueError, match="only layers"):
        model.add("dense")


def test_sequential_with_reshape_and_flatten(rng):
    model = hl.Sequential([Input((2, 6)), Reshape((3, 4)), Flatten(), Dense(2, use_bias=False)])
    assert [l.output.shape for l in model.layers] == [(None, 3, 4), (None, 12), (None, 2)]
    x = rng.normal(size=(4, 2, 6)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(model(x)), x.reshape(4, 12) @ model.get_weights()[0], rtol=1e-5, atol=1e-6)


def test_keras_gives_the_same_predictions_with_copied_weights(rng):
    keras = pytest.importorskip("keras")
    ours = make_mlp()
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"),
                               keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax")])
    ours.set_weights(theirs.get_weights())
    x = rng.normal(size=(9, 6)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(ours(x)), np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)
    # A functional model with a shared layer: the weight order matches Keras's too.
    def build(lib, layers):
        a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
        shared = layers.Dense(4, name="shared")
        ya = shared(layers.Dense(3, name="pa")(a))
        yb = shared(layers.Dense(3, name="pb")(b))
        return lib.Model([a, b], [ya, yb])
    ours, theirs = build(hl, hl.layers), build(keras, keras.layers)
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    xa, xb = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    for got, want in zip(ours([xa, xb]), theirs([xa, xb])):
        np.testing.assert_allclose(to_numpy(got), np.asarray(want), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ functional


def two_tower(dict_io=False):
    a, b = Input((3,), name="left"), Input((2,), name="right")
    shared = Dense(4, activation="tanh", name="shared")
    ya = shared(Dense(3, name="proj_a")(a))
    yb = shared(Dense(3, name="proj_b")(b))
    total = Dense(1, name="total")(ya)
    if dict_io:
        return hl.Model({"left": a, "right": b}, {"score": total, "feat_b": yb}, name="towers_dict")
    return hl.Model([a, b], [total, yb], name="towers")


def two_tower_numpy(model, xa, xb):
    get = {layer.name: layer.get_weights() for layer in model.layers}
    shared = lambda h: np.tanh(h @ get["shared"][0] + get["shared"][1])  # noqa: E731
    ya = shared(xa @ get["proj_a"][0] + get["proj_a"][1])
    yb = shared(xb @ get["proj_b"][0] + get["proj_b"][1])
    return ya @ get["total"][0] + get["total"][1], yb


def test_functional_multi_input_output_with_shared_layer(rng):
    model = two_tower()
    assert model.input_names == ["left", "right"] and model.output_names == ["total", "shared"]
    # Keras's order (by depth, then discovery), checked against keras.Model on this graph.
    assert [l.name for l in model.layers] == ["left", "proj_a", "right", "shared", "proj_b", "total"]
    assert len(model.get_layer("shared")._inbound_nodes) == 2
    assert len(model.weights) == 8  # the shared layer's weights once
    xa, xb = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 2)).astype(np.float32)
    total, feat = model([xa, xb])
    want_total, want_feat = two_tower_numpy(model, xa, xb)
    np.testing.assert_allclose(to_numpy(total), want_total, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(feat), want_feat, rtol=1e-5, atol=1e-5)
    # Inputs by name work too.
    total2, _ = model({"left": xa, "right": xb})
    np.testing.assert_allclose(to_numpy(total2), want_total, rtol=1e-5, atol=1e-5)


def test_functional_dict_inputs_and_outputs(rng):
    model = two_tower(dict_io=True)
    assert model.input_names == ["left", "right"]
    assert model.output_names == ["feat_b", "score"]  # flattened (sorted) order
    xa, xb = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(2, 2)).astype(np.float32)
    out = model({"right": xb, "left": xa})
    assert set(out) == {"score", "feat_b"}
    want_total, want_feat = two_tower_numpy(model, xa, xb)
    np.testing.assert_allclose(to_numpy(out["score"]), want_total, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(out["feat_b"]), want_feat, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="right"):
        model({"left": xa})


def test_functional_errors():
    a = Input((3,), name="in_a")
    hidden = Dense(4, name="hid")(a)
    # Feeding a built layer a tensor whose last dim differs from its kernel.
    hid = hl.Model(a, hidden).get_layer("hid")
    with pytest.raises(ValueError) as info:
        hid(Input((5,)))
    message = str(info.value)
    assert '"hid"' in message and "value 3" in message and "(None, 5)" in message
    # Graph disconnected: an output that needs an input the model does not have.
    b = Input((3,), name="in_b")
    with pytest.raises(ValueError, match="Graph disconnected"):
        hl.Model(a, Dense(1)(b))
    with pytest.raises(ValueError, match="symbolic"):
        hl.Model(a, np.ones(3))
    model = hl.Model(a, hidden, name="fn_err")
    with pytest.raises(ValueError) as info:
        model(np.ones((2, 5), np.float32))
    assert "fn_err" in str(info.value) and "(None, 3)" in str(info.value) and "(2, 5)" in str(info.value)
    with pytest.raises(ValueError, match="expects 1 input"):
        model([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(TypeError, match="layers"):
        a + 1.0


def test_functional_rank_adjustment_as_keras(rng):
    x = Input((1,))
    model = hl.Model(x, Dense(2)(x))
    data = rng.normal(size=(4,)).astype(np.float32)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(to_numpy(model(data)), data[:, None] @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_functional_training_flag_and_dropout(rng):
    x = Input((200,))
    y = Dropout(0.5)(x)
    forced = Dropout(0.5)(x, training=False)  # recorded with the call
    model = hl.Model(x, [y, forced])
    data = np.ones((10, 200), np.float32)
    inference, forced_out = model(data)
    np.testing.assert_array_equal(to_numpy(inference), data)
    training, forced_out = model(data, training=True)
    assert 0.4 < (to_numpy(training) == 0).mean() < 0.6
    np.testing.assert_array_equal(to_numpy(forced_out), data)


# --------------------------------------------------------------------- nesting


def test_nested_models(rng):
    encoder = hl.Sequential([Input((4,)), Dense(3, activation="relu", name="enc")], name="encoder")
    inner_in = Input((3,))
    head = hl.Model(inner_in, Dense(2, name="head_dense")(inner_in), name="head")
    x = Input((4,))
    z = encoder(x)
    out = head(z)
    model = hl.Model(x, [out, z], name="outer")
    assert [l.name for l in model.layers] == [model.layers[0].name, "encoder", "head"]
    assert [w.path for w in model.weights] == ["enc/kernel", "enc/bias", "head_dense/kernel", "head_dense/bias"]
    assert out.shape == (None, 2)
    data = rng.normal(size=(6, 4)).astype(np.float32)
    w = model.get_weights()
    hidden = relu(data @ w[0] + w[1])
    got_out, got_z = model(data)
    np.testing.assert_allclose(to_numpy(got_z), hidden, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(got_out), hidden @ w[2] + w[3], rtol=1e-5, atol=1e-5)
    # Freezing the nested model freezes its weights in the outer model.
    encoder.trainable = False
    assert [v.path for v in model.trainable_weights] == ["head_dense/kernel", "head_dense/bias"]
    # A model inside a Sequential.
    stacked = hl.Sequential([Input((4,)), encoder, Dense(1, name="final")])
    assert [w.path for w in stacked.weights] == ["enc/kernel", "enc/bias", "final/kernel", "final/bias"]
    np.testing.assert_allclose(to_numpy(stacked(data)), hidden @ stacked.get_weights()[2] + stacked.get_weights()[3],
                               rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ subclassing


class TwoLayerNet(hl.Model):
    def __init__(self, hidden=4, **kwargs):
        super().__init__(**kwargs)
        self.hidden_layer = Dense(hidden, activation="relu", kernel_regularizer=hl.regularizers.L2(0.1))
        self.dropout = Dropout(0.5)
        self.out = Dense(2)

    def call(self, x, training=False):
        return self.out(self.dropout(self.hidden_layer(x), training=training))


def test_subclassed_model(rng):
    model = TwoLayerNet(hidden=5)
    assert model.name.startswith("two_layer_net") and not model.built
    x = rng.normal(size=(3, 4)).astype(np.float32)
    y = to_numpy(model(x))
    w = model.get_weights()
    assert [v.path for v in model.weights] == [f"{model.hidden_layer.name}/kernel", f"{model.hidden_layer.name}/bias",
                                               f"{model.out.name}/kernel", f"{model.out.name}/bias"]
    np.testing.assert_allclose(y, relu(x @ w[0] + w[1]) @ w[2] + w[3], rtol=1e-5, atol=1e-5)
    assert [l.name for l in model.layers] == [model.hidden_layer.name, model.dropout.name, model.out.name]
    # Regularization losses: one penalty for the regularized kernel.
    (penalty,) = model.losses
    assert float(to_numpy(penalty)) == pytest.approx(0.1 * (w[0] ** 2).sum(), rel=1e-5)
    # Training mode reaches the dropout layer through call(training=...).
    model.dropout.rate = 0.99
    assert not np.allclose(to_numpy(model(x, training=True)), y)
    built = TwoLayerNet()
    built.build((None, 4))
    assert built.count_params() == 4 * 4 + 4 + 4 * 2 + 2
    with pytest.raises(NotImplementedError, match="call"):
        hl.Model()(x)


class FunctionalSubclass(hl.Model):
    """A subclass that builds its graph in __init__ (Keras's "subclassed functional" pattern)."""

    def __init__(self, units=3, **kwargs):
        inputs = Input((2,))
        outputs = Dense(units, name=None)(inputs)
        super().__init__(inputs, outputs, **kwargs)
        self.units = units


def test_subclass_with_a_graph(rng):
    model = FunctionalSubclass(units=4)
    assert model.outputs[0].shape == (None, 4)
    x = rng.normal(size=(2, 2)).astype(np.float32)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(to_numpy(model(x)), x @ kernel + bias, rtol=1e-5, atol=1e-6)
    clone = FunctionalSubclass.from_config(model.get_config())
    assert clone.outputs[0].shape == (None, 4)


def test_models_work_with_autodiff_and_compilation(rng):
    model = make_mlp()
    x = rng.normal(size=(4, 6)).astype(np.float32)
    variables = model.trainable_weights

    def loss():
        return hl.ops.sum(hl.ops.square(model(x)))

    value, grads = hl.ops.value_and_grad(loss, variables)
    w = model.get_weights()
    # Finite differences on the first bias entry (float64 NumPy forward).
    def numpy_loss(weights):
        return float((mlp_numpy(x.astype(np.float64), weights, [relu, softmax]) ** 2).sum())
    eps = 1e-4
    plus = [v.astype(np.float64) for v in w]
    minus = [v.astype(np.float64) for v in w]
    plus[1][0] += eps
    minus[1][0] -= eps
    assert float(to_numpy(grads[1])[0]) == pytest.approx((numpy_loss(plus) - numpy_loss(minus)) / (2 * eps),
                                                          rel=1e-2, abs=1e-5)
    assert float(to_numpy(value)) == pytest.approx(numpy_loss([v.astype(np.float64) for v in w]), rel=1e-5)
    compiled = hl.ops.compile_function(lambda t: model(t, training=False))
    np.testing.assert_allclose(to_numpy(compiled(hl.ops.convert_to_tensor(x))), to_numpy(model(x)), rtol=1e-6)


# ------------------------------------------------------------------ freezing


def test_freezing_layers_in_a_model():
    model = make_mlp()
    first = model.layers[0]
    first.trainable = False
    assert [v.path for v in model.trainable_weights] == [w.path for w in model.layers[2].weights]
    assert [v.path for v in model.non_trainable_weights] == [w.path for w in first.weights]
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4
    model.trainable = True
    assert len(model.trainable_weights) == 4


# --------------------------------------------------------------------- config


def test_sequential_config_round_trip(rng):
    model = make_mlp(name="mlp_cfg")
    config = json.loads(json.dumps(model.get_config()))
    clone = hl.Sequential.from_config(config)
    assert clone.name == "mlp_cfg" and [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    clone.set_weights(model.get_weights())
    x = rng.normal(size=(3, 6)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(clone(x)), to_numpy(model(x)), rtol=1e-6)
    # Through the registry, as the saving code will do it.
    again = hl.saving.deserialize(json.loads(json.dumps(hl.saving.serialize(model))))
    assert isinstance(again, hl.Sequential) and again.count_params() == model.count_params()
    # Built from data (no Input): the config keeps the input shape.
    lazy = hl.Sequential([Dense(2)])
    lazy(np.ones((1, 5), np.float32))
    assert hl.Sequential.from_config(json.loads(json.dumps(lazy.get_config()))).count_params() == 12


def test_functional_config_round_trip_with_shared_and_nested(rng):
    model = two_tower(dict_io=True)
    encoder = hl.Sequential([Input((3,)), Dense(3, name="nested_enc")], name="nested_seq")
    x = Input((3,), name="solo")
    twice = encoder(encoder(x))  # a nested model called twice
    nested = hl.Model(x, twice, name="nested_outer")
    for original, inputs in ((model, {"left": rng.normal(size=(2, 3)), "right": rng.normal(size=(2, 2))}),
                             (nested, rng.normal(size=(2, 3)))):
        config = json.loads(json.dumps(original.get_config()))
        clone = hl.models.Functional.from_config(config)
        assert [l.name for l in clone.layers] == [l.name for l in original.layers]
        assert clone.output_names == original.output_names
        clone.set_weights(original.get_weights())
        got, want = clone(inputs), original(inputs)
        for g, w in zip(hl.utils.tree.flatten(got), hl.utils.tree.flatten(want)):
            np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=1e-6)


@hl.saving.register_serializable(package="tests")
class Configurable(hl.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = Dense(units)

    def call(self, x):
        return self.dense(x)


def test_subclassed_model_config_round_trip():
    model = Configurable(units=5, name="conf")
    config = json.loads(json.dumps(hl.saving.serialize(model)))
    clone = hl.saving.deserialize(config)
    assert isinstance(clone, Configurable) and clone.units == 5 and clone.name == "conf"


# --------------------------------------------------------------------- summary


def test_summary_text(capsys):
    model = make_mlp(name="summ")
    model.layers[2].trainable = False
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "summ"' in text
    assert f"Backend: {hl.backend.name()}" in text
    assert "Total params: 53 (212.00 B)" in text  # (6*5 + 5) + (5*3 + 3), float32
    assert "Trainable params: 35 (140.00 B)" in text
    assert "Non-trainable params: 18 (72.00 B)" in text
    for layer, shape, params in zip(model.layers, ["(None, 5)", "(None, 5)", "(None, 3)"], ["35", "0", "18"]):
        row = next(line for line in lines if f"{layer.name} ({type(layer).__name__})" in line)
        assert shape in row and row.rstrip(" |").endswith(params)
    model.summary()
    assert "Total params: 53" in capsys.readouterr().out
    functional_lines = []
    two_tower().summary(print_fn=functional_lines.append)
    shared_row = next(line for line in functional_lines if "shared (Dense)" in line)
    assert "proj_a[0][0]" in shared_row and "proj_b[0][0]" in shared_row and "16" in shared_row


def test_layer_without_compute_output_shape_in_a_graph(rng):
    class Doubler(Layer):
        def call(self, x):
            return hl.ops.concatenate([x, x], axis=-1)

    x = Input((3,))
    y = Doubler()(x)
    assert y.shape == (None, 6)
    model = hl.Model(x, Dense(2)(y))
    data = rng.normal(size=(2, 3)).astype(np.float32)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(to_numpy(model(data)), np.concatenate([data, data], -1) @ kernel + bias,
                               rtol=1e-5, atol=1e-6)


def test_input_and_output_shape_as_keras():
    keras = pytest.importorskip("keras")

    def build(lib):
        a, b = lib.Input((4,), name="a"), lib.Input((2, 3), name="b")
        joined = lib.layers.Concatenate()([a, lib.layers.Flatten()(b)])
        return (lib.Model([a, b], [lib.layers.Dense(5)(joined), lib.layers.Dense(1)(joined)]),
                lib.Sequential([lib.Input((7,)), lib.layers.Dense(3)]))

    (ours_multi, ours_seq), (theirs_multi, theirs_seq) = build(hl), build(keras)
    for ours, theirs in ((ours_multi, theirs_multi), (ours_seq, theirs_seq)):
        assert ours.input_shape == theirs.input_shape
        assert ours.output_shape == theirs.output_shape
    assert ours_seq.output_shape == (None, 3) and ours_multi.output_shape == [(None, 5), (None, 1)]
    with pytest.raises(AttributeError, match="no defined output shape"):
        hl.Sequential([hl.layers.Dense(2)]).output_shape
