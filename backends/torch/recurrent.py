"""The fused recurrent ops ``lstm`` and ``gru`` on torch's own kernels (``torch._VF.lstm`` / ``_VF.gru``).

Those run the whole sequence in one call (cuDNN on CUDA; on the CPU ATen computes the
input projections of every step in one matmul, then loops in C++) and have fused
backward passes. The arguments arrive in Keras's layout and are converted here:

* LSTM: ``kernel (in, 4u)`` -> ``weight_ih (4u, in)``; the gate order i, f, c(g), o is
  the same in both; torch adds two biases, so ``bias_hh`` is zero.
* GRU (reset_after=True): Keras's gates z, r, h are torch's z, r, n in the order r, z, n;
  Keras's ``bias (2, 3u)`` rows are torch's ``bias_ih`` and ``bias_hh``.
"""

from __future__ import annotations

import types

import torch

from ..protocol import check_recurrent_args
from .core import as_tensor, float_tensor, same_dtype

_SHAPES = types.SimpleNamespace(shape=lambda t: tuple(t.shape))


def _prepared(inputs, states, kernel, recurrent_kernel, bias):
    tensors = [float_tensor(inputs)] + [as_tensor(s) for s in states] + [as_tensor(kernel), as_tensor(recurrent_kernel)]
    if bias is not None:
        tensors.append(as_tensor(bias))
    tensors = same_dtype(tensors)
    if bias is None:
        tensors.append(None)
    return tensors


def _run(fn, x, hidden, params, has_biases, go_backwards):
    if go_backwards:
        x = torch.flip(x, (1,))
    # train=True keeps what a cuDNN backward needs; it only matters for dropout (0 here) otherwise.
    return fn(x, hidden, params, has_biases, 1, 0.0, torch.is_grad_enabled(), False, True)


def lstm(inputs, initial_h, initial_c, kernel, recurrent_kernel, bias=None, go_backwards=False):
    x, h0, c0, kernel, recurrent_kernel, bias = _prepared(inputs, [initial_h, initial_c], kernel,
                                                          recurrent_kernel, bias)
    check_recurrent_args(_SHAPES, "lstm", x, [h0, c0], kernel, recurrent_kernel, bias, 4, lambda u: (4 * u,))
    params = [kernel.t(), recurrent_kernel.t()]
    if bias is not None:
        params += [bias, torch.zeros_like(bias)]
    outputs, h, c = _run(torch._VF.lstm, x, (h0.unsqueeze(0), c0.unsqueeze(0)), params, bias is not None,
                         go_backwards)
    return outputs, h.squeeze(0), c.squeeze(0)


def _zr_swapped(t, units, dim):
    """Keras's gate blocks (z, r, h) along ``dim`` in torch's order (r, z, n)."""
    z, r, h = torch.split(t, units, dim=dim)
    return torch.cat([r, z, h], dim=dim)


def gru(inputs, initial_h, kernel, recurrent_kernel, bias=None, go_backwards=False):
    x, h0, kernel, recurrent_kernel, bias = _prepared(inputs, [initial_h], kernel, recurrent_kernel, bias)
    _, units = check_recurrent_args(_SHAPES, "gru", x, [h0], kernel, recurrent_kernel, bias, 3,
                                    lambda u: (2, 3 * u))
    params = [_zr_swapped(kernel, units, 1).t(), _zr_swapped(recurrent_kernel, units, 1).t()]
    if bias is not None:
        swapped = _zr_swapped(bias, units, 1)
        params += [swapped[0], swapped[1]]
    outputs, h = _run(torch._VF.gru, x, h0.unsqueeze(0), params, bias is not None, go_backwards)
    return outputs, h.squeeze(0)
