"""Shape ops, indexing, gathers and sorting, with their VJPs.

Gathers scatter their cotangent back with ``np.add.at`` (indices may repeat);
permutations (sort, top_k) with ``np.put_along_axis``.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..protocol import InvalidArgumentError, normalize_axis
from . import dtypes
from .core import as_array, axis_tuple, shape_tuple, unwrap
from .dtypes import INT32
from .tape import Tensor, unbroadcast

ndarray = np.ndarray
_slice = builtins.slice  # this module defines the protocol op ``slice``


def _traced(out, node, vjp):
    return out if node is None else Tensor(out, (node,), vjp)


# ------------------------------------------------------------------ layout


def reshape(x, newshape):
    """Reshape; one -1 entry allowed."""
    if type(x) is ndarray and type(newshape) is tuple:
        return x.reshape(newshape)
    a, node = unwrap(x)
    out = a.reshape(shape_tuple(newshape))
    return _traced(out, node, lambda g: (g.reshape(a.shape),))


def transpose(x, axes=None):
    """Permute axes (reversed when None)."""
    a, node = unwrap(x)
    if axes is not None:
        axes = tuple(int(i) for i in axes)
        if len(axes) != a.ndim or any(not -a.ndim <= i < a.ndim for i in axes):
            raise InvalidArgumentError(
                f"transpose: axes {axes} are not a permutation of the axes of a tensor of shape {a.shape}")
        axes = tuple(i % a.ndim for i in axes)
        if sorted(axes) != list(range(a.ndim)):
            raise InvalidArgumentError(
                f"transpose: axes {axes} are not a permutation of the axes of a tensor of shape {a.shape}")
    out = np.transpose(a, axes)
    if node is None:
        return out
    inverse = None if axes is None else tuple(np.argsort(axes))
    return Tensor(out, (node,), lambda g: (np.transpose(g, inverse),))


def expand_dims(x, axis):
    """Insert size-1 axes."""
    a, node = unwrap(x)
    out = np.expand_dims(a, axis_tuple(axis))
    return _traced(out, node, lambda g: (g.reshape(a.shape),))


def squeeze(x, axis=None):
    """Remove size-1 axes (an error if a named axis is not of size 1)."""
    a, node = unwrap(x)
    out = np.squeeze(a, axis_tuple(axis))
    return _traced(out, node, lambda g: (g.reshape(a.shape),))


def _joined(xs, op):
    if isinstance(xs, (ndarray, Tensor)):
        xs = list(xs)
    if not len(xs):
        raise InvalidArgumentError(f"{op}: needs at least one tensor")
    pairs = [unwrap(x) for x in xs]
    arrays = [a for a, _ in pairs]
    dt = dtypes.promote_many([a.dtype for a in arrays])
    arrays = [a if a.dtype == dt else a.astype(dt) for a in arrays]
    return arrays, tuple(n for _, n in pairs)


def concatenate(xs, axis=0):
    """Join tensors along an existing axis."""
    arrays, nodes = _joined(xs, "concatenate")
    out = np.concatenate(arrays, axis=axis)
    if all(n is None for n in nodes):
        return out
    ax = normalize_axis(axis, out.ndim, "concatenate")
    bounds = np.cumsum([a.shape[ax] for a in arrays])[:-1]
    return Tensor(out, nodes, lambda g: np.split(g, bounds, axis=ax))


def stack(xs, axis=0):
    """Join tensors along a new axis."""
    arrays, nodes = _joined(xs, "stack")
    out = np.stack(arrays, axis=axis)
    if all(n is None for n in nodes):
        return out
    ax = normalize_axis(axis, out.ndim, "stack")
    return Tensor(out, nodes, lambda g: [np.take(g, i, axis=ax) for i in range(len(arrays))])


def split(x, indices_or_sections, axis=0):
    """List of pieces: equal sections (which must divide the axis) or split points."""
    a, node = unwrap(x)
    ax = normalize_axis(axis, a.ndim, "split")
    if not isinstance(indices_or_sections, (int, np.integer)):
        indices_or_sections = [int(i) for i in indices_or_sections]
    elif a.shape[ax] % int(indices_or_sections):
        raise InvalidArgumentError(
            f"split: {indices_or_sections} sections do not divide axis {ax} of size {a.shape[ax]}")
    pieces = np.split(a, indices_or_sections, axis=ax)
    if node is None:
        return pieces
    out, start = [], 0
    for piece in pieces:
        region = (_slice(None),) * ax + (_slice(start, start + piece.shape[ax]),)
        out.append(Tensor(piece, (node,), _embed_vjp(a.shape, region)))
        start += piece.shape[ax]
    return out


def _embed_vjp(shape, region):
    """VJP of ``x[region]`` for basic (non-overlapping) indexing."""

    def vjp(g):
        full = np.zeros(shape, dtype=g.dtype)
        full[region] = g
        return (full,)

    return vjp


def tile(x, repeats):
    """Repeat the whole tensor along axes (np.tile)."""
    a, node = unwrap(x)
    reps = shape_tuple(repeats)
    out = np.tile(a, reps)
    if node is None:
        return out
    rank = max(len(reps), a.ndim)
    base = (1,) * (rank - a.ndim) + a.shape
    reps = (1,) * (rank - len(reps)) + reps
    interleaved = tuple(d for pair in zip(reps, base) for d in pair)
    axes = tuple(range(0, 2 * rank, 2))
    return Tensor(out, (node,), lambda g: (g.reshape(interleaved).sum(axis=axes).reshape(a.shape),))


def repeat(x, repeats, axis=None):
    """Repeat elements (an int or one count per element); axis None flattens."""
    a, node = unwrap(x)
    source = a.reshape(-1) if axis is None else a
    ax = 0 if axis is None else normalize_axis(axis, a.ndim, "repeat")
    counts = repeats if isinstance(repeats, (int, np.integer)) else as_array(repeats)
    out = np.repeat(source, counts, axis=ax)
    if node is None:
        return out

    def vjp(g):
        n = source.shape[ax]
        if isinstance(counts, (int, np.integer)):
            shape = source.shape[:ax] + (n, int(counts)) + source.shape[ax + 1:]
            grad = g.reshape(shape).sum(axis=ax + 1)
        else:
            per = np.broadcast_to(np.asarray(counts).reshape(-1), (n,))
            grad = np.zeros(source.shape, dtype=g.dtype)
            nonzero = np.flatnonzero(per)
            if nonzero.size:
                starts = np.concatenate([[0], np.cumsum(per)[:-1]])[nonzero]
                index = (_slice(None),) * ax + (nonzero,)
                grad[index] = np.add.reduceat(g, starts, axis=ax)
        return (grad.reshape(a.shape),)

    return Tensor(out, (node,), vjp)


def _pad_widths(pad_width, ndim):
    raw = as_array(pad_width) if isinstance(pad_width, (Tensor, ndarray)) or hasattr(pad_width, "_value") \
        else pad_width
    widths = np.broadcast_to(np.asarray(raw, dtype=np.int64), (ndim, 2))
    if (widths < 0).any():
        raise InvalidArgumentError(f"pad: pad widths must be non-negative, got {widths.tolist()}")
    return [tuple(int(v) for v in row) for row in widths]


def pad(x, pad_width, mode="constant", constant_values=0):
    """Pad each axis by (before, after); modes 'constant', 'reflect', 'symmetric'."""
    a, node = unwrap(x)
    widths = _pad_widths(pad_width, a.ndim)
    if mode == "constant":
        fill = constant_values if isinstance(constant_values, (int, float)) else as_array(constant_values).item()
        out = np.pad(a, widths, mode="constant", constant_values=fill)
        if node is None:
            return out
        region = tuple(_slice(before, before + d) for (before, _), d in zip(widths, a.shape))
        return Tensor(out, (node,), lambda g: (g[region],))
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise InvalidArgumentError(f"pad: mode must be 'constant', 'reflect' or 'symmetric', got {mode!r}")
    out = np.pad(a, widths, mode=mode)
    if node is None:
        return out

    def vjp(g):
        # Pad the flat indices the same way: each output entry names its source.
        source = np.pad(np.arange(a.size).reshape(a.shape), widths, mode=mode)
        grad = np.bincount(source.reshape(-1), weights=g.reshape(-1), minlength=a.size)
        return (grad.astype(g.dtype, copy=False).reshape(a.shape),)

    return Tensor(out, (node,), vjp)


def flip(x, axis=None):
    """Reverse along axes (all when None)."""
    a, node = unwrap(x)
    axis = axis_tuple(axis)
    out = np.flip(a, axis)
    return _traced(out, node, lambda g: (np.flip(g, axis),))


def broadcast_to(x, shape):
    """Broadcast to a shape (a read-only view)."""
    a, node = unwrap(x)
    out = np.broadcast_to(a, shape_tuple(shape))
    return _traced(out, node, lambda g: (unbroadcast(g, a.shape),))


# ---------------------------------------------------------------- indexing


def slice(x, start_indices, shape):  # noqa: A001 - protocol name
    """Static slice: a start and a size per axis (size -1: to the end)."""
    a, node = unwrap(x)
    starts, sizes = shape_tuple(start_indices), shape_tuple(shape)
    if len(starts) != a.ndim or len(sizes) != a.ndim:
        raise InvalidArgumentError(
            f"slice: start_indices {starts} and shape {sizes} need one entry per axis of a rank-{a.ndim} "
            f"tensor of shape {a.shape}")
    region = []
    for start, size, dim in zip(starts, sizes, a.shape):
        stop = dim if size == -1 else start + size
        if start < 0 or size < -1 or stop > dim:
            raise InvalidArgumentError(
                f"slice: start {starts} with size {sizes} is out of bounds for shape {a.shape}")
        region.append(_slice(start, stop))
    region = tuple(region)
    out = a[region]
    return _traced(out, node, _embed_vjp(a.shape, region))




def _index_part(k):
    if isinstance(k, (Tensor, ndarray)) or hasattr(k, "_value"):
        array = as_array(k)
        return array.item() if array.ndim == 0 and array.dtype.kind in "iu" else array
    if isinstance(k, list):
        return np.asarray([as_array(e) if isinstance(e, Tensor) else e for e in k])
    return k


def _is_basic(key):
    parts = key if isinstance(key, tuple) else (key,)
    return all(p is None or p is Ellipsis or isinstance(p, (_slice, int, np.integer))
               and not isinstance(p, bool) for p in parts)


def getitem(x, key):
    """x[key]: ints, slices, None, Ellipsis and one integer index array."""
    a, node = unwrap(x)
    key = tuple(_index_part(k) for k in key) if isinstance(key, tuple) else _index_part(key)
    out = a[key]
    if type(out) is not ndarray:
        out = np.asarray(out)
    if node is None:
        return out
    if _is_basic(key):
        return Tensor(out, (node,), _embed_vjp(a.shape, key))

    def vjp(g):
        full = np.zeros(a.shape, dtype=g.dtype)
        np.add.at(full, key, g)
        return (full,)

    return Tensor(out, (node,), vjp)


def _int_indices(indices, op):
    idx = as_array(indices)
    if idx.dtype.kind not in "iu":
        if idx.size == 0:
            return idx.astype(INT32)
        raise InvalidArgumentError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    return idx


def _check_range(idx, n, op, axis):
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].ravel()[:5].tolist()
        raise InvalidArgumentError(f"{op}: indices {bad} are out of range for axis {axis} of size {n}")


def take(x, indices, axis=None):
    """Gather along an axis (flattened when None); indices must lie in [-n, n)."""
    a, node = unwrap(x)
    idx = _int_indices(indices, "take")
    source = a.reshape(-1) if axis is None else a
    ax = 0 if axis is None else normalize_axis(axis, a.ndim, "take")
    _check_range(idx, source.shape[ax], "take", ax)
    out = np.take(source, idx, axis=ax)
    if node is None:
        return out

    def vjp(g):
        full = np.zeros(source.shape, dtype=g.dtype)
        if ax == 0:
            np.add.at(full, idx, g)
        else:
            # Move the gathered axis first so one add.at call scatters every row.
            moved = np.moveaxis(full, ax, 0)
            gm = np.moveaxis(g, tuple(range(ax, ax + idx.ndim)), tuple(range(idx.ndim)))
            np.add.at(moved, idx, gm)
        return (full.reshape(a.shape),)

    return Tensor(out, (node,), vjp)


def take_along_axis(x, indices, axis):
    """Gather with an index tensor of the same rank (np.take_along_axis)."""
    a, node = unwrap(x)
    idx = _int_indices(indices, "take_along_axis")
    if axis is None:
        a_view, ax = a.reshape(-1), 0
        if idx.ndim != 1:
            raise InvalidArgumentError(f"take_along_axis: axis None needs 1-D indices, got {idx.shape}")
    else:
        a_view, ax = a, normalize_axis(axis, a.ndim, "take_along_axis")
    if idx.ndim != a_view.ndim:
        raise InvalidArgumentError(
            f"take_along_axis: indices of shape {idx.shape} must have the rank of x {a_view.shape}")
    _check_range(idx, a_view.shape[ax], "take_along_axis", ax)
    index = tuple(
        idx if d == ax else np.arange(n).reshape((1,) * d + (n,) + (1,) * (a_view.ndim - d - 1))
        for d, n in enumerate(a_view.shape))
    out = a_view[index]
    if node is None:
        return out

    def vjp(g):
        full = np.zeros(a_view.shape, dtype=g.dtype)
        np.add.at(full, index, g)
        return (full.reshape(a.shape),)

    return Tensor(out, (node,), vjp)


# ----------------------------------------------------------------- sorting


def _permutation_vjp(shape, idx, ax):
    def vjp(g):
        full = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(full, idx, g, ax)
        return (full,)

    return vjp


def sort(x, axis=-1):
    """Ascending sort along an axis."""
    a, node = unwrap(x)
    if node is None:
        return np.sort(a, axis=axis)
    ax = normalize_axis(axis, a.ndim, "sort")
    idx = np.argsort(a, axis=ax, kind="stable")
    out = np.take_along_axis(a, idx, ax)
    return Tensor(out, (node,), _permutation_vjp(a.shape, idx, ax))


def _descending(a):
    """Stable descending order of the last axis (ties keep the lower index first), any dtype."""
    n = a.shape[-1]
    return (n - 1 - np.argsort(a[..., ::-1], axis=-1, kind="stable"))[..., ::-1]


def top_k(x, k, sorted=True):  # noqa: A002 - protocol name
    """The k largest entries of the last axis, largest first, and their int32 indices."""
    a, node = unwrap(x)
    if a.ndim == 0:
        raise InvalidArgumentError("top_k: input must have rank >= 1, got a scalar")
    k = int(k)
    if not 0 <= k <= a.shape[-1]:
        raise InvalidArgumentError(f"top_k: k={k} is out of range for a last axis of size {a.shape[-1]}")
    idx = np.ascontiguousarray(_descending(a)[..., :k])
    values = np.take_along_axis(a, idx, -1)
    indices = idx.astype(INT32)
    if node is None:
        return values, indices
    return Tensor(values, (node,), _permutation_vjp(a.shape, idx, a.ndim - 1)), indices


def argsort(x, axis=-1):
    """int32 indices that sort x (stable)."""
    return np.argsort(as_array(x), axis=axis, kind="stable").astype(INT32)


def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot encoding; out-of-range labels give all zeros; float32 by default."""
    labels = as_array(x)
    if labels.dtype.kind not in "iub":
        labels = labels.astype(np.int64)
    out = (labels[..., None] == np.arange(int(num_classes))).astype(dtypes.to_np(dtype, "one_hot"))
    ax = normalize_axis(axis, out.ndim, "one_hot")
    if ax != out.ndim - 1:
        out = np.moveaxis(out, -1, ax)
    return out
