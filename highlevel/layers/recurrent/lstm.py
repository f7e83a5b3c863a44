"""``LSTMCell`` and ``LSTM`` (Keras 3 arguments, weights and gate order i, f, c, o).

One step, with ``z = x @ kernel + h @ recurrent_kernel + bias`` split into four::

    i, f, o = recurrent_activation(z_i, z_f, z_o)
    c = f * c + i * activation(z_c)
    h = o * activation(c)

Weights: ``kernel (features, 4 * units)``, ``recurrent_kernel (units, 4 * units)``
(orthogonal), ``bias (4 * units,)`` (forget block 1 with ``unit_forget_bias``). ``LSTM``
runs ``hl.ops.lstm`` (torch's fused kernel on torch) when that computes the same thing:
activations tanh/sigmoid, no recurrent dropout while training, no mask.
"""

from __future__ import annotations

import numpy as np

from highlevel import initializers, ops
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.recurrent.cells import CELL_ARGS, BaseCell, CellRNN, check_use_cudnn, fusable, fused_inputs
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class LSTMCell(BaseCell):
    """One LSTM step: ``call(inputs (batch, features), [h, c], training) -> (h, [h, c])``."""

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)   # Keras's implementation switch: one implementation here
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        bias_initializer = self.bias_initializer
        if self.unit_forget_bias:
            units, base = self.units, self.bias_initializer

            def bias_initializer(shape, dtype=None):
                # The forget gate's block starts at 1 (Jozefowicz et al. 2015), the rest from bias_initializer.
                parts = [initializers.initial_value(base, (units,), dtype), np.ones((units,)),
                         initializers.initial_value(base, (2 * units,), dtype)]
                return np.concatenate([np.asarray(ops.convert_to_numpy(p) if ops.is_tensor(p) else p)
                                       for p in parts]).astype(dtype or "float32")
        self._build_kernels(input_shape, (4 * self.units,), bias_initializer)

    def call(self, inputs, states, training=False):
        h, c = states[0], states[1]
        x, h_in = self._dropped(inputs, h, training)
        z = ops.add(ops.matmul(x, self.kernel), ops.matmul(h_in, self.recurrent_kernel))
        if self.bias is not None:
            z = ops.add(z, self.bias)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        gate = self.recurrent_activation
        c = ops.add(ops.multiply(gate(z_f), c), ops.multiply(gate(z_i), self.activation(z_c)))
        h = ops.multiply(gate(z_o), self.activation(c))
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@registry.register_serializable(package="highlevel")
class LSTM(CellRNN):
    """Long short-term memory over ``(batch, steps, features)`` (Hochreiter & Schmidhuber 1997).

    Arguments as Keras 3 (those of ``LSTMCell`` and ``RNN``). use_cudnn: ``"auto"`` runs
    the fused op when it computes the same function, ``False`` always the step loop,
    ``True`` the fused op or an error.
    """

    _cell_args = CELL_ARGS + ("unit_forget_bias",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        kwargs.pop("implementation", None)
        cell = LSTMCell(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                        kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                        bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                        kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                        bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                        recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, seed=seed, dtype=kwargs.get("dtype"),
                        trainable=kwargs.get("trainable", True), name="lstm_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3)
        self.use_cudnn = check_use_cudnn(f"LSTM {self.name!r}", use_cudnn)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if not fusable(cell, training, mask, self.use_cudnn, f"LSTM {self.name!r}"):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        outputs, h, c = ops.lstm(fused_inputs(cell, sequences, training), initial_state[0], initial_state[1],
                                 cell.kernel, cell.recurrent_kernel, cell.bias, go_backwards=self.go_backwards)
        return h, outputs, [h, c]

    def get_config(self):
        return {**super().get_config(), "use_cudnn": self.use_cudnn}
