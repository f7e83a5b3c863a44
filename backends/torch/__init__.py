"""The PyTorch backend (``highlevel.backends.torch``): every protocol op on torch tensors.

Modules, one job each:

* ``core``: device choice (``HIGHLEVEL_DEVICE``, else CUDA, MPS, CPU), dtypes,
  conversion of op inputs and the protocol's dtype promotion;
* ``variables``: ``Variable`` holding one torch tensor;
* ``creation``, ``elementwise``, ``reductions``, ``linalg``, ``shapes``, ``nn``,
  ``conv``, ``random_ops``: the ops, by family;
* ``optimizers``: the fused optimizer steps (``adam_update``, ``sgd_update``) on
  ``torch._foreach_*`` in-place kernels;
* ``autodiff``: ``value_and_grad`` (autograd) and ``compile_function``.

Ops return plain ``torch.Tensor`` objects; the loader wraps each op so that torch's
errors for bad input surface as ``InvalidArgumentError``.
"""

from __future__ import annotations

from .autodiff import compile_function, value_and_grad
from .conv import average_pool, conv, conv_transpose, depthwise_conv, max_pool
from .core import DEVICE
from .creation import (arange, cast, convert_to_numpy, convert_to_tensor, dtype, eye, full, full_like, is_tensor,
                       ndim, ones, ones_like, shape, size, zeros, zeros_like)
from .elementwise import (abs, add, ceil, clip, cos, divide, equal, erf, exp, expm1, floor, floor_divide, greater,
                          greater_equal, isfinite, isnan, less, less_equal, log, log1p, logical_and, logical_not,
                          logical_or, maximum, minimum, mod, multiply, negative, not_equal, power, reciprocal, round,
                          rsqrt, sign, sin, sqrt, square, subtract, tanh, where)
from .linalg import dot, einsum, matmul, tensordot
from .nn import (batch_normalization, binary_crossentropy, categorical_crossentropy, elu, gelu, hard_sigmoid,
                 layer_normalization, leaky_relu, log_softmax, moments, normalize_batch, relu, relu6, selu, sigmoid,
                 silu, softmax, softplus, softsign, sparse_categorical_crossentropy, stop_gradient)
from .optimizers import adam_update, sgd_update
from .recurrent import gru, lstm
from .random_ops import dropout, normal, randint, set_random_seed, shuffle, truncated_normal, uniform
from .reductions import (all, any, argmax, argmin, cumprod, cumsum, logsumexp, max, mean, min, prod, std, sum,
                         var)
from .shapes import (argsort, broadcast_to, concatenate, expand_dims, flip, getitem, one_hot,
                     pad, repeat, reshape, slice, sort, split, squeeze, stack, take, take_along_axis, tile, top_k,
                     transpose)
from .variables import Variable
from . import optimizers

name = "torch"
native_errors = (RuntimeError, ValueError, TypeError, IndexError)


def device() -> str:
    """Where new tensors live: ``"cpu"``, ``"cuda:0"``, ``"mps"``."""
    return str(DEVICE)


def bind_backend(backend) -> None:
    """Give Variable the assembled op namespace for its Python operators, and the fused
    optimizer steps their composite fallback."""
    Variable._ops = backend
    optimizers.bind(backend)
