"""``CategoryEncoding`` and ``Hashing`` (Keras 3 arguments); integer paths run on ``hl.ops``."""

from __future__ import annotations

import numpy as np

from highlevel import ops
from highlevel.layers.layer import Layer
from highlevel.layers.preprocessing.encoding import ENCODING_MODES, encode_categorical, encoded_shape
from highlevel.layers.preprocessing.hashing_utils import hash_integers, hash_strings
from highlevel.layers.symbolic import SymbolicTensor
from highlevel.saving import registry


def is_string_data(x) -> bool:
    """Whether ``x`` holds strings (a str/bytes/object NumPy array, a str, or a list of them)."""
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO"
    if isinstance(x, (list, tuple)):
        return is_string_data(np.asarray(x))
    return False


@registry.register_serializable(package="highlevel")
class CategoryEncoding(Layer):
    """Integer indices in ``[0, num_tokens)`` -> one-hot / multi-hot / count vectors.

    one_hot: ``(batch,)`` or ``(batch, 1)`` -> ``(batch, num_tokens)``; multi_hot / count:
    ``(batch, k)`` -> ``(batch, num_tokens)`` (``call(inputs, count_weights=None)`` weights
    the counts). Indices outside the range encode as zeros.
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        label = self._label = f"CategoryEncoding {self.name!r}"
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1:
            raise ValueError(f"{label}: num_tokens must be a positive int, got num_tokens={num_tokens!r}")
        if output_mode not in ENCODING_MODES:
            raise ValueError(f"{label}: output_mode must be one of {ENCODING_MODES}, got {output_mode!r}")
        if sparse:
            raise ValueError(f"{label}: sparse=True is not supported (expected False)")
        self.num_tokens, self.output_mode = num_tokens, output_mode
        self._convert_input_args = False

    def call(self, inputs, count_weights=None):
        inputs = ops.convert_to_tensor(inputs)
        if ops.dtype(inputs) not in ("int8", "int16", "int32", "int64", "uint8"):
            inputs = ops.cast(inputs, "int32")
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"{self._label}: count_weights is only used with output_mode='count', "
                             f"got output_mode={self.output_mode!r}")
        return encode_categorical(inputs, self.num_tokens, self.output_mode, self.compute_dtype, self._label,
                                  count_weights)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.num_tokens, self.output_mode)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode,
                "sparse": False}


@registry.register_serializable(package="highlevel")
class Hashing(Layer):
    """Hash values into ``num_bins`` buckets (int64), deterministic across processes and backends.

    Integer inputs hash with ``hl.ops`` (usable in models and compiled steps); string inputs
    (NumPy str/bytes/object arrays or lists) hash on the host and return a backend tensor.
    mask_value: that value maps to 0 and the others to ``1 + hash % (num_bins - 1)``.
    See ``hashing_utils`` for the hash functions (not Keras's FarmHash: buckets differ).
    output_mode ``"int"`` or ``"one_hot"``/``"multi_hot"``/``"count"`` (float, ``num_bins`` wide).
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        label = self._label = f"Hashing {self.name!r}"
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1 or \
                (mask_value is not None and num_bins < 2):
            raise ValueError(f"{label}: num_bins must be a positive int (>= 2 with a mask_value), got "
                             f"num_bins={num_bins!r}")
        if output_mode not in ("int",) + ENCODING_MODES:
            raise ValueError(f"{label}: output_mode must be one of {('int',) + ENCODING_MODES}, got "
                             f"{output_mode!r}")
        if sparse:
            raise ValueError(f"{label}: sparse=True is not supported (expected False)")
        self.num_bins, self.mask_value, self.salt, self.output_mode = num_bins, mask_value, salt, output_mode
        self._convert_input_args = False

    def call(self, inputs):
        bins = self.num_bins - (self.mask_value is not None)
        if is_string_data(inputs):
            values = np.asarray(inputs)
            buckets = hash_strings(values, bins, self.salt)
            if self.mask_value is not None:
                buckets = np.where(values == self.mask_value, 0, buckets + 1)
            out = ops.convert_to_tensor(buckets.astype(np.int64))
        else:
            values = ops.convert_to_tensor(inputs)
            if ops.dtype(values) not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
                raise ValueError(f"{self._label}: expected integer or string inputs, got dtype "
                                 f"{ops.dtype(values)}")
            out = hash_integers(values, bins, self.salt)
            if self.mask_value is not None:
                out = ops.where(ops.equal(values, int(self.mask_value)), ops.zeros_like(out), ops.add(out, 1))
        if self.output_mode == "int":
            return out
        return encode_categorical(out, self.num_bins, self.output_mode, self.compute_dtype, self._label)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return encoded_shape(input_shape, self.num_bins, self.output_mode)

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = "int64" if self.output_mode == "int" else self.compute_dtype
        return SymbolicTensor(self.compute_output_shape(inputs.shape), dtype)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "mask_value": self.mask_value,
                "salt": self.salt, "output_mode": self.output_mode, "sparse": False}
