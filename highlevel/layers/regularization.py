"""Regularization layers: ``SpatialDropout1D/2D``, ``GaussianNoise``, ``GaussianDropout``,
``ActivityRegularization`` (Keras 3 arguments). ``Dropout`` lives in ``core``.

The noise layers act only while ``training=True`` and are the identity otherwise. As for
``Dropout``: with a ``seed``, the noise comes from ``hl.random`` through a
``SeedGenerator`` whose state Variable advances on every training call, so the sequence
of draws repeats, is the same on every backend, and a compiled TensorFlow step draws
fresh noise each step; without one, from the engine's own (faster) random ops.
"""

from __future__ import annotations

import math

from highlevel import ops, regularizers
from highlevel import random as hl_random
from highlevel.layers.core import Dropout
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer
from highlevel.saving import registry


def _check_seed(seed, layer):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: seed must be an int or None, got seed={seed!r}")
    return seed


def _generator(seed):
    return None if seed is None else hl_random.SeedGenerator(seed)


class _SeededNoise(Layer):
    """A layer drawing noise; ``_seed_generator`` is ``None`` (engine ops) or a ``SeedGenerator``."""

    def _normal(self, shape, mean, stddev, dtype):
        if self._seed_generator is None:
            return ops.normal(shape, mean=mean, stddev=stddev, dtype=dtype)
        return hl_random.normal(shape, self._seed_generator.next(), mean=mean, stddev=stddev, dtype=dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


# ------------------------------------------------------------------ spatial dropout


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one keep/drop draw per (sample, channel)."""

    _rank = None  # input rank

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        _check_seed(seed, self)
        self._seed_generator = _generator(seed)
        self.input_spec = InputSpec(ndim=self._rank)

    def _noise_shape(self, shape):
        raise NotImplementedError

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        if self.rate == 1.0:
            return ops.zeros_like(inputs)
        noise_shape = self._noise_shape(ops.shape(inputs))
        if self._seed_generator is None:
            return ops.dropout(inputs, self.rate, noise_shape=noise_shape)
        keep = ops.greater_equal(hl_random.uniform(noise_shape, self._seed_generator.next()), self.rate)
        scaled = ops.divide(inputs, 1.0 - self.rate)
        return ops.where(keep, scaled, ops.zeros_like(scaled))

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape", None)
        return config


@registry.register_serializable(package="highlevel")
class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of a sequence: inputs ``(batch, steps, channels)``; while
    training, each ``(sample, channel)`` is zeroed for every step with probability ``rate``
    and kept (scaled by ``1 / (1 - rate)``) otherwise."""

    _rank = 3

    def _noise_shape(self, shape):
        return (shape[0], 1, shape[2])


@registry.register_serializable(package="highlevel")
class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps: inputs ``(batch, rows, cols, channels)`` (or
    ``(batch, channels, rows, cols)`` with ``data_format="channels_first"``); while training,
    each ``(sample, channel)`` map is zeroed with probability ``rate``, the rest scaled by
    ``1 / (1 - rate)``."""

    _rank = 4

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"SpatialDropout2D {self.name!r}: data_format must be 'channels_last' or "
                             f"'channels_first', got {data_format!r}")
        self.data_format = data_format

    def _noise_shape(self, shape):
        if self.data_format == "channels_first":
            return (shape[0], shape[1], 1, 1)
        return (shape[0], 1, 1, shape[3])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


# ------------------------------------------------------------------ Gaussian noise


@registry.register_serializable(package="highlevel")
class GaussianNoise(_SeededNoise):
    """While training, ``inputs + N(0, stddev**2)`` noise (same shape); the identity otherwise.

    stddev: in [0, 1] (Keras's range); seed: see the module docstring.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or not 0 <= stddev <= 1:
            raise ValueError(f"GaussianNoise {self.name!r}: stddev must be a float in [0, 1], got stddev={stddev!r}")
        self.stddev = float(stddev)
        self.seed = _check_seed(seed, self)
        self._seed_generator = _generator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.stddev == 0.0:
            return inputs
        noise = self._normal(ops.shape(inputs), 0.0, self.stddev, ops.dtype(inputs))
        return ops.add(inputs, noise)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@registry.register_serializable(package="highlevel")
class GaussianDropout(_SeededNoise):
    """While training, ``inputs * N(1, rate / (1 - rate))`` noise (multiplicative, mean 1, the
    variance of inverted dropout with the same ``rate``); the identity otherwise.

    rate: in [0, 1); seed: see the module docstring.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"GaussianDropout {self.name!r}: rate must be a float in [0, 1), got rate={rate!r}")
        self.rate = float(rate)
        self.seed = _check_seed(seed, self)
        self._seed_generator = _generator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = self._normal(ops.shape(inputs), 1.0, stddev, ops.dtype(inputs))
        return ops.multiply(inputs, noise)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


# ------------------------------------------------------------------ activity regularization


@registry.register_serializable(package="highlevel")
class ActivityRegularization(Layer):
    """The identity, adding ``(l1 * sum(|x|) + l2 * sum(x ** 2)) / batch_size`` of its output to
    ``losses`` on every call (as Keras 3, whose activity penalties also count in evaluation).
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)  # a Keras config may carry it; l1/l2 define it
        for name, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
                raise ValueError(f"ActivityRegularization: {name} must be a non-negative float, got {name}={value!r}")
        super().__init__(activity_regularizer=regularizers.L1L2(l1=float(l1), l2=float(l2)), **kwargs)
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
