"""Transposed convolution layers: ``Conv1DTranspose``, ``Conv2DTranspose``, ``Conv3DTranspose``.

inputs ``(batch, *spatial, channels)`` -> ``(batch, *out_spatial, filters)`` where each
output length is Keras's ``deconv_output_length`` (``length * stride`` for ``"same"``
without ``output_padding``); weights ``kernel`` ``(*kernel_size, filters, channels)``
(Keras's layout: the gradient of a ``Conv`` from ``filters`` to ``channels``) and
``bias`` ``(filters,)``.
"""

from __future__ import annotations

from highlevel import constraints, initializers, ops, regularizers
from highlevel.backends.protocol import conv_transpose_output_length
from highlevel.layers import layer_args as args
from highlevel.layers.conv import _BaseConv
from highlevel.saving import registry


class _ConvTranspose(_BaseConv):
    """``activation(conv_transpose(inputs, kernel) + bias)`` (see the module docstring)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         bias_constraint=bias_constraint, activity_regularizer=activity_regularizer, **kwargs)
        self.filters = args.positive_int(self, "filters", filters)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = args.int_tuple(self, "output_padding", output_padding, self.rank, allow_zero=True)
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(f"{args.describe(self)}: each output_padding must be smaller than its stride, got "
                                 f"output_padding={self.output_padding} and strides={self.strides}")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)

    def _spatial_output(self, spatial):
        output_padding = self.output_padding or (None,) * self.rank
        return tuple(conv_transpose_output_length(length, k, self.padding, p if self.output_padding else None, s, d)
                     for length, k, p, s, d in zip(spatial, self.kernel_size, output_padding, self.strides,
                                                   self.dilation_rate))

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self._output_shape(input_shape, self.filters)
        self.kernel = self.add_weight(shape=self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self._add_bias(self.filters)
        self._lock_channels(channels)
        self.built = True

    def call(self, inputs):
        x = args.channels_last(inputs, self.data_format)
        outputs = ops.conv_transpose(x, self.kernel, strides=self.strides, padding=self.padding,
                                     output_padding=self.output_padding, dilation_rate=self.dilation_rate)
        return self._finish(outputs)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "output_padding": None if self.output_padding is None else list(self.output_padding),
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
        }


@registry.register_serializable(package="highlevel")
class Conv1DTranspose(_ConvTranspose):
    """Transposed 1D convolution over ``(batch, steps, channels)``."""

    rank = 1


@registry.register_serializable(package="highlevel")
class Conv2DTranspose(_ConvTranspose):
    """Transposed 2D convolution over ``(batch, height, width, channels)`` (decoders, upsampling)."""

    rank = 2


@registry.register_serializable(package="highlevel")
class Conv3DTranspose(_ConvTranspose):
    """Transposed 3D convolution over ``(batch, depth, height, width, channels)``."""

    rank = 3
