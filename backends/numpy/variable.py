"""``Variable``: mutable state holding an ndarray; a leaf Tensor while watched."""

from __future__ import annotations

import numpy as np

from ..common import VariableBase
from ..protocol import InvalidArgumentError
from . import dtypes, tape

ndarray = np.ndarray


class Variable(VariableBase):
    """``Variable(value, trainable=True, name=None, dtype=None)``.

    dtype None: a floating value becomes float32 (Keras's floatx), any other keeps
    its dtype (Python ints -> int32). ``assign`` copies the value it is given (the
    caller may write into it later); ``assign_add``/``assign_sub`` store a fresh sum.
    """

    def _initialize(self, value, dtype):
        from .core import as_array  # core imports this module

        array = as_array(value)
        if dtype is None:
            target = dtypes.FLOAT32 if array.dtype in dtypes.FLOATS else array.dtype
        else:
            target = dtypes.to_np(dtype)
        dtypes.check_supported(target, "Variable")
        self._value = np.array(array, dtype=target, copy=True)

    @property
    def value(self):
        """The current value: an ndarray, or the leaf Tensor while a value_and_grad watches it."""
        if tape.LEAVES:
            leaf = tape.LEAVES.get(self)
            if leaf is not None:
                return leaf
        return self._value

    def _direct_assign(self, value):
        if type(value) is not ndarray:
            value = np.asarray(getattr(value, "data", value))
        self._value = value
        if tape.LEAVES and self in tape.LEAVES:
            tape.renew_leaf(self, value)

    # Fast paths for the optimizer's per-step updates (same shape and dtype ndarray).
    def _fast(self, value):
        current = self._value
        if type(value) is ndarray and value.dtype is current.dtype and value.shape == current.shape:
            return value
        value = self._checked(value)
        return value.data if type(value) is tape.Tensor else value

    def assign(self, value):
        value = self._fast(value)
        # The caller may keep (and later write into) the array it hands over: copy it.
        self._direct_assign(value.copy())
        return self

    def assign_add(self, delta):
        self._direct_assign(self._value + self._fast(delta))
        return self

    def assign_sub(self, delta):
        self._direct_assign(self._value - self._fast(delta))
        return self

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype.name

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def size(self):
        return self._value.size

    def numpy(self):
        # A copy: writing into the result must not change the variable.
        return self._value.copy()

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)

    def __len__(self):
        if not self._value.ndim:
            raise InvalidArgumentError(f"Variable {self.path!r}: len() of a scalar")
        return self._value.shape[0]
