"""Convolution, transposed convolution and pooling beyond the op table.

* The naive references of ``naive_ops`` are checked against hand-computed values
  (so the table does not rest on an unchecked reference).
* ``conv_transpose`` is the adjoint of ``conv``: <conv(z, K), y> == <z, conv_transpose(y, K)>
  with the same kernel array K of layout (*k, out, in) — checked on the naive
  references in float64 and on the backend under test.
* Output lengths of ``conv_transpose`` follow Keras's ``deconv_output_length`` for a
  grid of lengths, kernels, strides, paddings and output paddings, and the values
  match the naive scatter implementation there.
"""

import numpy as np
import pytest

import naive_ops as naive
from conformance_utils import SUM_TOL, assert_close, rng_for, to_numpy
from highlevel.backends import protocol
from op_table import CASES

# ---------------------------------------------------------- naive references, by hand


def test_naive_conv_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)
    k = np.array([1.0, 0.0, -1.0]).reshape(3, 1, 1)
    assert_close(naive.conv(x, k)[0, :, 0], [1 - 3, 2 - 4], rtol=0, atol=0)
    # 'same', stride 1, kernel 3: one zero each side.
    assert_close(naive.conv(x, k, padding="same")[0, :, 0], [0 - 2, 1 - 3, 2 - 4, 3 - 0], rtol=0, atol=0)
    # 'same', kernel 2: TF puts the one padded zero after.
    k2 = np.array([1.0, 10.0]).reshape(2, 1, 1)
    assert_close(naive.conv(x, k2, padding="same")[0, :, 0], [21, 32, 43, 4], rtol=0, atol=0)
    # stride 2 'same' on length 4, kernel 3: out 2, total pad 1 -> (0, 1).
    assert_close(naive.conv(x, k, strides=2, padding="same")[0, :, 0], [1 - 3, 3 - 0], rtol=0, atol=0)
    # dilation 2: taps at i and i + 2 only (kernel [1, -1]).
    kd = np.array([1.0, -1.0]).reshape(2, 1, 1)
    assert_close(naive.conv(x, kd, dilation_rate=2)[0, :, 0], [1 - 3, 2 - 4], rtol=0, atol=0)
    # Groups: two input channels, two groups, one output each: channel-wise scaling.
    xg = np.stack([x[..., 0], 10 * x[..., 0]], axis=-1)
    kg = np.array([[[2.0, 3.0]]])  # (1, 1, 2): k=1, in/groups=1, out=2
    assert_close(naive.conv(xg, kg)[0], np.stack([2 * x[0, :, 0], 30 * x[0, :, 0]], -1), rtol=0, atol=0)


def test_naive_pools_by_hand():
    x = np.array([1.0, -5.0, 3.0, 2.0, -1.0]).reshape(1, 5, 1)
    assert_close(naive.max_pool(x, 2)[0, :, 0], [1.0, 3.0], rtol=0, atol=0)
    assert_close(naive.average_pool(x, 2)[0, :, 0], [-2.0, 2.5], rtol=0, atol=0)
    # 'same', window 2, stride 2 on length 5: windows [1,-5], [3,2], [-1, pad].
    assert_close(naive.max_pool(x, 2, padding="same")[0, :, 0], [1.0, 3.0, -1.0], rtol=0, atol=0)
    assert_close(naive.average_pool(x, 2, padding="same")[0, :, 0], [-2.0, 2.5, -1.0], rtol=0, atol=0)
    # 'same', window 3, stride 1: the first window is [pad, 1, -5] -> mean of 2 entries.
    assert_close(naive.average_pool(x, 3, strides=1, padding="same")[0, :, 0],
                 [-2.0, -1 / 3, 0.0, 4 / 3, 0.5], rtol=1e-12, atol=1e-12)


def test_naive_depthwise_is_grouped_conv():
    rng = rng_for("depthwise-grouped")
    x = rng.normal(size=(2, 6, 5, 3))
    k = rng.normal(size=(3, 2, 3, 2))
    expected = naive.conv(x, k.reshape(3, 2, 1, 6), strides=(2, 1), padding="same")
    assert_close(naive.depthwise_conv(x, k, strides=(2, 1), padding="same"), expected, rtol=1e-12, atol=1e-12)


def test_naive_conv_transpose_by_hand():
    # Stride 2, kernel [1, 10], one channel: each input pixel writes y_i * [1, 10] at 2i.
    y = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    k = np.array([1.0, 10.0]).reshape(2, 1, 1)
    assert_close(naive.conv_transpose(y, k, strides=2)[0, :, 0], [1, 10, 2, 20, 3, 30], rtol=0, atol=0)
    # Stride 1, kernel [1, 10]: overlapping writes add.
    assert_close(naive.conv_transpose(y, k)[0, :, 0], [1, 12, 23, 30], rtol=0, atol=0)
    # output_padding 1 with stride 3, kernel 2: length (3-1)*3 + 2 + 1 = 9, last entries zero.
    assert_close(naive.conv_transpose(y, k, strides=3, output_padding=1)[0, :, 0],
                 [1, 10, 0, 2, 20, 0, 3, 30, 0], rtol=0, atol=0)


TRANSPOSE_CONFIGS = [  # y shape, kernel shape (*k, out, in), kwargs
    ((2, 5, 3), (3, 4, 3), {}),
    ((2, 5, 3), (3, 4, 3), {"strides": 2, "padding": "same"}),
    ((2, 5, 2), (4, 3, 2), {"strides": 2, "padding": "same", "output_padding": 1}),
    ((2, 4, 2), (2, 2, 2), {"strides": 3}),
    ((1, 5, 2), (3, 2, 2), {"dilation_rate": 2, "padding": "same"}),
    ((2, 3, 4, 3), (3, 3, 2, 3), {"strides": 2, "padding": "same"}),
    ((1, 3, 4, 2), (3, 2, 3, 2), {"strides": (2, 3), "output_padding": (1, 2)}),
    ((1, 3, 3, 2), (5, 5, 2, 2), {"strides": 3, "padding": "same", "output_padding": 2}),
    ((1, 2, 3, 2, 2), (2, 3, 2, 3, 2), {"strides": 2, "padding": "same"}),
]


def _conv_kwargs(kwargs):
    return {key: v for key, v in kwargs.items() if key != "output_padding"}


@pytest.mark.parametrize("config", TRANSPOSE_CONFIGS, ids=str)
def test_naive_conv_transpose_is_adjoint_of_naive_conv(config):
    y_shape, k_shape, kwargs = config
    rng = rng_for(str(config))
    y, kernel = rng.normal(size=y_shape), rng.normal(size=k_shape)
    out = naive.conv_transpose(y, kernel, **kwargs)
    z = rng.normal(size=out.shape)
    cz = naive.conv(z, kernel, **_conv_kwargs(kwargs))
    assert cz.shape == y.shape
    assert abs(np.sum(cz * y) - np.sum(z * out)) < 1e-9 * max(1.0, abs(np.sum(cz * y)))


@pytest.mark.parametrize("config", TRANSPOSE_CONFIGS, ids=str)
def test_conv_transpose_is_adjoint_of_conv(backend, config):
    k = backend
    y_shape, k_shape, kwargs = config
    rng = rng_for("backend" + str(config))
    y = rng.normal(size=y_shape).astype(np.float32)
    kernel = rng.normal(size=k_shape).astype(np.float32)
    out = k.conv_transpose(k.convert_to_tensor(y), k.convert_to_tensor(kernel), **kwargs)
    z = rng.normal(size=k.shape(out)).astype(np.float32)
    cz = k.conv(k.convert_to_tensor(z), k.convert_to_tensor(kernel), **_conv_kwargs(kwargs))
    assert k.shape(cz) == y_shape
    lhs = np.sum(to_numpy(k, cz).astype(np.float64) * y)
    rhs = np.sum(z.astype(np.float64) * to_numpy(k, out))
    assert abs(lhs - rhs) < 1e-4 * max(1.0, np.sum(np.abs(to_numpy(k, cz) * y)))


# --------------------------------------------- conv_transpose output length and values


def _length_rows():
    rows = []
    for padding in ("valid", "same"):
        for stride in (1, 2, 3):
            for kernel in (1, 2, 3, 4, 5):
                for output_padding in (None,) + tuple(range(stride)):
                    rows.append((4, kernel, padding, output_padding, stride, 1))
    rows += [(5, 3, "valid", None, 1, 2), (5, 3, "same", None, 1, 2), (3, 2, "valid", 0, 1, 3),
             (4, 2, "same", None, 1, 3)]
    # Keep the configurations a conv of the output length maps back to the input length:
    # only those have a transpose (TensorFlow rejects the others).
    return [r for r in rows if naive_conv_length(naive.deconv_output_length(*r), r[1], r[2], r[4], r[5]) == r[0]]


def naive_conv_length(length, kernel, padding, stride, dilation):
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return -(-length // stride)
    return (length - effective) // stride + 1


LENGTH_ROWS = _length_rows()


@pytest.mark.parametrize("row", LENGTH_ROWS, ids=lambda r: "L{}-k{}-{}-op{}-s{}-d{}".format(*r))
def test_protocol_deconv_length_formula(row):
    assert protocol.conv_transpose_output_length(*row) == naive.deconv_output_length(*row)


@pytest.mark.parametrize("row", LENGTH_ROWS, ids=lambda r: "L{}-k{}-{}-op{}-s{}-d{}".format(*r))
def test_conv_transpose_lengths_and_values(backend, row):
    length, kernel, padding, output_padding, stride, dilation = row
    k = backend
    rng = rng_for(str(row))
    y = rng.normal(size=(1, length, 2)).astype(np.float32)
    kern = rng.normal(size=(kernel, 3, 2)).astype(np.float32)
    out = k.conv_transpose(k.convert_to_tensor(y), k.convert_to_tensor(kern), strides=stride, padding=padding,
                           output_padding=output_padding, dilation_rate=dilation)
    expected_length = naive.deconv_output_length(length, kernel, padding, output_padding, stride, dilation)
    assert k.shape(out) == (1, expected_length, 3)
    expected = naive.conv_transpose(y, kern, stride, padding, output_padding, dilation)
    assert_close(to_numpy(k, out), expected, **SUM_TOL)


def test_conv_output_shapes_follow_tf_same(backend):
    k = backend
    for length in range(3, 10):
        for stride in (1, 2, 3):
            x = k.zeros((1, length, length, 1))
            out = k.conv(x, k.ones((3, 3, 1, 2)), strides=stride, padding="same")
            assert k.shape(out) == (1, -(-length // stride), -(-length // stride), 2)
            pooled = k.max_pool(x, 2, strides=stride, padding="valid")
            assert k.shape(pooled) == (1, (length - 2) // stride + 1, (length - 2) // stride + 1, 1)


def test_table_has_conv_family_variants():
    """The op table covers 1D/2D/3D, strides, both paddings, dilation, groups and output_padding."""
    variants = {(c.op, c.variant) for c in CASES}
    for op in ("conv", "conv_transpose", "max_pool", "average_pool"):
        names = [v for o, v in variants if o == op]
        assert any(n.startswith("1d") for n in names) and any(n.startswith("2d") for n in names)
        assert any(n.startswith("3d") for n in names)
        assert any("same" in n for n in names)
    assert any("dilation" in v for o, v in variants if o == "conv")
    assert any("groups" in v for o, v in variants if o == "conv")
    assert any("output_padding" in v for o, v in variants if o == "conv_transpose")
