"""Activations, softmax, normalization and losses, each one tape node with a fused VJP."""

from __future__ import annotations

import math

import numpy as np

from ..protocol import EPSILON, InvalidArgumentError, normalize_axis
from . import dtypes
from .core import as_array, unwrap, unwrap_float
from .dtypes import FLOATS
from .elementwise import _erf
from .fastreduce import add_reduce as _add_reduce
from .fastreduce import max_reduce as _max_reduce
from .reductions import _axes, _kept_shape
from .tape import Tensor, unbroadcast

ndarray = np.ndarray
asarray = np.asarray


def _activation(name, forward, grad, doc):
    """A float activation ``forward(a) -> out`` with VJP ``grad(g, a, out)``; ints -> float32."""

    def op(x):
        if type(x) is ndarray and x.dtype in FLOATS:
            return asarray(forward(x))
        a, node = unwrap_float(x)
        out = asarray(forward(a))
        if node is None:
            return out
        return Tensor(out, (node,), lambda g: (grad(g, a, out),))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _sigmoid(a):
    # exp of -|a| never overflows; both branches are exact in their half.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_GELU_C = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def relu(x):
    """max(x, 0); gradient 0 at 0."""
    if type(x) is ndarray:
        return asarray(np.maximum(x, 0))
    a, node = unwrap(x)
    out = asarray(np.maximum(a, 0))
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (g * (a > 0),))


def relu6(x):
    """min(max(x, 0), 6); gradient 1 strictly inside (0, 6)."""
    a, node = unwrap(x)
    out = asarray(np.minimum(np.maximum(a, 0), 6))
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (g * ((a > 0) & (a < 6)),))


def leaky_relu(x, negative_slope=0.2):
    """x where x >= 0, else negative_slope * x."""
    a, node = unwrap_float(x)
    positive = a >= 0
    out = asarray(np.where(positive, a, a * negative_slope)).astype(a.dtype, copy=False)
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (np.where(positive, g, g * negative_slope),))


def _elu_forward(a, alpha, scale):
    negative = np.minimum(a, 0)  # expm1 of min(x, 0) stays finite for large x
    out = np.where(a > 0, a, alpha * np.expm1(negative))
    if scale != 1:
        out = out * scale
    return asarray(out).astype(a.dtype, copy=False), negative


def elu(x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    a, node = unwrap_float(x)
    out, negative = _elu_forward(a, alpha, 1)
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (np.where(a > 0, g, g * (alpha * np.exp(negative))),))


def selu(x):
    """1.0507 * elu(x, 1.6733)."""
    a, node = unwrap_float(x)
    out, negative = _elu_forward(a, _SELU_ALPHA, _SELU_SCALE)
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (
        np.where(a > 0, g * _SELU_SCALE, g * (_SELU_SCALE * _SELU_ALPHA) * np.exp(negative)),))


def gelu(x, approximate=True):
    """Gaussian error linear unit (tanh approximation or exact erf form)."""
    a, node = unwrap_float(x)
    if approximate:
        t = np.tanh(_GELU_C * (a + 0.044715 * a * a * a))
        out = asarray(0.5 * a * (1 + t)).astype(a.dtype, copy=False)
        if node is None:
            return out
        return Tensor(out, (node,), lambda g: (
            g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * _GELU_C * (1 + 3 * 0.044715 * a * a)),))
    cdf = 0.5 * (1 + _erf(a * _INV_SQRT2))
    out = asarray(a * cdf).astype(a.dtype, copy=False)
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (g * (cdf + a * _INV_SQRT_2PI * np.exp(-0.5 * a * a)),))


def _silu_grad(g, a, out):
    s = _sigmoid(a)
    return g * (s * (1 + a * (1 - s)))


sigmoid = _activation("sigmoid", _sigmoid, lambda g, a, out: g * (out * (1 - out)), "Logistic sigmoid.")
silu = _activation("silu", lambda a: a * _sigmoid(a), _silu_grad, "x * sigmoid(x).")
softplus = _activation("softplus", lambda a: np.logaddexp(a, 0).astype(a.dtype, copy=False),
                       lambda g, a, out: g * _sigmoid(a), "log(1 + exp(x)), stable.")
softsign = _activation("softsign", lambda a: a / (1 + np.abs(a)),
                       lambda g, a, out: g / np.square(1 + np.abs(a)), "x / (1 + |x|).")
hard_sigmoid = _activation("hard_sigmoid", lambda a: np.clip(a * (1 / 6) + 0.5, 0, 1).astype(a.dtype, copy=False),
                           lambda g, a, out: g * (((a > -3) & (a < 3)) * (1 / 6)).astype(a.dtype),
                           "clip(x / 6 + 0.5, 0, 1).")


# ------------------------------------------------------------------ softmax


def _softmax_axis(axis, ndim, op):
    if isinstance(axis, (tuple, list)):
        return tuple(normalize_axis(int(i), ndim, op) for i in axis)
    return normalize_axis(int(axis), ndim, op)




def _softmax(a, axis):
    e = np.exp(a - _max_reduce(a, axis=axis, keepdims=True))
    e /= _add_reduce(e, axis=axis, keepdims=True)
    return e


def _log_softmax(a, axis):
    shifted = a - _max_reduce(a, axis=axis, keepdims=True)
    shifted -= np.log(_add_reduce(np.exp(shifted), axis=axis, keepdims=True))
    return shifted


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along axis (int or tuple)."""
    a, node = unwrap_float(x)
    ax = _softmax_axis(axis, a.ndim, "softmax")
    out = _softmax(a, ax)
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (out * (g - _add_reduce(g * out, axis=ax, keepdims=True)),))


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along axis."""
    a, node = unwrap_float(x)
    ax = _softmax_axis(axis, a.ndim, "log_softmax")
    out = _log_softmax(a, ax)
    if node is None:
        return out
    return Tensor(out, (node,), lambda g: (g - np.exp(out) * _add_reduce(g, axis=ax, keepdims=True),))


# ------------------------------------------------------------ normalization


def moments(x, axes, keepdims=False):
    """(mean, variance) over axes."""
    a, node = unwrap_float(x)
    axes_ = _axes(axes, a.ndim, "moments")
    kept = _kept_shape(a.shape, axes_)
    count = max(int(np.prod([a.shape[i] for i in axes_])), 1)
    m = np.mean(a, axis=axes_, keepdims=True)
    centered = a - m
    v = np.mean(np.square(centered), axis=axes_, keepdims=True)
    if not keepdims:
        reduced = tuple(d for i, d in enumerate(a.shape) if i not in axes_)
        m, v = m.reshape(reduced), v.reshape(reduced)
    if node is None:
        return m, v
    mean_t = Tensor(m, (node,), lambda g: (np.broadcast_to(g.reshape(kept) / count, a.shape),))
    var_t = Tensor(v, (node,), lambda g: (g.reshape(kept) * (2.0 / count) * centered,))
    return mean_t, var_t


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=0.001):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, statistics of shape (C,) on axis."""
    xa, nx = unwrap(x)
    axis = normalize_axis(axis, xa.ndim, "batch_normalization")
    along = [1] * xa.ndim
    along[axis] = -1
    parts = [unwrap(t) for t in (mean, variance, offset, scale) if t is not None]
    dt = dtypes.float_of(dtypes.promote_many([xa.dtype] + [p.dtype for p, _ in parts]))
    if xa.dtype != dt:
        xa = xa.astype(dt)

    def channel(t):
        if t is None:
            return None, None
        array, node = unwrap(t)
        if array.size != xa.shape[axis]:
            raise InvalidArgumentError(
                f"batch_normalization: statistics of shape {array.shape} do not match axis {axis} of "
                f"x with shape {xa.shape}")
        return array.astype(dt, copy=False).reshape(along), node

    (m, nm), (v, nv) = channel(mean), channel(variance)
    (b, nb), (s, ns) = channel(offset), channel(scale)
    inv = 1 / np.sqrt(v + epsilon)
    factor = inv if s is None else inv * s
    centered = xa - m
    out = centered * factor
    if b is not None:
        out = out + b
    out = asarray(out)
    nodes = (nx, nm, nv, nb, ns)
    if all(n is None for n in nodes):
        return out
    reduce_axes = tuple(i for i in range(xa.ndim) if i != axis)

    def vjp(g):
        def summed(t, original):
            return _add_reduce(t, axis=reduce_axes, keepdims=True).reshape(np.shape(original))

        gx = g * factor if nx is not None else None
        gm = summed(-g * factor, as_array(mean)) if nm is not None else None
        gv = None
        if nv is not None:
            scaled = g * centered if s is None else g * centered * s
            gv = summed(scaled * (-0.5 * inv ** 3), as_array(variance))
        gb = summed(g, as_array(offset)) if nb is not None else None
        gs = summed(g * centered * inv, as_array(scale)) if ns is not None else None
        return gx, gm, gv, gb, gs

    return Tensor(out, nodes, vjp)


# ------------------------------------------------------------------- losses


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy; from_logits uses the stable form."""
    p, np_ = unwrap_float(output)
    t, nt = unwrap(target)
    t = t.astype(p.dtype, copy=False)  # the target takes the output's dtype
    if from_logits:
        out = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
        if np_ is None and nt is None:
            return asarray(out)
        return Tensor(asarray(out), (np_, nt), lambda g: (
            unbroadcast(g * (_sigmoid(p) - t), p.shape) if np_ is not None else None,
            unbroadcast(-g * p, t.shape) if nt is not None else None))
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    log_p, log_q = np.log(clipped), np.log(1 - clipped)
    out = asarray(-(t * log_p + (1 - t) * log_q))
    if np_ is None and nt is None:
        return out
    inside = (p >= EPSILON) & (p <= 1 - EPSILON)
    return Tensor(out, (np_, nt), lambda g: (
        unbroadcast(g * inside * ((1 - t) / (1 - clipped) - t / clipped), p.shape) if np_ is not None else None,
        unbroadcast(g * (log_q - log_p), t.shape) if nt is not None else None))


def _class_axis(axis, ndim, op):
    if ndim == 0:
        raise InvalidArgumentError(f"{op}: output must have rank >= 1, got a scalar")
    return normalize_axis(axis, ndim, op)


def _probability_grad(g_logp, p_raw, total, clipped, inside, ax):
    """Cotangent of output from one of log(clip(output / sum(output)))."""
    g_p = g_logp * inside / clipped
    return (g_p - _add_reduce(g_p * p_raw, axis=ax, keepdims=True)) / total


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log_softmax(output)) (or of log(normalized, clipped probabilities)) over axis."""
    o, no = unwrap_float(output)
    t, nt = unwrap(target)
    t = t.astype(o.dtype, copy=False)
    if t.shape != o.shape:
        raise InvalidArgumentError(
            f"categorical_crossentropy: target shape {t.shape} does not match output shape {o.shape}")
    ax = _class_axis(axis, o.ndim, "categorical_crossentropy")
    if from_logits:
        log_p = _log_softmax(o, ax)
        out = asarray(-_add_reduce(t * log_p, axis=ax))
        if no is None and nt is None:
            return out

        def vjp(g):
            g = np.expand_dims(g, ax)
            go = g * (np.exp(log_p) * _add_reduce(t, axis=ax, keepdims=True) - t) if no is not None else None
            return go, (-g * log_p if nt is not None else None)

        return Tensor(out, (no, nt), vjp)
    total = _add_reduce(o, axis=ax, keepdims=True)
    p_raw = o / total
    clipped = np.clip(p_raw, EPSILON, 1 - EPSILON)
    log_p = np.log(clipped)
    out = asarray(-_add_reduce(t * log_p, axis=ax))
    if no is None and nt is None:
        return out

    def vjp_probs(g):
        g = np.expand_dims(g, ax)
        go = None
        if no is not None:
            inside = (p_raw >= EPSILON) & (p_raw <= 1 - EPSILON)
            go = _probability_grad(-g * t, p_raw, total, clipped, inside, ax)
        return go, (-g * log_p if nt is not None else None)

    return Tensor(out, (no, nt), vjp_probs)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy with integer labels; labels outside [0, classes) raise InvalidArgumentError."""
    o, no = unwrap_float(output)
    ax = _class_axis(axis, o.ndim, "sparse_categorical_crossentropy")
    labels = as_array(target)
    if labels.dtype.kind == "f":
        labels = labels.astype(np.int64)
    expected = o.shape[:ax] + o.shape[ax + 1:]
    if labels.shape != expected:
        raise InvalidArgumentError(
            f"sparse_categorical_crossentropy: target shape {labels.shape} does not match output shape "
            f"{o.shape} without its class axis {expected}")
    classes = o.shape[ax]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)].ravel()[:5].tolist()
        raise InvalidArgumentError(f"sparse_categorical_crossentropy: labels must be in [0, {classes}), got {bad}")
    # Class axis last, other axes flattened: rows (R, classes), picked by fancy indexing.
    moved = o if ax == o.ndim - 1 else np.moveaxis(o, ax, -1)
    rows = moved.reshape(-1, classes)
    picked = (np.arange(labels.size), labels.reshape(-1))

    def back(grad_rows):
        grad = grad_rows.reshape(moved.shape)
        return (grad if ax == o.ndim - 1 else np.moveaxis(grad, -1, ax),)

    if from_logits:
        log_p = _log_softmax(rows, -1)
        out = asarray(-log_p[picked]).reshape(labels.shape)
        if no is None:
            return out

        def vjp(g):
            grad = np.exp(log_p)
            grad[picked] -= 1
            grad *= g.reshape(-1, 1)
            return back(grad)

        return Tensor(out, (no,), vjp)
    total = _add_reduce(rows, axis=-1, keepdims=True)
    p_raw = rows / total
    clipped = np.clip(p_raw, EPSILON, 1 - EPSILON)
    out = asarray(-np.log(clipped[picked])).reshape(labels.shape)
    if no is None:
        return out

    def vjp_probs(g):
        g_logp = np.zeros_like(rows)
        g_logp[picked] = -g.reshape(-1)
        inside = (p_raw >= EPSILON) & (p_raw <= 1 - EPSILON)
        return back(_probability_grad(g_logp, p_raw, total, clipped, inside, -1))

    return Tensor(out, (no,), vjp_probs)
