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
    ("softmax", "x, axis=-1", "np.exp(x - logsumexp(x, axis, keepdims=True))", "Softmax."),
    ("log_softmax", "x, axis=-1", "x - logsumexp(x, axis, keepdims=True)", "Log-softmax."),
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


COMPOSITES = {
    name[len("_composite_"):]: factory
    for name, factory in dict(globals()).items()
    if name.startswith("_composite_")
}


def signature_of(name: str) -> str:
    """The required parameter list of op ``name``, e.g. ``"x, axis=None, keepdims=False"``."""
    return OPS[name].signature
