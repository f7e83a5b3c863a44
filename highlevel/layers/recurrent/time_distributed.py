"""``TimeDistributed``: apply a layer to every step of ``(batch, steps, ...)`` independently."""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer, _call_signature
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class TimeDistributed(Layer):
    """``layer`` on each step: inputs ``(batch, steps, *rest)`` are folded to ``(batch * steps, *rest)``,
    passed through ``layer`` and unfolded to ``(batch, steps, *out)``. The layer's weights are shared
    by all steps. A mask ``(batch, steps)`` passes through (and reaches a layer that takes one)."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed {self.name!r}: expected a Layer instance, got {layer!r}")
        self.layer = layer
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)

    def _child_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        folded = batch * steps if batch is not None and steps is not None else None
        return (folded,) + tuple(input_shape[2:])

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(self._child_shape(tuple(input_shape)))
            self.layer.built = True
        self.built = True

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(tuple(input_shape)))
        return (input_shape[0], input_shape[1]) + tuple(child[1:])

    def call(self, inputs, training=None, mask=None):
        shape = ops.shape(inputs)
        batch, steps = shape[0], shape[1]
        folded = ops.reshape(inputs, (batch * steps,) + tuple(shape[2:]))
        kwargs = {}
        if mask is not None and _call_signature(type(self.layer))[2]:
            kwargs["mask"] = ops.reshape(mask, (batch * steps,) + tuple(ops.shape(mask)[2:]))
        outputs = self.layer(folded, **kwargs)
        out_shape = ops.shape(outputs)
        return ops.reshape(outputs, (batch, steps) + tuple(out_shape[1:]))

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "layer": registry.serialize(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = registry.deserialize(config.pop("layer"), custom_objects=custom_objects, expected="layer")
        return cls(layer, **config)
