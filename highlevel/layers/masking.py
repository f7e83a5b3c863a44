"""``Masking``: mark the steps whose features all equal ``mask_value`` as padding."""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import SymbolicTensor
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class Masking(Layer):
    """inputs ``(batch, steps, ..., features)`` -> the same, with masked steps set to zero.

    A step is masked when every entry of its last axis equals ``mask_value``;
    ``compute_mask`` returns ``(batch, steps, ...)`` booleans, true where any feature
    differs (Keras's convention: true = keep). Layers downstream that take a ``mask``
    (RNNs, pooling, attention) skip the masked steps; layers with ``supports_masking``
    pass the mask on.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise ValueError(f"Masking {self.name!r}: mask_value must be a number, got mask_value={mask_value!r}")
        self.mask_value = mask_value
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=2)

    def _keep(self, inputs, keepdims):
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=keepdims)

    def call(self, inputs):
        return ops.where(self._keep(inputs, True), inputs, ops.zeros_like(inputs))

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs, False)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, *args, **kwargs):
        return SymbolicTensor(inputs.shape, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
