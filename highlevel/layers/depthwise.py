"""Depthwise and separable convolutions: ``DepthwiseConv1D/2D``, ``SeparableConv1D/2D``.

``DepthwiseConv2D``: each input channel ``c`` is convolved with its own
``depth_multiplier`` filters; inputs ``(batch, h, w, channels)`` -> ``(batch, oh, ow,
channels * depth_multiplier)``, output channel ``c * depth_multiplier + m``. Weights
``kernel`` ``(kh, kw, channels, depth_multiplier)``, ``bias`` ``(channels * depth_multiplier,)``.

``SeparableConv2D``: that depthwise step (strides, padding, dilation) followed by a 1x1
convolution to ``filters``. Weights ``depthwise_kernel`` ``(kh, kw, channels,
depth_multiplier)``, ``pointwise_kernel`` ``(1, 1, channels * depth_multiplier, filters)``,
``bias`` ``(filters,)``.
"""

from __future__ import annotations

from highlevel import constraints, initializers, ops, regularizers
from highlevel.layers import layer_args as args
from highlevel.layers.conv import _BaseConv
from highlevel.saving import registry


class _DepthwiseConv(_BaseConv):
    """``activation(depthwise_conv(inputs, kernel) + bias)`` (see the module docstring)."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         bias_constraint=bias_constraint, activity_regularizer=activity_regularizer, **kwargs)
        self.depth_multiplier = args.positive_int(self, "depth_multiplier", depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self._output_shape(input_shape, channels * self.depth_multiplier)
        self.kernel = self.add_weight(shape=self.kernel_size + (channels, self.depth_multiplier),
                                      initializer=self.depthwise_initializer,
                                      regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint, name="kernel")
        self._add_bias(channels * self.depth_multiplier)
        self._lock_channels(channels)
        self.built = True

    def call(self, inputs):
        x = args.channels_last(inputs, self.data_format)
        outputs = ops.depthwise_conv(x, self.kernel, strides=self.strides, padding=self.padding,
                                     dilation_rate=self.dilation_rate)
        return self._finish(outputs)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        channels = input_shape[self._channel_axis()]
        return self._output_shape(input_shape, None if channels is None else channels * self.depth_multiplier)

    def get_config(self):
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
        }


@registry.register_serializable(package="highlevel")
class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1D convolution over ``(batch, steps, channels)``."""

    rank = 1


@registry.register_serializable(package="highlevel")
class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2D convolution over ``(batch, height, width, channels)``."""

    rank = 2


class _SeparableConv(_BaseConv):
    """A depthwise convolution, then a pointwise (1x1) one, then bias and activation."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         bias_constraint=bias_constraint, activity_regularizer=activity_regularizer, **kwargs)
        self.filters = args.positive_int(self, "filters", filters)
        self.depth_multiplier = args.positive_int(self, "depth_multiplier", depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self._output_shape(input_shape, self.filters)
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (channels, self.depth_multiplier), initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint, name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight(
            shape=(1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, name="pointwise_kernel")
        self._add_bias(self.filters)
        self._lock_channels(channels)
        self.built = True

    def call(self, inputs):
        x = args.channels_last(inputs, self.data_format)
        x = ops.depthwise_conv(x, self.depthwise_kernel, strides=self.strides, padding=self.padding,
                               dilation_rate=self.dilation_rate)
        # The pointwise step is a matmul over the channel axis: cheaper than a 1x1 conv on every engine.
        kernel = ops.reshape(self.pointwise_kernel, ops.shape(self.pointwise_kernel)[-2:])
        return self._finish(ops.matmul(x, kernel))

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
        }


@registry.register_serializable(package="highlevel")
class SeparableConv1D(_SeparableConv):
    """Depthwise-separable 1D convolution over ``(batch, steps, channels)``."""

    rank = 1


@registry.register_serializable(package="highlevel")
class SeparableConv2D(_SeparableConv):
    """Depthwise-separable 2D convolution over ``(batch, height, width, channels)``."""

    rank = 2
