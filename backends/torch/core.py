"""Device, dtypes and conversion to torch tensors: the helpers every op module uses.

Hot paths start with ``type(x) is Tensor`` so that the common case (an op on
tensors this backend produced) costs one type check and nothing else.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import torch

from .. import protocol
from ..common import VariableBase
from ..protocol import InvalidArgumentError

Tensor = torch.Tensor
BOOL = torch.bool
INT32 = torch.int32
INT64 = torch.int64
FLOAT32 = torch.float32
HALF_FLOATS = (torch.float16, torch.bfloat16)


# ------------------------------------------------------------------------- device


def _select_device() -> torch.device:
    """``HIGHLEVEL_DEVICE`` if set, else CUDA, else MPS, else the CPU."""
    requested = os.environ.get("HIGHLEVEL_DEVICE", "").strip().lower()
    if requested:
        if requested == "gpu":
            requested = "cuda"
        try:
            device = torch.device(requested)
        except RuntimeError as error:
            raise InvalidArgumentError(
                f"HIGHLEVEL_DEVICE={requested!r} is not a torch device ('cpu', 'cuda', 'cuda:1', 'mps'): "
                f"{error}") from None
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidArgumentError(f"HIGHLEVEL_DEVICE={requested!r}: torch sees no CUDA device here")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        elif device.index >= torch.cuda.device_count():
            raise InvalidArgumentError(f"HIGHLEVEL_DEVICE={requested!r}: only {torch.cuda.device_count()} CUDA "
                                       f"device(s) are visible")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidArgumentError(f"HIGHLEVEL_DEVICE={requested!r}: MPS is not available here")
    return device


DEVICE = _select_device()
ON_CPU = DEVICE.type == "cpu"

# Full float32 matmuls and convolutions on GPUs (no TF32), so results agree with the NumPy
# reference within float32 tolerance on every device; HIGHLEVEL_ALLOW_TF32=1 trades that
# for Ampere+ tensor-core speed.
if DEVICE.type == "cuda":
    _allow_tf32 = os.environ.get("HIGHLEVEL_ALLOW_TF32", "") == "1"
    torch.backends.cuda.matmul.allow_tf32 = _allow_tf32
    torch.backends.cudnn.allow_tf32 = _allow_tf32



class OpError(ValueError):
    """Bad input found by a shared helper that does not know which op called it.

    It is one of ``native_errors`` (a ValueError, but not an ``InvalidArgumentError``), so
    the loader's wrapper turns it into an ``InvalidArgumentError`` whose message starts
    with the op's name and ends with the argument shapes.
    """


class _Tracing(threading.local):
    """How many ``value_and_grad`` calls are running in this thread."""

    depth = 0


TRACING = _Tracing()


# ------------------------------------------------------------------------- dtypes

#: Canonical name -> torch dtype, for every dtype of the protocol.
DTYPES = {name: getattr(torch, name) for name in protocol.DTYPES}
#: torch dtype -> canonical name.
NAMES = {dt: name for name, dt in DTYPES.items()}

# Everything users pass as a dtype, looked up in one dict access on the hot path.
_LOOKUP = dict(DTYPES)
_LOOKUP.update({dt: dt for dt in DTYPES.values()})
_LOOKUP.update({float: FLOAT32, int: INT32, bool: BOOL,
                "float": FLOAT32, "int": INT32, "half": torch.float16, "double": torch.float64})
for _name in protocol.DTYPES:
    if _name != "bfloat16":
        _LOOKUP[np.dtype(_name)] = DTYPES[_name]
        _LOOKUP[np.dtype(_name).type] = DTYPES[_name]


def torch_dtype(dtype) -> torch.dtype:
    """The torch dtype for any dtype spelling; ``InvalidArgumentError`` if unsupported."""
    try:
        return _LOOKUP[dtype]
    except (KeyError, TypeError):
        pass
    try:
        if isinstance(dtype, torch.dtype):
            raise InvalidArgumentError(dtype)
        return DTYPES[protocol.standardize_dtype(dtype)]
    except InvalidArgumentError:
        raise OpError(f"unsupported dtype {dtype!r}; expected one of {', '.join(protocol.DTYPES)}") from None


def dtype_name(dt: torch.dtype) -> str:
    try:
        return NAMES[dt]
    except KeyError:
        raise OpError(f"unsupported torch dtype {dt}") from None


_PAIRS: dict = {}


def promote(d1: torch.dtype, d2: torch.dtype) -> torch.dtype:
    """``protocol.result_type`` of two torch dtypes (cached: torch's own rules differ)."""
    try:
        return _PAIRS[d1, d2]
    except KeyError:
        out = _PAIRS[d1, d2] = DTYPES[protocol.result_type(dtype_name(d1), dtype_name(d2))]
        return out


def weak(dt: torch.dtype, scalar_type) -> torch.dtype:
    """Dtype of ``tensor(dt) op python_scalar``: the scalar is weak (protocol.result_type)."""
    if scalar_type is float:
        return dt if dt.is_floating_point else FLOAT32
    if scalar_type is int and dt is BOOL:
        return INT32
    return dt


# --------------------------------------------------------------------- conversion

SCALAR_TYPES = frozenset((int, float, bool))

try:  # bfloat16 NumPy arrays (the NumPy backend's and TensorFlow's) come from ml_dtypes.
    import ml_dtypes

    _NP_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    ml_dtypes = None
    _NP_BFLOAT16 = None


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor on ``DEVICE`` from a NumPy array, keeping its dtype (shares memory on the CPU)."""
    dt = array.dtype
    if dt == _NP_BFLOAT16:
        return from_numpy(array.view(np.int16)).view(torch.bfloat16)
    if dt.name not in DTYPES:
        raise OpError(f"unsupported dtype {dt.name!r} (shape {array.shape}); "
                      f"expected one of {', '.join(protocol.DTYPES)}")
    if not (array.flags.c_contiguous and array.flags.writeable):
        # torch.from_numpy rejects negative strides and warns on read-only arrays.
        array = np.array(array, order="C", copy=True)
    out = torch.from_numpy(array)
    return out if ON_CPU else out.to(DEVICE)


def scalar_tensor(value, dt: torch.dtype) -> Tensor:
    """A 0-d tensor on ``DEVICE`` (a fill, not a host-to-device copy, on accelerators)."""
    return torch.full((), value, dtype=dt, device=DEVICE)


def as_tensor(x) -> Tensor:
    """Any op input as a torch tensor: tensors pass through, the rest is converted once."""
    if type(x) is Tensor:
        return x
    return _convert(x)


#: The backend's Variable class (set by ``variables``; core cannot import it).
VARIABLE_TYPE = [None]


def _convert(x) -> Tensor:
    if type(x) is VARIABLE_TYPE[0]:
        return x._tensor
    if isinstance(x, Tensor):
        return x
    if isinstance(x, VariableBase):
        return as_tensor(x.value)
    t = type(x)
    if t is float:
        return scalar_tensor(x, FLOAT32)
    if t is bool:
        return scalar_tensor(x, BOOL)
    if t is int:
        return _int_tensor(x)
    if isinstance(x, np.ndarray):
        return from_numpy(x)
    if isinstance(x, np.generic):
        return from_numpy(np.asarray(x))
    if isinstance(x, (list, tuple)):
        return _sequence_to_tensor(x)
    if hasattr(x, "__array__") or hasattr(x, "numpy"):  # another engine's tensor
        return from_numpy(np.asarray(x))
    raise OpError(f"cannot convert an object of type {t.__name__}")


def _int_tensor(value: int) -> Tensor:
    if not -2**31 <= value < 2**31:
        raise OpError(f"Python int {value} does not fit in int32 (the dtype of Python ints); pass dtype='int64'")
    return scalar_tensor(value, INT32)


def _sequence_to_tensor(seq) -> Tensor:
    """Nested lists: of tensors by stacking, of anything else through NumPy with Python's
    dtypes (float -> float32, int -> int32), as the NumPy backend does."""
    if _holds_tensor(seq):
        parts = [as_tensor(e) for e in seq]
        dt = parts[0].dtype
        for p in parts[1:]:
            dt = promote(dt, p.dtype)
        return torch.stack([p.to(dt) for p in parts])
    array = np.asarray(seq)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    elif array.dtype == np.int64:
        if array.size and (array.min() < -2**31 or array.max() >= 2**31):
            raise OpError("Python ints do not fit in int32 (the dtype of Python ints); pass dtype='int64'")
        array = array.astype(np.int32)
    return from_numpy(array)


def _holds_tensor(seq) -> bool:
    return any(isinstance(e, (Tensor, VariableBase)) or (isinstance(e, (list, tuple)) and _holds_tensor(e))
               for e in seq)


def convert_with_dtype(x, dt: torch.dtype) -> Tensor:
    """``x`` as a tensor of dtype ``dt``; Python scalars and lists are built in ``dt`` directly
    (so ``2**40`` with int64 does not go through int32)."""
    t = type(x)
    if t in SCALAR_TYPES:
        return scalar_tensor(x, dt)
    if (t is list or t is tuple) and not _holds_tensor(x):
        if dt is torch.bfloat16:
            return from_numpy(np.asarray(x, dtype=np.float32)).to(dt)
        return from_numpy(np.asarray(x, dtype=NAMES[dt]))
    out = as_tensor(x)
    return out if out.dtype is dt else out.to(dt)


def float_tensor(x) -> Tensor:
    """For float-valued math: integer and bool inputs become float32."""
    x = x if type(x) is Tensor else _convert(x)
    return x if x.is_floating_point() else x.to(FLOAT32)


def to_numpy(x) -> np.ndarray:
    """A host NumPy copy (a copy, so later variable assignments cannot change it)."""
    x = as_tensor(x).detach()
    if x.dtype is torch.bfloat16:
        if ml_dtypes is None:  # pragma: no cover
            return x.to(FLOAT32).cpu().numpy()
        return to_numpy(x.view(torch.int16)).view(_NP_BFLOAT16)
    if x.device.type != "cpu":
        return x.cpu().numpy()
    return x.numpy().copy()


# --------------------------------------------------------------------- operands


def operands(x1, x2, scalar_ok: bool = True):
    """``x1, x2`` as tensors of their common dtype (``protocol.result_type``).

    A Python scalar ``x2`` stays a Python number when ``scalar_ok`` (torch treats it as
    weak, as the protocol does, once the tensor has the result dtype).
    """
    t1, t2 = type(x1), type(x2)
    if t2 in SCALAR_TYPES:
        if t1 in SCALAR_TYPES:
            dt = DTYPES[protocol.result_type(weak=(t1, t2))]
            if t2 is bool and dt is not BOOL:
                x2 = int(x2)
            return scalar_tensor(x1, dt), (x2 if scalar_ok else scalar_tensor(x2, dt))
        a = x1 if t1 is Tensor else _convert(x1)
        dt = weak(a.dtype, t2)
        if dt is not a.dtype:
            a = a.to(dt)
        if t2 is bool and dt is not BOOL:
            x2 = int(x2)  # several torch kernels reject bool scalars with number tensors
        return a, (x2 if scalar_ok else scalar_tensor(x2, dt))
    if t1 in SCALAR_TYPES:
        b = x2 if t2 is Tensor else _convert(x2)
        dt = weak(b.dtype, t1)
        if dt is not b.dtype:
            b = b.to(dt)
        return scalar_tensor(x1, dt), b
    a = x1 if t1 is Tensor else _convert(x1)
    b = x2 if t2 is Tensor else _convert(x2)
    if a.dtype is not b.dtype:
        dt = promote(a.dtype, b.dtype)
        if a.dtype is not dt:
            a = a.to(dt)
        if b.dtype is not dt:
            b = b.to(dt)
    return a, b


def same_dtype(tensors: list) -> list:
    """Tensors cast to their common dtype (for concatenate, stack, einsum)."""
    dt = tensors[0].dtype
    mixed = False
    for t in tensors[1:]:
        if t.dtype is not dt:
            mixed = True
            dt = promote(dt, t.dtype)
    return [t.to(dt) for t in tensors] if mixed else tensors


# ------------------------------------------------------------------------- axes


def axis_tuple(axis, ndim: int, op: str) -> tuple:
    """``axis`` (int or sequence) as a sorted tuple of non-negative axes, range-checked."""
    if isinstance(axis, (int, np.integer)):
        return (protocol.normalize_axis(int(axis), ndim, op),)
    try:
        axes = tuple(protocol.normalize_axis(int(a), ndim, op) for a in axis)
    except TypeError:
        raise OpError(f"axis must be an int or a sequence of ints, got {axis!r}") from None
    if len(set(axes)) != len(axes):
        raise InvalidArgumentError(f"{op}: repeated axis in {tuple(axis)}")
    return tuple(sorted(axes))


def int_list(values, name: str) -> list:
    """A shape-like argument (int, sequence, tensor) as a list of Python ints."""
    if isinstance(values, (int, np.integer)):
        return [int(values)]
    if isinstance(values, (Tensor, VariableBase, np.ndarray)):
        return [int(v) for v in to_numpy(values).reshape(-1)]
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise OpError(f"{name}: expected an int or a sequence of ints, got {values!r}") from None
