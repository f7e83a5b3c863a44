"""``Bidirectional``: an RNN layer run forwards and backwards over the sequence, outputs merged."""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.layer import Layer
from highlevel.layers.recurrent.rnn import RNN
from highlevel.saving import registry

_MERGE_MODES = ("sum", "mul", "concat", "ave", None)


def _clone(layer, **overrides):
    config = layer.get_config()
    config.update(overrides)
    return type(layer).from_config(config)


@registry.register_serializable(package="highlevel")
class Bidirectional(Layer):
    """``layer`` (an ``RNN``: ``LSTM``, ``GRU``, ...) cloned into a forward and a backward copy.

    The backward copy runs with ``go_backwards`` flipped (or is ``backward_layer``); with
    ``return_sequences`` its outputs are reversed back into time order. merge_mode:
    ``"concat"`` (last axis), ``"sum"``, ``"mul"``, ``"ave"`` or ``None`` (a list of both).
    With ``return_state``: ``[merged, *forward_states, *backward_states]``. Weights: the
    forward layer's, then the backward layer's (Keras's order).
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional {self.name!r}: expected an RNN layer (LSTM, GRU, SimpleRNN, RNN), "
                             f"got layer={layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional {self.name!r}: merge_mode must be one of {_MERGE_MODES}, "
                             f"got merge_mode={merge_mode!r}")
        self.forward_layer = _clone(layer, name=f"forward_{layer.name}")
        if backward_layer is None:
            self.backward_layer = _clone(layer, name=f"backward_{layer.name}", go_backwards=not layer.go_backwards)
        else:
            if not isinstance(backward_layer, RNN):
                raise ValueError(f"Bidirectional {self.name!r}: backward_layer must be an RNN layer, "
                                 f"got {backward_layer!r}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(f"Bidirectional {self.name!r}: backward_layer.go_backwards must be the opposite "
                                 f"of layer.go_backwards ({layer.go_backwards}), got {backward_layer.go_backwards}")
            for attribute in ("return_sequences", "return_state", "stateful"):
                if getattr(backward_layer, attribute) != getattr(layer, attribute):
                    raise ValueError(f"Bidirectional {self.name!r}: backward_layer.{attribute} must equal "
                                     f"layer.{attribute} ({getattr(layer, attribute)}), got "
                                     f"{getattr(backward_layer, attribute)}")
            self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self.supports_masking = True
        self.input_spec = layer.input_spec
        self._initial_weights = weights

    def build(self, sequences_shape, initial_state_shape=None):
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(tuple(sequences_shape))
                layer.built = True
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_state = backward_state = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            half = len(states) // 2
            if len(states) % 2 or not half:
                raise ValueError(f"Bidirectional {self.name!r}: initial_state must hold the forward layer's states "
                                 f"then the backward layer's (an even number), got {len(states)}")
            forward_state, backward_state = states[:half], states[half:]
        kwargs = {} if training is None else {"training": training}
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask, **kwargs)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask, **kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        output = self._merge(y, y_rev)
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + states
        return output

    def _merge(self, y, y_rev):
        mode = self.merge_mode
        if mode == "concat":
            return ops.concatenate([y, y_rev], axis=-1)
        if mode == "sum":
            return ops.add(y, y_rev)
        if mode == "ave":
            return ops.multiply(ops.add(y, y_rev), 0.5)
        if mode == "mul":
            return ops.multiply(y, y_rev)
        return [y, y_rev]

    def reset_states(self):
        self.reset_state()

    def reset_state(self):
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        forward = self.forward_layer.compute_output_shape(sequences_shape)
        backward = self.backward_layer.compute_output_shape(sequences_shape)
        states = []
        if self.return_state:
            states = list(forward[1:]) + list(backward[1:])
            forward, backward = forward[0], backward[0]
        if self.merge_mode == "concat":
            merged = [tuple(forward[:-1]) + (forward[-1] + backward[-1],)]
        elif self.merge_mode is None:
            merged = [tuple(forward), tuple(backward)]
        else:
            merged = [tuple(forward)]
        if not self.return_state and len(merged) == 1:
            return merged[0]
        return merged + states

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        outputs = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            count = len(self.forward_layer.state_size) + len(self.backward_layer.state_size)
            return outputs + [None] * count
        return outputs if self.merge_mode is None else output_mask

    def get_config(self):
        config = {**super().get_config(), "layer": registry.serialize(self.forward_layer),
                  "merge_mode": self.merge_mode}
        config["layer"]["config"]["name"] = self.forward_layer.name[len("forward_"):]
        config["backward_layer"] = registry.serialize(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = registry.deserialize(config.pop("layer"), custom_objects=custom_objects, expected="layer")
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = registry.deserialize(backward, custom_objects=custom_objects, expected="layer")
        return cls(layer, backward_layer=backward, **config)
