"""Shared by the categorical layers: one-hot / multi-hot / count encodings of integer indices."""

from __future__ import annotations

from highlevel import ops

ENCODING_MODES = ("one_hot", "multi_hot", "count")


def encode_categorical(indices, num_tokens, mode, dtype="float32", label="layer", count_weights=None):
    """Encode integer ``indices`` (values in ``[0, num_tokens)``) as Keras's ``CategoryEncoding``.

    one_hot: ``(...,)`` or ``(..., 1)`` -> ``(..., num_tokens)``. multi_hot / count: the last
    axis is a bag of tokens: ``(batch, k)`` -> ``(batch, num_tokens)``, ``(k,)`` -> ``(num_tokens,)``;
    multi_hot marks presence, count adds ``count_weights`` (or 1) per occurrence.
    """
    shape = tuple(ops.shape(indices))
    if mode == "one_hot":
        if len(shape) >= 2 and shape[-1] == 1:
            indices = ops.squeeze(indices, axis=-1)
        return ops.one_hot(indices, num_tokens, dtype=dtype)
    if len(shape) == 0:
        indices = ops.reshape(indices, (1,))
    if len(shape) > 2:
        raise ValueError(f"{label}: {mode} encoding takes inputs of rank 1 or 2, got shape {shape}")
    hot = ops.one_hot(indices, num_tokens, dtype=dtype)  # (..., k, num_tokens)
    if mode == "multi_hot":
        return ops.max(hot, axis=-2)
    if count_weights is not None:
        hot = ops.multiply(hot, ops.expand_dims(ops.cast(count_weights, dtype), -1))
    return ops.sum(hot, axis=-2)


def encoded_shape(input_shape, num_tokens, mode):
    """Output shape of ``encode_categorical`` for ``input_shape``."""
    input_shape = tuple(input_shape)
    if mode == "one_hot":
        if len(input_shape) >= 2 and input_shape[-1] == 1:
            input_shape = input_shape[:-1]
        return input_shape + (num_tokens,)
    return input_shape[:-1] + (num_tokens,) if input_shape else (num_tokens,)
