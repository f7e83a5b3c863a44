"""Matrix products: matmul, dot, tensordot, einsum, with their VJPs."""

from __future__ import annotations

import string

import numpy as np

from ..protocol import InvalidArgumentError
from . import dtypes
from .dtypes import FLOAT32, HALVES
from .core import binary, unwrap
from .elementwise import multiply
from .tape import Tensor, unbroadcast

ndarray = np.ndarray


# ------------------------------------------------------------------- matmul


def _matmul_vjp(a, b, ta, tb):
    if a.ndim == 2 and b.ndim == 2:  # the dense-layer case: two BLAS calls, no reshaping
        return lambda g: (g @ b.T if ta else None, a.T @ g if tb else None)

    def vjp(g):
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if ta else None
        gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape) if tb else None
        return ga, gb

    return vjp


def matmul(x1, x2):
    """Matrix product with batch broadcasting (rank >= 1), as np.matmul."""
    if (type(x1) is ndarray and type(x2) is ndarray and x1.dtype is x2.dtype and x1.ndim and x2.ndim
            and x1.dtype not in HALVES):
        out = np.matmul(x1, x2)
        return out if type(out) is ndarray else np.asarray(out)
    a, na, b, nb = binary(x1, x2)
    if type(a) is not ndarray or type(b) is not ndarray or not a.ndim or not b.ndim:
        raise InvalidArgumentError(
            f"matmul: operands must have rank >= 1, got shapes {np.shape(a)} and {np.shape(b)}")
    dt = a.dtype
    if dt in HALVES:
        a, b = a.astype(FLOAT32), b.astype(FLOAT32)
    out = np.matmul(a, b)
    out = out.astype(dt) if out.dtype != dt else np.asarray(out)
    if na is None and nb is None:
        return out
    return Tensor(out, (na, nb), _matmul_vjp(a, b, na is not None, nb is not None))


def dot(x1, x2):
    """np.dot: a product for scalars, matmul up to rank 2, else a sum over a's last and b's second-to-last axis."""
    a, _, b, _ = binary(x1, x2)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return multiply(x1, x2)
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(x1, x2)
    return tensordot(x1, x2, ([a.ndim - 1], [b.ndim - 2 if b.ndim >= 2 else 0]))


# ---------------------------------------------------------------- tensordot


def _tensordot_axes(axes, nd_a, nd_b):
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > nd_a or n > nd_b:
            raise InvalidArgumentError(f"tensordot: axes={n} is out of range for ranks {nd_a} and {nd_b}")
        return list(range(nd_a - n, nd_a)), list(range(n))
    axes_a, axes_b = axes
    axes_a = [int(axes_a)] if isinstance(axes_a, (int, np.integer)) else [int(i) for i in axes_a]
    axes_b = [int(axes_b)] if isinstance(axes_b, (int, np.integer)) else [int(i) for i in axes_b]
    if len(axes_a) != len(axes_b):
        raise InvalidArgumentError(f"tensordot: axes {axes_a} and {axes_b} differ in length")
    for i in axes_a:
        if not -nd_a <= i < nd_a:
            raise InvalidArgumentError(f"tensordot: axis {i} is out of range for rank {nd_a}")
    for i in axes_b:
        if not -nd_b <= i < nd_b:
            raise InvalidArgumentError(f"tensordot: axis {i} is out of range for rank {nd_b}")
    return [i % nd_a for i in axes_a], [i % nd_b for i in axes_b]


def tensordot(x1, x2, axes=2):
    """Contraction of x1's ``axes[0]`` with x2's ``axes[1]`` (an int n: last n with first n)."""
    a, na, b, nb = binary(x1, x2)
    a, b = np.asarray(a), np.asarray(b)
    axes_a, axes_b = _tensordot_axes(axes, a.ndim, b.ndim)
    dt = a.dtype
    if dt in HALVES:
        a, b = a.astype(FLOAT32), b.astype(FLOAT32)
    out = np.asarray(np.tensordot(a, b, (axes_a, axes_b))).astype(dt, copy=False)
    if na is None and nb is None:
        return out
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    nfa, nfb = len(free_a), len(free_b)

    def vjp(g):
        ga = gb = None
        if na is not None:
            # Result axes: a's free axes, then b's contracted axes in b's order.
            partial = np.tensordot(g, b, (list(range(nfa, nfa + nfb)), free_b))
            labels = free_a + [axes_a[axes_b.index(j)] for j in sorted(axes_b)]
            ga = np.transpose(partial, np.argsort(labels))
        if nb is not None:
            partial = np.tensordot(a, g, (free_a, list(range(nfa))))
            labels = [axes_b[axes_a.index(i)] for i in sorted(axes_a)] + free_b
            gb = np.transpose(partial, np.argsort(labels))
        return ga, gb

    return Tensor(out, (na, nb), vjp)


# ------------------------------------------------------------------- einsum


def _parse_einsum(subscripts, shapes):
    """Explicit subscripts: (input subs, output sub) with '...' replaced by letters."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, rhs = subscripts.split("->")
    else:
        lhs, rhs = subscripts, None
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise InvalidArgumentError(f"einsum: {len(inputs)} subscripts for {len(shapes)} operands")
    free = [c for c in string.ascii_letters if c not in subscripts]
    ellipsis_dims = 0
    for sub, shape in zip(inputs, shapes):
        if "..." in sub:
            ellipsis_dims = max(ellipsis_dims, len(shape) - (len(sub) - 3))
    letters = "".join(free[:ellipsis_dims])
    explicit = []
    for sub, shape in zip(inputs, shapes):
        if "..." in sub:
            n = len(shape) - (len(sub) - 3)
            sub = sub.replace("...", letters[ellipsis_dims - n:] if n else "")
        explicit.append(sub)
    if rhs is None:
        counts = {}
        for sub in explicit:
            for c in sub:
                counts[c] = counts.get(c, 0) + 1
        rhs = letters + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in letters))
    else:
        rhs = rhs.replace("...", letters)
    return explicit, rhs


def _einsum_vjp(explicit, rhs, arrays, nodes):
    sizes = {}
    for sub, array in zip(explicit, arrays):
        for c, d in zip(sub, array.shape):
            if d != 1:
                sizes[c] = d
            else:
                sizes.setdefault(c, 1)

    def vjp(g):
        # Broadcast every operand to the full label sizes, so labels agree exactly.
        full = [np.broadcast_to(x, tuple(sizes[c] for c in sub)) for sub, x in zip(explicit, arrays)]
        grads = []
        for i, (sub, node) in enumerate(zip(explicit, nodes)):
            if node is None:
                grads.append(None)
                continue
            unique = "".join(dict.fromkeys(sub))
            others = [explicit[j] for j in range(len(explicit)) if j != i]
            available = set(rhs).union(*others)
            target = "".join(c for c in unique if c in available)
            ops = [g] + [full[j] for j in range(len(full)) if j != i]
            spec = ",".join([rhs] + others) + "->" + target
            partial = np.einsum(spec, *ops, optimize=len(ops) > 2)
            # Labels only this operand has were summed away: they get the cotangent broadcast.
            shape = tuple(sizes[c] if c in available else 1 for c in unique)
            grad_unique = np.broadcast_to(partial.reshape(shape), tuple(sizes[c] for c in unique))
            if unique != sub:  # repeated labels: write onto the diagonal
                dense = np.zeros(tuple(sizes[c] for c in sub), dtype=g.dtype)
                np.einsum(sub + "->" + unique, dense)[...] = grad_unique
                grad_unique = dense
            grads.append(unbroadcast(np.asarray(grad_unique), arrays[i].shape))
        return grads

    return vjp


def einsum(subscripts, *operands):
    """Einstein summation over operands promoted to one dtype."""
    unwrapped = [unwrap(x) for x in operands]
    arrays = [a for a, _ in unwrapped]
    nodes = [n for _, n in unwrapped]
    dt = dtypes.promote_many([a.dtype for a in arrays]) if arrays else FLOAT32
    work = FLOAT32 if dt in HALVES else dt
    arrays = [a if a.dtype == work else a.astype(work) for a in arrays]
    out = np.asarray(np.einsum(subscripts, *arrays, optimize=len(arrays) > 1)).astype(dt, copy=False)
    if all(n is None for n in nodes):
        return out
    explicit, rhs = _parse_einsum(subscripts, [a.shape for a in arrays])
    return Tensor(out, tuple(nodes), _einsum_vjp(explicit, rhs, arrays, nodes))
