"""Random ops: a global PCG64 generator, or a fresh ``Generator(seed)`` per call for an int seed."""

from __future__ import annotations

import numpy as np

from ..protocol import InvalidArgumentError, normalize_axis
from . import dtypes
from .core import as_array, shape_tuple, unwrap
from .shape_ops import take
from .dtypes import FLOAT32, FLOAT64
from .tape import Tensor

_GLOBAL = [np.random.Generator(np.random.PCG64())]


def set_random_seed(seed):
    """Seed the global generator that random ops with ``seed=None`` draw from."""
    _GLOBAL[0] = np.random.Generator(np.random.PCG64(int(seed)))


def _rng(seed):
    if seed is None:
        return _GLOBAL[0]
    if isinstance(seed, np.random.Generator):
        return seed
    # Same seed, same values: a stateless draw.
    return np.random.Generator(np.random.PCG64(int(as_array(seed)) if not isinstance(seed, int) else seed))


def _float_dtype(dtype, op):
    dt = dtypes.to_np(dtype, op)
    if dt not in dtypes.FLOATS:
        raise InvalidArgumentError(f"{op}: dtype must be a float dtype, got {dt.name}")
    return dt


def _draw_dtype(dt):
    # Generators draw float32 or float64 natively; half types are cast afterwards.
    return FLOAT64 if dt == FLOAT64 else FLOAT32


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "normal")
    values = _rng(seed).standard_normal(shape_tuple(shape), dtype=_draw_dtype(dt))
    return (values * stddev + mean).astype(dt, copy=False)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "uniform")
    values = _rng(seed).random(shape_tuple(shape), dtype=_draw_dtype(dt))
    out = (values * (maxval - minval) + minval).astype(dt, copy=False)
    # Rounding can land exactly on maxval; the interval is half-open.
    if out.size and isinstance(maxval, (int, float)):
        np.copyto(out, np.asarray(minval, dt), where=out >= maxval)
    return out


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples, redrawn until each lies within 2 standard deviations."""
    dt = _float_dtype(dtype, "truncated_normal")
    rng = _rng(seed)
    shape = shape_tuple(shape)
    values = rng.standard_normal(shape, dtype=FLOAT64)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()), dtype=FLOAT64)
        outside = np.abs(values) > 2
    return (values * stddev + mean).astype(dt)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    dt = dtypes.to_np(dtype, "randint")
    if dt.kind not in "iu":
        raise InvalidArgumentError(f"randint: dtype must be an integer dtype, got {dt.name}")
    if int(maxval) <= int(minval):
        raise InvalidArgumentError(f"randint: maxval {maxval} must be greater than minval {minval}")
    return _rng(seed).integers(int(minval), int(maxval), shape_tuple(shape), dtype=dt)


def shuffle(x, axis=0, seed=None):
    """A random permutation along an axis (differentiable, as a gather)."""
    a, _ = unwrap(x)
    if a.ndim == 0:
        raise InvalidArgumentError("shuffle: cannot shuffle a scalar")
    ax = normalize_axis(axis, a.ndim, "shuffle")
    order = _rng(seed).permutation(a.shape[ax])
    return take(x, order, axis=ax)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Inverted dropout: keep with probability 1 - rate and scale by 1 / (1 - rate)."""
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise InvalidArgumentError(f"dropout: rate must be in [0, 1), got {rate}")
    x, node = unwrap(inputs)
    if rate == 0.0:
        return x if node is None else node
    if noise_shape is None:
        mask_shape = x.shape
    else:
        mask_shape = tuple(x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    dt = x.dtype if x.dtype in dtypes.FLOATS else FLOAT32
    keep = _rng(seed).random(mask_shape, dtype=FLOAT32) >= rate
    scale = np.asarray(1.0 / (1.0 - rate), dtype=dt)
    factor = keep * scale  # (noise_shape) floats, broadcast against x
    out = np.asarray(x * factor, dtype=dt)
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (g * factor,))
