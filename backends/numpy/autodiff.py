"""``value_and_grad``: run fn with watched variables as leaves, then walk the tape back."""

from __future__ import annotations

import numpy as np

from ..protocol import InvalidArgumentError
from . import tape
from .core import unwrap
from .tape import Tensor
from .variable import Variable


def _plain(tree):
    """aux with traced Tensors replaced by their data (outside every value_and_grad)."""
    if type(tree) is Tensor:
        return tree.data
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return type(tree)(_plain(t) for t in tree)
    if isinstance(tree, tuple):  # a namedtuple
        return type(tree)(*(_plain(t) for t in tree))
    if isinstance(tree, dict):
        return {k: _plain(v) for k, v in tree.items()}
    return tree


def value_and_grad(fn, variables, has_aux=False):
    """``(value, grads)`` or ``((value, aux), grads)`` of ``fn()`` w.r.t. ``variables``.

    ``fn`` takes no arguments and returns a scalar (with ``has_aux``, a ``(scalar, aux)``
    pair). ``grads`` is a list aligned with ``variables``; a variable fn does not use
    gets zeros. Calls nest: an inner call differentiates only its own variables, and
    its value stays traced for the enclosing call (gradients are first order).
    """
    variables = list(variables)
    for v in variables:
        if not isinstance(v, Variable):
            raise InvalidArgumentError(
                f"value_and_grad: variables must be numpy-backend Variables, got {type(v).__name__}")
    watch = {}
    created = []
    for v in variables:
        if v in watch:
            continue
        leaf = tape.LEAVES.get(v)
        if leaf is None:  # an enclosing call may already watch v: share its leaf
            leaf = tape.LEAVES[v] = Tensor(v._value)
            created.append(v)
        watch[v] = [leaf]
    tape.WATCHES.append(watch)
    try:
        result = fn()
    finally:
        tape.WATCHES.pop()
        for v in created:
            del tape.LEAVES[v]
    if has_aux:
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise InvalidArgumentError("value_and_grad: with has_aux=True fn must return a (value, aux) pair")
        value, aux = result
    else:
        value, aux = result, None
    data, node = unwrap(value)
    if data.size != 1:
        raise InvalidArgumentError(f"value_and_grad: fn must return a scalar, got shape {data.shape}")
    leaf_grads = tape.backward(node, np.ones_like(data)) if node is not None else {}
    grads = []
    for v in variables:
        total = None
        for leaf in watch[v]:
            g = leaf_grads.get(leaf)
            if g is not None:
                total = g if total is None else total + g
        value_dtype = v._value.dtype
        if total is None:
            grads.append(np.zeros(v._value.shape, dtype=value_dtype))
        else:
            total = np.asarray(total)
            if total.dtype != value_dtype:
                total = total.astype(value_dtype)
            elif not total.flags.writeable:  # a broadcast view: give the caller its own array
                total = total.copy()
            grads.append(total.reshape(v._value.shape))
    if not tape.WATCHES:  # outermost call: hand back plain arrays
        value, aux = data, _plain(aux)
    else:  # an enclosing value_and_grad may differentiate through the value
        value = data if node is None else node
    return ((value, aux), grads) if has_aux else (value, grads)
