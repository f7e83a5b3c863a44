"""Numeric preprocessing: ``Rescaling``, ``Normalization`` (with ``adapt``), ``Discretization``.

They run on ``hl.ops`` (inside models and compiled steps); ``adapt`` computes its
statistics on the host with NumPy in float64 from arrays, tensors or an iterable of batches.
"""

from __future__ import annotations

import math

import numpy as np

from highlevel import ops
from highlevel.layers.layer import Layer
from highlevel.layers.preprocessing.encoding import ENCODING_MODES, encode_categorical, encoded_shape
from highlevel.saving import registry


def iterate_batches(layer_label, data):
    """NumPy batches from an array, a tensor, or an iterable of batches (``(x, y)`` tuples give x)."""
    if isinstance(data, np.ndarray) or ops.is_tensor(data):
        yield np.asarray(ops.convert_to_numpy(data) if ops.is_tensor(data) else data)
        return
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{layer_label}: adapt() expects a NumPy array, a tensor or an iterable of batches, "
                        f"got {type(data).__name__}")
    empty = True
    for batch in data:
        if isinstance(batch, tuple):
            batch = batch[0]
        empty = False
        yield np.asarray(ops.convert_to_numpy(batch) if ops.is_tensor(batch) else batch)
    if empty:
        raise ValueError(f"{layer_label}: adapt() received no batches")


@registry.register_serializable(package="highlevel")
class Rescaling(Layer):
    """``inputs * scale + offset`` (``scale``/``offset``: numbers or arrays broadcast on the inputs)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs):
        dtype = self.compute_dtype
        if ops.dtype(inputs) != dtype:
            inputs = ops.cast(inputs, dtype)
        scale = ops.cast(ops.convert_to_tensor(np.asarray(self.scale)), dtype)
        offset = ops.cast(ops.convert_to_tensor(np.asarray(self.offset)), dtype)
        return ops.add(ops.multiply(inputs, scale), offset)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def plain(v):
            return np.asarray(v).tolist() if not isinstance(v, (int, float)) else v
        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}


@registry.register_serializable(package="highlevel")
class Normalization(Layer):
    """``(inputs - mean) / max(sqrt(variance), 1e-7)`` (or its inverse with ``invert=True``).

    axis: the axis (int or tuple) that keeps its own statistics, ``-1`` (features) by default;
    ``None`` for one mean and variance over everything. ``mean``/``variance`` given, or learned
    by ``adapt(data)``: moments over all other axes. Adapted layers have Keras's weights
    ``mean``, ``variance`` (shape of the kept axes) and ``count`` (int, ``()``).
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        label = f"Normalization {self.name!r}"
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        elif not all(isinstance(a, int) for a in axis):
            raise ValueError(f"{label}: axis must be an int, a tuple of ints or None, got axis={axis!r}")
        self.axis = tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError(f"{label}: set both mean and variance, or neither (to adapt), got mean={mean!r}, "
                             f"variance={variance!r}")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._label = label

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"{self._label}: axis {self.axis} is out of range for inputs of rank {ndim} "
                             f"(shape {tuple(input_shape)})")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        if any(input_shape[a] is None for a in self._keep):
            raise ValueError(f"{self._label}: the kept axes {self._keep} must have known sizes, got input shape "
                             f"{tuple(input_shape)}")
        self._reduce = tuple(a for a in range(ndim) if a not in self._keep)
        self._broadcast = tuple(input_shape[a] if a in self._keep else 1 for a in range(ndim))
        stats_shape = tuple(input_shape[a] for a in self._keep)
        self._build_shape = tuple(input_shape)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stats_shape, initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=stats_shape, initializer="ones",
                                                  trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int32", initializer="zeros",
                                         trainable=False)
        else:
            def expand(value):
                value = np.asarray(value, dtype=np.float64)
                if value.ndim:
                    shape = [1] * ndim
                    for i in range(1, value.ndim + 1):
                        shape[self._keep[-i]] = value.shape[-i]
                    value = value.reshape(shape)
                try:
                    return np.broadcast_to(value, self._broadcast).astype(np.float32)
                except ValueError:
                    raise ValueError(f"{self._label}: mean/variance of shape {value.shape} do not fit the kept "
                                     f"axes {self._keep} of inputs {tuple(input_shape)}") from None
            self._fixed = (expand(self.input_mean), expand(self.input_variance))
        self.built = True

    def adapt(self, data):
        """Learn ``mean`` and ``variance`` from ``data`` (array, tensor or iterable of batches)."""
        total_mean = total_var = None
        count = 0
        for batch in iterate_batches(self._label, data):
            batch = batch.astype(np.float64)
            if not self.built:
                self.build(batch.shape)
            if batch.ndim != len(self._build_shape) or any(batch.shape[a] != self._build_shape[a]
                                                           for a in self._keep):
                raise ValueError(f"{self._label}: adapt() got a batch of shape {batch.shape}, expected "
                                 f"{self._build_shape} on the kept axes {self._keep}")
            n = math.prod(batch.shape[a] for a in self._reduce)
            mean, var = batch.mean(axis=self._reduce), batch.var(axis=self._reduce)
            if total_mean is None:
                total_mean, total_var, count = mean, var, n
                continue
            # Chan et al.'s pairwise update of mean and (population) variance.
            delta = mean - total_mean
            new = count + n
            total_var = (total_var * count + var * n + delta ** 2 * count * n / new) / new
            total_mean = total_mean + delta * n / new
            count = new
        if self.input_mean is not None:
            raise ValueError(f"{self._label}: adapt() cannot be used when mean and variance were given")
        self.adapt_mean.assign(total_mean.astype(np.float32))
        self.adapt_variance.assign(total_var.astype(np.float32))
        self.count.assign(np.int32(min(count, 2 ** 31 - 1)))

    def _stats(self):
        if self.input_mean is not None:
            return self._fixed
        return ops.reshape(self.adapt_mean, self._broadcast), ops.reshape(self.adapt_variance, self._broadcast)

    def call(self, inputs):
        if ops.dtype(inputs) != self.compute_dtype:
            inputs = ops.cast(inputs, self.compute_dtype)
        mean, variance = self._stats()
        std = ops.maximum(ops.sqrt(variance), 1e-7)
        if self.invert:
            return ops.add(ops.multiply(inputs, std), mean)
        return ops.divide(ops.subtract(inputs, mean), std)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def plain(v):
            return None if v is None else np.asarray(v).tolist()
        return {**super().get_config(), "axis": self.axis[0] if len(self.axis) == 1 else
                (None if not self.axis else list(self.axis)), "mean": plain(self.input_mean),
                "variance": plain(self.input_variance), "invert": self.invert}


@registry.register_serializable(package="highlevel")
class Discretization(Layer):
    """Bucket index of each value: bucket ``i`` holds ``bin_boundaries[i-1] <= x < bin_boundaries[i]``.

    bin_boundaries: increasing floats (``len + 1`` buckets), or ``num_bins`` learned by
    ``adapt(data)`` as quantiles (exact, ``np.quantile(method="inverted_cdf")``; Keras uses an approximate
    quantile summary, so adapted boundaries may differ slightly). output_mode ``"int"``
    (int64 indices) or ``"one_hot"``/``"multi_hot"``/``"count"`` (float, last axis ``num_bins``).
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 **kwargs):
        super().__init__(**kwargs)
        label = self._label = f"Discretization {self.name!r}"
        if (bin_boundaries is None) == (num_bins is None):
            raise ValueError(f"{label}: set exactly one of bin_boundaries and num_bins, got "
                             f"bin_boundaries={bin_boundaries!r}, num_bins={num_bins!r}")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1):
            raise ValueError(f"{label}: num_bins must be a positive int, got num_bins={num_bins!r}")
        if output_mode not in ("int",) + ENCODING_MODES:
            raise ValueError(f"{label}: output_mode must be one of {('int',) + ENCODING_MODES}, got "
                             f"{output_mode!r}")
        if sparse:
            raise ValueError(f"{label}: sparse=True is not supported (expected False)")
        self.bin_boundaries = None if bin_boundaries is None else [float(b) for b in bin_boundaries]
        if self.bin_boundaries is not None and list(self.bin_boundaries) != sorted(self.bin_boundaries):
            raise ValueError(f"{label}: bin_boundaries must be increasing, got {self.bin_boundaries}")
        self.num_bins = num_bins if bin_boundaries is None else len(self.bin_boundaries) + 1
        self.epsilon = epsilon
        self.output_mode = output_mode

    def adapt(self, data):
        """Learn ``num_bins - 1`` boundaries as evenly spaced quantiles of ``data``."""
        values = np.concatenate([b.reshape(-1).astype(np.float64) for b in iterate_batches(self._label, data)])
        quantiles = np.linspace(0.0, 1.0, self.num_bins + 1)[1:-1]
        self.bin_boundaries = np.quantile(values, quantiles, method="inverted_cdf").tolist()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(f"{self._label}: no bin_boundaries yet; pass them or call adapt() first")
        if not self.bin_boundaries:
            index = ops.zeros(ops.shape(inputs), dtype="int64")
        else:
            x = inputs if ops.dtype(inputs) in ("float32", "float64") else ops.cast(inputs, "float32")
            bounds = ops.convert_to_tensor(np.asarray(self.bin_boundaries, dtype=ops.dtype(x)))
            index = ops.sum(ops.cast(ops.greater_equal(ops.expand_dims(x, -1), bounds), "int64"), axis=-1)
        if self.output_mode == "int":
            return index
        return encode_categorical(index, self.num_bins, self.output_mode, self.compute_dtype, self._label)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return encoded_shape(tuple(input_shape), self.num_bins, self.output_mode)

    def compute_output_spec(self, inputs, *args, **kwargs):
        from highlevel.layers.symbolic import SymbolicTensor
        dtype = "int64" if self.output_mode == "int" else self.compute_dtype
        return SymbolicTensor(self.compute_output_shape(inputs.shape), dtype)

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries,
                "num_bins": None if self.bin_boundaries is not None else self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": False}
