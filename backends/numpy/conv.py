"""Convolutions (1D/2D/3D, grouped, dilated, transposed) and pooling, channels_last.

conv gathers windows with stride tricks (im2col) and runs one BLAS matmul per block
of images (a batched one per group when groups > 1); blocks keep each block's columns
in cache, which makes the matmul 3-4x faster than one product over the whole batch.
Its VJP w.r.t. the kernel is one matmul per block over the same columns; w.r.t. the
input, one matmul per kernel tap added into the strided region that tap reads (a
loop over taps only). conv_transpose is that input-VJP, and its own gradients are a
forward conv and a kernel VJP. Pooling loops over window taps, each a strided view
of the whole batch.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..protocol import (InvalidArgumentError, conv_output_length, conv_transpose_crop, normalize_tuple,
                        same_padding)
from .core import binary, unwrap, unwrap_float
from .dtypes import BOOL, FLOAT32, FLOATS, HALVES
from .tape import Tensor

ndarray = np.ndarray
_ALL = slice(None)


# -------------------------------------------------------------------- helpers


def _check_rank(op, x, name="inputs"):
    if x.ndim not in (3, 4, 5):
        raise InvalidArgumentError(
            f"{op}: {name} must have rank 3, 4 or 5 (batch, *spatial, channels), got shape {x.shape}")
    return x.ndim - 2


def _window_args(op, rank, strides, padding, dilation_rate):
    strides = normalize_tuple(strides, rank, f"{op}: strides")
    dilation = normalize_tuple(dilation_rate, rank, f"{op}: dilation_rate")
    if padding not in ("valid", "same"):
        raise InvalidArgumentError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    if min(strides) < 1 or min(dilation) < 1:
        raise InvalidArgumentError(f"{op}: strides {strides} and dilation_rate {dilation} must be >= 1")
    if max(strides) > 1 and max(dilation) > 1:
        raise InvalidArgumentError(
            f"{op}: strides {strides} > 1 together with dilation {dilation} > 1 is not supported")
    return strides, dilation


def _paddings(spatial, ksize, strides, dilation, padding):
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    return [same_padding(n, k, s, d) for n, k, s, d in zip(spatial, ksize, strides, dilation)]


def _pad_spatial(x, pads, value=0):
    if not any(before or after for before, after in pads):
        return x
    return np.pad(x, [(0, 0)] + list(pads) + [(0, 0)], constant_values=value)


def _crop_spatial(x, pads, spatial):
    if not any(before or after for before, after in pads):
        return x
    return x[(_ALL,) + tuple(slice(b, b + n) for (b, _), n in zip(pads, spatial))]


def _output_lengths(op, padded, ksize, strides, dilation, x_shape):
    out = tuple(conv_output_length(n, k, "valid", s, d) for n, k, s, d in zip(padded, ksize, strides, dilation))
    if min(out) < 1:
        raise InvalidArgumentError(
            f"{op}: window {ksize} (dilation {dilation}) is larger than the padded input {padded} "
            f"of an input with shape {x_shape}")
    return out


def _windows(xp, out_len, ksize, strides, dilation):
    """Read-only view (N, *out_len, *ksize, C) of every window of padded ``xp`` (N, *S, C)."""
    s_batch, *s_space, s_chan = xp.strides
    shape = (xp.shape[0],) + tuple(out_len) + tuple(ksize) + (xp.shape[-1],)
    steps = ((s_batch,) + tuple(s * st for s, st in zip(s_space, strides))
             + tuple(s * d for s, d in zip(s_space, dilation)) + (s_chan,))
    return as_strided(xp, shape, steps, writeable=False)


def _tap_regions(ksize, out_len, strides, dilation):
    """(tap index, region of the padded input that tap reads for every output position)."""
    for tap in itertools.product(*(range(k) for k in ksize)):
        region = (_ALL,) + tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                                 for t, o, s, d in zip(tap, out_len, strides, dilation)) + (_ALL,)
        yield tap, region


# ------------------------------------------------------------------- conv core

#: Images per block are chosen so one block's im2col columns stay about this size:
#: the matmul then reads columns from cache instead of memory (3-4x faster here).
_BLOCK_BYTES = 1 << 20


class _Conv:
    """One grouped convolution's geometry and its three products, blocked over the batch.

    Kernel in conv layout ``(*k, C_in // groups, C_out)``; output channel ``g*Cog + j``
    belongs to group ``g``. ``forward`` and ``kernel_grad`` gather windows (im2col, one
    copy per block) for one matmul per block; ``input_grad`` runs one matmul per kernel
    tap and adds it into the strided region that tap reads.
    """

    def __init__(self, kernel_shape, cin, out_len, strides, dilation):
        rank = len(kernel_shape) - 2
        self.kernel_shape = tuple(kernel_shape)
        self.ksize = tuple(kernel_shape[:rank])
        self.cin, self.cig, self.cout = cin, kernel_shape[-2], kernel_shape[-1]
        self.taps = int(np.prod(self.ksize))
        self.groups = cin // self.cig
        self.cog = self.cout // self.groups
        self.out_len, self.strides, self.dilation = tuple(out_len), strides, dilation
        self.rows = int(np.prod(self.out_len))  # output positions per image

    def _blocks(self, n, itemsize):
        per = max(1, _BLOCK_BYTES // max(self.rows * self.taps * self.cin * itemsize, 1))
        return [(i, min(i + per, n)) for i in range(0, n, per)]

    def _kernel_matrix(self, w):
        """(K*C, Cout) for groups == 1, else (G, K*Cg, Cog)."""
        if self.groups == 1:
            return w.reshape(self.taps * self.cin, self.cout)
        g = self.groups
        return w.reshape(self.taps, self.cig, g, self.cog).transpose(2, 0, 1, 3).reshape(
            g, self.taps * self.cig, self.cog)

    def _columns(self, windows):
        """im2col of a block of windows (n, *out, *k, C): (M, K*C), or (G, M, K*Cg) when grouped."""
        m = windows.shape[0] * self.rows
        if self.groups == 1:
            return windows.reshape(m, self.taps * self.cin)
        cols = windows.reshape(m, self.taps, self.groups, self.cig).transpose(2, 0, 1, 3)
        return cols.reshape(self.groups, m, self.taps * self.cig)

    def _grouped(self, g2):
        """(M, Cout) -> (G, M, Cog)."""
        return g2.reshape(g2.shape[0], self.groups, self.cog).transpose(1, 0, 2)

    def forward(self, xp, w):
        """Outputs (N, *out, Cout) of padded inputs xp (N, *S, C_in)."""
        windows = _windows(xp, self.out_len, self.ksize, self.strides, self.dilation)
        wmat = self._kernel_matrix(w)
        out = np.empty((xp.shape[0],) + self.out_len + (self.cout,), dtype=np.result_type(xp, w))
        for i, j in self._blocks(xp.shape[0], xp.itemsize):
            cols = self._columns(windows[i:j])
            if self.groups == 1:
                np.matmul(cols, wmat, out=out[i:j].reshape(-1, self.cout))
            else:
                out[i:j] = np.matmul(cols, wmat).transpose(1, 0, 2).reshape(out[i:j].shape)
        return out

    def kernel_grad(self, xp, g):
        """Kernel cotangent (*k, Cg, Cout) from padded inputs and the output cotangent g."""
        windows = _windows(xp, self.out_len, self.ksize, self.strides, self.dilation)
        total = None
        for i, j in self._blocks(xp.shape[0], xp.itemsize):
            cols = self._columns(windows[i:j])
            g2 = g[i:j].reshape(-1, self.cout)
            if self.groups == 1:
                part = cols.T @ g2
            else:
                part = np.matmul(cols.transpose(0, 2, 1), self._grouped(g2))  # (G, K*Cg, Cog)
            total = part if total is None else total.__iadd__(part)
        if self.groups > 1:
            total = total.reshape(self.groups, self.taps, self.cig, self.cog).transpose(1, 2, 0, 3)
        return total.reshape(self.kernel_shape)

    def input_grad(self, g, w, buffer_shape):
        """Cotangent (N, *S, C_in) of padded inputs of ``buffer_shape`` from the output cotangent g."""
        buffer = np.zeros(buffer_shape, dtype=np.result_type(g, w))
        wt = w.reshape(self.taps, self.cig, self.cout)
        if self.groups > 1:
            wt = wt.reshape(self.taps, self.cig, self.groups, self.cog).transpose(0, 2, 3, 1)  # (K, G, Cog, Cg)
        regions = [region for _, region in _tap_regions(self.ksize, self.out_len, self.strides, self.dilation)]
        for i, j in self._blocks(g.shape[0], g.itemsize):
            g2 = g[i:j].reshape(-1, self.cout)
            part = buffer[i:j]
            shape = (j - i,) + self.out_len + (self.cin,)
            grouped = self._grouped(g2) if self.groups > 1 else None
            for t, region in enumerate(regions):
                if self.groups == 1:
                    contribution = g2 @ wt[t].T
                else:
                    contribution = np.matmul(grouped, wt[t]).transpose(1, 0, 2)  # (M, G, Cg)
                part[region] += contribution.reshape(shape)
        return buffer


# ------------------------------------------------------------------------ conv


def conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1):
    """N-D convolution: inputs (N, *S, C_in), kernel (*k, C_in // groups, C_out) -> (N, *S', C_out)."""
    return _conv("conv", inputs, kernel, strides, padding, dilation_rate)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1):
    """Depthwise convolution: inputs (N, *S, C), kernel (*k, C, M) -> (N, *S', C*M), channel c*M + m.

    Each channel meets only its own filters, so a product per kernel tap (a
    multiply-add over the whole batch) beats C tiny matmuls.
    """
    x, nx, w, nw = binary(inputs, kernel)
    dt = x.dtype
    if dt in HALVES:
        x, w = x.astype(FLOAT32), w.astype(FLOAT32)
    rank = _check_rank("depthwise_conv", x)
    if w.ndim != x.ndim or w.shape[-2] != x.shape[-1]:
        raise InvalidArgumentError(
            f"depthwise_conv: kernel must have shape (*kernel_size, {x.shape[-1]}, multiplier) for inputs of "
            f"shape {x.shape}, got {w.shape}")
    strides, dilation = _window_args("depthwise_conv", rank, strides, padding, dilation_rate)
    ksize, (channels, mult) = w.shape[:rank], w.shape[-2:]
    spatial = x.shape[1:-1]
    pads = _paddings(spatial, ksize, strides, dilation, padding)
    xp = _pad_spatial(x, pads)
    out_len = _output_lengths("depthwise_conv", xp.shape[1:-1], ksize, strides, dilation, x.shape)
    regions = [region for _, region in _tap_regions(ksize, out_len, strides, dilation)]
    wt = w.reshape(len(regions), channels, mult)
    acc = np.zeros((x.shape[0],) + out_len + (channels, mult), dtype=np.result_type(x, w))
    for t, region in enumerate(regions):
        acc += xp[region][..., None] * wt[t]
    out = acc.reshape(acc.shape[:-2] + (channels * mult,)).astype(dt, copy=False)
    if nx is None and nw is None:
        return out

    lead = "abcd"[:rank + 1]  # batch and spatial axes, summed away
    weight_spec = f"{lead}y,{lead}yz->yz"

    def vjp(g):
        g4 = g.reshape(g.shape[:-1] + (channels, mult))
        gxp = np.zeros(xp.shape, dtype=g.dtype) if nx is not None else None
        gw = np.empty(wt.shape, dtype=g.dtype) if nw is not None else None
        for t, region in enumerate(regions):
            if gw is not None:  # einsum's own loop: no (N, *out, C, M) temporary
                gw[t] = np.einsum(weight_spec, xp[region], g4)
            if gxp is not None:
                gxp[region] += (g4 * wt[t]).sum(axis=-1) if mult > 1 else g4[..., 0] * wt[t, :, 0]
        gx = _crop_spatial(gxp, pads, spatial) if gxp is not None else None
        return gx, (gw.reshape(w.shape) if gw is not None else None)

    return Tensor(out, (nx, nw), vjp)


def _conv(op, inputs, kernel, strides, padding, dilation_rate):
    x, nx, w, nw = binary(inputs, kernel)
    dt = x.dtype
    if dt in HALVES:
        x, w = x.astype(FLOAT32), w.astype(FLOAT32)
    rank = _check_rank(op, x)
    if w.ndim != x.ndim:
        raise InvalidArgumentError(
            f"{op}: kernel must have rank {x.ndim} (*kernel_size, in_channels // groups, out_channels) "
            f"for inputs of shape {x.shape}, got kernel shape {w.shape}")
    strides, dilation = _window_args(op, rank, strides, padding, dilation_rate)
    ksize, cin, cig, cout = w.shape[:rank], x.shape[-1], w.shape[-2], w.shape[-1]
    if cig < 1 or cin % cig or cout % (cin // cig):
        raise InvalidArgumentError(
            f"{op}: kernel of shape {w.shape} does not fit inputs of shape {x.shape}: in_channels {cin} must be "
            f"a multiple of kernel.shape[-2] = {cig}, and out_channels {cout} a multiple of the groups")
    spatial = x.shape[1:-1]
    pads = _paddings(spatial, ksize, strides, dilation, padding)
    xp = _pad_spatial(x, pads)
    out_len = _output_lengths(op, xp.shape[1:-1], ksize, strides, dilation, x.shape)
    spec = _Conv(w.shape, cin, out_len, strides, dilation)
    out = spec.forward(xp, w).astype(dt, copy=False)
    if nx is None and nw is None:
        return out

    def vjp(g):
        gx = gw = None
        if nw is not None:
            gw = spec.kernel_grad(xp, g)
        if nx is not None:
            gx = _crop_spatial(spec.input_grad(g, w, xp.shape), pads, spatial)
        return gx, gw

    return Tensor(out, (nx, nw), vjp)


def _transpose_geometry(y, w, rank, strides, padding, output_padding, dilation):
    """(full lengths, crops): the uncropped transposed-conv lengths and (before, out) per axis."""
    if output_padding is None:
        output_padding = (None,) * rank
    else:
        output_padding = normalize_tuple(output_padding, rank, "conv_transpose: output_padding")
        for p, s, d in zip(output_padding, strides, dilation):
            if p < 0 or (p >= s and p >= d):
                raise InvalidArgumentError(
                    f"conv_transpose: output_padding {output_padding} must be smaller than strides {strides} "
                    f"or dilation_rate {dilation}")
    lengths = y.shape[1:-1]
    ksize = w.shape[:rank]
    full = tuple((n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(lengths, ksize, strides, dilation))
    crops = tuple(conv_transpose_crop(n, k, padding, p, s, d)
                  for n, k, p, s, d in zip(lengths, ksize, output_padding, strides, dilation))
    for _, out in crops:
        if out < 1:
            raise InvalidArgumentError(f"conv_transpose: output length {out} < 1 for inputs of shape {y.shape}")
    return full, crops


def _crop_full(buffer, crops):
    """buffer (N, *full, C) -> (N, *out, C): crop ``before``, zero-fill where ``out`` runs past."""
    full = buffer.shape[1:-1]
    if all(before + out <= n for (before, out), n in zip(crops, full)):
        return buffer[(_ALL,) + tuple(slice(b, b + o) for b, o in crops)]
    result = np.zeros((buffer.shape[0],) + tuple(o for _, o in crops) + (buffer.shape[-1],), buffer.dtype)
    keep = tuple(min(o, n - b) for (b, o), n in zip(crops, full))
    result[(_ALL,) + tuple(slice(0, k) for k in keep)] = \
        buffer[(_ALL,) + tuple(slice(b, b + k) for (b, _), k in zip(crops, keep))]
    return result


def _uncrop(g, crops, full):
    """Adjoint of ``_crop_full``: g (N, *out, C) placed into zeros (N, *full, C)."""
    buffer = np.zeros((g.shape[0],) + tuple(full) + (g.shape[-1],), g.dtype)
    keep = tuple(min(o, n - b) for (b, o), n in zip(crops, full))
    buffer[(_ALL,) + tuple(slice(b, b + k) for (b, _), k in zip(crops, keep))] = \
        g[(_ALL,) + tuple(slice(0, k) for k in keep)]
    return buffer


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, dilation_rate=1):
    """Transposed convolution: inputs (N, *S, C_in), kernel (*k, C_out, C_in) as Keras -> (N, *S', C_out).

    The VJP w.r.t. z of conv(z, kernel) (kernel read as (*k, C_out, C_in) in conv's
    layout), with z's length from Keras's deconv_output_length.
    """
    y, ny, w, nw = binary(inputs, kernel)
    dt = y.dtype
    if dt in HALVES:
        y, w = y.astype(FLOAT32), w.astype(FLOAT32)
    rank = _check_rank("conv_transpose", y)
    if w.ndim != y.ndim or w.shape[-1] != y.shape[-1]:
        raise InvalidArgumentError(
            f"conv_transpose: kernel must have shape (*kernel_size, out_channels, {y.shape[-1]}) for inputs "
            f"of shape {y.shape}, got {w.shape}")
    strides, dilation = _window_args("conv_transpose", rank, strides, padding, dilation_rate)
    cout = w.shape[-2]
    full, crops = _transpose_geometry(y, w, rank, strides, padding, output_padding, dilation)
    lengths = y.shape[1:-1]
    # The conv it transposes maps z (N, *full, C_out) to y (N, *lengths, C_in) with this kernel.
    spec = _Conv(w.shape, cout, lengths, strides, dilation)
    buffer = spec.input_grad(y, w, (y.shape[0],) + full + (cout,))
    out = _crop_full(buffer, crops).astype(dt, copy=False)
    if ny is None and nw is None:
        return out

    def vjp(g):
        gfull = _uncrop(g, crops, full)
        gy = spec.forward(gfull, w) if ny is not None else None
        gw = spec.kernel_grad(gfull, y) if nw is not None else None
        return gy, gw

    return Tensor(out, (ny, nw), vjp)


# --------------------------------------------------------------------- pooling


def _pool_args(op, x, pool_size, strides, padding):
    rank = _check_rank(op, x)
    pool = normalize_tuple(pool_size, rank, f"{op}: pool_size")
    strides = pool if strides is None else normalize_tuple(strides, rank, f"{op}: strides")
    if padding not in ("valid", "same"):
        raise InvalidArgumentError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    if min(pool) < 1 or min(strides) < 1:
        raise InvalidArgumentError(f"{op}: pool_size {pool} and strides {strides} must be >= 1")
    ones = (1,) * rank
    pads = _paddings(x.shape[1:-1], pool, strides, ones, padding)
    padded = tuple(n + b + a for n, (b, a) in zip(x.shape[1:-1], pads))
    out_len = _output_lengths(op, padded, pool, strides, ones, x.shape)
    return pool, strides, pads, out_len


def _lowest(dtype):
    if dtype in FLOATS:
        return -np.inf
    if dtype == BOOL:
        return False
    return np.iinfo(dtype).min


def max_pool(inputs, pool_size, strides=None, padding="valid"):
    """Max over each window (padding never wins); gradient to the first max of a window."""
    x, node = unwrap(inputs)
    pool, strides, pads, out_len = _pool_args("max_pool", x, pool_size, strides, padding)
    ones = (1,) * len(pool)
    xp = _pad_spatial(x, pads, _lowest(x.dtype))
    regions = [region for _, region in _tap_regions(pool, out_len, strides, ones)]
    out = xp[regions[0]].copy()
    for region in regions[1:]:
        np.maximum(out, xp[region], out=out)
    if node is None:
        return out

    def vjp(g):
        # Taps in order: each window's first tap equal to its max takes the cotangent.
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        taken = np.zeros(out.shape, dtype=bool)
        for region in regions:
            hit = xp[region] == out
            hit &= ~taken
            taken |= hit
            gxp[region] += g * hit
        return (_crop_spatial(gxp, pads, x.shape[1:-1]),)

    return Tensor(out, (node,), vjp)


def average_pool(inputs, pool_size, strides=None, padding="valid"):
    """Mean over each window; 'same' excludes padded entries from the count (TensorFlow)."""
    x, node = unwrap_float(inputs)
    pool, strides, pads, out_len = _pool_args("average_pool", x, pool_size, strides, padding)
    ones = (1,) * len(pool)
    xp = _pad_spatial(x, pads)
    regions = [region for _, region in _tap_regions(pool, out_len, strides, ones)]
    total = xp[regions[0]].copy()
    for region in regions[1:]:
        total += xp[region]
    if padding == "same" and any(b or a for b, a in pads):
        mask = _pad_spatial(np.ones((1,) + x.shape[1:-1] + (1,), dtype=x.dtype), pads)
        count = mask[regions[0]].copy()
        for region in regions[1:]:
            count += mask[region]
    else:
        count = np.asarray(np.prod(pool), dtype=x.dtype)
    out = total / count
    if node is None:
        return out

    def vjp(g):
        share = g / count
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        for region in regions:
            gxp[region] += share
        return (_crop_spatial(gxp, pads, x.shape[1:-1]),)

    return Tensor(out, (node,), vjp)
