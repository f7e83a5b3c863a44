"""``CSVLogger``: one CSV row per epoch."""

from __future__ import annotations

import csv
import os

import numpy as np

from highlevel.callbacks.callback import Callback
from highlevel.saving import registry


def _cell(value):
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return "[" + ", ".join(str(v) for v in value.ravel().tolist()) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return value


@registry.register_serializable(package="highlevel")
class CSVLogger(Callback):
    """Write ``epoch`` and every log value to ``filename`` at the end of each epoch.

    Columns: ``epoch`` then the log names sorted (when the first epoch has no
    validation values, ``val_`` columns are reserved for every name, as Keras does);
    missing values are written as ``NA``. append: add to an existing file (the
    header is written only if the file is empty). The file is flushed every row.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self._file = None
        self._writer = None
        self._write_header = True

    def on_train_begin(self, logs=None):
        if self.append:
            exists = os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
            self._write_header = not exists
            mode = "a"
        else:
            self._write_header = True
            mode = "w"
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._file = open(self.filename, mode, newline="", encoding="utf-8")
        self._writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                          lineterminator="\n", extrasaction="ignore")
            if self._write_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update({key: _cell(logs.get(key, "NA")) for key in self.keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._writer = None
