"""Random ops: one global ``tf.random.Generator`` for ``seed=None``, stateless ops for int seeds.

The generator is created lazily under ``tf.init_scope`` (so even a first use while
tracing ``compile_function`` makes an ordinary eager variable) and re-seeded in place
by ``set_random_seed``: functions compiled before the reseed keep drawing from it.
"""

from __future__ import annotations

import numpy as np

from ..protocol import InvalidArgumentError, normalize_axis
from ._engine import tf
from .core import FLOATS, INTS, tensor, tf_dtype

_generator = None


def _global_generator() -> tf.random.Generator:
    global _generator
    if _generator is None:
        with tf.init_scope():
            _generator = tf.random.Generator.from_non_deterministic_state()
    return _generator


def set_random_seed(seed) -> None:
    """Seed the global generator: afterwards ``seed=None`` draws repeat exactly."""
    global _generator
    seed = _int_seed(seed, "set_random_seed")
    with tf.init_scope():
        if _generator is None:
            _generator = tf.random.Generator.from_seed(seed)
        else:
            _generator.reset_from_seed(seed)


def _int_seed(seed, op) -> int:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return int(seed)
    raise InvalidArgumentError(f"{op}: seed must be None or an int, got {seed!r}")


def _stateless_seed(seed, op):
    """The stateless-op seed for an int seed: ``[seed, 0]``."""
    return tf.constant([_int_seed(seed, op), 0], tf.int64)


def _shape(shape, op) -> tuple:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise InvalidArgumentError(f"{op}: shape must have non-negative dimensions, got {shape}")
    return shape


def _float_dtype(dtype, op):
    dt = tf_dtype(dtype, op)
    if dt not in FLOATS:
        raise InvalidArgumentError(f"{op}: dtype must be a float dtype, got {dt.name}")
    return dt


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples of ``shape``."""
    shape, dt = _shape(shape, "normal"), _float_dtype(dtype, "normal")
    if seed is None:
        return _global_generator().normal(shape, mean, stddev, dtype=dt)
    return tf.random.stateless_normal(shape, _stateless_seed(seed, "normal"), mean, stddev, dtype=dt)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform samples in ``[minval, maxval)``."""
    shape, dt = _shape(shape, "uniform"), _float_dtype(dtype, "uniform")
    if seed is None:
        return _global_generator().uniform(shape, minval, maxval, dtype=dt)
    return tf.random.stateless_uniform(shape, _stateless_seed(seed, "uniform"), minval, maxval, dtype=dt)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples redrawn until within two standard deviations of the mean."""
    shape, dt = _shape(shape, "truncated_normal"), _float_dtype(dtype, "truncated_normal")
    if seed is None:
        return _global_generator().truncated_normal(shape, mean, stddev, dtype=dt)
    return tf.random.stateless_truncated_normal(shape, _stateless_seed(seed, "truncated_normal"), mean, stddev,
                                                dtype=dt)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in ``[minval, maxval)``."""
    shape, dt = _shape(shape, "randint"), tf_dtype(dtype, "randint")
    if int(maxval) <= int(minval):
        raise InvalidArgumentError(f"randint: maxval ({maxval}) must be greater than minval ({minval})")
    draw = tf.int64 if dt.size > 4 or (dt in INTS and dt.is_unsigned and dt.size >= 4) else tf.int32
    if seed is None:
        out = _global_generator().uniform(shape, int(minval), int(maxval), dtype=draw)
    else:
        out = tf.random.stateless_uniform(shape, _stateless_seed(seed, "randint"), int(minval), int(maxval),
                                          dtype=draw)
    return out if dt is draw else tf.cast(out, dt)


def shuffle(x, axis=0, seed=None):
    """A random permutation of ``x`` along ``axis``."""
    x = tensor(x)
    axis = normalize_axis(int(axis), x.shape.rank, "shuffle")
    keys = uniform((x.shape[axis],), dtype="float32", seed=seed)
    return tf.gather(x, tf.argsort(keys, stable=True), axis=axis)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Inverted dropout: entries kept with probability ``1 - rate`` and scaled by ``1 / (1 - rate)``."""
    x = tensor(inputs)
    if not 0.0 <= rate < 1.0:
        raise InvalidArgumentError(f"dropout: rate must be in [0, 1), got {rate}")
    if rate == 0.0:
        return x
    if x.dtype not in FLOATS:
        x = tf.cast(x, tf.float32)
    shape = tuple(x.shape) if noise_shape is None else tuple(
        x.shape[i] if d is None else d for i, d in enumerate(noise_shape))
    keep = uniform(shape, dtype=x.dtype, seed=seed) >= rate
    return tf.where(keep, x / (1.0 - rate), tf.zeros((), x.dtype))
