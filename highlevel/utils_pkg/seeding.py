"""Utilities: seeding."""

import random

import numpy as np

from highlevel import backend as _backend


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and the backend's global generator.

    After this, random ops with ``seed=None`` (and everything built on them) repeat
    exactly on the same backend and machine.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"set_random_seed: seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _backend.current().set_random_seed(seed)
