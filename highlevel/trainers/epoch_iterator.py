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
        self.adapter = adapter
        self.steps = steps
        self.exhausted = False
        self._iterator = None

    @property
    def num_steps(self):
        """Steps per epoch when known (``None`` for a generator without ``steps``)."""
        return self.steps if self.steps is not None else self.adapter.num_batches

    def epoch(self):
        if self.steps is None:
            yield from self._one_pass()
            return
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
            iterator = self.adapter.batches()
        step = -1
        for step, batch in enumerate(iterator):
            yield step, batch
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
                      f"(loop forever)", stacklevel=3)
