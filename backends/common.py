"""Pieces shared by every backend: Python operators and the Variable base class.

A backend's ``Variable`` subclasses ``VariableBase`` and implements ``_initialize``,
``value`` and ``_direct_assign``; the loader's ``bind_backend`` hook gives the class
the assembled op namespace (``_ops``) that the operators below call.
"""

from __future__ import annotations

import itertools

from . import protocol


class OperatorsMixin:
    """``+ - * / ** @`` comparisons, negation, indexing through the backend's ops.

    ``__array_ufunc__ = None`` makes NumPy defer ``ndarray + obj`` to ``obj.__radd__``
    instead of treating ``obj`` as an object array.
    """

    __array_ufunc__ = None
    __array_priority__ = 100
    _ops = None  # the Backend namespace, set by the backend's bind_backend hook

    def __add__(self, other): return self._ops.add(self, other)
    def __radd__(self, other): return self._ops.add(other, self)
    def __sub__(self, other): return self._ops.subtract(self, other)
    def __rsub__(self, other): return self._ops.subtract(other, self)
    def __mul__(self, other): return self._ops.multiply(self, other)
    def __rmul__(self, other): return self._ops.multiply(other, self)
    def __truediv__(self, other): return self._ops.divide(self, other)
    def __rtruediv__(self, other): return self._ops.divide(other, self)
    def __floordiv__(self, other): return self._ops.floor_divide(self, other)
    def __rfloordiv__(self, other): return self._ops.floor_divide(other, self)
    def __mod__(self, other): return self._ops.mod(self, other)
    def __rmod__(self, other): return self._ops.mod(other, self)
    def __pow__(self, other): return self._ops.power(self, other)
    def __rpow__(self, other): return self._ops.power(other, self)
    def __matmul__(self, other): return self._ops.matmul(self, other)
    def __rmatmul__(self, other): return self._ops.matmul(other, self)
    def __neg__(self): return self._ops.negative(self)
    def __pos__(self): return self
    def __abs__(self): return self._ops.abs(self)
    def __lt__(self, other): return self._ops.less(self, other)
    def __le__(self, other): return self._ops.less_equal(self, other)
    def __gt__(self, other): return self._ops.greater(self, other)
    def __ge__(self, other): return self._ops.greater_equal(self, other)
    def __and__(self, other): return self._ops.logical_and(self, other)
    def __or__(self, other): return self._ops.logical_or(self, other)
    def __invert__(self): return self._ops.logical_not(self)
    def __getitem__(self, key): return self._ops.getitem(self, key)


_variable_counter = itertools.count()


class VariableBase(OperatorsMixin):
    """``hl.Variable(value, trainable=True, name=None, dtype=None)``: mutable state.

    Usable wherever a tensor is: in ``hl.ops`` calls and in Python arithmetic.
    ``path`` is the name a model gives the weight (``dense_1/kernel``); it defaults to
    ``name``. Equality (``==``) stays identity, so variables can key dicts and sets.
    """

    def __init__(self, value, trainable=True, name=None, dtype=None):
        if callable(value) and not hasattr(value, "shape"):
            value = value()
        self.name = name or f"variable_{next(_variable_counter)}"
        self.path = self.name
        self.trainable = bool(trainable)
        self._initialize(value, None if dtype is None else protocol.standardize_dtype(dtype))

    # -- backend hooks -----------------------------------------------------------
    def _initialize(self, value, dtype):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def value(self):  # pragma: no cover - abstract
        """The current value as a backend tensor."""
        raise NotImplementedError

    def _direct_assign(self, value):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shared behaviour --------------------------------------------------------
    def _checked(self, value):
        value = self._ops.cast(self._ops.convert_to_tensor(value), self.dtype)
        shape = self._ops.shape(value)
        if shape != self.shape:
            raise protocol.InvalidArgumentError(
                f"Variable {self.path!r}: cannot assign a value of shape {shape} to a variable of shape "
                f"{self.shape}")
        return value

    def assign(self, value):
        self._direct_assign(self._checked(value))
        return self

    def assign_add(self, delta):
        self._direct_assign(self._ops.add(self.value, self._checked(delta)))
        return self

    def assign_sub(self, delta):
        self._direct_assign(self._ops.subtract(self.value, self._checked(delta)))
        return self

    @property
    def shape(self):
        return self._ops.shape(self.value)

    @property
    def dtype(self):
        return self._ops.dtype(self.value)

    @property
    def ndim(self):
        return len(self.shape)

    def numpy(self):
        return self._ops.convert_to_numpy(self.value)

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __len__(self):
        return self.shape[0]

    def __float__(self):
        return float(self.numpy())

    def __int__(self):
        return int(self.numpy())

    def __bool__(self):
        return bool(self.numpy())

    def __repr__(self):
        return f"<Variable path={self.path!r} shape={self.shape} dtype={self.dtype} trainable={self.trainable}>"

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other
