"""Weight initializers, with Keras's names, arguments and math.

DECISION (shared with every backend): initial values are drawn with NumPy on the
host and then converted to the backend's tensor. So the same seed gives the same
initial weights on numpy, torch and tensorflow, bit for bit.

* ``seed=None``: each call draws from NumPy's global generator, which
  ``hl.utils.set_random_seed`` reseeds (one draw per call picks a child generator,
  so a call's cost in global draws does not depend on the weight's size).
* ``seed=<int>``: every call gives the same values (as a seeded Keras initializer).

``initializer(shape, dtype=None)`` returns a backend tensor; ``initializer.numpy(shape,
dtype=None)`` returns the host array (layers use it to create variables).
"""

from __future__ import annotations

import math

import numpy as np

from highlevel import ops
from highlevel.saving import registry

_TRUNCATION_STDDEV = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def _float_dtype(dtype) -> str:
    return ops.standardize_dtype(dtype)


def _as_numpy_dtype(dtype: str):
    if dtype == "bfloat16":
        import ml_dtypes  # a dependency of highlevel; NumPy has no bfloat16 of its own
        return ml_dtypes.bfloat16
    return np.dtype(dtype)


def _shape(shape) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise ValueError(f"initializer: shape must be a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"initializer: shape must not have negative dimensions, got {shape}")
    return shape


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as Keras.

    ``(in, out)`` for a matrix; ``(*kernel, in, out)`` for a conv kernel, each fan
    multiplied by the receptive field ``prod(kernel)``; a vector uses its length for
    both; a scalar gives ``(1, 1)``.
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return int(np.prod([shape[a] for a in input_axes])), int(np.prod([shape[a] for a in output_axes]))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive = int(np.prod(shape[:-2]))
    return int(shape[-2]) * receptive, int(shape[-1]) * receptive


class Initializer:
    """Base class: ``initializer(shape, dtype=None)`` -> a backend tensor of that shape.

    Subclasses implement ``numpy(shape, dtype)`` returning a host array, and
    ``get_config`` when they take arguments.
    """

    def __call__(self, shape, dtype=None):
        dtype = _float_dtype(dtype)
        return ops.convert_to_tensor(self.numpy(shape, dtype), dtype=dtype)

    def numpy(self, shape, dtype=None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement numpy(shape, dtype)")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _cast(values: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(values).astype(_as_numpy_dtype(dtype))


def _check_seed(seed):
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"initializer: seed must be None or a non-negative int, got {seed!r}")
    return None if seed is None else int(seed)


class RandomInitializer(Initializer):
    """An initializer that draws random numbers (see the module docstring for seeding)."""

    def __init__(self, seed=None):
        self.seed = _check_seed(seed)

    def _rng(self) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        # The global NumPy generator is the framework's host generator: set_random_seed reseeds it.
        return np.random.default_rng(int(np.random.randint(0, 2**31 - 1)))

    def get_config(self):
        return {"seed": self.seed}


def _truncated_normal(rng: np.random.Generator, shape, mean: float, stddev: float) -> np.ndarray:
    """Normal samples, each redrawn until it lies within two standard deviations."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values * stddev + mean


@registry.register_serializable(package="highlevel")
class Zeros(Initializer):
    """All zeros."""

    def numpy(self, shape, dtype=None):
        return np.zeros(_shape(shape), _as_numpy_dtype(_float_dtype(dtype)))


@registry.register_serializable(package="highlevel")
class Ones(Initializer):
    """All ones."""

    def numpy(self, shape, dtype=None):
        return np.ones(_shape(shape), _as_numpy_dtype(_float_dtype(dtype)))


@registry.register_serializable(package="highlevel")
class Constant(Initializer):
    """Every entry equal to the scalar ``value``."""

    def __init__(self, value=0.0):
        if not np.isscalar(value) and np.ndim(value) != 0:
            raise ValueError(f"Constant: value must be a scalar, got an array of shape {np.shape(value)}")
        self.value = float(value) if not isinstance(value, (bool, int)) else value

    def numpy(self, shape, dtype=None):
        return np.full(_shape(shape), self.value, _as_numpy_dtype(_float_dtype(dtype)))

    def get_config(self):
        return {"value": self.value}


@registry.register_serializable(package="highlevel")
class Identity(Initializer):
    """``gain * eye(rows, cols)``; 2-D shapes only."""

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def numpy(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity initializer: only 2-D shapes are supported, got shape={shape} "
                             f"of rank {len(shape)}")
        return _cast(self.gain * np.eye(*shape), _float_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


@registry.register_serializable(package="highlevel")
class RandomNormal(RandomInitializer):
    """Normal samples with ``mean`` and ``stddev`` (default 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = float(mean), float(stddev)
        super().__init__(seed)

    def numpy(self, shape, dtype=None):
        values = self._rng().normal(self.mean, self.stddev, _shape(shape))
        return _cast(values, _float_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


@registry.register_serializable(package="highlevel")
class TruncatedNormal(RandomInitializer):
    """Normal samples with ``mean``/``stddev``, redrawn beyond two standard deviations."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = float(mean), float(stddev)
        super().__init__(seed)

    def numpy(self, shape, dtype=None):
        values = _truncated_normal(self._rng(), _shape(shape), self.mean, self.stddev)
        return _cast(values, _float_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


@registry.register_serializable(package="highlevel")
class RandomUniform(RandomInitializer):
    """Uniform samples in ``[minval, maxval)`` (default ``[-0.05, 0.05)``)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = float(minval), float(maxval)
        super().__init__(seed)

    def numpy(self, shape, dtype=None):
        values = self._rng().uniform(self.minval, self.maxval, _shape(shape))
        return _cast(values, _float_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


@registry.register_serializable(package="highlevel")
class VarianceScaling(RandomInitializer):
    """Samples whose variance is ``scale / n``, ``n`` the fan chosen by ``mode``.

    ``truncated_normal``: stddev ``sqrt(scale / n) / 0.8796...`` (so the truncated
    samples have variance ``scale / n``); ``untruncated_normal``: stddev
    ``sqrt(scale / n)``; ``uniform``: ``[-limit, limit]`` with ``limit = sqrt(3 scale / n)``.
    ``n`` is ``fan_in``, ``fan_out`` or their mean (``fan_avg``).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if not scale > 0.0:
            raise ValueError(f"VarianceScaling: scale must be a positive float, got scale={scale!r}")
        if mode not in _MODES:
            raise ValueError(f"VarianceScaling: invalid mode {mode!r}; expected one of {', '.join(_MODES)}")
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: invalid distribution {distribution!r}; expected one of "
                             f"{', '.join(_DISTRIBUTIONS)}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution
        self.input_axes = None if input_axes is None else list(input_axes)
        self.output_axes = None if output_axes is None else list(output_axes)
        super().__init__(seed)

    def numpy(self, shape, dtype=None):
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            values = _truncated_normal(rng, shape, 0.0, math.sqrt(scale) / _TRUNCATION_STDDEV)
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(scale), shape)
        else:
            limit = math.sqrt(3.0 * scale)
            values = rng.uniform(-limit, limit, shape)
        return _cast(values, _float_dtype(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes, **super().get_config()}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset: only ``seed`` (and the fan axes) are arguments."""

    _preset: tuple = ()

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self._preset
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


@registry.register_serializable(package="highlevel")
class GlorotUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))`` (Xavier)."""

    _preset = (1.0, "fan_avg", "uniform")


@registry.register_serializable(package="highlevel")
class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``2 / (fan_in + fan_out)``."""

    _preset = (1.0, "fan_avg", "truncated_normal")


@registry.register_serializable(package="highlevel")
class HeNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``2 / fan_in``."""

    _preset = (2.0, "fan_in", "truncated_normal")


@registry.register_serializable(package="highlevel")
class HeUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""

    _preset = (2.0, "fan_in", "uniform")


@registry.register_serializable(package="highlevel")
class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``1 / fan_in``."""

    _preset = (1.0, "fan_in", "truncated_normal")


@registry.register_serializable(package="highlevel")
class LecunUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``."""

    _preset = (1.0, "fan_in", "uniform")


@registry.register_serializable(package="highlevel")
class Orthogonal(RandomInitializer):
    """``gain`` times an orthogonal matrix (QR of a normal matrix), reshaped to ``shape``.

    The matrix is ``(prod(shape[:-1]), shape[-1])``; with fewer rows than columns its
    rows are orthonormal, otherwise its columns.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = float(gain)
        super().__init__(seed)

    def numpy(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer: the shape must be at least 2-D, got shape={shape} "
                             f"of rank {len(shape)}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))  # makes the decomposition unique (uniform over orthogonal matrices)
        if rows < cols:
            q = q.T
        return _cast(self.gain * q.reshape(shape), _float_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


def _snake_case(name: str) -> str:
    import re
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", name).lower()


_CLASSES = (Zeros, Ones, Constant, Identity, RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling,
            GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"normal": RandomNormal, "uniform": RandomUniform, "one": Ones, "zero": Zeros,
                 "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})


_FAMILY = registry.ObjectFamily("initializer", _BY_NAME, callable_hint="a callable(shape, dtype=None)")
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize
get = _FAMILY.get


def initial_value(initializer, shape, dtype):
    """The host (NumPy) or backend value a variable of ``shape``/``dtype`` starts from."""
    if isinstance(initializer, Initializer):
        return initializer.numpy(shape, dtype)
    return initializer(tuple(shape), dtype=dtype)


# Lower-case aliases, as keras.initializers exposes (hl.initializers.glorot_uniform() etc.).
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
random_normal, truncated_normal, random_uniform = RandomNormal, TruncatedNormal, RandomUniform
variance_scaling, orthogonal = VarianceScaling, Orthogonal
glorot_uniform, glorot_normal, he_normal, he_uniform = GlorotUniform, GlorotNormal, HeNormal, HeUniform
lecun_normal, lecun_uniform = LecunNormal, LecunUniform

__all__ = ["Initializer", "RandomInitializer", "compute_fans", "deserialize", "get", "serialize",
           *[cls.__name__ for cls in _CLASSES]]
