"""Callbacks: hooks into fit/evaluate/predict (``hl.callbacks``)."""

from highlevel.callbacks.callback import Callback
from highlevel.callbacks.callback_list import CallbackList
from highlevel.callbacks.csv_logger import CSVLogger
from highlevel.callbacks.early_stopping import EarlyStopping
from highlevel.callbacks.history import History
from highlevel.callbacks.lambda_callback import LambdaCallback
from highlevel.callbacks.learning_rate_scheduler import LearningRateScheduler
from highlevel.callbacks.monitor_callback import MonitorCallback
from highlevel.callbacks.progbar_logger import ProgbarLogger
from highlevel.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from highlevel.callbacks.terminate_on_nan import TerminateOnNaN
from highlevel.callbacks.model_checkpoint import ModelCheckpoint  # noqa: E402
from highlevel.callbacks.backup_and_restore import BackupAndRestore  # noqa: E402

__all__ = ["Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN"]
__all__ += ["BackupAndRestore", "ModelCheckpoint"]
