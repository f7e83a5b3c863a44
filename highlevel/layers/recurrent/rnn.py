"""``RNN``: runs a cell over the steps of a sequence; ``DropoutRNNCell``: per-sequence dropout masks.

A cell is a layer with ``call(inputs, states, training=False) -> (output, new_states)``
(inputs ``(batch, features)``, states a list of ``(batch, size)`` tensors) and a
``state_size`` (an int or a list of ints); optionally ``output_size`` and
``get_initial_state(batch_size)``. ``RNN(cell)`` loops over the static number of steps
with ``hl.ops`` (traceable by ``tf.function``, recorded by the NumPy tape), masks steps
(a masked step keeps the previous states and repeats the previous output, or outputs
zeros with ``zero_output_for_mask``), runs backwards, keeps states across calls
(``stateful``) and takes initial states. ``LSTM`` and ``GRU`` replace the loop by a
fused op (``hl.ops.lstm``/``gru``) where it computes the same function.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer, _call_signature
from highlevel.saving import registry


class DropoutRNNCell:
    """Mixin for cells with ``dropout``/``recurrent_dropout``: one mask per sequence.

    A mask is drawn at the first step of a call (``get_dropout_mask``) and reused at every
    step until the ``RNN`` resets it after the loop, as Keras does. ``seed``: a repeatable
    sequence of masks (``seed + n`` for the n-th mask drawn).
    """

    _dropout_mask = None
    _recurrent_dropout_mask = None
    _masks_drawn = 0

    def _draw_mask(self, like, rate):
        seed = None
        if getattr(self, "seed", None) is not None:
            seed = self.seed + self._masks_drawn
            self._masks_drawn += 1
        return ops.dropout(ops.ones_like(like), rate, seed=seed)

    def get_dropout_mask(self, step_input):
        """The inputs' mask (``(batch, features)``, entries 0 or ``1 / (1 - dropout)``)."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._draw_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state):
        """The recurrent state's mask (``(batch, units)``)."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw_mask(state, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None


def check_dropout_rate(layer_name, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{layer_name}: {name} must be a float in [0, 1], got {name}={value!r}")
    return float(value)


def check_units(layer_name, units):
    if isinstance(units, bool) or not isinstance(units, (int, float)) or units <= 0 or int(units) != units:
        raise ValueError(f"{layer_name}: units must be a positive integer, got units={units!r}")
    return int(units)


def as_state_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


def rnn_loop(step, inputs, initial_states, mask=None, go_backwards=False, return_all_outputs=True,
             zero_output_for_mask=False):
    """Run ``step(x_t, states) -> (output, new_states)`` over the steps of ``inputs`` (batch, steps, ...).

    mask: ``(batch, steps)`` booleans or None; where it is false the states stay and the
    output repeats the previous one (zeros with ``zero_output_for_mask``). Returns
    ``(last_output, outputs (batch, steps, ...) or None, final states)``; outputs are in
    processing order (reversed with ``go_backwards``), as Keras.
    """
    steps = ops.shape(inputs)[1]
    pieces = ops.split(inputs, steps, axis=1) if steps > 1 else [inputs]
    xs = [ops.squeeze(p, axis=1) for p in pieces]
    masks = None
    if mask is not None:
        masks = ops.split(mask, steps, axis=1) if steps > 1 else [mask]   # each (batch, 1)
    if go_backwards:
        xs = xs[::-1]
        masks = masks[::-1] if masks is not None else None
    states = list(initial_states)
    outputs, previous = [], None
    for t, x_t in enumerate(xs):
        output, new_states = step(x_t, states)
        new_states = as_state_list(new_states)
        if masks is not None:
            keep = masks[t]
            if previous is None or zero_output_for_mask:
                previous = ops.zeros_like(output)
            output = ops.where(keep, output, previous)
            new_states = [ops.where(keep, new, old) for new, old in zip(new_states, states)]
            previous = output
        states = new_states
        if return_all_outputs or t == len(xs) - 1:
            outputs.append(output)
    sequence = ops.stack(outputs, axis=1) if return_all_outputs else None
    return outputs[-1], sequence, states


@registry.register_serializable(package="highlevel")
class RNN(Layer):
    """Base class of recurrent layers: ``cell`` applied over the steps of ``(batch, steps, features)``.

    cell: a cell layer (see the module docstring) or a list of cells (stacked with
    ``StackedRNNCells``). Returns the last output ``(batch, output_size)``, or every
    output ``(batch, steps, output_size)`` with ``return_sequences``; with
    ``return_state`` also the final states: ``[output, *states]``.

    Call arguments: ``sequences``, ``initial_state`` (a tensor or list, one per state),
    ``mask`` (``(batch, steps)`` booleans, false = skip the step), ``training``.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            from highlevel.layers.recurrent.stacked_rnn_cells import StackedRNNCells
            cell = StackedRNNCells(cell)
        super().__init__(**kwargs)
        kind = type(self).__name__
        if not callable(getattr(cell, "call", None)):
            raise ValueError(f"{kind} {self.name!r}: the cell must be a layer with a call(inputs, states) method, "
                             f"got cell={cell!r}")
        state_size = getattr(cell, "state_size", None)
        if state_size is None:
            raise ValueError(f"{kind} {self.name!r}: the cell must have a state_size attribute (an int or a list "
                             f"of ints, one per state), got cell={cell!r}")
        sizes = [state_size] if isinstance(state_size, int) else list(state_size)
        if not sizes or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(f"{kind} {self.name!r}: the cell's state_size must be a positive int or a list of "
                             f"them, got {state_size!r}")
        self.cell = cell
        self.state_size = sizes
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)   # accepted for Keras compatibility: the loop is always unrolled
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)
        self.states = None
        self._expected_batch_size = None

    # ------------------------------------------------------------------ build
    def build(self, sequences_shape, initial_state_shape=None):
        sequences_shape = tuple(sequences_shape)
        step_shape = (sequences_shape[0],) + sequences_shape[2:]
        if not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True
            # Keras's weight paths: "lstm/lstm_cell/kernel".
            for variable in self.cell.weights:
                if not variable.path.startswith(f"{self.name}/"):
                    variable.path = f"{self.name}/{variable.path}"
        spec = self.input_spec
        if spec is not None and sequences_shape[-1] is not None and len(sequences_shape) == 3:
            # Later calls must bring as many features as the weights were built for.
            self.input_spec = InputSpec(ndim=spec.ndim, min_ndim=spec.min_ndim, axes={-1: sequences_shape[-1]})
        if self.stateful:
            batch = sequences_shape[0]
            if batch is None:
                raise ValueError(f"{type(self).__name__} {self.name!r}: stateful=True needs a fixed batch size; "
                                 f"got input shape {sequences_shape} (pass batch_size to hl.Input or "
                                 f"batch_input_shape)")
            if self.states is None:
                self.states = [ops.Variable(s, trainable=False, name="rnn_state")
                               for s in self.get_initial_state(batch)]
            self._expected_batch_size = batch
        self.built = True

    def get_initial_state(self, batch_size):
        """Zero states (or the cell's ``get_initial_state``), one ``(batch, size)`` tensor per state."""
        cell_fn = getattr(self.cell, "get_initial_state", None)
        if cell_fn is not None:
            return as_state_list(cell_fn(batch_size=batch_size))
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def reset_state(self):
        """Zero the kept states of a stateful layer."""
        if self.states is not None:
            for variable in self.states:
                variable.assign(ops.zeros_like(variable.value))

    def reset_states(self):
        self.reset_state()

    # ------------------------------------------------------------------- call
    def call(self, sequences, initial_state=None, mask=None, training=False):
        shape = ops.shape(sequences)
        kind = type(self).__name__
        if initial_state is None:
            initial_state = list(self.states) if self.stateful else self.get_initial_state(shape[0])
        else:
            initial_state = as_state_list(initial_state)
            if len(initial_state) != len(self.state_size):
                raise ValueError(f"{kind} {self.name!r} expects {len(self.state_size)} initial state(s) (state_size "
                                 f"{self.state_size}), got {len(initial_state)}")
            for i, (state, size) in enumerate(zip(initial_state, self.state_size)):
                state_shape = tuple(ops.shape(state))
                if len(state_shape) != 2 or state_shape[1] != size or state_shape[0] != shape[0]:
                    raise ValueError(f"{kind} {self.name!r}: initial_state[{i}] must have shape "
                                     f"{(shape[0], size)}, got {state_shape}")
        if self.stateful and self._expected_batch_size is not None and shape[0] != self._expected_batch_size:
            raise ValueError(f"{kind} {self.name!r} is stateful: the batch size must stay "
                             f"{self._expected_batch_size}, got input shape {tuple(shape)}")
        if mask is not None:
            mask = ops.convert_to_tensor(mask)
            if ops.dtype(mask) != "bool":
                mask = ops.cast(mask, "bool")
            if tuple(ops.shape(mask)) != tuple(shape[:2]):
                raise ValueError(f"{kind} {self.name!r}: the mask must have shape (batch, steps) = "
                                 f"{tuple(shape[:2])}, got {tuple(ops.shape(mask))}")
        self._reset_dropout_masks(self.cell)
        try:
            last, outputs, states = self.inner_loop(sequences, initial_state, mask, training=training)
        finally:
            self._reset_dropout_masks(self.cell)
        if self.stateful:
            for variable, state in zip(self.states, states):
                variable.assign(ops.stop_gradient(state))
        output = outputs if self.return_sequences else last
        if self.return_state:
            return [output, *states]
        return output

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """``(last_output, outputs or None, states)``: the cell, step by step (subclasses may fuse it)."""
        accepts_training = _call_signature(type(self.cell))[0]
        kwargs = {"training": training} if accepts_training else {}

        def step(x_t, states):
            output, new_states = self.cell(x_t, states, **kwargs)
            return output, new_states

        return rnn_loop(step, sequences, initial_state, mask=mask, go_backwards=self.go_backwards,
                        return_all_outputs=self.return_sequences, zero_output_for_mask=self.zero_output_for_mask)

    def _reset_dropout_masks(self, cell):
        if isinstance(cell, DropoutRNNCell):
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        for inner in getattr(cell, "cells", ()):
            self._reset_dropout_masks(inner)

    # ------------------------------------------------------------- shapes/masks
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        output_size = getattr(self.cell, "output_size", None) or self.state_size[0]
        output_shape = (batch, steps, output_size) if self.return_sequences else (batch, output_size)
        if self.return_state:
            return [output_shape] + [(batch, size) for size in self.state_size]
        return output_shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # ----------------------------------------------------------------- config
    def _rnn_config(self):
        return {"return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll}

    def get_config(self):
        return {**super().get_config(), **self._rnn_config(), "zero_output_for_mask": self.zero_output_for_mask,
                "cell": registry.serialize(self.cell)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = registry.deserialize(config.pop("cell"), custom_objects=custom_objects, expected="layer")
        return cls(cell, **config)
