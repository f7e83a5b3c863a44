"""Conversion, dtype promotion and the ``Variable`` class shared by every op module.

Every op starts by turning its inputs into ``tf.Tensor`` objects with ``tensor`` (one
``isinstance`` check when the input already is one) and, for binary ops, bringing
them to a common dtype with ``operands`` (one identity check when they already agree).
TensorFlow itself refuses mixed dtypes, so all promotion happens here, following
``protocol.result_type``.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import protocol
from ..common import VariableBase
from ..protocol import InvalidArgumentError
from ._engine import tf

Tensor = tf.Tensor
DType = tf.dtypes.DType
_raw = tf.raw_ops
_Cast = _raw.Cast

# ------------------------------------------------------------------------- dtypes

#: canonical name -> tf.DType for every dtype of the protocol.
TF_DTYPES = {name: tf.as_dtype(name) for name in protocol.DTYPES}
FLOAT32 = tf.float32
INT32 = tf.int32
BOOL = tf.bool
FLOATS = frozenset(TF_DTYPES[n] for n in protocol.FLOAT_DTYPES)
INTS = frozenset(TF_DTYPES[n] for n in protocol.INT_DTYPES)
_PYTHON_SCALARS = (bool, int, float)
_SCALAR_TYPES = frozenset(_PYTHON_SCALARS)


def tf_dtype(dtype, op: str = "dtype") -> DType:
    """Any dtype spelling (string, NumPy, TensorFlow, Python type) -> ``tf.DType``.

    ``None`` means float32. An unknown dtype raises ``InvalidArgumentError`` naming ``op``.
    """
    if isinstance(dtype, DType) and dtype in _DTYPE_NAMES:
        return dtype
    try:
        return TF_DTYPES[dtype]
    except (KeyError, TypeError):
        pass
    try:
        return TF_DTYPES[protocol.standardize_dtype(dtype)]
    except InvalidArgumentError:
        raise InvalidArgumentError(f"{op}: unsupported dtype {dtype!r}; expected one of "
                                   f"{', '.join(protocol.DTYPES)}") from None


_DTYPE_NAMES = {d: name for name, d in TF_DTYPES.items()}


def dtype_name(dt: DType) -> str:
    """``tf.float32`` -> ``"float32"``; dtypes outside the protocol raise ``InvalidArgumentError``."""
    try:
        return _DTYPE_NAMES[dt]
    except KeyError:
        raise InvalidArgumentError(f"dtype: TensorFlow dtype {dt!r} is not supported by highlevel") from None


def cast(x: Tensor, dt: DType) -> Tensor:
    """``x`` as dtype ``dt`` (a ``tf.DType``); free when it already is."""
    if x.dtype is dt:
        return x
    return _Cast(x=x, DstT=dt)


def as_float(x: Tensor) -> Tensor:
    """Integer and bool tensors become float32 (the rule for float-valued math)."""
    return x if x.dtype in FLOATS else _Cast(x=x, DstT=FLOAT32)


# --------------------------------------------------------------------- conversion


def tensor(x) -> Tensor:
    """Any accepted op input -> ``tf.Tensor``.

    Tensors pass through; our ``Variable`` is read; Python floats become float32,
    ints int32; NumPy arrays keep their dtype; nested lists follow the Python rules.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Variable):
        return x._var.value()
    return _convert(x)


def _convert(x) -> Tensor:
    kind = type(x)
    if kind is float:
        return tf.constant(x, FLOAT32)
    if kind is int:
        return tf.constant(x, INT32)
    if kind is bool:
        return tf.constant(x, BOOL)
    if isinstance(x, tf.Variable):
        return x.value()
    if isinstance(x, (np.ndarray, np.generic)):
        if x.dtype == object:
            raise InvalidArgumentError(f"convert_to_tensor: cannot convert an object array of shape {x.shape}")
        return tf.convert_to_tensor(x)
    if isinstance(x, (list, tuple)):
        return _convert_sequence(x)
    if isinstance(x, (tf.IndexedSlices,)):
        return tf.convert_to_tensor(x)
    if hasattr(x, "__array__"):
        return tf.convert_to_tensor(np.asarray(x))
    raise InvalidArgumentError(f"convert_to_tensor: cannot convert an object of type {kind.__name__}")


def _has_tensors(seq) -> bool:
    for item in seq:
        if isinstance(item, (Tensor, VariableBase, tf.Variable)):
            return True
        if isinstance(item, (list, tuple)) and _has_tensors(item):
            return True
    return False


def _has_numpy(seq) -> bool:
    for item in seq:
        if isinstance(item, (np.ndarray, np.generic)):
            return True
        if isinstance(item, (list, tuple)) and _has_numpy(item):
            return True
    return False


def _convert_sequence(seq) -> Tensor:
    if _has_tensors(seq):
        # [tensor, tensor, 1.0]: stack the converted items at their common dtype.
        items = [tensor(item) for item in seq]
        dt = tf_dtype(protocol.result_type(*(dtype_name(t.dtype) for t in items)))
        return tf.stack([cast(t, dt) for t in items])
    array = np.asarray(seq)
    if array.dtype == object:
        raise InvalidArgumentError("convert_to_tensor: the nested sequence is ragged or holds non-numbers")
    if not _has_numpy(seq):
        # Python numbers follow the scalar rules: floats -> float32, ints -> int32
        # (int64 only when a value needs it).
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        elif array.dtype.kind in "iu" and (not array.size or -2**31 <= array.min() <= array.max() < 2**31):
            array = array.astype(np.int32)
    return tf.convert_to_tensor(array)


def scalar(value, dt: DType) -> Tensor:
    """A Python scalar as a tensor of dtype ``dt``."""
    if dt in FLOATS:
        value = float(value)
    elif dt is BOOL:
        value = bool(value)
    else:
        value = int(value)
    return tf.constant(value, dt)


# ---------------------------------------------------------------------- promotion


def operands(x1, x2):
    """Both operands of a binary elementwise op, at their ``protocol.result_type``.

    The second one may come back as a plain Python number of the right kind: raw
    TensorFlow ops convert it to the first operand's dtype, which saves a constant.
    """
    if isinstance(x1, Tensor):
        if isinstance(x2, Tensor):
            if x1.dtype is x2.dtype:
                return x1, x2
        elif type(x2) is float or type(x2) is int:
            # A weak scalar of a kind the tensor already has: the raw op converts it.
            dt = x1.dtype
            if dt in FLOATS or (type(x2) is int and dt in INTS):
                return x1, x2
    return _operands_slow(x1, x2)


def _operands_slow(x1, x2):
    weak1, weak2 = type(x1) in _SCALAR_TYPES, type(x2) in _SCALAR_TYPES
    if weak1 and weak2:
        dt = tf_dtype(protocol.result_type(weak=(type(x1), type(x2))))
        return scalar(x1, dt), scalar(x2, dt)
    if weak2:
        x1 = tensor(x1)
        dt = tf_dtype(protocol.result_type(dtype_name(x1.dtype), weak=(type(x2),)))
        return cast(x1, dt), _scalar_of_kind(x2, dt)
    if weak1:
        x2 = tensor(x2)
        dt = tf_dtype(protocol.result_type(dtype_name(x2.dtype), weak=(type(x1),)))
        # Graph-mode raw ops infer the dtype from the first input: make it a tensor.
        return scalar(x1, dt), cast(x2, dt)
    x1, x2 = tensor(x1), tensor(x2)
    if x1.dtype is x2.dtype:
        return x1, x2
    dt = tf_dtype(protocol.result_type(dtype_name(x1.dtype), dtype_name(x2.dtype)))
    return cast(x1, dt), cast(x2, dt)


def _scalar_of_kind(value, dt: DType):
    """A Python number converted to the kind (float/int/bool) of ``dt`` for a raw op."""
    if dt in FLOATS:
        return float(value)
    if dt is BOOL:
        return bool(value)
    return int(value)


def same_dtype(*xs) -> list:
    """Tensors of a list of operands, promoted to their common dtype (n-ary ops)."""
    weak = tuple(type(x) for x in xs if type(x) in _SCALAR_TYPES)
    tensors = [None if type(x) in _SCALAR_TYPES else tensor(x) for x in xs]
    names = tuple(dtype_name(t.dtype) for t in tensors if t is not None)
    dt = tf_dtype(protocol.result_type(*names, weak=weak))
    return [scalar(x, dt) if t is None else cast(t, dt) for x, t in zip(xs, tensors)]


_INT_TENSORS: dict = {}
_executing_eagerly = tf.executing_eagerly


def int_tensor(values: tuple):
    """A tuple of Python ints (a shape, axes, a permutation) as an int32 tensor.

    Eagerly, TensorFlow converts a Python tuple argument of a raw op through its slow
    path (~90 us, several times the op itself), so the tensors are cached by value.
    While tracing, the tuple is returned as is: it becomes a graph constant once.
    """
    if not _executing_eagerly():
        return values
    try:
        found = _INT_TENSORS.get(values)
    except TypeError:  # holds tensors (a dynamic shape): let TensorFlow pack it
        return values
    if found is None:
        if len(_INT_TENSORS) >= 4096:
            _INT_TENSORS.clear()
        found = _INT_TENSORS[values] = tf.constant(values, INT32)
    return found


_SCALARS: dict = {}


def typed_scalar(value, dt: DType) -> Tensor:
    """A scalar tensor of dtype ``dt`` (cached eagerly, like ``int_tensor``)."""
    if not _executing_eagerly():
        return scalar(value, dt)
    key = (value, dt)
    found = _SCALARS.get(key)
    if found is None:
        if len(_SCALARS) >= 4096:
            _SCALARS.clear()
        found = _SCALARS[key] = scalar(value, dt)
    return found


def shape_of(x: Tensor) -> tuple:
    """Static shape of a tensor as a tuple of ints (``None`` for unknown graph dims)."""
    return tuple(x.shape)


# ------------------------------------------------------------------------ Variable


class Variable(VariableBase):
    """``Variable(value, trainable=True, name=None, dtype=None)`` over a ``tf.Variable``.

    The ``tf.Variable`` lives in ``_var``; TensorFlow ops accept this object directly
    (a tensor conversion function is registered below), so ``tf_tensor + variable``
    and ``tf.matmul(x, variable)`` work, and a ``GradientTape`` watching ``_var``
    sees every read.
    """

    def _initialize(self, value, dtype):
        if isinstance(value, VariableBase):
            value = value.value
        if tf.executing_eagerly() or _is_symbolic(value):
            self._var = self._make(value, dtype)
        else:
            # Created while tracing compile_function: a concrete initial value can be
            # lifted out of the graph, so the variable is an ordinary eager one.
            with tf.init_scope():
                self._var = self._make(value, dtype)

    def _make(self, value, dtype):
        value = tensor(value)
        if dtype is None:
            dt = FLOAT32 if value.dtype in FLOATS else value.dtype
        else:
            dt = tf_dtype(dtype, "Variable")
        dtype_name(dt)  # rejects dtypes outside the protocol
        # TensorFlow names allow fewer characters than paths like "dense_1/kernel".
        name = "".join(c if c.isalnum() or c in "_.-" else "_" for c in self.name).lstrip("_.-")
        return tf.Variable(cast(value, dt), trainable=self.trainable, name=name or None)

    @property
    def value(self) -> Tensor:
        return self._var.value()

    def _direct_assign(self, value):
        self._var.assign(value, read_value=False)

    # TensorFlow's fused in-place updates: one op instead of read + add + assign.
    def assign_add(self, delta):
        self._var.assign_add(self._checked(delta), read_value=False)
        return self

    def assign_sub(self, delta):
        self._var.assign_sub(self._checked(delta), read_value=False)
        return self

    @property
    def shape(self) -> tuple:
        return tuple(self._var.shape)

    @property
    def dtype(self) -> str:
        return _DTYPE_NAMES[self._var.dtype]

    @property
    def ndim(self) -> int:
        return self._var.shape.rank

    def numpy(self):
        return np.asarray(self._var.numpy())

    def __tf_tracing_type__(self, context):
        # A Variable passed *as an argument* to a compiled function stays this very
        # object inside the trace (so assign works), as if the function closed over it.
        return _VariableTraceType(self)


class _VariableTraceType(tf.types.experimental.TraceType):
    """``tf.function`` trace type of a Variable argument: the object itself, by identity.

    Nothing enters the graph as an input; reading ``_var`` while tracing captures the
    ``tf.Variable`` by reference, exactly as for a closure. A different Variable is a
    different type and traces anew.
    """

    def __init__(self, variable):
        self._variable = weakref.ref(variable)
        self._id = id(variable)

    def is_subtype_of(self, other) -> bool:
        return self == other

    def most_specific_common_supertype(self, others):
        return self if all(self == other for other in others) else None

    def placeholder_value(self, placeholder_context):
        return self._variable()

    def __eq__(self, other) -> bool:
        return (isinstance(other, _VariableTraceType) and self._id == other._id
                and self._variable() is other._variable())

    def __hash__(self) -> int:
        return self._id


def _is_symbolic(value) -> bool:
    return isinstance(value, Tensor) and not hasattr(value, "numpy")


def _variable_to_tensor(variable, dtype=None, name=None, as_ref=False):
    """Lets TensorFlow ops and operators take our ``Variable`` wherever a tensor goes."""
    if as_ref:
        return variable._var
    if dtype is not None and not tf.as_dtype(dtype).is_compatible_with(variable._var.dtype):
        # TensorFlow then tries the other operand's reflected operator (ours promotes).
        return NotImplemented
    return variable._var.value()


tf.register_tensor_conversion_function(Variable, _variable_to_tensor)


# TensorFlow's own ``tf_tensor @ variable`` converts the Variable and applies TF's
# rules (no promotion, no 1-D matmul); it falls back to the Variable's reflected
# operator only on TypeError/ValueError. So an operator of a TF tensor whose other
# operand is one of our Variables defers to the Variable, which applies highlevel's
# rules. Every other operand goes straight to TensorFlow's operator.
_REFLECTED = {"add": "radd", "sub": "rsub", "mul": "rmul", "truediv": "rtruediv", "floordiv": "rfloordiv",
              "mod": "rmod", "pow": "rpow", "matmul": "rmatmul", "lt": "gt", "le": "ge", "gt": "lt",
              "ge": "le", "and": "and", "or": "or"}


def _defer_operators_to_variables():
    for name, reflected in _REFLECTED.items():
        original = getattr(Tensor, f"__{name}__")
        if getattr(original, "_defers_to_highlevel_variables", False):
            continue  # already installed (module reloaded)

        def operator(x, y, _original=original, _reflected=f"__{reflected}__"):
            if isinstance(y, Variable):
                return getattr(y, _reflected)(x)
            return _original(x, y)

        operator.__name__ = f"__{name}__"
        operator.__doc__ = original.__doc__
        operator._defers_to_highlevel_variables = True
        setattr(Tensor, f"__{name}__", operator)


_defer_operators_to_variables()
