"""Convolution layers against textbook NumPy convolutions, finite differences and Keras.

Conv1D/2D/3D (strides, same/valid/causal padding, dilation, groups), the transposed
convolutions (as the adjoint of a convolution, written out as a scatter), DepthwiseConv
and SeparableConv: forward values, gradients of inputs, kernels and biases (finite
differences of the NumPy reference in float64), Keras 3 outputs with copied weights,
configs, functional shape inference, argument and rank errors, and a small CNN that
learns with ``fit``.
"""

import itertools
import json

import numpy as np
import pytest

import highlevel as hl
from highlevel import layers

ACT = {None: lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}


@pytest.fixture(autouse=True)
def seeded():
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(hl.ops.convert_to_numpy(x))


# --------------------------------------------------------------- NumPy references


def same_pads(length, k, s, d):
    eff = (k - 1) * d + 1
    out = -(-length // s)
    total = max((out - 1) * s + eff - length, 0)
    return total // 2, total - total // 2


def np_conv(x, kernel, strides, padding, dilation, groups=1):
    """out[n, o, f] = sum_{t, c} x_pad[n, o*s + t*d, c] * kernel[t, c, f], per group (channels_last)."""
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    if padding == "causal":
        x = np.pad(x, [(0, 0), ((ksize[0] - 1) * dilation[0], 0), (0, 0)])
        padding = "valid"
    if padding == "same":
        pads = [same_pads(n, k, s, d) for n, k, s, d in zip(x.shape[1:-1], ksize, strides, dilation)]
        x = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    out_sizes = [(n - ((k - 1) * d + 1)) // s + 1 for n, k, s, d in zip(x.shape[1:-1], ksize, strides, dilation)]
    cin, cout = kernel.shape[-2], kernel.shape[-1]
    out = np.zeros((x.shape[0], *out_sizes, cout))
    per_group = cout // groups
    for tap in itertools.product(*(range(k) for k in ksize)):
        window = tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                       for t, d, s, o in zip(tap, dilation, strides, out_sizes))
        patch = x[(slice(None),) + window]
        for g in range(groups):
            out[..., g * per_group:(g + 1) * per_group] += (
                patch[..., g * cin:(g + 1) * cin] @ kernel[tap][:, g * per_group:(g + 1) * per_group])
    return out


def np_conv_transpose(x, kernel, strides, padding, output_padding, dilation):
    """The adjoint of ``np_conv`` from an output of Keras's length: scatter every input entry
    through every tap, ``z_pad[i*s + t*d] += x[i] @ kernel[t].T``, then drop the conv's padding."""
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    lengths, befores = [], []
    for n, k, s, d, p in zip(x.shape[1:-1], ksize, strides, dilation, output_padding or (None,) * rank):
        eff = (k - 1) * d + 1
        if p is None:
            length = n * s if padding == "same" else n * s + max(eff - s, 0)
        else:
            length = (n - 1) * s + eff - 2 * (eff // 2 if padding == "same" else 0) + p
        lengths.append(length)
        befores.append(same_pads(length, k, s, d)[0] if padding == "same" else 0)
    full = [max(length + b, (n - 1) * s + (k - 1) * d + 1)
            for length, b, n, s, k, d in zip(lengths, befores, x.shape[1:-1], strides, ksize, dilation)]
    z = np.zeros((x.shape[0], *full, kernel.shape[-2]))
    for tap in itertools.product(*(range(k) for k in ksize)):
        window = tuple(slice(t * d, t * d + s * (n - 1) + 1, s)
                       for t, d, s, n in zip(tap, dilation, strides, x.shape[1:-1]))
        z[(slice(None),) + window] += x @ kernel[tap].T
    crop = tuple(slice(b, b + length) for b, length in zip(befores, lengths))
    return z[(slice(None),) + crop]


def np_depthwise(x, kernel, strides, padding, dilation):
    """Each channel c convolved with its own multiplier filters; output channel c * m + j."""
    channels = kernel.shape[-2]
    outs = [np_conv(x[..., c:c + 1], kernel[..., c:c + 1, :], strides, padding, dilation) for c in range(channels)]
    return np.concatenate(outs, axis=-1)


# ------------------------------------------------------------------ layer cases
# (class, arguments, input shape, reference(x, weights) -> output before activation)


def conv_ref(kw):
    def ref(x, weights):
        rank = x.ndim - 2
        out = np_conv(x, weights[0], _tuple(kw.get("strides", 1), rank), kw.get("padding", "valid"),
                      _tuple(kw.get("dilation_rate", 1), rank), kw.get("groups", 1))
        return out + weights[1] if kw.get("use_bias", True) else out
    return ref


def transpose_ref(kw):
    def ref(x, weights):
        rank = x.ndim - 2
        op = kw.get("output_padding")
        out = np_conv_transpose(x, weights[0], _tuple(kw.get("strides", 1), rank), kw.get("padding", "valid"),
                                None if op is None else _tuple(op, rank), _tuple(kw.get("dilation_rate", 1), rank))
        return out + weights[1] if kw.get("use_bias", True) else out
    return ref


def depthwise_ref(kw):
    def ref(x, weights):
        rank = x.ndim - 2
        out = np_depthwise(x, weights[0], _tuple(kw.get("strides", 1), rank), kw.get("padding", "valid"),
                           _tuple(kw.get("dilation_rate", 1), rank))
        return out + weights[1] if kw.get("use_bias", True) else out
    return ref


def separable_ref(kw):
    def ref(x, weights):
        rank = x.ndim - 2
        depth = np_depthwise(x, weights[0], _tuple(kw.get("strides", 1), rank), kw.get("padding", "valid"),
                             _tuple(kw.get("dilation_rate", 1), rank))
        out = depth @ weights[1].reshape(weights[1].shape[-2:])
        return out + weights[2] if kw.get("use_bias", True) else out
    return ref


def _tuple(v, rank):
    return (v,) * rank if isinstance(v, int) else tuple(v)


CASES = [
    ("Conv1D", dict(filters=4, kernel_size=3), (2, 9, 3), conv_ref),
    ("Conv1D", dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2, activation="tanh"), (2, 9, 3),
     conv_ref),
    ("Conv1D", dict(filters=4, kernel_size=2, strides=2, padding="same", groups=2), (2, 9, 4), conv_ref),
    ("Conv2D", dict(filters=3, kernel_size=3, activation="relu"), (2, 6, 7, 2), conv_ref),
    ("Conv2D", dict(filters=4, kernel_size=(3, 2), strides=(2, 1), padding="same", use_bias=False), (2, 7, 6, 3),
     conv_ref),
    ("Conv2D", dict(filters=4, kernel_size=3, dilation_rate=(2, 1), groups=2, padding="same"), (2, 7, 6, 4),
     conv_ref),
    ("Conv3D", dict(filters=2, kernel_size=2, strides=(1, 2, 1), padding="same"), (2, 3, 5, 4, 2), conv_ref),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 5, 2), transpose_ref),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2), (2, 4, 3, 2), transpose_ref),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=1,
                             activation="tanh"), (2, 3, 4, 2), transpose_ref),
    ("Conv2DTranspose", dict(filters=2, kernel_size=2, strides=3, padding="valid"), (2, 3, 2, 2), transpose_ref),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"), (2, 4, 4, 3),
     transpose_ref),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=2), (1, 2, 3, 2, 2), transpose_ref),
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 7, 3), depthwise_ref),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, strides=2), (2, 7, 6, 3), depthwise_ref),
    ("DepthwiseConv2D", dict(kernel_size=(2, 3), dilation_rate=2, padding="same", activation="relu"), (2, 6, 6, 2),
     depthwise_ref),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, strides=2), (2, 9, 3), separable_ref),
    ("SeparableConv2D", dict(filters=5, kernel_size=3, depth_multiplier=2, padding="same"), (2, 6, 5, 3),
     separable_ref),
]
CASES = [(name, kw, shape, make_ref(kw)) for name, kw, shape, make_ref in CASES]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw, _, _ in CASES]


def make(name, kw, shape):
    layer = getattr(layers, name)(**kw)
    layer.build(shape)
    rng = np.random.default_rng(1)
    # Random (not zero) biases, so bias handling is checked too.
    layer.set_weights([w + rng.normal(size=w.shape).astype(np.float32) * (w.ndim == 1) for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("name, kw, shape, ref", CASES, ids=IDS)
def test_forward_matches_numpy(name, kw, shape, ref):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    layer = make(name, kw, shape)
    y = to_numpy(layer(x))
    expected = ACT[kw.get("activation")](ref(x.astype(np.float64), [w.astype(np.float64) for w in layer.get_weights()]))
    assert y.shape == expected.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    assert layer.compute_output_shape(shape) == expected.shape
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + expected.shape[1:]


@pytest.mark.parametrize("name, kw, shape, ref", CASES, ids=IDS)
def test_gradients_match_finite_differences(name, kw, shape, ref):
    rng = np.random.default_rng(2)
    x = rng.normal(size=shape).astype(np.float32)
    layer = make(name, kw, shape)
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    act = ACT[kw.get("activation")]
    probe = rng.normal(size=layer.compute_output_shape(shape))

    def loss_np(x_, weights_):
        return np.sum(act(ref(x_, weights_)) * probe)

    x_var = hl.ops.Variable(x)
    probe_t = hl.ops.convert_to_tensor(probe.astype(np.float32))
    _, grads = hl.ops.value_and_grad(lambda: hl.ops.sum(hl.ops.multiply(layer(x_var), probe_t)),
                                     [x_var] + layer.trainable_weights)
    grads = [to_numpy(g) for g in grads]

    def numeric(get, set_, size):
        out = np.zeros(size)
        for i in range(size):
            plus, minus = get(), get()
            plus.flat[i] += 1e-6
            minus.flat[i] -= 1e-6
            out[i] = (set_(plus) - set_(minus)) / 2e-6
        return out

    x64 = x.astype(np.float64)
    expected_x = numeric(x64.copy, lambda v: loss_np(v, weights), x64.size).reshape(x.shape)
    scale = np.abs(expected_x).max()
    np.testing.assert_allclose(grads[0], expected_x, rtol=1e-3, atol=1e-4 * scale)
    for j, w in enumerate(weights):
        def with_weight(v, j=j):
            return loss_np(x64, weights[:j] + [v] + weights[j + 1:])
        expected_w = numeric(w.copy, with_weight, w.size).reshape(w.shape)
        np.testing.assert_allclose(grads[1 + j], expected_w, rtol=1e-3, atol=1e-4 * np.abs(expected_w).max())


@pytest.mark.parametrize("name, kw, shape, ref", CASES, ids=IDS)
def test_matches_keras_with_copied_weights(name, kw, shape, ref):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    theirs = getattr(keras.layers, name)(**kw)
    expected = np.asarray(theirs(x))
    ours = getattr(layers, name)(**kw)
    ours.build(shape)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(x)), expected, rtol=1e-4, atol=1e-5)


def test_channels_first_equals_transposed_channels_last():
    x = np.random.default_rng(4).normal(size=(2, 3, 6, 5)).astype(np.float32)
    last = layers.Conv2D(4, 3, padding="same", strides=2)
    first = layers.Conv2D(4, 3, padding="same", strides=2, data_format="channels_first")
    y_last = to_numpy(last(np.transpose(x, (0, 2, 3, 1))))
    first.build(x.shape)
    first.set_weights(last.get_weights())
    y_first = to_numpy(first(x))
    np.testing.assert_allclose(y_first, np.transpose(y_last, (0, 3, 1, 2)), rtol=1e-5, atol=1e-6)
    assert first.compute_output_shape((None, 3, 6, 5)) == (None, 4, 3, 3)
    up = layers.Conv2DTranspose(2, 3, strides=2, padding="same", data_format="channels_first")
    assert to_numpy(up(x)).shape == (2, 2, 12, 10) == up.compute_output_shape(x.shape)


def test_causal_conv_does_not_look_ahead():
    layer = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = np.random.default_rng(5).normal(size=(1, 10, 2)).astype(np.float32)
    y = to_numpy(layer(x))
    x2 = x.copy()
    x2[:, 6:] += 10.0
    y2 = to_numpy(layer(x2))
    assert y.shape == (1, 10, 2)
    np.testing.assert_array_equal(y[:, :6], y2[:, :6])
    assert not np.allclose(y[:, 6:], y2[:, 6:])


# ------------------------------------------------------- configs, shapes, errors

CONFIG_LAYERS = [
    layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu", kernel_regularizer="l2", name="c1"),
    layers.Conv2D(8, (3, 2), strides=2, padding="same", groups=2, use_bias=False, kernel_initializer="he_normal",
                  bias_constraint=hl.constraints.MaxNorm(2.0), data_format="channels_first", name="c2"),
    layers.Conv3D(2, 2, name="c3"),
    layers.Conv1DTranspose(3, 3, strides=2, output_padding=1, name="t1"),
    layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="sigmoid", name="t2"),
    layers.Conv3DTranspose(3, 2, name="t3"),
    layers.DepthwiseConv1D(3, depth_multiplier=2, name="d1"),
    layers.DepthwiseConv2D(3, depth_multiplier=3, depthwise_regularizer="l1", name="d2"),
    layers.SeparableConv1D(4, 3, name="s1"),
    layers.SeparableConv2D(4, 3, depth_multiplier=2, pointwise_initializer="zeros", padding="same", name="s2"),
]


@pytest.mark.parametrize("layer", CONFIG_LAYERS, ids=[layer.name for layer in CONFIG_LAYERS])
def test_config_round_trip(layer):
    config = json.loads(json.dumps(hl.layers.serialize(layer)))
    clone = hl.layers.deserialize(config)
    assert type(clone) is type(layer) and clone.name == layer.name
    assert clone.get_config() == json.loads(json.dumps(layer.get_config()))


def test_config_matches_keras_keys():
    keras = pytest.importorskip("keras")
    for name in ("Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D"):
        args = (4, 3) if name in ("Conv2D", "Conv2DTranspose", "SeparableConv2D") else (3,)
        ours = set(getattr(layers, name)(*args).get_config())
        theirs = set(getattr(keras.layers, name)(*args).get_config())
        assert theirs - ours <= {"lora_rank", "lora_alpha"}, (name, theirs - ours)


def test_functional_shape_inference():
    inputs = hl.Input((None, None, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    assert x.shape == (None, None, None, 8)
    fixed = hl.Input((28, 28, 1))
    y = layers.Conv2D(4, 3)(fixed)
    y = layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2)(y)
    y = layers.SeparableConv2D(5, 3, padding="same")(y)
    y = layers.Conv2DTranspose(2, 3, strides=2, padding="same")(y)
    assert y.shape == (None, 24, 24, 2)
    model = hl.Model(fixed, y)
    out = model.predict(np.zeros((3, 28, 28, 1), np.float32), verbose=0)
    assert out.shape == (3, 24, 24, 2)
    seq = hl.Input((20, 3))
    z = layers.Conv1D(4, 5, padding="causal")(seq)
    z = layers.Conv1DTranspose(2, 3, strides=3)(z)
    assert z.shape == (None, 60, 2)


def test_argument_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Conv2D 'bad': filters must be a positive integer, got filters=0"):
        layers.Conv2D(0, 3, name="bad")
    with pytest.raises(ValueError, match=r"kernel_size must be an integer or a tuple of 2 integers, got "
                                         r"kernel_size=\(3, 3, 3\)"):
        layers.Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match="strides must be positive"):
        layers.Conv1D(4, 3, strides=0)
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same', got padding='causal'"):
        layers.Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="strides > 1 together with dilation_rate > 1"):
        layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="filters must be divisible by groups, got filters=5 and groups=2"):
        layers.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match="output_padding must be smaller than its stride"):
        layers.Conv2DTranspose(4, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="data_format must be"):
        layers.Conv2D(4, 3, data_format="NHWC")
    with pytest.raises(ValueError, match="depth_multiplier must be a positive integer"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="unknown activation"):
        layers.Conv2D(4, 3, activation="relux")


def test_input_errors_name_the_layer_expected_and_actual():
    layer = layers.Conv2D(4, 3, name="img")
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 8, 8), np.float32))
    message = str(info.value)
    assert '"img"' in message and "ndim=4" in message and "(2, 8, 8)" in message
    layer(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 8, 8, 5), np.float32))
    assert '"img"' in str(info.value) and "value 3" in str(info.value)
    with pytest.raises(ValueError, match=r"Conv2D 'small': inputs of shape \(None, 2, 2, 1\) are too small"):
        layers.Conv2D(4, 3, name="small")(hl.Input((2, 2, 1)))
    with pytest.raises(ValueError, match=r"divisible by groups, got 3 channels"):
        layers.Conv2D(4, 3, groups=2)(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="channel dimension of the inputs must be defined"):
        layers.Conv1D(4, 3)(hl.Input((5, None)))


# ---------------------------------------------------------------------- training


def test_small_cnn_learns_with_fit():
    rng = np.random.default_rng(0)
    # Bright blob in the top half (class 0) or the bottom half (class 1).
    y = rng.integers(0, 2, size=128)
    x = rng.normal(scale=0.3, size=(128, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        row = rng.integers(0, 3) + 5 * label
        col = rng.integers(0, 6)
        x[i, row:row + 3, col:col + 2] += 1.5
    model = hl.Sequential([
        hl.Input((8, 8, 1)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.DepthwiseConv2D(3, padding="same"),
        layers.SeparableConv2D(8, 3, activation="relu"),
        layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
        layers.Conv2D(4, 3, strides=2),
        layers.Flatten(),
        layers.Dense(2),
    ])
    model.compile(optimizer=hl.optimizers.Adam(0.01),
                  loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert history.history["accuracy"][-1] > 0.85
