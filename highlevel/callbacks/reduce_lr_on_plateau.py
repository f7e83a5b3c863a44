"""``ReduceLROnPlateau``: lower the learning rate when a monitored value stalls."""

from __future__ import annotations

import numpy as np

from highlevel.callbacks.monitor_callback import MonitorCallback
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    min_delta: the smallest change that counts; cooldown: epochs to wait after a
    reduction before counting again; min_lr: the floor. The rate in use is logged as
    ``"learning_rate"``.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got factor={factor}")
        if kwargs:
            raise ValueError(f"ReduceLROnPlateau: unknown arguments {sorted(kwargs)}")
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._monitored(logs, "learning rate reduction")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def get_config(self):
        return {"monitor": self.monitor, "factor": self.factor, "patience": self.patience, "verbose": self.verbose,
                "mode": self.mode, "min_delta": self.min_delta, "cooldown": self.cooldown, "min_lr": self.min_lr}
