"""``Layer``: the base class of every layer and model.

A layer owns weights (``add_weight``), builds them lazily from the first input's
shape (``build(input_shape)``), computes ``call(inputs, training=None)`` and works
both on real tensors and on the symbolic tensors of the functional API (then it
only infers output shapes and records a graph node).

Bookkeeping follows Keras 3:

* sublayers are found from attributes (directly or inside lists/tuples/dicts) in
  assignment order; ``weights`` = own weights (trainable first, then non-trainable,
  each in creation order) followed by each sublayer's, de-duplicated;
* ``trainable = False`` freezes the whole subtree (it flips the own variables'
  ``trainable`` flag and recurses);
* ``training`` reaches sublayers through a call context: an explicit argument wins,
  then the enclosing call's value, then the default of ``call``'s signature;
* ``losses`` = losses added during the last outermost call (``add_loss``, activity
  regularization divided by the batch size) + one penalty per regularized trainable
  weight, recomputed on every access (so it is current after each optimizer step).
"""

from __future__ import annotations

import collections
import functools
import inspect
import json
import re
import threading

import numpy as np

from highlevel import constraints, initializers, ops, regularizers
from highlevel.utils import tree
from highlevel.layers.input_spec import assert_input_compatibility
from highlevel.layers.symbolic import Node, SymbolicTensor, any_symbolic, is_symbolic

# ----------------------------------------------------------------------------- naming

_NAME_COUNTS: collections.Counter = collections.Counter()


def to_snake_case(name: str) -> str:
    """``"Dense"`` -> ``"dense"``, ``"InputLayer"`` -> ``"input_layer"``, ``"Conv2D"`` -> ``"conv2d"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """``base``, then ``base_1``, ``base_2``, ... across the process."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    """Forget the auto-generated names (the next ``Dense()`` is ``dense`` again)."""
    _NAME_COUNTS.clear()


# ------------------------------------------------------------------------ call context

_STATE = threading.local()


def _call_stack() -> list:
    stack = getattr(_STATE, "stack", None)
    if stack is None:
        stack = _STATE.stack = []
    return stack


@functools.lru_cache(maxsize=None)
def _call_signature(cls):
    """``(accepts_training, training_default, accepts_mask)`` for ``cls.call``."""
    try:
        params = inspect.signature(cls.call).parameters
    except (TypeError, ValueError):
        return False, None, False
    training = params.get("training")
    default = None
    if training is not None and training.default is not inspect.Parameter.empty:
        default = training.default
    return training is not None, default, "mask" in params


@functools.lru_cache(maxsize=None)
def _init_signature(cls):
    try:
        return inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return None


def _capture_init_args(cls, args, kwargs):
    """The constructor arguments by name (for the automatic ``get_config``), or ``None``."""
    signature = _init_signature(cls)
    if signature is None:
        return None
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return None
    captured = {}
    for name, value in list(bound.arguments.items())[1:]:
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None
        elif kind is inspect.Parameter.VAR_KEYWORD:
            captured.update(value)
        else:
            captured[name] = value
    return captured


def _json_ready(value) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def _is_float(dtype: str) -> bool:
    return dtype in ("float16", "bfloat16", "float32", "float64")


# ------------------------------------------------------------ structure tracking
#
# Sublayers are found by scanning attributes, which is too slow to repeat on every
# call. The results are cached per layer and keyed by one global version number,
# bumped whenever any layer's structure may change: an attribute holding a layer, a
# container or a variable is set or deleted, a tracked list/dict attribute is
# mutated, or a weight is added. (Structure changes are rare; calls are not.)

_VERSION = [0]

# While a model is rebuilt from a file (hl.saving), the number of weight elements the file
# holds: a damaged or hostile config that declares bigger weights is refused by add_weight
# before anything is allocated. None otherwise.
_WEIGHT_BUDGET = [None]


class weight_budget:
    """``with weight_budget(n):`` layers built inside may create at most ``n`` weight elements."""

    def __init__(self, elements: int):
        self.elements = int(elements)

    def __enter__(self):
        self._saved = _WEIGHT_BUDGET[0]
        _WEIGHT_BUDGET[0] = self.elements
        return self

    def __exit__(self, *exc):
        _WEIGHT_BUDGET[0] = self._saved
        return False
# Advanced whenever a loss is added to any layer (and on every structure change): a
# layer whose subtree was emptied of losses at the current epoch need not be walked
# again to clear them (see ``Layer._clear_losses``).
_LOSS_EPOCH = [0]


def _bump() -> None:
    _VERSION[0] += 1
    _LOSS_EPOCH[0] += 1


def _mutator(name, base):
    method = getattr(base, name)

    def wrapped(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        _bump()
        return result
    wrapped.__name__ = name
    return wrapped


class _TrackedList(list):
    """A list attribute of a layer: mutating it invalidates the cached sublayers."""


class _TrackedDict(dict):
    """A dict attribute of a layer: mutating it invalidates the cached sublayers."""


for _name in ("append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "__setitem__",
              "__delitem__", "__iadd__", "__imul__"):
    setattr(_TrackedList, _name, _mutator(_name, list))
for _name in ("__setitem__", "__delitem__", "pop", "popitem", "clear", "update", "setdefault", "__ior__"):
    setattr(_TrackedDict, _name, _mutator(_name, dict))
del _name


def _track(value):
    """Wrap plain lists/dicts (recursively) so their mutations are seen."""
    if type(value) is list:
        return _TrackedList(_track(v) for v in value)
    if type(value) is dict:
        return _TrackedDict((k, _track(v)) for k, v in value.items())
    return value


_LAYER_KWARGS = ("input_shape", "input_dim", "batch_size", "batch_input_shape", "activity_regularizer")
# Attributes that hold bookkeeping, never sublayers.
_UNTRACKED = frozenset({"_inbound_nodes", "_trainable_variables", "_non_trainable_variables", "_losses",
                        "_auto_config", "input_spec", "_build_input_shape", "_output_shapes", "_cache",
                        "_fast_call", "_losses_cleared_at", "_call_plan", "_output_masks"})
# Attributes the eager fast path (``_FastCall``) depends on: setting one drops it.
_FAST_CALL_KEYS = frozenset({"built", "autocast", "_dtype", "_convert_input_args"})


def _default_build(method):
    """Mark a ``build`` that does nothing a layer's call would not do itself (see ``_maybe_build``)."""
    method._is_default_build = True
    return method


class Layer:
    """Base class of layers (and of ``Model``).

    Args: ``trainable``, ``name`` (default: snake_case of the class
    name made unique: ``dense``, ``dense_1``, ...), ``dtype`` (of the weights and
    computations, ``"float32"`` by default), ``activity_regularizer``, and for the
    first layer of a ``Sequential``: ``input_shape`` (without the batch dim),
    ``batch_size``, ``input_dim``.

    Subclasses implement ``build(input_shape)`` (create weights with ``add_weight``)
    and ``call(inputs, training=None)``; optionally ``compute_output_shape`` and
    ``get_config``.
    """

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        # Remember the constructor arguments: the default get_config returns them.
        obj._auto_config = _capture_init_args(cls, args, kwargs)
        return obj

    def __init__(self, trainable=True, name=None, dtype=None, autocast=True, **kwargs):
        if getattr(self, "_layer_initialized", False):
            # A second Layer.__init__ (a mixin calling super().__init__()) must not reset state.
            return
        unknown = set(kwargs) - set(_LAYER_KWARGS)
        if unknown:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                             f"{ {k: kwargs[k] for k in sorted(unknown)} }")
        if name is None:
            name = unique_name(self._default_name())
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string without '/', got {name!r}")
        self.name = name
        self._dtype = ops.standardize_dtype(dtype.get("config", {}).get("name") if isinstance(dtype, dict)
                                            else dtype)
        self.autocast = bool(autocast)
        self._trainable = bool(trainable)
        self.built = False
        self.input_spec = None
        # As Keras 3: a layer that defines compute_mask supports masking; others drop masks
        # unless they set supports_masking (pass-through layers such as Dense do).
        self.supports_masking = type(self).compute_mask is not Layer.compute_mask
        self._trainable_variables = []
        self._non_trainable_variables = []
        self._losses = []
        self._inbound_nodes = []
        self._build_input_shape = None
        self._output_shapes = None
        self._convert_input_args = True
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))

        input_shape = kwargs.get("input_shape")
        if kwargs.get("input_dim") is not None:
            input_shape = (kwargs["input_dim"],)
        batch_input_shape = kwargs.get("batch_input_shape")
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
            self._batch_input_shape = (kwargs.get("batch_size"),) + shape
        else:
            self._batch_input_shape = None
        self._layer_initialized = True

    @classmethod
    def _default_name(cls) -> str:
        return to_snake_case(cls.__name__)

    # ------------------------------------------------------------------ dtype
    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights (and of its computations)."""
        return self._dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype

    @property
    def compute_dtype(self) -> str:
        # One dtype for now; a mixed-precision policy will split the two.
        return self._dtype

    # --------------------------------------------------------------- weights
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None, autocast=True, aggregation=None):
        """Create a weight (an ``hl.Variable``) owned by this layer.

        shape: a tuple of ints (``()`` for a scalar). initializer: name, object or
        callable (``"glorot_uniform"`` for floats, ``"zeros"`` otherwise). The variable's
        ``path`` is ``"<layer name>/<name>"``; its ``regularizer`` and ``constraint``
        attributes hold the (possibly ``None``) objects given here.
        """
        shape = () if shape is None else shape
        try:
            shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
        except TypeError:
            raise ValueError(f"layer {self.name!r}: add_weight needs a fully defined shape, got {shape!r}") from None
        dtype = ops.standardize_dtype(dtype or self.variable_dtype)
        if initializer is None:
            initializer = "glorot_uniform" if _is_float(dtype) else "zeros"
        init = initializers.get(initializer)
        own = self._trainable_variables + self._non_trainable_variables
        if name is None:
            name = "variable" if not own else f"variable_{len(own)}"
        if _WEIGHT_BUDGET[0] is not None:
            size = int(np.prod(shape, dtype=np.float64))
            if size > _WEIGHT_BUDGET[0]:
                raise ValueError(f"layer {self.name!r}: weight {name!r} of shape {shape} needs {size} elements, more "
                                 f"than the {_WEIGHT_BUDGET[0]} left in the weights being loaded")
            _WEIGHT_BUDGET[0] -= size
        value = initializers.initial_value(init, shape, dtype)
        # A frozen layer creates frozen variables; unfreezing it restores them (see the setter).
        variable = ops.Variable(value, trainable=bool(trainable) and self._trainable, name=name, dtype=dtype)
        variable.path = f"{self.name}/{name}"
        variable.regularizer = regularizers.get(regularizer)
        variable.constraint = constraints.get(constraint)
        (self._trainable_variables if trainable else self._non_trainable_variables).append(variable)
        _bump()
        return variable

    def add_variable(self, shape, initializer="zeros", dtype=None, trainable=True, name=None, **kwargs):
        """Alias of ``add_weight`` (Keras 3 name) with a ``zeros`` default."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype, trainable=trainable, name=name,
                               **kwargs)

    def __setattr__(self, name, value):
        if name not in _UNTRACKED:
            old = self.__dict__.get(name)
            if isinstance(value, _TRACKABLE) or isinstance(old, _TRACKABLE):
                value = _track(value)
                _bump()
            elif name in _FAST_CALL_KEYS:
                self.__dict__.pop("_fast_call", None)
        elif name == "_losses" and value:
            _LOSS_EPOCH[0] += 1
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if isinstance(self.__dict__.get(name), _TRACKABLE):
            _bump()
        object.__delattr__(self, name)

    def _cached(self, key, compute):
        """``compute()``, remembered until the structure version changes."""
        cache = self.__dict__.get("_cache")
        if cache is None or cache[0] != _VERSION[0]:
            cache = (_VERSION[0], {})
            self.__dict__["_cache"] = cache
        values = cache[1]
        if key not in values:
            values[key] = compute()
        return values[key]

    def _tracked_children(self):
        """Direct sublayers and attribute-assigned variables, in attribute order."""
        return self._cached("children", self._scan_children)

    def _scan_children(self):
        layers, variables, seen = [], [], {id(self)}

        def collect(value):
            if isinstance(value, Layer):
                if id(value) not in seen:
                    seen.add(id(value))
                    layers.append(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    collect(item)
            elif isinstance(value, dict):
                for item in value.values():
                    collect(item)

        for key, value in self.__dict__.items():
            if key in _UNTRACKED:
                continue
            if isinstance(value, ops.Variable):
                # Only public attributes: private ones may cache variables owned elsewhere.
                if not key.startswith("_"):
                    variables.append(value)
                continue
            collect(value)
        return layers, variables

    def _direct_sublayers(self) -> list:
        return self._tracked_children()[0]

    def _flatten_layers(self, include_self=True, recursive=True) -> list:
        """This layer (optionally) and its sublayers, depth-first in tracking order, de-duplicated."""
        if include_self and recursive:
            return self._cached("flat", lambda: self._scan_layers(True, True))
        return self._scan_layers(include_self, recursive)

    def _scan_layers(self, include_self, recursive) -> list:
        layers = [self] if include_self else []
        seen = {id(self)}
        pending = collections.deque(self._direct_sublayers())
        while pending:
            layer = pending.popleft()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            layers.append(layer)
            if recursive:
                pending.extendleft(reversed(layer._direct_sublayers()))
        return layers

    def _own_variables(self) -> list:
        attribute_vars = self._tracked_children()[1]
        own = self._trainable_variables + self._non_trainable_variables
        owned = {id(v) for v in own}
        extra = [v for v in attribute_vars if id(v) not in owned]
        # Keras order: trainable, then non-trainable (attribute-assigned ones by their flag).
        return ([v for v in self._trainable_variables] + [v for v in extra if v.trainable]
                + [v for v in self._non_trainable_variables] + [v for v in extra if not v.trainable])

    @property
    def weights(self) -> list:
        """All weights: own (trainable, then non-trainable), then each sublayer's; no duplicates."""
        return list(self._cached("weights", self._scan_weights))

    def _scan_weights(self) -> list:
        out, seen = [], set()
        for layer in self._flatten_layers(include_self=True):
            for variable in layer._own_variables():
                if id(variable) not in seen:
                    seen.add(id(variable))
                    out.append(variable)
        return out

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return self.weights
        return [v for v in self.weights if not v.trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        # Only variables created trainable change; non-trainable state (moving means) stays so.
        for variable in self._trainable_variables:
            variable.trainable = value
        for layer in self._direct_sublayers():
            layer.trainable = value

    def count_params(self) -> int:
        """Number of scalars in ``weights``; the layer must be built."""
        if not self.built:
            raise ValueError(f"You tried to call count_params() on layer {self.name!r}, but the layer isn't "
                             f"built. Build it first (call it on data or call layer.build(input_shape)).")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    def get_weights(self) -> list:
        """The weights' values as NumPy arrays, in ``weights`` order (Keras order)."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        """Assign NumPy arrays (in ``weights`` order); shapes are checked before anything is assigned."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"You called set_weights(weights) on layer {self.name!r} with a weight list of length "
                             f"{len(weights)}, but the layer was expecting {len(params)} weights "
                             f"({', '.join(v.path for v in params) or 'none: is it built?'}).")
        arrays = []
        for variable, value in zip(params, weights):
            array = ops.convert_to_numpy(value) if ops.is_tensor(value) else np.asarray(value)
            if tuple(variable.shape) != tuple(array.shape):
                raise ValueError(f"Layer {self.name!r} weight {variable.path!r} has shape {tuple(variable.shape)}, "
                                 f"which is not compatible with the provided weight of shape {tuple(array.shape)}")
            arrays.append(array)
        for variable, array in zip(params, arrays):
            variable.assign(array)

    # ---------------------------------------------------------------- losses
    def add_loss(self, loss) -> None:
        """Add a scalar tensor to ``losses`` (from ``call``; cleared at the next outermost call)."""
        for value in tree.flatten(loss):
            self._losses.append(value)
        _LOSS_EPOCH[0] += 1

    def _clear_losses(self) -> None:
        """Empty ``_losses`` in this layer's subtree (only walked when a loss may have been added since)."""
        epoch = _LOSS_EPOCH[0]
        if self.__dict__.get("_losses_cleared_at") == epoch:
            return
        for layer in self._flatten_layers(include_self=True):
            if layer._losses:
                layer._losses = []
        self._losses_cleared_at = epoch

    @property
    def losses(self) -> list:
        """Losses of the last call (``add_loss``, activity regularization) + weight penalties."""
        losses = []
        for layer in self._flatten_layers(include_self=True):
            if layer._losses:
                losses.extend(layer._losses)
        for variable in self.trainable_weights:
            regularizer = getattr(variable, "regularizer", None)
            if regularizer is not None:
                losses.append(regularizer(variable))
        return losses

    # ----------------------------------------------------------------- build
    @_default_build
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch dim first, ``None`` if unknown)."""
        self.built = True

    def _maybe_build(self, first_input) -> None:
        shapes = tree.map_structure(_shape_of, first_input)
        self._build_input_shape = shapes
        if not getattr(type(self).build, "_is_default_build", False):
            self.build(shapes)
        self.built = True

    # ------------------------------------------------------------------ call
    def call(self, inputs, *args, **kwargs):
        """The layer's computation; the base class returns ``inputs`` unchanged."""
        return inputs

    def _convert_input(self, x):
        """NumPy arrays -> tensors; float inputs cast to the layer's dtype (Keras's autocast)."""
        if isinstance(x, (np.ndarray, np.generic)):
            if x.dtype.kind == "f" and self.autocast:
                return ops.convert_to_tensor(x, dtype=self.compute_dtype)
            return ops.convert_to_tensor(x)
        if self.autocast and type(x) is not SymbolicTensor and ops.is_tensor(x):
            dtype = dtype_of(x)
            if dtype != self.compute_dtype and _is_float(dtype) and _is_float(self.compute_dtype):
                return ops.cast(x, self.compute_dtype)
        return x

    def __call__(self, *args, **kwargs):
        # The eager fast path: one argument of a type and dtype this layer has already
        # taken as is (see ``_FastCall``), no keyword but a plain ``training`` flag. It
        # does what the general path below does, minus the work whose answer is known.
        fast = self.__dict__.get("_fast_call")
        if fast is not None and len(args) == 1:
            training = kwargs.get("training", _NOT_PLAIN) if kwargs else None
            if (training is None or training is True or training is False) and len(kwargs) <= 1:
                x = args[0]
                dtypes = fast.inputs.get(type(x))
                if dtypes is not None and (dtypes is _ANY_DTYPE or x.dtype in dtypes):
                    spec = self.input_spec
                    if spec is not None:
                        shape = x.shape
                        checked = fast.checked
                        if checked[0] is not spec or checked[1] != shape:
                            assert_input_compatibility(spec, x, self.name)
                            fast.checked = (spec, shape)
                    try:
                        stack = _STATE.stack
                    except AttributeError:
                        stack = _call_stack()
                    if training is None:
                        if stack:
                            training = stack[-1]
                        if training is None:
                            training = fast.training_default
                    outermost = not stack
                    stack.append(training)
                    try:
                        if outermost and self.__dict__.get("_losses_cleared_at") != _LOSS_EPOCH[0]:
                            self._clear_losses()
                        if training is not None and fast.accepts_training:
                            outputs = self.call(x, training=training)
                        else:
                            outputs = self.call(x)
                        if self.activity_regularizer is not None:
                            self._add_activity_losses(outputs)
                        if self._output_shapes is None:
                            self._output_shapes = tree.map_structure(
                                lambda t: _shape_of(t) if ops.is_tensor(t) else None, outputs)
                    finally:
                        stack.pop()
                    return outputs
        return self._general_call(args, kwargs)

    def _general_call(self, args, kwargs):
        """``__call__`` for any arguments: symbolic or real, nested, with masks or other keywords."""
        if not args:
            if "inputs" not in kwargs:
                raise ValueError(f"layer {self.name!r} was called without inputs")
            args = (kwargs.pop("inputs"),)
        first = original = args[0]
        # Whether a later call with an argument like this one may take the fast path.
        flag = kwargs.get("training", _NOT_PLAIN) if kwargs else None
        plain = len(args) == 1 and len(kwargs) <= 1 and (flag is None or flag is True or flag is False)
        if self._convert_input_args:
            if len(args) == 1 and not isinstance(first, (list, tuple, dict)):
                args = (self._convert_input(first),)
            else:
                args = tree.map_structure(self._convert_input, args)
            first = args[0]
        symbolic = _has_symbolic(args, kwargs)

        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, first, self.name)
        if not self.built:
            self._maybe_build(first)

        accepts_training, training_default, accepts_mask = _call_signature(type(self))
        if not accepts_mask and "mask" in kwargs and kwargs["mask"] is None:
            del kwargs["mask"]  # no masking support to pass it to
        explicit_training = kwargs.pop("training", None)
        stack = _call_stack()
        training = explicit_training
        if training is None and stack:
            training = stack[-1]
        if training is None:
            training = training_default
        if accepts_training and training is not None:
            kwargs["training"] = training

        outermost = not stack
        stack.append(training)
        try:
            if symbolic:
                outputs = self._symbolic_call(args, kwargs)
            else:
                if outermost:
                    self._clear_losses()
                outputs = self.call(*args, **kwargs)
                if self.activity_regularizer is not None:
                    self._add_activity_losses(outputs)
                if self._output_shapes is None:
                    self._output_shapes = tree.map_structure(
                        lambda t: _shape_of(t) if ops.is_tensor(t) else None, outputs)
        finally:
            stack.pop()

        if symbolic:
            node_kwargs = {k: v for k, v in kwargs.items() if k != "training"}
            if explicit_training is not None:
                node_kwargs["training"] = explicit_training
            Node(self, args, node_kwargs, outputs)
        elif plain and self.built and first is original:
            self._remember_plain_input(original)
        return outputs

    def _remember_plain_input(self, x) -> None:
        """Let later calls on tensors of ``x``'s type (and dtype, when inputs are converted) skip
        the conversion, the symbolic check and the signature lookup (see ``_FastCall``)."""
        kind = type(x)
        if issubclass(kind, (SymbolicTensor, list, tuple, dict)) or not (kind is np.ndarray or ops.is_tensor(x)) \
                or not (hasattr(x, "dtype") and hasattr(x, "shape")):
            return
        fast = self.__dict__.get("_fast_call")
        if fast is None:
            fast = _FastCall(type(self))
        if not self._convert_input_args:
            fast.inputs[kind] = _ANY_DTYPE
        else:
            dtypes = fast.inputs.get(kind)
            if dtypes is _ANY_DTYPE:
                return
            try:
                fast.inputs[kind] = (dtypes or frozenset()) | {x.dtype}
            except TypeError:  # an unhashable dtype object: keep to the general path
                return
        self.__dict__["_fast_call"] = fast

    def _add_activity_losses(self, outputs) -> None:
        for output in tree.flatten(outputs):
            if not ops.is_tensor(output):
                continue
            loss = self.activity_regularizer(output)
            shape = ops.shape(output)
            if shape and shape[0]:
                # Keras 3 divides by the batch size so the strength does not depend on it.
                loss = ops.divide(loss, float(shape[0]))
            self._losses.append(loss)
            _LOSS_EPOCH[0] += 1

    def _symbolic_call(self, args, kwargs):
        outputs = self.compute_output_spec(*args, **kwargs)
        inputs = {id(x) for x in tree.flatten((args, kwargs)) if is_symbolic(x)}
        # Every output must be a fresh tensor: its history will point at this call.
        return tree.map_structure(
            lambda t: SymbolicTensor(t.shape, t.dtype) if is_symbolic(t) and (id(t) in inputs or t._history)
            else t, outputs)

    # ----------------------------------------------------------------- masks
    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output(s) given the mask of its first input (``None``: no mask).

        Model executors call it after ``call`` when ``supports_masking`` is true (else the mask
        is dropped); the default passes ``mask`` through. Masks are boolean tensors, true =
        keep (Keras's convention), e.g. ``(batch, steps)`` for sequences.
        """
        return mask

    # ------------------------------------------------------- shape inference
    def compute_output_shape(self, input_shape):
        """Output shape(s) for ``input_shape``; by default inferred through ``compute_output_spec``."""
        dtype = self.compute_dtype
        dummy = SymbolicTensor(input_shape, dtype) if _is_shape(input_shape) else \
            _map_shapes(lambda s: SymbolicTensor(s, dtype), input_shape)
        if type(self).compute_output_spec is Layer.compute_output_spec:
            spec = self._stand_in_output_spec((dummy,), {})
        else:
            spec = self.compute_output_spec(dummy)
        return tree.map_structure(lambda t: t.shape if is_symbolic(t) else None, spec)

    def compute_output_spec(self, *args, **kwargs):
        """Symbolic outputs for symbolic inputs: from ``compute_output_shape`` when the class
        defines it, else by running ``call`` on zero-filled stand-ins (see ``_stand_in_output_spec``)."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            first = args[0]
            input_shape = first.shape if is_symbolic(first) else _map_shapes_of(first)
            output_shape = self.compute_output_shape(input_shape)
            dtype = self.compute_dtype
            if _is_shape(output_shape):
                return SymbolicTensor(output_shape, dtype)
            return _map_shapes(lambda s: SymbolicTensor(s, dtype), output_shape)
        return self._stand_in_output_spec(args, kwargs)

    def _stand_in_output_spec(self, args, kwargs):
        """Run ``call`` on zeros where each unknown dim is 2, then 3; dims that change are ``None``."""
        symbols = [x for x in tree.flatten((args, kwargs)) if is_symbolic(x)]
        has_unknown = any(d is None for x in symbols for d in x.shape)
        runs = []
        for size in ((2, 3) if has_unknown else (2,)):
            def stand_in(x, size=size):
                if not is_symbolic(x):
                    return x
                shape = tuple(size if d is None else d for d in x.shape)
                return ops.convert_to_tensor(np.zeros(shape, dtype=_numpy_dtype(x.dtype)))
            concrete_args = tree.map_structure(stand_in, args)
            concrete_kwargs = tree.map_structure(stand_in, kwargs)
            try:
                runs.append(self.call(*concrete_args, **concrete_kwargs))
            finally:
                self._clear_losses()

        def to_spec(*values):
            first = values[0]
            if not ops.is_tensor(first):
                return first
            shapes = [ops.shape(v) for v in values]
            shape = tuple(dims[0] if len(set(dims)) == 1 else None for dims in zip(*shapes))
            return SymbolicTensor(shape, ops.dtype(first))

        flat = [tree.flatten(run) for run in runs]
        return tree.pack_sequence_as(runs[0], [to_spec(*values) for values in zip(*flat)])

    # ---------------------------------------------------------- graph access
    def _single_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"layer {self.name!r} has never been called on symbolic tensors, so it has no "
                                 f"{what}")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"layer {self.name!r} has been called {len(self._inbound_nodes)} times; its "
                                 f"{what} is ambiguous (use the tensors returned by each call)")
        return self._inbound_nodes[0]

    @property
    def input(self):
        """The symbolic input of the layer's only call (functional API)."""
        node = self._single_node("input")
        return node.call_args[0] if node.call_args else None

    @property
    def output(self):
        """The symbolic output of the layer's only call (functional API)."""
        return self._single_node("output").output_structure

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict:
        """JSON-ready constructor arguments (``from_config(get_config())`` rebuilds the layer)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if getattr(type(self), "get_config") is not Layer.get_config:
            return config  # a subclass adds its own arguments
        extra = {k: v for k, v in (self._auto_config or {}).items() if k not in config}
        if extra:
            bad = [k for k, v in extra.items() if not _json_ready(v)]
            if bad:
                raise NotImplementedError(
                    f"Layer {type(self).__name__} ({self.name!r}) has constructor arguments {bad} that are not "
                    f"JSON-serializable; override get_config() (and from_config()) to save it")
            config.update(extra)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        signature = _init_signature(cls)
        if signature is not None and not any(p.kind is inspect.Parameter.VAR_KEYWORD
                                             for p in signature.parameters.values()):
            # A subclass whose __init__ takes no **kwargs: set the base fields afterwards.
            base = {k: config.pop(k) for k in ("name", "trainable", "dtype") if k in config
                    and k not in signature.parameters}
            layer = cls(**config)
            if "name" in base:
                layer.name = base["name"]
            if "trainable" in base:
                layer.trainable = base["trainable"]
            return layer
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class _AnyDtype:
    """``_FastCall.inputs`` value: every dtype of this type is taken as is (no conversion)."""


_ANY_DTYPE = _AnyDtype()
_NOT_PLAIN = object()


class _FastCall:
    """What a built layer's eager ``__call__`` needs, learned from its general path.

    inputs: ``{tensor type: dtypes}`` — a single argument of that type and of one of
    those dtypes (engine dtype objects) comes out of input conversion unchanged, or
    ``_ANY_DTYPE`` for layers that convert nothing (models); such an argument is a
    plain tensor, never symbolic or nested. checked: ``(input_spec, shape)`` of the
    last argument that passed the input-spec check (the check depends on the shape
    alone, so an equal shape under the same spec object passes again).

    Dropped when ``built``, ``autocast``, the dtype or ``_convert_input_args`` is set;
    the input spec is compared by identity (assign a new ``InputSpec`` rather than
    mutating one in place).
    """

    __slots__ = ("inputs", "checked", "accepts_training", "training_default")

    def __init__(self, cls):
        self.inputs = {}
        self.checked = (None, None)
        self.accepts_training, self.training_default, _ = _call_signature(cls)

    def __deepcopy__(self, memo):
        return None  # a deep-copied layer learns its own (``__call__`` reads None as "not yet")


def _has_symbolic(args, kwargs) -> bool:
    """Whether any argument is (or contains) a symbolic tensor; cheap for plain leaves."""
    for value in args:
        if type(value) is SymbolicTensor or (tree.is_nested(value) and any_symbolic(value)):
            return True
    for value in kwargs.values():
        if type(value) is SymbolicTensor or (tree.is_nested(value) and any_symbolic(value)):
            return True
    return False


_DTYPES: dict = {}


def dtype_of(x) -> str:
    """``hl.ops.dtype(x)``, memoized on the tensor's own ``dtype`` object (this is on every call's path)."""
    raw = getattr(x, "dtype", None)
    if raw is None:
        return ops.dtype(x)
    try:
        return _DTYPES[raw]
    except (KeyError, TypeError):
        dtype = ops.dtype(x)
        try:
            _DTYPES[raw] = dtype
        except TypeError:  # an unhashable dtype object
            pass
        return dtype


# Attribute values that may hold sublayers or weights (see Layer.__setattr__).
_TRACKABLE = (Layer, list, tuple, dict, ops.Variable)


def _shape_of(x):
    if is_symbolic(x):
        return x.shape
    if ops.is_tensor(x):
        return tuple(ops.shape(x))
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return None


def _is_shape(value) -> bool:
    """A single shape: a tuple/list of ints and ``None`` (not a structure of shapes)."""
    return isinstance(value, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in value)


def _map_shapes(fn, structure):
    """Apply ``fn`` to each shape in a (possibly nested) structure of shapes."""
    if _is_shape(structure):
        return fn(tuple(structure))
    if isinstance(structure, dict):
        return {k: _map_shapes(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_shapes(fn, v) for v in structure)
    return structure


def _map_shapes_of(structure):
    return tree.map_structure(lambda x: x.shape if is_symbolic(x) else _shape_of(x), structure)


def _numpy_dtype(dtype: str):
    if dtype == "bfloat16":
        import ml_dtypes
        return ml_dtypes.bfloat16
    return np.dtype(dtype)
