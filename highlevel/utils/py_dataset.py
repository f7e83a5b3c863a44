"""``hl.utils.PyDataset``: Keras's PyDataset — a dataset defined by ``__len__`` and ``__getitem__``.

``fit``/``evaluate``/``predict`` read a PyDataset batch by batch. With ``workers > 1`` (or
``use_multiprocessing=True``) an ``OrderedPrefetcher`` prepares the next batches in a thread
(or process) pool while the model trains on the current one; batches still arrive in index
order, and at most ``max_queue_size`` of them wait ready or in preparation.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import warnings


class PyDataset:
    """Base class for datasets that produce whole batches by index.

    Subclasses implement ``__len__`` (batches per epoch) and ``__getitem__(index)``
    returning ``x``, ``(x, y)`` or ``(x, y, sample_weight)`` for batch ``index``
    (``x`` may be a dict or list for multi-input models). ``on_epoch_begin`` and
    ``on_epoch_end`` are called around each pass that ``fit``/``evaluate``/``predict``
    makes (e.g. to reshuffle). A dataset without an end overrides ``num_batches`` to
    return ``None``; ``fit`` then needs ``steps_per_epoch``.

    Args:
        workers: how many batches are prepared in parallel (1: in the training thread).
        use_multiprocessing: prepare batches in processes instead of threads (the dataset
            is copied into each process, so it must be picklable where processes are spawned).
        max_queue_size: how many batches may be prepared ahead of the training loop.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _default_if_super_not_called(self, attribute, default):
        # A subclass that forgot super().__init__() still works, with Keras's defaults and warning.
        if not hasattr(self, attribute):
            warnings.warn(f"{type(self).__name__} should call super().__init__(**kwargs) in its constructor "
                          f"(kwargs may hold workers, use_multiprocessing, max_queue_size); using the defaults",
                          stacklevel=3)
            setattr(self, attribute, default)
        return getattr(self, attribute)

    @property
    def workers(self) -> int:
        return self._default_if_super_not_called("_workers", 1)

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        return self._default_if_super_not_called("_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        return self._default_if_super_not_called("_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    @property
    def num_batches(self):
        """Batches per epoch: ``len(self)``; ``None`` for a dataset without an end."""
        return len(self)

    def __iter__(self):
        """Every batch in index order (no parallelism: that is fit's job)."""
        total = self.num_batches
        for index in (range(total) if total is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self):
        """Called before every pass over the data; override to prepare one."""

    def on_epoch_end(self):
        """Called after every pass over the data; override to reshuffle."""


def validate_worker_settings(dataset) -> tuple[int, bool, int]:
    """``(workers, use_multiprocessing, max_queue_size)`` of ``dataset``, checked."""
    workers, processes, queue_size = dataset.workers, dataset.use_multiprocessing, dataset.max_queue_size
    name = type(dataset).__name__
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ValueError(f"{name}: workers must be a non-negative int, got {workers!r}")
    if not isinstance(queue_size, int) or isinstance(queue_size, bool) or queue_size < 1:
        raise ValueError(f"{name}: max_queue_size must be a positive int, got {queue_size!r}")
    return workers, bool(processes), queue_size


# ------------------------------------------------------------------ prefetching

# The dataset of this worker process (set once per process by the pool's initializer).
_PROCESS_DATASET = None


def _install_dataset_in_process(dataset):
    global _PROCESS_DATASET
    _PROCESS_DATASET = dataset


def _batch_in_process(index):
    return _PROCESS_DATASET[index]


class OrderedPrefetcher:
    """Fetches ``dataset[i]`` for the coming indices in a pool, handing results back in order.

    The pool (threads, or processes holding a copy of the dataset) is started on first
    use and lives until ``close()``; a new pool starts if the prefetcher is used again, so
    each epoch's pool sees the dataset as ``on_epoch_end`` left it. At most ``depth``
    batches are submitted ahead of the consumer, which bounds memory.
    """

    def __init__(self, dataset, workers: int, use_multiprocessing: bool, depth: int):
        self.dataset = dataset
        self.workers = max(1, workers)
        self.use_multiprocessing = use_multiprocessing
        self.depth = max(1, depth)
        self._pool = None

    def _ensure_pool(self):
        if self._pool is None:
            if self.use_multiprocessing:
                # The dataset reaches each process once (inherited on fork, pickled otherwise);
                # a task then carries only an index.
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers, initializer=_install_dataset_in_process, initargs=(self.dataset,))
            else:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.workers,
                                                                   thread_name_prefix="highlevel-PyDataset")
        return self._pool

    def _submit(self, index):
        pool = self._ensure_pool()
        if self.use_multiprocessing:
            return pool.submit(_batch_in_process, index)
        return pool.submit(self.dataset.__getitem__, index)

    def map(self, indices):
        """Generator of ``dataset[i]`` for ``i`` in ``indices``, in order, computed ahead.

        An exception raised by ``__getitem__`` is re-raised here with its traceback (a
        process's traceback is attached as the ``__cause__``).
        """
        indices = iter(indices)
        pending = collections.deque()   # [index, future], oldest first
        try:
            while True:
                # After close() (an epoch ended mid-pass) queued work was cancelled: redo it.
                for entry in pending:
                    if entry[1].cancelled():
                        entry[1] = self._submit(entry[0])
                while len(pending) < self.depth:
                    index = next(indices, None)
                    if index is None:
                        break
                    pending.append([index, self._submit(index)])
                if not pending:
                    return
                _, future = pending.popleft()
                yield future.result()
        finally:
            for _, future in pending:
                future.cancel()

    def close(self):
        """Stop the pool: queued batches are dropped, running ones finish, workers exit."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["OrderedPrefetcher", "PyDataset"]
