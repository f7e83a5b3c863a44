"""``ModelCheckpoint``: save the model (or its weights) during training."""

from __future__ import annotations

import os
import warnings

from highlevel.callbacks.monitor_callback import MonitorCallback
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class ModelCheckpoint(MonitorCallback):
    """Save with ``model.save(path)`` (or ``model.save_weights(path)``) during ``fit`` (Keras semantics).

    filepath: a path or a template formatted with ``epoch`` (1-based), ``batch``
    (1-based, with an int ``save_freq``) and the logs, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.hl"``. save_best_only: save only when
    ``monitor`` improves (``mode`` "min"/"max"/"auto"); with a fixed filepath the file
    always holds the best model. initial_value_threshold: a value the monitored
    quantity must beat before the first save. save_freq: ``"epoch"`` or an int
    (every that many batches, counted across epochs; the running batch logs are then
    used). Writes are atomic (``model.save``'s own temp-file-and-rename).
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq <= 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self._batches_seen = 0
        self._since_save = 0
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        self._since_save = 0
        self._batches_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._since_save += 1
        if self._since_save >= self.save_freq:
            self._since_save = 0
            self._save(self._current_epoch, batch=batch + 1, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, batch=None, logs=logs)

    def _file_path(self, epoch, batch, logs) -> str:
        values = {key: value for key, value in (logs or {}).items() if isinstance(value, (int, float))}
        try:
            if batch is None or "batch" not in self.filepath:
                return self.filepath.format(epoch=epoch + 1, **values)
            return self.filepath.format(epoch=epoch + 1, batch=batch, **values)
        except KeyError as error:
            raise KeyError(f"ModelCheckpoint: failed to format filepath {self.filepath!r}: the key {error} is not "
                           f"in the logs (available: {', '.join(sorted(values)) or 'none'})") from None

    def _save(self, epoch, batch, logs):
        logs = dict(logs or {})
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with {self.monitor!r} available in "
                              f"the logs, skipping (available: {', '.join(sorted(logs))})", stacklevel=2)
                return
            if not self._is_improvement(float(current), self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to {float(current):.5f}, "
                      f"saving model to {path}")
            self.best = float(current)
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        method = "save_weights" if self.save_weights_only else "save"
        save = getattr(self.model, method, None)
        if save is None:
            raise NotImplementedError(f"ModelCheckpoint: the model has no {method}() method")
        save(path)

    def get_config(self):
        return {"filepath": self.filepath, "monitor": self.monitor, "verbose": self.verbose,
                "save_best_only": self.save_best_only, "save_weights_only": self.save_weights_only,
                "mode": self.mode, "save_freq": self.save_freq,
                "initial_value_threshold": self.initial_value_threshold}
