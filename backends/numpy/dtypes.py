"""Dtype strings <-> NumPy dtypes, and the promotion rules of ``protocol.result_type``.

Every lookup is cached in a dict, so the hot paths pay one dict access: NumPy's own
promotion differs from the contract (float32 with int32 gives float64 in NumPy,
float32 in the contract), hence the explicit table.
"""

from __future__ import annotations

import numpy as np

from .. import protocol
from ..protocol import InvalidArgumentError

try:  # bfloat16 comes from ml_dtypes (a dependency; optional for a bare NumPy install)
    import ml_dtypes

    BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - exercised only without ml_dtypes
    BFLOAT16 = None

NP_DTYPES = {name: np.dtype(name) for name in protocol.DTYPES if name != "bfloat16"}
if BFLOAT16 is not None:
    NP_DTYPES["bfloat16"] = BFLOAT16

FLOAT32 = NP_DTYPES["float32"]
FLOAT64 = NP_DTYPES["float64"]
INT32 = NP_DTYPES["int32"]
INT64 = NP_DTYPES["int64"]
BOOL = NP_DTYPES["bool"]
FLOATS = frozenset(NP_DTYPES[n] for n in protocol.FLOAT_DTYPES if n in NP_DTYPES)
SUPPORTED = frozenset(NP_DTYPES.values())
PY_SCALARS = (bool, int, float)
PY_DTYPES = {bool: BOOL, int: INT32, float: FLOAT32}

_BY_KEY: dict = {}


def to_np(dtype, op: str = "dtype") -> np.dtype:
    """The NumPy dtype for a dtype string / Python type / NumPy dtype; ``None`` -> float32.

    An unknown dtype raises ``InvalidArgumentError`` naming ``op``.
    """
    try:
        return _BY_KEY[dtype]
    except (KeyError, TypeError):
        pass
    try:
        return _lookup(dtype)
    except InvalidArgumentError as error:
        if op == "dtype":
            raise
        raise InvalidArgumentError(f"{op}: {error}") from None


def _lookup(dtype):
    if dtype is None or isinstance(dtype, str) or dtype in protocol._PYTHON_DTYPES:
        name = protocol.standardize_dtype(dtype)
    else:
        try:
            name = protocol.standardize_dtype(np.dtype(dtype).name)
        except TypeError:
            name = protocol.standardize_dtype(dtype)
    if name not in NP_DTYPES:
        raise InvalidArgumentError(f"dtype: {name} needs the ml_dtypes package (pip install ml_dtypes)")
    result = NP_DTYPES[name]
    try:
        _BY_KEY[dtype] = result
    except TypeError:  # unhashable dtype-like: do not cache
        pass
    return result


def check_supported(dt: np.dtype, op: str = "convert_to_tensor") -> None:
    if dt not in SUPPORTED:
        raise InvalidArgumentError(
            f"{op}: unsupported dtype {dt}; expected one of {', '.join(protocol.DTYPES)}")


def is_float(dt: np.dtype) -> bool:
    return dt in FLOATS


_PROMOTE: dict = {}
_PROMOTE_WEAK: dict = {}


def promote(d1: np.dtype, d2: np.dtype) -> np.dtype:
    """Result dtype of two tensor dtypes (``protocol.result_type``)."""
    try:
        return _PROMOTE[d1, d2]
    except KeyError:
        check_supported(d1, "result_type")
        check_supported(d2, "result_type")
        out = _PROMOTE[d1, d2] = NP_DTYPES[protocol.result_type(d1.name, d2.name)]
        return out


def promote_weak(d: np.dtype, py_type: type) -> np.dtype:
    """Result dtype of a tensor of dtype ``d`` with a Python scalar of type ``py_type``."""
    try:
        return _PROMOTE_WEAK[d, py_type]
    except KeyError:
        check_supported(d, "result_type")
        out = _PROMOTE_WEAK[d, py_type] = NP_DTYPES[protocol.result_type(d.name, weak=(py_type,))]
        return out


def promote_many(dtypes) -> np.dtype:
    out = dtypes[0]
    for d in dtypes[1:]:
        if d is not out:
            out = promote(out, d)
    return out


#: Half-precision products run in float32 (BLAS has no half kernels; einsum refuses
#: bfloat16) and are rounded back, as engines accumulate halves in float32.
HALVES = frozenset(d for d in (NP_DTYPES["float16"], BFLOAT16) if d is not None)


def float_of(dt: np.dtype) -> np.dtype:
    """``dt`` if it is a float dtype, else float32 (float-valued math on ints and bools)."""
    return dt if dt in FLOATS else FLOAT32
