"""Random ops on a torch.Generator living on the backend's device.

``seed=None`` draws from the global generator (``set_random_seed`` seeds it); an int
seed builds a fresh generator per call, so the same seed gives the same values.
"""

from __future__ import annotations

import numpy as np
import torch

from ..protocol import InvalidArgumentError, normalize_axis
from .core import DEVICE, FLOAT32, INT32, NAMES, Tensor, _convert, as_tensor, int_list, to_numpy, torch_dtype

_GLOBAL = torch.Generator(device=DEVICE)
_GLOBAL.seed()  # nondeterministic until set_random_seed, like NumPy's default generator


def set_random_seed(seed):
    """Seed the backend's global generator (and torch's own, for user torch code)."""
    seed = int(seed)
    _GLOBAL.manual_seed(seed)
    torch.manual_seed(seed)


def _generator(seed):
    if seed is None:
        return _GLOBAL
    if isinstance(seed, (Tensor, np.ndarray)) or hasattr(seed, "value"):
        seed = to_numpy(seed).reshape(()).item()
    return torch.Generator(device=DEVICE).manual_seed(int(seed) % 2**63)


def _float_dtype(dtype, op):
    dt = FLOAT32 if dtype is None else torch_dtype(dtype)
    if not dt.is_floating_point:
        raise InvalidArgumentError(f"{op}: dtype must be floating point, got {NAMES.get(dt, dt)}")
    return dt


def _scalar(value, name, op):
    """A distribution parameter as a Python float (tensors of one element allowed)."""
    if isinstance(value, (int, float)):
        return float(value)
    array = to_numpy(value) if not isinstance(value, np.ndarray) else value
    if np.size(array) != 1:
        raise InvalidArgumentError(f"{op}: {name} must be a scalar, got shape {np.shape(array)}")
    return float(np.reshape(array, ()))


def _shape(shape, op):
    dims = int_list(shape, op)
    if any(d < 0 for d in dims):
        raise InvalidArgumentError(f"{op}: negative dimension in shape {tuple(dims)}")
    return dims


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "normal")
    mean, stddev = _scalar(mean, "mean", "normal"), _scalar(stddev, "stddev", "normal")
    out = torch.randn(_shape(shape, "normal"), generator=_generator(seed), dtype=dt, device=DEVICE)
    if stddev != 1.0:
        out.mul_(stddev)
    if mean != 0.0:
        out.add_(mean)
    return out


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "uniform")
    low, high = _scalar(minval, "minval", "uniform"), _scalar(maxval, "maxval", "uniform")
    if not low <= high:
        raise InvalidArgumentError(f"uniform: minval {low} must not exceed maxval {high}")
    out = torch.rand(_shape(shape, "uniform"), generator=_generator(seed), dtype=dt, device=DEVICE)
    if (low, high) != (0.0, 1.0):
        out.mul_(high - low).add_(low)
    return out


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "truncated_normal")
    mean = _scalar(mean, "mean", "truncated_normal")
    stddev = _scalar(stddev, "stddev", "truncated_normal")
    out = torch.empty(_shape(shape, "truncated_normal"), dtype=torch.float32 if dt.itemsize < 4 else dt,
                      device=DEVICE)
    # Inverse-CDF sampling of the normal restricted to [mean - 2 stddev, mean + 2 stddev]:
    # the same distribution as redrawing until inside, in one pass.
    torch.nn.init.trunc_normal_(out, mean, stddev, mean - 2 * stddev, mean + 2 * stddev,
                                generator=_generator(seed))
    return out if out.dtype is dt else out.to(dt)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    dt = INT32 if dtype is None else torch_dtype(dtype)
    low, high = int(_scalar(minval, "minval", "randint")), int(_scalar(maxval, "maxval", "randint"))
    if low >= high:
        raise InvalidArgumentError(f"randint: minval {low} must be smaller than maxval {high}")
    return torch.randint(low, high, _shape(shape, "randint"), generator=_generator(seed), dtype=dt, device=DEVICE)


def shuffle(x, axis=0, seed=None):
    x = x if type(x) is Tensor else _convert(x)
    axis = normalize_axis(int(axis), x.dim(), "shuffle")
    perm = torch.randperm(x.shape[axis], generator=_generator(seed), device=DEVICE)
    return torch.index_select(x, axis, perm.to(x.device))


def dropout(inputs, rate, noise_shape=None, seed=None):
    x = as_tensor(inputs)
    if not x.is_floating_point():
        x = x.to(FLOAT32)
    rate = _scalar(rate, "rate", "dropout")
    if not 0.0 <= rate < 1.0:
        raise InvalidArgumentError(f"dropout: rate must be in [0, 1), got {rate}")
    if rate == 0.0:
        return x
    if noise_shape is None:
        shape = x.shape
    else:
        shape = tuple(x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep = 1.0 - rate
    # One Bernoulli draw, scaled in place: the inverted-dropout mask (broadcast to x).
    mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep, generator=_generator(seed))
    return x * mask.div_(keep)
