"""``LearningRateScheduler``: set the learning rate at the start of every epoch."""

from __future__ import annotations

import inspect

from highlevel.callbacks.callback import Callback
from highlevel.saving import registry


def _accepts_two_arguments(fn) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


@registry.register_serializable(package="highlevel")
class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new lr`` (or the older ``schedule(epoch)``), applied at
    ``on_epoch_begin``; the rate in use is logged as ``"learning_rate"``.

    The optimizer keeps its rate in a Variable, so changing it never retraces the
    compiled step.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError("LearningRateScheduler: the model's optimizer has no learning_rate")
        current = float(optimizer.learning_rate)
        if _accepts_two_arguments(self.schedule):
            new = self.schedule(epoch, current)
        else:
            new = self.schedule(epoch)
        try:
            new = float(new)
        except (TypeError, ValueError):
            raise ValueError(f"LearningRateScheduler: the schedule must return a float, got {new!r}") from None
        optimizer.learning_rate = new
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
