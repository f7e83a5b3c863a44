"""Fused optimizer steps: ``adam_update`` and ``sgd_update`` as multi-tensor in-place kernels.

As ``torch.optim``'s ``foreach`` implementations, one call updates every variable of a
step with a handful of ``torch._foreach_*`` kernels that write into the Variables' own
tensors, instead of ~10 ops per variable that each allocate a result. The math is the
protocol's (Keras 3's: epsilon outside the bias correction, decoupled weight decay
first), which differs from ``torch.optim.Adam``'s placement of epsilon.

Two ways to get the per-step scalars (learning rate, bias corrections):

* host scalars: when the learning rate and step live on the CPU, they are read as
  Python floats (free there, as ``torch.optim`` does with its CPU ``step``) and passed
  as the kernels' scalar arguments: the fewest passes over memory;
* device scalars: otherwise (CUDA, MPS, or inside ``torch.compile``) they stay 0-d
  tensors, so a step never waits for the device (``torch.optim``'s ``capturable``
  form); the step size is folded into the denominator by one more kernel.

Inside ``value_and_grad`` an in-place write could corrupt tensors saved for the
backward pass, so there the protocol's composite runs (Variables then get fresh
tensors, see ``variables``).
"""

from __future__ import annotations

import numpy as np
import torch

from .. import protocol
from ..protocol import InvalidArgumentError
from .core import TRACING, Tensor, as_tensor
from .variables import Variable

#: The protocol's composites over the assembled namespace (set by ``bind``).
_FALLBACK = {}


def bind(backend) -> None:
    """Build the composite fallbacks on the assembled op namespace (from ``bind_backend``)."""
    for name in ("adam_update", "sgd_update"):
        _FALLBACK[name] = protocol.COMPOSITES[name](backend)


def _f32(value) -> float:
    """A hyperparameter rounded to float32, as the composite's float32 tensors hold it."""
    return float(np.float32(value))


def _tensors(op, what, variables):
    """The tensors of a list of this backend's Variables."""
    out = []
    for i, v in enumerate(variables):
        if type(v) is not Variable and not isinstance(v, Variable):
            raise InvalidArgumentError(f"{op}: {what}[{i}] is a {type(v).__name__}, expected a Variable of the "
                                       f"torch backend")
        out.append(v._tensor)
    return out


def _gradients(op, gradients, params):
    """Gradients as tensors of their variable's dtype and shape."""
    out = []
    for i, (g, p) in enumerate(zip(gradients, params)):
        if type(g) is not Tensor:
            g = as_tensor(g)
        if g.dtype is not p.dtype:
            g = g.to(p.dtype)
        if g.shape != p.shape:
            raise InvalidArgumentError(f"{op}: gradients[{i}] has shape {tuple(g.shape)}, expected "
                                       f"{tuple(p.shape)} (the shape of variables[{i}])")
        out.append(g)
    return out


def _scalar(value):
    """The learning rate or step: a tensor (Variables give theirs), or a Python number as is."""
    if isinstance(value, Variable):
        return value._tensor
    if isinstance(value, (int, float)):
        return value
    return as_tensor(value)


def _host_scalars(learning_rate, step) -> bool:
    """Whether the per-step scalars can be read as Python numbers without a device sync."""
    for value in (learning_rate, step):
        if type(value) is Tensor and value.device.type != "cpu":
            return False
    return not torch.compiler.is_compiling()


def _decayed(params, decay_mask):
    return params if decay_mask is None else [p for p, keep in zip(params, decay_mask) if keep]


def adam_update(variables, gradients, momentums, velocities, velocity_hats, learning_rate, step, beta_1=0.9,
                beta_2=0.999, epsilon=1e-07, weight_decay=None, decay_mask=None):
    protocol.check_update_lists("adam_update", variables, gradients=gradients, momentums=momentums,
                                velocities=velocities, velocity_hats=velocity_hats, decay_mask=decay_mask)
    if not variables:
        return None
    if TRACING.depth:
        return _FALLBACK["adam_update"](variables, gradients, momentums, velocities, velocity_hats, learning_rate,
                                        step, beta_1, beta_2, epsilon, weight_decay, decay_mask)
    params = _tensors("adam_update", "variables", variables)
    grads = _gradients("adam_update", gradients, params)
    exp_avgs = _tensors("adam_update", "momentums", momentums)
    exp_avg_sqs = _tensors("adam_update", "velocities", velocities)
    maxima = None if velocity_hats is None else _tensors("adam_update", "velocity_hats", velocity_hats)
    lr, step = _scalar(learning_rate), _scalar(step)
    b1, b2 = _f32(beta_1), _f32(beta_2)
    with torch.no_grad():
        host = _host_scalars(lr, step)
        if host:
            lr = float(lr)
        if host or not isinstance(step, Tensor):
            t = float(step)
            alpha = lr * ((1.0 - b2 ** t) ** 0.5 / (1.0 - b1 ** t))
        else:
            t = step.to(torch.float32)
            alpha = lr * (torch.sqrt(1.0 - torch.pow(b2, t)) / (1.0 - torch.pow(b1, t)))
        if weight_decay:
            decayed = _decayed(params, decay_mask)
            if decayed:
                torch._foreach_mul_(decayed, 1.0 - lr * float(weight_decay))
        torch._foreach_lerp_(exp_avgs, grads, _f32(1.0 - beta_1))
        torch._foreach_mul_(exp_avg_sqs, b2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, _f32(1.0 - beta_2))
        if maxima is not None:
            torch._foreach_maximum_(maxima, exp_avg_sqs)
        denominators = torch._foreach_sqrt(exp_avg_sqs if maxima is None else maxima)
        torch._foreach_add_(denominators, _f32(epsilon))
        if host:
            torch._foreach_addcdiv_(params, exp_avgs, denominators, -alpha)
        else:
            # w -= m / (denominator / alpha): the 0-d alpha never leaves the device.
            torch._foreach_div_(denominators, alpha)
            torch._foreach_addcdiv_(params, exp_avgs, denominators, value=-1.0)
    return None


def sgd_update(variables, gradients, momentums, learning_rate, momentum=0.0, nesterov=False, weight_decay=None,
               decay_mask=None):
    protocol.check_update_lists("sgd_update", variables, gradients=gradients, momentums=momentums,
                                decay_mask=decay_mask)
    if not variables:
        return None
    if TRACING.depth:
        return _FALLBACK["sgd_update"](variables, gradients, momentums, learning_rate, momentum, nesterov,
                                       weight_decay, decay_mask)
    params = _tensors("sgd_update", "variables", variables)
    grads = _gradients("sgd_update", gradients, params)
    velocities = None if momentums is None else _tensors("sgd_update", "momentums", momentums)
    lr = _scalar(learning_rate)
    mu = _f32(momentum)
    with torch.no_grad():
        host = _host_scalars(lr, None)
        if host:
            lr = float(lr)
        if weight_decay:
            decayed = _decayed(params, decay_mask)
            if decayed:
                torch._foreach_mul_(decayed, 1.0 - lr * float(weight_decay))
        if host:
            # lr * g enters as the kernels' alpha: no tensor for it.
            if velocities is None:
                torch._foreach_add_(params, grads, alpha=-lr)
                return None
            torch._foreach_mul_(velocities, mu)
            torch._foreach_add_(velocities, grads, alpha=-lr)
            if nesterov:
                torch._foreach_add_(params, velocities, alpha=mu)
                torch._foreach_add_(params, grads, alpha=-lr)
            else:
                torch._foreach_add_(params, velocities)
            return None
        scaled = torch._foreach_mul(grads, lr)
        if velocities is None:
            torch._foreach_sub_(params, scaled)
            return None
        torch._foreach_mul_(velocities, mu)
        torch._foreach_sub_(velocities, scaled)
        if nesterov:
            torch._foreach_add_(params, velocities, alpha=mu)
            torch._foreach_sub_(params, scaled)
        else:
            torch._foreach_add_(params, velocities)
    return None
