"""The fused recurrent ops ``lstm`` and ``gru`` with a hand-written backward pass through time.

The protocol's composites run the time loop through the tape (dozens of nodes per
step, ~6x slower). Here the loop runs on plain ndarrays with in-place ufuncs:

* the input projections of all steps come from one batched matmul, into the array
  that then holds the gate activations (the bias rides in the matmul);
* per-step arrays are unit-major, (units, batch), so each gate is a contiguous block;
* sigmoid(a) = 0.5 + 0.5 * tanh(a / 2) with the sigmoid gates' weights pre-halved
  (exact), so one ``tanh`` per step activates every gate;
* outside ``value_and_grad`` nothing is recorded and only the hidden states are kept
  for all steps (the other per-step buffers are reused); when an argument is traced,
  the forward keeps gate activations and states for the backward pass.

One hidden *joint* tape node owns a traced call: the op's outputs (sequence, last h,
last c) are children whose VJPs only hand their cotangent over (``_Cotangents``), and
the joint node's VJP runs BPTT once for all of them, giving the gradients of the
inputs, the initial states, the kernel, the recurrent kernel and the bias.

Shapes (B batch, T steps, F features, U units):

* LSTM: kernel (F, 4U), recurrent_kernel (U, 4U), bias (4U,); Keras's gates i, f, g, o.
* GRU (reset_after): kernel (F, 3U), recurrent_kernel (U, 3U), bias (2, 3U) (input
  bias, recurrent bias); gates z, r, h.

Arguments that are not all float32 or all float64 (mixed or other dtypes) take the
protocol's composite, which promotes them as every other op does.
"""

from __future__ import annotations

import types

import numpy as np

from .. import protocol
from ..protocol import check_recurrent_args
from .core import unwrap
from .dtypes import FLOAT32, FLOAT64
from .tape import Tensor

#: The protocol's composites over the assembled namespace (set by ``bind``).
_FALLBACK = {}
_NATIVE_DTYPES = (FLOAT32, FLOAT64)
_SHAPES = types.SimpleNamespace(shape=np.shape)


def bind(backend) -> None:
    """Build the composite fallbacks on the assembled op namespace (from ``bind_backend``)."""
    for name in ("lstm", "gru"):
        _FALLBACK[name] = protocol.COMPOSITES[name](backend)


class _Cotangents:
    """The cotangents of a fused op's outputs, gathered for its joint node.

    Each output's VJP sends one of these with only its own slot filled; the tape
    adds what reaches the joint node (``+``), so the joint VJP sees every output's
    cotangent (``None``: that output does not reach the loss).
    """

    __slots__ = ("slots",)

    def __init__(self, slots):
        self.slots = slots

    def __add__(self, other):
        return _Cotangents([b if a is None else a if b is None else a + b
                            for a, b in zip(self.slots, other.slots)])


def _traced_outputs(outputs, nodes, bptt):
    """``outputs`` (ndarrays) as Tensors that send their cotangents to one joint node running ``bptt``."""
    joint = Tensor(np.empty(0), tuple(nodes), bptt)
    count = len(outputs)

    def handing_over(index):
        def vjp(g):
            slots = [None] * count
            slots[index] = g
            return (_Cotangents(slots),)
        return vjp

    return tuple(Tensor(out, (joint,), handing_over(i)) for i, out in enumerate(outputs))


def _unwrapped(args):
    """``(arrays, nodes)`` of the arguments (``None`` stays ``None``)."""
    arrays, nodes = [], []
    for a in args:
        if a is None:
            arrays.append(None)
            nodes.append(None)
        else:
            data, node = unwrap(a)
            arrays.append(data)
            nodes.append(node)
    return arrays, nodes


def _native_dtype(arrays):
    """The shared float32/float64 dtype of ``arrays``, or ``None`` (the composite handles the rest)."""
    dtype = None
    for a in arrays:
        if a is None:
            continue
        if dtype is None:
            dtype = a.dtype
        if a.dtype != dtype or a.dtype not in _NATIVE_DTYPES:
            return None
    return dtype


def _cotangent(g, dtype, shape):
    """An output's cotangent as an array of ``dtype`` (``None``: that output got none)."""
    if g is None:
        return None
    g = np.asarray(g)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return np.broadcast_to(g, shape)


def _in_processing_order(x, go_backwards):
    """``x`` (B, T, F) with its steps in processing order (a view)."""
    return x[:, ::-1] if go_backwards else x


def _time_major(x):
    """``x`` (B, T, F) as a C-contiguous (T, B, F) copy."""
    return np.ascontiguousarray(x.transpose(1, 0, 2))


def _unit_major(a):
    """A (B, T, n) array as a C-contiguous (T, n, B) copy: each step's gate blocks contiguous."""
    return np.ascontiguousarray(a.transpose(1, 2, 0))


def _batch_major(a):
    """A (T, n, B) array as a C-contiguous (T, B, n) copy."""
    return np.ascontiguousarray(a.transpose(0, 2, 1))


def _projection(x, kernel, bias):
    """``(x @ kernel + bias)`` of every step of ``x`` (B, T, F), unit-major: a new (T, n, B) array.

    One BLAS product per step on C-contiguous operands; the bias enters the product as
    a column of the kernel against a row of ones (no separate pass over the result).
    The recurrences add their recurrent terms into this array in place: it becomes the
    gate buffer.
    """
    batch, steps, features = x.shape
    rows = features + (bias is not None)
    x_rows = np.empty((steps, rows, batch), x.dtype)
    x_rows[:, :features] = x.transpose(1, 2, 0)
    weights = np.empty((kernel.shape[1], rows), kernel.dtype)
    weights[:, :features] = kernel.T
    if bias is not None:
        x_rows[:, features] = 1
        weights[:, features] = bias
    return np.matmul(weights, x_rows)


def _input_gradients(d_projected, x_time_major, kernel, go_backwards, need_x, need_kernel):
    """Gradients of the inputs (B, T, F) and of ``kernel``.

    ``d_projected`` (T, B, n) and ``x_time_major`` (T, B, F) are both in processing order.
    """
    steps, batch, n = d_projected.shape
    flat = d_projected.reshape(steps * batch, n)
    dx = dkernel = None
    if need_x:
        dx = np.matmul(flat, kernel.T).reshape(steps, batch, -1)
        if go_backwards:
            dx = dx[::-1]
        dx = np.ascontiguousarray(dx.transpose(1, 0, 2))
    if need_kernel:
        dkernel = np.matmul(x_time_major.reshape(steps * batch, -1).T, flat)
    return dx, dkernel


def _previous_states(states):
    """The state before each step, ``states[:-1]`` (T, U, B), as a (T * B, U) matrix."""
    steps, units, batch = states[:-1].shape
    return _batch_major(states[:-1]).reshape(steps * batch, units)


def _half_sigmoid_columns(matrix, columns):
    """A copy of ``matrix`` with its first ``columns`` columns halved (exact in binary floats).

    sigmoid(a) = 0.5 + 0.5 * tanh(a / 2): with the sigmoid gates' weights halved, one
    ``tanh`` over all gates gives every activation, with two cheap ops for the sigmoids.
    """
    halved = np.array(matrix)
    halved[..., :columns] *= 0.5
    return halved


def _step_slot(keep_all):
    """Index of step ``t``'s slot in a per-step buffer: every step kept (for the backward
    pass), or one slot for all (inference: the buffer stays small and in cache; a step
    may overwrite the previous step's values in place, elementwise)."""
    return (lambda t: t) if keep_all else (lambda t: 0)


# ----------------------------------------------------------------------- LSTM
# Internally every per-step array is unit-major, (gate units, batch): a gate is then a
# contiguous block of rows (ufuncs on contiguous blocks run 2-4x faster than on column
# slices), and the gates are ordered i, f, o, g so that the sigmoid ones are adjacent.


def _lstm_permutation(units):
    """Keras's gate columns i, f, g, o reordered i, f, o, g."""
    return np.concatenate([np.arange(2 * units), np.arange(3 * units, 4 * units), np.arange(2 * units, 3 * units)])


def lstm(inputs, initial_h, initial_c, kernel, recurrent_kernel, bias=None, go_backwards=False):
    """LSTM over ``inputs`` (B, T, F): ``(outputs (B, T, U), last h (B, U), last c (B, U))``."""
    args = (inputs, initial_h, initial_c, kernel, recurrent_kernel, bias)
    arrays, nodes = _unwrapped(args)
    x, h0, c0, w, r, b = arrays
    steps, u = check_recurrent_args(_SHAPES, "lstm", x, [h0, c0], w, r, b, 4, lambda u: (4 * u,))
    dtype = _native_dtype(arrays)
    if dtype is None:
        return _FALLBACK["lstm"](*args, go_backwards=go_backwards)
    traced = any(n is not None for n in nodes)
    batch = x.shape[0]
    perm = _lstm_permutation(u)
    r_perm = r[:, perm]
    x = _in_processing_order(x, go_backwards)
    # (T, 4U, B): x_t @ kernel + bias of each step; each step adds h @ recurrent_kernel and
    # turns it into the gate activations sigmoid(i), sigmoid(f), sigmoid(o), tanh(g).
    gates = _projection(x, _half_sigmoid_columns(w[:, perm], 3 * u),
                        None if b is None else _half_sigmoid_columns(b[perm], 3 * u))
    recurrent_half_t = np.ascontiguousarray(_half_sigmoid_columns(r_perm, 3 * u).T)  # (4U, U)
    slot = _step_slot(traced)
    hs = np.empty((steps + 1, u, batch), dtype)  # hs[0] = h0, hs[t + 1] = output of step t
    cs = np.empty((steps + 1 if traced else 1, u, batch), dtype)
    tanh_cs = np.empty((steps if traced else 1, u, batch), dtype)
    hs[0], cs[0] = h0.T, c0.T
    recurrent_term = np.empty((4 * u, batch), dtype)
    input_term = np.empty((u, batch), dtype)
    for t in range(steps):
        gate = gates[t]
        np.matmul(recurrent_half_t, hs[t], out=recurrent_term)
        gate += recurrent_term
        np.tanh(gate, out=gate)
        sigmoids = gate[:3 * u]
        sigmoids *= 0.5
        sigmoids += 0.5
        c, tanh_c = cs[slot(t + 1)], tanh_cs[slot(t)]
        np.multiply(gate[u:2 * u], cs[slot(t)], out=c)
        np.multiply(gate[:u], gate[3 * u:], out=input_term)
        c += input_term
        np.tanh(c, out=tanh_c)
        np.multiply(gate[2 * u:3 * u], tanh_c, out=hs[t + 1])
    outputs = (hs[1:].transpose(2, 0, 1).copy(), hs[steps].T.copy(), cs[slot(steps)].T.copy())
    if not traced:
        return outputs
    x_tm = _time_major(x)

    def bptt(cotangents):
        d_out, d_h, d_c = (_cotangent(g, dtype, shape) for g, shape in
                           zip(cotangents.slots, ((batch, steps, u), (batch, u), (batch, u))))
        d_z = np.empty((steps, 4 * u, batch), dtype)  # gradients of the pre-activations, i, f, o, g
        carry_h = np.zeros((u, batch), dtype) if d_h is None else np.array(d_h.T)
        carry_c = np.zeros((u, batch), dtype) if d_c is None else np.array(d_c.T)
        d_out_um = None if d_out is None else _unit_major(d_out)
        dc = np.empty((u, batch), dtype)
        slope = np.empty((3 * u, batch), dtype)
        for t in range(steps - 1, -1, -1):
            gate, d_zt, tanh_c = gates[t], d_z[t], tanh_cs[t]
            i, f, o, g = gate[:u], gate[u:2 * u], gate[2 * u:3 * u], gate[3 * u:]
            if d_out_um is not None:
                carry_h += d_out_um[t]
            # dc = carry_c + dh * o * (1 - tanh(c)^2): through h = o * tanh(c).
            np.multiply(tanh_c, tanh_c, out=dc)
            np.subtract(1, dc, out=dc)
            dc *= o
            dc *= carry_h
            dc += carry_c
            # i, f, o: (dc * g, dc * c_prev, dh * tanh(c)) * s(1 - s).
            np.subtract(1, gate[:3 * u], out=slope)
            slope *= gate[:3 * u]
            np.multiply(dc, g, out=d_zt[:u])
            np.multiply(dc, cs[t], out=d_zt[u:2 * u])
            np.multiply(carry_h, tanh_c, out=d_zt[2 * u:3 * u])
            d_zt[:3 * u] *= slope
            # g: dc * i * (1 - g^2).
            d_g = d_zt[3 * u:]
            np.multiply(g, g, out=d_g)
            np.subtract(1, d_g, out=d_g)
            d_g *= i
            d_g *= dc
            np.multiply(dc, f, out=carry_c)
            np.matmul(r_perm, d_zt, out=carry_h)
        need = [n is not None for n in nodes]
        d_z = _batch_major(d_z)  # (T, B, 4U)
        dx, dw_perm = _input_gradients(d_z, x_tm, w[:, perm], go_backwards, need[0], need[3])
        flat = d_z.reshape(steps * batch, 4 * u)
        dw = dr = db = None
        if need[3]:
            dw = np.empty_like(dw_perm)
            dw[:, perm] = dw_perm
        if need[4]:
            dr = np.empty((u, 4 * u), dtype)
            dr[:, perm] = np.matmul(_previous_states(hs).T, flat)
        if need[5]:
            db = np.empty(4 * u, dtype)
            db[perm] = flat.sum(axis=0)
        return dx, np.ascontiguousarray(carry_h.T), np.ascontiguousarray(carry_c.T), dw, dr, db

    return _traced_outputs(outputs, nodes, bptt)


# ------------------------------------------------------------------------ GRU
# Unit-major per-step arrays as for the LSTM; the gates keep Keras's order z, r, h.


def gru(inputs, initial_h, kernel, recurrent_kernel, bias=None, go_backwards=False):
    """GRU (reset_after) over ``inputs`` (B, T, F): ``(outputs (B, T, U), last h (B, U))``."""
    args = (inputs, initial_h, kernel, recurrent_kernel, bias)
    arrays, nodes = _unwrapped(args)
    x, h0, w, r, b = arrays
    steps, u = check_recurrent_args(_SHAPES, "gru", x, [h0], w, r, b, 3, lambda u: (2, 3 * u))
    dtype = _native_dtype(arrays)
    if dtype is None:
        return _FALLBACK["gru"](*args, go_backwards=go_backwards)
    traced = any(n is not None for n in nodes)
    batch = x.shape[0]
    x = _in_processing_order(x, go_backwards)
    # (T, 3U, B): the input projections x_z, x_r, x_h of each step, turned in place into
    # sigmoid(z), sigmoid(r) and the candidate. z and r have halved weights (see
    # _half_sigmoid_columns).
    gates = _projection(x, _half_sigmoid_columns(w, 2 * u),
                        None if b is None else _half_sigmoid_columns(b[0], 2 * u))
    recurrent_half_t = np.ascontiguousarray(_half_sigmoid_columns(r, 2 * u).T)  # (3U, U)
    recurrent_bias = None if b is None else _half_sigmoid_columns(b[1], 2 * u)[:, None]
    slot = _step_slot(traced)
    hs = np.empty((steps + 1, u, batch), dtype)
    hs[0] = h0.T
    inner_hs = np.empty((steps if traced else 1, u, batch), dtype)  # (h_prev @ recurrent_kernel + bias)[2u:]
    inner = np.empty((3 * u, batch), dtype)
    reset_term = np.empty((u, batch), dtype)
    for t in range(steps):
        gate = gates[t]
        np.matmul(recurrent_half_t, hs[t], out=inner)
        if recurrent_bias is not None:
            inner += recurrent_bias
        inner_h = inner_hs[slot(t)]
        inner_h[...] = inner[2 * u:]
        zr = gate[:2 * u]
        zr += inner[:2 * u]
        np.tanh(zr, out=zr)
        zr *= 0.5
        zr += 0.5
        candidate = gate[2 * u:]
        np.multiply(gate[u:2 * u], inner_h, out=reset_term)
        candidate += reset_term
        np.tanh(candidate, out=candidate)
        # z * h + (1 - z) * candidate as candidate + z * (h - candidate), as the composite.
        h = hs[t + 1]
        np.subtract(hs[t], candidate, out=h)
        h *= gate[:u]
        h += candidate
    outputs = (hs[1:].transpose(2, 0, 1).copy(), hs[steps].T.copy())
    if not traced:
        return outputs
    x_tm = _time_major(x)

    def bptt(cotangents):
        d_out, d_h = (_cotangent(g, dtype, shape) for g, shape in
                      zip(cotangents.slots, ((batch, steps, u), (batch, u))))
        d_x = np.empty((steps, 3 * u, batch), dtype)  # gradients of the input projections z, r, h
        d_inner = np.empty((steps, 3 * u, batch), dtype)  # ... and of h_prev @ recurrent_kernel + bias
        carry = np.zeros((u, batch), dtype) if d_h is None else np.array(d_h.T)
        d_out_um = None if d_out is None else _unit_major(d_out)
        slope = np.empty((2 * u, batch), dtype)
        scratch = np.empty((u, batch), dtype)
        for t in range(steps - 1, -1, -1):
            gate, d_xt, d_it = gates[t], d_x[t], d_inner[t]
            z, reset, candidate = gate[:u], gate[u:2 * u], gate[2 * u:]
            if d_out_um is not None:
                carry += d_out_um[t]
            # d candidate_pre = dh * (1 - z) * (1 - candidate^2).
            d_cand = d_xt[2 * u:]
            np.multiply(candidate, candidate, out=d_cand)
            np.subtract(1, d_cand, out=d_cand)
            d_cand *= carry
            np.subtract(1, z, out=scratch)
            d_cand *= scratch
            # z: dh * (h_prev - candidate); r: d candidate_pre * inner_h; both times s(1 - s).
            np.subtract(hs[t], candidate, out=d_xt[:u])
            d_xt[:u] *= carry
            np.multiply(d_cand, inner_hs[t], out=d_xt[u:2 * u])
            np.subtract(1, gate[:2 * u], out=slope)
            slope *= gate[:2 * u]
            d_xt[:2 * u] *= slope
            d_it[:2 * u] = d_xt[:2 * u]
            np.multiply(d_cand, reset, out=d_it[2 * u:])
            carry *= z
            np.matmul(r, d_it, out=scratch)
            carry += scratch
        need = [n is not None for n in nodes]
        d_x, d_inner = _batch_major(d_x), _batch_major(d_inner)  # (T, B, 3U)
        dx, dw = _input_gradients(d_x, x_tm, w, go_backwards, need[0], need[2])
        flat_inner = d_inner.reshape(steps * batch, 3 * u)
        dr = np.matmul(_previous_states(hs).T, flat_inner) if need[3] else None
        db = None
        if need[4]:
            db = np.stack([d_x.reshape(steps * batch, 3 * u).sum(axis=0), flat_inner.sum(axis=0)])
        return dx, np.ascontiguousarray(carry.T), dw, dr, db

    return _traced_outputs(outputs, nodes, bptt)
