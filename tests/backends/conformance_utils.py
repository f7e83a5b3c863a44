"""Small helpers shared by the conformance tests: conversion, comparison, seeding.

Nothing here imports an engine: a backend is only touched through its namespace
(``k.convert_to_tensor``, ``k.convert_to_numpy``, ...).
"""

from __future__ import annotations

import zlib

import numpy as np

#: Tolerances of the contract (see the shared semantics): float32 elementwise values,
#: and sums over many products (conv, matmul) that accumulate rounding.
TOL = dict(rtol=1e-5, atol=1e-6)
SUM_TOL = dict(rtol=1e-4, atol=1e-5)


def rng_for(key: str) -> np.random.Generator:
    """A generator seeded from a string, so each test draws the same values every run."""
    return np.random.default_rng(zlib.crc32(key.encode()))


def is_float_array(x) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def map_arrays(fn, value):
    """Apply ``fn`` to every ndarray in ``value``, looking one level into lists/tuples."""
    if isinstance(value, np.ndarray):
        return fn(value)
    if isinstance(value, list) and value and all(isinstance(e, np.ndarray) for e in value):
        return [fn(e) for e in value]
    return value


def upcast(value):
    """float arrays -> float64 (the precision the expected values are computed in)."""
    return map_arrays(lambda a: a.astype(np.float64) if a.dtype.kind == "f" else a, value)


def to_numpy(k, x):
    """A backend result (tensor, list/tuple of tensors) as NumPy arrays."""
    if isinstance(x, (list, tuple)):
        return [to_numpy(k, e) for e in x]
    return np.asarray(k.convert_to_numpy(x))


def assert_close(actual, expected, rtol, atol, what=""):
    """Shapes must match; ints/bools must match exactly; floats within tolerance."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    if expected.dtype.kind in "biu" and actual.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=what)
