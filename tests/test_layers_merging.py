"""Merging layers and ``Lambda``, against NumPy and Keras.

Add/Subtract/Multiply/Average/Maximum/Minimum/Concatenate/Dot forward (with Keras's
broadcasting of lower-rank inputs) and gradients, Dot with ``normalize`` (cosine
similarity), masks, functional shape inference, errors naming the layer and the shapes,
configs; Lambda calls, shape inference, and its config stored by registered name only.
"""

import json

import numpy as np
import pytest

import highlevel as hl
from highlevel.layers import (Add, Average, Concatenate, Dense, Dot, Input, Lambda, Maximum, Minimum, Multiply,
                              Subtract)


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


ELEMENTWISE = {
    Add: lambda xs: sum(xs),
    Subtract: lambda xs: xs[0] - xs[1],
    Multiply: lambda xs: np.prod(np.stack(np.broadcast_arrays(*xs)), axis=0),
    Average: lambda xs: sum(xs) / len(xs),
    Maximum: lambda xs: np.maximum.reduce(np.broadcast_arrays(*xs)),
    Minimum: lambda xs: np.minimum.reduce(np.broadcast_arrays(*xs)),
}


@pytest.mark.parametrize("cls", list(ELEMENTWISE), ids=lambda c: c.__name__)
def test_elementwise_merges_match_numpy(cls, rng):
    count = 2 if cls is Subtract else 3
    xs = [f32(rng.normal(size=(4, 3, 5))) for _ in range(count)]
    np.testing.assert_allclose(to_numpy(cls()(xs)), ELEMENTWISE[cls](xs), rtol=1e-6, atol=1e-6)
    # Broadcasting: a size-1 axis stretches; a lower-rank input gets axes after the batch axis.
    ys = [xs[0], f32(rng.normal(size=(4, 1, 5)))]
    np.testing.assert_allclose(to_numpy(cls()(ys)), ELEMENTWISE[cls](ys), rtol=1e-6, atol=1e-6)
    low = f32(rng.normal(size=(4, 5)))
    np.testing.assert_allclose(to_numpy(cls()([xs[0], low])), ELEMENTWISE[cls]([xs[0], low[:, None, :]]),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls", list(ELEMENTWISE), ids=lambda c: c.__name__)
def test_elementwise_merge_gradients(cls, rng):
    a = hl.Variable(f32(rng.normal(size=(3, 4))))
    b = hl.Variable(f32(rng.normal(size=(3, 4))))
    w = f32(rng.normal(size=(3, 4)))
    layer = cls()
    _, (ga, gb) = hl.ops.value_and_grad(lambda: hl.ops.sum(hl.ops.multiply(layer([a, b]), w)), [a, b])
    an, bn = a.numpy(), b.numpy()
    expected = {
        Add: (w, w), Subtract: (w, -w), Multiply: (w * bn, w * an), Average: (w / 2, w / 2),
        Maximum: (w * (an >= bn), w * (an < bn)), Minimum: (w * (an <= bn), w * (an > bn)),
    }[cls]
    np.testing.assert_allclose(to_numpy(ga), expected[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_numpy(gb), expected[1], rtol=1e-6, atol=1e-6)


def test_elementwise_merges_match_keras(rng):
    keras = pytest.importorskip("keras")
    xs = [f32(rng.normal(size=(2, 3, 4))), f32(rng.normal(size=(2, 4)))]
    for cls in ELEMENTWISE:
        theirs = getattr(keras.layers, cls.__name__)()
        np.testing.assert_allclose(to_numpy(cls()(xs)), np.asarray(theirs(xs)), rtol=1e-6, atol=1e-6,
                                   err_msg=cls.__name__)


def test_merge_masks_follow_keras(rng):
    x1, x2 = f32(rng.normal(size=(2, 3, 4))), f32(rng.normal(size=(2, 3, 4)))
    m1 = np.array([[1, 1, 0], [1, 0, 0]], bool)
    m2 = np.array([[1, 0, 0], [1, 1, 0]], bool)
    e1, e2 = m1[..., None], m2[..., None]
    # Maximum/Minimum: a masked-out entry never wins against an unmasked one.
    got = to_numpy(Maximum()([x1, x2], mask=[m1, m2]))
    # (Where both are masked out, Keras keeps the first input's value.)
    want = np.where(e1 & e2, np.maximum(x1, x2), np.where(e2 & ~e1, x2, x1))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    got = to_numpy(Minimum()([x1, x2], mask=[m1, None]))
    np.testing.assert_allclose(got, np.minimum(np.where(e1, x1, x2), x2), rtol=1e-6)
    # Multiply: masked-out factors count as 1; entries masked everywhere are 0.
    got = to_numpy(Multiply()([x1, x2], mask=[m1, m2]))
    want = np.where(e1 | e2, np.where(e1, x1, 1) * np.where(e2, x2, 1), 0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # Output masks: OR of the inputs' (None if any is missing); Concatenate as Keras.
    np.testing.assert_array_equal(to_numpy(Add().compute_mask([x1, x2], [m1, m2])), m1 | m2)
    assert Add().compute_mask([x1, x2], [m1, None]) is None
    concat_mask = Concatenate(axis=1).compute_mask([x1, x2], [m1, None])
    np.testing.assert_array_equal(to_numpy(concat_mask), np.concatenate([m1, np.ones_like(m2)], axis=1))


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_concatenate_matches_numpy_and_gradient(axis, rng):
    xs = [f32(rng.normal(size=(2, 3, 4))), f32(rng.normal(size=(2, 3, 4)))]
    if axis == -1:
        xs[1] = f32(rng.normal(size=(2, 3, 2)))
    layer = Concatenate(axis=axis)
    np.testing.assert_allclose(to_numpy(layer(xs)), np.concatenate(xs, axis=axis))
    variables = [hl.Variable(x) for x in xs]
    w = f32(rng.normal(size=np.concatenate(xs, axis=axis).shape))
    _, grads = hl.ops.value_and_grad(lambda: hl.ops.sum(hl.ops.multiply(layer(variables), w)), variables)
    pieces = np.split(w, np.cumsum([x.shape[axis] for x in xs])[:-1], axis=axis)
    for g, p in zip(grads, pieces):
        np.testing.assert_allclose(to_numpy(g), p)


def dot_numpy(x1, x2, axes, normalize=False):
    a1, a2 = axes
    if normalize:
        x1 = x1 / np.linalg.norm(x1, axis=a1, keepdims=True)
        x2 = x2 / np.linalg.norm(x2, axis=a2, keepdims=True)
    out = np.stack([np.tensordot(x1[b], x2[b], axes=(a1 - 1, a2 - 1)) for b in range(x1.shape[0])])
    return out[:, None] if out.ndim == 1 else out


@pytest.mark.parametrize("shapes, axes", [
    (((4, 5), (4, 5)), 1),
    (((4, 5), (4, 5)), -1),
    (((2, 3, 5), (2, 4, 5)), (2, 2)),
    (((2, 3, 5), (2, 5, 4)), (2, 1)),
    (((2, 5), (2, 3, 5)), (1, 2)),
    (((2, 3, 4, 5), (2, 5, 6)), [-1, 1]),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_numpy_and_keras(shapes, axes, normalize, rng):
    x1, x2 = (f32(rng.normal(size=s)) for s in shapes)
    layer = Dot(axes=axes, normalize=normalize)
    got = to_numpy(layer([x1, x2]))
    pair = [axes, axes] if isinstance(axes, int) else list(axes)
    pair = [a % len(s) for a, s in zip(pair, shapes)]
    np.testing.assert_allclose(got, dot_numpy(x1.astype(np.float64), x2.astype(np.float64), pair, normalize),
                               rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape([(None,) + s[1:] for s in shapes]) == (None,) + got.shape[1:]
    keras = pytest.importorskip("keras")
    np.testing.assert_allclose(got, np.asarray(keras.layers.Dot(axes=axes, normalize=normalize)([x1, x2])),
                               rtol=1e-5, atol=1e-5)


def test_dot_normalize_is_cosine_similarity_and_its_gradient(rng):
    x1, x2 = f32(rng.normal(size=(3, 4))), f32(rng.normal(size=(3, 4)))
    cos = (x1 * x2).sum(1) / np.linalg.norm(x1, axis=1) / np.linalg.norm(x2, axis=1)
    np.testing.assert_allclose(to_numpy(Dot(1, normalize=True)([x1, x2]))[:, 0], cos, rtol=1e-5)
    a, b = hl.Variable(x1), hl.Variable(x2)
    _, (ga, _) = hl.ops.value_and_grad(lambda: hl.ops.sum(Dot(1, normalize=True)([a, b])), [a, b])
    # d cos / d x1 = x2 / (|x1||x2|) - cos * x1 / |x1|^2
    n1, n2 = np.linalg.norm(x1, axis=1, keepdims=True), np.linalg.norm(x2, axis=1, keepdims=True)
    np.testing.assert_allclose(to_numpy(ga), x2 / (n1 * n2) - cos[:, None] * x1 / n1 ** 2, rtol=1e-4, atol=1e-5)


def test_functional_shape_inference():
    a, b = Input((3, 5)), Input((1, 5))
    assert Add()([a, b]).shape == (None, 3, 5)
    assert Maximum()([a, Input((5,))]).shape == (None, 3, 5)
    assert Concatenate()([a, Input((3, 2))]).shape == (None, 3, 7)
    assert Concatenate(axis=1)([a, b]).shape == (None, 4, 5)
    assert Concatenate(axis=1)([a, Input((None, 5))]).shape == (None, None, 5)
    assert Dot(axes=(2, 2))([a, Input((4, 5))]).shape == (None, 3, 4)
    assert Dot(axes=1)([Input((5,)), Input((5,))]).shape == (None, 1)
    # An unknown size against a known one stays unknown (Keras's rule: it could be 1).
    assert Subtract()([Input((None, 4)), Input((7, 4))]).shape == (None, None, 4)
    # Integer inputs stay integers.
    ints = Concatenate()([Input((2,), dtype="int32"), Input((3,), dtype="int32")])
    assert ints.shape == (None, 5) and ints.dtype == "int32"


def test_merge_errors_name_the_layer_and_the_shapes():
    a = Input((3, 5))
    with pytest.raises(ValueError, match=r"Add 'bad_add': inputs have incompatible shapes \[\(None, 3, 5\), "
                                         r"\(None, 4, 5\)\]"):
        Add(name="bad_add")([a, Input((4, 5))])
    with pytest.raises(ValueError, match=r"Subtract .*exactly 2 inputs, got 3"):
        Subtract()([a, a, a])
    with pytest.raises(ValueError, match=r"Concatenate .*matching shapes except on the concatenation axis -1; "
                                         r"got shapes \[\(None, 3, 5\), \(None, 4, 2\)\]"):
        Concatenate()([a, Input((4, 2))])
    with pytest.raises(ValueError, match=r"Concatenate .*same rank"):
        Concatenate()([a, Input((5,))])
    with pytest.raises(ValueError, match=r"Dot .*incompatible input shapes \[\(None, 3, 5\), \(None, 4, 6\)\]"):
        Dot(axes=-1)([a, Input((4, 6))])
    with pytest.raises(ValueError, match=r"Dot .*batch axis"):
        Dot(axes=0)([a, a])
    with pytest.raises(ValueError, match=r"Dot .*axes must be an int or a list of two ints"):
        Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="list of tensors"):
        Add()(a)
    with pytest.raises(ValueError, match="different batch sizes"):
        Add()([np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)])


def test_merge_configs_round_trip():
    for layer in (Add(name="m_add"), Subtract(), Multiply(), Average(), Maximum(), Minimum(), Concatenate(axis=1),
                  Dot(axes=[1, 2], normalize=True)):
        config = json.loads(json.dumps(layer.get_config()))
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
        again = hl.layers.deserialize(json.loads(json.dumps(hl.layers.serialize(layer))))
        assert type(again) is type(layer)


def test_model_with_merges_trains(rng):
    a, b = Input((4,)), Input((4,))
    ha, hb = Dense(6, activation="tanh")(a), Dense(6, activation="tanh")(b)
    merged = Concatenate()([Add()([ha, hb]), Multiply()([ha, hb]), Dot(1, normalize=True)([ha, hb]),
                            Maximum()([ha, hb])])
    model = hl.Model([a, b], Dense(1)(merged))
    assert merged.shape == (None, 19)
    xa, xb = f32(rng.normal(size=(64, 4))), f32(rng.normal(size=(64, 4)))
    y = f32((xa * xb).sum(1, keepdims=True))
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=0.02), loss="mse")
    losses = model.fit([xa, xb], y, batch_size=16, epochs=10, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    config = json.loads(json.dumps(model.get_config()))
    clone = hl.models.Functional.from_config(config)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(to_numpy(clone([xa, xb])), to_numpy(model([xa, xb])), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------ Lambda


@hl.saving.register_serializable(package="tests")
def scaled_square(x, factor=1.0):
    return hl.ops.multiply(hl.ops.square(x), factor)


@hl.saving.register_serializable(package="tests")
def halve_last(input_shape):
    return tuple(input_shape[:-1]) + (input_shape[-1] // 2,)


@hl.saving.register_serializable(package="tests")
def first_half(x):
    return x[..., : x.shape[-1] // 2]


def test_lambda_calls_the_function_with_arguments(rng):
    x = f32(rng.normal(size=(3, 4)))
    layer = Lambda(scaled_square, arguments={"factor": 3.0})
    np.testing.assert_allclose(to_numpy(layer(x)), 3.0 * x ** 2, rtol=1e-6)
    assert layer.weights == []
    # training and mask reach a function that names them.
    seen = {}

    def spy(t, training=None, mask=None):
        seen["training"], seen["mask"] = training, mask
        return t

    Lambda(spy)(x, training=True)
    assert seen == {"training": True, "mask": None}
    # Gradients flow through the function.
    v = hl.Variable(x)
    _, (g,) = hl.ops.value_and_grad(lambda: hl.ops.sum(layer(v)), [v])
    np.testing.assert_allclose(to_numpy(g), 6.0 * x, rtol=1e-5)


def test_lambda_shape_inference():
    inputs = Input((3, 8))
    assert Lambda(lambda t: hl.ops.sum(t, axis=1))(inputs).shape == (None, 8)  # inferred by running it
    assert Lambda(first_half, output_shape=(3, 4))(inputs).shape == (None, 3, 4)
    assert Lambda(first_half, output_shape=halve_last)(inputs).shape == (None, 3, 4)
    assert Lambda(first_half, output_shape=(3, 4)).compute_output_shape((2, 3, 8)) == (2, 3, 4)
    pair = Lambda(lambda t: [t, t], output_shape=[(3, 8), (3, 8)])(inputs)
    assert [p.shape for p in pair] == [(None, 3, 8), (None, 3, 8)]


def test_lambda_config_round_trip_with_a_registered_function(rng):
    layer = Lambda(scaled_square, output_shape=halve_last, arguments={"factor": 2.0}, name="lam")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["function"]["registered_name"] == "tests>scaled_square"
    assert config["output_shape"]["registered_name"] == "tests>halve_last"
    clone = Lambda.from_config(config)
    assert clone.function is scaled_square and clone.arguments == {"factor": 2.0} and clone.name == "lam"
    x = f32(rng.normal(size=(2, 4)))
    np.testing.assert_allclose(to_numpy(clone(x)), 2.0 * x ** 2, rtol=1e-6)
    # Inside a model, through the registry, with a fixed output shape.
    inputs = Input((3, 8))
    model = hl.Model(inputs, Dense(2)(Lambda(first_half, output_shape=(3, 4))(inputs)))
    saved = json.loads(json.dumps(hl.saving.serialize(model)))
    again = hl.saving.deserialize(saved)
    again.set_weights(model.get_weights())
    x = f32(rng.normal(size=(2, 3, 8)))
    np.testing.assert_allclose(to_numpy(again(x)), to_numpy(model(x)), rtol=1e-6)


def test_lambda_with_an_unregistered_function_works_but_cannot_be_saved(rng):
    x = f32(rng.normal(size=(2, 3)))
    layer = Lambda(lambda t: hl.ops.multiply(t, 2.0), name="anon")
    np.testing.assert_allclose(to_numpy(layer(x)), 2 * x)
    with pytest.raises(ValueError, match=r"Lambda 'anon'.*Python lambda expression.*register_serializable"):
        layer.get_config()

    def local_fn(t):
        return t

    with pytest.raises(ValueError, match=r"unregistered function 'local_fn'.*register_serializable"):
        Lambda(local_fn).get_config()
    inputs = Input((3,))
    model = hl.Model(inputs, Lambda(local_fn)(inputs))
    with pytest.raises(ValueError, match="local_fn"):
        model.get_config()
    with pytest.raises(ValueError, match="JSON"):
        Lambda(scaled_square, arguments={"factor": object()}).get_config()
    with pytest.raises(ValueError, match="unknown"):
        Lambda.from_config({"function": {"class_name": "function", "registered_name": "tests>nope", "config": None}})
    with pytest.raises(ValueError, match="must be callable"):
        Lambda(3)


def test_model_with_lambda_trains(rng):
    inputs = Input((4,))
    h = Lambda(scaled_square, arguments={"factor": 0.5})(Dense(4)(inputs))
    model = hl.Model(inputs, Dense(1)(h))
    x = f32(rng.normal(size=(64, 4)))
    y = f32((x ** 2).sum(1, keepdims=True))
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=0.02), loss="mse")
    losses = model.fit(x, y, batch_size=16, epochs=10, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0]
