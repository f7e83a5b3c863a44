"""Deterministic image layers: ``Resizing`` and ``CenterCrop`` (channels_last, Keras 3 arguments).

Images are ``(batch, height, width, channels)`` or unbatched ``(height, width, channels)``.
Resampling is the protocol's ``resize`` op (TensorFlow's half-pixel rule, antialias off),
so every backend returns the same values as ``keras.ops.image.resize``.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.layer import Layer
from highlevel.saving import registry

INTERPOLATIONS = ("bilinear", "nearest")


def check_image_rank(layer, inputs):
    """``(rank 4 tensor, unbatched?)``; a ValueError naming the layer for another rank."""
    shape = tuple(ops.shape(inputs))
    if len(shape) not in (3, 4):
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected images of rank 3 (height, width, "
                         f"channels) or 4 (batch, height, width, channels), got shape {shape}")
    return (ops.expand_dims(inputs, 0), True) if len(shape) == 3 else (inputs, False)


def check_image_shape(layer, input_shape):
    input_shape = tuple(input_shape)
    if len(input_shape) not in (3, 4):
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected images of rank 3 (height, width, "
                         f"channels) or 4 (batch, height, width, channels), got shape {input_shape}")
    return input_shape


def with_size(input_shape, height, width):
    """``input_shape`` with its two spatial dims replaced."""
    return input_shape[:-3] + (height, width, input_shape[-1])


def positive_int(layer_name, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer_name}: {name} must be a positive int, got {name}={value!r}")
    return value


def crop_to_aspect_ratio(images, height, width):
    """The centred window of rank-4 ``images`` with the aspect ratio of ``height x width`` (as Keras)."""
    _, in_h, in_w, _ = ops.shape(images)
    crop_h = max(min(in_h, int(float(in_w * height) / width)), 1)
    crop_w = max(min(in_w, int(float(in_h * width) / height)), 1)
    top, left = int(float(in_h - crop_h) / 2), int(float(in_w - crop_w) / 2)
    if (crop_h, crop_w) == (in_h, in_w):
        return images
    return ops.slice(images, (0, top, left, 0), (-1, crop_h, crop_w, -1))


def pad_to_aspect_ratio(images, height, width, fill_value):
    """``images`` padded (centred, with ``fill_value``) towards the aspect ratio of ``height x width``."""
    _, in_h, in_w, _ = ops.shape(images)
    pad_h = max(in_h, int(float(in_w * height) / width))
    pad_w = max(in_w, int(float(in_h * width) / height))
    top, left = int(float(pad_h - in_h) / 2), int(float(pad_w - in_w) / 2)
    if top == 0 and left == 0:
        return images
    # The same amount on both sides, as Keras (an odd remainder is dropped, not padded after).
    return ops.pad(images, ((0, 0), (top, top), (left, left), (0, 0)), constant_values=fill_value)


def smart_resize(images, height, width, interpolation="bilinear"):
    """Crop rank-4 ``images`` to the target aspect ratio, then resize (Keras's ``smart_resize``)."""
    images = crop_to_aspect_ratio(images, height, width)
    if tuple(ops.shape(images)[1:3]) == (height, width):
        return images
    return ops.resize(images, (height, width), interpolation)


@registry.register_serializable(package="highlevel")
class Resizing(Layer):
    """Resize images to ``(height, width)``: ``(..., H, W, C)`` -> ``(..., height, width, C)``.

    interpolation: ``"bilinear"`` or ``"nearest"``. crop_to_aspect_ratio: first take the
    largest centred window with the target aspect ratio; pad_to_aspect_ratio: first pad
    (centred, with ``fill_value``) to it. Values as ``keras.ops.image.resize`` (antialias off).
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        label = f"Resizing {self.name!r}"
        self.height = positive_int(label, "height", height)
        self.width = positive_int(label, "width", width)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{label}: interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{label}: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
        if fill_mode != "constant":
            raise ValueError(f"{label}: fill_mode must be 'constant', got {fill_mode!r}")
        if antialias:
            raise ValueError(f"{label}: antialias=True is not supported (expected False)")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{label}: data_format must be 'channels_last', got {data_format!r}")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)

    def call(self, inputs):
        images, unbatched = check_image_rank(self, inputs)
        if ops.dtype(images) != self.compute_dtype:
            images = ops.cast(images, self.compute_dtype)
        if self.crop_to_aspect_ratio:
            images = crop_to_aspect_ratio(images, self.height, self.width)
        elif self.pad_to_aspect_ratio:
            images = pad_to_aspect_ratio(images, self.height, self.width, self.fill_value)
        out = ops.resize(images, (self.height, self.width), self.interpolation)
        return ops.squeeze(out, 0) if unbatched else out

    def compute_output_shape(self, input_shape):
        return with_size(check_image_shape(self, input_shape), self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value}


@registry.register_serializable(package="highlevel")
class CenterCrop(Layer):
    """The central ``height x width`` window: ``(..., H, W, C)`` -> ``(..., height, width, C)``.

    An image smaller than the target is cropped to the target's aspect ratio and resized
    up (bilinear), as Keras does.
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        label = f"CenterCrop {self.name!r}"
        self.height = positive_int(label, "height", height)
        self.width = positive_int(label, "width", width)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{label}: data_format must be 'channels_last', got {data_format!r}")

    def call(self, inputs):
        images, unbatched = check_image_rank(self, inputs)
        if ops.dtype(images) != self.compute_dtype:
            images = ops.cast(images, self.compute_dtype)
        _, in_h, in_w, _ = ops.shape(images)
        if in_h >= self.height and in_w >= self.width:
            top, left = (in_h - self.height) // 2, (in_w - self.width) // 2
            out = ops.slice(images, (0, top, left, 0), (-1, self.height, self.width, -1))
        else:
            out = smart_resize(images, self.height, self.width)
        return ops.squeeze(out, 0) if unbatched else out

    def compute_output_shape(self, input_shape):
        return with_size(check_image_shape(self, input_shape), self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
