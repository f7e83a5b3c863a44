"""``MonitorCallback``: the shared "is this value an improvement?" logic of
EarlyStopping and ReduceLROnPlateau."""

from __future__ import annotations

import operator
import warnings

from highlevel.callbacks.callback import Callback

# Metrics to maximize / minimize when mode="auto" and the metric object gives no direction.
_UP = ("accuracy", "acc", "auc", "precision", "recall", "f1_score", "fbeta_score", "top_k", "iou", "r2_score",
       "cosine_similarity")
_DOWN = ("loss", "error", "mse", "mae", "mape", "msle", "rmse", "crossentropy", "hinge", "divergence", "logcosh",
         "poisson", "huber")


def metric_direction(model, name: str):
    """``"up"``, ``"down"`` or ``None`` for the log ``name`` (a ``val_`` prefix is ignored)."""
    base = name[4:] if name.startswith("val_") else name
    if base == "loss" or base.endswith("_loss"):
        return "down"
    named = getattr(model, "_named_metrics", None)
    for log_name, metric in (named() if callable(named) else []):
        if log_name == base:
            direction = getattr(metric, "_direction", None) or getattr(metric, "direction", None)
            if direction in ("up", "down"):
                return direction
    lowered = base.lower()
    if any(token in lowered for token in _DOWN):
        return "down"
    if any(token in lowered for token in _UP):
        return "up"
    return None


class MonitorCallback(Callback):
    """Tracks the best value of ``monitor``; ``mode`` "min", "max" or "auto" (from the metric)."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0.0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__}: mode {mode!r} is unknown, using 'auto'", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.baseline = baseline
        self.best = baseline
        self.min_delta = abs(float(min_delta))
        self._better = None

    def _resolve_mode(self):
        mode = self.mode
        if mode == "auto":
            direction = metric_direction(self.model, self.monitor)
            if direction is None:
                raise ValueError(f"{type(self).__name__}: cannot tell whether {self.monitor!r} should be minimized or "
                                 f"maximized; pass mode='min' or mode='max'")
            mode = "max" if direction == "up" else "min"
        self._better = operator.gt if mode == "max" else operator.lt
        self._sign = 1.0 if mode == "max" else -1.0

    def _is_improvement(self, value, reference) -> bool:
        """Better than ``reference`` by more than ``min_delta`` (any value beats ``None``)."""
        if self._better is None:
            self._resolve_mode()
        if reference is None:
            return True
        return bool(self._better(value - self._sign * self.min_delta, reference))

    def _monitored(self, logs, what):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{what} conditioned on {self.monitor!r}, which is not in the logs; available: "
                          f"{', '.join(sorted(logs or {}))}", stacklevel=3)
        return value
