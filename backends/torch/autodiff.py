"""Autodiff and compilation services: ``value_and_grad`` on autograd, opt-in ``torch.compile``.

Variables' tensors require gradients only while a ``value_and_grad`` differentiates
them, so forward passes elsewhere build no graph. Nesting works: an inner call keeps
its graph (``retain_graph``) and returns an undetached value, so an enclosing call can
differentiate through it; only the outermost call detaches what it returns.
"""

from __future__ import annotations

import os

import torch

from ..protocol import InvalidArgumentError
from .core import TRACING, Tensor, as_tensor
from .variables import Variable

def _detach(tree):
    if isinstance(tree, Tensor):
        return tree.detach()
    if type(tree) in (list, tuple):
        return type(tree)(_detach(t) for t in tree)
    if type(tree) is dict:
        return {k: _detach(v) for k, v in tree.items()}
    return tree


def _leaf(variable, i):
    if type(variable) is Variable or isinstance(variable, Variable):
        return variable._tensor
    raise InvalidArgumentError(f"value_and_grad: variables[{i}] is a {type(variable).__name__}, "
                               f"expected a Variable of this backend")


def value_and_grad(fn, variables, has_aux=False):
    """``fn()`` -> scalar; returns ``(value, grads)`` or ``((value, aux), grads)``.

    ``grads[i]`` has ``variables[i]``'s shape and dtype (zeros where fn does not use it).
    """
    variables = list(variables)
    leaves = [_leaf(v, i) for i, v in enumerate(variables)]
    flipped = []
    for leaf in leaves:
        if not leaf.requires_grad and leaf.is_floating_point():
            leaf.requires_grad_(True)
            flipped.append(leaf)
    depth = TRACING.depth
    TRACING.depth = depth + 1
    try:
        if torch.is_grad_enabled():
            result = fn()
        else:
            with torch.enable_grad():
                result = fn()
        if has_aux:
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise InvalidArgumentError("value_and_grad: with has_aux=True, fn must return a (value, aux) pair, "
                                           f"got {type(result).__name__}")
            value, aux = result
        else:
            value, aux = result, None
        value = as_tensor(value)
        if value.numel() != 1:
            raise InvalidArgumentError(f"value_and_grad: fn must return a scalar, got shape {tuple(value.shape)}")
        wanted = [i for i, leaf in enumerate(leaves) if leaf.requires_grad]
        grads = [None] * len(leaves)
        if wanted and value.requires_grad:
            computed = torch.autograd.grad(value if value.dim() == 0 else value.reshape(()),
                                           [leaves[i] for i in wanted], allow_unused=True, retain_graph=depth > 0)
            for i, g in zip(wanted, computed):
                grads[i] = g
        grads = [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads)]
    finally:
        TRACING.depth = depth
        for leaf in flipped:
            leaf.requires_grad_(False)
    if depth == 0:
        value, aux = value.detach(), _detach(aux)
    return ((value, aux), grads) if has_aux else (value, grads)


def compile_function(fn, jit_compile=False):
    """``fn`` itself, or ``torch.compile(fn)`` when asked (``jit_compile=True`` or
    ``HIGHLEVEL_TORCH_COMPILE=1``)."""
    if jit_compile is True or os.environ.get("HIGHLEVEL_TORCH_COMPILE", "") == "1":
        return torch.compile(fn)
    return fn
