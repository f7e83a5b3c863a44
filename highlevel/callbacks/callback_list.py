"""``CallbackList``: dispatches every hook to a list of callbacks, cheaply.

Batch hooks run in the hot loop, so the list precomputes, per hook, the callbacks
that override it; a hook nobody overrides costs one empty-tuple check. Batch logs
arrive as backend tensors: they are turned into Python floats (a host sync) once per
batch, and only when some callback that wants floats is listening. Callbacks that
handle tensors themselves (the progress bar, which reads them a few times a second)
set ``_accepts_tensor_logs = True``.
"""

from __future__ import annotations

from highlevel.callbacks.callback import Callback
from highlevel.callbacks.history import History
from highlevel.callbacks.progbar_logger import ProgbarLogger

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
                "on_predict_batch_begin", "on_predict_batch_end")
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _overrides(callback, hook: str) -> bool:
    if hook in getattr(callback, "__dict__", {}):
        return True   # a hook set on the instance (LambdaCallback)
    if getattr(type(callback), hook, None) is not getattr(Callback, hook):
        return True
    alias = _ALIASES.get(hook)
    return alias is not None and _overrides(callback, alias)


def _python_logs(logs):
    from highlevel.trainers.trainer import logs_to_python
    if not isinstance(logs, dict):
        return logs
    if "outputs" in logs and len(logs) == 1:
        return logs
    return logs_to_python(logs)


class CallbackList(Callback):
    """The callbacks of one fit/evaluate/predict call.

    add_history / add_progbar: append a ``History`` / ``ProgbarLogger`` unless the
    user passed one (History first, so it sees what other callbacks add to the logs,
    e.g. ``learning_rate``). ``params`` (``verbose``, ``epochs``, ``steps``) go to
    every callback.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be hl.callbacks.Callback instances, got {type(callback).__name__}")
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self._dispatch = {hook: tuple(c for c in self.callbacks if _overrides(c, hook)) for hook in _BATCH_HOOKS}
        self._needs_python = {hook: any(not getattr(c, "_accepts_tensor_logs", False) for c in users)
                              for hook, users in self._dispatch.items()}
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_params(self, params):
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def __iter__(self):
        return iter(self.callbacks)

    # ---------------------------------------------------------------- batches

    def _batch(self, hook, batch, logs):
        users = self._dispatch[hook]
        if not users:
            return
        python_logs = _python_logs(logs) if self._needs_python[hook] and logs is not None else None
        for callback in users:
            wanted = logs if getattr(callback, "_accepts_tensor_logs", False) or python_logs is None else python_logs
            getattr(callback, hook)(batch, wanted)

    def on_train_batch_begin(self, batch, logs=None):
        self._batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._batch("on_train_batch_end", batch, logs)

    def on_batch_begin(self, batch, logs=None):
        self._batch("on_train_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._batch("on_predict_batch_end", batch, logs)

    # ------------------------------------------------------- epochs and runs

    def _all(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_epoch_begin(self, epoch, logs=None):
        self._all("on_epoch_begin", epoch, logs if logs is not None else {})

    def on_epoch_end(self, epoch, logs=None):
        self._all("on_epoch_end", epoch, logs if logs is not None else {})

    def on_train_begin(self, logs=None):
        self._all("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._all("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._all("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._all("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._all("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._all("on_predict_end", logs)
