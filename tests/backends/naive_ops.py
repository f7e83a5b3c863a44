"""Naive, loop-based NumPy reference implementations of the windowed ops.

These are the textbook definitions, written for clarity rather than speed, so the
conformance suite does not trust any backend (the NumPy one included) to define
convolution or pooling. Layout is channels_last: ``x: (batch, *spatial, channels)``.
Every function computes in float64.
"""

from __future__ import annotations

import itertools

import numpy as np


def as_tuple(value, rank):
    """``3`` -> ``(3, 3)`` for rank 2."""
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(value)
    assert len(value) == rank, (value, rank)
    return value


def tf_same_padding(length, kernel, stride, dilation=1):
    """TensorFlow's 'same' padding ``(before, after)``: the odd pixel goes after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-length // stride)  # ceil(length / stride)
    total = max((out - 1) * stride + effective - length, 0)
    return total // 2, total - total // 2


def _paddings(spatial, kernel, strides, dilation, padding):
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    assert padding == "same", padding
    return [tf_same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation)]


def _output_lengths(padded, kernel, strides, dilation):
    return tuple((n - ((k - 1) * d + 1)) // s + 1 for n, k, s, d in zip(padded, kernel, strides, dilation))


def conv(x, kernel, strides=1, padding="valid", dilation_rate=1):
    """Grouped N-D convolution (cross-correlation, as every DL framework).

    x: (batch, *spatial, c_in); kernel: (*k, c_in // groups, c_out).
    out[n, o, g*cog + j] = sum_{t, c} x_pad[n, o*s + t*d, g*cig + c] * kernel[t, c, g*cog + j]
    """
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    strides, dilation = as_tuple(strides, rank), as_tuple(dilation_rate, rank)
    cin, cig, cout = x.shape[-1], kernel.shape[-2], kernel.shape[-1]
    groups = cin // cig
    cog = cout // groups
    pads = _paddings(x.shape[1:-1], ksize, strides, dilation, padding)
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    out_len = _output_lengths(xp.shape[1:-1], ksize, strides, dilation)
    out = np.zeros((x.shape[0],) + out_len + (cout,))
    for o in itertools.product(*map(range, out_len)):
        for t in itertools.product(*map(range, ksize)):
            pos = tuple(oi * s + ti * d for oi, ti, s, d in zip(o, t, strides, dilation))
            patch = xp[(slice(None),) + pos]  # (batch, c_in)
            for g in range(groups):
                xs = patch[:, g * cig:(g + 1) * cig]
                ks = kernel[t][:, g * cog:(g + 1) * cog]
                out[(slice(None),) + o + (slice(g * cog, (g + 1) * cog),)] += xs @ ks
    return out


def depthwise_conv(x, kernel, strides=1, padding="valid", dilation_rate=1):
    """Depthwise convolution: kernel (*k, c_in, multiplier); out channel c * multiplier + m."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    strides, dilation = as_tuple(strides, rank), as_tuple(dilation_rate, rank)
    cin, mult = kernel.shape[-2], kernel.shape[-1]
    pads = _paddings(x.shape[1:-1], ksize, strides, dilation, padding)
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    out_len = _output_lengths(xp.shape[1:-1], ksize, strides, dilation)
    out = np.zeros((x.shape[0],) + out_len + (cin * mult,))
    for o in itertools.product(*map(range, out_len)):
        for t in itertools.product(*map(range, ksize)):
            pos = tuple(oi * s + ti * d for oi, ti, s, d in zip(o, t, strides, dilation))
            for c in range(cin):
                for m in range(mult):
                    out[(slice(None),) + o + (c * mult + m,)] += xp[(slice(None),) + pos + (c,)] * kernel[t + (c, m)]
    return out


def deconv_output_length(length, kernel, padding, output_padding, stride, dilation=1):
    """Keras's ``deconv_output_length`` (keras/src/utils/conv_utils semantics)."""
    kernel = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(kernel - stride, 0)
        return length * stride  # "same"
    pad = kernel // 2 if padding == "same" else 0
    return (length - 1) * stride + kernel - 2 * pad + output_padding


def conv_transpose(y, kernel, strides=1, padding="valid", output_padding=None, dilation_rate=1):
    """Transposed convolution by scattering: each input pixel adds ``kernel[t] @ y[i]`` at ``i*s + t*d``.

    y: (batch, *spatial, c_in); kernel: (*k, c_out, c_in) (Keras's Conv*DTranspose layout).
    The full scatter has length ``(L - 1) * s + effective``; the result is its window
    starting at TF's 'same' ``before`` padding (0 for 'valid') with Keras's output length,
    zero-filled where the window runs past the end.
    """
    y = np.asarray(y, np.float64)
    kernel = np.asarray(kernel, np.float64)
    rank = y.ndim - 2
    ksize = kernel.shape[:rank]
    strides, dilation = as_tuple(strides, rank), as_tuple(dilation_rate, rank)
    out_pad = (None,) * rank if output_padding is None else as_tuple(output_padding, rank)
    cout = kernel.shape[-2]
    in_len = y.shape[1:-1]
    full_len = tuple((n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(in_len, ksize, strides, dilation))
    full = np.zeros((y.shape[0],) + full_len + (cout,))
    for i in itertools.product(*map(range, in_len)):
        for t in itertools.product(*map(range, ksize)):
            pos = tuple(ii * s + ti * d for ii, ti, s, d in zip(i, t, strides, dilation))
            full[(slice(None),) + pos] += y[(slice(None),) + i] @ kernel[t].T
    out_len = tuple(deconv_output_length(n, k, padding, p, s, d)
                    for n, k, p, s, d in zip(in_len, ksize, out_pad, strides, dilation))
    before = tuple(tf_same_padding(n, k, s, d)[0] if padding == "same" else 0
                   for n, k, s, d in zip(out_len, ksize, strides, dilation))
    out = np.zeros((y.shape[0],) + out_len + (cout,))
    src = tuple(slice(b, min(b + n, f)) for b, n, f in zip(before, out_len, full_len))
    dst = tuple(slice(0, s.stop - s.start) for s in src)
    out[(slice(None),) + dst] = full[(slice(None),) + src]
    return out


def _pool(x, pool_size, strides, padding, reduce):
    x = np.asarray(x, np.float64)
    rank = x.ndim - 2
    pool = as_tuple(pool_size, rank)
    strides = pool if strides is None else as_tuple(strides, rank)
    pads = _paddings(x.shape[1:-1], pool, strides, (1,) * rank, padding)
    # NaN marks padded entries; ``reduce`` ignores them.
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)], constant_values=np.nan)
    out_len = _output_lengths(xp.shape[1:-1], pool, strides, (1,) * rank)
    out = np.zeros((x.shape[0],) + out_len + (x.shape[-1],))
    for o in itertools.product(*map(range, out_len)):
        window = xp[(slice(None),) + tuple(slice(oi * s, oi * s + p) for oi, s, p in zip(o, strides, pool))]
        window = window.reshape(x.shape[0], -1, x.shape[-1])
        out[(slice(None),) + o] = reduce(window)
    return out


def max_pool(x, pool_size, strides=None, padding="valid"):
    """Max over each window; padded entries never win."""
    return _pool(x, pool_size, strides, padding, lambda w: np.nanmax(w, axis=1))


def average_pool(x, pool_size, strides=None, padding="valid"):
    """Mean over each window; padded entries are excluded from the count (TF semantics)."""
    return _pool(x, pool_size, strides, padding, lambda w: np.nanmean(w, axis=1))
