"""Stable hashes for the categorical layers (the same in every process and on every backend).

* strings: the first 8 bytes of BLAKE2b (``hashlib.blake2b``, ``digest_size=8``, keyed by the
  salt) read as an unsigned little-endian int, on the host;
* integers (in graphs, with ``hl.ops``): ``hl.random.mix32`` over the low and high 32-bit
  words of the int64 value and the salt.

Keras uses FarmHash ``fingerprint64`` of the values' strings; we do not reproduce it, so
bucket assignments differ from Keras's (they are stable and deterministic).
"""

from __future__ import annotations

import hashlib

import numpy as np

from highlevel import ops
from highlevel.random import mix32

_M32 = 2 ** 32


def salt_key(salt) -> int:
    """``salt`` (None, an int, or a pair of ints as Keras allows) as one int in [0, 2**32)."""
    if salt is None:
        return 0
    if isinstance(salt, (list, tuple)):
        return (int(salt[0]) * 1_000_003 + int(salt[1])) % _M32
    return int(salt) % _M32


def hash_strings(values: np.ndarray, num_bins: int, salt=None) -> np.ndarray:
    """int64 buckets in ``[0, num_bins)`` for an array of str/bytes (host NumPy)."""
    key = salt_key(salt).to_bytes(4, "little")
    flat = [hashlib.blake2b(v if isinstance(v, bytes) else str(v).encode("utf-8"), digest_size=8, key=key).digest()
            for v in values.reshape(-1)]
    out = np.array([int.from_bytes(d, "little") % num_bins for d in flat], dtype=np.int64)
    return out.reshape(values.shape)


def hash_integers(values, num_bins: int, salt=None):
    """int64 buckets in ``[0, num_bins)`` for an integer tensor (``hl.ops``, works in graphs)."""
    x = ops.cast(values, "int64")
    low = ops.mod(x, _M32)
    high = ops.mod(ops.floor_divide(x, _M32), _M32)
    h = mix32(ops.mod(ops.add(low, (salt_key(salt) + 0x9E3779B9) % _M32), _M32))
    h = mix32(ops.mod(ops.add(h, high), _M32))
    return ops.mod(h, int(num_bins))
