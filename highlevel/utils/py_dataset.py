"""``hl.utils.PyDataset``: Keras's PyDataset — a dataset defined by ``__len__`` and ``__getitem__``.

(Skeleton: the worker pool and the trainer's adapter are being written.)
"""

from __future__ import annotations


class PyDataset:
    """Base class for datasets that produce whole batches by index.

    Subclasses implement ``__len__`` (batches per epoch) and ``__getitem__(index)``
    returning ``x``, ``(x, y)`` or ``(x, y, sample_weight)`` for batch ``index``;
    ``on_epoch_end`` is called after each epoch (e.g. to reshuffle).

    Args:
        workers: how many batches are prepared in parallel (1: in the training thread).
        use_multiprocessing: prepare batches in processes instead of threads.
        max_queue_size: batches prepared ahead of the training loop.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self):
        return self._workers

    @property
    def use_multiprocessing(self):
        return self._use_multiprocessing

    @property
    def max_queue_size(self):
        return self._max_queue_size

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    def on_epoch_end(self):
        """Called by fit after every epoch; override to reshuffle."""
