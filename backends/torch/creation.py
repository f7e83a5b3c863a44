"""Creation and conversion ops: tensors from shapes, scalars and array-likes, and back."""

from __future__ import annotations

import numpy as np
import torch

from ..common import VariableBase
from ..protocol import InvalidArgumentError
from .core import (BOOL, DEVICE, FLOAT32, INT32, INT64, NAMES, SCALAR_TYPES, Tensor, _convert, as_tensor,
                   convert_with_dtype, dtype_name, int_list, to_numpy, torch_dtype)
from .variables import Variable


# uint16/32/64 are storage types in torch: creation works, few kernels exist.
_WIDE_UNSIGNED = (torch.uint16, torch.uint32, torch.uint64)


def _shape(shape, op: str) -> list:
    dims = int_list(shape, op)
    if any(d < 0 for d in dims):
        raise InvalidArgumentError(f"{op}: negative dimension in shape {tuple(dims)}")
    return dims


def _dtype_or(dtype, default):
    return default if dtype is None else torch_dtype(dtype)


# ------------------------------------------------------------------------ creation


def convert_to_tensor(x, dtype=None):
    if dtype is None:
        return x if type(x) is Tensor else _convert(x)
    return convert_with_dtype(x, torch_dtype(dtype))


def zeros(shape, dtype=None):
    return torch.zeros(_shape(shape, "zeros"), dtype=_dtype_or(dtype, FLOAT32), device=DEVICE)


def ones(shape, dtype=None):
    return torch.ones(_shape(shape, "ones"), dtype=_dtype_or(dtype, FLOAT32), device=DEVICE)


def _scalar_dtype(value):
    """Default dtype of a fill value: Python scalars by kind, tensors by their dtype."""
    t = type(value)
    if t is float:
        return FLOAT32
    if t is int:
        return INT32
    if t is bool:
        return BOOL
    return as_tensor(value).dtype


def full(shape, fill_value, dtype=None):
    dims = _shape(shape, "full")
    dt = _scalar_dtype(fill_value) if dtype is None else torch_dtype(dtype)
    if type(fill_value) in SCALAR_TYPES:
        return torch.full(dims, fill_value, dtype=dt, device=DEVICE)
    # An array fill value broadcasts (np.full semantics).
    return as_tensor(fill_value).to(dt).expand(dims).clone()


def _number(value, name):
    if isinstance(value, (Tensor, VariableBase, np.ndarray, np.generic)):
        array = to_numpy(value) if not isinstance(value, (np.ndarray, np.generic)) else np.asarray(value)
        if array.size != 1:
            raise InvalidArgumentError(f"arange: {name} must be a scalar, got shape {array.shape}")
        return array.reshape(()).item()
    return value


def arange(start, stop=None, step=1, dtype=None):
    start, stop, step = _number(start, "start"), _number(stop, "stop"), _number(step, "step")
    if step == 0:
        raise InvalidArgumentError("arange: step must not be zero")
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dt = INT32 if is_int else FLOAT32
    else:
        dt = torch_dtype(dtype)
    if dt.is_floating_point and dt is not torch.float64:
        # Compute in float64 like NumPy, then round once (on the host: MPS has no float64).
        return torch.arange(start, stop, step, dtype=torch.float64).to(dt).to(DEVICE)
    if dt in _WIDE_UNSIGNED:  # torch has no arange kernel for these
        return torch.arange(start, stop, step, dtype=INT64, device=DEVICE).to(dt)
    return torch.arange(start, stop, step, dtype=dt, device=DEVICE)


def eye(N, M=None, k=0, dtype=None):
    dt = _dtype_or(dtype, FLOAT32)
    N = int(N)
    M = N if M is None else int(M)
    k = int(k)
    if k == 0 and dt not in _WIDE_UNSIGNED:
        return torch.eye(N, M, dtype=dt, device=DEVICE)
    rows = torch.arange(N, device=DEVICE).unsqueeze(1)
    cols = torch.arange(M, device=DEVICE)
    return (rows + k == cols).to(dt)


def zeros_like(x, dtype=None):
    x = as_tensor(x)
    return torch.zeros(x.shape, dtype=x.dtype if dtype is None else torch_dtype(dtype), device=x.device)


def ones_like(x, dtype=None):
    x = as_tensor(x)
    return torch.ones(x.shape, dtype=x.dtype if dtype is None else torch_dtype(dtype), device=x.device)


def full_like(x, fill_value, dtype=None):
    x = as_tensor(x)
    dt = x.dtype if dtype is None else torch_dtype(dtype)
    if type(fill_value) in SCALAR_TYPES:
        return torch.full(x.shape, fill_value, dtype=dt, device=x.device)
    return as_tensor(fill_value).to(dt).expand(x.shape).clone()


# ---------------------------------------------------------------------- conversion


def cast(x, dtype):
    x = x if type(x) is Tensor else _convert(x)
    dt = torch_dtype(dtype)
    return x if x.dtype is dt else x.to(dt)


def shape(x):
    if type(x) is Tensor:
        return tuple(x.shape)
    if isinstance(x, (Tensor, VariableBase)):
        return tuple(as_tensor(x).shape)
    return tuple(np.shape(x))


def ndim(x):
    if type(x) is Tensor:
        return x.dim()
    if isinstance(x, (Tensor, VariableBase)):
        return as_tensor(x).dim()
    return int(np.ndim(x))


def size(x):
    if type(x) is Tensor:
        return x.numel()
    return as_tensor(x).numel()


def dtype(x):
    if type(x) is Tensor:
        return NAMES[x.dtype]
    if isinstance(x, VariableBase):
        return x.dtype
    return dtype_name(as_tensor(x).dtype)


def convert_to_numpy(x):
    return to_numpy(x)


def is_tensor(x):
    return isinstance(x, (Tensor, Variable))
