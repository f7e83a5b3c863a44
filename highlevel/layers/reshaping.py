"""Reshaping layers (Keras 3 arguments): ``UpSampling1D/2D``, ``ZeroPadding1D/2D``,
``Cropping1D/2D``, ``Permute``, ``RepeatVector``.

They move values around without weights; outputs keep the input's dtype.
"""

from __future__ import annotations

import numpy as np

from highlevel import ops
from highlevel.layers import layer_args as args
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.pooling import _ShapeOnly
from highlevel.saving import registry


def _times(length, factor):
    return None if length is None else length * factor


# ------------------------------------------------------------------ up-sampling


@registry.register_serializable(package="highlevel")
class UpSampling1D(_ShapeOnly):
    """Repeat each step ``size`` times: ``(batch, steps, features)`` -> ``(batch, steps * size, features)``."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = args.positive_int(self, "size", size)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return ops.repeat(inputs, self.size, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _times(input_shape[1], self.size), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def bilinear_matrix(in_size: int, factor: int) -> np.ndarray:
    """``(in_size * factor, in_size)`` weights of bilinear up-sampling along one axis.

    Half-pixel centres, as TensorFlow's ``resize`` and torch's ``interpolate(align_corners=False)``:
    output ``i`` samples the input at ``(i + 0.5) / factor - 0.5``, clamped to the edges.
    """
    out = np.arange(in_size * factor)
    source = (out + 0.5) / factor - 0.5
    low = np.floor(source)
    frac = source - low
    low = low.astype(np.int64)
    matrix = np.zeros((in_size * factor, in_size), np.float64)
    np.add.at(matrix, (out, np.clip(low, 0, in_size - 1)), 1.0 - frac)
    np.add.at(matrix, (out, np.clip(low + 1, 0, in_size - 1)), frac)
    return matrix


@registry.register_serializable(package="highlevel")
class UpSampling2D(_ShapeOnly):
    """``(batch, h, w, channels)`` -> ``(batch, h * size[0], w * size[1], channels)``.

    interpolation ``"nearest"`` repeats rows and columns; ``"bilinear"`` interpolates with
    half-pixel centres (as Keras on TensorFlow and torch), as two small matrix products.
    """

    _INTERPOLATIONS = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = args.int_tuple(self, "size", size, 2)
        self.data_format = args.data_format(self, data_format)
        mode = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if mode not in self._INTERPOLATIONS:
            raise ValueError(f"{args.describe(self)}: interpolation must be one of "
                             f"{', '.join(map(repr, self._INTERPOLATIONS))}, got interpolation={interpolation!r}")
        self.interpolation = mode
        self.input_spec = InputSpec(ndim=4)
        self._matrices = {}

    def _matrix(self, in_size, factor, dtype):
        key = (in_size, factor, dtype)
        if key not in self._matrices:
            # Cached as NumPy: a tensor made inside a compiled TensorFlow step must not outlive it.
            self._matrices[key] = bilinear_matrix(in_size, factor).astype(dtype)
        return ops.convert_to_tensor(self._matrices[key])

    def call(self, inputs):
        x = args.channels_last(inputs, self.data_format)
        if self.interpolation == "nearest":
            x = ops.repeat(ops.repeat(x, self.size[0], axis=1), self.size[1], axis=2)
        else:
            dtype = ops.dtype(x)
            if dtype not in ("float16", "bfloat16", "float32", "float64"):
                x, dtype = ops.cast(x, "float32"), "float32"
            _, height, width, _ = ops.shape(x)
            x = ops.einsum("oh,nhwc->nowc", self._matrix(height, self.size[0], dtype), x)
            x = ops.einsum("pw,nowc->nopc", self._matrix(width, self.size[1], dtype), x)
        return args.restore_layout(x, self.data_format)

    def compute_output_shape(self, input_shape):
        n, h, w, c = args.shape_channels_last(input_shape, self.data_format)
        return args.shape_restore_layout((n, _times(h, self.size[0]), _times(w, self.size[1]), c), self.data_format)

    def compute_output_spec(self, inputs, *unused_args, **unused_kwargs):
        spec = super().compute_output_spec(inputs)
        if self.interpolation == "bilinear" and spec.dtype not in ("float16", "bfloat16", "float32", "float64"):
            spec = type(spec)(spec.shape, "float32")
        return spec

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


# ---------------------------------------------------------- padding and cropping


@registry.register_serializable(package="highlevel")
class ZeroPadding1D(_ShapeOnly):
    """Zeros before and after the steps: ``padding`` is ``n`` or ``(before, after)``."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = args.int_tuple(self, "padding", padding, 2, allow_zero=True)
        self.data_format = args.data_format(self, data_format)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        if self.data_format == "channels_first":
            return ops.pad(inputs, ((0, 0), (0, 0), self.padding))
        return ops.pad(inputs, ((0, 0), self.padding, (0, 0)))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = 1 if self.data_format == "channels_last" else 2
        if shape[axis] is not None:
            shape[axis] += sum(self.padding)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding), "data_format": self.data_format}


@registry.register_serializable(package="highlevel")
class ZeroPadding2D(_ShapeOnly):
    """Zeros around images: ``padding`` is ``n``, ``(h, w)`` or ``((top, bottom), (left, right))``."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = args.pair_of_pairs(self, "padding", padding)
        self.data_format = args.data_format(self, data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        if self.data_format == "channels_first":
            return ops.pad(inputs, ((0, 0), (0, 0)) + self.padding)
        return ops.pad(inputs, ((0, 0),) + self.padding + ((0, 0),))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = 1 if self.data_format == "channels_last" else 2
        for i, pads in enumerate(self.padding):
            if shape[first + i] is not None:
                shape[first + i] += sum(pads)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": self.data_format}


def _crop(before, after):
    return slice(before, -after if after else None)


def _check_crop(layer, input_shape, axes, cropping):
    for axis, (before, after) in zip(axes, cropping):
        length = input_shape[axis]
        if length is not None and before + after >= length:
            raise ValueError(f"{args.describe(layer)}: cropping {layer.cropping} must leave at least one entry of "
                             f"each cropped axis, got input shape {tuple(input_shape)}")


@registry.register_serializable(package="highlevel")
class Cropping1D(_ShapeOnly):
    """Drop steps at the start and end: ``cropping`` is ``n`` or ``(start, end)``."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = args.int_tuple(self, "cropping", cropping, 2, allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        _check_crop(self, ops.shape(inputs), (1,), (self.cropping,))
        return ops.getitem(inputs, (slice(None), _crop(*self.cropping)))

    def compute_output_shape(self, input_shape):
        _check_crop(self, input_shape, (1,), (self.cropping,))
        length = None if input_shape[1] is None else input_shape[1] - sum(self.cropping)
        return (input_shape[0], length, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


@registry.register_serializable(package="highlevel")
class Cropping2D(_ShapeOnly):
    """Crop images: ``cropping`` is ``n``, ``(h, w)`` or ``((top, bottom), (left, right))``."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = args.pair_of_pairs(self, "cropping", cropping)
        self.data_format = args.data_format(self, data_format)
        self.input_spec = InputSpec(ndim=4)

    def _axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def call(self, inputs):
        _check_crop(self, ops.shape(inputs), self._axes(), self.cropping)
        rows, cols = (_crop(*c) for c in self.cropping)
        key = (slice(None), rows, cols) if self.data_format == "channels_last" else (slice(None), slice(None),
                                                                                     rows, cols)
        return ops.getitem(inputs, key)

    def compute_output_shape(self, input_shape):
        _check_crop(self, input_shape, self._axes(), self.cropping)
        shape = list(input_shape)
        for axis, crop in zip(self._axes(), self.cropping):
            if shape[axis] is not None:
                shape[axis] -= sum(crop)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "cropping": [list(c) for c in self.cropping], "data_format": self.data_format}


# ------------------------------------------------------------ permute and repeat


@registry.register_serializable(package="highlevel")
class Permute(_ShapeOnly):
    """Reorder the non-batch axes: ``dims`` is a permutation of ``1 .. rank - 1``, e.g. ``(2, 1)``
    turns ``(batch, steps, features)`` into ``(batch, features, steps)``."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            dims = None
        if not dims or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"{args.describe(self)}: dims must be a permutation of 1..n (the batch axis 0 stays "
                             f"first), got dims={dims!r}")
        self.dims = dims
        self.input_spec = InputSpec(ndim=len(dims) + 1)

    def call(self, inputs):
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


@registry.register_serializable(package="highlevel")
class RepeatVector(_ShapeOnly):
    """``(batch, features)`` -> ``(batch, n, features)``: the vector repeated ``n`` times."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = args.positive_int(self, "n", n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return ops.tile(ops.expand_dims(inputs, 1), (1, self.n, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
