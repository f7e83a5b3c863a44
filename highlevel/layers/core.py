"""Core layers: ``Dense``, ``Activation``, ``Dropout``, ``Flatten``, ``Reshape`` (Keras 3 arguments)."""

from __future__ import annotations

import math

from highlevel import activations, constraints, initializers, ops, regularizers
from highlevel import random as hl_random
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import SymbolicTensor
from highlevel.saving import registry



@registry.register_serializable(package="highlevel")
class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` on the last axis.

    inputs ``(batch, ..., in)`` -> outputs ``(batch, ..., units)``; weights ``kernel``
    ``(in, units)`` and ``bias`` ``(units,)`` (Keras's layout and order).
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            if not (isinstance(units, float) and units.is_integer() and units > 0):
                raise ValueError(f"Dense {self.name!r}: units must be a positive integer, got units={units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense {self.name!r}: the last dimension of the inputs must be defined, "
                             f"got input shape {tuple(input_shape)}")
        self.kernel = self.add_weight(shape=(input_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


@registry.register_serializable(package="highlevel")
class Activation(Layer):
    """Applies an activation (a name from ``hl.activations`` or a callable) elementwise."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class _ShapeOnlyLayer(Layer):
    """A layer that moves values around: its output keeps the input's dtype."""

    def compute_output_spec(self, inputs, *args, **kwargs):
        return SymbolicTensor(self.compute_output_shape(inputs.shape), inputs.dtype)


@registry.register_serializable(package="highlevel")
class Dropout(_ShapeOnlyLayer):
    """Inverted dropout: while ``training=True``, zero each entry with probability ``rate`` and
    scale the rest by ``1 / (1 - rate)``; the identity otherwise.

    noise_shape: the shape of the keep mask, broadcast over the input (``None`` entries
    take the input's size), e.g. ``(batch, 1, features)`` to drop whole features.
    seed: makes the sequence of masks repeat (see ``call``).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Dropout {self.name!r}: rate must be a float in [0, 1], got rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        # Seeded: masks from hl.random, whose state Variable advances on every training call, so
        # the sequence of masks repeats, is the same on every backend, and a compiled TensorFlow
        # step draws a fresh mask each step. Unseeded: the engine's own (faster) dropout op.
        self._generator = None if seed is None else hl_random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        if self.rate == 1.0:
            return ops.zeros_like(inputs)
        if self._generator is None:
            return ops.dropout(inputs, self.rate, noise_shape=self.noise_shape)
        shape = ops.shape(inputs) if self.noise_shape is None else \
            tuple(ops.shape(inputs)[i] if d is None else d for i, d in enumerate(self.noise_shape))
        keep = ops.greater_equal(hl_random.uniform(shape, self._generator.next()), self.rate)
        scaled = ops.divide(inputs, 1.0 - self.rate)
        return ops.where(keep, scaled, ops.zeros_like(scaled))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape), "seed": self.seed}


@registry.register_serializable(package="highlevel")
class Flatten(_ShapeOnlyLayer):
    """``(batch, d1, d2, ...)`` -> ``(batch, d1 * d2 * ...)``; rank 1 -> ``(batch, 1)``.

    data_format ``"channels_first"`` moves the channel axis last first, as Keras, so a
    flattened vector has the same order whichever layout the data came in.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"Flatten {self.name!r}: data_format must be 'channels_last' or 'channels_first', "
                             f"got {data_format!r}")
        self.data_format = data_format
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        shape = ops.shape(inputs)
        if self.data_format == "channels_first" and len(shape) > 2:
            inputs = ops.transpose(inputs, (0,) + tuple(range(2, len(shape))) + (1,))
        return ops.reshape(inputs, (shape[0], math.prod(shape[1:])))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@registry.register_serializable(package="highlevel")
class Reshape(_ShapeOnlyLayer):
    """``(batch, ...)`` -> ``(batch, *target_shape)``; one entry of ``target_shape`` may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = (target_shape,) if isinstance(target_shape, int) else tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in target_shape) > 1 or any(d < -1 or d == 0 for d in target_shape):
            raise ValueError(f"Reshape {self.name!r}: target_shape must have positive entries and at most one -1, "
                             f"got {target_shape}")
        self.target_shape = target_shape

    def _resolve(self, input_shape):
        """``target_shape`` with the -1 filled in (``None`` when the input size is unknown)."""
        rest = input_shape[1:]
        known = math.prod(d for d in self.target_shape if d != -1)
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(rest)
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(self._mismatch(input_shape))
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if size != known:
            raise ValueError(self._mismatch(input_shape))
        return self.target_shape

    def _mismatch(self, input_shape):
        return (f"Reshape {self.name!r}: the total size of the new array must be unchanged; input shape "
                f"{tuple(input_shape)} (without the batch dim: {tuple(input_shape[1:])}) cannot be reshaped "
                f"to target_shape {self.target_shape}")

    def build(self, input_shape):
        self._resolve(input_shape)  # fail at graph-building time, not at the first batch
        self.built = True

    def call(self, inputs):
        shape = ops.shape(inputs)
        return ops.reshape(inputs, (shape[0],) + self._resolve(shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(input_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
