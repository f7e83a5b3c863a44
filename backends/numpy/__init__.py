"""The NumPy reference backend (``highlevel.backends.numpy``).

Tensors are plain ``np.ndarray``s; inside ``value_and_grad`` watched variables read
as traced ``Tensor``s and every op records a VJP on a small reverse-mode tape
(``tape.py``). Modules: ``dtypes`` (dtype table and promotion), ``core``
(conversion, creation), ``elementwise``, ``reductions`` (with ``fastreduce`` for
short last axes), ``linalg``, ``shape_ops``, ``nn`` (activations, softmax,
normalization, losses), ``conv`` (convolutions and pooling), ``random``,
``variable``, ``autodiff``, ``recurrent`` (``lstm``/``gru`` with a hand-written BPTT),
``optimizers`` (``adam_update``/``sgd_update`` in place).
"""

# ruff: noqa: F401 - this module re-exports every op of the protocol

from __future__ import annotations

import os

import numpy as np

from ..protocol import InvalidArgumentError
from . import optimizers, recurrent
from .autodiff import value_and_grad
from .conv import average_pool, conv, conv_transpose, depthwise_conv, max_pool
from .core import (arange, cast, convert_to_numpy, convert_to_tensor, dtype, eye, full, full_like,
                   is_tensor, ndim, ones, ones_like, shape, size, stop_gradient, zeros, zeros_like)
from .elementwise import (abs, add, ceil, clip, cos, divide, equal, erf, exp, expm1, floor, floor_divide,
                          greater, greater_equal, isfinite, isnan, less, less_equal, log, log1p, logical_and,
                          logical_not, logical_or, maximum, minimum, mod, multiply, negative, not_equal, power,
                          reciprocal, round, rsqrt, sign, sin, sqrt, square, subtract, tanh, where)
from .linalg import dot, einsum, matmul, tensordot
from .nn import (batch_normalization, binary_crossentropy, categorical_crossentropy, elu, gelu, hard_sigmoid,
                 leaky_relu, log_softmax, moments, relu, relu6, selu, sigmoid, silu, softmax, softplus, softsign,
                 sparse_categorical_crossentropy)
from .optimizers import adam_update, sgd_update
from .random import dropout, normal, randint, set_random_seed, shuffle, truncated_normal, uniform
from .recurrent import gru, lstm
from .reductions import (all, any, argmax, argmin, cumprod, cumsum, logsumexp, max, mean, min, prod, std, sum,
                         var)
from .shape_ops import (argsort, broadcast_to, concatenate, expand_dims, flip, getitem, one_hot, pad, repeat,
                        reshape, slice, sort, split, squeeze, stack, take, take_along_axis, tile, top_k,
                        transpose)
from .tape import Tensor
from .variable import Variable

name = "numpy"

#: NumPy's exceptions for bad input; the loader turns them into InvalidArgumentError.
native_errors = (ValueError, TypeError, IndexError, OverflowError, ZeroDivisionError,
                 np.exceptions.AxisError)


def compile_function(fn, jit_compile=False):
    """Identity: NumPy has nothing to compile (``jit_compile`` is ignored)."""
    return fn


def _check_device_request():
    """NumPy computes on the CPU only: any other ``HIGHLEVEL_DEVICE`` is an error, not silently ignored."""
    request = os.environ.get("HIGHLEVEL_DEVICE", "").strip().lower()
    if request and request != "cpu":
        raise InvalidArgumentError(f"HIGHLEVEL_DEVICE={request!r}: the numpy backend runs on the CPU only; "
                                   f"use HIGHLEVEL_DEVICE=cpu (or unset it), or HIGHLEVEL_BACKEND=torch or "
                                   f"tensorflow for a GPU")


_check_device_request()


def device():
    return "cpu"


def bind_backend(backend):
    """Give Tensor and Variable operators the assembled (error-wrapped) op namespace."""
    Tensor._ops = backend
    Variable._ops = backend
    # Their fallbacks (other dtypes, traced optimizer steps) are the protocol's composites.
    recurrent.bind(backend)
    optimizers.bind(backend)
