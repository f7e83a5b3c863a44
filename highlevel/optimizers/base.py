"""The ``Optimizer`` base class: state, clipping, weight decay, the traceable ``apply``.

One ``apply(grads, variables)`` is one training step:

1. drop ``None`` gradients (with a warning), clip (``clipnorm`` per gradient,
   ``global_clipnorm`` over all, or ``clipvalue`` elementwise);
2. read the learning rate once (the Variable, or the schedule at ``iterations``) and
   let the optimizer compute its per-step scalars once (bias corrections, ...);
3. per variable: ``variable -= update + variable * lr * weight_decay`` (decoupled
   decay, as Keras, fused into the update), then the variable's ``constraint`` if it
   has one;
4. ``iterations += 1``.

Everything in ``apply`` is ``hl.ops`` calls without Python branching on tensor
values, and it creates no variables once built, so the trainer can compile the
whole train step with ``hl.ops.compile_function``.

Built-in optimizers either implement ``_step_constants`` and ``_update`` (per
variable), or override ``_apply_fused`` with one fused op for all variables of the
step (``hl.ops.adam_update``, ``hl.ops.sgd_update``: torch runs them as multi-tensor
in-place kernels, other backends as the protocol's composite). A user
optimizer may instead implement Keras's ``update_step(gradient, variable,
learning_rate)`` (assigning the variable itself); ``apply`` then calls it per
variable after applying weight decay.

``learning_rate`` DECISION: reading ``optimizer.learning_rate`` gives a Python float
(the current rate; for a schedule, its value at ``iterations``), so callbacks and logs
can use it directly and ``float(...)`` works. Keras returns a Variable instead.
Inside compiled code use ``current_learning_rate()``, which returns a tensor.
Setting ``optimizer.learning_rate = 0.01`` assigns the float32 Variable the compiled
step reads, so it takes effect without retracing.
"""

from __future__ import annotations

import collections
import numbers
import re
import types
import warnings

from highlevel import ops
from highlevel.optimizers.schedules import LearningRateSchedule
from highlevel.optimizers.schedules import serialize as serialize_schedule
from highlevel.saving import registry

_name_counts = collections.Counter()

# Keras arguments this framework does not implement: accepted only at their defaults,
# so configs written by Keras (or by code that spells the defaults out) still load.
_KERAS_ONLY_DEFAULTS = {
    "use_ema": False,
    "ema_momentum": None,            # any value: meaningless without use_ema
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def _unique_name(base: str) -> str:
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_optional_number(value, argument, owner):
    if value is None:
        return None
    if not _is_number(value) or value < 0:
        raise ValueError(f"{owner}: `{argument}` must be None or a number >= 0, got {argument}={value!r}")
    return float(value)


class Optimizer:
    """Base class of all optimizers.

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` (evaluated at
            ``iterations`` inside every ``apply``) or a callable of no arguments
            returning the rate.
        weight_decay: if set, each step first shrinks every variable by
            ``variable * learning_rate * weight_decay`` (decoupled decay).
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm.
            At most one of the three clipping arguments may be set.
        name: prefix of the optimizer's variable paths (default: the class name in
            lower case, made unique: ``adam``, ``adam_1``, ...).
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        owner = type(self).__name__
        self._check_keras_only_arguments(kwargs)
        clipping = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clipping.values()) > 1:
            raise ValueError(f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set; got "
                             + ", ".join(f"{k}={v!r}" for k, v in clipping.items()))
        self.weight_decay = _check_optional_number(weight_decay, "weight_decay", owner)
        self.clipnorm = _check_optional_number(clipnorm, "clipnorm", owner)
        self.clipvalue = _check_optional_number(clipvalue, "clipvalue", owner)
        self.global_clipnorm = _check_optional_number(global_clipnorm, "global_clipnorm", owner)
        self.name = name if name is not None else _unique_name(owner.lower())
        self.built = False
        self._variables = []            # every optimizer Variable, in creation order
        self._trainable_variables = []  # the model variables of build()
        self._index = {}                # id(model variable) -> its position in build()'s list
        self._decays = []               # per model variable: does weight decay apply?
        self._all_indices = []          # range(len(variables)) of build(), and _gather's cache
        self._gathered = None
        self._exclude_ids = set()
        self._exclude_pattern = None
        self._iterations = self._new_state_variable(ops.zeros((), "int64"), "iteration")
        self._learning_rate = self._build_learning_rate(learning_rate)

    @staticmethod
    def _check_keras_only_arguments(kwargs):
        kwargs = dict(kwargs)
        kwargs.pop("decay", None)  # Keras 3 ignores it too
        for key, default in _KERAS_ONLY_DEFAULTS.items():
            if key not in kwargs:
                continue
            value = kwargs.pop(key)
            if key != "ema_momentum" and value is not None and value != default:
                raise ValueError(f"`{key}` is not supported by highlevel optimizers (got {key}={value!r})")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")

    # -- state --------------------------------------------------------------------
    def _new_state_variable(self, value, name):
        # dtype spelled out: Variable(float64 tensor) alone would make a float32 Variable.
        variable = ops.Variable(value, trainable=False, name=name, dtype=ops.dtype(value))
        variable.path = f"{self.name}/{name}"
        self._variables.append(variable)
        return variable

    def _build_learning_rate(self, learning_rate):
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            return learning_rate
        return self._new_state_variable(ops.convert_to_tensor(self._checked_rate(learning_rate)),
                                        "learning_rate")

    def _checked_rate(self, value) -> float:
        if not _is_number(value) and not (hasattr(value, "shape") and hasattr(value, "dtype")):
            raise ValueError(f"{type(self).__name__}: `learning_rate` must be a float, a LearningRateSchedule or "
                             f"a callable; got learning_rate={value!r}")
        value = float(value)
        if value < 0:
            raise ValueError(f"{type(self).__name__}: `learning_rate` must be >= 0, got {value}")
        return value

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        """A new non-trainable optimizer Variable (path ``"<optimizer name>/<name>"``).

        ``initializer``: ``"zeros"``, ``"ones"``, a number (constant fill), an
        initializer name known to ``hl.initializers`` or a callable ``(shape, dtype)``.
        """
        dtype = ops.standardize_dtype(dtype)
        shape = tuple(shape)
        if isinstance(initializer, str) and initializer in ("zeros", "ones"):
            value = (ops.zeros if initializer == "zeros" else ops.ones)(shape, dtype)
        elif _is_number(initializer):
            value = ops.full(shape, initializer, dtype)
        else:
            if isinstance(initializer, str):
                from highlevel import initializers
                initializer = initializers.get(initializer)
            value = ops.cast(ops.convert_to_tensor(initializer(shape, dtype)), dtype)
        return self._new_state_variable(value, name or f"variable_{len(self._variables)}")

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot with the shape and dtype of ``reference_variable``, named
        ``"<its path with / as _>_<name>"`` (``adam/dense_kernel_momentum``)."""
        reference = str(getattr(reference_variable, "path", None) or reference_variable.name)
        return self.add_variable(reference_variable.shape, initializer=initializer, dtype=reference_variable.dtype,
                                 name=f"{reference.replace('/', '_').replace(':', '_')}_{name or 'var'}")

    def add_optimizer_variables(self, variables, name, initializer="zeros"):
        """One slot per variable for ``name`` (a str) -> list, or for each of several
        names (a list) -> tuple of lists, created interleaved per variable as Keras."""
        names = [name] if isinstance(name, str) else list(name)
        slots = tuple([] for _ in names)
        for variable in variables:
            for i, slot_name in enumerate(names):
                slots[i].append(self.add_variable_from_reference(variable, slot_name, initializer))
        return slots[0] if isinstance(name, str) else slots

    def build(self, variables):
        """Record the model variables this optimizer updates and create its slots.

        Subclasses call ``super().build(variables)`` first, then add their slots.
        Building twice is a no-op.
        """
        if self.built:
            return
        variables = list(variables)
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        self._decays = [self._use_weight_decay(v) for v in variables]
        self._all_indices = list(range(len(variables)))
        self._gathered = None  # cached by _gather
        self._one = ops.convert_to_tensor(1.0)
        self._int_one = ops.ones((), "int64")
        self.built = True

    @property
    def variables(self) -> list:
        """All optimizer Variables: ``iterations``, ``learning_rate`` (unless a schedule), slots."""
        return list(self._variables)

    @property
    def iterations(self):
        """The int64 Variable counting ``apply`` calls."""
        return self._iterations

    # -- learning rate ---------------------------------------------------------------
    def current_learning_rate(self):
        """The learning rate for the next step as a tensor (traceable; use in compiled code)."""
        rate = self._learning_rate
        if isinstance(rate, LearningRateSchedule):
            return rate(self._iterations)
        if isinstance(rate, ops.Variable):
            return rate.value
        return ops.convert_to_tensor(rate())

    @property
    def learning_rate(self) -> float:
        """The current learning rate as a Python float (see the module docstring)."""
        return float(ops.convert_to_numpy(self.current_learning_rate()))

    @learning_rate.setter
    def learning_rate(self, value):
        current = self._learning_rate
        if isinstance(value, LearningRateSchedule) or callable(value):
            # A compiled step that already read the old Variable must be retraced to
            # see a schedule; that is the caller's business (Keras behaves the same).
            if isinstance(current, ops.Variable):
                self._variables.remove(current)
            self._learning_rate = value
        elif isinstance(current, ops.Variable):
            current.assign(self._checked_rate(value))
        else:
            raise TypeError(f"{type(self).__name__} was created with a learning-rate schedule or callable, so its "
                            f"learning rate cannot be set to a number; create it with a float learning_rate "
                            f"to set it between epochs")

    # -- weight decay ------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt variables from weight decay: those in ``var_list``, and those whose
        name contains any string of ``var_names`` (``["bias"]``). Call before ``build``."""
        if self.built:
            raise ValueError("exclude_from_weight_decay() must be called before the optimizer is built")
        self._exclude_ids = {id(v) for v in (var_list or ())}
        self._exclude_pattern = re.compile("|".join(map(re.escape, var_names))) if var_names else None

    def _use_weight_decay(self, variable) -> bool:
        if not self.weight_decay or id(variable) in self._exclude_ids:
            return False
        if self._exclude_pattern is not None and self._exclude_pattern.search(str(variable.name)):
            return False
        return True

    # -- clipping ------------------------------------------------------------------------
    def _clip_gradients(self, grads):
        if self.clipnorm:
            limit = self.clipnorm
            # g * limit / max(||g||, limit): unchanged when ||g|| <= limit (also at 0).
            return [ops.divide(ops.multiply(g, limit), ops.maximum(ops.sqrt(ops.sum(ops.square(g))), limit))
                    for g in grads]
        if self.global_clipnorm:
            limit = self.global_clipnorm
            total = ops.sqrt(ops.sum(ops.stack([ops.sum(ops.square(g)) for g in grads])))
            # limit * min(1/norm, 1/limit); adding (norm - norm) turns the scale into NaN
            # when the norm is inf or NaN, as Keras does, instead of silently zeroing.
            scale = ops.multiply(ops.minimum(ops.reciprocal(total), 1.0 / limit), limit)
            scale = ops.add(scale, ops.subtract(total, total))
            return [ops.multiply(g, scale) for g in grads]
        if self.clipvalue:
            limit = self.clipvalue
            return [ops.clip(g, -limit, limit) for g in grads]
        return grads

    # -- the step --------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """``apply`` for a list of ``(gradient, variable)`` pairs; returns ``iterations``."""
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Update ``trainable_variables`` (default: those of ``build``) with ``grads``.

        ``grads`` align one-to-one with the variables; ``None`` entries are skipped.
        Builds the optimizer on first use if needed (the trainer builds it eagerly
        before compiling, since a compiled function must not create variables).
        """
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("apply(grads) without variables needs a built optimizer: call "
                                 "optimizer.build(trainable_variables) first, or pass the variables")
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
        if len(grads) != len(variables):
            raise ValueError(f"{type(self).__name__}.apply: got {len(grads)} gradients for {len(variables)} "
                             f"variables; they must align one-to-one")
        try:
            indices = [self._index[id(v)] for v in variables]
        except KeyError:
            unknown = [getattr(v, "path", v) for v in variables if id(v) not in self._index]
            raise ValueError(f"{type(self).__name__}.apply: unknown variable(s) {unknown}; this optimizer was "
                             f"built for other variables, so create a new optimizer for them") from None
        if any(g is None for g in grads):
            kept = [k for k, g in enumerate(grads) if g is not None]
            if not kept:
                raise ValueError("No gradients provided for any variable.")
            missing = [getattr(variables[k], "path", variables[k].name) for k, g in enumerate(grads) if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss.",
                          stacklevel=2)
            grads = [grads[k] for k in kept]
            variables = [variables[k] for k in kept]
            indices = [indices[k] for k in kept]

        grads = self._clip_gradients(grads)
        iterations = self._iterations
        next_iteration = ops.add(iterations.value, self._int_one)
        learning_rate = self.current_learning_rate()
        if type(self).update_step is not Optimizer.update_step:
            self._apply_keras_style(grads, variables, indices, learning_rate)
        else:
            self._apply_fused(grads, variables, indices, learning_rate, next_iteration)
        iterations.assign(next_iteration)

    def _apply_fused(self, grads, variables, indices, learning_rate, next_iteration):
        step = self._step_constants(learning_rate, next_iteration)
        decay = ops.multiply(learning_rate, self.weight_decay) if self.weight_decay else None
        decays = self._decays
        # A gradient of another float dtype is not cast first (a dtype query per
        # variable per step costs more than the update of a small layer): arithmetic
        # promotes it with the slot, and assign casts results to the variable's dtype.
        for gradient, variable, index in zip(grads, variables, indices):
            self._update(gradient, variable, index, step, decay if decays[index] else None)
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable))

    # -- helpers for optimizers built on a fused op (``hl.ops.adam_update``, ...) --------------
    # Such an optimizer overrides ``_apply_fused`` with one op call for all variables (the
    # backend runs it its fastest way: multi-tensor in-place kernels on torch), then calls
    # ``_apply_constraints``.
    def _gather(self, indices, *slot_lists):
        """``(slot lists restricted to indices..., decay_mask)`` for one fused step.

        ``slot_lists`` entries may be None (an absent slot, passed on as None). The
        common case (every variable of ``build``, in order) is computed once and cached,
        so an optimizer must pass the same slot lists on every call.
        ``decay_mask`` is None when weight decay applies to all of them.
        """
        full = len(indices) == len(self._trainable_variables) and indices == self._all_indices
        if full and self._gathered is not None:
            return self._gathered
        picked = tuple(None if slots is None else [slots[i] for i in indices] for slots in slot_lists)
        mask = [self._decays[i] for i in indices] if self.weight_decay else None
        gathered = picked + (None if mask is None or all(mask) else mask,)
        if full:
            self._gathered = gathered
        return gathered

    @staticmethod
    def _apply_constraints(variables):
        for variable in variables:
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable))

    # Performance notes for the per-variable hot path (``_update`` and these helpers):
    # * updates go through assign_add/assign_sub, which engines with mutable buffers
    #   (torch) run in place: one pass over memory instead of a new tensor and a copy;
    # * Variables are read with ``.value`` (a plain tensor takes the ops' fast path),
    #   re-read after each assignment (engines differ in whether a read aliases);
    # * hyperparameters are 0-d float32 tensors made once in build (``_constants``):
    #   a Python float costs torch a scalar-to-tensor wrap on every call.
    @staticmethod
    def _descend(variable, delta, decay):
        """``variable <- variable - variable * decay - delta`` (``decay``: lr * weight_decay or None)."""
        if decay is not None:
            delta = ops.add(delta, ops.multiply(variable.value, decay))
        variable.assign_sub(delta)

    @staticmethod
    def _ascend(variable, increment, decay):
        """``variable <- variable - variable * decay + increment``."""
        if decay is not None:
            increment = ops.subtract(increment, ops.multiply(variable.value, decay))
        variable.assign_add(increment)

    @staticmethod
    def _constants(**values):
        """Python numbers -> float32 0-d tensors, as a namespace. Call it in ``build``:
        it runs eagerly there, so the tensors can be reused by every (traced) step."""
        return types.SimpleNamespace(**{k: ops.convert_to_tensor(float(v)) for k, v in values.items()})

    def _apply_keras_style(self, grads, variables, indices, learning_rate):
        if self.weight_decay:
            decay = ops.multiply(learning_rate, self.weight_decay)
            for variable, index in zip(variables, indices):
                if self._decays[index]:
                    variable.assign(ops.subtract(variable, ops.multiply(variable, decay)))
        for gradient, variable in zip(grads, variables):
            self.update_step(gradient, variable, learning_rate)
        for variable in variables:
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable))

    def _get_variable_index(self, variable) -> int:
        """Position of a model variable in ``build``'s list (to find its slots)."""
        return self._index[id(variable)]

    # -- what subclasses implement -------------------------------------------------------
    def _step_constants(self, learning_rate, next_iteration):
        """Scalars computed once per step and passed to every ``_update`` call.

        ``next_iteration`` is ``iterations + 1`` (an int64 tensor): the 1-based step
        number that bias corrections use; ``self._one`` is a float32 1.0 tensor for
        them. Default: the learning rate alone.
        """
        return learning_rate

    def _update(self, gradient, variable, index, step, decay):
        """Update one model variable and its slots (built-in optimizers implement this).

        ``gradient`` is a tensor; ``index`` is the variable's position in
        ``build``'s list (to find its slots); ``step`` is what ``_step_constants``
        returned; ``decay`` is ``learning_rate * weight_decay`` when weight decay
        applies to this variable, else None: pass it to ``_descend``/``_ascend``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update_step(gradient, variable, "
                                  f"learning_rate) (Keras style) or _update(...)")

    def update_step(self, gradient, variable, learning_rate):
        """Keras-style hook for user optimizers: update ``variable`` (and slots) in place."""
        raise NotImplementedError

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        rate = self._learning_rate
        if isinstance(rate, LearningRateSchedule):
            rate = serialize_schedule(rate)
        elif isinstance(rate, ops.Variable):
            rate = float(rate.numpy())
        else:
            rate = registry.serialize(rate)
        return {"name": self.name, "learning_rate": rate, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        rate = config.get("learning_rate")
        if isinstance(rate, dict):
            config["learning_rate"] = registry.deserialize(rate, custom_objects, expected="learning rate schedule")
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


__all__ = ["Optimizer"]
