"""Random image augmentation layers, active only with ``training=True`` (the identity otherwise).

``RandomFlip``, ``RandomRotation``, ``RandomTranslation``, ``RandomZoom``, ``RandomCrop``,
``RandomContrast``, ``RandomBrightness`` (Keras 3 arguments, channels_last).

Randomness comes from ``hl.random``: each layer owns a ``SeedGenerator`` (an int64
Variable ``[seed, counter]``) that advances on every training call, and its random
parameters are a stateless hash of that state. So for the same ``seed`` the augmented
images are the same numbers on NumPy, torch and TensorFlow, and a compiled TensorFlow
train step draws fresh parameters at every step. ``seed=None`` draws the layer's seed
from NumPy's global generator (``hl.utils.set_random_seed`` makes it repeat).

Geometric layers build one projective transform per image and call the protocol's
``affine_transform`` (TensorFlow's ImageProjectiveTransformV3 semantics, as Keras).
As in Keras, calling a layer directly (no enclosing ``training`` flag) augments.
"""

from __future__ import annotations

import math

from highlevel import ops
from highlevel import random as hl_random
from highlevel.backends.protocol import FILL_MODES
from highlevel.layers.layer import Layer
from highlevel.layers.preprocessing.image import (INTERPOLATIONS, check_image_rank, check_image_shape,
                                                  positive_int, smart_resize, with_size)
from highlevel.saving import registry


def _factor_pair(label, name, factor, bounds=(-1.0, 1.0)):
    """``factor`` -> ``(lower, upper)``: a number f gives ``(-f, f)``; a pair is sorted. Keras's rules."""
    message = (f"{label}: {name} must be a number or a pair of numbers in [{bounds[0]}, {bounds[1]}], "
               f"got {name}={factor!r}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in factor):
            raise ValueError(message)
        lower, upper = sorted(float(f) for f in factor)
    elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
        lower, upper = -abs(float(factor)), abs(float(factor))
    else:
        raise ValueError(message)
    if lower < bounds[0] or upper > bounds[1]:
        raise ValueError(message)
    return lower, upper


def _config_factor(factor):
    return list(factor) if isinstance(factor, (tuple, list)) else factor


class BaseRandomLayer(Layer):
    """An augmentation layer: ``call(inputs, training=True)`` draws one seed state per training
    call and hands rank-4 float images to ``augment(images, state)``."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"{type(self).__name__} {self.name!r}: seed must be None or a non-negative int, "
                             f"got seed={seed!r}")
        self.seed = seed
        self._generator = hl_random.SeedGenerator(seed)

    @property
    def seed_generator(self):
        return self._generator

    def call(self, inputs, training=True):
        images, unbatched = check_image_rank(self, inputs)
        if not training:
            return self.inference(images, unbatched, inputs)
        if ops.dtype(images) != self.compute_dtype:
            images = ops.cast(images, self.compute_dtype)
        out = self.augment(images, self._generator.next())
        return ops.squeeze(out, 0) if unbatched else out

    def inference(self, images, unbatched, inputs):
        return inputs

    def augment(self, images, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return check_image_shape(self, input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class _GeometricLayer(BaseRandomLayer):
    """Shared arguments of the transform-based layers."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, **kwargs)
        label = f"{type(self).__name__} {self.name!r}"
        if fill_mode not in FILL_MODES:
            raise ValueError(f"{label}: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{label}: interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{label}: data_format must be 'channels_last', got {data_format!r}")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = float(fill_value)

    def augment(self, images, state):
        transform = self.transform(ops.shape(images), state)
        return ops.affine_transform(images, transform, self.interpolation, self.fill_mode, self.fill_value)

    def transform(self, shape, state):  # pragma: no cover - abstract
        """``(batch, 8)`` float32 projective transforms for images of ``shape``."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


def _columns(*columns):
    """``(batch, 8)`` from eight ``(batch,)`` tensors or Python numbers (broadcast)."""
    batch = next(ops.shape(c)[0] for c in columns if not isinstance(c, (int, float)))
    return ops.stack([ops.full((batch,), float(c)) if isinstance(c, (int, float)) else c for c in columns], axis=1)


@registry.register_serializable(package="highlevel")
class RandomFlip(BaseRandomLayer):
    """Flip each image left-right and/or up-down with probability 1/2 (independently per axis).

    mode: ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"``.
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if mode not in self.MODES:
            raise ValueError(f"RandomFlip {self.name!r}: mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    def augment(self, images, state):
        batch = ops.shape(images)[0]
        axes = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (2, 1)}[self.mode]
        for stream, axis in enumerate(axes):
            flip = ops.less(hl_random.uniform((batch, 1, 1, 1), state, stream=stream), 0.5)
            images = ops.where(flip, ops.flip(images, axis=axis), images)
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@registry.register_serializable(package="highlevel")
class RandomRotation(_GeometricLayer):
    """Rotate each image about its centre by ``factor * 2 pi`` radians, ``factor`` drawn per image.

    factor: f -> angles in [-f, f] turns; (a, b) -> [a, b] turns (within [-1, 1]).
    fill_mode ``"reflect" | "wrap" | "constant" | "nearest"``, interpolation
    ``"bilinear" | "nearest"``; fill_value for ``"constant"``.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         data_format=data_format, **kwargs)
        self.factor = factor
        self.lower, self.upper = _factor_pair(f"RandomRotation {self.name!r}", "factor", factor)

    def transform(self, shape, state):
        batch, height, width, _ = shape
        angle = hl_random.uniform((batch,), state, self.lower * 2 * math.pi, self.upper * 2 * math.pi)
        return rotation_transform(angle, height, width)

    def get_config(self):
        return {**super().get_config(), "factor": _config_factor(self.factor)}


def rotation_transform(angle, height, width):
    """Transforms rotating by ``angle`` (radians, ``(batch,)``) about the image centre (Keras's matrix)."""
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    cos, sin = ops.cos(angle), ops.sin(angle)
    a2 = ops.subtract(ops.subtract(cx, ops.multiply(cos, cx)), ops.multiply(ops.negative(sin), cy))
    b2 = ops.subtract(ops.subtract(cy, ops.multiply(sin, cx)), ops.multiply(cos, cy))
    return _columns(cos, ops.negative(sin), a2, sin, cos, b2, 0.0, 0.0)


@registry.register_serializable(package="highlevel")
class RandomTranslation(_GeometricLayer):
    """Shift each image by ``height_factor * H`` rows and ``width_factor * W`` columns, drawn per image.

    A factor f gives shifts in [-f, f] of the size; (a, b) in [a, b] (within [-1, 1]).
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         data_format=data_format, **kwargs)
        label = f"RandomTranslation {self.name!r}"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _factor_pair(label, "height_factor", height_factor)
        self.width_lower, self.width_upper = _factor_pair(label, "width_factor", width_factor)

    def transform(self, shape, state):
        batch, height, width, _ = shape
        dy = ops.multiply(hl_random.uniform((batch,), state, self.height_lower, self.height_upper, stream=0), height)
        dx = ops.multiply(hl_random.uniform((batch,), state, self.width_lower, self.width_upper, stream=1), width)
        return _columns(1.0, 0.0, ops.negative(dx), 0.0, 1.0, ops.negative(dy), 0.0, 0.0)

    def get_config(self):
        return {**super().get_config(), "height_factor": _config_factor(self.height_factor),
                "width_factor": _config_factor(self.width_factor)}


@registry.register_serializable(package="highlevel")
class RandomZoom(_GeometricLayer):
    """Zoom each image about its centre: the sampled region is ``1 + factor`` times the image size.

    height_factor f: zoom in [1 - f, 1 + f] (negative values zoom in); (a, b): [1 + a, 1 + b].
    width_factor None keeps the aspect ratio (the height's zoom for both axes).
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         data_format=data_format, **kwargs)
        label = f"RandomZoom {self.name!r}"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _factor_pair(label, "height_factor", height_factor)
        if width_factor is not None:
            self.width_lower, self.width_upper = _factor_pair(label, "width_factor", width_factor)
        for bound in (self.height_lower,) + ((self.width_lower,) if width_factor is not None else ()):
            if bound <= -1.0:
                raise ValueError(f"{label}: factors must be > -1 (a zoom of 1 + factor > 0), got {bound}")

    def transform(self, shape, state):
        batch, height, width, _ = shape
        zoom_y = hl_random.uniform((batch,), state, 1.0 + self.height_lower, 1.0 + self.height_upper, stream=0)
        zoom_x = zoom_y if self.width_factor is None else \
            hl_random.uniform((batch,), state, 1.0 + self.width_lower, 1.0 + self.width_upper, stream=1)
        x_offset = ops.multiply(ops.subtract(1.0, zoom_x), (width - 1) / 2.0)
        y_offset = ops.multiply(ops.subtract(1.0, zoom_y), (height - 1) / 2.0)
        return _columns(zoom_x, 0.0, x_offset, 0.0, zoom_y, y_offset, 0.0, 0.0)

    def get_config(self):
        return {**super().get_config(), "height_factor": _config_factor(self.height_factor),
                "width_factor": _config_factor(self.width_factor)}


@registry.register_serializable(package="highlevel")
class RandomCrop(BaseRandomLayer):
    """A random ``height x width`` window of each image in training (its own offset per image);
    in inference, and for images smaller than the target, the largest centred window with the
    target's aspect ratio, resized (bilinear) to ``height x width``.
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        label = f"RandomCrop {self.name!r}"
        self.height = positive_int(label, "height", height)
        self.width = positive_int(label, "width", width)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{label}: data_format must be 'channels_last', got {data_format!r}")

    def inference(self, images, unbatched, inputs):
        if ops.dtype(images) != self.compute_dtype:
            images = ops.cast(images, self.compute_dtype)
        out = smart_resize(images, self.height, self.width)
        return ops.squeeze(out, 0) if unbatched else out

    def augment(self, images, state):
        batch, in_h, in_w, channels = ops.shape(images)
        if in_h < self.height or in_w < self.width:
            return smart_resize(images, self.height, self.width)
        top = hl_random.randint((batch,), state, 0, in_h - self.height + 1, dtype="int32", stream=0)
        left = hl_random.randint((batch,), state, 0, in_w - self.width + 1, dtype="int32", stream=1)
        rows = ops.add(ops.reshape(ops.add(top, ops.multiply(ops.arange(0, batch), in_h)), (-1, 1, 1)),
                       ops.reshape(ops.arange(0, self.height), (1, -1, 1)))
        cols = ops.add(ops.reshape(left, (-1, 1, 1)), ops.reshape(ops.arange(0, self.width), (1, 1, -1)))
        index = ops.reshape(ops.add(ops.multiply(rows, in_w), cols), (-1,))
        pixels = ops.take(ops.reshape(images, (-1, channels)), index, axis=0)
        return ops.reshape(pixels, (batch, self.height, self.width, channels))

    def compute_output_shape(self, input_shape):
        return with_size(check_image_shape(self, input_shape), self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


def _value_range(label, value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"{label}: value_range must be a pair (low, high), got value_range={value_range!r}")
    low, high = sorted(float(v) for v in value_range)
    return low, high


@registry.register_serializable(package="highlevel")
class RandomContrast(BaseRandomLayer):
    """``clip((x - mean) * c + mean, *value_range)`` with ``mean`` over each image's pixels (per
    channel) and ``c`` drawn per image in ``[1 - lower, 1 + upper]``.

    factor: f -> lower = upper = f; (lower, upper) otherwise. This is the
    range Keras documents (Keras 3.15's code draws from [1, 1 + f] for a single f).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        label = f"RandomContrast {self.name!r}"
        self.factor = factor
        pair = (factor, factor) if isinstance(factor, (int, float)) else factor
        if isinstance(factor, bool) or not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(
                isinstance(f, (int, float)) and not isinstance(f, bool) and -1 <= f <= 1 for f in pair) \
                or pair[0] + pair[1] < 0 or (not isinstance(factor, (tuple, list)) and factor < 0):
            raise ValueError(f"{label}: factor must be a number in [0, 1] or a pair (lower, upper) in [-1, 1] with "
                             f"1 - lower <= 1 + upper, got factor={factor!r}")
        self.lower, self.upper = float(pair[0]), float(pair[1])
        self.value_range = _value_range(label, value_range)

    def augment(self, images, state):
        batch = ops.shape(images)[0]
        contrast = hl_random.uniform((batch, 1, 1, 1), state, 1.0 - self.lower, 1.0 + self.upper)
        mean = ops.mean(images, axis=(1, 2), keepdims=True)
        out = ops.add(ops.multiply(ops.subtract(images, mean), contrast), mean)
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": _config_factor(self.factor),
                "value_range": list(self.value_range)}


@registry.register_serializable(package="highlevel")
class RandomBrightness(BaseRandomLayer):
    """``clip(x + delta, *value_range)`` with ``delta`` drawn per image in
    ``[lower, upper] * (value_range[1] - value_range[0])``.

    factor: f -> [-f, f]; (a, b) -> [a, b] (within [-1, 1]).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        label = f"RandomBrightness {self.name!r}"
        self.factor = factor
        self.lower, self.upper = _factor_pair(label, "factor", factor)
        self.value_range = _value_range(label, value_range)

    def augment(self, images, state):
        batch = ops.shape(images)[0]
        span = self.value_range[1] - self.value_range[0]
        delta = hl_random.uniform((batch, 1, 1, 1), state, self.lower * span, self.upper * span)
        return ops.clip(ops.add(images, delta), self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": _config_factor(self.factor),
                "value_range": list(self.value_range)}


__all__ = ["BaseRandomLayer", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation",
           "RandomTranslation", "RandomZoom", "rotation_transform"]
