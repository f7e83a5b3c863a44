"""Matrix products: matmul, dot, einsum, tensordot (operands promoted to one dtype)."""

from __future__ import annotations

import torch

from ..protocol import InvalidArgumentError, normalize_axis
from .core import Tensor, as_tensor, same_dtype
from .core import operands as _pair


def matmul(x1, x2):
    if type(x1) is Tensor and type(x2) is Tensor and x1.dtype is x2.dtype:
        return torch.matmul(x1, x2)
    a, b = _pair(x1, x2, scalar_ok=False)
    return torch.matmul(a, b)


def dot(x1, x2):
    a, b = _pair(x1, x2, scalar_ok=False)
    if a.dim() == 0 or b.dim() == 0:
        return torch.mul(a, b)
    if b.dim() <= 2:
        return torch.matmul(a, b)  # same as np.dot when b is a vector or a matrix
    # np.dot: sum over a's last axis and b's second-to-last.
    return torch.tensordot(a, b, dims=([a.dim() - 1], [b.dim() - 2]))


def einsum(subscripts, *operands):
    tensors = same_dtype([as_tensor(x) for x in operands])
    return torch.einsum(subscripts, *tensors)


def _axes_list(axes, ndim):
    if isinstance(axes, int):
        return [normalize_axis(axes, ndim, "tensordot")]
    return [normalize_axis(int(a), ndim, "tensordot") for a in axes]


def tensordot(x1, x2, axes=2):
    a, b = _pair(x1, x2, scalar_ok=False)
    if isinstance(axes, int):
        if axes < 0 or axes > a.dim() or axes > b.dim():
            raise InvalidArgumentError(
                f"tensordot: axes={axes} does not fit operands of shapes {tuple(a.shape)} and {tuple(b.shape)}")
        return torch.tensordot(a, b, dims=axes)
    try:
        axes_a, axes_b = axes
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}") from None
    axes_a, axes_b = _axes_list(axes_a, a.dim()), _axes_list(axes_b, b.dim())
    if len(axes_a) != len(axes_b):
        raise InvalidArgumentError(f"tensordot: axes {axes_a} and {axes_b} differ in length")
    return torch.tensordot(a, b, dims=(axes_a, axes_b))
