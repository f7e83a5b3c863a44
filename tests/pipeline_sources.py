"""PyDataset subclasses for tests/test_input_pipelines.py.

They live in a module (not inside test functions) so that worker processes can find
their classes wherever the dataset has to be pickled.
"""

from __future__ import annotations

import threading
import time

import numpy as np

import highlevel as hl


class ArrayBatches(hl.utils.PyDataset):
    """Batch ``i`` is rows ``[i*batch_size, (i+1)*batch_size)`` of the arrays: ``(x, y[, sample_weight])``.

    Records the indices asked for (in this process), counts the epoch hooks and the
    ``__getitem__`` calls running when ``on_epoch_end`` starts, and can sleep ``delays[i]`` seconds or raise at ``fail_at`` to test ordering and errors.
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=8, fail_at=None, delays=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size = batch_size
        self.fail_at = fail_at
        self.delays = delays
        self.requested = []
        self.begins = 0
        self.ends = 0
        self.in_flight = 0              # __getitem__ calls running now
        self.in_flight_at_epoch_end = []
        self._lock = threading.Lock()

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        with self._lock:
            self.requested.append(index)
            self.in_flight += 1
        try:
            if self.delays is not None:
                time.sleep(self.delays[index])
            if index == self.fail_at:
                raise_bad_batch(index)
        finally:
            with self._lock:
                self.in_flight -= 1
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        if self.y is None:
            return self.x[rows]
        if self.sample_weight is None:
            return self.x[rows], self.y[rows]
        return self.x[rows], self.y[rows], self.sample_weight[rows]

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1
        self.in_flight_at_epoch_end.append(self.in_flight)

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_lock"]   # (a lock cannot be pickled; each process gets its own)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()


def raise_bad_batch(index):
    raise KeyError(f"batch {index} is corrupt")


class EndlessBatches(hl.utils.PyDataset):
    """An endless dataset (``num_batches`` is ``None``): batch ``i`` is batch ``i % len(batches)``
    of an ``ArrayBatches`` over the same arrays."""

    def __init__(self, x, y, batch_size=8, **kwargs):
        super().__init__(**kwargs)
        self.finite = ArrayBatches(x, y, batch_size=batch_size)
        self.requested = []

    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        self.requested.append(index)
        return self.finite[index % len(self.finite)]


class ConstantBatches(hl.utils.PyDataset):
    """``count`` batches of ``shape`` float32, batch ``i`` filled with ``i % 7`` (cheap to make)."""

    def __init__(self, count, shape, **kwargs):
        super().__init__(**kwargs)
        self.count, self.shape = count, shape

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        x = np.full(self.shape, float(index % 7), dtype=np.float32)
        return x, x[:, :1]
