"""Turning what users pass to fit/evaluate/predict into batches of backend tensors.

Two sources are understood:

* arrays — NumPy arrays, backend tensors, or lists/dicts of them (multi-input or
  multi-output models). They are held on the host as NumPy arrays (float64 becomes
  float32, as Keras does), split into batches of ``batch_size`` rows, optionally
  shuffled with the NumPy global generator (seeded by ``hl.utils.set_random_seed``),
  and each batch is converted to backend tensors just before its step.
* Python generators/iterators (or re-iterable objects whose ``__iter__`` starts a fresh pass)
  yielding ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` batches. (A list is
  a structure of arrays — multi-input — never a list of batches, as in Keras.)

A batch is the tuple ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (Keras's
convention); ``unpack_x_y_sample_weight`` turns it back into three values.
"""

from __future__ import annotations

import math

import numpy as np

from highlevel import ops
from highlevel.trainers import nest


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


class GeneratorDataAdapter:
    """Batches from a Python generator/iterator, or a re-iterable object (``__iter__`` starting a fresh pass).

    A generator can be consumed once: with ``steps_per_epoch`` set, epochs continue where
    the previous one stopped (it should loop forever); without it, the first epoch runs it
    to exhaustion. Re-iterable objects start a fresh pass each epoch.
    """

    num_batches = None
    batch_size = None

    def __init__(self, source, class_weight=None):
        self.source = source
        self.one_shot = iter(source) is source
        self.class_weight = class_weight

    def batches(self):
        for element in self.source:
            x, y, sample_weight = unpack_x_y_sample_weight(element)
            if self.class_weight is not None:
                if y is None:
                    raise ValueError("class_weight needs the generator to yield targets (x, y)")
                y_host = ops.convert_to_numpy(y) if ops.is_tensor(y) else np.asarray(y)
                sample_weight = _combine_class_weight(y_host, sample_weight, self.class_weight)
            convert = to_batch_tensor
            yield pack_x_y_sample_weight(nest.map_structure(convert, x), nest.map_structure(convert, y),
                                         nest.map_structure(convert, sample_weight))


_FLOAT64 = np.dtype(np.float64)


def to_batch_tensor(value):
    """A backend tensor for one leaf of a batch (NumPy first: the common case, checked cheaply)."""
    if not isinstance(value, np.ndarray):
        if ops.is_tensor(value):
            return value
        value = np.asarray(value)
    if value.dtype == _FLOAT64:  # (a dtype object compares faster than the np.float64 type)
        value = value.astype(np.float32)
    return ops.convert_to_tensor(value)


def is_generator_like(x) -> bool:
    """Whether ``x`` is a generator/iterator/iterable of batches (not arrays or a structure of them)."""
    if isinstance(x, (np.ndarray, dict, str, bytes)) or ops.is_tensor(x):
        return False
    if isinstance(x, (list, tuple)):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def get_data_adapter(x, y=None, sample_weight=None, batch_size=None, shuffle=False, class_weight=None):
    """The adapter for ``x`` (see the module docstring); errors name the unsupported input."""
    if x is None:
        raise ValueError("x must be given: arrays, a list/dict of arrays, or a generator of batches")
    if is_generator_like(x):
        if y is not None or sample_weight is not None:
            raise ValueError("when x is a generator it must yield (x, y[, sample_weight]) itself; "
                             "do not also pass y or sample_weight")
        if batch_size is not None:
            raise ValueError("batch_size must not be given when x is a generator: it yields whole batches")
        return GeneratorDataAdapter(x, class_weight=class_weight)
    for name, struct in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        if not _is_array_structure(struct):
            kinds = sorted({type(leaf).__name__ for leaf in nest.flatten(struct)})
            raise TypeError(f"{name}: expected NumPy arrays, backend tensors, or lists/dicts of them; "
                            f"got {', '.join(kinds)}")
    return ArrayDataAdapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                            class_weight=class_weight)
