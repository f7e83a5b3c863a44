"""``LambdaCallback``: a callback from plain functions."""

from __future__ import annotations

from highlevel.callbacks.callback import Callback

_HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end", "on_train_batch_begin",
          "on_train_batch_end", "on_batch_begin", "on_batch_end", "on_test_begin", "on_test_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
          "on_predict_batch_begin", "on_predict_batch_end")


class LambdaCallback(Callback):
    """Each keyword is a hook: ``on_epoch_end=lambda epoch, logs: ...``,
    ``on_train_begin=lambda logs: ...``, ``on_train_batch_end=lambda batch, logs: ...``.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **kwargs}
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; hooks are {', '.join(_HOOKS)}")
            if fn is not None:
                if not callable(fn):
                    raise ValueError(f"LambdaCallback: {name} must be callable, got {fn!r}")
                setattr(self, name, fn)
