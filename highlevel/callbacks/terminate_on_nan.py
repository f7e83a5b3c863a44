"""``TerminateOnNaN``: stop training when the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from highlevel.callbacks.callback import Callback
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class TerminateOnNaN(Callback):
    """Check the running loss after every batch (a host sync per batch).

    raise_error False: print a message and set ``model.stop_training`` (callbacks still
    see ``on_train_end``); True: raise ``RuntimeError`` at once.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}: loss = {loss}; "
                                   f"terminating training")
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True
