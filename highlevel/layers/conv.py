"""Convolution layers: ``Conv1D``, ``Conv2D``, ``Conv3D`` (Keras 3 arguments and weights).

inputs ``(batch, *spatial, channels)`` (or ``(batch, channels, *spatial)`` with
``data_format="channels_first"``) -> ``(batch, *out_spatial, filters)``; weights
``kernel`` ``(*kernel_size, channels // groups, filters)`` and ``bias`` ``(filters,)``.
``_BaseConv`` also holds what the transposed, depthwise and separable layers share:
the window arguments, bias, activation, layout handling and output-shape checks.
"""

from __future__ import annotations

from highlevel import activations, constraints, initializers, ops, regularizers
from highlevel.backends.protocol import conv_output_length
from highlevel.layers import layer_args as args
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer
from highlevel.saving import registry



class _BaseConv(Layer):
    """Window arguments, bias and activation of every convolution layer of spatial ``rank``."""

    rank = None
    allow_causal = False

    def __init__(self, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, bias_initializer="zeros", bias_regularizer=None,
                 bias_constraint=None, activity_regularizer=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        rank = self.rank
        self.kernel_size = args.int_tuple(self, "kernel_size", kernel_size, rank)
        self.strides = args.int_tuple(self, "strides", strides, rank)
        self.dilation_rate = args.int_tuple(self, "dilation_rate", dilation_rate, rank)
        self.padding = args.padding_mode(self, padding, allow_causal=self.allow_causal)
        self.data_format = args.data_format(self, data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{args.describe(self)}: strides > 1 together with dilation_rate > 1 is not "
                             f"supported, got strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=rank + 2)

    # ----------------------------------------------------------- shapes
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _input_channels(self, input_shape):
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(f"{args.describe(self)}: the channel dimension of the inputs must be defined, "
                             f"got input shape {tuple(input_shape)}")
        return int(channels)

    def _check_rank(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{args.describe(self)}: expected inputs of rank {self.rank + 2} "
                             f"(batch, {'spatial, ' * self.rank}channels), got shape {tuple(input_shape)}")

    def _spatial_output(self, spatial):
        """Output spatial dims of the window op for input ``spatial`` dims (``None`` stays ``None``)."""
        padding = "valid" if self.padding == "causal" else self.padding
        out = []
        for length, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate):
            if length is not None and self.padding == "causal":
                length += d * (k - 1)
            out.append(conv_output_length(length, k, padding, s, d))
        return tuple(out)

    def _output_shape(self, input_shape, channels):
        self._check_rank(input_shape)
        shape = args.shape_channels_last(input_shape, self.data_format)
        spatial = self._spatial_output(shape[1:-1])
        if any(d is not None and d <= 0 for d in spatial):
            raise ValueError(f"{args.describe(self)}: inputs of shape {tuple(input_shape)} are too small for "
                             f"kernel_size={self.kernel_size} with dilation_rate={self.dilation_rate} and "
                             f"padding={self.padding!r}: the output would have spatial shape {spatial}")
        return args.shape_restore_layout((shape[0],) + spatial + (channels,), self.data_format)

    # ------------------------------------------------------------ build
    def _add_bias(self, units):
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")

    def _lock_channels(self, channels):
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis(): channels})

    # ------------------------------------------------------------- call
    def _finish(self, outputs):
        """Bias, activation, back to the caller's layout (``outputs`` are channels_last)."""
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        outputs = self.activation(outputs)
        return args.restore_layout(outputs, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        }


class _Conv(_BaseConv):
    """``activation(conv(inputs, kernel) + bias)`` with ``groups`` (see the module docstring)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         bias_constraint=bias_constraint, activity_regularizer=activity_regularizer, **kwargs)
        self.filters = args.positive_int(self, "filters", filters)
        self.groups = args.positive_int(self, "groups", groups)
        if self.filters % self.groups:
            raise ValueError(f"{args.describe(self)}: filters must be divisible by groups, got "
                             f"filters={self.filters} and groups={self.groups}")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"{args.describe(self)}: the number of input channels must be divisible by groups, "
                             f"got {channels} channels (input shape {tuple(input_shape)}) and groups={self.groups}")
        self._output_shape(input_shape, self.filters)
        self.kernel = self.add_weight(shape=self.kernel_size + (channels // self.groups, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self._add_bias(self.filters)
        self._lock_channels(channels)
        self.built = True

    def call(self, inputs):
        x = args.channels_last(inputs, self.data_format)
        padding = self.padding
        if padding == "causal":
            # Left padding only: output t sees inputs up to t.
            left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
            x = ops.pad(x, ((0, 0), (left, 0), (0, 0)))
            padding = "valid"
        outputs = ops.conv(x, self.kernel, strides=self.strides, padding=padding, dilation_rate=self.dilation_rate)
        return self._finish(outputs)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "groups": self.groups,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
        }


@registry.register_serializable(package="highlevel")
class Conv1D(_Conv):
    """1D convolution over ``(batch, steps, channels)``; ``padding="causal"`` pads on the left only
    (output step ``t`` sees input steps ``<= t``)."""

    rank = 1
    allow_causal = True


@registry.register_serializable(package="highlevel")
class Conv2D(_Conv):
    """2D convolution over ``(batch, height, width, channels)``."""

    rank = 2


@registry.register_serializable(package="highlevel")
class Conv3D(_Conv):
    """3D convolution over ``(batch, depth, height, width, channels)``."""

    rank = 3
