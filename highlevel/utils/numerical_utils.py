"""``hl.utils.normalize``: scale vectors to unit norm along an axis (Keras's ``keras.utils.normalize``)."""

from __future__ import annotations

import numbers

import numpy as np


def _check_order(order):
    """``order`` must be a positive number or ``inf`` (the norms NumPy's vector norm defines for us)."""
    if isinstance(order, bool) or not isinstance(order, numbers.Real) or not order > 0:
        raise ValueError(f"normalize: order must be a positive number or numpy.inf, got {order!r}")


def normalize(x, axis=-1, order=2):
    """Divide ``x`` by its ``order``-norm along ``axis``, as ``keras.utils.normalize``.

    x: array of any shape ``(..., n, ...)``. A NumPy array (or anything array-like: lists,
    scalars) gives a NumPy array; a backend tensor gives a backend tensor (computed with
    ``hl.ops``, so it stays on its device and is differentiable).
    axis: the axis the norm is taken over (an int).
    order: the vector norm's order (``2``: Euclidean, ``1``, ``numpy.inf``, any positive p).
    Returns an array of ``x``'s shape: ``x / ||x||_order`` along ``axis``. Vectors whose
    norm is 0 are returned unchanged (divided by 1), as Keras does for NumPy input.

    Unlike Keras, ``axis=0`` normalises along axis 0 for any rank (Keras expands the norm
    back on the last axis, which is wrong for ``axis=0`` unless the array is square).
    """
    _check_order(order)
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"normalize: axis must be an int, got {axis!r}")
    if not isinstance(x, np.ndarray):
        from highlevel import ops  # imported here: the NumPy path needs no backend

        if ops.is_tensor(x):
            return _normalize_tensor(ops, x, int(axis), order)
    array = np.asarray(x)
    if array.dtype.kind not in "iufb":
        raise ValueError(f"normalize: x must hold numbers, got dtype {array.dtype}")
    array = np.atleast_1d(array)
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(f"normalize: axis {axis} is out of range for x of shape {array.shape}")
    norm = np.linalg.norm(array, ord=order, axis=int(axis), keepdims=True)
    norm[norm == 0] = 1
    return array / norm


def _normalize_tensor(ops, x, axis, order):
    """The backend-tensor path: the same formula as the NumPy path, written with ``hl.ops``."""
    if not ops.standardize_dtype(x.dtype).startswith(("float", "bfloat")):
        x = ops.cast(x, "float32")  # integer tensors: sqrt/power need floats (NumPy promotes too)
    rank = len(x.shape)
    if rank == 0:
        x = ops.reshape(x, (1,))
        rank = 1
    if not -rank <= axis < rank:
        raise ValueError(f"normalize: axis {axis} is out of range for x of shape {tuple(x.shape)}")
    if order == np.inf:
        norm = ops.max(ops.abs(x), axis=axis, keepdims=True)
    elif order == 2:
        norm = ops.sqrt(ops.sum(x * x, axis=axis, keepdims=True))
    else:
        norm = ops.power(ops.sum(ops.power(ops.abs(x), order), axis=axis, keepdims=True), 1.0 / order)
    # A zero vector stays zero: dividing by 1 there avoids 0/0.
    norm = ops.where(norm == 0, ops.ones_like(norm), norm)
    return x / norm


__all__ = ["normalize"]
