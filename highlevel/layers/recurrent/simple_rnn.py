"""``SimpleRNNCell`` and ``SimpleRNN``: ``h = activation(x @ kernel + h @ recurrent_kernel + bias)``.

Weights as Keras 3: ``kernel (features, units)``, ``recurrent_kernel (units, units)``
(orthogonal), ``bias (units,)``. The step loop of ``RNN`` runs it.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.recurrent.cells import CELL_ARGS, BaseCell, CellRNN
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class SimpleRNNCell(BaseCell):
    """One step: ``call(inputs (batch, features), [h], training) -> (h, [h])``."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.state_size = self.units

    def build(self, input_shape):
        self._build_kernels(input_shape, (self.units,), self.bias_initializer)

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        x, h = self._dropped(inputs, h, training)
        z = ops.matmul(x, self.kernel)
        if self.bias is not None:
            z = ops.add(z, self.bias)
        output = self.activation(ops.add(z, ops.matmul(h, self.recurrent_kernel)))
        return output, [output]

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config


@registry.register_serializable(package="highlevel")
class SimpleRNN(CellRNN):
    """Fully-connected RNN over ``(batch, steps, features)``: the output is fed back as the state."""

    _cell_args = tuple(a for a in CELL_ARGS if a != "recurrent_activation")

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, **kwargs):
        cell = SimpleRNNCell(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                             kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                             bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                             recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                             dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                             dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                             name="simple_rnn_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3)
