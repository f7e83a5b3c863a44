"""Turning what users pass to fit/evaluate/predict into batches of backend tensors.

Sources understood (``get_data_adapter`` picks the adapter):

* arrays — NumPy arrays, backend tensors, or lists/dicts of them (multi-input or
  multi-output models). They are held on the host as NumPy arrays (float64 becomes
  float32, as Keras does), split into batches of ``batch_size`` rows, optionally
  shuffled with the NumPy global generator (seeded by ``hl.utils.set_random_seed``),
  and each batch is converted to backend tensors just before its step.
* sources of whole batches, read one batch at a time (never loaded whole), each yielding
  ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (a dict is ``x``):
  Python generators/iterators (or re-iterable objects whose ``__iter__`` starts a fresh
  pass); ``hl.utils.PyDataset`` (batches by index, prepared ahead by worker threads or
  processes, batch order shuffled when ``shuffle=True``); a ``torch.utils.data.DataLoader``
  and a ``tf.data.Dataset`` — both on every backend, recognised by their class's module so
  that neither engine is imported for other inputs. ``batch_size``, ``y`` and
  ``sample_weight`` must not be given with them; ``shuffle`` is ignored except for a
  PyDataset (a DataLoader or tf.data pipeline shuffles itself).
  (A list is a structure of arrays — multi-input — never a list of batches, as in Keras.)

A batch is the tuple ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (Keras's
convention); ``unpack_x_y_sample_weight`` turns it back into three values.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from highlevel import backend, ops
from highlevel.trainers import nest
from highlevel.utils.py_dataset import OrderedPrefetcher, PyDataset, validate_worker_settings


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a batch; missing entries are ``None``."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"a batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(data)} "
                     f"elements")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch tuple for ``x``, ``y``, ``sample_weight`` (trailing ``None``s dropped)."""
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


# ------------------------------------------------------------------ host arrays


def to_host_array(value, what: str = "x"):
    """A NumPy array for one leaf: backend tensors are copied to the host, float64 -> float32."""
    if ops.is_tensor(value):
        value = ops.convert_to_numpy(value)
    elif not isinstance(value, np.ndarray):
        if not hasattr(value, "__array__") and not isinstance(value, (int, float, bool)):
            raise TypeError(f"{what}: expected a NumPy array, a backend tensor, or a list/dict of them; "
                            f"got {type(value).__name__}")
        value = np.asarray(value)
    if value.dtype == np.float64:
        value = value.astype(np.float32)
    if value.ndim == 0:
        raise ValueError(f"{what}: expected an array with a batch axis, got a scalar")
    return value


def _is_array_like(value) -> bool:
    return isinstance(value, np.ndarray) or ops.is_tensor(value) or hasattr(value, "__array__")


def _is_array_structure(value) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return all(_is_array_structure(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return len(value) > 0 and all(_is_array_structure(v) for v in value)
    return _is_array_like(value)


def num_samples(x, y=None, sample_weight=None) -> int:
    """The common batch-axis length of every array, or a ``ValueError`` listing them."""
    sizes = {}
    for name, struct in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        for i, leaf in enumerate(nest.flatten(struct)):
            if leaf is not None:
                label = name if len(nest.flatten(struct)) == 1 else f"{name}[{i}]"
                sizes[label] = int(leaf.shape[0])
    if len(set(sizes.values())) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(f"data cardinality is ambiguous: all arrays must have the same number of samples "
                         f"(first dimension), got {listing}")
    return next(iter(sizes.values()))


def split_for_validation(x, y, sample_weight, validation_split: float):
    """Split arrays into training and validation parts: the LAST fraction validates (as Keras).

    The split happens before any shuffling, so the same samples validate every epoch.
    """
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    total = num_samples(x, y, sample_weight)
    split_at = int(math.floor(total * (1.0 - validation_split)))
    if split_at == 0 or split_at == total:
        raise ValueError(f"validation_split={validation_split} on {total} samples leaves "
                         f"{split_at} for training and {total - split_at} for validation; both need at least one")

    def head(a):
        return a[:split_at]

    def tail(a):
        return a[split_at:]

    train = tuple(nest.map_structure(head, s) for s in (x, y, sample_weight))
    val = tuple(nest.map_structure(tail, s) for s in (x, y, sample_weight))
    return train, val


def class_weight_to_sample_weight(y, class_weight: dict, what: str = "y"):
    """Per-sample weights ``class_weight[class of y_i]`` (classes not listed weigh 1.0).

    ``y`` holds integer labels ``(n,)``/``(n, 1)`` or one-hot/probability rows ``(n, classes)``
    (the class is the argmax) — one output only, as in Keras.
    """
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict mapping class index to weight, got "
                         f"{type(class_weight).__name__}")
    if nest.is_nested(y):
        raise ValueError("class_weight is only supported for models with a single output; "
                         "pass sample_weight per output instead")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        classes = np.argmax(y, axis=1)
    else:
        classes = np.round(y.reshape(y.shape[0], -1)[:, 0]).astype(np.int64)
    table_size = max(int(classes.max(initial=0)), max(int(k) for k in class_weight)) + 1
    table = np.ones(table_size, dtype=np.float32)
    for label, weight in class_weight.items():
        table[int(label)] = weight
    if classes.size and classes.min() < 0:
        raise ValueError(f"class_weight: {what} holds negative class labels, e.g. {int(classes.min())}")
    return table[classes]


def _combine_class_weight(y, sample_weight, class_weight):
    weights = class_weight_to_sample_weight(y, class_weight)
    if sample_weight is None:
        return weights
    if nest.is_nested(sample_weight):
        raise ValueError("class_weight cannot be combined with a per-output sample_weight")
    return np.asarray(sample_weight, dtype=np.float32).reshape(weights.shape[0], -1)[:, 0] * weights


# -------------------------------------------------------------------- adapters


class ArrayDataAdapter:
    """Batches from in-memory arrays (NumPy or backend tensors, possibly nested).

    shuffle: ``True`` (a fresh permutation every pass, from NumPy's global generator),
    ``"batch"`` (shuffle the order of batch-sized chunks) or ``False``.
    The last batch may be smaller than ``batch_size``.
    """

    one_shot = False

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, class_weight=None):
        self.x = nest.map_structure(lambda a: to_host_array(a, "x"), x)
        self.y = nest.map_structure(lambda a: to_host_array(a, "y"), y)
        self.sample_weight = nest.map_structure(lambda a: to_host_array(a, "sample_weight"), sample_weight)
        if class_weight is not None:
            if self.y is None:
                raise ValueError("class_weight needs targets y")
            self.sample_weight = _combine_class_weight(self.y, self.sample_weight, class_weight)
        self.num_samples = num_samples(self.x, self.y, self.sample_weight)
        self.batch_size = int(batch_size) if batch_size is not None else 32
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size}")
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch', got {shuffle!r}")
        self.shuffle = shuffle
        self.num_batches = max(1, math.ceil(self.num_samples / self.batch_size)) if self.num_samples else 0

    def batches(self):
        """One pass over the data: an iterator of batch tuples of backend tensors."""
        n, size = self.num_samples, self.batch_size
        starts = np.arange(0, n, size)
        order = None
        if self.shuffle == "batch":
            starts = starts[np.random.permutation(len(starts))]
        elif self.shuffle:
            order = np.random.permutation(n)
        for start in starts:
            stop = min(start + size, n)
            if order is None:
                def take(a, start=start, stop=stop):
                    return ops.convert_to_tensor(a[start:stop])   # the arrays live on the host
            else:
                index = order[start:stop]

                def take(a, index=index):
                    return ops.convert_to_tensor(a[index])
            yield pack_x_y_sample_weight(nest.map_structure(take, self.x), nest.map_structure(take, self.y),
                                         nest.map_structure(take, self.sample_weight))


class _BatchSourceAdapter:
    """Shared by the adapters whose source yields whole batches (generators and dataset objects).

    Each element is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (a list counts
    as a tuple, a dict is ``x``); its leaves become backend tensors one batch at a time.
    ``on_epoch_begin``/``on_epoch_end`` bracket each epoch of an ``EpochIterator`` and
    ``close`` releases whatever the source holds (worker pools); here they do nothing.
    """

    one_shot = False
    batch_size = None
    num_batches = None
    #: ``True`` when the source never ends: ``steps_per_epoch``/``steps`` must be given.
    infinite = False

    def __init__(self, class_weight=None):
        self.class_weight = class_weight

    def _elements(self):
        """The source's raw batches for one pass."""
        raise NotImplementedError

    def batches(self):
        """One pass over the source: an iterator of batch tuples of backend tensors."""
        for element in self._elements():
            yield standardize_batch(element, self.class_weight)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass

    def close(self):
        pass


def standardize_batch(element, class_weight=None):
    """The batch tuple of backend tensors for one element a generator or dataset yields."""
    x, y, sample_weight = unpack_x_y_sample_weight(element)
    if class_weight is not None:
        if y is None:
            raise ValueError("class_weight needs the data to yield targets (x, y)")
        y_host = nest.map_structure(to_host_array, y)
        sample_weight = _combine_class_weight(y_host, nest.map_structure(to_host_array, sample_weight),
                                              class_weight)
    convert = to_batch_tensor
    return pack_x_y_sample_weight(nest.map_structure(convert, x), nest.map_structure(convert, y),
                                  nest.map_structure(convert, sample_weight))


class GeneratorDataAdapter(_BatchSourceAdapter):
    """Batches from a Python generator/iterator, or a re-iterable object (``__iter__`` starting a fresh pass).

    A generator can be consumed once: with ``steps_per_epoch`` set, epochs continue where
    the previous one stopped (it should loop forever); without it, the first epoch runs it
    to exhaustion. Re-iterable objects start a fresh pass each epoch.
    """

    def __init__(self, source, class_weight=None):
        super().__init__(class_weight)
        self.source = source
        self.one_shot = iter(source) is source

    def _elements(self):
        return self.source


class PyDatasetAdapter(_BatchSourceAdapter):
    """Batches from an ``hl.utils.PyDataset``: ``dataset[i]`` for each batch index of a pass.

    shuffle: ``True`` visits the batch indices of each pass in a fresh random order (NumPy's
    global generator, like the array adapter; Keras 3 shuffles the batch order too); an
    endless dataset (``num_batches is None``) is read in index order. With several workers
    (or processes) the batches are prepared ahead by an ``OrderedPrefetcher`` whose pool
    lives for one epoch: ``on_epoch_end`` stops it before calling the dataset's own
    ``on_epoch_end``, so that hook never races a worker.
    """

    def __init__(self, dataset, shuffle=False, class_weight=None):
        super().__init__(class_weight)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch', got {shuffle!r}")
        self.dataset = dataset
        workers, use_multiprocessing, max_queue_size = validate_worker_settings(dataset)
        self.num_batches = _checked_num_batches(dataset)
        self.infinite = self.num_batches is None
        self.shuffle = bool(shuffle) and not self.infinite
        self._prefetcher = None
        if workers > 1 or (workers > 0 and use_multiprocessing):
            self._prefetcher = OrderedPrefetcher(dataset, workers, use_multiprocessing, max_queue_size)
        if self.infinite:
            # An endless dataset continues where the previous epoch stopped.
            self._endless_indices = itertools.count()

    def _indices(self):
        if self.infinite:
            return self._endless_indices
        if self.shuffle:
            return iter(np.random.permutation(self.num_batches).tolist())
        return iter(range(self.num_batches))

    def _elements(self):
        if self._prefetcher is not None:
            return self._prefetcher.map(self._indices())
        return (self.dataset[index] for index in self._indices())

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.close()
        self.dataset.on_epoch_end()

    def close(self):
        if self._prefetcher is not None:
            self._prefetcher.close()


def _checked_num_batches(dataset):
    total = dataset.num_batches
    if total is None:
        return None
    if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 0:
        raise ValueError(f"{type(dataset).__name__}: __len__/num_batches must return a non-negative int "
                         f"(or None for an endless dataset), got {total!r}")
    return int(total)


class TorchDataLoaderAdapter(_BatchSourceAdapter):
    """Batches from a ``torch.utils.data.DataLoader``, on any backend, one at a time.

    Each epoch iterates the loader afresh (its own shuffling and workers apply); torch
    tensors stay torch tensors on the torch backend and become NumPy arrays (sharing
    memory) on the others. ``num_batches`` is ``len(loader)`` when the dataset has a length.
    """

    def __init__(self, loader, class_weight=None):
        super().__init__(class_weight)
        self.loader = loader
        try:
            self.num_batches = len(loader)
        except TypeError:   # an IterableDataset without __len__
            self.num_batches = None

    def _elements(self):
        return iter(self.loader)


# tf.data's cardinality codes (tf.data.INFINITE_CARDINALITY, tf.data.UNKNOWN_CARDINALITY).
_TF_INFINITE_CARDINALITY = -1
_TF_UNKNOWN_CARDINALITY = -2


class TFDatasetAdapter(_BatchSourceAdapter):
    """Batches from a ``tf.data.Dataset``, on any backend, one at a time.

    Each epoch iterates the dataset afresh; tf tensors stay tf tensors on the tensorflow
    backend and become NumPy arrays (``.numpy()``) on the others. ``num_batches`` is the
    dataset's cardinality when TensorFlow knows it; a ``repeat()``-ed dataset is endless.
    """

    def __init__(self, dataset, class_weight=None):
        super().__init__(class_weight)
        self.dataset = dataset
        cardinality = int(dataset.cardinality())
        self.infinite = cardinality == _TF_INFINITE_CARDINALITY
        self.num_batches = cardinality if cardinality >= 0 else None
        if self.infinite:
            # An endless dataset continues where it stopped instead of restarting each epoch.
            self._endless = iter(dataset)

    def _elements(self):
        return self._endless if self.infinite else iter(self.dataset)


_FLOAT64 = np.dtype(np.float64)


def to_batch_tensor(value):
    """A backend tensor for one leaf of a batch (NumPy first: the common case, checked cheaply).

    float64 becomes float32 (as for arrays); a torch tensor on the torch backend or a tf
    tensor on the tensorflow backend is kept (moved to the backend's device if needed);
    another engine's tensor goes through NumPy, sharing memory where that engine allows.
    """
    if not isinstance(value, np.ndarray):
        if ops.is_tensor(value):
            return _native_batch_tensor(value)
        if _comes_from(value, "torch"):
            value = value.detach().cpu().numpy()   # shares memory with a CPU tensor
        else:
            value = np.asarray(value)              # tf tensors: their .numpy() through __array__
    if value.dtype == _FLOAT64:  # (a dtype object compares faster than the np.float64 type)
        value = value.astype(np.float32)
    return ops.convert_to_tensor(value)


def _native_batch_tensor(value):
    if _comes_from(value, "torch"):
        # A DataLoader yields CPU tensors; the model's weights may live on an accelerator.
        device = backend.device()
        if str(value.device) != device:
            value = value.to(device)
    if ops.dtype(value) == "float64":
        value = ops.cast(value, "float32")
    return value


def _comes_from(value, package: str) -> bool:
    """Whether ``value``'s class (or a base class) is defined in ``package`` (no import needed)."""
    prefix = package + "."
    return any(cls.__module__ == package or cls.__module__.startswith(prefix) for cls in type(value).__mro__)


def _has_base(value, package: str, names) -> bool:
    """Whether a class in ``value``'s MRO named one of ``names`` is defined in ``package``."""
    prefix = package + "."
    return any(cls.__name__ in names and (cls.__module__ == package or cls.__module__.startswith(prefix))
               for cls in type(value).__mro__)


def is_torch_dataloader(x) -> bool:
    """``isinstance(x, torch.utils.data.DataLoader)`` without importing torch."""
    return _has_base(x, "torch.utils.data", ("DataLoader",))


def is_torch_dataset(x) -> bool:
    """Whether ``x`` is a torch ``Dataset``/``IterableDataset`` (samples, not batches)."""
    return _has_base(x, "torch.utils.data", ("Dataset", "IterableDataset"))


def is_tf_dataset(x) -> bool:
    """``isinstance(x, tf.data.Dataset)`` without importing tensorflow."""
    return _has_base(x, "tensorflow", ("DatasetV2", "DatasetV1"))


def is_py_dataset(x) -> bool:
    return isinstance(x, PyDataset)


def dataset_kind(x):
    """A readable name for a dataset object ``x`` (``None`` when ``x`` is not one)."""
    if is_py_dataset(x):
        return "a PyDataset"
    if is_torch_dataloader(x):
        return "a torch DataLoader"
    if is_tf_dataset(x):
        return "a tf.data.Dataset"
    if is_generator_like(x):
        return "a generator"
    return None


def is_generator_like(x) -> bool:
    """Whether ``x`` yields whole batches — a generator/iterator/iterable, a PyDataset, a torch
    DataLoader or a tf.data.Dataset — rather than being arrays or a structure of them."""
    if isinstance(x, (np.ndarray, dict, str, bytes)) or ops.is_tensor(x):
        return False
    if isinstance(x, (list, tuple)):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__") or is_py_dataset(x)


def get_data_adapter(x, y=None, sample_weight=None, batch_size=None, shuffle=False, class_weight=None):
    """The adapter for ``x`` (see the module docstring); errors name the unsupported input."""
    if x is None:
        raise ValueError("x must be given: arrays, a list/dict of arrays, a generator, a PyDataset, "
                         "a torch DataLoader or a tf.data.Dataset")
    if is_torch_dataset(x) and not is_torch_dataloader(x):
        raise TypeError(f"x is a torch {type(x).__name__}, which yields single samples; wrap it in a "
                        f"torch.utils.data.DataLoader(dataset, batch_size=...) to pass whole batches")
    kind = dataset_kind(x)
    if kind is not None:
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"when x is {kind} it must yield (x, y[, sample_weight]) itself; "
                                 f"do not also pass {name} (got {type(value).__name__})")
        if batch_size is not None:
            raise ValueError(f"batch_size must not be given when x is {kind}: it yields whole batches "
                             f"(got batch_size={batch_size!r})")
        if is_py_dataset(x):
            return PyDatasetAdapter(x, shuffle=shuffle, class_weight=class_weight)
        # DataLoaders, tf.data and generators order their batches themselves: shuffle is ignored.
        if is_torch_dataloader(x):
            return TorchDataLoaderAdapter(x, class_weight=class_weight)
        if is_tf_dataset(x):
            return TFDatasetAdapter(x, class_weight=class_weight)
        return GeneratorDataAdapter(x, class_weight=class_weight)
    for name, struct in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        if not _is_array_structure(struct):
            kinds = sorted({type(leaf).__name__ for leaf in nest.flatten(struct)})
            raise TypeError(f"{name}: expected NumPy arrays, backend tensors, lists/dicts of them, a generator, "
                            f"a PyDataset, a torch DataLoader or a tf.data.Dataset; got {', '.join(kinds)}")
    return ArrayDataAdapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                            class_weight=class_weight)
