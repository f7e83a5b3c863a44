"""Epochs of steps over a data adapter, honouring ``steps_per_epoch``."""

from __future__ import annotations

import warnings


class EpochIterator:
    """Yields ``(step, batch)`` for one epoch at a time.

    Without ``steps``: one full pass of the adapter per epoch. With ``steps``: exactly
    that many batches per epoch, continuing from where the previous epoch stopped and
    starting a new pass (a fresh shuffle) when the data runs out — Keras 3's semantics.
    A one-shot generator that runs dry sets ``exhausted`` (training then stops).
    """

    def __init__(self, adapter, steps=None):
        if steps is not None and (not isinstance(steps, int) or steps <= 0):
            raise ValueError(f"steps must be a positive int or None, got {steps!r}")
        if steps is None and getattr(adapter, "infinite", False):
            raise ValueError("the input never ends (an endless PyDataset or a repeated tf.data.Dataset): pass "
                             "steps_per_epoch to fit (validation_steps for validation_data, steps to "
                             "evaluate/predict)")
        self.adapter = adapter
        self.steps = steps
        self.exhausted = False
        self._iterator = None   # the pass that continues across epochs (with steps)
        self._pass = None       # the pass of the current epoch (without steps)

    @property
    def num_steps(self):
        """Steps per epoch when known (``None`` for a generator without ``steps``)."""
        return self.steps if self.steps is not None else self.adapter.num_batches

    def epoch(self):
        """The ``(step, batch)`` pairs of one epoch, between the adapter's epoch hooks.

        The adapter's ``on_epoch_end`` (a PyDataset's own hook; stopping its workers) runs
        when the epoch completes; if the epoch ends early — an error, or the consumer
        stops — the adapter is closed instead.
        """
        _call_hook(self.adapter, "on_epoch_begin")
        try:
            yield from (self._one_pass() if self.steps is None else self._some_steps())
        except BaseException:   # (GeneratorExit too: the consumer abandoned the epoch)
            self.close()
            raise
        _call_hook(self.adapter, "on_epoch_end")

    def close(self):
        """Release the data source's resources (worker pools, loader iterators); idempotent."""
        for generator in (self._pass, self._iterator):
            if generator is not None and hasattr(generator, "close"):
                generator.close()
        self._pass = self._iterator = None
        _call_hook(self.adapter, "close")

    def _some_steps(self):
        step = 0
        fresh = False
        while step < self.steps:
            if self._iterator is None:
                if self.adapter.one_shot and self.exhausted:
                    break
                self._iterator = iter(self.adapter.batches())
                fresh = True
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if self.adapter.one_shot or fresh:
                    self._ran_out(step)
                    return
                continue
            fresh = False
            yield step, batch
            step += 1

    def _one_pass(self):
        if self.adapter.one_shot:
            if self._iterator is None:
                self._iterator = iter(self.adapter.batches())
            iterator = self._iterator
        else:
            iterator = self._pass = self.adapter.batches()
        step = -1
        for step, batch in enumerate(iterator):
            yield step, batch
        self._pass = None
        if step < 0:
            self.exhausted = True
            warnings.warn("the input yielded no batches this epoch; stopping. A Python generator can be "
                          "consumed only once: for several epochs, pass steps_per_epoch with a generator that "
                          "loops forever, or a re-iterable object (one whose __iter__ starts a fresh pass)",
                          stacklevel=3)

    def _ran_out(self, step):
        self.exhausted = True
        warnings.warn(f"the input ran out of data after {step} steps of this epoch; stopping. With "
                      f"steps_per_epoch set, a generator must yield at least steps_per_epoch * epochs batches "
                      f"(loop forever)", stacklevel=4)   # (_ran_out <- _some_steps <- epoch <- the caller)


def _call_hook(adapter, name):
    hook = getattr(adapter, name, None)
    if hook is not None:
        hook()
