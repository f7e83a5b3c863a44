"""Shape ops, indexing, gathering and sorting, with NumPy's semantics where torch's differ.

Differences handled here: torch silently ignores ``squeeze`` of a non-unit axis, makes
uneven ``split`` pieces, has no negative slice steps, no ``symmetric`` padding, and
``topk`` does not promise a stable order among ties.
"""

from __future__ import annotations

import builtins

import numpy as np
import torch
import torch.nn.functional as F

from ..common import VariableBase
from ..protocol import InvalidArgumentError, normalize_axis
from .core import (BOOL, FLOAT32, INT32, INT64, ON_CPU, Tensor, _convert, as_tensor, axis_tuple, from_numpy,
                   int_list, same_dtype, torch_dtype)

_slice = builtins.slice


def _t(x):
    return x if type(x) is Tensor else _convert(x)


# ------------------------------------------------------------------- reshaping


def reshape(x, newshape):
    x = _t(x)
    if type(newshape) is tuple and builtins.all(type(d) is int for d in newshape):
        return torch.reshape(x, newshape)
    return torch.reshape(x, int_list(newshape, "reshape"))


def transpose(x, axes=None):
    x = _t(x)
    if axes is None:
        return x.permute(*range(x.dim() - 1, -1, -1))
    axes = [normalize_axis(int(a), x.dim(), "transpose") for a in axes]
    if len(axes) != x.dim() or len(set(axes)) != len(axes):
        raise InvalidArgumentError(f"transpose: axes {tuple(axes)} are not a permutation of a rank-{x.dim()} "
                                   f"tensor's axes (shape {tuple(x.shape)})")
    return x.permute(*axes)


def expand_dims(x, axis):
    x = _t(x)
    if type(axis) is int:
        return torch.unsqueeze(x, normalize_axis(axis, x.dim() + 1, "expand_dims"))
    axes = tuple(axis)
    out_rank = x.dim() + len(axes)
    for a in axis_tuple(axes, out_rank, "expand_dims"):
        x = torch.unsqueeze(x, a)
    return x


def squeeze(x, axis=None):
    x = _t(x)
    if axis is None:
        return torch.squeeze(x)
    axes = axis_tuple(axis, x.dim(), "squeeze")
    for a in axes:
        if x.shape[a] != 1:
            raise InvalidArgumentError(f"squeeze: axis {a} of shape {tuple(x.shape)} has size {x.shape[a]}, not 1")
    return torch.squeeze(x, axes) if axes else x


def _tensors(xs, op):
    if isinstance(xs, (Tensor, np.ndarray)) or not isinstance(xs, (list, tuple)):
        raise InvalidArgumentError(f"{op}: expected a list of tensors, got {type(xs).__name__}")
    if not xs:
        raise InvalidArgumentError(f"{op}: needs at least one tensor")
    return same_dtype([_t(x) for x in xs])


def concatenate(xs, axis=0):
    tensors = _tensors(xs, "concatenate")
    if axis is None:
        return torch.cat([t.reshape(-1) for t in tensors])
    ranks = {t.dim() for t in tensors}
    if len(ranks) != 1 or 0 in ranks:
        raise InvalidArgumentError(f"concatenate: all inputs need the same rank >= 1, got shapes "
                                   f"{[tuple(t.shape) for t in tensors]}")
    return torch.cat(tensors, dim=axis)


def stack(xs, axis=0):
    return torch.stack(_tensors(xs, "stack"), dim=axis)


def split(x, indices_or_sections, axis=0):
    x = _t(x)
    axis = normalize_axis(int(axis), x.dim(), "split")
    length = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or length % sections:
            raise InvalidArgumentError(f"split: {sections} sections do not divide axis {axis} of length {length} "
                                       f"(shape {tuple(x.shape)})")
        return list(torch.split(x, length // sections, dim=axis))
    indices = int_list(indices_or_sections, "split")
    return list(torch.tensor_split(x, indices, dim=axis))


def tile(x, repeats):
    x = _t(x)
    reps = int_list(repeats, "tile")
    if builtins.any(r < 0 for r in reps):
        raise InvalidArgumentError(f"tile: negative repeats {tuple(reps)}")
    return torch.tile(x, reps)


def repeat(x, repeats, axis=None):
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = normalize_axis(int(axis), x.dim(), "repeat")
    if isinstance(repeats, (int, np.integer)):
        if repeats < 0:
            raise InvalidArgumentError(f"repeat: negative repeats {repeats}")
        return torch.repeat_interleave(x, int(repeats), dim=axis)
    counts = int_list(repeats, "repeat")
    if len(counts) == 1:
        return torch.repeat_interleave(x, counts[0], dim=axis)
    if len(counts) != x.shape[axis]:
        raise InvalidArgumentError(f"repeat: {len(counts)} repeats for axis {axis} of length {x.shape[axis]}")
    return torch.repeat_interleave(x, torch.tensor(counts, dtype=INT64, device=x.device), dim=axis)


def _pad_pairs(pad_width, shape):
    """np.pad's pad_width forms -> one (before, after) pair per axis."""
    rank = len(shape)
    array = np.asarray(to_host(pad_width), dtype=np.int64)
    if array.ndim == 0:
        array = np.broadcast_to(array, (rank, 2))
    elif array.shape == (2,) or array.shape == (1, 2):
        array = np.broadcast_to(array.reshape(1, 2), (rank, 2))
    elif array.shape == (1,):
        array = np.broadcast_to(array, (rank, 2))
    if array.shape != (rank, 2):
        raise InvalidArgumentError(f"pad: pad_width {np.asarray(pad_width).tolist()} does not fit a tensor of "
                                   f"shape {tuple(shape)}")
    if (array < 0).any():
        raise InvalidArgumentError(f"pad: negative pad_width {array.tolist()} for a tensor of shape {tuple(shape)}")
    return [(int(b), int(a)) for b, a in array]


def to_host(value):
    if isinstance(value, (Tensor, VariableBase)):
        return as_tensor(value).detach().cpu().numpy()
    return value


def _mirror_indices(length, before, after, symmetric):
    """Source index of every padded position for 'reflect'/'symmetric' (NumPy semantics)."""
    positions = np.arange(-before, length + after)
    if symmetric:
        period = 2 * length
        p = np.mod(positions, period)
        return np.where(p < length, p, period - 1 - p)
    if length == 1:
        return np.zeros_like(positions)
    period = 2 * (length - 1)
    p = np.mod(positions, period)
    return np.where(p < length, p, period - p)


def pad(x, pad_width, mode="constant", constant_values=0):
    x = _t(x)
    pairs = _pad_pairs(pad_width, tuple(x.shape))
    if mode == "constant":
        if not builtins.any(b or a for b, a in pairs):
            return x
        flat = [v for b, a in reversed(pairs) for v in (b, a)]  # F.pad lists the last axis first
        value = constant_values
        if isinstance(value, (Tensor, VariableBase, np.ndarray, np.generic)):
            value = np.asarray(to_host(value)).item()
        if x.dtype is BOOL:
            return F.pad(x.to(torch.uint8), flat, value=float(value)).to(BOOL)
        return F.pad(x, flat, value=value)
    if mode not in ("reflect", "symmetric"):
        raise InvalidArgumentError(f"pad: mode must be 'constant', 'reflect' or 'symmetric', got {mode!r}")
    for axis, (before, after) in enumerate(pairs):
        if before or after:
            length = x.shape[axis]
            if length == 0:
                raise InvalidArgumentError(f"pad: cannot {mode}-pad the empty axis {axis} of shape {tuple(x.shape)}")
            index = _mirror_indices(length, before, after, mode == "symmetric")
            x = torch.index_select(x, axis, torch.as_tensor(index, device=x.device))
    return x


def flip(x, axis=None):
    x = _t(x)
    dims = tuple(range(x.dim())) if axis is None else axis_tuple(axis, x.dim(), "flip")
    return torch.flip(x, dims)


def broadcast_to(x, shape):
    return torch.broadcast_to(_t(x), int_list(shape, "broadcast_to"))


# -------------------------------------------------------------------- indexing


def slice(x, start_indices, shape):
    x = _t(x)
    starts, sizes = int_list(start_indices, "slice"), int_list(shape, "slice")
    if len(starts) != x.dim() or len(sizes) != x.dim():
        raise InvalidArgumentError(f"slice: start_indices {tuple(starts)} and shape {tuple(sizes)} need "
                                   f"{x.dim()} entries for a tensor of shape {tuple(x.shape)}")
    key = []
    for dim, (s, n) in enumerate(zip(starts, sizes)):
        length = x.shape[dim]
        if s < 0 or s > length or (n != -1 and (n < 0 or s + n > length)):
            raise InvalidArgumentError(f"slice: start {s} with size {n} is out of range for axis {dim} "
                                       f"of length {length} (shape {tuple(x.shape)})")
        key.append(_slice(s, None if n == -1 else s + n))
    return x[tuple(key)]


def _index_tensor(index):
    """An index array as a torch tensor torch indexes like NumPy (int64 or bool)."""
    if isinstance(index, (list, np.ndarray)):
        array = np.asarray(index)
        if array.dtype != np.bool_ and array.dtype.kind not in "iu":
            raise InvalidArgumentError(f"getitem: index arrays must be integer or bool, got {array.dtype}")
        index = from_numpy(array)
    else:
        index = as_tensor(index)
    if index.dtype is BOOL or index.dtype is INT64:
        return index
    if index.is_floating_point():
        raise InvalidArgumentError(f"getitem: index tensors must be integer or bool, got {index.dtype}")
    return index.to(INT64)  # also stops torch reading uint8 as a mask


def getitem(x, key):
    x = _t(x)
    if type(key) is not tuple:
        key = (key,)
    # Integers, slices with positive steps, None and Ellipsis go straight to torch.
    for k in key:
        if type(k) is _slice:
            if k.step is None or (type(k.step) is int and k.step > 0):
                continue
        elif type(k) is int or k is None or k is Ellipsis:
            continue
        return _getitem_general(x, key)
    return x[key]


def _getitem_general(x, key):
    parts = []
    for k in key:
        if isinstance(k, (bool, np.bool_)):
            parts.append(k)
        elif isinstance(k, (int, np.integer)):
            parts.append(int(k))
        elif k is None or k is Ellipsis or type(k) is _slice:
            parts.append(k)
        elif isinstance(k, (list, np.ndarray, Tensor, VariableBase)):
            index = _index_tensor(k)
            parts.append(int(index) if index.dim() == 0 and index.dtype is INT64 else index)
        else:
            raise InvalidArgumentError(f"getitem: unsupported index {k!r} of type {type(k).__name__}")
    # Locate the axis each entry consumes so negative-step slices can become flips.
    consumed = [(p.dim() if type(p) is Tensor and p.dtype is BOOL else 1)
                if not (p is None or p is Ellipsis or isinstance(p, bool)) else 0 for p in parts]
    if parts.count(Ellipsis) > 1:
        raise InvalidArgumentError("getitem: an index can only have a single ellipsis")
    if Ellipsis in parts:
        at = parts.index(Ellipsis)
        fill = x.dim() - builtins.sum(consumed)
        parts[at:at + 1] = [_slice(None)] * fill
        consumed[at:at + 1] = [1] * fill
    dim = 0
    for i, p in enumerate(parts):
        if type(p) is _slice and p.step is not None and int(p.step) < 0:
            if dim >= x.dim():
                raise InvalidArgumentError(f"getitem: too many indices for a tensor of shape {tuple(x.shape)}")
            length = x.shape[dim]
            start, stop, step = p.indices(length)
            count = len(range(start, stop, step))
            x = torch.flip(x, (dim,))
            first = length - 1 - start
            parts[i] = _slice(first, first + count * -step, -step) if count else _slice(0, 0)
        elif type(p) is Tensor and p.dtype is INT64 and not ON_CPU and dim < x.dim():
            _in_range(p, x.shape[dim], "getitem", x.shape)  # CUDA would only assert on the device
        dim += consumed[i]
    if any(type(p) is Tensor for p in parts) and any(type(p) is int for p in parts):
        # NumPy counts integers as advanced indices once an index array is present (which
        # moves the result axes to the front when they are not adjacent); torch does not.
        parts = [torch.tensor([p], device=x.device) if type(p) is int else p for p in parts]
    return x[tuple(parts)]


def _in_range(indices, length, op, shape):
    """Raise for indices outside [-length, length); map negative ones (NumPy allows them,
    torch's gathers do not, and CUDA would only assert on the device)."""
    if not indices.numel():
        return indices
    low, high = (int(v) for v in torch.aminmax(indices))
    if low < -length or high >= length:
        bad = low if low < -length else high
        raise InvalidArgumentError(f"{op}: index {bad} is out of range for an axis of length {length} "
                                   f"(shape {tuple(shape)})")
    return torch.where(indices < 0, indices + length, indices) if low < 0 else indices


def _gather_index(indices, op):
    indices = as_tensor(indices)
    if indices.is_floating_point() or indices.dtype is BOOL:
        raise InvalidArgumentError(f"{op}: indices must be integers, got {indices.dtype}")
    return indices if indices.dtype is INT64 else indices.to(INT64)


def take(x, indices, axis=None):
    x = _t(x)
    indices = _gather_index(indices, "take")
    if axis is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = normalize_axis(int(axis), x.dim(), "take")
    flat = _in_range(indices.reshape(-1), x.shape[axis], "take", x.shape)
    out = torch.index_select(x, axis, flat)
    return out.reshape(x.shape[:axis] + indices.shape + x.shape[axis + 1:])


def take_along_axis(x, indices, axis):
    x = _t(x)
    indices = _gather_index(indices, "take_along_axis")
    if axis is None:
        x, axis = x.reshape(-1), 0
        indices = indices.reshape(-1)
    axis = normalize_axis(int(axis), x.dim(), "take_along_axis")
    if indices.dim() != x.dim():
        raise InvalidArgumentError(f"take_along_axis: indices of shape {tuple(indices.shape)} need the rank of x "
                                   f"(shape {tuple(x.shape)})")
    indices = _in_range(indices, x.shape[axis], "take_along_axis", x.shape)
    return torch.take_along_dim(x, indices, dim=axis)


# --------------------------------------------------------------------- sorting


def sort(x, axis=-1):
    x = _t(x)
    if x.dim() == 0:
        raise InvalidArgumentError("sort: cannot sort a 0-d tensor")
    return torch.sort(x, dim=axis, stable=True).values


def argsort(x, axis=-1):
    x = _t(x)
    if x.dim() == 0:
        raise InvalidArgumentError("argsort: cannot sort a 0-d tensor")
    return torch.argsort(x, dim=axis, stable=True).to(INT32)


def top_k(x, k, sorted=True):
    x = _t(x)
    k = int(k)
    if x.dim() == 0 or not 0 <= k <= x.shape[-1]:
        raise InvalidArgumentError(f"top_k: k={k} is out of range for a last axis of shape {tuple(x.shape)}")
    # A stable descending sort keeps the lower index first among ties, as the protocol asks
    # (torch.topk does not promise any order among ties).
    values, indices = torch.sort(x, dim=-1, descending=True, stable=True)
    return values[..., :k], indices[..., :k].to(INT32)


def one_hot(x, num_classes, axis=-1, dtype=None):
    x = _t(x)
    num_classes = int(num_classes)
    dt = FLOAT32 if dtype is None else torch_dtype(dtype)
    # Comparing with arange gives all-zero rows for out-of-range labels (torch's one_hot raises).
    classes = torch.arange(num_classes, device=x.device)
    out = (x.unsqueeze(-1) == classes).to(dt)
    axis = normalize_axis(int(axis), out.dim(), "one_hot")
    return out if axis == out.dim() - 1 else torch.movedim(out, -1, axis)

