"""Pooling layers (Keras 3 arguments).

Windowed: ``MaxPooling1D/2D/3D`` (``pool_size`` 2 per axis by default) and
``AveragePooling1D/2D/3D`` (``pool_size`` required, as in Keras 3): inputs ``(batch,
*spatial, channels)`` -> ``(batch, *out_spatial, channels)``; ``strides`` default to
``pool_size``; ``"same"`` pads as TensorFlow (padding never wins a max and is left out of
an average).

Global: ``GlobalMaxPooling1D/2D/3D`` and ``GlobalAveragePooling1D/2D/3D``: ``(batch,
*spatial, channels)`` -> ``(batch, channels)`` (``keepdims=True``: ``(batch, 1, ...,
channels)``). ``GlobalAveragePooling1D`` takes a ``mask`` ``(batch, steps)``: the mean
runs over the unmasked steps only.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.backends.protocol import conv_output_length
from highlevel.layers import layer_args as args
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import SymbolicTensor
from highlevel.saving import registry


class _ShapeOnly(Layer):
    """Outputs keep the input's dtype (pooling an integer image stays integer)."""

    def compute_output_spec(self, inputs, *unused_args, **unused_kwargs):
        return SymbolicTensor(self.compute_output_shape(inputs.shape), inputs.dtype)


class _Pooling(_ShapeOnly):
    rank = None
    mode = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = args.int_tuple(self, "pool_size", pool_size, self.rank)
        self.strides = self.pool_size if strides is None else args.int_tuple(self, "strides", strides, self.rank)
        self.padding = args.padding_mode(self, padding)
        self.data_format = args.data_format(self, data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        x = args.channels_last(inputs, self.data_format)
        pool = ops.max_pool if self.mode == "max" else ops.average_pool
        return args.restore_layout(pool(x, self.pool_size, strides=self.strides, padding=self.padding),
                                   self.data_format)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{args.describe(self)}: expected inputs of rank {self.rank + 2}, "
                             f"got shape {tuple(input_shape)}")
        shape = args.shape_channels_last(input_shape, self.data_format)
        spatial = tuple(conv_output_length(n, k, self.padding, s)
                        for n, k, s in zip(shape[1:-1], self.pool_size, self.strides))
        if any(d is not None and d <= 0 for d in spatial):
            raise ValueError(f"{args.describe(self)}: inputs of shape {tuple(input_shape)} are smaller than "
                             f"pool_size={self.pool_size} with padding={self.padding!r}")
        return args.shape_restore_layout((shape[0],) + spatial + (shape[-1],), self.data_format)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # fail when the graph is built, not at the first batch
        self.built = True

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


@registry.register_serializable(package="highlevel")
class MaxPooling1D(_Pooling):
    """Max over windows of ``(batch, steps, channels)``."""

    rank, mode = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs)


@registry.register_serializable(package="highlevel")
class MaxPooling2D(_Pooling):
    """Max over windows of ``(batch, height, width, channels)``."""

    rank, mode = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs)


@registry.register_serializable(package="highlevel")
class MaxPooling3D(_Pooling):
    """Max over windows of ``(batch, depth, height, width, channels)``."""

    rank, mode = 3, "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs)


@registry.register_serializable(package="highlevel")
class AveragePooling1D(_Pooling):
    """Mean over windows of ``(batch, steps, channels)``."""

    rank, mode = 1, "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs)


@registry.register_serializable(package="highlevel")
class AveragePooling2D(_Pooling):
    """Mean over windows of ``(batch, height, width, channels)``."""

    rank, mode = 2, "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs)


@registry.register_serializable(package="highlevel")
class AveragePooling3D(_Pooling):
    """Mean over windows of ``(batch, depth, height, width, channels)``."""

    rank, mode = 3, "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs)


class _GlobalPooling(_ShapeOnly):
    rank = None
    mode = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = args.data_format(self, data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def call(self, inputs):
        reduce = ops.max if self.mode == "max" else ops.mean
        return reduce(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{args.describe(self)}: expected inputs of rank {self.rank + 2}, "
                             f"got shape {tuple(input_shape)}")
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


@registry.register_serializable(package="highlevel")
class GlobalMaxPooling1D(_GlobalPooling):
    """Max over the steps of ``(batch, steps, channels)``."""

    rank, mode = 1, "max"


@registry.register_serializable(package="highlevel")
class GlobalMaxPooling2D(_GlobalPooling):
    """Max over the spatial axes of ``(batch, h, w, channels)``."""

    rank, mode = 2, "max"


@registry.register_serializable(package="highlevel")
class GlobalMaxPooling3D(_GlobalPooling):
    """Max over the spatial axes of ``(batch, d, h, w, channels)``."""

    rank, mode = 3, "max"


@registry.register_serializable(package="highlevel")
class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps of ``(batch, steps, channels)``; with ``mask`` ``(batch, steps)``, over
    the unmasked steps only (the output carries no mask)."""

    rank, mode = 1, "average"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        steps_axis = self._axes()[0]
        weights = ops.expand_dims(ops.cast(mask, ops.dtype(inputs)), 2 if steps_axis == 1 else 1)
        # where() rather than a product: a masked step holding inf or NaN must not leak in.
        total = ops.sum(ops.where(ops.greater(weights, 0), inputs, ops.zeros_like(inputs)), axis=steps_axis,
                        keepdims=self.keepdims)
        return ops.divide(total, ops.sum(weights, axis=steps_axis, keepdims=self.keepdims))

    def compute_mask(self, inputs, mask=None):
        return None


@registry.register_serializable(package="highlevel")
class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over the spatial axes of ``(batch, h, w, channels)``."""

    rank, mode = 2, "average"


@registry.register_serializable(package="highlevel")
class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over the spatial axes of ``(batch, d, h, w, channels)``."""

    rank, mode = 3, "average"
