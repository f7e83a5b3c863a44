"""Attention layers: ``Attention`` (Luong-style dot-product) and ``MultiHeadAttention``.

Both follow Keras 3: arguments, defaults, weight names, shapes and order (so
``set_weights(keras_layer.get_weights())`` gives Keras's outputs), masks (``False``
= padding) and ``use_causal_mask``.

Decision: a query row whose keys are all masked out gets all-zero attention weights
(Keras's masked softmax; Keras's fused ``dot_product_attention`` path would give it
uniform weights instead). Unmasked rows are identical either way.
"""

from __future__ import annotations

import math
import string

import numpy as np

from highlevel import activations, constraints, initializers, ops, regularizers
from highlevel.layers.core import Dropout
from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import SymbolicTensor, is_symbolic
from highlevel.saving import registry



def _large_negative(dtype) -> float:
    # Keras's choice: the largest float16 (added to scores) / -1e9 otherwise.
    return 65504.0 if dtype == "float16" else 1.0e9


def _causal_mask(q_steps: int, v_steps: int):
    """``(1, q_steps, v_steps)`` booleans: query step i may see value steps j <= i."""
    return ops.convert_to_tensor(np.tril(np.ones((q_steps, v_steps), dtype=bool))[None])


def _shape(x):
    return tuple(x.shape) if is_symbolic(x) else tuple(ops.shape(x))


def _as_bool(mask):
    mask = ops.convert_to_tensor(mask) if not ops.is_tensor(mask) else mask
    return mask if ops.dtype(mask) == "bool" else ops.cast(mask, "bool")


# ------------------------------------------------------------------------ Attention


@registry.register_serializable(package="highlevel")
class Attention(Layer):
    """Dot-product (Luong) attention over ``[query, value]`` or ``[query, value, key]``.

    query ``(batch, Tq, dim)``, value ``(batch, Tv, dim)``, key (default: value)
    ``(batch, Tv, dim)`` -> ``(batch, Tq, dim)``; with ``return_attention_scores`` also
    the weights ``(batch, Tq, Tv)`` (after masking and softmax).

    scores: ``"dot"``: ``query @ key^T`` (times the weight ``scale`` when ``use_scale``);
    ``"concat"``: ``concat_score_weight * sum(tanh(scale * (q_i + k_j)))`` over features.
    mask ``[query_mask (batch, Tq), value_mask (batch, Tv)]``: masked values get no
    weight, masked query steps output zeros; ``use_causal_mask``: step i sees j <= i.
    dropout: on the attention weights while training (``seed`` repeats it).
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention {self.name!r}: score_mode must be one of {{'dot', 'concat'}}, got "
                             f"score_mode={score_mode!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"Attention {self.name!r}: dropout must be a float in [0, 1], got dropout={dropout!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self.supports_masking = True
        self.scale = None
        self.concat_score_weight = None
        self._dropout_layer = Dropout(self.dropout, seed=seed) if self.dropout > 0 else None

    # ------------------------------------------------------------- checks
    def _validate(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Attention {self.name!r} must be called on a list of inputs, namely [query, value] "
                             f"or [query, value, key]; got a {type(inputs).__name__}")
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"Attention {self.name!r} accepts a list of 2 or 3 inputs ([query, value] or "
                             f"[query, value, key]); got {len(inputs)}")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"Attention {self.name!r}: mask must be a list [query_mask, value_mask]; got a "
                                 f"{type(mask).__name__}")
            if not 2 <= len(mask) <= 3:
                raise ValueError(f"Attention {self.name!r}: mask must be a list of 2 or 3 masks; got {len(mask)}")

    def _check_shapes(self, shapes):
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) > 2 else value
        for what, shape in (("query", query), ("value", value), ("key", key)):
            if len(shape) < 3:
                raise ValueError(f"Attention {self.name!r}: {what} must have rank >= 3 (batch, steps, dim); got "
                                 f"shape {tuple(shape)}")
        if key[-2] is not None and value[-2] is not None and key[-2] != value[-2]:
            raise ValueError(f"Attention {self.name!r}: key and value must have the same number of steps; got key "
                             f"shape {tuple(key)} and value shape {tuple(value)}")
        if query[-1] is not None and key[-1] is not None and query[-1] != key[-1]:
            raise ValueError(f"Attention {self.name!r}: query and key must have the same last dimension; got "
                             f"query shape {tuple(query)} and key shape {tuple(key)}")

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"Attention {self.name!r} must be called on a list of inputs, namely [query, value] "
                             f"or [query, value, key]; got a single input of shape {input_shape}")
        self._validate(list(input_shape))
        self._check_shapes(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(shape=(), initializer="ones", name="concat_score_weight")
        self.built = True

    # ---------------------------------------------------------------- call
    def _scores(self, query, key):
        if self.score_mode == "dot":
            rank = len(ops.shape(key))
            perm = tuple(range(rank - 2)) + (rank - 1, rank - 2)
            scores = ops.matmul(query, ops.transpose(key, perm))
            if self.scale is not None:
                scores = ops.multiply(scores, self.scale)
            return scores
        q = ops.expand_dims(query, -2)   # (batch, Tq, 1, dim)
        k = ops.expand_dims(key, -3)     # (batch, 1, Tv, dim)
        total = ops.add(q, k)
        if self.scale is not None:
            total = ops.multiply(total, self.scale)
        return ops.multiply(self.concat_score_weight, ops.sum(ops.tanh(total), axis=-1))

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs, mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask = mask[0] if mask else None
        value_mask = mask[1] if mask else None
        scores = self._scores(query, key)
        scores_mask = None
        if value_mask is not None:
            scores_mask = ops.expand_dims(_as_bool(value_mask), -2)         # (batch, 1, Tv)
        if use_causal_mask:
            shape = ops.shape(scores)
            causal = _causal_mask(shape[-2], shape[-1])
            scores_mask = causal if scores_mask is None else ops.logical_and(scores_mask, causal)
        if scores_mask is not None:
            # Keras subtracts a large number (rather than writing -inf): a fully masked row stays finite.
            scores = ops.where(scores_mask, scores, ops.subtract(scores, _large_negative(ops.dtype(scores))))
        weights = ops.softmax(scores, axis=-1)
        dropped = weights
        if training and self._dropout_layer is not None:
            dropped = self._dropout_layer(weights, training=True)
        outputs = ops.matmul(dropped, value)
        if query_mask is not None:
            outputs = ops.where(ops.expand_dims(_as_bool(query_mask), -1), outputs, ops.zeros_like(outputs))
        if return_attention_scores:
            return outputs, dropped   # Keras returns the weights after dropout
        return outputs

    def compute_mask(self, inputs, mask=None):
        """The query's mask (the output has the query's steps)."""
        self._validate(inputs, mask)
        if mask is None or mask[0] is None:
            return None
        return _as_bool(mask[0])

    def compute_output_shape(self, input_shape):
        query, value = input_shape[0], input_shape[1]
        return tuple(query[:-1]) + (value[-1],)

    def compute_output_spec(self, inputs, mask=None, training=None, return_attention_scores=False,
                            use_causal_mask=False):
        self._validate(inputs, mask)
        shapes = [_shape(x) for x in inputs]
        self._check_shapes(shapes)
        key = shapes[2] if len(shapes) > 2 else shapes[1]
        output = SymbolicTensor(self.compute_output_shape(shapes), self.compute_dtype)
        if return_attention_scores:
            return output, SymbolicTensor(tuple(shapes[0][:-1]) + (key[-2],), self.compute_dtype)
        return output

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


# ------------------------------------------------------------- MultiHeadAttention


def _letters(start: int, count: int) -> str:
    return string.ascii_lowercase[start:start + count]


class _Projection(Layer):
    """A dense projection with Keras's ``EinsumDense`` weight layout, as used inside
    ``MultiHeadAttention``: the last ``bound`` input axes are contracted with the
    kernel ``(*bound dims, *out_dims)``, giving ``(*free axes, *out_dims)``; bias ``out_dims``.

    Computed as one matmul over the flattened bound and output axes (the same function
    as Keras's einsum, and the fastest form on every engine).
    """

    def __init__(self, bound, out_dims, use_bias, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, activity_regularizer=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.bound = int(bound)
        self.out_dims = tuple(int(d) for d in out_dims)
        self.use_bias = bool(use_bias)
        self.activation = activations.get(activation)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint

    def build(self, input_shape):
        bound_dims = tuple(input_shape[len(input_shape) - self.bound:])
        if any(d is None for d in bound_dims):
            raise ValueError(f"layer {self.name!r}: the last {self.bound} input dimension(s) must be defined, got "
                             f"input shape {tuple(input_shape)}")
        self.kernel = self.add_weight(shape=bound_dims + self.out_dims, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=self.out_dims, initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")
        self._sizes = (math.prod(bound_dims), math.prod(self.out_dims))
        self.built = True

    def call(self, inputs):
        shape = ops.shape(inputs)
        free = tuple(shape[:len(shape) - self.bound])
        size_in, size_out = self._sizes
        x = inputs if self.bound == 1 else ops.reshape(inputs, free + (size_in,))
        kernel = self.kernel if len(self.kernel.shape) == 2 else ops.reshape(self.kernel, (size_in, size_out))
        y = ops.matmul(x, kernel)
        if self.bias is not None:
            y = ops.add(y, ops.reshape(self.bias, (size_out,)))
        if len(self.out_dims) != 1:
            y = ops.reshape(y, free + self.out_dims)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:len(input_shape) - self.bound]) + self.out_dims


@registry.register_serializable(package="highlevel")
class MultiHeadAttention(Layer):
    """Multi-head attention ("Attention is all you need"), Keras 3's layer.

    call(query ``(batch, T, dim)``, value ``(batch, S, dim_v)``, key=None (value), ...) ->
    ``(batch, T, dim)`` (or ``(batch, T, *output_shape)``); with
    ``return_attention_scores`` also the weights ``(batch, num_heads, T, S)``.

    Weights (Keras's ``EinsumDense`` layout and order): ``query/kernel (dim, heads,
    key_dim)``, ``query/bias (heads, key_dim)``, ``key/...``, (``gate/...`` with
    ``use_gate``), ``value/kernel (dim_v, heads, value_dim)``, ``value/bias``,
    ``attention_output/kernel (heads, value_dim, dim)``, ``attention_output/bias (dim,)``.

    Masks: ``query_mask (batch, T)``, ``value_mask``/``key_mask (batch, S)`` and
    ``attention_mask (batch, T, S)`` (true = may attend) are combined with AND, and
    with the causal mask (``use_causal_mask``) and the band of ``sliding_window``.
    In a model, the masks of ``query``/``value``/``key`` arrive by themselves; the
    output carries the query's mask. ``attention_axes`` picks the axes attended over
    (default: all but batch and features). ``flash_attention`` is accepted and ignored.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        for what, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"MultiHeadAttention {self.name!r}: {what} must be a positive integer, got "
                                 f"{what}={value!r}")
        if value_dim is not None and (isinstance(value_dim, bool) or not isinstance(value_dim, int)
                                      or value_dim <= 0):
            raise ValueError(f"MultiHeadAttention {self.name!r}: value_dim must be a positive integer or None, got "
                             f"value_dim={value_dim!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"MultiHeadAttention {self.name!r}: dropout must be a float in [0, 1], got "
                             f"dropout={dropout!r}")
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(sliding_window, int)
                                           or sliding_window <= 0):
            raise ValueError(f"MultiHeadAttention {self.name!r}: sliding_window must be None or a positive integer, "
                             f"got sliding_window={sliding_window!r}")
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except (TypeError, ValueError):
                raise ValueError(f"MultiHeadAttention {self.name!r}: output_shape must be an int, a list or a "
                                 f"tuple, got output_shape={output_shape!r}") from None
        else:
            output_shape = None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None:
            if not isinstance(attention_axes, (list, tuple)):
                raise ValueError(f"MultiHeadAttention {self.name!r}: attention_axes must be an int, a list or a "
                                 f"tuple, got attention_axes={attention_axes!r}")
            attention_axes = tuple(int(a) for a in attention_axes)
        self.supports_masking = True
        self._num_heads = num_heads
        self._key_dim = key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._dropout = float(dropout)
        self._use_bias = bool(use_bias)
        self._use_gate = bool(use_gate)
        self._output_shape = output_shape
        self._attention_axes = attention_axes
        self._sliding_window = sliding_window
        self._flash_attention = flash_attention
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(key_dim))
        self._projections_built = False

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    # ---------------------------------------------------------------- build
    def _projection(self, name, bound, out_dims, activation=None):
        return _Projection(bound, out_dims, self._use_bias, activation=activation,
                           kernel_initializer=self._kernel_initializer, bias_initializer=self._bias_initializer,
                           kernel_regularizer=self._kernel_regularizer, bias_regularizer=self._bias_regularizer,
                           kernel_constraint=self._kernel_constraint, bias_constraint=self._bias_constraint,
                           activity_regularizer=self._activity_regularizer, name=name, dtype=self.dtype)

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the projections. Called with the query's shape alone (the base class's lazy
        build), it waits for the first call, which knows the value's and key's shapes."""
        if value_shape is None:
            self.built = True
            return
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        self._check_shapes(query_shape, value_shape, key_shape)
        rank = len(query_shape)
        heads = self._num_heads
        self._query_dense = self._projection("query", 1, (heads, self._key_dim))
        self._query_dense.build(query_shape)
        self._key_dense = self._projection("key", 1, (heads, self._key_dim))
        self._key_dense.build(key_shape)
        if self._use_gate:
            self._gate_dense = self._projection("gate", 1, (heads, self._value_dim), activation="sigmoid")
            self._gate_dense.build(query_shape)
        self._value_dense = self._projection("value", 1, (heads, self._value_dim))
        self._value_dense.build(value_shape)
        self._build_attention(rank + 1)
        out_dims = self._output_shape or (query_shape[-1],)
        self._output_dense = self._projection("attention_output", 2, out_dims)
        self._output_dense.build(tuple(query_shape[:-1]) + (heads, self._value_dim))
        self._dropout_layer = Dropout(self._dropout, seed=self.seed, dtype=self.dtype)
        self._projections_built = True
        self.built = True

    def _check_shapes(self, query_shape, value_shape, key_shape):
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) < 3:
                raise ValueError(f"MultiHeadAttention {self.name!r}: {what} must have rank >= 3 (batch, steps, "
                                 f"features); got shape {tuple(shape)}")
            if shape[-1] is None:
                raise ValueError(f"MultiHeadAttention {self.name!r}: the last dimension of {what} must be defined; "
                                 f"got shape {tuple(shape)}")
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"MultiHeadAttention {self.name!r}: all dimensions of value and key except the last "
                             f"must be equal; got value_shape={tuple(value_shape)} and key_shape={tuple(key_shape)}")
        if len(query_shape) != len(value_shape):
            raise ValueError(f"MultiHeadAttention {self.name!r}: query and value must have the same rank; got "
                             f"query_shape={tuple(query_shape)} and value_shape={tuple(value_shape)}")

    def _build_attention(self, rank):
        """The einsum equations for projected tensors of ``rank`` (batch, ..., heads, channels)."""
        if self._attention_axes is None:
            axes = tuple(range(1, rank - 2))
        else:
            axes = tuple(a if a >= 0 else (rank - 1) + a for a in self._attention_axes)
            if any(not 1 <= a < rank - 2 for a in axes) or len(set(axes)) != len(axes):
                raise ValueError(f"MultiHeadAttention {self.name!r}: attention_axes must be distinct axes between "
                                 f"1 and {rank - 3} (not batch or features); got {self._attention_axes}")
        self._attention_axes = axes
        target = _letters(0, rank)
        batch_dims = [i for i in range(rank) if i not in axes and i != rank - 1]
        source, offset = "", rank
        for i in range(rank):
            if i in batch_dims or i == rank - 1:
                source += target[i]
            else:
                source += string.ascii_lowercase[offset]
                offset += 1
        product = "".join([target[i] for i in batch_dims] + [target[i] for i in axes] + [source[i] for i in axes])
        self._dot_product_equation = f"{source},{target}->{product}"
        self._combine_equation = f"{product},{source}->{target}"
        self._scores_rank = len(product)
        self._norm_axes = tuple(range(len(product) - len(axes), len(product)))
        # The common case (one attention axis right after batch): transposes and matmuls.
        self._simple = rank == 4 and axes == (1,)

    # ----------------------------------------------------------------- masks
    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """The combined ``(batch, T, S)`` boolean mask (``None`` when nothing is masked)."""
        auto = None
        if query_mask is not None:
            auto = ops.expand_dims(_as_bool(query_mask), -1)                 # (B, T, 1)
        for mask in (value_mask, key_mask):
            if mask is not None:
                mask = ops.expand_dims(_as_bool(mask), -2)                   # (B, 1, S)
                auto = mask if auto is None else ops.logical_and(auto, mask)
        if use_causal_mask or self._sliding_window is not None:
            t_steps, s_steps = ops.shape(query)[1], ops.shape(value)[1]
            band = np.ones((t_steps, s_steps), dtype=bool)
            if use_causal_mask:
                band = np.tril(band)
            if self._sliding_window is not None:
                rows, cols = np.arange(t_steps)[:, None], np.arange(s_steps)[None, :]
                band &= np.abs(rows - cols) < self._sliding_window
            band = ops.convert_to_tensor(band[None])
            auto = band if auto is None else ops.logical_and(auto, band)
        if attention_mask is not None:
            attention_mask = _as_bool(attention_mask)
            return attention_mask if auto is None else ops.logical_and(attention_mask, auto)
        return auto

    def _masked_softmax(self, scores, mask):
        if mask is not None:
            missing = len(ops.shape(scores)) - len(ops.shape(mask))
            axis = -len(self._attention_axes) * 2 - 1
            for _ in range(missing):
                mask = ops.expand_dims(mask, axis)
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9 if ops.dtype(scores) != "float16" else -3e4))
        if len(self._norm_axes) == 1:
            weights = ops.softmax(scores, axis=-1)
        else:
            # Softmax over several trailing axes: flatten them into one.
            shape = ops.shape(scores)
            lead = tuple(shape[:len(shape) - len(self._norm_axes)])
            weights = ops.reshape(ops.softmax(ops.reshape(scores, lead + (-1,)), axis=-1), shape)
        if mask is not None:
            # A fully masked row would be uniform: zero it, as Keras's masked softmax.
            weights = ops.where(mask, weights, ops.zeros_like(weights))
        return weights

    # ------------------------------------------------------------------ call
    def _compute_attention(self, query, key, value, attention_mask=None, training=None):
        """query ``(B, T, N, key_dim)``, key ``(B, S, N, key_dim)``, value ``(B, S, N, value_dim)`` (projected)
        -> ``(output (B, T, N, value_dim), weights (B, N, T, S))`` (general ranks with ``attention_axes``)."""
        query = ops.multiply(query, self._inverse_sqrt_key_dim)
        if self._simple:
            q = ops.transpose(query, (0, 2, 1, 3))                           # (B, N, T, H)
            k = ops.transpose(key, (0, 2, 3, 1))                             # (B, N, H, S)
            scores = ops.matmul(q, k)                                        # (B, N, T, S)
        else:
            scores = ops.einsum(self._dot_product_equation, key, query)
        weights = self._masked_softmax(scores, attention_mask)
        dropped = self._dropout_layer(weights, training=training) if self._dropout > 0 else weights
        if self._simple:
            v = ops.transpose(value, (0, 2, 1, 3))                           # (B, N, S, Hv)
            output = ops.transpose(ops.matmul(dropped, v), (0, 2, 1, 3))     # (B, T, N, Hv)
        else:
            output = ops.einsum(self._combine_equation, dropped, value)
        return output, weights

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        if key is None:
            key = value
        if not self._projections_built:
            self.build(_shape(query), _shape(value), _shape(key))
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask)
        gate = self._gate_dense(query) if self._use_gate else None
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        output, weights = self._compute_attention(q, k, v, mask, training)
        if gate is not None:
            output = ops.multiply(output, gate)
        output = self._output_dense(output)
        if return_attention_scores:
            return output, weights
        return output

    # ---------------------------------------------------------- shape inference
    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if value_shape is not None:
            value_shape = tuple(value_shape)
            key_shape = value_shape if key_shape is None else tuple(key_shape)
            self._check_shapes(query_shape, value_shape, key_shape)
        if self._output_shape:
            return query_shape[:-1] + self._output_shape
        return query_shape

    def compute_output_spec(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
                            attention_mask=None, return_attention_scores=False, training=None,
                            use_causal_mask=False):
        q_shape, v_shape = _shape(query), _shape(value)
        k_shape = v_shape if key is None else _shape(key)
        if not self._projections_built:
            self.build(q_shape, v_shape, k_shape)
        output = SymbolicTensor(self.compute_output_shape(q_shape, v_shape, k_shape), self.compute_dtype)
        if not return_attention_scores:
            return output
        rank = len(q_shape) + 1
        axes = self._attention_axes
        batch_dims = [i for i in range(rank) if i not in axes and i != rank - 1]
        projected_q = tuple(q_shape[:-1]) + (self._num_heads,)
        projected_k = tuple(k_shape[:-1]) + (self._num_heads,)
        scores = [projected_q[i] for i in batch_dims] + [projected_q[i] for i in axes] + \
            [projected_k[i] for i in axes]
        return output, SymbolicTensor(tuple(scores), self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self._num_heads,
            "key_dim": self._key_dim,
            "value_dim": self._value_dim,
            "dropout": self._dropout,
            "use_bias": self._use_bias,
            "use_gate": self._use_gate,
            "output_shape": None if self._output_shape is None else list(self._output_shape),
            "attention_axes": None if self._attention_axes is None else list(self._attention_axes),
            "sliding_window": self._sliding_window,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self._bias_regularizer),
            "activity_regularizer": regularizers.serialize(self._activity_regularizer),
            "kernel_constraint": constraints.serialize(self._kernel_constraint),
            "bias_constraint": constraints.serialize(self._bias_constraint),
            "seed": self.seed,
        }
