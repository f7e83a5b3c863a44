"""Decoding image files into NumPy arrays through Pillow (imported lazily: an optional dependency).

Pixels match TensorFlow's decoders (what Keras uses) exactly for PNG, BMP and GIF, and for
JPEG up to the IDCT: Pillow decodes with libjpeg's accurate integer IDCT (TF's
``dct_method="INTEGER_ACCURATE"``), while TF's default is the fast one, a few levels off.
"""

from __future__ import annotations

import numpy as np

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
# libpng's RGB -> gray weights in 1/32768 (png_set_rgb_to_gray with 0.299, 0.587): TF's PNG decoder uses them.
_LIBPNG_GRAY_WEIGHTS = np.array([9797, 19234, 3737], dtype=np.uint32)


def _pillow():
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError('reading images needs Pillow: pip install "highlevel[images]"') from error
    return Image


def _png_gray(image):
    """A colour PNG as gray levels the way libpng computes them (truncated fixed point)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    return ((rgb @ _LIBPNG_GRAY_WEIGHTS) >> 15).astype(np.uint8)


def load_image(path, num_channels):
    """The first frame of the image at ``path`` as ``uint8 (height, width, num_channels)``.

    num_channels: 1 (grayscale), 3 (RGB; an alpha channel is dropped, as TF's decoder does)
    or 4 (RGBA; opaque alpha added where missing). Colour to gray: a JPEG's own luma
    channel and libpng's weights for PNG (as TF); other formats use Pillow's ITU-R 601-2
    luma, which can differ from TF by one level.
    """
    image_module = _pillow()
    with image_module.open(path) as image:
        image.seek(0)  # animated GIFs: the first frame, as Keras (expand_animations=False)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit grayscale: keep the top 8 bits, as TF's uint8 decode does.
            image = image_module.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8), mode="L")
        gray_wanted = num_channels == 1 and image.mode not in ("L", "LA", "1")
        if gray_wanted and image.format == "JPEG":
            image.draft("L", image.size)  # libjpeg outputs its luma channel, as TF's decoder does
        if gray_wanted and image.format == "PNG":
            pixels = _png_gray(image)
        else:
            if image.mode != _MODES[num_channels]:
                image = image.convert(_MODES[num_channels])
            pixels = np.asarray(image, dtype=np.uint8)
    return pixels.reshape(pixels.shape[0], pixels.shape[1], num_channels)
