"""Convolutions and pooling, channels_last: inputs ``(batch, *spatial, channels)``.

Kernels have Keras's layout, which is TensorFlow's: ``conv`` ``(*k, in // groups, out)``,
``depthwise_conv`` ``(*k, in, multiplier)``, ``conv_transpose`` ``(*k, out, in)``.
"""

from __future__ import annotations

from ..protocol import (InvalidArgumentError, conv_output_length, conv_transpose_crop,
                        conv_transpose_output_length, normalize_tuple)
from ._engine import tf
from .core import same_dtype, tensor

_raw = tf.raw_ops


#: dtypes whose grouped convolution (and its gradient) TensorFlow's CPU kernels run.
_NATIVE_GROUPED = frozenset({tf.float32, tf.bfloat16})


def _setup(inputs, kernel, strides, padding, dilation_rate, op):
    """Promoted ``(x, kernel)``, the spatial rank, and the checked conv parameters."""
    x, k = same_dtype(inputs, kernel)
    rank = x.shape.rank - 2
    if rank not in (1, 2, 3) or k.shape.rank != rank + 2:
        raise InvalidArgumentError(f"{op}: expected inputs of rank 3, 4 or 5 and a kernel of the same rank, got "
                                   f"shapes {tuple(x.shape)} and {tuple(k.shape)}")
    strides = normalize_tuple(strides, rank, f"{op}: strides")
    dilation = normalize_tuple(dilation_rate, rank, f"{op}: dilation_rate")
    if min(strides) < 1 or min(dilation) < 1:
        raise InvalidArgumentError(f"{op}: strides {strides} and dilation_rate {dilation} must be >= 1")
    if padding not in ("valid", "same"):
        raise InvalidArgumentError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    return x, k, rank, strides, dilation


def _no_strided_dilation(strides, dilation, op):
    if max(strides) > 1 and max(dilation) > 1:
        raise InvalidArgumentError(f"{op}: strides > 1 with dilation > 1 is not supported, got strides "
                                   f"{strides} and dilation_rate {dilation}")


def conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1):
    """N-D convolution (N = 1, 2, 3); ``groups = in_channels // kernel.shape[-2]``."""
    x, k, rank, strides, dilation = _setup(inputs, kernel, strides, padding, dilation_rate, "conv")
    _no_strided_dilation(strides, dilation, "conv")
    in_channels, k_in, out_channels = x.shape[-1], k.shape[-2], k.shape[-1]
    if k_in == 0 or in_channels % k_in or out_channels % (in_channels // k_in):
        raise InvalidArgumentError(f"conv: kernel {tuple(k.shape)} does not fit {in_channels} input channels "
                                   f"(shape {tuple(x.shape)}): in_channels must be a multiple of kernel.shape[-2] "
                                   "and out_channels of the number of groups")
    groups = in_channels // k_in
    if rank == 3:
        # tf.nn.convolution's 3-D path leaves an attribute unset that Conv3D's gradient
        # reads (TF 2.21), so conv3d is called directly.
        def conv_op(xi, ki):
            return tf.nn.conv3d(xi, ki, (1,) + strides + (1,), padding.upper(), dilations=(1,) + dilation + (1,))
    else:
        def conv_op(xi, ki):
            return tf.nn.convolution(xi, ki, strides, padding.upper(), dilations=dilation)
    if rank == 2 and max(dilation) == 1 and (groups == 1 or x.dtype in _NATIVE_GROUPED):
        # The common case as one raw op: tf.nn.convolution's Python costs more than the op.
        return _raw.Conv2D(input=x, filter=k, strides=(1,) + strides + (1,), padding=padding.upper())
    if groups > 1 and (rank == 3 or x.dtype not in _NATIVE_GROUPED):
        # CPU kernels have no grouped Conv3D, nor grouped gradients outside oneDNN's
        # float32/bfloat16: one convolution per group.
        pieces = zip(tf.split(x, groups, axis=-1), tf.split(k, groups, axis=-1))
        return tf.concat([conv_op(xi, ki) for xi, ki in pieces], axis=-1)
    return conv_op(x, k)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1):
    """Depthwise convolution; kernel ``(*k, in, multiplier)``; output channel ``c * multiplier + m``."""
    x, k, rank, strides, dilation = _setup(inputs, kernel, strides, padding, dilation_rate, "depthwise_conv")
    _no_strided_dilation(strides, dilation, "depthwise_conv")
    if k.shape[-2] != x.shape[-1]:
        raise InvalidArgumentError(f"depthwise_conv: kernel {tuple(k.shape)} expects {k.shape[-2]} input "
                                   f"channels, inputs have shape {tuple(x.shape)}")
    if rank == 1:
        out = tf.nn.depthwise_conv2d(x[:, None], k[None], (1, 1) + strides + (1,), padding.upper(),
                                     dilations=(1,) + dilation)
        return out[:, 0]
    if rank == 2 and strides[0] == strides[1]:
        if max(dilation) == 1:
            return _raw.DepthwiseConv2dNative(input=x, filter=k, strides=(1,) + strides + (1,),
                                              padding=padding.upper())
        return tf.nn.depthwise_conv2d(x, k, (1,) + strides + (1,), padding.upper(), dilations=dilation)
    flat = tf.reshape(k, tuple(k.shape[:-2]) + (1, k.shape[-2] * k.shape[-1]))
    return conv(x, flat, strides, padding, dilation)


def _dilate_kernel(k, dilation):
    """Insert ``d - 1`` zeros between kernel taps along each spatial axis."""
    for axis, d in enumerate(dilation):
        if d == 1:
            continue
        taps = k.shape[axis]
        spread = tf.stack([k] + [tf.zeros_like(k)] * (d - 1), axis=axis + 1)
        shape = list(k.shape)
        shape[axis] = taps * d
        k = tf.reshape(spread, shape)
        k = tf.gather(k, tf.range((taps - 1) * d + 1), axis=axis)
    return k


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, dilation_rate=1):
    """Transposed convolution (the gradient of ``conv`` w.r.t. its input); kernel
    ``(*k, out, in)``; output length as Keras's ``deconv_output_length``."""
    x, k, rank, strides, dilation = _setup(inputs, kernel, strides, padding, dilation_rate, "conv_transpose")
    if k.shape[-1] != x.shape[-1]:
        raise InvalidArgumentError(f"conv_transpose: kernel {tuple(k.shape)} expects {k.shape[-1]} input "
                                   f"channels (its last axis), inputs have shape {tuple(x.shape)}")
    out_pad = (None,) * rank if output_padding is None else normalize_tuple(
        output_padding, rank, "conv_transpose: output_padding")
    lengths, taps = tuple(x.shape[1:-1]), tuple(k.shape[:rank])
    out_lengths = [conv_transpose_output_length(n, t, padding, p, s, d)
                   for n, t, p, s, d in zip(lengths, taps, out_pad, strides, dilation)]
    batch = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
    if max(dilation) > 1:
        # CPU kernels dilate only float32 (and none with strides): spread the kernel
        # taps with zeros instead, the same transposed convolution with dilation 1.
        k, dilation = _dilate_kernel(k, dilation), (1,) * rank
        taps = tuple(k.shape[:rank])
    if all(
            conv_output_length(o, t, padding, s, d) == n
            for o, n, t, s, d in zip(out_lengths, lengths, taps, strides, dilation)):
        # TensorFlow's own definition matches the contract whenever conv(z) has x's length.
        return tf.nn.conv_transpose(x, k, [batch, *out_lengths, k.shape[-2]], strides, padding.upper(),
                                    dilations=dilation)
    # Otherwise: the full transposed convolution, cropped (or zero-padded) per axis.
    full = [(n - 1) * s + (t - 1) * d + 1 for n, t, s, d in zip(lengths, taps, strides, dilation)]
    y = tf.nn.conv_transpose(x, k, [batch, *full, k.shape[-2]], strides, "VALID", dilations=dilation)
    for axis, (n, t, p, s, d, f) in enumerate(zip(lengths, taps, out_pad, strides, dilation, full), start=1):
        before, out = conv_transpose_crop(n, t, padding, p, s, d)
        y = y[(slice(None),) * axis + (slice(before, before + out),)]
        short = before + out - f
        if short > 0:
            pads = [[0, 0]] * (rank + 2)
            pads[axis] = [0, short]
            y = tf.pad(y, pads)
    return y


def _pool(pool_op, pool3d_op, inputs, pool_size, strides, padding, op):
    x = tensor(inputs)
    rank = x.shape.rank - 2
    if rank not in (1, 2, 3):
        raise InvalidArgumentError(f"{op}: expected inputs of rank 3, 4 or 5, got shape {tuple(x.shape)}")
    window = normalize_tuple(pool_size, rank, f"{op}: pool_size")
    strides = window if strides is None else normalize_tuple(strides, rank, f"{op}: strides")
    if padding not in ("valid", "same"):
        raise InvalidArgumentError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    if min(window) < 1 or min(strides) < 1:
        raise InvalidArgumentError(f"{op}: pool_size {window} and strides {strides} must be >= 1")
    if rank == 3 and x.dtype in _NATIVE_POOL3D:
        # The generic N-D pool's 3-D path breaks the gradient like tf.nn.convolution's.
        return pool3d_op(x, (1,) + window + (1,), (1,) + strides + (1,), padding.upper())
    if rank == 3:
        return _separable_pool3d(pool_op, x, window, strides, padding.upper())
    if rank == 2:
        ksize, steps = (1,) + window + (1,), (1,) + strides + (1,)
        if pool_op is tf.nn.max_pool:
            return _raw.MaxPool(input=x, ksize=ksize, strides=steps, padding=padding.upper())
        return _raw.AvgPool(value=x, ksize=ksize, strides=steps, padding=padding.upper())
    return pool_op(x, window, strides, padding.upper())


#: dtypes with CPU kernels for MaxPool3D/AvgPool3D; others pool separably in 2-D + 1-D.
_NATIVE_POOL3D = frozenset({tf.float32, tf.bfloat16})


def _separable_pool3d(pool_op, x, window, strides, padding):
    """3-D max/average pooling as a 2-D pool over (H, W) then a 1-D pool over D.

    Both are separable, also with 'SAME' padding: padding never wins a max, and the
    count of real entries in a window is the product of the per-axis counts.
    """
    n, d, h, w, c = x.shape
    planes = pool_op(tf.reshape(x, (-1, h, w, c)), window[1:], strides[1:], padding)
    _, h2, w2, _ = planes.shape
    depth = tf.reshape(tf.transpose(tf.reshape(planes, (-1, d, h2, w2, c)), (0, 2, 3, 1, 4)), (-1, d, 1, c))
    pooled = pool_op(depth, (window[0], 1), (strides[0], 1), padding)
    d2 = pooled.shape[1]
    return tf.transpose(tf.reshape(pooled, (-1, h2, w2, d2, c)), (0, 3, 1, 2, 4))


def max_pool(inputs, pool_size, strides=None, padding="valid"):
    """Max over each window (padding never wins); strides default to ``pool_size``."""
    return _pool(tf.nn.max_pool, tf.nn.max_pool3d, inputs, pool_size, strides, padding, "max_pool")


def average_pool(inputs, pool_size, strides=None, padding="valid"):
    """Mean over each window; with 'same', padded entries are not counted."""
    return _pool(tf.nn.avg_pool, tf.nn.avg_pool3d, inputs, pool_size, strides, padding, "average_pool")
