"""The reverse-mode tape: traced ``Tensor`` nodes and the backward pass.

Outside ``value_and_grad`` every op takes and returns plain ``np.ndarray``s and
records nothing. Inside it, each watched ``Variable`` reads as a leaf ``Tensor``;
an op with a traced input returns a ``Tensor`` that keeps its parents and a VJP
closure ``vjp(g) -> (grad for parent 0, grad for parent 1, ...)`` (``None`` for a
parent that needs none). The graph lives as long as the output does: there is no
global tape to clear, and nested ``value_and_grad`` calls share nodes freely.
"""

from __future__ import annotations

import itertools
from operator import attrgetter

import numpy as np

from ..common import OperatorsMixin

_next_seq = itertools.count().__next__

ndarray = np.ndarray


class Tensor(OperatorsMixin):
    """A traced value: ``data`` (an ndarray), its ``parents`` and its ``vjp`` closure.

    A leaf (a watched variable's value) has no parents and ``vjp is None``. It
    behaves like the ndarray it wraps: ``shape``, ``dtype`` (a NumPy dtype, equal
    to its string name), ``ndim``, ``len()``, iteration, ``np.asarray(t)``.
    """

    __slots__ = ("data", "parents", "vjp", "seq")

    def __init__(self, data, parents=(), vjp=None):
        self.data = data
        self.parents = parents
        self.vjp = vjp
        # Creation order is a topological order: parents always exist before children.
        self.seq = _next_seq()

    # -- ndarray-like read-only view -----------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def T(self):
        return self._ops.transpose(self)

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        getitem = self._ops.getitem
        return (getitem(self, i) for i in range(len(self.data)))

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __index__(self):
        return self.data.__index__()

    def __eq__(self, other):
        return self._ops.equal(self, other)

    def __ne__(self, other):
        return self._ops.not_equal(self, other)

    __hash__ = object.__hash__

    def __repr__(self):
        kind = "leaf" if self.vjp is None else "traced"
        return f"<Tensor ({kind}) shape={self.data.shape} dtype={self.data.dtype}\n{self.data!r}>"


def unbroadcast(g, shape):
    """Sum ``g`` over the axes along which an input of ``shape`` was broadcast."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


_by_creation = attrgetter("seq")


def backward(root, seed):
    """Cotangents of every leaf reachable from ``root``: ``{leaf: ndarray}``.

    Nodes are visited newest first (creation order reversed), so each node's
    cotangent is complete before its VJP runs. Tensors hash by identity.
    """
    reachable = {root}
    stack = [root]
    while stack:
        for parent in stack.pop().parents:
            if parent is not None and parent not in reachable:
                reachable.add(parent)
                stack.append(parent)
    grads = {root: seed}
    leaves = {}
    for node in sorted(reachable, key=_by_creation, reverse=True):
        g = grads.pop(node, None)
        if g is None:
            continue
        if node.vjp is None:
            leaves[node] = g
            continue
        for parent, pg in zip(node.parents, node.vjp(g)):
            if parent is None or pg is None:
                continue
            previous = grads.get(parent)
            # Out of place: a VJP may hand the same array to several parents.
            grads[parent] = pg if previous is None else previous + pg
    return leaves


# ----------------------------------------------------------- watched variables
#: Variable -> its current leaf Tensor, for every variable some active
#: value_and_grad watches. Empty outside value_and_grad, so a Variable read costs
#: one truth test there.
LEAVES: dict = {}
#: One dict per active value_and_grad (innermost last): Variable -> list of every
#: leaf the variable has had during that call (an ``assign`` inside fn starts a new one).
WATCHES: list = []


def renew_leaf(variable, data):
    """A watched variable was assigned inside fn: later reads see a fresh leaf."""
    leaf = Tensor(data)
    LEAVES[variable] = leaf
    for watch in WATCHES:
        if variable in watch:
            watch[variable].append(leaf)
