"""Matrix products: ``matmul`` (NumPy rules for 1-D operands), ``dot``, ``einsum``, ``tensordot``."""

from __future__ import annotations

from ..protocol import InvalidArgumentError, normalize_axis
from ._engine import tf
from .core import FLOATS, Tensor, operands, same_dtype

_raw = tf.raw_ops
_MatMul, _BatchMatMulV2 = _raw.MatMul, _raw.BatchMatMulV2


def _pair(x1, x2):
    """Both operands as tensors of their common dtype."""
    x1, x2 = operands(x1, x2)
    if not isinstance(x2, Tensor):
        x2 = tf.constant(x2, x1.dtype)
    return x1, x2


def matmul(x1, x2):
    """``x1 @ x2``: (..., n, k) @ (..., k, m) -> (..., n, m), batch dims broadcast.

    A 1-D ``x1`` is a row vector and a 1-D ``x2`` a column vector, whose unit axis is
    dropped from the result, as in NumPy.
    """
    if isinstance(x1, Tensor) and isinstance(x2, Tensor) and x1.dtype is x2.dtype:
        r1, r2 = x1.shape.rank, x2.shape.rank
    else:
        x1, x2 = _pair(x1, x2)
        r1, r2 = x1.shape.rank, x2.shape.rank
    if r1 == 2 and r2 == 2:
        return _MatMul(a=x1, b=x2)
    if r1 == 0 or r2 == 0:
        raise InvalidArgumentError(f"matmul: operands must have rank >= 1, got shapes "
                                   f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    if r1 >= 2 and r2 >= 2:
        return _BatchMatMulV2(x=x1, y=x2)
    a = tf.expand_dims(x1, 0) if r1 == 1 else x1
    b = tf.expand_dims(x2, -1) if r2 == 1 else x2
    out = _BatchMatMulV2(x=a, y=b) if (a.shape.rank > 2 or b.shape.rank > 2) else _MatMul(a=a, b=b)
    drop = ([-2] if r1 == 1 else []) + ([-1] if r2 == 1 else [])
    return tf.squeeze(out, drop)


def dot(x1, x2):
    """``np.dot``: products for scalars, inner product for vectors, matmul for matrices,
    and for N-D a sum over the last axis of ``x1`` and the second-to-last of ``x2``."""
    x1, x2 = _pair(x1, x2)
    r1, r2 = x1.shape.rank, x2.shape.rank
    if r1 == 0 or r2 == 0:
        return _raw.Mul(x=x1, y=x2)
    if r2 == 1 or (r1 <= 2 and r2 == 2):
        return matmul(x1, x2)
    return tf.tensordot(x1, x2, axes=[[r1 - 1], [r2 - 2]])


def einsum(subscripts, *operands):
    """Einstein summation; operands are promoted to a common dtype."""
    tensors = same_dtype(*operands)
    if tensors and tensors[0].dtype not in FLOATS:
        # TensorFlow's Einsum kernel has no integer version: compute exactly in float64.
        dt = tensors[0].dtype
        return tf.cast(tf.einsum(subscripts, *(tf.cast(t, tf.float64) for t in tensors)), dt)
    return tf.einsum(subscripts, *tensors)


def tensordot(x1, x2, axes=2):
    """``np.tensordot``: contract the last ``axes`` axes of ``x1`` with the first of ``x2``,
    or the explicit axis lists ``(axes_1, axes_2)``."""
    x1, x2 = _pair(x1, x2)
    if isinstance(axes, int):
        if axes < 0 or axes > min(x1.shape.rank, x2.shape.rank):
            raise InvalidArgumentError(f"tensordot: axes={axes} does not fit shapes "
                                       f"{tuple(x1.shape)} and {tuple(x2.shape)}")
        return tf.tensordot(x1, x2, axes=axes)
    a1, a2 = axes
    a1 = [a1] if isinstance(a1, int) else list(a1)
    a2 = [a2] if isinstance(a2, int) else list(a2)
    a1 = [normalize_axis(a, x1.shape.rank, "tensordot") for a in a1]
    a2 = [normalize_axis(a, x2.shape.rank, "tensordot") for a in a2]
    if len(a1) != len(a2) or any(x1.shape[i] != x2.shape[j] for i, j in zip(a1, a2)):
        raise InvalidArgumentError(f"tensordot: axes {axes} do not match shapes "
                                   f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    return tf.tensordot(x1, x2, axes=[a1, a2])
