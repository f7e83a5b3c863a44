"""Normalization layers: ``BatchNormalization``, ``LayerNormalization``, ``GroupNormalization``,
``UnitNormalization`` (Keras 3 arguments, weights and order).

Statistics are computed in float32 at least (float16/bfloat16 inputs are upcast, then
the result is cast back to the layer's compute dtype), as Keras does.
"""

from __future__ import annotations

from highlevel import constraints, initializers, ops, regularizers
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer
from highlevel.saving import registry

_LOW_PRECISION = ("float16", "bfloat16")



def _upcast(x):
    """``x`` in at least float32 (Keras: ``result_type(x.dtype, "float32")``)."""
    dtype = ops.dtype(x)
    if dtype in _LOW_PRECISION or not dtype.startswith("float"):
        return ops.cast(x, "float32")
    return x


def _axes_list(axis, layer_name, cls_name):
    """``axis`` (an int or a list/tuple of ints) as a list of ints, or a ``ValueError``."""
    if isinstance(axis, bool):
        raise ValueError(f"{cls_name} {layer_name!r}: axis must be an int or a list of ints, got axis={axis!r}")
    if isinstance(axis, int):
        return [axis]
    if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) and not isinstance(a, bool)
                                                         for a in axis):
        return list(axis)
    raise ValueError(f"{cls_name} {layer_name!r}: axis must be an int or a non-empty list of ints, "
                     f"got axis={axis!r}")


def _resolve_axes(axes, input_shape, layer_name, cls_name, original):
    """Negative axes -> positive, sorted; out-of-range axes raise ``ValueError`` naming the shape."""
    rank = len(input_shape)
    resolved = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"{cls_name} {layer_name!r}: axis {a} is out of bounds for input shape "
                             f"{tuple(input_shape)} (rank {rank}); received axis={original!r}")
        resolved.append(a % rank)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"{cls_name} {layer_name!r}: axis {original!r} names the same dimension twice for input "
                         f"shape {tuple(input_shape)}")
    return sorted(resolved)


def _check_epsilon(epsilon, layer_name, cls_name):
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon < 0:
        raise ValueError(f"{cls_name} {layer_name!r}: epsilon must be a non-negative float, got epsilon={epsilon!r}")
    return float(epsilon)


class _AffineNormalization(Layer):
    """Shared bookkeeping of the layers with ``gamma``/``beta`` weights."""

    def _init_affine(self, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                     gamma_regularizer, beta_constraint, gamma_constraint):
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = None
        self.beta = None

    def _add_gamma(self, shape):
        return self.add_weight(shape=shape, name="gamma", initializer=self.gamma_initializer,
                               regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)

    def _add_beta(self, shape):
        return self.add_weight(shape=shape, name="beta", initializer=self.beta_initializer,
                               regularizer=self.beta_regularizer, constraint=self.beta_constraint)

    def _affine_config(self):
        return {
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }

    def _check_axes_shape(self, input_shape):
        _resolve_axes(_axes_list(self.axis, self.name, type(self).__name__), input_shape, self.name,
                      type(self).__name__, self.axis)
        return tuple(input_shape)

    def compute_output_shape(self, input_shape):
        return self._check_axes_shape(input_shape)


# ------------------------------------------------------------------ BatchNormalization


@registry.register_serializable(package="highlevel")
class BatchNormalization(_AffineNormalization):
    """Normalize with batch statistics while training, with moving statistics otherwise.

    ``training=True`` (and the layer trainable): ``(x - mean) / sqrt(var + epsilon) * gamma
    + beta`` with the mean and (population) variance over every axis but ``axis``, and
    ``moving = moving * momentum + batch * (1 - momentum)`` for both statistics. Otherwise
    the moving statistics replace the batch's. A frozen layer (``trainable = False``)
    always runs in inference mode and never updates its statistics, as in Keras.

    inputs ``(batch, ..., channels)`` (channels on ``axis``) -> outputs of the same shape;
    weights ``gamma``, ``beta`` (trainable, each optional), ``moving_mean``,
    ``moving_variance`` (non-trainable), all ``(channels,)``: Keras's names and order.
    mask (``(batch, ...)``, the input's shape without its last axis): masked-out entries do
    not count in the batch statistics.

    The moving statistics are written with ``Variable.assign``, which works eagerly,
    inside ``hl.ops.value_and_grad`` and inside compiled steps; they receive no gradient.
    ``renorm`` and ``synchronized`` are accepted (for Keras configs) only with their
    default ``False``.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"BatchNormalization {self.name!r}: axis must be an int, got axis={axis!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization {self.name!r}: momentum must be a float in [0, 1], "
                             f"got momentum={momentum!r}")
        if renorm:
            raise ValueError(f"BatchNormalization {self.name!r}: renorm=True (batch renormalization) is not "
                             f"supported; use renorm=False")
        if synchronized:
            raise ValueError(f"BatchNormalization {self.name!r}: synchronized=True is not supported (there is no "
                             f"distribution strategy yet); use synchronized=False")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = _check_epsilon(epsilon, self.name, "BatchNormalization")
        self._init_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                          beta_constraint, gamma_constraint)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.renorm = False
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.synchronized = False
        self.moving_mean = None
        self.moving_variance = None
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        (axis,) = _resolve_axes([self.axis], input_shape, self.name, "BatchNormalization", self.axis)
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(f"BatchNormalization {self.name!r}: axis {self.axis} of the inputs must have a defined "
                             f"size, got input shape {input_shape}")
        shape = (dim,)
        if self.scale:
            self.gamma = self._add_gamma(shape)
        if self.center:
            self.beta = self._add_beta(shape)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean", initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer, trainable=False)
        self._axis = axis
        self._reduction_axes = tuple(i for i in range(len(input_shape)) if i != axis)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        self.built = True

    def call(self, inputs, training=None, mask=None):
        x = _upcast(inputs)
        if mask is not None and ops.ndim(mask) != ops.ndim(x) - 1:
            raise ValueError(f"BatchNormalization {self.name!r}: the mask must have one dimension less than the "
                             f"inputs; got mask shape {ops.shape(mask)} for inputs of shape {ops.shape(x)}")
        if training and self.trainable:
            if mask is None:
                # One fused op (torch: native_batch_norm), statistics returned without gradient.
                outputs, mean, variance = ops.normalize_batch(x, self._axis, offset=self.beta, scale=self.gamma,
                                                              epsilon=self.epsilon)
            else:
                mean, variance = self._moments(x, mask)
                outputs = ops.batch_normalization(x, mean, variance, axis=self._axis, offset=self.beta,
                                                  scale=self.gamma, epsilon=self.epsilon)
            keep, new = self.momentum, 1.0 - self.momentum
            # The statistics are state, not a function of the weights: no gradient flows into them.
            self.moving_mean.assign(ops.add(ops.multiply(self.moving_mean, keep),
                                            ops.multiply(ops.stop_gradient(mean), new)))
            self.moving_variance.assign(ops.add(ops.multiply(self.moving_variance, keep),
                                                ops.multiply(ops.stop_gradient(variance), new)))
        else:
            outputs = ops.batch_normalization(x, self.moving_mean, self.moving_variance, axis=self._axis,
                                              offset=self.beta, scale=self.gamma, epsilon=self.epsilon)
        return ops.cast(outputs, self.compute_dtype) if ops.dtype(outputs) != self.compute_dtype else outputs

    def _moments(self, x, mask):
        if mask is None:
            return ops.moments(x, axes=self._reduction_axes)
        # Weighted statistics over the unmasked entries (Keras's formula, epsilon included).
        weights = ops.broadcast_to(ops.expand_dims(ops.cast(mask, ops.dtype(x)), -1), ops.shape(x))
        count = ops.add(ops.sum(weights, axis=self._reduction_axes, keepdims=True), 1e-7)
        mean = ops.divide(ops.sum(ops.multiply(x, weights), axis=self._reduction_axes, keepdims=True), count)
        centered = ops.multiply(ops.subtract(x, mean), weights)
        variance = ops.divide(ops.sum(ops.square(centered), axis=self._reduction_axes, keepdims=True), count)
        flat = (ops.shape(x)[self._axis],)
        return ops.reshape(mean, flat), ops.reshape(variance, flat)

    def compute_output_shape(self, input_shape):
        _resolve_axes([self.axis], input_shape, self.name, "BatchNormalization", self.axis)
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            **self._affine_config(),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }


# ------------------------------------------------------------------ LayerNormalization


@registry.register_serializable(package="highlevel")
class LayerNormalization(_AffineNormalization):
    """Normalize each sample over ``axis`` (an int or a list): ``(x - mean) / sqrt(var + epsilon)
    * gamma + beta``, statistics per sample over those axes.

    inputs of any rank -> outputs of the same shape; weights ``gamma`` then ``beta`` of
    shape ``tuple(input_shape[a] for a in axis)``.
    rms_scaling=True: ``x / sqrt(var + epsilon) * gamma`` with no ``beta`` — Keras 3's
    (deprecated) definition, which divides by the variance rather than the mean square.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        _axes_list(axis, self.name, "LayerNormalization")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = _check_epsilon(epsilon, self.name, "LayerNormalization")
        self.rms_scaling = bool(rms_scaling)
        self._init_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                          beta_constraint, gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        axes = _resolve_axes(_axes_list(self.axis, self.name, "LayerNormalization"), input_shape, self.name,
                             "LayerNormalization", self.axis)
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(f"LayerNormalization {self.name!r}: the normalized axes {self.axis!r} must have defined "
                             f"sizes, got input shape {input_shape}")
        if self.scale or self.rms_scaling:
            self.gamma = self._add_gamma(shape)
        if self.center and not self.rms_scaling:
            self.beta = self._add_beta(shape)
        self._axes = tuple(axes)
        rank = len(input_shape)
        # gamma/beta broadcast against the input: their sizes on the normalized axes, 1 elsewhere.
        self._broadcast_shape = tuple(input_shape[i] if i in axes else 1 for i in range(rank))
        self.input_spec = InputSpec(ndim=rank, axes={a: input_shape[a] for a in axes})
        self.built = True

    def call(self, inputs):
        x = _upcast(inputs)
        if self.rms_scaling:
            outputs = ops.multiply(x, ops.rsqrt(ops.add(ops.var(x, axis=self._axes, keepdims=True), self.epsilon)))
            if self.gamma is not None:
                outputs = ops.multiply(outputs, ops.reshape(self.gamma, self._broadcast_shape))
        else:
            # One op (torch: F.layer_norm's fused kernel when the axes are the trailing ones).
            outputs = ops.layer_normalization(x, self.gamma, self.beta, axis=self._axes, epsilon=self.epsilon)
        return ops.cast(outputs, self.compute_dtype) if ops.dtype(outputs) != self.compute_dtype else outputs

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "rms_scaling": self.rms_scaling,
                **self._affine_config()}


# ------------------------------------------------------------------ GroupNormalization


@registry.register_serializable(package="highlevel")
class GroupNormalization(_AffineNormalization):
    """Split the channels (on ``axis``) into ``groups`` and normalize each sample's group over
    the group's channels and every other non-batch axis; then ``* gamma + beta`` per channel.

    groups=-1: one group per channel (instance normalization); groups=1: layer
    normalization over all non-batch axes. inputs ``(batch, ..., channels)`` -> same shape;
    weights ``gamma``, ``beta`` of shape ``(channels,)``.
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(f"GroupNormalization {self.name!r}: groups must be a positive integer (or -1 for "
                             f"instance normalization), got groups={groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"GroupNormalization {self.name!r}: axis must be an int, got axis={axis!r}")
        self.groups = groups
        self.axis = axis
        self.epsilon = _check_epsilon(epsilon, self.name, "GroupNormalization")
        self._init_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                          beta_constraint, gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        (axis,) = _resolve_axes([self.axis], input_shape, self.name, "GroupNormalization", self.axis)
        if axis == 0:
            raise ValueError(f"GroupNormalization {self.name!r}: axis must not be the batch axis, got axis="
                             f"{self.axis} for input shape {input_shape}")
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(f"GroupNormalization {self.name!r}: axis {self.axis} of the inputs must have a defined "
                             f"size, got input shape {input_shape}")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"GroupNormalization {self.name!r}: the number of groups ({self.groups}) cannot be more "
                             f"than the number of channels ({dim}); input shape {input_shape}")
        if dim % self.groups:
            raise ValueError(f"GroupNormalization {self.name!r}: the number of channels ({dim}) must be a multiple "
                             f"of the number of groups ({self.groups}); input shape {input_shape}")
        if self.scale:
            self.gamma = self._add_gamma((dim,))
        if self.center:
            self.beta = self._add_beta((dim,))
        self._axis = axis
        rank = len(input_shape)
        # The grouped view (batch, ..., groups, channels // groups, ...): statistics over all
        # of it but the batch and group axes; gamma/beta broadcast in that view.
        self._group_reduction_axes = tuple(i for i in range(1, rank + 1) if i != axis)
        self._broadcast_shape = tuple(self.groups if i == axis else dim // self.groups if i == axis + 1 else 1
                                      for i in range(rank + 1))
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: dim})
        self.built = True

    def call(self, inputs):
        shape = ops.shape(inputs)
        grouped_shape = shape[:self._axis] + (self.groups, shape[self._axis] // self.groups) + shape[self._axis + 1:]
        x = _upcast(ops.reshape(inputs, grouped_shape))
        mean, variance = ops.moments(x, self._group_reduction_axes, keepdims=True)
        inv = ops.rsqrt(ops.add(variance, self.epsilon))
        if self.gamma is not None:
            inv = ops.multiply(inv, ops.reshape(self.gamma, self._broadcast_shape))
        shift = ops.negative(ops.multiply(mean, inv))
        if self.beta is not None:
            shift = ops.add(shift, ops.reshape(self.beta, self._broadcast_shape))
        outputs = ops.reshape(ops.add(ops.multiply(x, inv), shift), shape)
        return ops.cast(outputs, self.compute_dtype) if ops.dtype(outputs) != self.compute_dtype else outputs

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                **self._affine_config()}


# ------------------------------------------------------------------ UnitNormalization


@registry.register_serializable(package="highlevel")
class UnitNormalization(Layer):
    """Scale each sample to unit L2 norm over ``axis`` (an int or a list):
    ``x * min(1 / sqrt(sum(x ** 2)), 1e12)`` (the cap keeps an all-zero vector at zero).

    inputs of any rank -> outputs of the same shape; no weights.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        _axes_list(axis, self.name, "UnitNormalization")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.supports_masking = True

    def build(self, input_shape):
        self._axes = tuple(_resolve_axes(_axes_list(self.axis, self.name, "UnitNormalization"), tuple(input_shape),
                                         self.name, "UnitNormalization", self.axis))
        self.built = True

    def call(self, inputs):
        x = _upcast(inputs)
        square_sum = ops.sum(ops.square(x), axis=self._axes, keepdims=True)
        # rsqrt(max(s, 1e-24)) == min(rsqrt(s), 1e12) (Keras's cap), without an infinity at s = 0.
        outputs = ops.multiply(x, ops.rsqrt(ops.maximum(square_sum, 1e-24)))
        return ops.cast(outputs, self.compute_dtype) if ops.dtype(outputs) != self.compute_dtype else outputs

    def compute_output_shape(self, input_shape):
        _resolve_axes(_axes_list(self.axis, self.name, "UnitNormalization"), tuple(input_shape), self.name,
                      "UnitNormalization", self.axis)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
