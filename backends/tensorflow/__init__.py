"""The TensorFlow backend: every op of ``protocol.OPS`` on ``tf.Tensor``, GradientTape
autodiff and ``tf.function`` compilation.

Modules (one job each):

* ``_engine``      quiet ``import tensorflow``, ``HIGHLEVEL_DEVICE`` handling
* ``core``         input conversion, dtype promotion, ``Variable``
* ``creation``     creation and conversion ops
* ``elementwise``  arithmetic, math functions, comparisons
* ``reductions``   sum/mean/max/argmax/cumsum/...
* ``linalg``       matmul, dot, einsum, tensordot
* ``shapes``       reshaping, indexing, gathering, sorting, one_hot
* ``nn``           activations, normalization, cross-entropies
* ``conv``         convolutions and pooling
* ``random_ops``   seeded random ops and dropout
* ``checks``       value checks (index/label ranges) that also work in graphs
* ``autodiff``     value_and_grad, compile_function
"""

from __future__ import annotations

from ._engine import device, tf
from .autodiff import compile_function, value_and_grad
from .conv import average_pool, conv, conv_transpose, depthwise_conv, max_pool
from .core import Variable
from .creation import (arange, cast, convert_to_numpy, convert_to_tensor, dtype, eye, full, full_like,
                       is_tensor, ndim, ones, ones_like, shape, size, zeros, zeros_like)
from .elementwise import (abs, add, ceil, clip, cos, divide, equal, erf, exp, expm1, floor, floor_divide,
                          greater, greater_equal, isfinite, isnan, less, less_equal, log, log1p,
                          logical_and, logical_not, logical_or, maximum, minimum, mod, multiply, negative,
                          not_equal, power, reciprocal, round, rsqrt, sign, sin, sqrt, square, subtract,
                          tanh, where)
from .linalg import dot, einsum, matmul, tensordot
from .nn import (batch_normalization, binary_crossentropy, categorical_crossentropy, elu, gelu,
                 hard_sigmoid, leaky_relu, log_softmax, moments, relu, relu6, selu, sigmoid, silu, softmax,
                 softplus, softsign, sparse_categorical_crossentropy, stop_gradient)
from .random_ops import dropout, normal, randint, set_random_seed, shuffle, truncated_normal, uniform
from .reductions import (all, any, argmax, argmin, cumprod, cumsum, logsumexp, max, mean, min, prod, std,
                         sum, var)
from .shapes import (argsort, broadcast_to, concatenate, expand_dims, flip, getitem, one_hot, pad, repeat,
                     reshape, slice, sort, split, squeeze, stack, take, take_along_axis, tile, top_k,
                     transpose)

name = "tensorflow"

#: Engine exceptions for bad input; the loader turns them into InvalidArgumentError.
#: OpError covers InvalidArgumentError and its siblings (e.g. a missing kernel for a dtype).
native_errors = (tf.errors.InvalidArgumentError, tf.errors.OpError, ValueError, TypeError, IndexError)


def bind_backend(backend) -> None:
    """Called by the loader with the assembled namespace: Python operators on our
    ``Variable`` dispatch through it."""
    Variable._ops = backend
