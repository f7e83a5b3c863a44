"""``hl.random``: a counter-based stateless RNG that gives the same numbers on every backend.

The engines' own random ops draw different streams and, inside a compiled TensorFlow
step, take their seed as a Python int fixed at trace time. This module instead hashes
``(seed, counter, element index)`` with int64 ``hl.ops`` arithmetic, so

* the same seed state gives bit-identical integers (and uniform floats) on NumPy,
  torch and TensorFlow, eager or compiled;
* a ``SeedGenerator`` keeps its state in an int64 Variable and advances the counter
  on every draw, so each step of a compiled training loop gets fresh randomness.

The hash (``random_bits``) works on 32-bit words held in int64 tensors (no unsigned or
bitwise ops, which torch lacks): ``mix32`` is in the spirit of MurmurHash3's
``fmix32``, with each ``x ^= x >> 16`` replaced by adding the high 16 bits into the
low 16 bits (mod 2**16), a nonlinear ``x * (2x + 1)`` step, and multiplications done
mod 2**32 on 16-bit halves so that no product leaves int64. See ``tests/test_layers_augmentation.py`` for a
pure-NumPy re-implementation and the statistical checks.
"""

from __future__ import annotations

import numpy as np

from highlevel import ops

__all__ = ["SeedGenerator", "draw_seed", "mix32", "normal", "randint", "random_bits", "uniform"]

_M32 = 2 ** 32
_M16 = 2 ** 16
_C1, _C2 = 0x85EBCA6B, 0xC2B2AE35
_GOLDEN = 0x9E3779B9


def _mul32(x, c):
    """``x * c mod 2**32`` for ``x`` in [0, 2**32) without leaving int64."""
    low = ops.multiply(x, c % _M16)
    high = ops.multiply(ops.mod(ops.multiply(x, c // _M16), _M16), _M16)
    return ops.mod(ops.add(low, high), _M32)


def _fold16(x):
    """``hi * 2**16 + (lo + hi) mod 2**16``: the high half stirred into the low half (a bijection)."""
    high = ops.floor_divide(x, _M16)
    return ops.add(ops.multiply(high, _M16), ops.mod(ops.add(x, high), _M16))


def _square_step(x):
    """``x * (2x + 1) mod 2**32``: a nonlinear bijection (Klimov-Shamir T-function), on 16-bit halves."""
    y = ops.mod(ops.add(ops.multiply(x, 2), 1), _M32)
    x_lo, x_hi = ops.mod(x, _M16), ops.floor_divide(x, _M16)
    y_lo, y_hi = ops.mod(y, _M16), ops.floor_divide(y, _M16)
    cross = ops.mod(ops.add(ops.multiply(x_hi, y_lo), ops.multiply(x_lo, y_hi)), _M16)
    return ops.mod(ops.add(ops.multiply(x_lo, y_lo), ops.multiply(cross, _M16)), _M32)


def mix32(x):
    """A 32-bit bijective mixer on int64 tensors holding values in [0, 2**32).

    fold, square step, multiply, fold, square step, multiply, fold: every input bit
    flips each output bit with probability ~0.5 (see the tests).
    """
    x = _fold16(x)
    x = _square_step(x)
    x = _mul32(x, _C1)
    x = _fold16(x)
    x = _square_step(x)
    x = _mul32(x, _C2)
    return _fold16(x)


def _add32(x, y):
    return ops.mod(ops.add(x, y), _M32)


def _as_state(seed):
    """``seed`` (a Python int, or an int tensor ``(2,)`` = ``[seed, counter]``) -> int64 ``(2,)`` tensor."""
    if isinstance(seed, (int, np.integer)):
        return ops.convert_to_tensor(np.array([int(seed), 0], dtype=np.int64))
    if isinstance(seed, SeedGenerator):
        return seed.next()
    seed = ops.convert_to_tensor(seed)
    if ops.dtype(seed) != "int64":
        seed = ops.cast(seed, "int64")
    if tuple(ops.shape(seed)) != (2,):
        raise ValueError(f"hl.random: a seed state must be an int tensor of shape (2,) ([seed, counter]), "
                         f"got shape {tuple(ops.shape(seed))}")
    return seed


def random_bits(shape, seed, stream=0):
    """Uniform integers in [0, 2**32) as an int64 tensor of ``shape``.

    seed: a Python int, a ``[seed, counter]`` int tensor, or a ``SeedGenerator`` (which
    then advances). ``stream`` separates independent draws from one state (a Python int).
    Element ``i`` (row-major) is ``mix32((key + i) mod 2**32)``, ``key`` a chain of
    ``mix32`` over the seed's low and high words, the counter and the stream.
    """
    state = _as_state(seed)
    shape = tuple(int(d) for d in shape)
    seed_value = ops.getitem(state, 0)
    counter = ops.getitem(state, 1)
    seed_lo = ops.mod(seed_value, _M32)
    seed_hi = ops.mod(ops.floor_divide(seed_value, _M32), _M32)
    key = mix32(_add32(seed_lo, _GOLDEN))
    key = mix32(_add32(key, seed_hi))
    key = mix32(_add32(key, ops.mod(counter, _M32)))
    key = mix32(_add32(key, (_GOLDEN * (2 * int(stream) + 1)) % _M32))
    size = int(np.prod(shape)) if shape else 1
    index = ops.arange(0, size, dtype="int64")
    return ops.reshape(mix32(_add32(index, key)), shape)


def uniform(shape, seed, minval=0.0, maxval=1.0, dtype="float32", stream=0):
    """Uniform floats in [minval, maxval) with 24 random bits (exact, identical on every backend)."""
    bits = ops.floor_divide(random_bits(shape, seed, stream), 256)
    unit = ops.multiply(ops.cast(bits, "float32"), 2.0 ** -24)
    out = ops.add(ops.multiply(unit, ops.subtract(maxval, minval)), minval) \
        if (minval, maxval) != (0.0, 1.0) else unit
    return out if dtype == "float32" else ops.cast(out, dtype)


def normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", stream=0):
    """Normal samples by Box-Muller from two uniform streams (equal across backends up to float rounding)."""
    u1 = uniform(shape, seed, stream=2 * stream + 1)
    u2 = uniform(shape, seed, stream=2 * stream + 2)
    radius = ops.sqrt(ops.multiply(ops.log(ops.subtract(1.0, u1)), -2.0))
    z = ops.multiply(radius, ops.cos(ops.multiply(u2, 2.0 * np.pi)))
    out = ops.add(ops.multiply(z, stddev), mean)
    return out if dtype == "float32" else ops.cast(out, dtype)


def randint(shape, seed, minval, maxval, dtype="int32", stream=0):
    """Integers in [minval, maxval) (``maxval - minval`` <= 2**24 for exact uniformity)."""
    span = int(maxval) - int(minval)
    if span <= 0:
        raise ValueError(f"hl.random.randint: maxval must be greater than minval, got minval={minval}, "
                         f"maxval={maxval}")
    bits = ops.floor_divide(random_bits(shape, seed, stream), 256)
    values = ops.add(ops.floor_divide(ops.multiply(bits, span), 2 ** 24), int(minval))
    return ops.cast(values, dtype)


def draw_seed() -> int:
    """A seed from NumPy's global generator (``hl.utils.set_random_seed`` makes it repeat)."""
    return int(np.random.randint(0, 2 ** 31 - 1))


class SeedGenerator:
    """Seed state for stateless draws: an int64 Variable ``[seed, counter]`` (non-trainable).

    ``next()`` returns the current state and advances the counter, by Variable
    assignment, so it works inside compiled steps (each run of a compiled TensorFlow
    step reads and advances the Variable). seed=None draws a seed with ``draw_seed``.
    The Variable is not a layer weight (as Keras's SeedGenerator, it is not saved).
    """

    def __init__(self, seed=None):
        if seed is None:
            seed = draw_seed()
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"SeedGenerator: seed must be None or a non-negative int, got {seed!r}")
        self.seed = int(seed)
        self.state = ops.Variable(np.array([self.seed, 0], dtype=np.int64), trainable=False, name="seed_generator_state",
                                  dtype="int64")
        self._step = np.array([0, 1], dtype=np.int64)

    def next(self):
        """The current ``[seed, counter]`` state tensor; the counter advances by one."""
        state = ops.add(self.state.value, 0)  # a copy: the assignment below must not change it
        self.state.assign_add(self._step)
        return state

    def __repr__(self):
        return f"<SeedGenerator seed={self.seed}>"
