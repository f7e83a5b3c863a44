"""``hl.utils.image_dataset_from_directory``: a folder of class sub-folders of images -> a dataset of batches.

Keras's function with the same arguments and the same file order; it returns an
``ImageDirectoryDataset`` (a ``PyDataset``) that decodes each batch's images only when the
batch is asked for, instead of Keras's ``tf.data.Dataset``. Decoding uses Pillow; resizing
reproduces ``tf.image.resize`` in NumPy (``highlevel.utils.image_resize``).
"""

from __future__ import annotations

import numpy as np

from highlevel.utils import directory_index, image_resize
from highlevel.utils.file_dataset import FileDataset, check_label_arguments
from highlevel.utils.image_loading import IMAGE_FORMATS, load_image

_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


class ImageDirectoryDataset(FileDataset):
    """Batches of images ``float32 (batch, height, width, channels)`` (or channels first), with labels.

    Built by ``image_dataset_from_directory``; ``class_names`` and ``file_paths`` are
    attributes, as on Keras's dataset. Images are read from disk batch by batch.
    """

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size, shuffle, seed, image_size,
                 num_channels, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, data_format):
        super().__init__(file_paths, labels, label_mode, class_names, batch_size, shuffle=shuffle, seed=seed)
        self.image_size = tuple(image_size)
        self._num_channels = num_channels
        self._interpolation = interpolation
        self._crop = crop_to_aspect_ratio
        self._pad = pad_to_aspect_ratio
        self._data_format = data_format

    def load_image(self, path):
        """One file -> ``float32 (height, width, channels)`` at ``image_size`` (channels first if asked)."""
        pixels = load_image(path, self._num_channels)
        if self._crop:
            pixels = image_resize.crop_to_aspect_ratio(pixels, self.image_size)
        if self._pad:
            image = image_resize.resize_with_pad(pixels, self.image_size, self._interpolation)
        else:
            image = image_resize.resize(pixels, self.image_size, self._interpolation)
        if self._data_format == "channels_first":
            image = np.transpose(image, (2, 0, 1))
        return image

    def load_files(self, paths):
        return np.stack([self.load_image(path) for path in paths])


def _check_image_arguments(color_mode, image_size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                           data_format, batch_size):
    """Validate the image-specific arguments; returns ``(num_channels, image_size, interpolation, data_format)``."""
    if color_mode not in _CHANNELS:
        raise ValueError(f'color_mode must be "grayscale", "rgb" or "rgba", got {color_mode!r}')
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    if (not isinstance(image_size, (list, tuple)) or len(image_size) != 2
            or not all(isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in image_size)):
        raise ValueError(f"image_size must be a tuple of 2 positive ints (height, width), got {image_size!r}")
    if not isinstance(interpolation, str) or interpolation.lower() not in image_resize.INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {image_resize.INTERPOLATIONS}, got {interpolation!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f'data_format must be "channels_last", "channels_first" or None, got {data_format!r}')
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    return _CHANNELS[color_mode], tuple(image_size), interpolation.lower(), data_format


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 verbose=True):
    """A dataset of image batches from ``directory``, as ``keras.utils.image_dataset_from_directory``.

    directory: with ``labels="inferred"``, one sub-folder per class (``class_a/``,
        ``class_b/``, ...; labels 0, 1, ... in sorted folder order, or in ``class_names``'
        order). Files ``.bmp .gif .jpeg .jpg .png`` are found recursively.
    labels: ``"inferred"``, ``None`` or a list of int labels in sorted file-path order.
    label_mode: ``"int"`` (``int32 (batch,)``), ``"categorical"`` (one-hot ``float32
        (batch, num_classes)``), ``"binary"`` (``float32 (batch, 1)``, 2 classes) or ``None``.
    color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"`` -> 1, 3 or 4 channels.
    batch_size: images per batch; ``None`` yields single images.
    image_size: ``(height, width)`` every image is resized to.
    shuffle / seed: the file order is shuffled with the seed exactly as Keras does (the
        ``file_paths`` attribute lists the same files in the same order); each later epoch
        is reshuffled from ``seed``. Keras also reshuffles the first epoch within a buffer
        with TensorFlow's generator, which cannot be reproduced without TensorFlow.
    validation_split / subset: the last ``int(validation_split * n)`` files form the
        validation subset; ``subset="both"`` returns ``(training, validation)``.
    interpolation: ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"area"``, ``"lanczos3"``,
        ``"lanczos5"``, ``"gaussian"`` or ``"mitchellcubic"``: ``tf.image.resize``'s arithmetic.
    crop_to_aspect_ratio / pad_to_aspect_ratio: keep the aspect ratio by a centred crop, or
        by padding with zeros.
    data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    Returns an ``ImageDirectoryDataset`` yielding ``(images, labels)`` (or ``images``),
    images ``float32 (batch, height, width, channels)`` in 0..255; or a pair of them for
    ``subset="both"``.
    """
    labels, label_mode = check_label_arguments(labels, label_mode, class_names, "image")
    num_channels, image_size, interpolation, data_format = _check_image_arguments(
        color_mode, image_size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, data_format, batch_size)

    def build(paths, labels, class_names, subset_shuffle, seed):
        return ImageDirectoryDataset(paths, labels, label_mode, class_names, batch_size, subset_shuffle, seed,
                                     image_size, num_channels, interpolation, crop_to_aspect_ratio,
                                     pad_to_aspect_ratio, data_format)

    return directory_index.subset_datasets(directory, labels, label_mode, class_names, IMAGE_FORMATS, "images",
                                           validation_split, subset, shuffle, seed, follow_links, verbose, build)


__all__ = ["image_dataset_from_directory", "ImageDirectoryDataset"]
