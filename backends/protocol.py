"""The backend contract: every op a backend provides, its signature and its NumPy meaning.

A backend is a Python module that defines one function per entry of ``OPS`` (same
name, same parameter names and defaults), plus the services listed in ``SERVICES``.
The loader (``highlevel.backends.load``) checks the module against this file, fills
in any op listed in ``COMPOSITES`` that the module leaves out, and wraps every op so
that bad input raises ``InvalidArgumentError`` on every engine.

Conventions that hold for every op:

* Layout is channels_last: images are ``(batch, *spatial, channels)``; conv kernels
  are ``(*kernel_spatial, in_channels // groups, out_channels)`` as in Keras.
* Dtypes are named by strings (``"float32"``, ``"int64"``, ...). Python floats become
  ``float32`` and Python ints ``int32``; NumPy arrays keep their dtype.
* Binary elementwise ops broadcast as NumPy does and promote dtypes with
  ``result_type`` below (a Python scalar is "weak": it takes the tensor's dtype,
  except that a float scalar turns an integer tensor into ``float32``).
* Axes may be negative; ``axis=None`` means all axes.
* An op receives backend tensors, backend ``Variable`` objects, NumPy arrays or
  Python scalars/lists, and returns backend tensors (``shape`` returns a tuple of
  ints, ``split``/``top_k``/``moments`` return lists/tuples of tensors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- errors


class InvalidArgumentError(ValueError):
    """Raised by every backend for bad op input: shapes, ranks, axes, dtypes, values.

    It subclasses ``ValueError`` so that ``except ValueError`` works as with NumPy.
    The message starts with the op name and lists the argument shapes.
    """


# --------------------------------------------------------------------------- dtypes

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)
FLOATX = "float32"
_PYTHON_DTYPES = {bool: "bool", int: "int32", float: FLOATX}
_ALIASES = {"float": FLOATX, "int": "int32", "half": "float16", "double": "float64"}


def standardize_dtype(dtype) -> str:
    """Return the canonical string name of ``dtype`` or raise ``InvalidArgumentError``.

    Accepts strings, Python types, NumPy dtypes and objects with a ``name`` attribute
    (torch and TensorFlow dtypes are turned into strings by their backend first).
    """
    if dtype is None:
        return FLOATX
    if dtype in _PYTHON_DTYPES:
        return _PYTHON_DTYPES[dtype]
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        dtype = np.dtype(dtype)  # np.float64 the type -> its dtype, whose name is canonical
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None)
    if name is None:
        name = str(dtype)
    name = name.replace("torch.", "").replace("tf.", "").replace("<dtype: '", "").rstrip("'>")
    name = _ALIASES.get(name, name)
    if name not in DTYPES:
        raise InvalidArgumentError(
            f"dtype: unsupported dtype {dtype!r}; expected one of {', '.join(DTYPES)}"
        )
    return name


def is_float_dtype(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_int_dtype(dtype: str) -> bool:
    return dtype in INT_DTYPES


_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}
_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}


def _promote_pair(a: str, b: str) -> str:
    if a == b:
        return a
    if a == "bool":
        return b
    if b == "bool":
        return a
    a_float, b_float = a in _FLOAT_RANK, b in _FLOAT_RANK
    if a_float and b_float:
        if {a, b} == {"float16", "bfloat16"}:
            return "float32"
        return a if _FLOAT_RANK[a] > _FLOAT_RANK[b] else b
    if a_float:
        return a
    if b_float:
        return b
    # Both integers: the wider one; a signed/unsigned mix widens to a signed type.
    signed_a, signed_b = not a.startswith("u"), not b.startswith("u")
    bits = max(_INT_BITS[a], _INT_BITS[b])
    if signed_a == signed_b:
        return ("int" if signed_a else "uint") + str(bits)
    unsigned_bits = _INT_BITS[a] if not signed_a else _INT_BITS[b]
    signed_bits = _INT_BITS[a] if signed_a else _INT_BITS[b]
    return "int" + str(min(64, max(signed_bits, 2 * unsigned_bits)))


def result_type(*dtypes, weak=()) -> str:
    """Dtype of a binary/n-ary elementwise result.

    ``dtypes`` are the dtypes of tensor operands; ``weak`` the Python types
    (``bool``/``int``/``float``) of scalar operands. Rules (Keras/JAX-like):
    bool < int < float; the wider type of a kind wins; float16 with bfloat16 gives
    float32; a Python float turns ints and bools into float32; other Python scalars
    take the tensor's dtype.
    """
    if not dtypes:
        dtypes = tuple(_PYTHON_DTYPES[t] for t in weak)
        weak = ()
    out = dtypes[0]
    for d in dtypes[1:]:
        out = _promote_pair(out, d)
    for t in weak:
        if t is float and out not in _FLOAT_RANK:
            out = FLOATX
        elif t is int and out == "bool":
            out = "int32"
    return out


# --------------------------------------------------------------------- shape helpers


def normalize_tuple(value, rank: int, name: str) -> tuple:
    """``3`` -> ``(3, 3)`` for rank 2; a sequence must already have ``rank`` entries."""
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise InvalidArgumentError(f"{name}: expected {rank} values, got {value}")
    return value


def normalize_axis(axis: int, ndim: int, op: str = "op") -> int:
    """Map a possibly negative axis into ``[0, ndim)`` or raise ``InvalidArgumentError``."""
    if not -ndim <= axis < max(ndim, 1):
        raise InvalidArgumentError(f"{op}: axis {axis} is out of range for a tensor of rank {ndim}")
    return axis % max(ndim, 1)


def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``"same"`` padding: ``(before, after)`` with the extra pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-length // stride)
    total = max((out - 1) * stride + effective - length, 0)
    return total // 2, total - total // 2


def conv_output_length(length, kernel, padding, stride, dilation=1):
    """Spatial output length of a convolution or pooling window (``None`` stays ``None``)."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return -(-length // stride)
    if padding == "valid":
        return max((length - effective) // stride + 1, 0)
    raise InvalidArgumentError(f"padding: expected 'valid' or 'same', got {padding!r}")


def conv_transpose_output_length(length, kernel, padding, output_padding, stride, dilation=1):
    """Keras's ``deconv_output_length``: spatial length produced by ``conv_transpose``."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(effective - stride, 0)
        if padding == "same":
            return length * stride
        raise InvalidArgumentError(f"padding: expected 'valid' or 'same', got {padding!r}")
    pad = {"valid": 0, "same": effective // 2}[padding]
    return (length - 1) * stride + effective - 2 * pad + output_padding


def conv_transpose_crop(length, kernel, padding, output_padding, stride, dilation=1):
    """How to get ``conv_transpose`` from a full (unpadded) transposed convolution.

    ``conv_transpose`` is defined as the vector-Jacobian product, with respect to its
    input, of ``conv(z, kernel, strides, padding)`` where ``z`` has the length from
    ``conv_transpose_output_length`` (TensorFlow's definition). The full transposed
    convolution has length ``(length - 1) * stride + effective``; the result is that,
    cropped by ``before`` at the start and keeping ``out`` entries (zero-padded at
    the end when ``out`` runs past it). Returns ``(before, out)``.
    """
    out = conv_transpose_output_length(length, kernel, padding, output_padding, stride, dilation)
    before = same_padding(out, kernel, stride, dilation)[0] if padding == "same" else 0
    return before, out


def broadcast_shapes(*shapes, op: str = "op") -> tuple:
    """NumPy broadcasting of static shapes, with an error naming the op and the shapes."""
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(ndim):
        dims = {s[i - ndim + len(s)] for s in shapes if i - ndim + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise InvalidArgumentError(
                f"{op}: shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be broadcast together"
            )
        out.append(dims.pop() if dims else 1)
    return tuple(out)


# ------------------------------------------------------------------------ op specs


@dataclass(frozen=True)
class Op:
    """One op of the contract.

    ``signature``: the parameter list every backend must use, as Python source.
    ``numpy``: the NumPy expression that defines the op's value.
    ``grad``: whether the op is differentiable in its float inputs (a backend must
    return the gradient of that NumPy expression; ties at kinks may differ).
    """

    name: str
    signature: str
    numpy: str
    doc: str
    category: str
    grad: bool = True


_SPECS = []


def _ops(category, grad, *entries):
    for name, signature, numpy_expr, doc in entries:
        _SPECS.append(Op(name, signature, numpy_expr, doc, category, grad))


_ops(
    "creation", False,
    ("convert_to_tensor", "x, dtype=None", "np.asarray(x, dtype)",
     "Backend tensor from an array-like; Python floats -> float32, ints -> int32."),
    ("zeros", "shape, dtype=None", "np.zeros(shape, dtype)", "Tensor of zeros; dtype float32 by default."),
    ("ones", "shape, dtype=None", "np.ones(shape, dtype)", "Tensor of ones."),
    ("full", "shape, fill_value, dtype=None", "np.full(shape, fill_value, dtype)",
     "Tensor filled with a scalar; dtype defaults to the scalar's (float -> float32)."),
    ("arange", "start, stop=None, step=1, dtype=None", "np.arange(start, stop, step, dtype)",
     "Evenly spaced values; int32 if all bounds are ints else float32."),
    ("eye", "N, M=None, k=0, dtype=None", "np.eye(N, M, k, dtype)", "Identity-like matrix (N, M)."),
    ("zeros_like", "x, dtype=None", "np.zeros_like(x, dtype)", "Zeros with x's shape (and dtype)."),
    ("ones_like", "x, dtype=None", "np.ones_like(x, dtype)", "Ones with x's shape (and dtype)."),
    ("full_like", "x, fill_value, dtype=None", "np.full_like(x, fill_value, dtype)", "Filled with x's shape."),
)
_ops(
    "conversion", False,
    ("cast", "x, dtype", "x.astype(dtype)", "Change dtype (differentiable between float dtypes)."),
    ("shape", "x", "x.shape", "Static shape as a tuple of Python ints."),
    ("ndim", "x", "x.ndim", "Rank as a Python int."),
    ("dtype", "x", "x.dtype.name", "Standardized dtype string of a tensor."),
    ("size", "x", "x.size", "Number of elements as a Python int."),
    ("convert_to_numpy", "x", "np.asarray(x)", "A NumPy array copy/view of a tensor (host memory)."),
    ("is_tensor", "x", "isinstance(x, Tensor)", "Whether x is this backend's tensor type (or Variable)."),
)
_ops(
    "elementwise", True,
    ("add", "x1, x2", "x1 + x2", "Sum, broadcasting."),
    ("subtract", "x1, x2", "x1 - x2", "Difference, broadcasting."),
    ("multiply", "x1, x2", "x1 * x2", "Product, broadcasting."),
    ("divide", "x1, x2", "x1 / x2", "True division; integer inputs give float32."),
    ("negative", "x", "-x", "Negation."),
    ("power", "x1, x2", "x1 ** x2", "Elementwise power."),
    ("square", "x", "x * x", "Square."),
    ("sqrt", "x", "np.sqrt(x)", "Square root (ints -> float32)."),
    ("rsqrt", "x", "1 / np.sqrt(x)", "Reciprocal square root."),
    ("reciprocal", "x", "1 / x", "Reciprocal."),
    ("exp", "x", "np.exp(x)", "Exponential (ints -> float32)."),
    ("expm1", "x", "np.expm1(x)", "exp(x) - 1, accurate near 0."),
    ("log", "x", "np.log(x)", "Natural logarithm (ints -> float32)."),
    ("log1p", "x", "np.log1p(x)", "log(1 + x), accurate near 0."),
    ("abs", "x", "np.abs(x)", "Absolute value."),
    ("sign", "x", "np.sign(x)", "Sign (-1, 0, 1); zero gradient."),
    ("maximum", "x1, x2", "np.maximum(x1, x2)", "Elementwise max; the gradient goes to x1 on ties."),
    ("minimum", "x1, x2", "np.minimum(x1, x2)", "Elementwise min; the gradient goes to x1 on ties."),
    ("clip", "x, x_min, x_max", "np.clip(x, x_min, x_max)",
     "Clamp to [x_min, x_max]; gradient 1 inside (bounds included), 0 outside."),
    ("where", "condition, x1, x2", "np.where(condition, x1, x2)", "Select by a boolean condition."),
    ("floor", "x", "np.floor(x)", "Floor; zero gradient."),
    ("ceil", "x", "np.ceil(x)", "Ceil; zero gradient."),
    ("round", "x, decimals=0", "np.round(x, decimals)", "Round half to even; zero gradient."),
    ("floor_divide", "x1, x2", "x1 // x2", "Floor division; zero gradient."),
    ("mod", "x1, x2", "np.mod(x1, x2)", "Remainder with the sign of x2."),
    ("sin", "x", "np.sin(x)", "Sine."),
    ("cos", "x", "np.cos(x)", "Cosine."),
    ("tanh", "x", "np.tanh(x)", "Hyperbolic tangent."),
    ("erf", "x", "scipy.special.erf(x)", "Gauss error function."),
)
_ops(
    "comparison", False,
    ("equal", "x1, x2", "x1 == x2", "Boolean equality."),
    ("not_equal", "x1, x2", "x1 != x2", "Boolean inequality."),
    ("greater", "x1, x2", "x1 > x2", "Boolean x1 > x2."),
    ("greater_equal", "x1, x2", "x1 >= x2", "Boolean x1 >= x2."),
    ("less", "x1, x2", "x1 < x2", "Boolean x1 < x2."),
    ("less_equal", "x1, x2", "x1 <= x2", "Boolean x1 <= x2."),
    ("logical_and", "x1, x2", "np.logical_and(x1, x2)", "Boolean and."),
    ("logical_or", "x1, x2", "np.logical_or(x1, x2)", "Boolean or."),
    ("logical_not", "x", "np.logical_not(x)", "Boolean not."),
    ("isnan", "x", "np.isnan(x)", "Boolean NaN test."),
    ("isfinite", "x", "np.isfinite(x)", "Boolean finiteness test."),
)
_ops(
    "reduction", True,
    ("sum", "x, axis=None, keepdims=False", "np.sum(x, axis, keepdims=keepdims)",
     "Sum over axes (an int or tuple); bool sums to int32."),
    ("mean", "x, axis=None, keepdims=False", "np.mean(x, axis, keepdims=keepdims)",
     "Mean over axes; integer inputs give float32."),
    ("max", "x, axis=None, keepdims=False", "np.max(x, axis, keepdims=keepdims)",
     "Max over axes; the gradient is shared equally among tied maxima."),
    ("min", "x, axis=None, keepdims=False", "np.min(x, axis, keepdims=keepdims)",
     "Min over axes; the gradient is shared equally among tied minima."),
    ("prod", "x, axis=None, keepdims=False", "np.prod(x, axis, keepdims=keepdims)", "Product over axes."),
    ("var", "x, axis=None, keepdims=False", "np.var(x, axis, keepdims=keepdims)", "Population variance."),
    ("std", "x, axis=None, keepdims=False", "np.std(x, axis, keepdims=keepdims)", "Population std."),
    ("logsumexp", "x, axis=None, keepdims=False", "np.log(np.sum(np.exp(x), axis, keepdims=keepdims))",
     "Stable log-sum-exp."),
    ("cumsum", "x, axis=None", "np.cumsum(x, axis)", "Cumulative sum (flattened when axis is None)."),
    ("cumprod", "x, axis=None", "np.cumprod(x, axis)", "Cumulative product (flattened when axis is None)."),
)
_ops(
    "reduction", False,
    ("argmax", "x, axis=None, keepdims=False", "np.argmax(x, axis, keepdims=keepdims)",
     "Index of the first maximum (int32); axis None flattens."),
    ("argmin", "x, axis=None, keepdims=False", "np.argmin(x, axis, keepdims=keepdims)",
     "Index of the first minimum (int32)."),
    ("any", "x, axis=None, keepdims=False", "np.any(x, axis, keepdims=keepdims)", "Boolean any."),
    ("all", "x, axis=None, keepdims=False", "np.all(x, axis, keepdims=keepdims)", "Boolean all."),
)
_ops(
    "linalg", True,
    ("matmul", "x1, x2", "np.matmul(x1, x2)", "Matrix product with batch broadcasting (rank >= 1)."),
    ("dot", "x1, x2", "np.dot(x1, x2)", "NumPy dot (matmul for 2-D, sum over last/second-to-last)."),
    ("einsum", "subscripts, *operands", "np.einsum(subscripts, *operands)", "Einstein summation."),
    ("tensordot", "x1, x2, axes=2", "np.tensordot(x1, x2, axes)", "Tensor contraction over axes."),
)
_ops(
    "shape", True,
    ("reshape", "x, newshape", "np.reshape(x, newshape)", "Reshape; one -1 entry allowed."),
    ("transpose", "x, axes=None", "np.transpose(x, axes)", "Permute axes (reverse when None)."),
    ("expand_dims", "x, axis", "np.expand_dims(x, axis)", "Insert a size-1 axis."),
    ("squeeze", "x, axis=None", "np.squeeze(x, axis)", "Remove size-1 axes (error if axis is not 1)."),
    ("concatenate", "xs, axis=0", "np.concatenate(xs, axis)", "Join a list of tensors on an existing axis."),
    ("stack", "xs, axis=0", "np.stack(xs, axis)", "Join a list of tensors on a new axis."),
    ("split", "x, indices_or_sections, axis=0", "np.split(x, indices_or_sections, axis)",
     "List of pieces: equal sections (must divide) or split points."),
    ("tile", "x, repeats", "np.tile(x, repeats)", "Repeat the whole tensor along axes."),
    ("repeat", "x, repeats, axis=None", "np.repeat(x, repeats, axis)",
     "Repeat elements (repeats: int or per-element list); axis None flattens."),
    ("pad", "x, pad_width, mode='constant', constant_values=0",
     "np.pad(x, pad_width, mode, constant_values=constant_values)",
     "Pad with ((before, after), ...) per axis; modes 'constant', 'reflect', 'symmetric'."),
    ("flip", "x, axis=None", "np.flip(x, axis)", "Reverse along axes."),
    ("broadcast_to", "x, shape", "np.broadcast_to(x, shape)", "Broadcast to a shape."),
    ("slice", "x, start_indices, shape", "x[tuple(slice(s, s + n) for s, n in zip(start_indices, shape))]",
     "Static slice: start index and size per axis (size -1 means to the end)."),
    ("getitem", "x, key", "x[key]",
     "Basic indexing: ints, slices, None, Ellipsis, and one integer index array."),
    ("take", "x, indices, axis=None", "np.take(x, indices, axis)",
     "Gather along an axis (flattened when None); indices must be in range."),
    ("take_along_axis", "x, indices, axis", "np.take_along_axis(x, indices, axis)",
     "Gather with an index tensor of the same rank."),
    ("sort", "x, axis=-1", "np.sort(x, axis)", "Ascending sort."),
    ("top_k", "x, k, sorted=True", "(np.sort(x)[..., ::-1][..., :k], np.argsort(-x, kind='stable')[..., :k])",
     "The k largest entries of the last axis and their int32 indices, largest first."),
)
_ops(
    "shape", False,
    ("argsort", "x, axis=-1", "np.argsort(x, axis, kind='stable')", "int32 indices that sort x (stable)."),
    ("one_hot", "x, num_classes, axis=-1, dtype=None", "np.eye(num_classes)[x] (moved to axis)",
     "One-hot encoding of integer labels; out-of-range labels give all zeros. float32 by default."),
)
_ops(
    "nn", True,
    ("relu", "x", "np.maximum(x, 0)", "Rectified linear unit (gradient 0 at 0)."),
    ("relu6", "x", "np.clip(x, 0, 6)", "ReLU capped at 6."),
    ("leaky_relu", "x, negative_slope=0.2", "np.where(x >= 0, x, negative_slope * x)", "Leaky ReLU."),
    ("elu", "x, alpha=1.0", "np.where(x > 0, x, alpha * np.expm1(x))", "Exponential linear unit."),
    ("selu", "x", "1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))", "Scaled ELU."),
    ("gelu", "x, approximate=True",
     "0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))) if approximate "
     "else 0.5 * x * (1 + erf(x / np.sqrt(2)))", "Gaussian error linear unit."),
    ("silu", "x", "x / (1 + np.exp(-x))", "Sigmoid linear unit (swish)."),
    ("sigmoid", "x", "1 / (1 + np.exp(-x))", "Logistic sigmoid."),
    ("softplus", "x", "np.logaddexp(x, 0)", "Softplus, stable for large |x|."),
    ("softsign", "x", "x / (1 + np.abs(x))", "Softsign."),
    ("hard_sigmoid", "x", "np.clip(x / 6 + 0.5, 0, 1)", "Piecewise-linear sigmoid (Keras 3)."),
    ("softmax", "x, axis=-1", "np.exp(x - logsumexp(x, axis, keepdims=True))", "Softmax over an axis or a tuple of axes."),
    ("log_softmax", "x, axis=-1", "x - logsumexp(x, axis, keepdims=True)", "Log-softmax over an axis or axes."),
    ("conv", "inputs, kernel, strides=1, padding='valid', dilation_rate=1",
     "sum over taps and channels: out[n, o..., g*Cog + j] = "
     "sum_{t, c} x_pad[n, o*s + t*d, g*Cig + c] * kernel[t..., c, g*Cog + j]",
     "N-D convolution (rank 3, 4 or 5 inputs). kernel (*k, in/groups, out); groups = in // kernel.shape[-2]. "
     "'same' pads as TensorFlow (extra pixel after). strides > 1 with dilation > 1 is an error."),
    ("depthwise_conv", "inputs, kernel, strides=1, padding='valid', dilation_rate=1",
     "conv(inputs, kernel.reshape(*k, 1, in * multiplier)) with groups = in",
     "Depthwise convolution; kernel (*k, in, multiplier); output channel c * multiplier + m."),
    ("conv_transpose", "inputs, kernel, strides=1, padding='valid', output_padding=None, dilation_rate=1",
     "vector-Jacobian product of conv(z, kernel) w.r.t. z (the (*k, out, in) kernel is conv's layout "
     "from z's out channels to the input's in channels), z of length "
     "conv_transpose_output_length(...)",
     "Transposed convolution; kernel (*k, out, in) as Keras; output length as Keras's deconv_output_length."),
    ("max_pool", "inputs, pool_size, strides=None, padding='valid'",
     "max over each window (padding never wins)",
     "N-D max pooling; strides default to pool_size. The gradient goes to the first maximum of a window."),
    ("average_pool", "inputs, pool_size, strides=None, padding='valid'",
     "mean over each window, padded entries excluded from the count",
     "N-D average pooling (TensorFlow semantics for 'same')."),
    ("moments", "x, axes, keepdims=False", "(np.mean(x, axes), np.var(x, axes))", "Mean and variance."),
    ("batch_normalization", "x, mean, variance, axis, offset=None, scale=None, epsilon=0.001",
     "(x - mean) / np.sqrt(variance + epsilon) * scale + offset (mean etc. of shape (C,) on axis)",
     "Normalize with given statistics."),
    ("binary_crossentropy", "target, output, from_logits=False",
     "-(t * log(p) + (1 - t) * log(1 - p)), p clipped to [1e-7, 1 - 1e-7]; stable on logits",
     "Elementwise binary cross-entropy (no reduction)."),
    ("categorical_crossentropy", "target, output, from_logits=False, axis=-1",
     "-sum(t * log_softmax(logits)) or -sum(t * log(p / sum(p))), p clipped to [1e-7, 1 - 1e-7]",
     "Cross-entropy with one-hot/probability targets, reduced over axis."),
    ("sparse_categorical_crossentropy", "target, output, from_logits=False, axis=-1",
     "categorical_crossentropy(one_hot(target), output)",
     "Cross-entropy with integer targets; a label outside [0, classes) raises InvalidArgumentError."),
    ("stop_gradient", "x", "x", "Identity whose gradient is zero."),
)
_ops(
    "random", False,
    ("normal", "shape, mean=0.0, stddev=1.0, dtype=None, seed=None", "rng.normal(mean, stddev, shape)",
     "Normal samples. seed None: the global generator; an int: the same values for the same seed."),
    ("uniform", "shape, minval=0.0, maxval=1.0, dtype=None, seed=None", "rng.uniform(minval, maxval, shape)",
     "Uniform samples in [minval, maxval)."),
    ("truncated_normal", "shape, mean=0.0, stddev=1.0, dtype=None, seed=None",
     "normal samples redrawn until within 2 stddev", "Truncated normal samples."),
    ("randint", "shape, minval, maxval, dtype='int32', seed=None", "rng.integers(minval, maxval, shape)",
     "Integers in [minval, maxval)."),
    ("shuffle", "x, axis=0, seed=None", "rng.permutation along axis", "Random permutation along an axis."),
    ("dropout", "inputs, rate, noise_shape=None, seed=None",
     "inputs * (u >= rate) / (1 - rate), u uniform broadcast from noise_shape",
     "Inverted dropout; differentiable in inputs."),
)

_ops(
    # Fused optimizer steps: lists of Variables updated IN PLACE (through Variable.assign* or the
    # engine's in-place kernels), returning None. One call updates every variable of a step, so
    # an engine can run multi-tensor kernels (torch's _foreach_*) instead of ~10 ops per variable.
    # ``learning_rate`` is a 0-d float tensor or Variable (read once), ``step`` the 1-based number
    # of this step (an integer tensor or Python int); hyperparameters are Python numbers.
    # ``weight_decay``: decoupled decay ``w -= w * learning_rate * weight_decay`` for the variables
    # whose ``decay_mask`` entry is true (all when the mask is None); None or 0 means none.
    # A gradient must have its variable's shape; another float dtype is accepted (results are
    # stored in the variables' and slots' own dtypes).
    "optimizer", False,
    ("adam_update",
     "variables, gradients, momentums, velocities, velocity_hats, learning_rate, step, beta_1=0.9, "
     "beta_2=0.999, epsilon=1e-07, weight_decay=None, decay_mask=None",
     "per variable i, t = step (beta powers in float32): m += (g - m) * (1 - beta_1); "
     "v += (g * g - v) * (1 - beta_2); v_hat = maximum(v_hat, v) (amsgrad) else v; "
     "w -= w * learning_rate * weight_decay * decay_mask[i] "
     "+ learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v_hat) + epsilon)",
     "Adam/AdamW step as Keras 3 computes it (epsilon outside the bias correction), in place. "
     "momentums, velocities: slot Variables like the variables; velocity_hats: slot Variables for "
     "AMSGrad, or None for plain Adam."),
    ("sgd_update",
     "variables, gradients, momentums, learning_rate, momentum=0.0, nesterov=False, weight_decay=None, "
     "decay_mask=None",
     "per variable i, with d = w * learning_rate * weight_decay * decay_mask[i]: without momentums "
     "w -= learning_rate * g + d; else m = momentum * m - learning_rate * g and "
     "w += (momentum * m - learning_rate * g if nesterov else m) - d",
     "SGD step with optional (Nesterov) momentum as Keras 3 computes it, in place. momentums: velocity "
     "slot Variables like the variables, or None for plain gradient descent."),
)

_ops(
    # Recurrent loops of the LSTM and GRU layers with the default activations (tanh, sigmoid), in
    # Keras's weight layout, so an engine can run its fused kernel (torch: _VF.lstm/_VF.gru, cuDNN
    # on GPU). inputs (batch, steps, features), steps >= 1 and static; states (batch, units).
    # Returns (outputs (batch, steps, units) in processing order, last state(s)); with
    # go_backwards the steps are processed last to first and outputs[:, 0] is the last step's.
    # The composites below are the step-by-step recurrence.
    "recurrent", True,
    ("lstm", "inputs, initial_h, initial_c, kernel, recurrent_kernel, bias=None, go_backwards=False",
     "per step (x_t over steps, reversed when go_backwards): z = x_t @ kernel + h @ recurrent_kernel + bias; "
     "i, f, g, o = np.split(z, 4, -1); c = sigmoid(f) * c + sigmoid(i) * tanh(g); h = sigmoid(o) * tanh(c); "
     "returns (np.stack(hs, 1), h, c)",
     "LSTM: kernel (features, 4 * units), recurrent_kernel (units, 4 * units), bias (4 * units,) or None; "
     "gates i, f, c, o as Keras."),
    ("gru", "inputs, initial_h, kernel, recurrent_kernel, bias=None, go_backwards=False",
     "per step: x = x_t @ kernel + bias[0]; r = h @ recurrent_kernel + bias[1]; x_z, x_r, x_h = split(x, 3); "
     "r_z, r_r, r_h = split(r, 3); z = sigmoid(x_z + r_z); r = sigmoid(x_r + r_r); "
     "h = z * h + (1 - z) * tanh(x_h + r * r_h); returns (np.stack(hs, 1), h)",
     "GRU with reset_after=True (Keras 3's default): kernel (features, 3 * units), recurrent_kernel "
     "(units, 3 * units), bias (2, 3 * units) (input bias, recurrent bias) or None; gates z, r, h as Keras."),
)

_ops(
    # Image resampling, channels_last: images (batch, height, width, channels) or unbatched
    # (height, width, channels). Written once as composites (gathers + arithmetic, interpolation
    # indices and weights computed on the host from the static shapes), so every engine returns
    # the same values; an engine may override them with its own kernels if they agree.
    "image", True,
    ("resize", "images, size, interpolation='bilinear'",
     "TF2's tf.image.resize(images, size, method, antialias=False): half-pixel centers; bilinear: "
     "src = (dst + 0.5) * in / out - 0.5, neighbours floor(src) and ceil(src) clamped to the image, "
     "weight src - floor(src), width first; nearest: src = min(floor((dst + 0.5) * in / out), in - 1)",
     "Resize to size (height, width); interpolation 'bilinear' or 'nearest'. Integer images give "
     "float32 with 'bilinear' and keep their dtype with 'nearest'. Differentiable in images."),
    ("affine_transform", "images, transform, interpolation='bilinear', fill_mode='constant', fill_value=0.0",
     "TF's ImageProjectiveTransformV3: output pixel (x, y) (integer coordinates) reads the input at "
     "((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1, transform = "
     "[a0, a1, a2, b0, b1, b2, c0, c1]; coordinates outside the image are mapped by fill_mode "
     "('reflect': dcba|abcd|dcba, 'wrap', 'nearest': clamp, 'constant': kept), then sampled "
     "bilinearly (neighbours outside the image read fill_value) or at the nearest pixel (round half "
     "away from zero)",
     "Projective transform of each image; transform (batch, 8) or (8,) (float32). Output has the "
     "input's shape and dtype. Differentiable in images."),
)

_ops(
    # Training-mode batch normalization in one op, so an engine can run its fused kernel
    # (torch's native_batch_norm: one pass forward, one backward) instead of moments plus
    # five elementwise ops and their gradients (about 4x slower on torch CPU).
    "nn", True,
    ("normalize_batch", "x, axis, offset=None, scale=None, epsilon=0.001",
     "mean, variance = np.mean(x, axes), np.var(x, axes) over every axis but axis; "
     "((x - mean) / np.sqrt(variance + epsilon) * scale + offset, mean, variance)",
     "Batch normalization with the batch's own statistics (BatchNormalization in training): returns "
     "(outputs, mean, variance), mean and (population) variance of shape (x.shape[axis],). outputs is "
     "differentiable in x (through the statistics too), offset and scale; the returned mean and variance "
     "carry no gradient (they feed moving averages)."),
    ("layer_normalization", "x, gamma=None, beta=None, axis=-1, epsilon=0.001",
     "mean, variance = np.mean(x, axes, keepdims=True), np.var(x, axes, keepdims=True) (axes = axis, an int "
     "or a sequence); (x - mean) / np.sqrt(variance + epsilon) * gamma + beta",
     "Layer normalization over axis (LayerNormalization): per-sample statistics over the given axes; gamma "
     "and beta (each optional) have the shape of those axes, tuple(x.shape[a] for a in sorted(axes)). "
     "Differentiable in x, gamma and beta. torch runs F.layer_norm when the axes are the trailing ones."),
)

OPS = {spec.name: spec for spec in _SPECS}

#: Services every backend module provides besides the ops (not error-wrapped).
SERVICES = {
    "name": "the backend's registered name (a str attribute)",
    "Variable": "class Variable(value, trainable=True, name=None, dtype=None)",
    "value_and_grad": "value_and_grad(fn, variables, has_aux=False) -> (value, grads) "
    "or ((value, aux), grads); fn() takes no arguments and returns a scalar",
    "compile_function": "compile_function(fn, jit_compile=False) -> callable",
    "set_random_seed": "set_random_seed(seed) seeds the backend's global generator",
    "device": "device() -> str, where new tensors live ('cpu', 'cuda:0', '/GPU:0', ...)",
    "native_errors": "tuple of exception types that the loader turns into InvalidArgumentError",
}


# ----------------------------------------------------------------- composite ops
# Ops a backend may leave out: the loader builds them from other ops. Each entry is a
# factory receiving the backend namespace ``k`` and returning the op. Gradients then
# come from the primitives, so a new backend needs far fewer VJPs.

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
EPSILON = 1e-7


def _composite_square(k):
    def square(x):
        return k.multiply(x, x)
    return square


def _composite_rsqrt(k):
    def rsqrt(x):
        return k.reciprocal(k.sqrt(x))
    return rsqrt


def _composite_reciprocal(k):
    def reciprocal(x):
        return k.divide(1.0, x)
    return reciprocal


def _composite_relu(k):
    def relu(x):
        # where(x > 0, ...) rather than maximum(x, 0): the gradient at 0 is 0, as specified.
        return k.where(k.greater(x, 0), x, k.zeros_like(x))
    return relu


def _composite_relu6(k):
    def relu6(x):
        return k.clip(x, 0.0, 6.0)
    return relu6


def _composite_leaky_relu(k):
    def leaky_relu(x, negative_slope=0.2):
        return k.where(k.greater_equal(x, 0.0), x, k.multiply(x, negative_slope))
    return leaky_relu


def _composite_elu(k):
    def elu(x, alpha=1.0):
        # expm1 of min(x, 0) keeps the unused branch finite for large x.
        negative = k.multiply(k.expm1(k.minimum(x, 0.0)), alpha)
        return k.where(k.greater(x, 0.0), x, negative)
    return elu


def _composite_selu(k):
    def selu(x):
        return k.multiply(k.elu(x, _SELU_ALPHA), _SELU_SCALE)
    return selu


def _composite_gelu(k):
    def gelu(x, approximate=True):
        if approximate:
            inner = k.multiply(k.add(x, k.multiply(k.power(x, 3.0), 0.044715)), math.sqrt(2.0 / math.pi))
            return k.multiply(k.multiply(x, 0.5), k.add(k.tanh(inner), 1.0))
        return k.multiply(k.multiply(x, 0.5), k.add(k.erf(k.multiply(x, 1.0 / math.sqrt(2.0))), 1.0))
    return gelu


def _composite_silu(k):
    def silu(x):
        return k.multiply(x, k.sigmoid(x))
    return silu


def _composite_softplus(k):
    def softplus(x):
        return k.add(k.log1p(k.exp(k.negative(k.abs(x)))), k.maximum(x, 0.0))
    return softplus


def _composite_softsign(k):
    def softsign(x):
        return k.divide(x, k.add(k.abs(x), 1.0))
    return softsign


def _composite_hard_sigmoid(k):
    def hard_sigmoid(x):
        return k.clip(k.add(k.multiply(x, 1.0 / 6.0), 0.5), 0.0, 1.0)
    return hard_sigmoid


def _composite_logsumexp(k):
    def logsumexp(x, axis=None, keepdims=False):
        peak = k.stop_gradient(k.max(x, axis=axis, keepdims=True))
        peak = k.where(k.isfinite(peak), peak, k.zeros_like(peak))
        out = k.add(k.log(k.sum(k.exp(k.subtract(x, peak)), axis=axis, keepdims=True)), peak)
        if not keepdims:
            out = k.squeeze(out, axis=axis) if axis is not None else k.reshape(out, ())
        return out
    return logsumexp


def _composite_log_softmax(k):
    def log_softmax(x, axis=-1):
        # Subtract the peak first: x - (peak + log s) loses digits when |x| is large.
        shifted = k.subtract(x, k.stop_gradient(k.max(x, axis=axis, keepdims=True)))
        return k.subtract(shifted, k.log(k.sum(k.exp(shifted), axis=axis, keepdims=True)))
    return log_softmax


def _composite_softmax(k):
    def softmax(x, axis=-1):
        return k.exp(k.log_softmax(x, axis=axis))
    return softmax


def _composite_var(k):
    def var(x, axis=None, keepdims=False):
        centered = k.subtract(x, k.mean(x, axis=axis, keepdims=True))
        return k.mean(k.square(centered), axis=axis, keepdims=keepdims)
    return var


def _composite_std(k):
    def std(x, axis=None, keepdims=False):
        return k.sqrt(k.var(x, axis=axis, keepdims=keepdims))
    return std


def _composite_moments(k):
    def moments(x, axes, keepdims=False):
        mean = k.mean(x, axis=axes, keepdims=True)
        variance = k.mean(k.square(k.subtract(x, k.stop_gradient(mean))), axis=axes, keepdims=True)
        if not keepdims:
            mean, variance = k.squeeze(mean, axis=axes), k.squeeze(variance, axis=axes)
        return mean, variance
    return moments


def _composite_batch_normalization(k):
    def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=0.001):
        rank = k.ndim(x)
        axis = normalize_axis(axis, rank, "batch_normalization")
        shape = [1] * rank
        shape[axis] = -1

        def along(t):
            return k.reshape(t, shape)

        inv = k.rsqrt(k.add(along(variance), epsilon))
        if scale is not None:
            inv = k.multiply(inv, along(scale))
        out = k.multiply(k.subtract(x, along(mean)), inv)
        if offset is not None:
            out = k.add(out, along(offset))
        return out
    return batch_normalization


def _composite_binary_crossentropy(k):
    def binary_crossentropy(target, output, from_logits=False):
        target = k.cast(target, k.dtype(output))
        if from_logits:
            # max(z, 0) - z * t + log(1 + exp(-|z|)): stable for large |z|.
            return k.add(k.subtract(k.relu(output), k.multiply(output, target)),
                         k.log1p(k.exp(k.negative(k.abs(output)))))
        p = k.clip(output, EPSILON, 1.0 - EPSILON)
        return k.negative(k.add(k.multiply(target, k.log(p)),
                                k.multiply(k.subtract(1.0, target), k.log(k.subtract(1.0, p)))))
    return binary_crossentropy


def _composite_categorical_crossentropy(k):
    def categorical_crossentropy(target, output, from_logits=False, axis=-1):
        target = k.cast(target, k.dtype(output))
        if k.shape(target) != k.shape(output):
            raise InvalidArgumentError(
                f"categorical_crossentropy: target shape {k.shape(target)} does not match "
                f"output shape {k.shape(output)}")
        if from_logits:
            log_p = k.log_softmax(output, axis=axis)
        else:
            p = k.divide(output, k.sum(output, axis=axis, keepdims=True))
            log_p = k.log(k.clip(p, EPSILON, 1.0 - EPSILON))
        return k.negative(k.sum(k.multiply(target, log_p), axis=axis))
    return categorical_crossentropy


def _composite_sparse_categorical_crossentropy(k):
    def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
        classes = k.shape(output)[axis]
        target = k.convert_to_tensor(target)
        if k.dtype(target) in FLOAT_DTYPES:
            target = k.cast(target, "int32")
        expected = tuple(d for i, d in enumerate(k.shape(output)) if i != normalize_axis(axis, k.ndim(output)))
        if k.shape(target) != expected:
            raise InvalidArgumentError(
                f"sparse_categorical_crossentropy: target shape {k.shape(target)} does not match "
                f"output shape {k.shape(output)} without its class axis {expected}")
        check_labels_in_range(k, target, classes, "sparse_categorical_crossentropy")
        one_hot = k.one_hot(target, classes, axis=axis, dtype=k.dtype(output))
        return k.categorical_crossentropy(one_hot, output, from_logits=from_logits, axis=axis)
    return sparse_categorical_crossentropy


def check_labels_in_range(k, labels, classes, op):
    """Raise ``InvalidArgumentError`` when an integer label lies outside ``[0, classes)``.

    Engines differ here (some return NaN or garbage silently), so the check is part of
    the contract. Inside a compiled TensorFlow graph the backend's own op does it.
    """
    values = k.convert_to_numpy(labels)
    if values.size and (values.min() < 0 or values.max() >= classes):
        bad = values[(values < 0) | (values >= classes)]
        raise InvalidArgumentError(
            f"{op}: labels must be in [0, {classes}), got {bad.ravel()[:5].tolist()}")


def _composite_depthwise_conv(k):
    def depthwise_conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1):
        kshape = k.shape(kernel)
        kernel = k.reshape(kernel, kshape[:-2] + (1, kshape[-2] * kshape[-1]))
        return k.conv(inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate)
    return depthwise_conv


def _composite_dropout(k):
    def dropout(inputs, rate, noise_shape=None, seed=None):
        if not 0.0 <= rate < 1.0:
            raise InvalidArgumentError(f"dropout: rate must be in [0, 1), got {rate}")
        if rate == 0.0:
            return inputs
        shape = tuple(noise_shape) if noise_shape is not None else k.shape(inputs)
        shape = tuple(k.shape(inputs)[i] if d is None else d for i, d in enumerate(shape))
        keep = k.greater_equal(k.uniform(shape, dtype=k.dtype(inputs), seed=seed), rate)
        scaled = k.divide(inputs, 1.0 - rate)
        return k.where(keep, scaled, k.zeros_like(scaled))
    return dropout


def check_update_lists(op, variables, **lists):
    """Raise ``InvalidArgumentError`` unless every list given (None: absent) aligns with ``variables``."""
    count = len(variables)
    for name, values in lists.items():
        if values is not None and len(values) != count:
            raise InvalidArgumentError(f"{op}: got {len(values)} {name} for {count} variables; "
                                       f"they must align one-to-one")


def check_gradient_shapes(k, op, variables, gradients):
    """Raise ``InvalidArgumentError`` when a gradient's shape is not its variable's
    (broadcasting would otherwise hide the mistake). Unknown graph dims pass."""
    for i, (w, g) in enumerate(zip(variables, gradients)):
        actual, expected = tuple(k.shape(g)), tuple(w.shape)
        if actual != expected and None not in actual:
            raise InvalidArgumentError(f"{op}: gradients[{i}] has shape {actual}, expected {expected} "
                                       f"(the shape of variables[{i}])")


def _composite_adam_update(k):
    def adam_update(variables, gradients, momentums, velocities, velocity_hats, learning_rate, step, beta_1=0.9,
                    beta_2=0.999, epsilon=1e-07, weight_decay=None, decay_mask=None):
        check_update_lists("adam_update", variables, gradients=gradients, momentums=momentums,
                           velocities=velocities, velocity_hats=velocity_hats, decay_mask=decay_mask)
        if not variables:
            return None
        check_gradient_shapes(k, "adam_update", variables, gradients)
        # Hyperparameters as float32 0-d tensors, as Keras: the bias corrections use float32 powers.
        b1, b2 = k.convert_to_tensor(float(beta_1)), k.convert_to_tensor(float(beta_2))
        one_minus_b1, one_minus_b2 = k.convert_to_tensor(1.0 - beta_1), k.convert_to_tensor(1.0 - beta_2)
        eps = k.convert_to_tensor(float(epsilon))
        t = k.cast(step, "float32")
        correction = k.divide(k.sqrt(k.subtract(1.0, k.power(b2, t))), k.subtract(1.0, k.power(b1, t)))
        alpha = k.multiply(learning_rate, correction)
        decay = k.multiply(learning_rate, float(weight_decay)) if weight_decay else None
        for i, (w, g, m, v) in enumerate(zip(variables, gradients, momentums, velocities)):
            m.assign_add(k.multiply(k.subtract(g, m.value), one_minus_b1))
            v.assign_add(k.multiply(k.subtract(k.square(g), v.value), one_minus_b2))
            if velocity_hats is not None:
                v_hat = velocity_hats[i]
                v_hat.assign(k.maximum(v_hat.value, v.value))
                v = v_hat
            delta = k.divide(k.multiply(m.value, alpha), k.add(k.sqrt(v.value), eps))
            if decay is not None and (decay_mask is None or decay_mask[i]):
                delta = k.add(delta, k.multiply(w.value, decay))
            w.assign_sub(delta)
        return None
    return adam_update


def _composite_sgd_update(k):
    def sgd_update(variables, gradients, momentums, learning_rate, momentum=0.0, nesterov=False, weight_decay=None,
                   decay_mask=None):
        check_update_lists("sgd_update", variables, gradients=gradients, momentums=momentums,
                           decay_mask=decay_mask)
        if not variables:
            return None
        check_gradient_shapes(k, "sgd_update", variables, gradients)
        mu = k.convert_to_tensor(float(momentum))
        decay = k.multiply(learning_rate, float(weight_decay)) if weight_decay else None
        for i, (w, g) in enumerate(zip(variables, gradients)):
            scaled = k.multiply(g, learning_rate)
            decayed = decay is not None and (decay_mask is None or decay_mask[i])
            if momentums is None:
                if decayed:
                    scaled = k.add(scaled, k.multiply(w.value, decay))
                w.assign_sub(scaled)
                continue
            m = momentums[i]
            m_new = k.subtract(k.multiply(m.value, mu), scaled)
            m.assign(m_new)
            increment = k.subtract(k.multiply(m_new, mu), scaled) if nesterov else m_new
            if decayed:
                increment = k.subtract(increment, k.multiply(w.value, decay))
            w.assign_add(increment)
        return None
    return sgd_update


def check_recurrent_args(k, op, inputs, states, kernel, recurrent_kernel, bias, gates, bias_shape):
    """Raise ``InvalidArgumentError`` unless the shapes of a fused recurrent op's arguments fit.

    Returns ``(steps, units)``. ``gates``: 4 for the LSTM, 3 for the GRU; ``bias_shape``
    the bias's expected shape given units.
    """
    x_shape, k_shape, r_shape = tuple(k.shape(inputs)), tuple(k.shape(kernel)), tuple(k.shape(recurrent_kernel))
    problem = None
    if len(x_shape) != 3:
        problem = f"inputs must have rank 3 (batch, steps, features), got shape {x_shape}"
    elif x_shape[1] is None or x_shape[1] < 1:
        problem = f"inputs need a static number of steps >= 1, got shape {x_shape}"
    elif len(r_shape) != 2 or r_shape[1] != gates * r_shape[0]:
        problem = f"recurrent_kernel must have shape (units, {gates} * units), got {r_shape}"
    elif k_shape != (x_shape[2], r_shape[1]):
        problem = f"kernel must have shape {(x_shape[2], r_shape[1])} for inputs {x_shape}, got {k_shape}"
    elif bias is not None and tuple(k.shape(bias)) != bias_shape(r_shape[0]):
        problem = f"bias must have shape {bias_shape(r_shape[0])}, got {tuple(k.shape(bias))}"
    else:
        for i, state in enumerate(states):
            s_shape = tuple(k.shape(state))
            batch_differs = None not in (s_shape[:1] + x_shape[:1]) and s_shape[:1] != x_shape[:1]
            if len(s_shape) != 2 or s_shape[1] != r_shape[0] or batch_differs:
                problem = f"initial state {i} must have shape {(x_shape[0], r_shape[0])}, got {s_shape}"
                break
    if problem:
        raise InvalidArgumentError(f"{op}: {problem}")
    return x_shape[1], r_shape[0]


def _time_steps(k, projected, steps, go_backwards):
    """``projected`` (batch, steps, n) as a list of (batch, n) tensors in processing order."""
    pieces = [k.squeeze(p, axis=1) for p in k.split(projected, steps, axis=1)] if steps > 1 \
        else [k.squeeze(projected, axis=1)]
    return pieces[::-1] if go_backwards else pieces


def _composite_lstm(k):
    def lstm(inputs, initial_h, initial_c, kernel, recurrent_kernel, bias=None, go_backwards=False):
        steps, _ = check_recurrent_args(k, "lstm", inputs, [initial_h, initial_c], kernel, recurrent_kernel,
                                        bias, 4, lambda u: (4 * u,))
        # The input projection of every step in one matmul; only h @ recurrent_kernel stays in the loop.
        projected = k.matmul(inputs, kernel)
        if bias is not None:
            projected = k.add(projected, bias)
        h, c, outputs = initial_h, initial_c, []
        for x_t in _time_steps(k, projected, steps, go_backwards):
            i, f, g, o = k.split(k.add(x_t, k.matmul(h, recurrent_kernel)), 4, axis=-1)
            c = k.add(k.multiply(k.sigmoid(f), c), k.multiply(k.sigmoid(i), k.tanh(g)))
            h = k.multiply(k.sigmoid(o), k.tanh(c))
            outputs.append(h)
        return k.stack(outputs, axis=1), h, c
    return lstm


def _composite_gru(k):
    def gru(inputs, initial_h, kernel, recurrent_kernel, bias=None, go_backwards=False):
        steps, units = check_recurrent_args(k, "gru", inputs, [initial_h], kernel, recurrent_kernel, bias, 3,
                                            lambda u: (2, 3 * u))
        projected = k.matmul(inputs, kernel)
        recurrent_bias = None
        if bias is not None:
            input_bias, recurrent_bias = k.split(bias, 2, axis=0)
            projected = k.add(projected, k.squeeze(input_bias, axis=0))
            recurrent_bias = k.squeeze(recurrent_bias, axis=0)
        h, outputs = initial_h, []
        for x_t in _time_steps(k, projected, steps, go_backwards):
            inner = k.matmul(h, recurrent_kernel)
            if recurrent_bias is not None:
                inner = k.add(inner, recurrent_bias)
            x_zr, x_h = k.split(x_t, [2 * units], axis=-1)
            inner_zr, inner_h = k.split(inner, [2 * units], axis=-1)
            z, r = k.split(k.sigmoid(k.add(x_zr, inner_zr)), 2, axis=-1)
            candidate = k.tanh(k.add(x_h, k.multiply(r, inner_h)))
            # z * h + (1 - z) * candidate, with one multiply fewer.
            h = k.add(candidate, k.multiply(z, k.subtract(h, candidate)))
            outputs.append(h)
        return k.stack(outputs, axis=1), h
    return gru


# ------------------------------------------------------------------ image ops

RESIZE_INTERPOLATIONS = ("bilinear", "nearest")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _image_batch(k, images, op):
    """``(images as rank 4, unbatched?)`` or ``InvalidArgumentError`` for another rank."""
    rank = k.ndim(images)
    if rank not in (3, 4):
        raise InvalidArgumentError(f"{op}: images must have rank 3 (height, width, channels) or 4 "
                                   f"(batch, height, width, channels), got shape {tuple(k.shape(images))}")
    return (k.expand_dims(images, 0), True) if rank == 3 else (images, False)


def resize_bilinear_weights(in_size: int, out_size: int):
    """TF's half-pixel bilinear interpolation along one axis: ``(lower, upper, lerp)`` NumPy arrays
    (int32 indices, float32 weights), computed in float32 as TensorFlow does."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(src)
    lower = np.maximum(floor, 0).astype(np.int32)
    upper = np.minimum(np.ceil(src), in_size - 1).astype(np.int32)
    return lower, upper, (src - floor).astype(np.float32)


def resize_nearest_indices(in_size: int, out_size: int):
    """TF's half-pixel nearest-neighbour source index along one axis (int32 NumPy array)."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.floor((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale)
    return np.clip(src, 0, in_size - 1).astype(np.int32)


def _composite_resize(k):
    def resize(images, size, interpolation="bilinear"):
        if interpolation not in RESIZE_INTERPOLATIONS:
            raise InvalidArgumentError(f"resize: interpolation must be one of {RESIZE_INTERPOLATIONS}, "
                                       f"got {interpolation!r}")
        size = tuple(size) if isinstance(size, (tuple, list)) else None
        if size is None or len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
            raise InvalidArgumentError(f"resize: size must be two positive ints (height, width), got {size!r}")
        x, unbatched = _image_batch(k, k.convert_to_tensor(images), "resize")
        _, height, width, _ = k.shape(x)
        if interpolation == "nearest":
            x = k.take(x, k.convert_to_tensor(resize_nearest_indices(height, size[0])), axis=1)
            x = k.take(x, k.convert_to_tensor(resize_nearest_indices(width, size[1])), axis=2)
        else:
            if k.dtype(x) not in FLOAT_DTYPES:
                x = k.cast(x, FLOATX)
            # Width first, then height: TensorFlow's order of the two lerps.
            for axis, in_size, out_size in ((2, width, size[1]), (1, height, size[0])):
                lower, upper, lerp = resize_bilinear_weights(in_size, out_size)
                shape = [1, 1, 1, 1]
                shape[axis] = out_size
                low = k.take(x, k.convert_to_tensor(lower), axis=axis)
                high = k.take(x, k.convert_to_tensor(upper), axis=axis)
                weight = k.convert_to_tensor(lerp.reshape(shape).astype(k.dtype(x)))
                x = k.add(low, k.multiply(k.subtract(high, low), weight))
        return k.squeeze(x, axis=0) if unbatched else x
    return resize


def _map_coordinate(k, coord, length, fill_mode):
    """TF's MapCoordinate: an input coordinate outside [0, length - 1] mapped by ``fill_mode``."""
    if fill_mode == "constant":
        return coord
    if fill_mode == "nearest" or length <= 1:
        return k.clip(coord, 0.0, float(length - 1))
    if fill_mode == "reflect":
        period = 2.0 * length
        neg = k.add(k.multiply(k.floor(k.divide(k.negative(coord), period)), period), coord)  # in (-period, 0]
        neg = k.where(k.less(neg, -float(length)), k.add(neg, period), k.subtract(k.negative(neg), 1.0))
        pos = k.subtract(coord, k.multiply(k.floor(k.divide(coord, period)), period))
        pos = k.where(k.greater_equal(pos, float(length)), k.subtract(period - 1.0, pos), pos)
    else:  # wrap, as TensorFlow writes it (period length, steps counted in length - 1)
        neg = k.add(coord, k.multiply(k.add(k.floor(k.divide(k.negative(coord), float(length - 1))), 1.0),
                                      float(length)))
        pos = k.subtract(coord, k.multiply(k.floor(k.divide(coord, float(length - 1))), float(length)))
    mapped = k.where(k.less(coord, 0.0), neg, k.where(k.greater(coord, float(length - 1)), pos, coord))
    return k.clip(mapped, 0.0, float(length - 1))


def _composite_affine_transform(k):
    def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0):
        if interpolation not in RESIZE_INTERPOLATIONS:
            raise InvalidArgumentError(f"affine_transform: interpolation must be one of {RESIZE_INTERPOLATIONS}, "
                                       f"got {interpolation!r}")
        if fill_mode not in FILL_MODES:
            raise InvalidArgumentError(f"affine_transform: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
        x, unbatched = _image_batch(k, k.convert_to_tensor(images), "affine_transform")
        batch, height, width, channels = k.shape(x)
        transform = k.cast(k.convert_to_tensor(transform), FLOATX)
        t_shape = tuple(k.shape(transform))
        if t_shape == (8,):
            transform = k.expand_dims(transform, 0)
        elif len(t_shape) != 2 or t_shape[1] != 8 or t_shape[0] not in (1, batch):
            raise InvalidArgumentError(f"affine_transform: transform must have shape (8,) or ({batch}, 8) for "
                                       f"images of shape {tuple(k.shape(images))}, got {t_shape}")
        dtype = k.dtype(x)
        work = x if dtype in FLOAT_DTYPES else k.cast(x, FLOATX)
        ys, xs = np.meshgrid(np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32),
                             indexing="ij")
        xs, ys = k.convert_to_tensor(xs[None]), k.convert_to_tensor(ys[None])
        a0, a1, a2, b0, b1, b2, c0, c1 = [k.reshape(p, (-1, 1, 1)) for p in k.split(transform, 8, axis=1)]
        projection = k.add(k.add(k.multiply(c0, xs), k.multiply(c1, ys)), 1.0)
        in_x = k.divide(k.add(k.add(k.multiply(a0, xs), k.multiply(a1, ys)), a2), projection)
        in_y = k.divide(k.add(k.add(k.multiply(b0, xs), k.multiply(b1, ys)), b2), projection)
        in_x = _map_coordinate(k, in_x, width, fill_mode)
        in_y = _map_coordinate(k, in_y, height, fill_mode)
        flat = k.reshape(work, (-1, channels))
        rows = k.reshape(k.multiply(k.arange(0, batch, dtype="int32"), height), (-1, 1, 1))
        fill = k.cast(k.convert_to_tensor(fill_value), k.dtype(work))

        def read(iy, ix):
            """Pixels at integer coordinates (float tensors), ``fill_value`` outside the image."""
            inside = k.logical_and(k.logical_and(k.greater_equal(iy, 0.0), k.less_equal(iy, height - 1.0)),
                                   k.logical_and(k.greater_equal(ix, 0.0), k.less_equal(ix, width - 1.0)))
            iy = k.cast(k.clip(iy, 0.0, height - 1.0), "int32")
            ix = k.cast(k.clip(ix, 0.0, width - 1.0), "int32")
            index = k.add(k.multiply(k.add(rows, iy), width), ix)
            values = k.reshape(k.take(flat, k.reshape(index, (-1,)), axis=0), (-1, height, width, channels))
            return k.where(k.expand_dims(inside, -1), values, fill)

        if interpolation == "nearest":
            # std::round: half away from zero.
            out = read(k.multiply(k.sign(in_y), k.floor(k.add(k.abs(in_y), 0.5))),
                       k.multiply(k.sign(in_x), k.floor(k.add(k.abs(in_x), 0.5))))
        else:
            x0, y0 = k.floor(in_x), k.floor(in_y)
            x1, y1 = k.add(x0, 1.0), k.add(y0, 1.0)
            wx0, wx1 = k.expand_dims(k.subtract(x1, in_x), -1), k.expand_dims(k.subtract(in_x, x0), -1)
            wy0, wy1 = k.expand_dims(k.subtract(y1, in_y), -1), k.expand_dims(k.subtract(in_y, y0), -1)
            top = k.add(k.multiply(wx0, read(y0, x0)), k.multiply(wx1, read(y0, x1)))
            bottom = k.add(k.multiply(wx0, read(y1, x0)), k.multiply(wx1, read(y1, x1)))
            out = k.add(k.multiply(wy0, top), k.multiply(wy1, bottom))
        if dtype not in FLOAT_DTYPES:
            out = k.cast(k.round(out), dtype)
        return k.squeeze(out, axis=0) if unbatched else out
    return affine_transform


def _composite_normalize_batch(k):
    def normalize_batch(x, axis, offset=None, scale=None, epsilon=0.001):
        rank = k.ndim(x)
        if rank == 0:
            raise InvalidArgumentError("normalize_batch: x must have rank >= 1, got a scalar")
        axis = normalize_axis(axis, rank, "normalize_batch")
        mean, variance = k.moments(x, tuple(i for i in range(rank) if i != axis))
        outputs = k.batch_normalization(x, mean, variance, axis, offset=offset, scale=scale, epsilon=epsilon)
        return outputs, k.stop_gradient(mean), k.stop_gradient(variance)
    return normalize_batch


def layer_norm_axes(axis, rank, op="layer_normalization"):
    """``axis`` (an int or a sequence) as sorted non-negative axes, checked against ``rank``."""
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    if not axes:
        raise InvalidArgumentError(f"{op}: axis must name at least one axis, got {axis!r}")
    resolved = sorted(normalize_axis(int(a), rank, op) for a in axes)
    if len(set(resolved)) != len(resolved):
        raise InvalidArgumentError(f"{op}: axis {axis!r} names the same axis twice for a tensor of rank {rank}")
    return resolved


def _composite_layer_normalization(k):
    def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=0.001):
        rank = k.ndim(x)
        axes = layer_norm_axes(axis, rank)
        shape = k.shape(x)
        broadcast = tuple(shape[i] if i in axes else 1 for i in range(rank))
        normalized = tuple(shape[i] for i in axes)

        def along(t, name):
            if tuple(k.shape(t)) != normalized:
                raise InvalidArgumentError(f"layer_normalization: {name} of shape {tuple(k.shape(t))} does not "
                                           f"match the normalized axes {axes} of x (shape {tuple(shape)}): "
                                           f"expected {normalized}")
            return k.reshape(t, broadcast)

        mean, variance = k.moments(x, tuple(axes), keepdims=True)
        inv = k.rsqrt(k.add(variance, epsilon))
        if gamma is not None:
            inv = k.multiply(inv, along(gamma, "gamma"))
        shift = k.negative(k.multiply(mean, inv))
        if beta is not None:
            shift = k.add(shift, along(beta, "beta"))
        return k.add(k.multiply(x, inv), shift)
    return layer_normalization


COMPOSITES = {
    name[len("_composite_"):]: factory
    for name, factory in dict(globals()).items()
    if name.startswith("_composite_")
}


def signature_of(name: str) -> str:
    """The required parameter list of op ``name``, e.g. ``"x, axis=None, keepdims=False"``."""
    return OPS[name].signature
