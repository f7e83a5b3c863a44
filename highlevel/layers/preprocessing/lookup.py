"""``StringLookup`` and ``IntegerLookup``: vocabulary <-> index maps (Keras 3 arguments and layout).

Index layout, as Keras: ``[mask_token]`` (if one is set) at 0, then ``num_oov_indices`` OOV
slots, then the vocabulary. ``adapt`` orders tokens by decreasing frequency, ties by
decreasing token (Keras's ``lexsort``), and learns IDF weights for ``"tf_idf"``.

``StringLookup`` runs on the host: it takes NumPy str/bytes/object arrays or lists and
returns a backend int64 tensor (``invert=True`` returns a NumPy str array: the engines have
no common string tensor). ``IntegerLookup`` maps with ``hl.ops`` (usable in models and
compiled steps; its ``invert`` is ``hl.ops.take``). OOV values go to slot
``value mod num_oov_indices`` for integers and to a stable hash bucket for strings.
"""

from __future__ import annotations

import collections

import numpy as np

from highlevel import ops
from highlevel.layers.layer import Layer
from highlevel.layers.preprocessing.encoding import encode_categorical
from highlevel.layers.preprocessing.hashing_utils import hash_strings
from highlevel.layers.preprocessing.numerical import iterate_batches
from highlevel.layers.symbolic import SymbolicTensor
from highlevel.saving import registry

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class IndexLookup(Layer):
    """The shared machinery of the lookup layers (see the module docstring)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 **kwargs):
        super().__init__(**kwargs)
        label = self._label = f"{type(self).__name__} {self.name!r}"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"{label}: output_mode must be one of {OUTPUT_MODES}, got {output_mode!r}")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError(f"{label}: num_oov_indices must be an int >= 0, got {num_oov_indices!r}")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 1):
            raise ValueError(f"{label}: max_tokens must be None or an int > 1, got max_tokens={max_tokens!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{label}: invert=True needs output_mode='int', got output_mode={output_mode!r}")
        if sparse:
            raise ValueError(f"{label}: sparse=True is not supported (expected False)")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{label}: idf_weights is only used with output_mode='tf_idf'")
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode, self.pad_to_max_tokens = bool(invert), output_mode, bool(pad_to_max_tokens)
        self._convert_input_args = False
        self._vocabulary = []
        self.idf_weights = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif output_mode == "tf_idf" and idf_weights is not None:
            raise ValueError(f"{label}: idf_weights need a vocabulary")

    # ---------------------------------------------------------------- vocabulary
    def _token_start(self):
        return (self.mask_token is not None) + self.num_oov_indices

    def _special_tokens(self):
        return ([self.mask_token] if self.mask_token is not None else []) + [self.oov_token] * self.num_oov_indices

    def _normalize_token(self, token):  # overridden
        return token

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Set the vocabulary (a list/array of unique tokens, special tokens excluded or leading)."""
        tokens = [self._normalize_token(t) for t in np.asarray(vocabulary).reshape(-1).tolist()]
        specials = self._special_tokens()
        if tokens[:len(specials)] == specials and specials:
            tokens = tokens[len(specials):]
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"{self._label}: the vocabulary must not contain duplicates, got {tokens[:20]}")
        if any(t == self.mask_token for t in tokens if self.mask_token is not None) or \
                (self.num_oov_indices and self.oov_token in tokens):
            raise ValueError(f"{self._label}: the vocabulary must not contain the mask or OOV token "
                             f"({self.mask_token!r}, {self.oov_token!r})")
        if self.max_tokens is not None and len(tokens) + self._token_start() > self.max_tokens:
            raise ValueError(f"{self._label}: a vocabulary of {len(tokens)} tokens plus {self._token_start()} "
                             f"special ones exceeds max_tokens={self.max_tokens}")
        self._vocabulary = tokens
        self._index = {t: i + self._token_start() for i, t in enumerate(tokens)}
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{self._label}: output_mode='tf_idf' needs idf_weights with the vocabulary")
            idf = np.asarray(idf_weights, dtype=np.float32).reshape(-1)
            if len(idf) == len(tokens):  # pad the special slots with the mean weight, as Keras
                idf = np.concatenate([np.full(self._token_start(), idf.mean() if len(idf) else 0.0), idf])
            if len(idf) != len(tokens) + self._token_start():
                raise ValueError(f"{self._label}: idf_weights has {len(idf)} entries for {len(tokens)} tokens")
            self.idf_weights = idf.astype(np.float32)
        self._on_vocabulary()

    def _on_vocabulary(self):
        pass

    def get_vocabulary(self, include_special_tokens=True):
        return (self._special_tokens() if include_special_tokens else []) + list(self._vocabulary)

    def vocabulary_size(self):
        return len(self._vocabulary) + self._token_start()

    def adapt(self, data, steps=None):
        """Learn the vocabulary (and IDF weights) from ``data``: an array, list or iterable of batches."""
        rows = []
        for batch in iterate_batches(self._label, [data] if isinstance(data, (list, np.ndarray)) else data):
            batch = np.asarray(batch)
            rows.extend((batch.reshape(batch.shape[0], -1) if batch.ndim > 1 else batch.reshape(-1, 1)).tolist())
        self.learn_vocabulary(rows)

    def learn_vocabulary(self, documents):
        """Set the vocabulary from ``documents``: a list of token lists (each one document for IDF)."""
        counts, document_counts = collections.Counter(), collections.Counter()
        for row in documents:
            row = [self._normalize_token(t) for t in row]
            row = [t for t in row if t != self.mask_token and not (self.num_oov_indices and t == self.oov_token)]
            counts.update(row)
            document_counts.update(set(row))
        documents = len(documents)
        tokens = np.array(list(counts), dtype=object)
        frequency = np.array([counts[t] for t in tokens], dtype=np.int64)
        order = np.lexsort((np.array(tokens.tolist()), frequency))[::-1] if len(tokens) else []
        tokens = [tokens[i] for i in order]
        if self.max_tokens is not None:
            tokens = tokens[:max(self.max_tokens - self._token_start(), 0)]
        idf = None
        if self.output_mode == "tf_idf":
            df = np.array([document_counts[t] for t in tokens], dtype=np.float64)
            idf = np.log(1.0 + documents / (1.0 + df))
        self.set_vocabulary(tokens, idf)

    # ---------------------------------------------------------------- encoding
    def _depth(self):
        if self.pad_to_max_tokens and self.max_tokens is not None:
            return self.max_tokens
        return self.vocabulary_size()

    def _encode(self, indices):
        if self.output_mode == "int":
            return indices
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = encode_categorical(indices, self._depth(), mode, self.compute_dtype, self._label)
        if self.output_mode == "tf_idf":
            idf = np.zeros(self._depth(), dtype=np.float32)
            idf[:len(self.idf_weights)] = self.idf_weights
            out = ops.multiply(out, ops.convert_to_tensor(idf))
        return out

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        if self.output_mode == "one_hot":
            return (input_shape[:-1] if len(input_shape) >= 2 and input_shape[-1] == 1 else input_shape) + \
                (self._depth(),)
        return input_shape[:-1] + (self._depth(),)

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = "int64" if self.output_mode == "int" else self.compute_dtype
        return SymbolicTensor(self.compute_output_shape(inputs.shape), dtype)

    def get_config(self):
        idf = None
        if self.idf_weights is not None:
            idf = self.idf_weights[self._token_start():].tolist()
        return {**super().get_config(), "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token, "oov_token": self.oov_token, "invert": self.invert,
                "output_mode": self.output_mode, "sparse": False, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary": self._plain_vocabulary() if self._vocabulary else None, "idf_weights": idf}

    def _plain_vocabulary(self):
        return list(self._vocabulary)


@registry.register_serializable(package="highlevel")
class StringLookup(IndexLookup):
    """Strings -> int64 indices (or the inverse with ``invert=True``); runs on host data.

    Defaults as Keras: ``num_oov_indices=1``, ``mask_token=None``, ``oov_token="[UNK]"``.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", **kwargs):
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse, pad_to_max_tokens=pad_to_max_tokens, **kwargs)

    def _normalize_token(self, token):
        return token.decode(self.encoding) if isinstance(token, bytes) else str(token)

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """int64 indices of a NumPy array of strings (host)."""
        start_oov = int(self.mask_token is not None)
        flat = [self._normalize_token(t) for t in values.reshape(-1).tolist()]
        out = np.empty(len(flat), dtype=np.int64)
        oov = [i for i, t in enumerate(flat) if t not in self._index and t != self.mask_token]
        if oov and self.num_oov_indices == 0:
            raise ValueError(f"{self._label}: out-of-vocabulary values {[flat[i] for i in oov[:5]]} with "
                             f"num_oov_indices=0")
        for i, t in enumerate(flat):
            out[i] = 0 if (self.mask_token is not None and t == self.mask_token) else self._index.get(t, -1)
        if oov:
            buckets = hash_strings(np.array([flat[i] for i in oov], dtype=object), self.num_oov_indices) \
                if self.num_oov_indices > 1 else np.zeros(len(oov), dtype=np.int64)
            out[oov] = start_oov + buckets
        return out.reshape(values.shape)

    def call(self, inputs):
        values = np.asarray(ops.convert_to_numpy(inputs) if ops.is_tensor(inputs) else inputs)
        if self.invert:
            table = np.array(self.get_vocabulary(), dtype=object)
            index = values.astype(np.int64)
            valid = (index >= 0) & (index < len(table))
            return np.where(valid, table[np.clip(index, 0, len(table) - 1)], self.oov_token).astype(str)
        if values.dtype.kind not in "USO":
            raise ValueError(f"{self._label}: expected string inputs, got dtype {values.dtype}")
        return self._encode(ops.convert_to_tensor(self.lookup(values)))

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}


@registry.register_serializable(package="highlevel")
class IntegerLookup(IndexLookup):
    """Integers -> int64 indices (or the inverse with ``invert=True``), with ``hl.ops``.

    Defaults as Keras: ``num_oov_indices=1``, ``mask_token=None``, ``oov_token=-1``.
    With ``num_oov_indices=0`` an OOV value maps to -1.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, output_mode="int",
                 sparse=False, vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 pad_to_max_tokens=False, **kwargs):
        if vocabulary_dtype not in ("int32", "int64"):
            raise ValueError(f"IntegerLookup: vocabulary_dtype must be 'int32' or 'int64', got {vocabulary_dtype!r}")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse, pad_to_max_tokens=pad_to_max_tokens, **kwargs)

    def _normalize_token(self, token):
        return int(token)

    def _plain_vocabulary(self):
        return [int(t) for t in self._vocabulary]

    def call(self, inputs):
        values = ops.convert_to_tensor(inputs)
        if ops.dtype(values) not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise ValueError(f"{self._label}: expected integer inputs, got dtype {ops.dtype(values)}")
        values = ops.cast(values, "int64")
        if self.invert:
            table = ops.convert_to_tensor(np.array(self.get_vocabulary(), dtype=np.int64))
            size = self.vocabulary_size()
            valid = ops.logical_and(ops.greater_equal(values, 0), ops.less(values, size))
            taken = ops.take(table, ops.clip(values, 0, size - 1))
            return ops.where(valid, taken, ops.full_like(taken, int(self.oov_token)))
        mask_offset = int(self.mask_token is not None)
        if self.num_oov_indices > 1:
            oov = ops.add(ops.mod(values, self.num_oov_indices), mask_offset)
        else:
            oov = ops.full_like(values, mask_offset if self.num_oov_indices else -1)
        if self._vocabulary:
            vocab = ops.convert_to_tensor(np.array(self._vocabulary, dtype=np.int64))
            hits = ops.equal(ops.expand_dims(values, -1), vocab)
            found = ops.any(hits, axis=-1)
            position = ops.cast(ops.argmax(ops.cast(hits, "int32"), axis=-1), "int64")
            index = ops.where(found, ops.add(position, self._token_start()), oov)
        else:
            index = oov
        if self.mask_token is not None:
            index = ops.where(ops.equal(values, int(self.mask_token)), ops.zeros_like(index), index)
        return self._encode(index)

    def get_config(self):
        return {**super().get_config(), "vocabulary_dtype": self.vocabulary_dtype}
