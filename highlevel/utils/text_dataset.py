"""``hl.utils.text_dataset_from_directory``: a folder of class sub-folders of ``.txt`` files -> batches of strings.

Keras's function with the same arguments and file order; it returns a ``TextDirectoryDataset``
(a ``PyDataset``) that reads each batch's files only when the batch is asked for.
"""

from __future__ import annotations

import numpy as np

from highlevel.utils import directory_index
from highlevel.utils.file_dataset import FileDataset, check_label_arguments

TEXT_FORMATS = (".txt",)


class TextDirectoryDataset(FileDataset):
    """Batches of texts — a NumPy array of Python ``str`` (dtype ``object``), shape ``(batch,)`` — with labels.

    max_length: keep at most this many characters of each file (``None``: all).
    """

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size, shuffle, seed, max_length):
        super().__init__(file_paths, labels, label_mode, class_names, batch_size, shuffle=shuffle, seed=seed)
        self.max_length = max_length

    def load_text(self, path):
        with open(path, encoding="utf-8") as file:
            text = file.read()
        return text if self.max_length is None else text[:self.max_length]

    def load_files(self, paths):
        texts = np.empty(len(paths), dtype=object)  # filled one by one: np.array would make a fixed-width str array
        for row, path in enumerate(paths):
            texts[row] = self.load_text(path)
        return texts


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True):
    """A dataset of text batches from ``directory``, as ``keras.utils.text_dataset_from_directory``.

    directory: with ``labels="inferred"``, one sub-folder per class holding ``.txt`` files
        (found recursively); labels 0, 1, ... in sorted folder order (or ``class_names``' order).
    labels / label_mode / class_names / shuffle / seed / validation_split / subset /
        follow_links / verbose: as in ``image_dataset_from_directory`` (the same file order
        as Keras for the same seed; ``subset="both"`` returns ``(training, validation)``).
    batch_size: texts per batch; ``None`` yields single texts.
    max_length: keep at most this many characters of each text. (Keras's TensorFlow path
        counts bytes; for ASCII text the two agree.)
    Returns a ``TextDirectoryDataset`` yielding ``(texts, labels)`` (or ``texts``): texts a
    NumPy ``object`` array of ``str`` ``(batch,)``, decoded as UTF-8 (Keras yields bytes).
    """
    labels, label_mode = check_label_arguments(labels, label_mode, class_names, "text")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or max_length < 0):
        raise ValueError(f"max_length must be a non-negative int or None, got {max_length!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")

    def build(paths, labels, class_names, subset_shuffle, seed):
        return TextDirectoryDataset(paths, labels, label_mode, class_names, batch_size, subset_shuffle, seed,
                                    max_length)

    return directory_index.subset_datasets(directory, labels, label_mode, class_names, TEXT_FORMATS,
                                           "text files", validation_split, subset, shuffle, seed, follow_links,
                                           verbose, build)


__all__ = ["text_dataset_from_directory", "TextDirectoryDataset"]
