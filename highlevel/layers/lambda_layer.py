"""``Lambda``: a layer that calls a user function.

Saved configs name the function (``hl.saving.register_serializable``); code is never
pickled, marshalled or evaluated (see ``../../shared/DESIGN.md``, "Files hold data, never
code"). An unregistered function — a lambda expression, a closure — still works in a
model; only ``get_config`` (and so saving) refuses it, saying how to register it.
"""

from __future__ import annotations

import inspect
import json

from highlevel.layers.layer import Layer, _is_shape, _map_shapes
from highlevel.layers.symbolic import SymbolicTensor, is_symbolic
from highlevel.saving import registry
from highlevel.utils import tree


def _parameters(function):
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


@registry.register_serializable(package="highlevel")
class Lambda(Layer):
    """``function(inputs, **arguments)`` as a layer.

    function: any callable taking the inputs (a tensor or a structure of tensors); it also
    receives ``mask=`` and ``training=`` when its signature names them. It should create
    no weights (write a ``Layer`` subclass for that).
    output_shape: the output shape without the batch dim (a tuple, or a structure of
    tuples), or a function ``input_shape -> output_shape`` (with the batch dim); ``None``
    infers it by running ``function`` on zeros.
    mask: ``None``, a fixed mask, or a function ``(inputs, mask) -> mask``.
    arguments: extra keyword arguments for ``function`` (JSON values, to be saved).
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda {self.name!r}: function must be callable, got {function!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise ValueError(f"Lambda {self.name!r}: arguments must be a dict of keyword arguments, got "
                             f"{arguments!r}")
        if output_shape is not None and not callable(output_shape):
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            if not _is_shape(output_shape) and not tree.is_nested(output_shape):
                raise ValueError(f"Lambda {self.name!r}: output_shape must be a tuple of ints (without the batch "
                                 f"dim), a structure of them or a function, got {output_shape!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._output_shape = output_shape
        params = _parameters(function)
        self._fn_expects_mask = "mask" in params
        self._fn_expects_training = "training" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask:
            kwargs["mask"] = mask
        if self._fn_expects_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    # ------------------------------------------------------- shape inference
    def compute_output_spec(self, *args, **kwargs):
        if self._output_shape is None:
            return self._stand_in_output_spec(args, kwargs)
        first = args[0]
        input_shape = first.shape if is_symbolic(first) else tree.map_structure(
            lambda x: x.shape if is_symbolic(x) else None, first)
        output_shape = self.compute_output_shape(input_shape)
        dtype = self.compute_dtype
        if _is_shape(output_shape):
            return SymbolicTensor(tuple(output_shape), dtype)
        return _map_shapes(lambda s: SymbolicTensor(s, dtype), output_shape)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = input_shape[0] if _is_shape(input_shape) else _first_shape(input_shape)[0]
        return _map_shapes(lambda s: (batch,) + tuple(s), self._output_shape)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    # ---------------------------------------------------------------- config
    def _function_config(self, fn, what):
        try:
            return registry.serialize(fn)
        except ValueError:
            pass
        name = getattr(fn, "__name__", type(fn).__name__)
        if name == "<lambda>":
            kind = "a Python lambda expression"
            fix = f"define it with `def` (e.g. `def my_{what}(x): ...`), "
        else:
            kind = f"the unregistered function {name!r}"
            fix = ""
        raise ValueError(
            f"Lambda {self.name!r}: cannot save {what}={fn!r}: it is {kind}. highlevel stores functions by "
            f"registered name only and never serializes code, so {fix}decorate it with "
            f"@hl.saving.register_serializable() (or register it under a name with "
            f"hl.saving.register_serializable(package=..., name=...)(fn)) and build the Lambda with it; "
            f"the code that loads the model must register it the same way.")

    def get_config(self):
        config = super().get_config()
        config["function"] = self._function_config(self.function, "function")
        if self._output_shape is not None:
            config["output_shape"] = (self._function_config(self._output_shape, "output_shape")
                                      if callable(self._output_shape)
                                      else _map_shapes(list, self._output_shape))
        if self.mask is not None:
            if callable(self.mask):
                config["mask"] = self._function_config(self.mask, "mask")
            else:
                raise ValueError(f"Lambda {self.name!r}: cannot save a fixed mask tensor; pass a registered mask "
                                 f"function (inputs, mask) -> mask instead")
        try:
            json.dumps(self.arguments)
        except (TypeError, ValueError):
            raise ValueError(f"Lambda {self.name!r}: arguments={self.arguments!r} must hold JSON values (numbers, "
                             f"strings, lists, dicts) to be saved") from None
        config["arguments"] = dict(self.arguments)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["function"] = _load_function(config["function"], custom_objects, "function")
        output_shape = config.get("output_shape")
        if isinstance(output_shape, (dict, str)):
            config["output_shape"] = _load_function(output_shape, custom_objects, "output_shape")
        elif output_shape is not None:
            config["output_shape"] = _map_shapes(tuple, output_shape)
        if config.get("mask") is not None:
            config["mask"] = _load_function(config["mask"], custom_objects, "mask")
        return cls(**config)


def _load_function(value, custom_objects, what):
    """A function from its saved name (``serialize``'s dict or a plain name); registered ones only."""
    if isinstance(value, str):
        fn = registry.get_registered_object(value, custom_objects)
        if fn is None:
            raise ValueError(f"Lambda: unknown {what} {value!r}: it is not registered (use "
                             f"@hl.saving.register_serializable() or pass custom_objects)")
        return fn
    return registry.deserialize(value, custom_objects=custom_objects, expected=f"Lambda {what}")


def _first_shape(structure):
    if _is_shape(structure):
        return tuple(structure)
    values = structure.values() if isinstance(structure, dict) else structure
    for value in values:
        return _first_shape(value)
    raise ValueError(f"Lambda: cannot find an input shape in {structure!r}")
