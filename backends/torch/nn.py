"""Activations, softmax, normalization and cross-entropies on torch's fused kernels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..protocol import EPSILON, InvalidArgumentError, layer_norm_axes, normalize_axis
from .core import FLOAT32, INT64, ON_CPU, Tensor, _convert, as_tensor, axis_tuple, float_tensor


def _t(x):
    return x if type(x) is Tensor else _convert(x)


# -------------------------------------------------------------------- activations


def relu(x):
    return torch.relu(_t(x))


def relu6(x):
    # clamp (not F.relu6/hardtanh) so the gradient at 0 and 6 follows np.clip's rule.
    x = _t(x)
    return torch.clamp(x, 0.0, 6.0) if x.is_floating_point() else torch.clamp(x, 0, 6)


def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(float_tensor(x), negative_slope)


def elu(x, alpha=1.0):
    return F.elu(float_tensor(x), alpha)


def selu(x):
    return F.selu(float_tensor(x))


def gelu(x, approximate=True):
    return F.gelu(float_tensor(x), approximate="tanh" if approximate else "none")


def silu(x):
    return F.silu(float_tensor(x))


def sigmoid(x):
    return torch.sigmoid(float_tensor(x))


def softplus(x):
    return F.softplus(float_tensor(x))


def softsign(x):
    return F.softsign(float_tensor(x))


def hard_sigmoid(x):
    return F.hardsigmoid(float_tensor(x))


def softmax(x, axis=-1):
    x = float_tensor(x)
    if isinstance(axis, (tuple, list)):  # several axes (as keras.ops): torch's kernel takes one
        return torch.exp(log_softmax(x, axis))
    return torch.softmax(x, dim=axis)


def log_softmax(x, axis=-1):
    x = float_tensor(x)
    if isinstance(axis, (tuple, list)):
        return x - torch.logsumexp(x, dim=tuple(axis), keepdim=True)
    return torch.log_softmax(x, dim=axis)


def stop_gradient(x):
    return _t(x).detach()


# ------------------------------------------------------------------ normalization


def moments(x, axes, keepdims=False):
    x = float_tensor(x)
    back = None
    if x.dtype in (torch.float16, torch.bfloat16):  # statistics in float32, as Keras does
        back, x = x.dtype, x.to(FLOAT32)
    dims = axis_tuple(axes, x.dim(), "moments") if axes is not None else tuple(range(x.dim()))
    if dims == ():
        mean, variance = x, torch.zeros_like(x)
    else:
        variance, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=keepdims)
    if back is not None:
        mean, variance = mean.to(back), variance.to(back)
    return mean, variance


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=0.001):
    x = float_tensor(x)
    rank = x.dim()
    axis = normalize_axis(int(axis), rank, "batch_normalization")
    dt = x.dtype
    shape = [1] * rank
    shape[axis] = x.shape[axis]

    def along(t, name):
        t = as_tensor(t)
        if t.numel() != x.shape[axis]:
            raise InvalidArgumentError(f"batch_normalization: {name} of shape {tuple(t.shape)} does not match "
                                       f"axis {axis} of x (shape {tuple(x.shape)})")
        t = t.reshape(shape)
        return t if t.dtype is dt else t.to(dt)

    inv = torch.rsqrt(along(variance, "variance") + epsilon)
    if scale is not None:
        inv = inv * along(scale, "scale")
    centered = x - along(mean, "mean")
    if offset is None:
        return centered * inv
    return torch.addcmul(along(offset, "offset"), centered, inv)


def normalize_batch(x, axis, offset=None, scale=None, epsilon=0.001):
    # torch's fused kernel: statistics and normalization in one pass, one fused backward.
    x = float_tensor(x)
    rank = x.dim()
    if rank == 0:
        raise InvalidArgumentError("normalize_batch: x must have rank >= 1, got a scalar")
    axis = normalize_axis(int(axis), rank, "normalize_batch")
    dt = x.dtype
    channels = x.shape[axis]

    # float32 statistics for half inputs, as Keras.
    xc = x if dt is FLOAT32 or dt is torch.float64 else x.to(FLOAT32)

    def param(t, name):
        if t is None:
            return None
        t = as_tensor(t)
        if t.numel() != channels or t.dim() > 1:
            raise InvalidArgumentError(f"normalize_batch: {name} of shape {tuple(t.shape)} does not match "
                                       f"axis {axis} of x (shape {tuple(x.shape)})")
        return t if t.dtype is xc.dtype else t.to(xc.dtype)

    weight, bias = param(scale, "scale"), param(offset, "offset")
    # The kernel wants channels on dim 1 (any strides: a channels_last view stays fast).
    xc = xc.unsqueeze(0) if rank == 1 else (xc.movedim(axis, 1) if axis != 1 else xc)
    out, mean, invstd = torch.native_batch_norm(xc, weight, bias, None, None, True, 0.0, float(epsilon))
    out = out.squeeze(0) if rank == 1 else (out.movedim(1, axis) if axis != 1 else out)
    with torch.no_grad():
        variance = torch.clamp(invstd.reciprocal().square() - float(epsilon), min=0.0)
    mean = mean.detach()
    if out.dtype is not dt:
        out, mean, variance = out.to(dt), mean.to(dt), variance.to(dt)
    return out, mean, variance


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=0.001):
    x = float_tensor(x)
    rank = x.dim()
    axes = layer_norm_axes(axis, rank)
    normalized = tuple(x.shape[a] for a in axes)
    dt = x.dtype
    xc = x if dt is FLOAT32 or dt is torch.float64 else x.to(FLOAT32)  # float32 statistics, as Keras

    def param(t, name):
        if t is None:
            return None
        t = as_tensor(t)
        if tuple(t.shape) != normalized:
            raise InvalidArgumentError(f"layer_normalization: {name} of shape {tuple(t.shape)} does not match the "
                                       f"normalized axes {axes} of x (shape {tuple(x.shape)}): expected "
                                       f"{normalized}")
        return t if t.dtype is xc.dtype else t.to(xc.dtype)

    weight, bias = param(gamma, "gamma"), param(beta, "beta")
    if axes == list(range(rank - len(axes), rank)):
        # The trailing axes: torch's fused kernel (one pass forward, one fused backward).
        out = F.layer_norm(xc, normalized, weight, bias, float(epsilon))
    else:
        variance, mean = torch.var_mean(xc, dim=axes, correction=0, keepdim=True)
        inv = torch.rsqrt(variance + epsilon)
        broadcast = [x.shape[i] if i in axes else 1 for i in range(rank)]
        if weight is not None:
            inv = inv * weight.reshape(broadcast)
        shift = -mean * inv
        if bias is not None:
            shift = shift + bias.reshape(broadcast)
        out = xc * inv + shift
    return out if out.dtype is dt else out.to(dt)


# ------------------------------------------------------------------ cross-entropies


def binary_crossentropy(target, output, from_logits=False):
    output = float_tensor(output)
    target = as_tensor(target)
    if target.dtype is not output.dtype:
        target = target.to(output.dtype)
    if from_logits:
        if target.shape != output.shape:
            target, output = torch.broadcast_tensors(target, output)
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    p = torch.clamp(output, EPSILON, 1.0 - EPSILON)
    return -(target * torch.log(p) + (1.0 - target) * torch.log(1.0 - p))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    output = float_tensor(output)
    target = as_tensor(target)
    if target.shape != output.shape:
        raise InvalidArgumentError(f"categorical_crossentropy: target shape {tuple(target.shape)} does not match "
                                   f"output shape {tuple(output.shape)}")
    if target.dtype is not output.dtype:
        target = target.to(output.dtype)
    if from_logits:
        log_p = torch.log_softmax(output, dim=axis)
    else:
        p = output / torch.sum(output, dim=axis, keepdim=True)
        log_p = torch.log(torch.clamp(p, EPSILON, 1.0 - EPSILON))
    return -torch.sum(target * log_p, dim=axis)


#: ignore_index no label can equal, so that torch's CPU kernels bounds-check every label.
_NO_IGNORE = -2**63


def _labels(target, output, axis, op):
    """Integer labels as int64, shape-checked against ``output`` without its class axis."""
    target = as_tensor(target)
    expected = output.shape[:axis] + output.shape[axis + 1:]
    if target.shape != expected:
        raise InvalidArgumentError(f"{op}: target shape {tuple(target.shape)} does not match output shape "
                                   f"{tuple(output.shape)} without its class axis {tuple(expected)}")
    return target if target.dtype is INT64 else target.to(INT64)


def _check_labels(target, classes, op):
    if target.numel():
        low, high = (int(v) for v in torch.aminmax(target))
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise InvalidArgumentError(f"{op}: labels must be in [0, {classes}), got {bad} "
                                       f"(target shape {tuple(target.shape)})")


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    output = float_tensor(output)
    rank = output.dim()
    if rank == 0:
        raise InvalidArgumentError("sparse_categorical_crossentropy: output needs a class axis, got a scalar")
    axis = normalize_axis(int(axis), rank, "sparse_categorical_crossentropy")
    target = _labels(target, output, axis, "sparse_categorical_crossentropy")
    classes = output.shape[axis]
    if from_logits and axis == rank - 1:
        # Fused log-softmax + NLL over (N, C) rows. On the CPU its own bounds check raises
        # (IndexError "Target 5 is out of bounds") for every bad label, since no label can
        # equal _NO_IGNORE; accelerators would only assert on the device, so check first.
        if not ON_CPU:
            _check_labels(target, classes, "sparse_categorical_crossentropy")
        if rank == 2:
            return F.cross_entropy(output, target, reduction="none", ignore_index=_NO_IGNORE)
        loss = F.cross_entropy(output.reshape(-1, classes), target.reshape(-1), reduction="none",
                               ignore_index=_NO_IGNORE)
        return loss.reshape(target.shape)
    _check_labels(target, classes, "sparse_categorical_crossentropy")
    if from_logits:
        log_p = torch.log_softmax(output, dim=axis)
    else:
        p = output / torch.sum(output, dim=axis, keepdim=True)
        log_p = torch.log(torch.clamp(p, EPSILON, 1.0 - EPSILON))
    return -torch.gather(log_p, axis, target.unsqueeze(axis)).squeeze(axis)
