"""``hl.utils.pad_sequences``: variable-length sequences -> one padded NumPy array (Keras's)."""

from __future__ import annotations

import numbers

import numpy as np


def _sequence_lengths(sequences):
    """Each sequence's length and the shape of one step, ``()`` for scalars (from the first non-empty one)."""
    lengths = []
    step_shape = None
    for position, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError as error:
            raise ValueError(f"pad_sequences: sequences must be a list of iterables; the element at position "
                             f"{position} is not: {sequence!r}") from error
        if step_shape is None and len(sequence):
            step_shape = np.asarray(sequence).shape[1:]
    return lengths, (step_shape if step_shape is not None else ())


def _is_string_dtype(dtype):
    return np.dtype(dtype).kind in "SU"


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) every sequence to one length, as ``keras.utils.pad_sequences``.

    sequences: a list of ``num_samples`` sequences (lists or arrays); each step is a
        scalar or an array of one fixed shape ``step_shape``.
    maxlen: the output length; ``None`` uses the longest sequence.
    dtype: the output dtype (``object`` or a string dtype to pad strings).
    padding: ``"pre"`` puts ``value`` before each short sequence, ``"post"`` after it.
    truncating: ``"pre"`` drops the first steps of a long sequence, ``"post"`` its last.
    value: the padding value (a string needs ``dtype=object`` or a string dtype).
    Returns a NumPy array ``(num_samples, maxlen) + step_shape`` of ``dtype``.

    Empty sequences become rows of ``value``. ``padding``/``truncating`` are checked up
    front (Keras checks them only when it meets a non-empty sequence).
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: sequences must be a list of sequences, got {type(sequences).__name__}")
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding must be "pre" or "post", got {padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating must be "pre" or "post", got {truncating!r}')
    lengths, step_shape = _sequence_lengths(sequences)
    if maxlen is None:
        if not lengths:
            raise ValueError("pad_sequences: sequences is empty and maxlen is None, so the length is unknown")
        maxlen = max(lengths)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative int or None, got {maxlen!r}")
    maxlen = int(maxlen)
    if isinstance(value, str) and dtype is not object and not _is_string_dtype(dtype):
        raise ValueError(f"pad_sequences: dtype {dtype} cannot hold the string padding value {value!r}; "
                         f"use dtype=object for variable-length strings")

    padded = np.full((len(lengths), maxlen) + step_shape, value, dtype=dtype)
    for row, (sequence, length) in enumerate(zip(sequences, lengths)):
        if length == 0 or maxlen == 0:
            continue
        if length > maxlen:
            sequence = sequence[length - maxlen:] if truncating == "pre" else sequence[:maxlen]
        kept = np.asarray(sequence, dtype=dtype)
        if kept.shape[1:] != step_shape:
            raise ValueError(f"pad_sequences: every step must have shape {step_shape} (from the first non-empty "
                             f"sequence), but the sequence at position {row} has steps of shape {kept.shape[1:]}")
        if padding == "post":
            padded[row, :len(kept)] = kept
        else:
            padded[row, maxlen - len(kept):] = kept
    return padded


__all__ = ["pad_sequences"]
