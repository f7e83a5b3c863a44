"""Fused optimizer steps ``adam_update`` and ``sgd_update`` as in-place ndarray updates.

The protocol's composites run ~10 wrapped ops per variable and rebuild their 0-d
constants on every call; here the per-step scalars are computed once per call and
each variable's update writes into the Variables' own arrays (``Variable._value``,
an array the Variable owns: it copies what ``assign`` is given). The arithmetic is
the composite's, operation for operation and in float32, so the results are
bitwise equal to it:

* Adam: ``m += (g - m) * (1 - beta_1)``; ``v += (g * g - v) * (1 - beta_2)``;
  ``w -= m * alpha / (sqrt(v) + epsilon) [+ w * lr * weight_decay]`` with
  ``alpha = lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)`` in float32 0-d arrays;
* SGD: ``m = m * momentum - g * lr``; ``w += m * momentum - g * lr`` (Nesterov) or ``m``.

The fast path takes float32 Variables, slots and gradients of matching shapes
outside ``value_and_grad``. Anything else (another dtype, NumPy lists, a shape
mismatch, a traced call) runs the protocol's composite, which promotes, raises the
contract's errors and records on the tape as any other op.
"""

from __future__ import annotations

import numpy as np

from .. import protocol
from ..protocol import check_update_lists
from . import tape
from .core import as_array
from .dtypes import FLOAT32
from .variable import Variable

ndarray = np.ndarray
_FLOAT32_SCALAR = np.float32
#: The protocol's composites over the assembled namespace (set by ``bind``).
_FALLBACK = {}


def bind(backend) -> None:
    """Build the composite fallbacks on the assembled op namespace (from ``bind_backend``)."""
    for name in ("adam_update", "sgd_update"):
        _FALLBACK[name] = protocol.COMPOSITES[name](backend)


def _arrays(variables):
    """The float32 arrays of a list of Variables, or ``None`` when one is anything else.

    A 0-d value comes as a (1,)-shaped view of itself: ufuncs of 0-d arrays return
    NumPy scalars, which cannot be written into.
    """
    out = []
    for v in variables:
        if type(v) is not Variable and not isinstance(v, Variable):
            return None
        a = v._value
        if a.dtype is not FLOAT32 and a.dtype != FLOAT32:
            return None
        out.append(a if a.ndim else a.reshape(1))
    return out


def _gradient_arrays(gradients, variables, params):
    """The gradients as float32 ndarrays shaped as ``params`` (see ``_arrays``), or ``None``
    (also when a gradient's shape is not its variable's: the composite raises for that)."""
    out = []
    for g, v, p in zip(gradients, variables, params):
        if type(g) is _FLOAT32_SCALAR:  # a 0-d gradient may come as a NumPy scalar
            g = np.asarray(g)
        elif type(g) is not ndarray or g.dtype != FLOAT32:
            return None
        if g.shape != v._value.shape:
            return None
        out.append(g if g.ndim else g.reshape(1))
    return out


def _learning_rate(learning_rate, weight_decay):
    """The learning rate as a float32 0-d array, or ``None`` when the composite must run."""
    if type(learning_rate) is float:
        # The composite multiplies a Python float weakly (rounded to float32) with tensors,
        # but lr * weight_decay of two Python floats in float64: leave that case to it.
        return None if weight_decay else np.asarray(learning_rate, FLOAT32)
    lr = as_array(learning_rate)
    if lr.dtype != FLOAT32 or lr.ndim:
        return None
    return lr


def _scalar(value):
    """A Python number as a float32 0-d array (as the composite's ``convert_to_tensor``)."""
    return np.asarray(float(value), FLOAT32)


def _weight_decay(lr, weight_decay):
    """``lr * weight_decay`` as the composite computes it (float32), or ``None`` for no decay."""
    if not weight_decay:
        return None
    return np.asarray(np.multiply(lr, np.float32(weight_decay)))


def _fast_path_inputs(variables, gradients, learning_rate, weight_decay, *slot_lists):
    """``(params, grads, lr, slot arrays...)`` when the in-place path applies, else ``None``."""
    if tape.LEAVES:  # inside value_and_grad: the composite records the update on the tape
        return None
    params = _arrays(variables)
    if params is None:
        return None
    grads = _gradient_arrays(gradients, variables, params)
    lr = _learning_rate(learning_rate, weight_decay)
    if grads is None or lr is None:
        return None
    slots = []
    for slot_list in slot_lists:
        if slot_list is None:
            slots.append(None)
            continue
        arrays = _arrays(slot_list)
        if arrays is None or any(s._value.shape != v._value.shape for s, v in zip(slot_list, variables)):
            return None
        slots.append(arrays)
    return (params, grads, lr, *slots)


def adam_update(variables, gradients, momentums, velocities, velocity_hats, learning_rate, step, beta_1=0.9,
                beta_2=0.999, epsilon=1e-07, weight_decay=None, decay_mask=None):
    check_update_lists("adam_update", variables, gradients=gradients, momentums=momentums,
                       velocities=velocities, velocity_hats=velocity_hats, decay_mask=decay_mask)
    if not variables:
        return None
    inputs = _fast_path_inputs(variables, gradients, learning_rate, weight_decay, momentums, velocities,
                               velocity_hats)
    if inputs is None:
        return _FALLBACK["adam_update"](variables, gradients, momentums, velocities, velocity_hats, learning_rate,
                                        step, beta_1, beta_2, epsilon, weight_decay, decay_mask)
    params, grads, lr, ms, vs, v_hats = inputs
    # The composite's scalars: hyperparameters rounded to float32 (1 - beta from the Python
    # double), powers and the bias correction in float32 0-d arithmetic. They stay 0-d
    # arrays: ufuncs take those faster than NumPy scalars.
    b1, b2 = _scalar(float(beta_1)), _scalar(float(beta_2))
    one_minus_b1, one_minus_b2 = _scalar(1.0 - beta_1), _scalar(1.0 - beta_2)
    eps = _scalar(epsilon)
    t = as_array(step).astype(FLOAT32)
    correction = np.sqrt(1.0 - np.power(b2, t)) / (1.0 - np.power(b1, t))
    alpha = np.asarray(np.multiply(lr, correction))
    decay = _weight_decay(lr, weight_decay)
    for i, (w, g, m, v) in enumerate(zip(params, grads, ms, vs)):
        scratch = np.subtract(g, m)
        scratch *= one_minus_b1
        m += scratch
        np.square(g, out=scratch)
        scratch -= v
        scratch *= one_minus_b2
        v += scratch
        if v_hats is not None:
            v = np.maximum(v_hats[i], v, out=v_hats[i])
        denominator = np.sqrt(v)
        denominator += eps
        np.multiply(m, alpha, out=scratch)
        scratch /= denominator
        if decay is not None and (decay_mask is None or decay_mask[i]):
            np.multiply(w, decay, out=denominator)
            scratch += denominator
        w -= scratch
    return None


def sgd_update(variables, gradients, momentums, learning_rate, momentum=0.0, nesterov=False, weight_decay=None,
               decay_mask=None):
    check_update_lists("sgd_update", variables, gradients=gradients, momentums=momentums, decay_mask=decay_mask)
    if not variables:
        return None
    inputs = _fast_path_inputs(variables, gradients, learning_rate, weight_decay, momentums)
    if inputs is None:
        return _FALLBACK["sgd_update"](variables, gradients, momentums, learning_rate, momentum, nesterov,
                                       weight_decay, decay_mask)
    params, grads, lr, ms = inputs
    mu = _scalar(momentum)
    decay = _weight_decay(lr, weight_decay)
    for i, (w, g) in enumerate(zip(params, grads)):
        scaled = np.multiply(g, lr)
        decayed = decay is not None and (decay_mask is None or decay_mask[i])
        if ms is None:
            if decayed:
                scaled += np.multiply(w, decay)
            w -= scaled
            continue
        m = ms[i]
        m *= mu
        m -= scaled
        if nesterov:
            increment = np.multiply(m, mu)
            increment -= scaled
        else:
            increment = m
        if decayed:
            increment = np.subtract(increment, np.multiply(w, decay))
        w += increment
    return None
