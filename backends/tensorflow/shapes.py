"""Shape manipulation, indexing, gathering and sorting (NumPy semantics)."""

from __future__ import annotations

import builtins

import numpy as np

from ..protocol import InvalidArgumentError, normalize_axis
from ._engine import tf
from .checks import integer_indices, wrapped_indices
from .core import (BOOL, INT32, INTS, Tensor, VariableBase, cast, int_tensor, same_dtype, tensor, tf_dtype,
                   typed_scalar)
from .reductions import axes as _axes

_raw = tf.raw_ops
_INT8 = tf.int8

# ---------------------------------------------------------------------- reshaping


def reshape(x, newshape):
    """``x`` with shape ``newshape`` (an int or a tuple with at most one -1)."""
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    return _raw.Reshape(tensor=tensor(x), shape=int_tensor(newshape))


def transpose(x, axes=None):
    """Permute axes (reverse them when ``axes`` is None)."""
    x = tensor(x)
    rank = x.shape.rank
    if axes is None:
        perm = tuple(range(rank - 1, -1, -1))
    else:
        perm = tuple(normalize_axis(int(a), rank, "transpose") for a in axes)
        if sorted(perm) != list(range(rank)):
            raise InvalidArgumentError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                                       f"{rank} axes of shape {tuple(x.shape)}")
    return _raw.Transpose(x=x, perm=int_tensor(perm))


def expand_dims(x, axis):
    """Insert size-1 axes at ``axis`` (an int or a tuple, positions in the result)."""
    x = tensor(x)
    if isinstance(axis, (list, tuple)):
        out_rank = x.shape.rank + len(axis)
        positions = sorted(normalize_axis(int(a), out_rank, "expand_dims") for a in axis)
        if len(set(positions)) != len(positions):
            raise InvalidArgumentError(f"expand_dims: repeated axis in {tuple(axis)}")
        for p in positions:
            x = _raw.ExpandDims(input=x, axis=p)
        return x
    return _raw.ExpandDims(input=x, axis=normalize_axis(int(axis), x.shape.rank + 1, "expand_dims"))


def squeeze(x, axis=None):
    """Remove size-1 axes (all of them when ``axis`` is None); a non-1 axis is an error."""
    x = tensor(x)
    if axis is None:
        return _raw.Squeeze(input=x, axis=[])
    dims = _axes(axis, x.shape.rank, "squeeze")
    for d in dims:
        if x.shape[d] != 1:
            raise InvalidArgumentError(f"squeeze: axis {d} of shape {tuple(x.shape)} has size {x.shape[d]}, not 1")
    return _raw.Squeeze(input=x, axis=list(dims)) if dims else x


def concatenate(xs, axis=0):
    """Join tensors along an existing axis (dtypes promoted)."""
    tensors = same_dtype(*xs)
    if not tensors:
        raise InvalidArgumentError("concatenate: needs at least one tensor")
    axis = normalize_axis(int(axis), tensors[0].shape.rank, "concatenate")
    return _raw.ConcatV2(values=tensors, axis=axis) if len(tensors) > 1 else tensors[0]


def stack(xs, axis=0):
    """Join tensors along a new axis (dtypes promoted)."""
    tensors = same_dtype(*xs)
    if not tensors:
        raise InvalidArgumentError("stack: needs at least one tensor")
    axis = normalize_axis(int(axis), tensors[0].shape.rank + 1, "stack")
    return _raw.Pack(values=tensors, axis=axis)


def split(x, indices_or_sections, axis=0):
    """List of pieces: ``n`` equal sections (which must divide the axis) or split points."""
    x = tensor(x)
    axis = normalize_axis(int(axis), x.shape.rank, "split")
    length = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or length % sections:
            raise InvalidArgumentError(f"split: an axis of length {length} (shape {tuple(x.shape)}, axis {axis}) "
                                       f"cannot be split into {sections} equal sections")
        return tf.split(x, sections, axis=axis)
    points = [int(p) for p in indices_or_sections]
    lead = (_FULL,) * axis
    bounds = [None] + points + [None]
    return [_basic_index(x, lead + (builtins.slice(start, stop),)) for start, stop in zip(bounds[:-1], bounds[1:])]


def tile(x, repeats):
    """Repeat the whole tensor along axes (``np.tile`` rules for mismatched lengths)."""
    x = tensor(x)
    reps = [int(repeats)] if isinstance(repeats, (int, np.integer)) else [int(r) for r in repeats]
    rank = x.shape.rank
    if any(r < 0 for r in reps):
        raise InvalidArgumentError(f"tile: repeats must be non-negative, got {reps}")
    if len(reps) < rank:
        reps = [1] * (rank - len(reps)) + reps
    elif len(reps) > rank:
        x = tf.reshape(x, [1] * (len(reps) - rank) + list(x.shape))
    return _raw.Tile(input=x, multiples=int_tensor(tuple(reps)))


def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times (an int or one count per element) along ``axis``."""
    x = tensor(x)
    if axis is None:
        x = tf.reshape(x, (-1,))
        axis = 0
    axis = normalize_axis(int(axis), x.shape.rank, "repeat")
    if not isinstance(repeats, (int, np.integer)):
        repeats = integer_indices(repeats, "repeat")
        count = repeats.shape.num_elements()
        if repeats.shape.rank > 1 or count not in (1, x.shape[axis]):
            raise InvalidArgumentError(f"repeat: {count} repeat counts do not match axis {axis} of "
                                       f"shape {tuple(x.shape)}")
    elif repeats < 0:
        raise InvalidArgumentError(f"repeat: repeats must be non-negative, got {repeats}")
    return tf.repeat(x, repeats, axis=axis)


_PAD_MODES = {"constant": "CONSTANT", "reflect": "REFLECT", "symmetric": "SYMMETRIC"}


def pad(x, pad_width, mode="constant", constant_values=0):
    """Pad with ``((before, after), ...)`` per axis (or one pair / one int for all axes)."""
    x = tensor(x)
    if mode not in _PAD_MODES:
        raise InvalidArgumentError(f"pad: mode must be one of {', '.join(_PAD_MODES)}, got {mode!r}")
    rank = x.shape.rank
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (rank, 2))
    except ValueError:
        raise InvalidArgumentError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape "
                                   f"{tuple(x.shape)}") from None
    if (widths < 0).any():
        raise InvalidArgumentError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    widths = widths.tolist()
    if mode == "constant":
        fill = tf.cast(tensor(constant_values), x.dtype)
        return tf.pad(x, widths, constant_values=fill)
    return tf.pad(x, widths, mode=_PAD_MODES[mode])


def flip(x, axis=None):
    """Reverse the order of entries along ``axis`` (all axes when None)."""
    x = tensor(x)
    dims = _axes(axis, x.shape.rank, "flip")
    return _raw.ReverseV2(tensor=x, axis=int_tensor(dims)) if dims else x


def broadcast_to(x, shape):
    """Broadcast ``x`` to ``shape`` (NumPy rules)."""
    x = tensor(x)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    rank = x.shape.rank
    ok = len(shape) >= rank and all(
        d in (1, s) for d, s in zip(x.shape, shape[len(shape) - rank:]) if d is not None)
    if not ok:
        raise InvalidArgumentError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to {shape}")
    return _raw.BroadcastTo(input=x, shape=int_tensor(shape))


def slice(x, start_indices, shape):  # noqa: A001 - the protocol's name
    """Static slice: ``start_indices`` and a size per axis (size -1: to the end)."""
    x = tensor(x)
    rank = x.shape.rank
    if len(start_indices) != rank or len(shape) != rank:
        raise InvalidArgumentError(f"slice: expected {rank} start indices and sizes for shape {tuple(x.shape)}, "
                                   f"got {tuple(start_indices)} and {tuple(shape)}")
    return tf.slice(x, start_indices, shape)


# ---------------------------------------------------------------------- indexing


def _is_basic(k) -> bool:
    """Whether an index entry is handled by TensorFlow's own slicing (no index array)."""
    if k is None or k is Ellipsis or isinstance(k, builtins.slice):
        return True
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
        return True
    return isinstance(k, Tensor) and k.shape.rank == 0 and k.dtype in INTS


def _index_array(k, length, op):
    """An index entry that is an array: bool masks become positions; negatives wrap."""
    if isinstance(k, (list, tuple)):
        k = np.asarray(k)
        if k.dtype.kind == "f" and k.size == 0:
            k = k.astype(np.int32)
    if isinstance(k, VariableBase):
        k = k.value
    if isinstance(k, np.ndarray) and k.dtype == np.bool_ or isinstance(k, Tensor) and k.dtype is BOOL:
        mask = k if isinstance(k, np.ndarray) else k.numpy() if hasattr(k, "numpy") else None
        if mask is None:
            raise InvalidArgumentError(f"{op}: a boolean mask index needs concrete values (not inside a "
                                       "compiled function)")
        if mask.ndim != 1 or mask.shape[0] != length:
            raise InvalidArgumentError(f"{op}: a boolean mask of shape {mask.shape} does not match an axis "
                                       f"of length {length}")
        k = np.flatnonzero(mask).astype(np.int32)
    return wrapped_indices(k, length, op)


def getitem(x, key):
    """``x[key]``: ints, slices, None, Ellipsis and at most one integer (or 1-D bool) index array."""
    x = tensor(x)
    if not isinstance(key, tuple):
        key = (key,)
    array_at = None
    for i, k in enumerate(key):
        if not _is_basic(k):
            if array_at is not None:
                raise InvalidArgumentError("getitem: at most one index array is supported, got key "
                                           f"{key!r} for shape {tuple(x.shape)}")
            array_at = i
    key = tuple(int(k) if isinstance(k, np.integer) else k for k in key)
    if array_at is None:
        return _basic_index(x, key)
    rank = x.shape.rank
    consuming = [k is not None and k is not Ellipsis for k in key]
    ellipsis_span = rank - sum(consuming)
    if ellipsis_span < 0:
        raise InvalidArgumentError(f"getitem: too many indices ({sum(consuming)}) for shape {tuple(x.shape)}")
    in_axis = sum(consuming[:array_at]) + (ellipsis_span if Ellipsis in key[:array_at] else 0)
    out_axis = 0
    for k in key[:array_at]:
        out_axis += ellipsis_span if k is Ellipsis else (0 if isinstance(k, (int, Tensor)) else 1)
    indices = _index_array(key[array_at], x.shape[in_axis], "getitem")
    base = x[key[:array_at] + (_FULL,) + key[array_at + 1:]]
    out = tf.gather(base, indices, axis=out_axis)
    # NumPy puts the indexed axes first when ints (also advanced indices) are not
    # adjacent to the array in the key.
    advanced = [i for i, k in enumerate(key) if i == array_at or (k is not None and k is not Ellipsis
                                                                  and isinstance(k, (int, Tensor)))]
    if out_axis and advanced[-1] - advanced[0] != len(advanced) - 1:
        n = indices.shape.rank
        rest = [d for d in range(out.shape.rank) if not out_axis <= d < out_axis + n]
        out = tf.transpose(out, list(range(out_axis, out_axis + n)) + rest)
    return out


_FULL = builtins.slice(None)


def _is_static(k) -> bool:
    """Whether an index entry is made of Python ints only (no tensors)."""
    if isinstance(k, builtins.slice):
        return all(v is None or isinstance(v, int) for v in (k.start, k.stop, k.step))
    return not isinstance(k, Tensor)


def _basic_index(x, key: tuple):
    """``x[key]`` for ints, slices, None and Ellipsis, as one raw ``StridedSlice``.

    TensorFlow's own ``__getitem__`` builds its arguments with several ops (~10x the
    cost of the slice itself eagerly); with a static shape they are Python ints here.
    """
    shape = x.shape.as_list() if x.shape.rank is not None else None
    if shape is None or None in shape or not all(map(_is_static, key)):
        return x[key]
    rank = len(shape)
    consuming = sum(1 for k in key if k is not None and k is not Ellipsis)
    ellipses = sum(1 for k in key if k is Ellipsis)
    if consuming > rank or ellipses > 1:
        raise InvalidArgumentError(f"getitem: too many indices in {key!r} for shape {tuple(shape)}")
    rest = (_FULL,) * (rank - consuming)
    if ellipses:
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:at] + rest + key[at + 1:]
    else:
        key = key + rest
    begin, end, strides = [], [], []
    end_mask = new_axis_mask = shrink_mask = 0
    dim = 0
    for i, k in enumerate(key):
        if k is None:
            new_axis_mask |= 1 << i
            begin.append(0), end.append(0), strides.append(1)
            continue
        n = shape[dim]
        dim += 1
        if isinstance(k, builtins.slice):
            start, stop, step = k.indices(n)
            if not len(range(start, stop, step)):
                start, stop, step = 0, 0, 1
            elif stop < 0:  # a negative step running through index 0
                end_mask |= 1 << i
                stop = 0
            begin.append(start), end.append(stop), strides.append(step)
            continue
        if not -n <= k < n:
            raise InvalidArgumentError(f"getitem: index {k} is out of range for axis {dim - 1} of length {n} "
                                       f"(shape {tuple(shape)})")
        k %= n
        shrink_mask |= 1 << i
        begin.append(k), end.append(k + 1), strides.append(1)
    return _raw.StridedSlice(input=x, begin=int_tensor(tuple(begin)), end=int_tensor(tuple(end)),
                             strides=int_tensor(tuple(strides)), end_mask=end_mask,
                             new_axis_mask=new_axis_mask, shrink_axis_mask=shrink_mask)


def take(x, indices, axis=None):
    """``np.take``: gather entries along ``axis`` (of the flattened tensor when None)."""
    x = tensor(x)
    if axis is None:
        x = tf.reshape(x, (-1,))
        axis = 0
    axis = normalize_axis(int(axis), x.shape.rank, "take")
    return _raw.GatherV2(params=x, indices=wrapped_indices(indices, x.shape[axis], "take"), axis=axis)


def take_along_axis(x, indices, axis):
    """``np.take_along_axis``: ``indices`` has x's rank; other axes broadcast."""
    x = tensor(x)
    indices = integer_indices(indices, "take_along_axis")
    if axis is None:
        x, indices, axis = tf.reshape(x, (-1,)), tf.reshape(indices, (-1,)), 0
    rank = x.shape.rank
    if indices.shape.rank != rank:
        raise InvalidArgumentError(f"take_along_axis: indices of shape {tuple(indices.shape)} must have the "
                                   f"rank of x, shape {tuple(x.shape)}")
    axis = normalize_axis(int(axis), rank, "take_along_axis")
    indices = wrapped_indices(indices, x.shape[axis], "take_along_axis")
    xs, js = list(x.shape), list(indices.shape)
    common = []
    for d, (a, b) in enumerate(zip(xs, js)):
        if d == axis:
            common.append(None)
        elif a == b or b == 1:
            common.append(a)
        elif a == 1:
            common.append(b)
        else:
            raise InvalidArgumentError(f"take_along_axis: shapes {tuple(xs)} and {tuple(js)} do not broadcast "
                                       f"outside axis {axis}")
    x_shape = [xs[axis] if c is None else c for c in common]
    j_shape = [js[axis] if c is None else c for c in common]
    if x_shape != xs:
        x = tf.broadcast_to(x, x_shape)
    if j_shape != js:
        indices = tf.broadcast_to(indices, j_shape)
    last = rank - 1
    if axis != last:
        perm = [d for d in range(rank) if d != axis] + [axis]
        x, indices = tf.transpose(x, perm), tf.transpose(indices, perm)
    out = tf.gather(x, indices, axis=last, batch_dims=last)
    if axis != last:
        out = tf.transpose(out, list(range(axis)) + [last] + list(range(axis, last)))
    return out


# ---------------------------------------------------------------------- sorting


def sort(x, axis=-1):
    """Ascending sort along ``axis``."""
    x = tensor(x)
    axis = normalize_axis(int(axis), x.shape.rank, "sort")
    if x.dtype is BOOL:
        return cast(tf.sort(cast(x, _INT8), axis=axis), BOOL)
    return tf.sort(x, axis=axis)


def argsort(x, axis=-1):
    """int32 indices that sort ``x`` along ``axis``; equal entries keep their order."""
    x = tensor(x)
    if x.dtype is BOOL:
        x = cast(x, _INT8)
    axis = normalize_axis(int(axis), x.shape.rank, "argsort")
    return tf.argsort(x, axis=axis, stable=True)


def top_k(x, k, sorted=True):  # noqa: A002 - the protocol's name
    """The ``k`` largest entries of the last axis and their int32 indices, largest first."""
    x = tensor(x)
    if x.shape.rank == 0 or not 0 <= k <= x.shape[-1]:
        raise InvalidArgumentError(f"top_k: k={k} must be in [0, {x.shape[-1] if x.shape.rank else 0}] for "
                                   f"shape {tuple(x.shape)}")
    values, indices = tf.math.top_k(x, k=k, sorted=sorted)
    return values, indices


def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot encoding along a new axis; labels outside ``[0, num_classes)`` give zeros."""
    x = tensor(x)
    if x.dtype not in (INT32, tf.int64):
        x = cast(x, INT32)
    axis = normalize_axis(int(axis), x.shape.rank + 1, "one_hot")
    dt = tf_dtype(dtype, "one_hot")
    return _raw.OneHot(indices=x, depth=int(num_classes), on_value=typed_scalar(1, dt),
                       off_value=typed_scalar(0, dt), axis=-1 if axis == x.shape.rank else axis)
