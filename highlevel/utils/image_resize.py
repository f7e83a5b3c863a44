"""Resizing images in NumPy the way ``tf.image.resize`` does (``antialias=False``), so that
``image_dataset_from_directory`` gives Keras's pixels without TensorFlow.

Every method TF offers is separable: resizing is ``W_rows @ image @ W_cols.T`` per channel,
with a ``(out, in)`` weight matrix per axis built here from TF's sampling rules (half-pixel
centres). Values are not clipped, as in TF (bicubic/lanczos may overshoot 0..255).
"""

from __future__ import annotations

import functools
import math

import numpy as np

INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")


def _source_positions(in_size, out_size):
    """Half-pixel-centre source coordinates of the output pixels, in float32 as TF computes them."""
    scale = np.float32(in_size) / np.float32(out_size)
    return (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), scale


def _bilinear_weights(in_size, out_size):
    source, _ = _source_positions(in_size, out_size)
    floor = np.floor(source)
    lower = np.maximum(floor, 0).astype(np.int64)
    upper = np.minimum(np.ceil(source), in_size - 1).astype(np.int64)
    fraction = (source - floor).astype(np.float64)
    weights = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(weights, (rows, lower), 1.0 - fraction)
    np.add.at(weights, (rows, upper), fraction)
    return weights


def _nearest_weights(in_size, out_size):
    scale = np.float32(in_size) / np.float32(out_size)
    source = np.floor((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale).astype(np.int64)
    weights = np.zeros((out_size, in_size))
    weights[np.arange(out_size), np.clip(source, 0, in_size - 1)] = 1.0
    return weights


def _keys_cubic(distance, a=-0.5):
    """Keys' cubic convolution kernel (a = -0.5), TF's bicubic kernel."""
    distance = np.abs(distance)
    near = ((a + 2) * distance - (a + 3)) * distance * distance + 1
    far = ((a * distance - 5 * a) * distance + 8 * a) * distance - 4 * a
    return np.where(distance <= 1, near, np.where(distance < 2, far, 0.0))


def _bicubic_weights(in_size, out_size):
    # TF reads the kernel from a 1024-entry table: the fractional offset is rounded to 1/1024.
    source, _ = _source_positions(in_size, out_size)
    start = np.floor(source).astype(np.int64)
    offset = np.rint((source - start) * np.float32(1024)).astype(np.int64) / 1024.0
    weights = np.zeros((out_size, in_size))
    for tap in (-1, 0, 1, 2):
        position = start + tap
        inside = (position >= 0) & (position < in_size)  # taps outside the image get weight 0 ...
        tap_weight = _keys_cubic(offset - tap)
        rows = np.flatnonzero(inside)
        np.add.at(weights, (rows, position[inside]), tap_weight[inside])
    return weights / weights.sum(axis=1, keepdims=True)  # ... and the rest are renormalised


def _area_weights(in_size, out_size):
    # Each output pixel averages the input span [i * scale, (i + 1) * scale), partial pixels pro rata.
    scale = in_size / out_size
    weights = np.zeros((out_size, in_size))
    for row in range(out_size):
        begin, end = row * scale, (row + 1) * scale
        for pixel in range(math.floor(begin), min(math.ceil(end), in_size)):
            weights[row, pixel] = (min(pixel + 1, end) - max(pixel, begin)) / scale
    return weights


def _lanczos(radius):
    def kernel(distance):
        distance = np.abs(distance)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = radius * np.sin(np.pi * distance) * np.sin(np.pi * distance / radius) / (np.pi * distance) ** 2
        return np.where(distance > radius, 0.0, np.where(distance <= 1e-3, 1.0, value))
    return kernel, radius


def _gaussian(distance):
    sigma = 1.5 / 3.0
    distance = np.abs(distance)
    return np.where(distance < 1.5, np.exp(-distance * distance / (2 * sigma * sigma)), 0.0)


def _mitchell_cubic(distance):
    distance = np.abs(distance)
    near = (7.0 / 6.0 * distance - 2.0) * distance * distance + 8.0 / 9.0
    far = ((-7.0 / 18.0 * distance + 2.0) * distance - 10.0 / 3.0) * distance + 16.0 / 9.0
    return np.where(distance < 1, near, np.where(distance < 2, far, 0.0))


_KERNELS = {"lanczos3": _lanczos(3), "lanczos5": _lanczos(5), "gaussian": (_gaussian, 1.5),
            "mitchellcubic": (_mitchell_cubic, 2.0)}


def _kernel_weights(in_size, out_size, method):
    """TF's ``scale_and_translate`` sampling without antialiasing: the kernel is not widened when shrinking."""
    kernel, radius = _KERNELS[method]
    # Positions in float32 as TF computes them: a tap exactly at the kernel's edge is in or out by one ulp.
    inverse_scale = np.float32(1.0) / (np.float32(out_size) / np.float32(in_size))
    weights = np.zeros((out_size, in_size))
    for row in range(out_size):
        centre = np.float32(row + 0.5) * inverse_scale
        first = min(max(math.ceil(centre - np.float32(radius) - np.float32(0.5)), 0), in_size - 1)
        last = min(max(math.floor(centre + np.float32(radius) - np.float32(0.5)), 0), in_size - 1)
        pixels = np.arange(first, last + 1)
        tap = kernel((pixels.astype(np.float32) + np.float32(0.5) - centre).astype(np.float64))
        total = tap.sum()
        weights[row, pixels] = tap / total if abs(total) > 0 else tap
    return weights


@functools.lru_cache(maxsize=64)
def axis_weights(in_size, out_size, method):
    """The ``(out_size, in_size)`` float32 matrix (read-only, cached: a dataset's images often share a
    size) that resamples one image axis with ``method``."""
    weights = _axis_weights(in_size, out_size, method).astype(np.float32)
    weights.flags.writeable = False
    return weights


def _axis_weights(in_size, out_size, method):
    if method == "bilinear":
        return _bilinear_weights(in_size, out_size)
    if method == "nearest":
        return _nearest_weights(in_size, out_size)
    if method == "bicubic":
        return _bicubic_weights(in_size, out_size)
    if method == "area":
        return _area_weights(in_size, out_size)
    if method in _KERNELS:
        return _kernel_weights(in_size, out_size, method)
    raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {method!r}")


def resize(image, size, method="bilinear"):
    """``image (h, w, c)`` -> ``float32 (size[0], size[1], c)``, as ``tf.image.resize(image, size, method)``."""
    height, width = image.shape[:2]
    rows = axis_weights(height, size[0], method)
    cols = axis_weights(width, size[1], method)
    return np.einsum("ih,hwc,jw->ijc", rows, image.astype(np.float32), cols, optimize=True).astype(np.float32)


def crop_to_aspect_ratio(image, size):
    """The largest centred window of ``image (h, w, c)`` with the aspect ratio of ``size`` (Keras's
    ``smart_resize`` crop)."""
    height, width = image.shape[:2]
    crop_height = max(min(height, int(float(width * size[0]) / size[1])), 1)
    crop_width = max(min(width, int(float(height * size[1]) / size[0])), 1)
    top = int(float(height - crop_height) / 2)
    left = int(float(width - crop_width) / 2)
    return image[top:top + crop_height, left:left + crop_width]


def resize_with_pad(image, size, method="bilinear"):
    """Resize keeping the aspect ratio, then pad with zeros (centred) to ``size``: ``tf.image.resize_with_pad``."""
    # float32 arithmetic and padding from the unrounded size, as TF does.
    height, width = np.float32(image.shape[0]), np.float32(image.shape[1])
    target_height, target_width = np.float32(size[0]), np.float32(size[1])
    ratio = max(width / target_width, height / target_height)
    inner_height, inner_width = int(np.floor(height / ratio)), int(np.floor(width / ratio))
    if inner_height < 1 or inner_width < 1:
        raise ValueError(f"pad_to_aspect_ratio: an image of shape {image.shape[:2]} shrinks to "
                         f"{inner_height}x{inner_width} pixels inside image_size={tuple(size)}")
    top = max(0, int(np.floor((target_height - height / ratio) / 2)))
    left = max(0, int(np.floor((target_width - width / ratio) / 2)))
    padded = np.zeros((size[0], size[1], image.shape[2]), dtype=np.float32)
    padded[top:top + inner_height, left:left + inner_width] = resize(image, (inner_height, inner_width), method)
    return padded
