"""``Variable``: mutable state held in one torch tensor whose identity never changes.

The tensor keeps ``requires_grad=False`` except while ``value_and_grad`` differentiates
it, so plain forward passes build no autograd graph. Assignments outside
``value_and_grad`` copy in place, so optimizer state and ``torch.compile`` guards keep
seeing the same tensor.
"""

from __future__ import annotations

import torch

from ..common import VariableBase
from ..protocol import InvalidArgumentError
from .core import DEVICE, FLOAT32, NAMES, TRACING, VARIABLE_TYPE, OpError, Tensor, as_tensor, convert_with_dtype, torch_dtype


def _unwrap(value):
    """Variables inside torch-function arguments (nested lists/tuples/dicts) -> tensors."""
    if isinstance(value, Variable):
        return value._tensor
    if type(value) in (list, tuple):
        return type(value)(_unwrap(v) for v in value)
    if type(value) is dict:
        return {k: _unwrap(v) for k, v in value.items()}
    return value


class Variable(VariableBase):
    """``Variable(value, trainable=True, name=None, dtype=None)`` on the backend's device.

    A float value becomes float32 unless ``dtype`` says otherwise; other values keep
    their dtype. Works with every op, with Python operators on either side, and with
    torch functions directly (``torch.tanh(v)``, ``tensor + v``).
    """

    def _initialize(self, value, dtype):
        try:
            if dtype is not None:
                tensor = convert_with_dtype(value, torch_dtype(dtype))
            else:
                tensor = as_tensor(value)
                if tensor.is_floating_point() and tensor.dtype is not FLOAT32:
                    tensor = tensor.to(FLOAT32)
        except (OpError, RuntimeError, TypeError) as error:
            raise InvalidArgumentError(f"Variable {self.name!r}: {error}") from None
        # A private, contiguous leaf on the device: never an alias of the caller's data.
        self._tensor = tensor.detach().to(DEVICE).clone(memory_format=torch.contiguous_format)

    @property
    def value(self) -> Tensor:
        return self._tensor

    def _direct_assign(self, value):
        if TRACING.depth:
            # Inside value_and_grad the old tensor may be saved for the backward pass (e.g.
            # a layer that reads then updates a statistic): an in-place write would corrupt
            # it, so the variable gets a fresh tensor instead.
            self._tensor = value.detach().clone(memory_format=torch.contiguous_format)
        else:
            self._tensor.copy_(value.detach() if value.requires_grad else value)

    # Fast paths for optimizers: same shape and dtype tensors update in place.
    def assign(self, value):
        target = self._tensor
        if type(value) is Tensor and value.dtype is target.dtype and value.shape == target.shape:
            self._direct_assign(value)
            return self
        return super().assign(value)

    def assign_add(self, delta):
        target = self._tensor
        if type(delta) is Tensor and delta.dtype is target.dtype and delta.shape == target.shape:
            if TRACING.depth:
                self._direct_assign(torch.add(target, delta))
            else:
                target.add_(delta.detach() if delta.requires_grad else delta)
            return self
        return super().assign_add(delta)

    def assign_sub(self, delta):
        target = self._tensor
        if type(delta) is Tensor and delta.dtype is target.dtype and delta.shape == target.shape:
            if TRACING.depth:
                self._direct_assign(torch.sub(target, delta))
            else:
                target.sub_(delta.detach() if delta.requires_grad else delta)
            return self
        return super().assign_sub(delta)

    @property
    def shape(self) -> tuple:
        return tuple(self._tensor.shape)

    @property
    def dtype(self) -> str:
        return NAMES[self._tensor.dtype]

    @property
    def ndim(self) -> int:
        return self._tensor.dim()

    @property
    def device(self):
        return self._tensor.device

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        """Let torch functions and tensor operators take Variables (``tensor + var``)."""
        return func(*_unwrap(args), **(_unwrap(kwargs) if kwargs else {}))


VARIABLE_TYPE[0] = Variable
