"""Activations against NumPy (float64), get/serialize/deserialize, and to_categorical.

Runs on the backend chosen by HIGHLEVEL_BACKEND.
"""

import math

import numpy as np
import pytest

import highlevel as hl
from highlevel import activations
from highlevel.utils import to_categorical

X = np.array([[-7.0, -3.0, -1.5, -0.5, -0.1, 0.0], [0.1, 0.5, 1.0, 2.9, 5.5, 9.0]], np.float32)
ERF = np.vectorize(math.erf)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def to_np(x):
    return np.asarray(hl.ops.convert_to_numpy(x), dtype=np.float64)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x):
    return np.logaddexp(x, 0)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_hard_sigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1)


REFERENCES = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": np_sigmoid,
    "softmax": np_softmax,
    "log_softmax": lambda x: np.log(np_softmax(x)),
    "tanh": np.tanh,
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1 + ERF(x / np.sqrt(2))),
    "silu": lambda x: x * np_sigmoid(x),
    "swish": lambda x: x * np_sigmoid(x),
    "softplus": np_softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "hard_sigmoid": np_hard_sigmoid,
    "hard_silu": lambda x: x * np_hard_sigmoid(x),
    "hard_swish": lambda x: x * np_hard_sigmoid(x),
    "exponential": np.exp,
    "linear": lambda x: x,
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "relu6": lambda x: np.clip(x, 0, 6),
    "mish": lambda x: x * np.tanh(np_softplus(x)),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_matches_numpy(name):
    fn = activations.get(name)
    assert getattr(activations, name) is fn
    np.testing.assert_allclose(to_np(fn(hl.ops.convert_to_tensor(X))), REFERENCES[name](X.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)


def test_options():
    x = X.astype(np.float64)
    np.testing.assert_allclose(to_np(activations.gelu(X, approximate=True)),
                               0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(to_np(activations.elu(X, alpha=0.5)), np.where(x > 0, x, 0.5 * np.expm1(x)),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(to_np(activations.leaky_relu(X, negative_slope=0.05)),
                               np.where(x >= 0, x, 0.05 * x), rtol=1e-6)
    np.testing.assert_allclose(to_np(activations.softmax(X, axis=0)), np_softmax(x, axis=0), rtol=1e-5)
    np.testing.assert_allclose(to_np(activations.log_softmax(X, axis=0)), np.log(np_softmax(x, axis=0)), rtol=1e-5,
                               atol=1e-6)


RELU_CASES = [
    {}, {"max_value": 6.0}, {"max_value": 2.5}, {"negative_slope": 0.1}, {"threshold": 1.0},
    {"negative_slope": 0.1, "threshold": 1.0}, {"negative_slope": 0.3, "max_value": 4.0},
    {"negative_slope": 0.2, "max_value": 3.0, "threshold": 0.5},
]


def np_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's relu: x above threshold (capped), else negative_slope * (x - threshold)."""
    positive = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        positive = np.clip(positive, 0, max_value)
    return positive - negative_slope * np.maximum(threshold - x, 0)


@pytest.mark.parametrize("kwargs", RELU_CASES, ids=str)
def test_relu_options(kwargs):
    np.testing.assert_allclose(to_np(activations.relu(X, **kwargs)), np_relu(X.astype(np.float64), **kwargs),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs", RELU_CASES, ids=str)
def test_relu_options_match_keras(kwargs):
    keras = pytest.importorskip("keras")
    expected = np.asarray(keras.activations.relu(X, **kwargs), np.float64)
    np.testing.assert_allclose(to_np(activations.relu(X, **kwargs)), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["gelu", "hard_silu", "mish", "selu", "hard_sigmoid", "softplus", "silu"])
def test_matches_keras(name):
    keras = pytest.importorskip("keras")
    expected = np.asarray(getattr(keras.activations, name)(X), np.float64)
    np.testing.assert_allclose(to_np(activations.get(name)(X)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "gelu", "mish", "hard_silu", "selu", "softplus"])
def test_gradients_match_finite_differences(name):
    x = np.array([[-2.3, -0.7, 0.4, 1.9, 3.3]], np.float32)
    variable = hl.Variable(x)
    _, grads = hl.ops.value_and_grad(lambda: hl.ops.sum(activations.get(name)(variable)), [variable])
    h = 1e-6
    xd = x.astype(np.float64)
    expected = (REFERENCES[name](xd + h) - REFERENCES[name](xd - h)) / (2 * h)
    np.testing.assert_allclose(to_np(grads[0]), expected, rtol=1e-4, atol=1e-6)


def test_get_serialize_deserialize():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.get(np.tanh) is np.tanh
    for name in ("relu", "softmax", "gelu", "silu", "linear"):
        fn = activations.get(name)
        assert activations.serialize(fn) == name
        assert activations.deserialize(activations.serialize(fn)) is fn
    with pytest.raises(ValueError) as error:
        activations.get("rellu")
    message = str(error.value)
    assert "relu" in message and "softmax" in message and "mish" in message
    with pytest.raises(ValueError):
        activations.get(3)


def test_custom_activation_round_trip():
    @hl.saving.register_serializable(package="TestActivations")
    def squared_relu(x):
        return hl.ops.square(hl.ops.relu(x))

    config = activations.serialize(squared_relu)
    assert isinstance(config, dict)
    assert activations.deserialize(config) is squared_relu
    assert activations.get(config) is squared_relu

    def unregistered(x):
        return x

    with pytest.raises(ValueError, match="register"):
        activations.serialize(unregistered)


# ---------------------------------------------------------------------------------- to_categorical


def test_to_categorical():
    out = to_categorical([0, 2, 1, 2])
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1, 2]])
    assert out.dtype == np.float32
    out = to_categorical(np.array([[1], [0]]), num_classes=4, dtype="int32")
    assert out.shape == (2, 4) and out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 1, 0, 0], [1, 0, 0, 0]])
    out = to_categorical(np.array([[0, 1], [2, 0]]))
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.argmax(-1), [[0, 1], [2, 0]])
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError):
        to_categorical([-1, 0])
    with pytest.raises(ValueError):
        to_categorical([0.5])


def test_to_categorical_matches_keras():
    keras = pytest.importorskip("keras")
    labels = np.array([[2], [0], [1], [3]])
    np.testing.assert_array_equal(to_categorical(labels, 5), keras.utils.to_categorical(labels, 5))
