"""``History``: records every epoch's logs; ``fit`` returns it."""

from __future__ import annotations

from highlevel.callbacks.callback import Callback
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class History(Callback):
    """``history.history``: ``{log name: [value per epoch]}``; ``history.epoch``: epoch indices.

    Added to every ``fit`` automatically and also set as ``model.history``.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
