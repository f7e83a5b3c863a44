"""``FileDataset``: a ``PyDataset`` over a list of files, loading each batch from disk when it is asked for.

The base of the datasets ``image_dataset_from_directory`` and ``text_dataset_from_directory``
return; a subclass says how to load a batch of files (``load_files``).
"""

from __future__ import annotations

import math

import numpy as np

from highlevel.utils.py_dataset import PyDataset

LABEL_MODES = ("int", "categorical", "binary", None)


def check_label_arguments(labels, label_mode, class_names, what):
    """Keras's rules for ``labels`` / ``label_mode`` / ``class_names``; returns ``(labels, label_mode)``
    with both ``None`` when either says "no labels"."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(f"labels must be 'inferred', None, or a list/tuple of integer labels (one per "
                             f"{what} file in sorted order), got {type(labels).__name__}")
        if class_names:
            raise ValueError(f"class_names can only be given with labels='inferred', got labels={labels!r}")
    if label_mode not in LABEL_MODES:
        raise ValueError(f'label_mode must be "int", "categorical", "binary" or None, got {label_mode!r}')
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def encode_labels(labels, label_mode, num_classes):
    """Integer labels ``(n,)`` -> the batch's ``y``: ``int32 (n,)`` for "int", ``float32 (n, 1)`` for "binary",
    ``float32 (n, num_classes)`` one-hot for "categorical"."""
    if label_mode == "int":
        return labels.astype(np.int32)
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    one_hot = np.zeros((len(labels), num_classes), dtype=np.float32)
    one_hot[np.arange(len(labels)), labels] = 1.0
    return one_hot


class FileDataset(PyDataset):
    """Batches ``x`` or ``(x, y)`` read from ``file_paths`` batch by batch (nothing is held in memory).

    file_paths: ``n`` paths, in the first epoch's order.
    labels: integer labels ``(n,)`` or ``None``; label_mode: how ``y`` is encoded (see
        ``encode_labels``), ``None`` for batches of ``x`` alone.
    class_names: the names of the label values (``class_names[i]`` is label ``i``).
    batch_size: samples per batch; ``None`` makes each item one unbatched sample.
    shuffle / seed: when ``shuffle``, ``on_epoch_end`` draws a new order from
        ``numpy.random.default_rng(seed)`` (the first epoch keeps ``file_paths``' order).
    """

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size, shuffle=False, seed=None,
                 **py_dataset_kwargs):
        super().__init__(**py_dataset_kwargs)
        self.file_paths = list(file_paths)
        self.class_names = class_names
        self.batch_size = batch_size
        self._labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self._label_mode = label_mode
        self._num_classes = len(class_names) if class_names else 0
        self._order = np.arange(len(self.file_paths))
        self._rng = np.random.default_rng(seed) if shuffle else None

    def load_files(self, paths):
        """The samples stacked on a new first axis: ``(len(paths), ...)``. Subclasses implement it."""
        raise NotImplementedError

    def __len__(self):
        if self.batch_size is None:
            return len(self.file_paths)
        return math.ceil(len(self.file_paths) / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} is out of range for a dataset of {len(self)} batches")
        index %= len(self)
        if self.batch_size is None:
            rows = self._order[index:index + 1]
        else:
            rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.load_files([self.file_paths[row] for row in rows])
        y = None
        if self._label_mode is not None:
            y = encode_labels(self._labels[rows], self._label_mode, self._num_classes)
        if self.batch_size is None:  # one sample: drop the batch axis
            x = x[0]
            y = None if y is None else y[0]
        return x if y is None else (x, y)

    def on_epoch_end(self):
        if self._rng is not None:
            self._order = self._rng.permutation(len(self.file_paths))
