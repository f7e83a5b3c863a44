"""``Model``: a ``Layer`` that can be trained (the ``Trainer`` mixin) and summarized.

Three ways to make one, as in Keras:

* functional: ``hl.Model(inputs, outputs)`` (returns a ``Functional``; a subclass may
  also pass ``inputs``/``outputs`` to ``super().__init__``);
* ``hl.Sequential([...])``;
* subclassing: ``class M(hl.Model)`` with layers as attributes and a ``call`` method.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.layer import Layer, _bump, _call_signature, _call_stack, _default_build, _is_shape, _map_shapes
from highlevel.models.mask_plan import flatten_masks, graph_plan, run_masked
from highlevel.saving import registry
from highlevel.trainers import output_masks
from highlevel.trainers.trainer import Trainer


def _is_functional_call(args, kwargs) -> bool:
    return len(args) >= 2 or "outputs" in kwargs or "inputs" in kwargs


@registry.register_serializable(package="highlevel")
class Model(Trainer, Layer):
    """A trainable layer: ``compile``/``fit``/``evaluate``/``predict`` come from ``Trainer``.

    ``Model(inputs, outputs, name=None)`` builds a functional model; subclasses
    define ``call(inputs, training=None)`` instead.
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and _is_functional_call(args, kwargs):
            from highlevel.models.functional import Functional
            return Functional.__new__(Functional, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if len(args) > 2:
            raise TypeError(f"Model() takes inputs and outputs positionally, got {len(args)} positional arguments")
        inputs = kwargs.pop("inputs", args[0] if args else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        Layer.__init__(self, **kwargs)
        # Subclassed models drop masks unless they say otherwise (Keras); graph models forward them.
        self.supports_masking = False
        if "__init__" in vars(Trainer):
            Trainer.__init__(self)
        self._graph = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError(f"Model {self.name!r}: a functional model needs both inputs and outputs")
            self._init_graph(inputs, outputs)

    @property
    def _graph(self):
        """The functional graph (``None`` for subclassed and unbuilt Sequential models)."""
        return self.__dict__.get("_graph_value")

    @_graph.setter
    def _graph(self, graph):
        self.__dict__["_graph_value"] = graph
        _bump()  # the graph decides the sublayers

    def _init_graph(self, inputs, outputs):
        from highlevel.models.functional import Graph
        self._graph = Graph(inputs, outputs, owner=self.name)
        self.supports_masking = True
        # The graph converts each input to its own Input's dtype.
        self._convert_input_args = False
        self.built = True

    # ------------------------------------------------------------ structure
    def _direct_sublayers(self) -> list:
        layers = Layer._direct_sublayers(self)
        if self._graph is None:
            return layers
        graph_layers = list(self._graph.layers)
        known = {id(layer) for layer in graph_layers}
        return graph_layers + [layer for layer in layers if id(layer) not in known]

    @property
    def layers(self) -> list:
        """The model's layers: graph order for functional models (input layers included), else the
        sublayers in attribute order."""
        if self._graph is not None:
            return list(self._graph.layers)
        return list(Layer._direct_sublayers(self))

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by position in ``layers``."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: give exactly one of name or index")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range: model {self.name!r} has "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"model {self.name!r} has no layer named {name!r}; its layers are "
                         f"{[layer.name for layer in layers]}")

    @property
    def inputs(self):
        """The symbolic inputs (a flat list) of a functional/built Sequential model, else ``None``."""
        return None if self._graph is None else list(self._graph.inputs)

    @property
    def outputs(self):
        return None if self._graph is None else list(self._graph.outputs)

    @property
    def input(self):
        """The inputs in the structure given at construction."""
        if self._graph is None:
            raise AttributeError(f"model {self.name!r} has no symbolic input (it is not a functional model)")
        structure = self._graph.input_structure
        return structure[0] if isinstance(structure, (list, tuple)) and len(structure) == 1 else structure

    @property
    def output(self):
        if self._graph is None:
            raise AttributeError(f"model {self.name!r} has no symbolic output (it is not a functional model)")
        return self._graph.pack_outputs(self._graph.outputs)

    @property
    def input_shape(self):
        """Keras's ``input_shape``: the symbolic inputs' shapes (batch axis ``None``); one input -> one tuple."""
        return self._symbolic_shapes("input", self.inputs)

    @property
    def output_shape(self):
        """Keras's ``output_shape``: the symbolic outputs' shapes; one output -> one tuple."""
        return self._symbolic_shapes("output", self.outputs)

    def _symbolic_shapes(self, what, tensors):
        if tensors is None:
            raise AttributeError(f"model {self.name!r} has no defined {what} shape (it is not a functional model "
                                 f"or a built Sequential model)")
        shapes = [tuple(tensor.shape) for tensor in tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self):
        """Input dict keys, else the input layers' names (``None`` for subclassed models)."""
        from highlevel.models import functional
        return None if self._graph is None else functional.input_names(self._graph)

    @property
    def output_names(self):
        """Names in the order of the flattened outputs: dict keys (sorted, as ``tree.flatten``) or the
        producing layers' names. For subclassed models: the sorted keys once a dict was returned, else ``None``."""
        from highlevel.models import functional
        if self._graph is not None:
            return functional.output_names(self._graph)
        if isinstance(self._output_shapes, dict):
            return sorted(self._output_shapes)
        return None

    # ------------------------------------------------------------------ call
    def call(self, inputs, training=None, mask=None):
        graph = self._graph
        if graph is None:
            raise NotImplementedError(f"Model {type(self).__name__} ({self.name!r}) must implement "
                                      f"call(inputs, training=None), or be built with hl.Model(inputs, outputs)")
        flat = graph.flatten_inputs(inputs, self.name)
        plan = graph.__dict__.get("_mask_plan") or graph_plan(graph)
        if mask is None and not plan.active:
            return graph.pack_outputs(graph.run(flat, _run_node))  # no masks anywhere: the plain run
        outputs, masks = run_masked(graph, flat, flatten_masks(graph, mask), _run_node)
        output_masks.record(self, outputs, masks)   # for the compiled loss/metrics, in a step only
        if len(_call_stack()) > 1:
            # Inside another model: its executor asks compute_mask next, with the same inputs.
            self.__dict__["_output_masks"] = (inputs, mask, graph.pack_outputs(masks))
        return graph.pack_outputs(outputs)

    def compute_mask(self, inputs, mask=None):
        """The output mask(s) of a functional or Sequential model for ``inputs`` with input ``mask``
        (``None`` where no layer produces or forwards one); a subclassed model forwards ``mask``."""
        if self._graph is None:
            return mask
        if mask is None and not graph_plan(self._graph).active:
            return None
        stash = self.__dict__.pop("_output_masks", None)
        if stash is None or stash[0] is not inputs or stash[1] is not mask:
            # Not the inputs of the last nested call: run the graph for its masks.
            flat = self._graph.flatten_inputs(inputs, self.name)
            _, masks = run_masked(self._graph, flat, flatten_masks(self._graph, mask), _run_node)
            return self._graph.pack_outputs(masks)
        return stash[2]

    def compute_output_spec(self, *args, **kwargs):
        if self._graph is None:
            return Layer.compute_output_spec(self, *args, **kwargs)
        from highlevel.models import functional
        flat = functional.flatten_inputs(self._graph, args[0], self.name)
        return self._graph.pack_outputs(self._graph.run(flat, _spec_node))

    @_default_build
    def build(self, input_shape=None):
        """Create the weights: functional models already have them; a subclassed model runs one
        forward pass on zeros of ``input_shape`` (``None`` dims as 1)."""
        if self._graph is not None or self.built:
            self.built = True
            return
        if input_shape is None:
            raise ValueError(f"model {self.name!r}: build() needs an input_shape (batch dim first, None allowed)")

        def zeros(shape):
            return ops.zeros(tuple(1 if d is None else d for d in shape), dtype=self.compute_dtype)

        dummy = zeros(input_shape) if _is_shape(input_shape) else _map_shapes(zeros, input_shape)
        self._build_input_shape = input_shape  # saved with the model (hl.saving rebuilds from it)
        self.built = True
        try:
            self(dummy, training=False)
        except Exception:
            self.built = False
            raise
        self._clear_losses()

    # ---------------------------------------------------------------- saving
    def save(self, filepath, overwrite=True):
        """Save architecture, weights, compile config and optimizer state to a ``.hl`` file (atomic)."""
        from highlevel.saving import native
        native.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights to a ``.weights.safetensors`` file (atomic)."""
        from highlevel.saving import native
        native.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights from a ``.weights.safetensors`` or ``.hl`` file."""
        from highlevel.saving import native
        native.load_weights(self, filepath)

    def to_json(self, **kwargs):
        """The architecture as a JSON string (``hl.models.model_from_json`` rebuilds it)."""
        from highlevel.saving import native
        return native.to_json(self, **kwargs)

    def export(self, filepath, format="tf_saved_model", verbose=False):
        """Export for serving without highlevel: ``"tf_saved_model"`` (tensorflow backend),
        ``"torch_export"`` or ``"onnx"`` (torch backend); from another backend use
        ``python -m highlevel convert`` (see ``highlevel.export``)."""
        from highlevel.export import export_model
        export_model(self, filepath, format=format, verbose=verbose)

    # --------------------------------------------------------------- summary
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print the layers (name and class), output shapes, parameter counts, totals and the backend.

        print_fn: called with each line (default ``print``).
        """
        from highlevel.models.summary import print_summary
        print_summary(self, line_length=line_length, print_fn=print_fn, show_trainable=show_trainable)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _run_node(node, args, kwargs):
    return node.layer(*args, **kwargs)


def _spec_node(node, args, kwargs):
    if "training" in kwargs and not _call_signature(type(node.layer))[0]:
        kwargs = {k: v for k, v in kwargs.items() if k != "training"}
    return node.layer.compute_output_spec(*args, **kwargs)


__all__ = ["Model"]
