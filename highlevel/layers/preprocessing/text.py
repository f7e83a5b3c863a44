"""``TextVectorization``: strings -> token indices or bag-of-words vectors (host NumPy, Keras 3 layout).

Standardization and splitting run on the host in Python; the lookup is a ``StringLookup``
(index 0 the padding/mask token ``""`` in ``"int"`` mode, then ``"[UNK]"``, then the
vocabulary by decreasing frequency). The layer takes a str, a list or a NumPy array of
strings (``(batch,)`` or ``(batch, 1)``) and returns a backend tensor: int64
``(batch, output_sequence_length)`` in ``"int"`` mode, float ``(batch, vocabulary_size)``
otherwise. Use it on the data (``dataset.map``-style, before ``fit``), as Keras advises.
"""

from __future__ import annotations

import re
import string

import numpy as np

from highlevel import ops
from highlevel.layers.layer import Layer
from highlevel.layers.preprocessing.lookup import StringLookup
from highlevel.layers.preprocessing.numerical import iterate_batches
from highlevel.layers.symbolic import SymbolicTensor
from highlevel.saving import registry

_PUNCTUATION = re.compile("[%s]" % re.escape(string.punctuation))
STANDARDIZE = (None, "lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = (None, "whitespace", "character")


@registry.register_serializable(package="highlevel")
class TextVectorization(Layer):
    """Keras's ``TextVectorization`` with string ``standardize``/``split`` options (or callables).

    ngrams: None, an int n (all 1..n-grams) or a tuple of sizes; n-grams join tokens with a space.
    output_mode ``"int"`` | ``"multi_hot"`` | ``"count"`` | ``"tf_idf"``.
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", **kwargs):
        super().__init__(**kwargs)
        label = self._label = f"TextVectorization {self.name!r}"
        if not (callable(standardize) or standardize in STANDARDIZE):
            raise ValueError(f"{label}: standardize must be one of {STANDARDIZE} or a callable, got {standardize!r}")
        if not (callable(split) or split in SPLIT):
            raise ValueError(f"{label}: split must be one of {SPLIT} or a callable, got {split!r}")
        if output_mode not in ("int", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"{label}: output_mode must be one of ('int', 'multi_hot', 'count', 'tf_idf'), got "
                             f"{output_mode!r}")
        if isinstance(ngrams, int) and not isinstance(ngrams, bool):
            if ngrams < 1:
                raise ValueError(f"{label}: ngrams must be None, a positive int or a tuple of them, got {ngrams!r}")
            self._ngram_sizes = tuple(range(1, ngrams + 1))
        elif ngrams is None:
            self._ngram_sizes = (1,)
        elif isinstance(ngrams, (tuple, list)) and all(isinstance(n, int) and n > 0 for n in ngrams):
            self._ngram_sizes = tuple(ngrams)
        else:
            raise ValueError(f"{label}: ngrams must be None, a positive int or a tuple of them, got {ngrams!r}")
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError(f"{label}: output_sequence_length is only used with output_mode='int'")
        if sparse or ragged:
            raise ValueError(f"{label}: sparse and ragged outputs are not supported")
        self.max_tokens, self.standardize, self.split, self.ngrams = max_tokens, standardize, split, ngrams
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.pad_to_max_tokens, self.encoding = bool(pad_to_max_tokens), encoding
        self._lookup = StringLookup(max_tokens=max_tokens, num_oov_indices=1,
                                    mask_token="" if output_mode == "int" else None, oov_token="[UNK]",
                                    vocabulary=vocabulary, idf_weights=idf_weights, output_mode=output_mode,
                                    pad_to_max_tokens=pad_to_max_tokens, encoding=encoding,
                                    name=f"{self.name}_lookup")
        self._convert_input_args = False

    # ------------------------------------------------------------------ tokens
    def _tokens(self, text: str) -> list:
        if isinstance(text, bytes):
            text = text.decode(self.encoding)
        if self.standardize in ("lower_and_strip_punctuation", "lower"):
            text = text.lower()
        if self.standardize in ("lower_and_strip_punctuation", "strip_punctuation"):
            text = _PUNCTUATION.sub("", text)
        elif callable(self.standardize):
            text = self.standardize(text)
        if self.split == "whitespace":
            words = text.split()
        elif self.split == "character":
            words = list(text)
        elif self.split is None:
            words = [text]
        else:
            words = list(self.split(text))
        out = []
        for n in self._ngram_sizes:
            out.extend(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
        return out

    def _documents(self, inputs) -> list:
        if isinstance(inputs, (str, bytes)):
            inputs = [inputs]
        values = np.asarray(inputs, dtype=object)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise ValueError(f"{self._label}: expected a batch of strings of shape (batch,) or (batch, 1), got "
                             f"shape {values.shape}")
        return [self._tokens(t) for t in values.tolist()]

    # -------------------------------------------------------------- vocabulary
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and IDF weights) from strings: an array/list or an iterable of batches."""
        documents = []
        source = [data] if isinstance(data, (list, np.ndarray, str)) else data
        for batch in iterate_batches(self._label, source):
            documents.extend(self._documents(batch))
        self._lookup.learn_vocabulary(documents)

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup.set_vocabulary(vocabulary, idf_weights)

    # -------------------------------------------------------------------- call
    def call(self, inputs):
        if ops.is_tensor(inputs):
            raise ValueError(f"{self._label}: expected host strings (a str, list or NumPy array), got a tensor")
        documents = self._documents(inputs)
        if self.output_mode == "int":
            length = self.output_sequence_length or max((len(d) for d in documents), default=0)
            ids = np.zeros((len(documents), length), dtype=np.int64)
            for row, tokens in enumerate(documents):
                tokens = tokens[:length]
                if tokens:
                    ids[row, :len(tokens)] = self._lookup.lookup(np.array(tokens, dtype=object))
            return ops.convert_to_tensor(ids)
        longest = max((len(d) for d in documents), default=0)
        # Pad with the OOV token's index replaced by an out-of-range id: encodes as zeros.
        ids = np.full((len(documents), max(longest, 1)), self._lookup._depth(), dtype=np.int64)
        for row, tokens in enumerate(documents):
            if tokens:
                ids[row, :len(tokens)] = self._lookup.lookup(np.array(tokens, dtype=object))
        return self._lookup._encode(ops.convert_to_tensor(ids))

    def compute_output_shape(self, input_shape):
        batch = tuple(input_shape)[:1]
        if self.output_mode == "int":
            return batch + (self.output_sequence_length,)
        return batch + (self._lookup._depth(),)

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = "int64" if self.output_mode == "int" else self.compute_dtype
        return SymbolicTensor(self.compute_output_shape(inputs.shape), dtype)

    def get_config(self):
        lookup = self._lookup.get_config()
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "standardize": self.standardize if not callable(self.standardize) else None,
                "split": self.split if not callable(self.split) else None,
                "ngrams": list(self.ngrams) if isinstance(self.ngrams, tuple) else self.ngrams,
                "output_mode": self.output_mode, "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "vocabulary": lookup["vocabulary"],
                "idf_weights": lookup["idf_weights"], "encoding": self.encoding}
