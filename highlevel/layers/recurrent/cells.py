"""What the built-in cells and their layers share: ``BaseCell`` (arguments, weights, dropout,
config), ``CellRNN`` (an ``RNN`` owning one such cell, whose arguments are the layer's) and
the test deciding when a fused op (``hl.ops.lstm``/``gru``) may replace the step loop.
"""

from __future__ import annotations

from highlevel import activations, constraints, initializers, ops, regularizers
from highlevel.layers.layer import Layer
from highlevel.layers.recurrent.rnn import RNN, DropoutRNNCell, check_dropout_rate, check_units



class BaseCell(Layer, DropoutRNNCell):
    """What ``SimpleRNNCell``, ``LSTMCell`` and ``GRUCell`` share: arguments, weights' objects, config."""

    _gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        kind = f"{type(self).__name__} {self.name!r}"
        self.units = check_units(kind, units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = check_dropout_rate(kind, "dropout", dropout)
        self.recurrent_dropout = check_dropout_rate(kind, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.output_size = self.units

    def _build_kernels(self, input_shape, bias_shape, bias_initializer):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the last dimension of the inputs must be "
                             f"defined, got input shape {tuple(input_shape)}")
        width = self._gates * self.units
        self.kernel = self.add_weight(shape=(input_dim, width), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, width), initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint, name="recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=bias_shape, initializer=bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")
        self.built = True

    def _dropped(self, inputs, h, training):
        """``inputs`` and ``h`` times this sequence's dropout masks while training."""
        if training and self.dropout > 0:
            inputs = ops.multiply(inputs, self.get_dropout_mask(inputs))
        if training and self.recurrent_dropout > 0:
            h = ops.multiply(h, self.get_recurrent_dropout_mask(h))
        return inputs, h

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def fusable(cell, training, mask, use_cudnn, kind):
    """Whether the fused op computes what the cell's loop would (Keras's cuDNN criteria, minus the GPU)."""
    if use_cudnn is False:
        return False
    reasons = []
    if cell.activation is not activations.tanh:
        reasons.append("activation is not tanh")
    if cell.recurrent_activation is not activations.sigmoid:
        reasons.append("recurrent_activation is not sigmoid")
    if training and cell.recurrent_dropout > 0:
        reasons.append("recurrent_dropout > 0 while training")
    if mask is not None:
        reasons.append("a mask is given")
    if getattr(cell, "reset_after", True) is False:
        reasons.append("reset_after=False")
    if reasons and use_cudnn is True:
        raise ValueError(f"{kind}: use_cudnn=True, but the fused kernel cannot run this configuration: "
                         f"{'; '.join(reasons)}. Pass use_cudnn='auto' to fall back to the step-by-step loop.")
    return not reasons


def check_use_cudnn(kind, use_cudnn):
    if use_cudnn not in ("auto", True, False):
        raise ValueError(f"{kind}: use_cudnn must be 'auto', True or False, got use_cudnn={use_cudnn!r}")
    return use_cudnn


def fused_inputs(cell, sequences, training):
    """``sequences`` times the cell's input dropout mask (one per sequence, as at every step of the loop)."""
    if training and cell.dropout > 0:
        mask = cell.get_dropout_mask(ops.squeeze(ops.slice(sequences, (0, 0, 0), (-1, 1, -1)), axis=1))
        sequences = ops.multiply(sequences, ops.expand_dims(mask, 1))
    return sequences


CELL_ARGS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
              "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout", "seed")


class CellRNN(RNN):
    """An RNN layer owning one cell of its own (``SimpleRNN``, ``LSTM``, ``GRU``): the cell's
    arguments are the layer's, in its config and as read-only attributes."""

    _cell_args = CELL_ARGS

    def __getattr__(self, name):
        # Only reached when normal lookup fails: units, activation, ... come from the cell.
        if name in type(self)._cell_args and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k not in ("cell", "zero_output_for_mask")}
        cell_config = self.cell.get_config()
        config.update({k: cell_config[k] for k in type(self)._cell_args})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


