"""Activations, normalization and cross-entropies on TensorFlow's fused kernels.

Integer inputs to float-valued functions are computed in float32. Where TensorFlow's
kernel handles only the last axis (softmax, sparse cross-entropy) other axes are
moved there and back.
"""

from __future__ import annotations

import math

from ..protocol import EPSILON, InvalidArgumentError, normalize_axis
from ._engine import tf
from .core import FLOATS, INT32, as_float, cast, int_tensor, same_dtype, shape_of, tensor
from .checks import checked_labels
from .reductions import axes as _axes

_raw = tf.raw_ops
_Maximum, _Minimum = _raw.Maximum, _raw.Minimum
_LOW_PRECISION = frozenset({tf.float16, tf.bfloat16})

# ------------------------------------------------------------------ activations


def relu(x):
    """``max(x, 0)`` (gradient 0 at 0)."""
    return _raw.Relu(features=as_float(tensor(x)))


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return _raw.Relu6(features=as_float(tensor(x)))


def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x >= 0`` else ``negative_slope * x``."""
    x = as_float(tensor(x))
    if x.dtype is tf.float64:
        # LeakyRelu's alpha is a float32 attribute: exact slopes need the formula.
        return _raw.SelectV2(condition=_raw.GreaterEqual(x=x, y=0.0), t=x, e=_raw.Mul(x=x, y=float(negative_slope)))
    return _raw.LeakyRelu(features=x, alpha=float(negative_slope))


def elu(x, alpha=1.0):
    """``x`` for ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    x = as_float(tensor(x))
    if alpha == 1.0:
        return _raw.Elu(features=x)
    # expm1 of min(x, 0) keeps the unused branch finite for large x.
    negative = _raw.Mul(x=_raw.Expm1(x=_Minimum(x=x, y=0.0)), y=float(alpha))
    return _raw.SelectV2(condition=_raw.Greater(x=x, y=0.0), t=x, e=negative)


def selu(x):
    """Scaled ELU with the self-normalizing constants."""
    return _raw.Selu(features=as_float(tensor(x)))


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)


def gelu(x, approximate=True):
    """Gaussian error linear unit (tanh approximation by default).

    Written as ``x * sigmoid(2u)`` (= ``0.5 x (1 + tanh(u))``) and ``0.5 x erfc(-x / sqrt 2)``
    (= ``0.5 x (1 + erf(x / sqrt 2))``): for negative x, ``1 + tanh`` and ``1 + erf``
    cancel catastrophically in float32 (tf.nn.gelu's gradient is off by ~1% there).
    """
    x = as_float(tensor(x))
    if approximate:
        inner = _raw.Mul(x=_raw.AddV2(x=x, y=_raw.Mul(x=_raw.Mul(x=_raw.Square(x=x), y=x), y=0.044715)),
                         y=2.0 * _SQRT_2_OVER_PI)
        return _raw.Mul(x=x, y=_raw.Sigmoid(x=inner))
    return _raw.Mul(x=_raw.Mul(x=x, y=0.5), y=_raw.Erfc(x=_raw.Mul(x=x, y=-_SQRT_HALF)))


def silu(x):
    """``x * sigmoid(x)``."""
    return tf.nn.silu(as_float(tensor(x)))


def sigmoid(x):
    return _raw.Sigmoid(x=as_float(tensor(x)))


def softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``."""
    return _raw.Softplus(features=as_float(tensor(x)))


def softsign(x):
    """``x / (1 + |x|)``."""
    return _raw.Softsign(features=as_float(tensor(x)))


def hard_sigmoid(x):
    """``clip(x / 6 + 0.5, 0, 1)`` (Keras 3's definition)."""
    x = as_float(tensor(x))
    return _Minimum(x=_Maximum(x=_raw.AddV2(x=_raw.Mul(x=x, y=1.0 / 6.0), y=0.5), y=0.0), y=1.0)


def _last_axis(x, axis, op):
    return normalize_axis(int(axis), x.shape.rank, op) == x.shape.rank - 1


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``."""
    x = as_float(tensor(x))
    if isinstance(axis, (tuple, list)):  # several axes (as keras.ops): tf.nn takes one
        return tf.exp(log_softmax(x, axis))
    if _last_axis(x, axis, "softmax"):
        return _raw.Softmax(logits=x)
    return tf.nn.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
    x = as_float(tensor(x))
    if isinstance(axis, (tuple, list)):
        axes = [normalize_axis(int(a), x.shape.rank, "log_softmax") for a in axis]
        return x - tf.reduce_logsumexp(x, axis=axes, keepdims=True)
    if _last_axis(x, axis, "log_softmax"):
        return _raw.LogSoftmax(logits=x)
    return tf.nn.log_softmax(x, axis=axis)


# ---------------------------------------------------------------- normalization


def moments(x, axes, keepdims=False):
    """Mean and (population) variance over ``axes``; the variance's gradient does not
    flow through the mean (as ``tf.nn.moments`` and the protocol's composite)."""
    x = as_float(tensor(x))
    dims = _axes(axes, x.shape.rank, "moments")
    if not dims:
        return x, _raw.ZerosLike(x=x)
    low = x.dtype in _LOW_PRECISION
    if low:  # accumulate half-precision statistics in float32, as tf.nn.moments does
        x, dtype = cast(x, tf.float32), x.dtype
    axis = dims[0] if len(dims) == 1 else int_tensor(dims)
    mean = _raw.Mean(input=x, axis=axis, keep_dims=True)
    variance = _raw.Mean(input=_raw.SquaredDifference(x=x, y=_raw.StopGradient(input=mean)), axis=axis,
                         keep_dims=True)
    if not keepdims:
        mean = _raw.Squeeze(input=mean, axis=list(dims))
        variance = _raw.Squeeze(input=variance, axis=list(dims))
    if low:
        mean, variance = cast(mean, dtype), cast(variance, dtype)
    return mean, variance


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=0.001):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``; statistics have shape
    ``(C,)`` for the ``C`` entries of ``x`` along ``axis``."""
    params = [p for p in (offset, scale) if p is not None]
    x, mean, variance, *params = same_dtype(x, mean, variance, *params)
    x = as_float(x)
    rank = x.shape.rank
    axis = normalize_axis(int(axis), rank, "batch_normalization")
    channels = x.shape[axis]

    def along(t, what):
        if t.shape.rank != 1 or t.shape[0] != channels:
            if shape_of(t) == tuple(channels if d == axis else 1 for d in range(rank)):
                return cast(t, x.dtype)
            raise InvalidArgumentError(f"batch_normalization: {what} of shape {tuple(t.shape)} does not match "
                                       f"axis {axis} of x, shape {tuple(x.shape)}")
        t = cast(t, x.dtype)
        return t if axis == rank - 1 else tf.reshape(t, [channels if d == axis else 1 for d in range(rank)])

    mean, variance = along(mean, "mean"), along(variance, "variance")
    offset = along(params.pop(0), "offset") if offset is not None else None
    scale = along(params.pop(0), "scale") if scale is not None else None
    inv = _raw.Rsqrt(x=_raw.AddV2(x=variance, y=float(epsilon)))
    if scale is not None:
        inv = _raw.Mul(x=inv, y=scale)
    out = _raw.Mul(x=_raw.Sub(x=x, y=mean), y=inv)
    return out if offset is None else _raw.AddV2(x=out, y=offset)


# --------------------------------------------------------------- cross-entropies


def _log_clipped(p):
    return _raw.Log(x=_Minimum(x=_Maximum(x=p, y=EPSILON), y=1.0 - EPSILON))


def _one_minus(t):
    # The scalar goes second: in graphs a raw op takes its dtype from the first input.
    return _raw.AddV2(x=_raw.Neg(x=t), y=1.0)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise ``-(t log p + (1 - t) log(1 - p))``; on logits the stable
    ``max(z, 0) - z t + log(1 + exp(-|z|))``."""
    output = as_float(tensor(output))
    target = cast(tensor(target), output.dtype)
    if shape_of(target) != shape_of(output):
        common = tf.broadcast_static_shape(target.shape, output.shape)
        target, output = tf.broadcast_to(target, common), tf.broadcast_to(output, common)
    if from_logits:
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    p = _Minimum(x=_Maximum(x=output, y=EPSILON), y=1.0 - EPSILON)
    return _raw.Neg(x=_raw.AddV2(x=_raw.Mul(x=target, y=_raw.Log(x=p)),
                                 y=_raw.Mul(x=_one_minus(target), y=_raw.Log(x=_one_minus(p)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(t * log_softmax(z))`` on logits, else ``-sum(t * log(p / sum(p)))`` (p clipped)."""
    output = as_float(tensor(output))
    target = cast(tensor(target), output.dtype)
    if shape_of(target) != shape_of(output):
        raise InvalidArgumentError(f"categorical_crossentropy: target shape {shape_of(target)} does not match "
                                   f"output shape {shape_of(output)}")
    rank = output.shape.rank
    axis = normalize_axis(int(axis), rank, "categorical_crossentropy")
    if from_logits:
        if axis != rank - 1:
            perm = [d for d in range(rank) if d != axis] + [axis]
            output, target = tf.transpose(output, perm), tf.transpose(target, perm)
        if output.shape.rank == 2:
            return _raw.SoftmaxCrossEntropyWithLogits(features=output, labels=target)[0]
        flat = int_tensor((-1, output.shape[-1]))
        loss, _ = _raw.SoftmaxCrossEntropyWithLogits(features=_raw.Reshape(tensor=output, shape=flat),
                                                     labels=_raw.Reshape(tensor=target, shape=flat))
        return _raw.Reshape(tensor=loss, shape=int_tensor(tuple(output.shape[:-1])))
    p = output / tf.reduce_sum(output, axis=axis, keepdims=True)
    return -tf.reduce_sum(target * _log_clipped(p), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy with integer class labels; a label outside ``[0, classes)`` raises."""
    output = as_float(tensor(output))
    rank = output.shape.rank
    axis = normalize_axis(int(axis), rank, "sparse_categorical_crossentropy")
    classes = output.shape[axis]
    target = tensor(target)
    if target.dtype in FLOATS:
        target = cast(target, INT32)
    expected = tuple(d for i, d in enumerate(shape_of(output)) if i != axis)
    if shape_of(target) != expected:
        raise InvalidArgumentError(
            f"sparse_categorical_crossentropy: target shape {shape_of(target)} does not match output shape "
            f"{shape_of(output)} without its class axis {expected}")
    target = checked_labels(target, classes, "sparse_categorical_crossentropy")
    if axis != rank - 1:
        output = tf.transpose(output, [d for d in range(rank) if d != axis] + [axis])
    if from_logits and output.dtype is not tf.bfloat16:
        if rank == 2:
            return _raw.SparseSoftmaxCrossEntropyWithLogits(features=output, labels=target)[0]
        loss, _ = _raw.SparseSoftmaxCrossEntropyWithLogits(
            features=_raw.Reshape(tensor=output, shape=int_tensor((-1, classes))),
            labels=_raw.Reshape(tensor=target, shape=int_tensor((-1,))))
        return _raw.Reshape(tensor=loss, shape=int_tensor(expected))
    if from_logits:
        log_p = tf.nn.log_softmax(output, axis=-1)
    else:
        log_p = _log_clipped(output / tf.reduce_sum(output, axis=-1, keepdims=True))
    return -tf.gather(log_p, target, axis=rank - 1, batch_dims=rank - 1)


def stop_gradient(x):
    """Identity whose gradient is zero."""
    return tf.stop_gradient(tensor(x))

