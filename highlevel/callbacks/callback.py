"""The ``Callback`` base class: hooks called by fit/evaluate/predict."""

from __future__ import annotations

from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class Callback:
    """Base class of callbacks; override the hooks you need.

    ``self.model`` is the model being trained, ``self.params`` a dict with
    ``verbose``, ``epochs`` and ``steps`` (steps per epoch, ``None`` if unknown).

    Epoch hooks (``on_epoch_end`` ...) get logs of Python floats: ``"loss"``, metric
    names, ``"val_"``-prefixed validation values. Batch hooks get the running values
    so far in the epoch; asking for them costs a device-to-host copy per batch, which
    is why the loop only calls batch hooks that a callback actually overrides.
    ``on_batch_begin``/``on_batch_end`` are the old names of the train-batch hooks.
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin`` (older Keras name)."""

    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end`` (older Keras name)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Start of a training epoch (``epoch`` counts from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """End of a training epoch, after validation; ``logs`` holds the epoch's results."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Start of a batch in ``evaluate`` (and in fit's validation)."""

    def on_test_batch_end(self, batch, logs=None):
        """End of a batch in ``evaluate``; ``logs`` has the running results."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Start of a batch in ``predict``."""

    def on_predict_batch_end(self, batch, logs=None):
        """End of a batch in ``predict``; ``logs["outputs"]`` holds the batch's outputs."""

    def on_train_begin(self, logs=None):
        """Start of ``fit``."""

    def on_train_end(self, logs=None):
        """End of ``fit``; ``logs`` are the last epoch's."""

    def on_test_begin(self, logs=None):
        """Start of ``evaluate`` (and of each validation run in ``fit``)."""

    def on_test_end(self, logs=None):
        """End of ``evaluate``; ``logs`` are the final results."""

    def on_predict_begin(self, logs=None):
        """Start of ``predict``."""

    def on_predict_end(self, logs=None):
        """End of ``predict``."""
