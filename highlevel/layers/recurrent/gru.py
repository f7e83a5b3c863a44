"""``GRUCell`` and ``GRU`` (Keras 3 arguments and weights; gates z, r, h; ``reset_after=True`` by default).

One step, with ``x = inputs @ kernel + input_bias`` and ``inner = h @ recurrent_kernel
+ recurrent_bias`` split into (z, r, h) blocks::

    z = recurrent_activation(x_z + inner_z);  r = recurrent_activation(x_r + inner_r)
    candidate = activation(x_h + r * inner_h)                 # reset_after=True
    candidate = activation(x_h + (r * h) @ recurrent_kernel_h)  # reset_after=False
    h = z * h + (1 - z) * candidate

Weights: ``kernel (features, 3 * units)``, ``recurrent_kernel (units, 3 * units)``,
``bias (2, 3 * units)`` (input and recurrent biases) or ``(3 * units,)`` when
``reset_after=False``. ``GRU`` runs ``hl.ops.gru`` (torch's fused kernel on torch) when
that computes the same function: tanh/sigmoid, reset_after, no recurrent dropout while
training, no mask.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.recurrent.cells import CELL_ARGS, BaseCell, CellRNN, check_use_cudnn, fusable, fused_inputs
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class GRUCell(BaseCell):
    """One GRU step: ``call(inputs (batch, features), [h], training) -> (h, [h])``."""

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.reset_after = bool(reset_after)
        self.state_size = self.units

    def build(self, input_shape):
        bias_shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._build_kernels(input_shape, bias_shape, self.bias_initializer)

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        x, h_in = self._dropped(inputs, h, training)
        units = self.units
        input_bias = recurrent_bias = None
        if self.bias is not None:
            if self.reset_after:
                input_bias, recurrent_bias = (ops.squeeze(b, axis=0) for b in ops.split(self.bias, 2, axis=0))
            else:
                input_bias = self.bias
        x = ops.matmul(x, self.kernel)
        if input_bias is not None:
            x = ops.add(x, input_bias)
        x_z, x_r, x_h = ops.split(x, 3, axis=-1)
        if self.reset_after:
            inner = ops.matmul(h_in, self.recurrent_kernel)
            if recurrent_bias is not None:
                inner = ops.add(inner, recurrent_bias)
            inner_z, inner_r, inner_h = ops.split(inner, 3, axis=-1)
        else:
            kernel_zr, kernel_h = ops.split(self.recurrent_kernel, [2 * units], axis=-1)
            inner_z, inner_r = ops.split(ops.matmul(h_in, kernel_zr), 2, axis=-1)
        z = self.recurrent_activation(ops.add(x_z, inner_z))
        r = self.recurrent_activation(ops.add(x_r, inner_r))
        if self.reset_after:
            inner_h = ops.multiply(r, inner_h)
        else:
            inner_h = ops.matmul(ops.multiply(r, h_in), kernel_h)
        candidate = self.activation(ops.add(x_h, inner_h))
        h = ops.add(ops.multiply(z, h), ops.multiply(ops.subtract(1.0, z), candidate))
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


@registry.register_serializable(package="highlevel")
class GRU(CellRNN):
    """Gated recurrent unit over ``(batch, steps, features)`` (Cho et al. 2014), Keras 3's variant.

    Arguments as Keras 3 (those of ``GRUCell`` and ``RNN``); ``use_cudnn`` as ``LSTM``'s.
    """

    _cell_args = CELL_ARGS + ("reset_after",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        kwargs.pop("implementation", None)
        cell = GRUCell(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                       kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                       recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                       kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                       bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                       reset_after=reset_after, seed=seed, dtype=kwargs.get("dtype"),
                       trainable=kwargs.get("trainable", True), name="gru_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3)
        self.use_cudnn = check_use_cudnn(f"GRU {self.name!r}", use_cudnn)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if not fusable(cell, training, mask, self.use_cudnn, f"GRU {self.name!r}"):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        outputs, h = ops.gru(fused_inputs(cell, sequences, training), initial_state[0], cell.kernel,
                             cell.recurrent_kernel, cell.bias, go_backwards=self.go_backwards)
        return h, outputs, [h]

    def get_config(self):
        return {**super().get_config(), "use_cudnn": self.use_cudnn}
