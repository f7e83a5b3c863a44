"""``ProgbarLogger``: progress of fit/evaluate/predict with tqdm.

verbose 0: silent; 1: a live bar per epoch (and for a standalone evaluate/predict)
showing the running loss and metrics; 2: one line per epoch. Batch logs are backend
tensors; the bar reads them (a host sync) at most every ``interval`` seconds, so a
fast loop is not slowed by printing.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from highlevel.callbacks.callback import Callback
from highlevel.saving import registry


def format_logs(logs) -> str:
    """``"loss: 0.1234 - accuracy: 0.9000"`` from scalar logs (arrays and non-numbers are skipped)."""
    from highlevel.trainers.trainer import logs_to_python

    parts = []
    for key, value in logs_to_python(logs).items():
        if isinstance(value, np.ndarray):
            continue
        parts.append(f"{key}: {value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{key}: {value:.4f}")
    return " - ".join(parts)


@registry.register_serializable(package="highlevel")
class ProgbarLogger(Callback):
    """Progress bars via tqdm; the verbosity comes from ``fit(verbose=...)``.

    interval: minimum seconds between refreshes of the running metrics.
    file: where to write (default ``sys.stdout``).
    """

    _accepts_tensor_logs = True

    def __init__(self, interval=0.1, file=None):
        super().__init__()
        self.interval = float(interval)
        self.file = file
        self.verbose = 1
        self.epochs = 1
        self._in_fit = False
        self._bar = None
        self._seen = 0
        self._last = 0.0
        self._start = 0.0

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)

    @property
    def _out(self):
        return self.file if self.file is not None else sys.stdout

    # ------------------------------------------------------------ bar helpers

    def _open(self, description, unit="step"):
        self._seen, self._start, self._last = 0, time.monotonic(), time.monotonic()
        if self.verbose != 1:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.params.get("steps") if self.params else None, desc=description, unit=unit,
                         file=self._out, leave=True, dynamic_ncols=True, mininterval=self.interval)

    def _advance(self, batch, logs):
        self._seen = batch + 1
        if self._bar is None:
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._bar.update(self._seen - self._bar.n)
            if logs and "outputs" not in logs:
                self._bar.set_postfix_str(format_logs(logs), refresh=True)

    def _close(self, description, logs):
        text = format_logs(logs) if logs else ""
        if self._bar is not None:
            self._bar.update(self._seen - self._bar.n)
            if text:
                self._bar.set_postfix_str(text, refresh=False)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            elapsed = time.monotonic() - self._start
            per_step = elapsed / max(self._seen, 1)
            timing = f"{self._seen} steps - {elapsed:.1f}s - {per_step * 1e3:.1f}ms/step"
            print(" - ".join(p for p in (description, timing, text) if p), file=self._out, flush=True)

    # ------------------------------------------------------------------- fit

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._open(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._advance(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._close(f"Epoch {epoch + 1}/{self.epochs}", logs)

    # ------------------------------------------------------- evaluate/predict

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._open("Evaluate")

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._advance(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._close("Evaluate", logs)

    def on_predict_begin(self, logs=None):
        self._open("Predict")

    def on_predict_batch_end(self, batch, logs=None):
        self._advance(batch, None)

    def on_predict_end(self, logs=None):
        self._close("Predict", None)
