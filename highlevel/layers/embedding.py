"""``Embedding``: integer ids -> dense vectors (Keras 3 arguments and weight)."""

from __future__ import annotations

import warnings

import numpy as np

from highlevel import constraints, initializers, ops, regularizers
from highlevel.layers.layer import Layer
from highlevel.saving import registry



def _positive_int(value, what, layer_name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Embedding {layer_name!r}: {what} must be a positive integer, got {what}={value!r} "
                         f"(of type {type(value).__name__})")
    return int(value)


@registry.register_serializable(package="highlevel")
class Embedding(Layer):
    """Rows of the ``embeddings`` matrix ``(input_dim, output_dim)`` picked by integer ids.

    inputs ``(batch, ...)`` of ids in ``[0, input_dim)`` (floats are cast to int32) ->
    outputs ``(batch, ..., output_dim)``. An id ``>= input_dim`` raises ``ValueError``
    (``hl.ops.take`` checks); a negative id counts from the end, as ``np.take``.

    mask_zero: id 0 is padding: ``compute_mask`` returns ``inputs != 0`` and layers
    downstream that take a ``mask`` (RNNs, pooling, attention) skip those steps.
    weights: an optional initial matrix (or a one-element list holding it).
    ``input_length`` (Keras 2) is accepted and ignored. Gradients reach only the rows
    used (``take``'s VJP scatters into a dense gradient).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, **kwargs):
        input_length = kwargs.pop("input_length", None)
        if input_length is not None:
            warnings.warn("Embedding: the argument `input_length` is deprecated and ignored; remove it.",
                          stacklevel=2)
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim", self.name)
        self.output_dim = _positive_int(output_dim, "output_dim", self.name)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        # Ids are never cast to the layer's float dtype.
        self.autocast = False
        if weights is not None:
            self.build()
            if not (isinstance(weights, (list, tuple)) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name="embeddings")
        self.built = True

    def call(self, inputs):
        dtype = ops.dtype(inputs)
        if dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        try:
            return ops.take(self.embeddings, inputs, axis=0)
        except ops.InvalidArgumentError as error:
            raise ops.InvalidArgumentError(
                f"Embedding {self.name!r}: every input id must be in [0, input_dim={self.input_dim}); "
                f"{error}") from error

    def compute_mask(self, inputs, mask=None):
        """``inputs != 0`` (same shape as ``inputs``) when ``mask_zero``, else ``None``."""
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }
