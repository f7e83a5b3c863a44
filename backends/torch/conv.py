"""Convolution and pooling: channels_last in the protocol, channels_first in torch.

``(N, *spatial, C)`` is permuted to ``(N, C, *spatial)`` without a copy (the result is
a channels_last-strided tensor, which torch's CPU kernels take natively) and back.
Kernels go from Keras's ``(*k, in/groups, out)`` to torch's ``(out, in/groups, *k)``.
``'same'`` is TensorFlow's padding (extra pixel after): symmetric cases use the
kernels' own padding argument, asymmetric ones an explicit ``F.pad``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..protocol import (InvalidArgumentError, conv_transpose_crop, normalize_tuple, same_padding)
from .core import Tensor, _convert, operands

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _t(x):
    return x if type(x) is Tensor else _convert(x)


def _spatial_rank(x, op):
    rank = x.dim() - 2
    if rank not in (1, 2, 3):
        raise InvalidArgumentError(f"{op}: inputs must have rank 3, 4 or 5 (batch, *spatial, channels), "
                                   f"got shape {tuple(x.shape)}")
    return rank


def to_channels_first(x):
    return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1))


def to_channels_last(x):
    return x.permute(0, *range(2, x.dim()), 1)


def _padding(padding, op):
    if padding not in ("valid", "same"):
        raise InvalidArgumentError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _same_pads(spatial, kernel, strides, dilation):
    return [same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation)]


def _explicit_pad(x, pads, value=0.0):
    """F.pad a channels_first tensor by per-dimension (before, after) pairs."""
    flat = [v for before, after in reversed(pads) for v in (before, after)]
    return F.pad(x, flat, value=value)


def _conv_args(inputs, kernel, strides, padding, dilation_rate, op):
    x, w = operands(inputs, kernel, scalar_ok=False)
    rank = _spatial_rank(x, op)
    if w.dim() != rank + 2:
        raise InvalidArgumentError(f"{op}: kernel of shape {tuple(w.shape)} does not fit inputs of shape "
                                   f"{tuple(x.shape)} (expected rank {rank + 2})")
    strides = normalize_tuple(strides, rank, f"{op} strides")
    dilation = normalize_tuple(dilation_rate, rank, f"{op} dilation_rate")
    if any(s < 1 for s in strides) or any(d < 1 for d in dilation):
        raise InvalidArgumentError(f"{op}: strides {strides} and dilation_rate {dilation} must be positive")
    if any(s > 1 for s in strides) and any(d > 1 for d in dilation):
        raise InvalidArgumentError(f"{op}: strides {strides} > 1 together with dilation {dilation} > 1 "
                                   f"is not supported (inputs {tuple(x.shape)}, kernel {tuple(w.shape)})")
    return x, w, rank, strides, dilation, _padding(padding, op)


def conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1):
    x, w, rank, strides, dilation, padding = _conv_args(inputs, kernel, strides, padding, dilation_rate, "conv")
    in_channels, kernel_in, out_channels = x.shape[-1], w.shape[-2], w.shape[-1]
    if kernel_in == 0 or in_channels % kernel_in or out_channels % (in_channels // kernel_in):
        raise InvalidArgumentError(
            f"conv: inputs with {in_channels} channels (shape {tuple(x.shape)}) do not fit a kernel of shape "
            f"{tuple(w.shape)} (kernel in-channels x groups must equal the input channels, and the groups must "
            f"divide the {out_channels} output channels)")
    groups = in_channels // kernel_in
    return _conv_nd(x, w, rank, strides, dilation, padding, groups)


def _conv_nd(x, w, rank, strides, dilation, padding, groups):
    kernel_size = tuple(w.shape[:rank])
    weight = w.permute(rank + 1, rank, *range(rank))
    xc = to_channels_first(x)
    pad_arg = 0
    if padding == "same":
        pads = _same_pads(x.shape[1:-1], kernel_size, strides, dilation)
        if all(before == after for before, after in pads):
            pad_arg = tuple(before for before, _ in pads)
        else:
            xc = _explicit_pad(xc, pads)
    out = _CONV[rank](xc, weight, None, strides, pad_arg, dilation, groups)
    return to_channels_last(out)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1):
    x, w, rank, strides, dilation, padding = _conv_args(inputs, kernel, strides, padding, dilation_rate,
                                                        "depthwise_conv")
    in_channels = x.shape[-1]
    if w.shape[-2] != in_channels:
        raise InvalidArgumentError(f"depthwise_conv: kernel of shape {tuple(w.shape)} needs {in_channels} input "
                                   f"channels (inputs of shape {tuple(x.shape)})")
    # (*k, in, multiplier) -> (*k, 1, in * multiplier): output channel c * multiplier + m.
    w = w.reshape(*w.shape[:rank], 1, in_channels * w.shape[-1])
    return _conv_nd(x, w, rank, strides, dilation, padding, in_channels)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, dilation_rate=1):
    x, w, rank, strides, dilation, padding = _conv_args(inputs, kernel, strides, padding, dilation_rate,
                                                        "conv_transpose")
    if w.shape[-1] != x.shape[-1]:
        raise InvalidArgumentError(f"conv_transpose: kernel of shape {tuple(w.shape)} (*k, out, in) needs "
                                   f"{w.shape[-1]} input channels, inputs have shape {tuple(x.shape)}")
    kernel_size = tuple(w.shape[:rank])
    if output_padding is None:
        out_pad = (None,) * rank
    else:
        out_pad = normalize_tuple(output_padding, rank, "conv_transpose output_padding")
        if any(p < 0 for p in out_pad):
            raise InvalidArgumentError(f"conv_transpose: output_padding {out_pad} must not be negative")
    # Keras (*k, out, in) -> torch's transposed-conv weight (in, out, *k).
    weight = w.permute(rank + 1, rank, *range(rank))
    full = _CONV_T[rank](to_channels_first(x), weight, None, strides, 0, 0, 1, dilation)
    # The full transposed convolution, cropped (or zero-extended) per protocol.conv_transpose_crop.
    index = [slice(None), slice(None)]
    extend = []
    for i, (length, k, s, d, p) in enumerate(zip(x.shape[1:-1], kernel_size, strides, dilation, out_pad)):
        before, out = conv_transpose_crop(length, k, padding, p, s, d)
        available = full.shape[2 + i] - before
        index.append(slice(before, before + min(out, available)))
        extend.append((0, max(out - available, 0)))
    out = full[tuple(index)]
    if any(after for _, after in extend):
        out = _explicit_pad(out, extend)
    return to_channels_last(out)


# ------------------------------------------------------------------------ pooling


def _pool_args(inputs, pool_size, strides, padding, op):
    x = _t(inputs)
    rank = _spatial_rank(x, op)
    pool = normalize_tuple(pool_size, rank, f"{op} pool_size")
    strides = pool if strides is None else normalize_tuple(strides, rank, f"{op} strides")
    if any(p < 1 for p in pool) or any(s < 1 for s in strides):
        raise InvalidArgumentError(f"{op}: pool_size {pool} and strides {strides} must be positive")
    spatial = tuple(x.shape[1:-1])
    if _padding(padding, op) == "valid" and any(p > n for p, n in zip(pool, spatial)):
        raise InvalidArgumentError(f"{op}: pool_size {pool} is larger than the spatial shape {spatial} "
                                   f"with 'valid' padding")
    pads = _same_pads(spatial, pool, strides, (1,) * rank) if padding == "same" else None
    return x, rank, pool, strides, pads


def _symmetric_pad(pads, pool):
    """The kernels' own padding argument when it can express the pads, else None."""
    if all(before == after and before <= k // 2 for (before, after), k in zip(pads, pool)):
        return tuple(before for before, _ in pads)
    return None


def max_pool(inputs, pool_size, strides=None, padding="valid"):
    x, rank, pool, strides, pads = _pool_args(inputs, pool_size, strides, padding, "max_pool")
    xc = to_channels_first(x)
    pad_arg = 0
    if pads is not None and any(b or a for b, a in pads):
        pad_arg = _symmetric_pad(pads, pool)
        if pad_arg is None:
            fill = float("-inf") if x.is_floating_point() else int(torch.iinfo(x.dtype).min)
            xc, pad_arg = _explicit_pad(xc, pads, fill), 0
    return to_channels_last(_MAX_POOL[rank](xc, pool, strides, pad_arg))


def average_pool(inputs, pool_size, strides=None, padding="valid"):
    x, rank, pool, strides, pads = _pool_args(inputs, pool_size, strides, padding, "average_pool")
    if not x.is_floating_point():
        x = x.to(torch.float32)  # a mean of integers is float32, as for ``mean``
    xc = to_channels_first(x)
    if pads is None or not any(b or a for b, a in pads):
        return to_channels_last(_AVG_POOL[rank](xc, pool, strides))
    pad_arg = _symmetric_pad(pads, pool)
    if pad_arg is not None:
        # TensorFlow's 'same' averages over the real entries only.
        return to_channels_last(_AVG_POOL[rank](xc, pool, strides, pad_arg, False, False))
    # Asymmetric: sum over zero-padded windows, divided by each window's count of real entries.
    summed = _AVG_POOL[rank](_explicit_pad(xc, pads), pool, strides)
    ones = torch.ones((1, 1) + tuple(x.shape[1:-1]), dtype=x.dtype, device=x.device)
    counts = _AVG_POOL[rank](_explicit_pad(ones, pads), pool, strides)
    return to_channels_last(summed / counts)
