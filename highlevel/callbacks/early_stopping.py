"""``EarlyStopping``: stop training when a monitored value stops improving."""

from __future__ import annotations

from highlevel.callbacks.monitor_callback import MonitorCallback
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class EarlyStopping(MonitorCallback):
    """Stop after ``patience`` epochs without an improvement of ``monitor`` (Keras semantics).

    min_delta: the smallest change that counts as an improvement. baseline: training
    stops unless the value beats it within ``patience`` epochs. restore_best_weights:
    at the end of training, load the weights of the best epoch. start_from_epoch:
    epochs to ignore at the start (warm-up). ``stopped_epoch`` and ``best_epoch`` are
    kept for inspection.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, baseline=baseline, min_delta=min_delta)
        self.patience = int(patience)
        self.verbose = verbose
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self._reset()   # an instance can serve several fit() calls

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitored(logs, "early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()   # the first watched epoch is the best so far
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # The wait restarts only when the value also beats the baseline.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_config(self):
        return {"monitor": self.monitor, "min_delta": self.min_delta, "patience": self.patience,
                "verbose": self.verbose, "mode": self.mode, "baseline": self.baseline,
                "restore_best_weights": self.restore_best_weights, "start_from_epoch": self.start_from_epoch}
