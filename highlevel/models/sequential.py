"""``Sequential``: a plain stack of single-input, single-output layers."""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.input_layer import InputLayer
from highlevel.layers.layer import _VERSION, Layer, _call_signature, _call_stack, _is_shape
from highlevel.layers.symbolic import SymbolicTensor, is_symbolic
from highlevel.models import functional
from highlevel.models.mask_plan import graph_plan, run_masked
from highlevel.models.model import Model, _run_node
from highlevel.saving import registry
from highlevel.trainers import output_masks


@registry.register_serializable(package="highlevel")
class Sequential(Model):
    """``Sequential([hl.Input((8,)), Dense(4), ...])`` or layers added with ``.add()``.

    The input shape comes from a leading ``hl.Input``/``InputLayer``, from
    ``input_shape=`` on the first layer, from ``build(input_shape)`` or from the first
    call; once known, every layer is built and shapes are checked immediately (a layer
    whose expected shape does not fit raises when it is added).
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._layers = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    # ---------------------------------------------------------------- layers
    @property
    def layers(self) -> list:
        """The layers, without the input layer."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def add(self, layer, rebuild=True):
        """Append a layer (or an ``hl.Input`` tensor, first); builds it at once when the input shape is known."""
        if isinstance(layer, SymbolicTensor) and layer._history is not None \
                and isinstance(layer._history[0], InputLayer):
            layer = layer._history[0]
        if not isinstance(layer, Layer):
            raise ValueError(f"Sequential {self.name!r}: only layers (or hl.Input) can be added, got {layer!r} of "
                             f"type {type(layer).__name__}")
        added = [layer]
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(f"Sequential {self.name!r}: an input layer must come first, but the model already "
                                 f"has layers {[l.name for l in self._layers]}")
        elif not self._layers and layer._batch_input_shape is not None:
            input_layer = InputLayer(batch_shape=layer._batch_input_shape, dtype=layer.dtype)
            self._layers.append(input_layer)
            added.insert(0, input_layer)
        self._layers.append(layer)
        if not rebuild:
            return
        try:
            if self.built and self._graph is not None and not isinstance(layer, InputLayer):
                output = self._call_symbolic(layer, self._graph.outputs[0])
                self._graph = functional.Graph(self._graph.inputs[0], output, owner=self.name)
            else:
                self._maybe_rebuild()
        except Exception:
            del self._layers[-len(added):]
            raise

    def pop(self):
        """Remove and return the last layer."""
        if not self.layers:
            raise TypeError(f"Sequential {self.name!r}: there are no layers to pop")
        layer = self._layers.pop()
        self._graph, self.built = None, False
        self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        if self._layers and isinstance(self._layers[0], InputLayer) and len(self._layers) > 1:
            self.build(self._layers[0].batch_shape)

    # ----------------------------------------------------------------- build
    def _maybe_build(self, first_input):
        # Built from data: keep the batch dim open and the data's dtype.
        shape = first_input.shape if is_symbolic(first_input) else ops.shape(first_input)
        dtype = first_input.dtype if is_symbolic(first_input) else ops.dtype(first_input)
        self._build_input_shape = tuple(shape)
        self.build((None,) + tuple(shape[1:]), dtype=dtype)

    def build(self, input_shape=None, dtype=None):
        """Create every layer's weights for inputs of ``input_shape`` (batch dim first)."""
        if input_shape is None:
            if self._layers and isinstance(self._layers[0], InputLayer):
                input_shape = self._layers[0].batch_shape
            else:
                raise ValueError(f"Sequential {self.name!r}: build() needs an input_shape, or start the model "
                                 f"with hl.Input(shape)")
        if not _is_shape(input_shape):
            raise ValueError(f"Sequential {self.name!r}: a Sequential model has one input; got input_shape="
                             f"{input_shape!r}")
        inserted = False
        if not self._layers or not isinstance(self._layers[0], InputLayer):
            self._layers.insert(0, InputLayer(batch_shape=tuple(input_shape), dtype=dtype))
            inserted = True
        try:
            x = self._layers[0].output
            for layer in self._layers[1:]:
                x = self._call_symbolic(layer, x)
            self._graph = functional.Graph(self._layers[0].output, x, owner=self.name)
        except Exception:
            if inserted:
                self._layers.pop(0)
            raise
        self._convert_input_args = False
        self.supports_masking = True
        self.built = True

    def _call_symbolic(self, layer, x):
        y = layer(x)
        if not isinstance(y, SymbolicTensor):
            raise ValueError(f"Sequential {self.name!r}: every layer must return a single tensor, but layer "
                             f"{layer.name!r} returned {type(y).__name__}; use the functional API for "
                             f"multi-output layers")
        return y

    # ------------------------------------------------------------------ call
    def call(self, inputs, training=None, mask=None):
        # (``training`` reaches the layers through the call context.)
        plan = self.__dict__.get("_call_plan")
        if plan is None or plan[0] != _VERSION[0]:
            plan = self._make_call_plan()
        _, check, layers, masked = plan
        x = inputs if check is None else check(inputs, self.name)
        if masked or mask is not None:
            return self._call_masked(inputs, x, mask)
        for layer in layers:
            x = layer(x)
        return x

    def _call_masked(self, inputs, x, mask):
        """The layers run with masks carried between them (a mask source inside, or ``mask`` given)."""
        if self._graph is None:
            for layer in self.layers:
                x = layer(x)
            return x
        outputs, masks = run_masked(self._graph, [x], [mask], _run_node)
        output_masks.record(self, outputs, masks)   # for the compiled loss/metrics, in a step only
        if len(_call_stack()) > 1:
            # Inside another model: its executor asks compute_mask next, with the same inputs.
            self.__dict__["_output_masks"] = (inputs, mask, masks[0])
        return outputs[0]

    def _make_call_plan(self):
        """``(structure version, input check or None, layers to run)``, kept until the structure changes."""
        graph = self._graph
        check = graph.input_checks[0] if graph is not None else None
        plan = (_VERSION[0], check, [layer for layer in self._layers if not isinstance(layer, InputLayer)],
                graph is not None and graph_plan(graph).active)
        self.__dict__["_call_plan"] = plan
        return plan

    def compute_output_spec(self, inputs, training=None, mask=None):
        x = inputs
        if self._graph is not None:
            x = functional.standardize_input(x, self._graph.inputs[0], self.name, self._layers[0].name)
        for layer in self.layers:
            kwargs = {"training": training} if training is not None and _call_signature(type(layer))[0] else {}
            x = layer.compute_output_spec(x, **kwargs)
        return x

    # ---------------------------------------------------------------- config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                  "layers": [registry.serialize(layer) for layer in self._layers]}
        if self._build_input_shape is not None:
            config["build_input_shape"] = list(self._build_input_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), dtype=config.get("dtype"))
        for entry in config.get("layers", []):
            model.add(registry.deserialize(entry, custom_objects=custom_objects, expected="layer"), rebuild=False)
        model._maybe_rebuild()
        if not model.built and config.get("build_input_shape"):
            model.build((None,) + tuple(config["build_input_shape"])[1:])
        if config.get("trainable") is False:
            model.trainable = False
        return model


__all__ = ["Sequential"]
