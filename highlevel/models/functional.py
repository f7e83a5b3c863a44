"""Functional models: a graph of layer calls from ``hl.Input`` tensors to outputs.

``Graph(inputs, outputs)`` walks the recorded ``Node``s back from the outputs,
orders them by depth (Keras's algorithm, so ``model.layers`` and therefore
``model.weights`` come in Keras's order) and runs them: on real tensors for a
forward pass, or on symbolic tensors (``compute_output_spec``) when the model is
itself called inside another functional model.

``Functional`` is what ``hl.Model(inputs, outputs)`` returns; its config lists every
layer with the calls (``inbound_nodes``) that connect it, which is JSON-ready.
"""

from __future__ import annotations

import collections

from highlevel import ops
from highlevel.utils import tree
from highlevel.layers.input_layer import InputLayer
from highlevel.layers.layer import Layer, dtype_of
from highlevel.layers.symbolic import SymbolicTensor, is_symbolic
from highlevel.models.model import Model
from highlevel.saving import registry


class Graph:
    """The nodes between ``inputs`` and ``outputs`` (structures of symbolic tensors), in run order."""

    def __init__(self, inputs, outputs, owner: str = "model"):
        self.input_structure, self.output_structure = inputs, outputs
        self.inputs, self.outputs = tree.flatten(inputs), tree.flatten(outputs)
        for kind, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            if not tensors:
                raise ValueError(f"model {owner!r}: {kind} must not be empty")
            for t in tensors:
                if not isinstance(t, SymbolicTensor) or t._history is None:
                    raise ValueError(f"model {owner!r}: all {kind} must be symbolic tensors made by hl.Input or by "
                                     f"calling layers on them; got {t!r} of type {type(t).__name__}")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError(f"model {owner!r}: the same tensor appears twice in inputs")
        self.owner = owner
        self._map()
        self.input_checks = [InputCheck(self, i) for i in range(len(self.inputs))]
        structure = outputs
        # One output (bare, or alone in a list/tuple): ``pack_outputs`` returns it as is.
        self._single_output = not tree.is_nested(structure) or (
            isinstance(structure, (list, tuple)) and len(structure) == 1 and not tree.is_nested(structure[0]))

    # ------------------------------------------------------------------ mapping
    def _map(self):
        input_ids = {id(t) for t in self.inputs}
        layer_index: dict = {}           # id(layer) -> discovery order
        layers_by_id: dict = {}
        post_order: list = []            # every node after its parents
        finished, in_progress = set(), set()

        def parents(node):
            out = []
            for t in node.input_tensors:
                if id(t) in input_ids and not t.node.is_input:
                    continue  # an intermediate tensor used as a model input: its past is cut off
                out.append((t, t.node))
            return out

        # Iterative depth-first search from the outputs (deep models exceed Python's recursion limit).
        for output in self.outputs:
            stack = [(output, False)]
            while stack:
                tensor, expanded = stack.pop()
                node = tensor.node
                if expanded:
                    in_progress.discard(id(node))
                    if id(node) not in finished:
                        finished.add(id(node))
                        post_order.append(node)
                    continue
                layer_index.setdefault(id(node.layer), len(layer_index))
                layers_by_id[id(node.layer)] = node.layer
                if id(node) in finished:
                    continue
                if id(tensor) in input_ids and not node.is_input:
                    continue
                if id(node) in in_progress:
                    raise ValueError(f"model {self.owner!r}: the graph has a cycle at layer {node.layer.name!r}")
                if node.is_input and id(tensor) not in input_ids:
                    raise ValueError(
                        f"Graph disconnected in model {self.owner!r}: cannot obtain a value for tensor {tensor.name!r} "
                        f"(from layer {node.layer.name!r}): it is an input that is not among the model's inputs "
                        f"({', '.join(t.name for t in self.inputs)})")
                in_progress.add(id(node))
                stack.append((tensor, True))
                for t, _ in reversed(parents(node)):
                    if id(t.node) not in finished:
                        stack.append((t, False))

        # Depths as Keras: outputs' nodes at 0, parents deeper; a shared layer takes its deepest node's depth.
        node_depth: dict = {}
        layer_depth: dict = {}
        nodes_by_id = {id(n): n for n in post_order}
        for node in reversed(post_order):
            depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = depth
            node_depth[id(node)] = depth
            for _, parent in parents(node):
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
        for t in self.inputs:
            # An input that no output depends on still belongs to the model.
            if t.node.is_input and id(t.node) not in node_depth:
                node_depth[id(t.node)] = 0
                nodes_by_id[id(t.node)] = t.node
                layer_depth.setdefault(id(t.node.layer), 0)
                layer_index.setdefault(id(t.node.layer), -1)
                layers_by_id[id(t.node.layer)] = t.node.layer

        by_depth = collections.defaultdict(list)
        for node_id, depth in node_depth.items():
            by_depth[depth].append(nodes_by_id[node_id])
        self.depths = sorted(by_depth, reverse=True)
        self.nodes_by_depth = {d: by_depth[d] for d in self.depths}
        self.nodes = [n for d in self.depths for n in by_depth[d]]
        self.node_ids = {id(n) for n in self.nodes}
        layers_at = collections.defaultdict(list)
        for layer_id, depth in layer_depth.items():
            layers_at[depth].append(layers_by_id[layer_id])
        self.layers = [layer for d in sorted(layers_at, reverse=True)
                       for layer in sorted(layers_at[d], key=lambda l: layer_index[id(l)])]
        names = collections.Counter(layer.name for layer in self.layers)
        duplicated = [name for name, count in names.items() if count > 1]
        if duplicated:
            raise ValueError(f"model {self.owner!r}: the layer name(s) {duplicated} are used by more than one layer; "
                             f"layer names in a model must be unique")
        self._run_order = [n for n in self.nodes if not n.is_input]

        # Every node's inputs must be computable from the model inputs.
        available = {id(t) for t in self.inputs}
        for node in self._run_order:
            for t in node.input_tensors:
                if id(t) not in available:
                    raise ValueError(f"Graph disconnected in model {self.owner!r}: cannot obtain a value for tensor "
                                     f"{t.name!r} at layer {node.layer.name!r}")
            available.update(id(t) for t in node.outputs)

    # ------------------------------------------------------------------ running
    def run(self, flat_inputs, call):
        """Compute the flat outputs from flat input values; ``call(node, args, kwargs)`` runs one node."""
        values = {id(t): v for t, v in zip(self.inputs, flat_inputs)}
        for node in self._run_order:
            args, kwargs = node.fill_in(values)
            result = call(node, args, kwargs)
            node_outputs = node.outputs
            if len(node_outputs) == 1 and not isinstance(result, (list, tuple, dict)):
                values[id(node_outputs[0])] = result  # the common case, without flattening
                continue
            outputs = tree.flatten(result)
            if len(outputs) != len(node_outputs):
                raise ValueError(f"layer {node.layer.name!r} returned {len(outputs)} outputs when called in model "
                                 f"{self.owner!r}, but {len(node_outputs)} when the graph was built")
            for t, value in zip(node_outputs, outputs):
                values[id(t)] = value
        return [values[id(t)] for t in self.outputs]

    def flatten_inputs(self, inputs, model_name: str) -> list:
        """``flatten_inputs(self, inputs, model_name)``: the model's inputs as a flat, checked list."""
        return flatten_inputs(self, inputs, model_name)

    def pack_outputs(self, flat):
        """The outputs in the structure given to the model (a one-element list is unpacked, as Keras)."""
        if self._single_output:
            return flat[0]
        return tree.pack_sequence_as(self.output_structure, flat)


# --------------------------------------------------------------------- inputs


def input_names(graph: Graph) -> list:
    """Dict keys (flattened order) when the inputs were a dict, else the input layers' names."""
    if isinstance(graph.input_structure, dict):
        return [str(k) for k in sorted(graph.input_structure)]
    return [t._history[0].name for t in graph.inputs]


def output_names(graph: Graph) -> list:
    """Dict keys (flattened, i.e. sorted, order) when the outputs were a dict, else the producing layers' names."""
    if isinstance(graph.output_structure, dict):
        return [str(k) for k in sorted(graph.output_structure)]
    return [t._history[0].name for t in graph.outputs]


def standardize_input(x, ref: SymbolicTensor, model_name: str, input_name: str):
    """Convert ``x`` to a tensor of ``ref``'s dtype and check its shape against ``ref``'s.

    As Keras, a rank off by one is fixed when the last axis is 1: ``(batch,)`` feeds an
    input ``(None, 1)`` and ``(batch, n, 1)`` feeds ``(None, n)``.
    """
    if is_symbolic(x):
        shape = x.shape
    else:
        if not ops.is_tensor(x):
            x = ops.convert_to_tensor(x, dtype=ref.dtype)
        elif dtype_of(x) != ref.dtype:
            x = ops.cast(x, ref.dtype)
        shape = tuple(x.shape)
    expected = ref.shape
    if len(shape) != len(expected):
        if len(shape) == len(expected) + 1 and shape[-1] == 1:
            x = _squeeze_last(x)
        elif len(shape) == len(expected) - 1 and expected[-1] in (1, None) and len(expected) > 1:
            x = _expand_last(x)
        else:
            raise ValueError(f'Input {input_name!r} of model "{model_name}" is incompatible with the model: expected '
                             f"shape {expected}, but received input with shape {tuple(shape)}")
        shape = tuple(x.shape)
    for e, a in zip(expected, shape):
        if e is not None and a is not None and e != a:
            raise ValueError(f'Input {input_name!r} of model "{model_name}" is incompatible with the model: expected '
                             f"shape {expected}, but received input with shape {tuple(shape)}")
    return x


class InputCheck:
    """``standardize_input`` for input ``index`` of ``graph``, remembering what passes unchanged.

    A tensor comes back as is when it already has the input's dtype and a compatible
    shape of the same rank. That depends on its type and dtype (``dtypes``: engine dtype
    objects per tensor type) and on its shape alone (``shape``: the last such shape), so
    later inputs matching both skip the conversion and the shape comparison.
    """

    __slots__ = ("graph", "index", "dtypes", "shape")

    def __init__(self, graph, index):
        self.graph, self.index = graph, index
        self.dtypes: dict = {}
        self.shape = None

    def __call__(self, x, model_name: str):
        dtypes = self.dtypes.get(type(x))
        if dtypes is not None and x.dtype in dtypes and x.shape == self.shape:
            return x
        ref = self.graph.inputs[self.index]
        out = standardize_input(x, ref, model_name, input_names(self.graph)[self.index])
        if out is x and not is_symbolic(x) and ops.is_tensor(x) and hasattr(x, "dtype") and hasattr(x, "shape"):
            kind = type(x)
            try:
                self.dtypes[kind] = self.dtypes.get(kind, frozenset()) | {x.dtype}
            except TypeError:  # an unhashable dtype object: keep to the general path
                return out
            self.shape = x.shape
        return out


def _is_array(value) -> bool:
    return is_symbolic(value) or ops.is_tensor(value) or hasattr(value, "__array_interface__")


def _squeeze_last(x):
    if is_symbolic(x):
        return SymbolicTensor(x.shape[:-1], x.dtype)
    return ops.squeeze(x, axis=-1)


def _expand_last(x):
    if is_symbolic(x):
        return SymbolicTensor(x.shape + (1,), x.dtype)
    return ops.expand_dims(x, -1)


def flatten_inputs(graph: Graph, inputs, model_name: str) -> list:
    """The values given to the model as a flat list aligned with ``graph.inputs``."""
    count = len(graph.inputs)
    if count == 1 and not isinstance(inputs, (list, tuple, dict)):
        return [graph.input_checks[0](inputs, model_name)]  # the common case, checked cheaply
    structure = graph.input_structure
    names = input_names(graph)
    if isinstance(inputs, dict):
        if isinstance(structure, dict):
            keys = sorted(structure)
        else:
            keys = names
        missing = [k for k in keys if k not in inputs]
        if missing:
            raise ValueError(f'model "{model_name}" expects inputs named {keys}, but the dict given lacks {missing} '
                             f"(it has {list(inputs)})")
        flat = [inputs[k] for k in keys]
    elif count == 1:
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
            inputs = inputs[0]
        if isinstance(inputs, (list, tuple)) and inputs and all(_is_array(v) for v in inputs):
            flat = list(inputs)  # several arrays for a one-input model: reported below
        else:
            flat = [inputs]
    else:
        flat = tree.flatten(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(flat) != count:
        raise ValueError(f'model "{model_name}" expects {count} input(s) ({", ".join(names)}), but received '
                         f"{len(flat)}")
    return [check(x, model_name) for x, check in zip(flat, graph.input_checks)]


# ------------------------------------------------------------------- the model


@registry.register_serializable(package="highlevel")
class Functional(Model):
    """``hl.Model(inputs, outputs)``: a model defined by a graph of layer calls."""

    def __init__(self, inputs, outputs, name=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

    @classmethod
    def _default_name(cls) -> str:
        return "functional"

    def get_config(self):
        return graph_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        inputs, outputs, layers = rebuild_graph(config, custom_objects)
        model = cls(inputs=inputs, outputs=outputs, name=config.get("name"))
        if config.get("trainable") is False:
            model.trainable = False
        return model


# ------------------------------------------------------------------- config


def _tensor_ref(t, node_index_of) -> list:
    layer, _, tensor_index = t._history
    return [layer.name, node_index_of[id(t.node)], tensor_index]


def graph_config(model) -> dict:
    """``{"name", "trainable", "layers": [...], "input_layers", "output_layers"}`` (JSON-ready).

    Each layer entry is ``serialize(layer)`` plus ``"name"`` and ``"inbound_nodes"``:
    one ``{"args", "kwargs"}`` per call inside this model, where a tensor argument is
    ``{"__tensor__": [layer_name, node_index, tensor_index]}`` and ``node_index``
    counts only the calls that belong to this model.
    """
    graph = model._graph
    node_index_of = {}
    for layer in graph.layers:
        kept = [n for n in layer._inbound_nodes if id(n) in graph.node_ids]
        for i, node in enumerate(kept):
            node_index_of[id(node)] = i

    def encode(x):
        if is_symbolic(x):
            if id(x.node) not in node_index_of:
                raise ValueError(f"model {model.name!r}: cannot serialize a graph whose input {x.name!r} is not "
                                 f"produced by hl.Input")
            return {"__tensor__": _tensor_ref(x, node_index_of)}
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise ValueError(f"model {model.name!r}: cannot serialize the call argument {x!r} (only tensors, numbers, "
                         f"strings, booleans and None can be saved)")

    layers = []
    for layer in graph.layers:
        entry = registry.serialize(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = []
        for node in layer._inbound_nodes:
            if id(node) not in graph.node_ids or node.is_input:
                continue
            entry["inbound_nodes"].append({"args": _jsonify(tree.map_structure(encode, list(node.call_args))),
                                           "kwargs": _jsonify(tree.map_structure(encode, node.call_kwargs))})
        layers.append(entry)

    def refs(structure):
        if isinstance(structure, dict):
            return {str(k): refs(v) for k, v in structure.items()}
        if isinstance(structure, (list, tuple)):
            return [refs(v) for v in structure]
        return _tensor_ref(structure, node_index_of)

    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": refs(graph.input_structure), "output_layers": refs(graph.output_structure)}


def _jsonify(value):
    """Tuples -> lists, recursively (so a config equals its JSON round trip)."""
    if isinstance(value, dict):
        return {k: _jsonify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonify(v) for v in value]
    return value


def _is_ref(value) -> bool:
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and isinstance(value[1], int) and isinstance(value[2], int))


def rebuild_graph(config: dict, custom_objects=None):
    """Recreate the layers of ``graph_config`` and replay their calls: ``(inputs, outputs, layers)``."""
    created: dict = {}
    pending: dict = {}
    order = []
    for entry in config["layers"]:
        layer = registry.deserialize(entry, custom_objects=custom_objects, expected="layer")
        if not isinstance(layer, Layer):
            raise ValueError(f"layer entry {entry.get('name')!r} did not produce a Layer but {type(layer).__name__}")
        name = entry.get("name", layer.name)
        created[name] = layer
        pending[name] = list(entry.get("inbound_nodes", []))
        order.append(name)

    def tensor(ref):
        layer_name, node_index, tensor_index = ref
        layer = created.get(layer_name)
        if layer is None:
            raise ValueError(f"the config refers to an unknown layer {layer_name!r}")
        if node_index >= len(layer._inbound_nodes):
            raise LookupError(ref)
        return layer._inbound_nodes[node_index].outputs[tensor_index]

    def decode(value):
        if isinstance(value, dict):
            if set(value) == {"__tensor__"}:
                return tensor(value["__tensor__"])
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    while any(pending.values()):
        progress = False
        for name in order:
            calls = pending[name]
            while calls:
                try:
                    args = decode(calls[0]["args"])
                    kwargs = decode(calls[0].get("kwargs") or {})
                except LookupError:
                    break  # an input comes from a layer call not replayed yet
                created[name](*args, **kwargs)
                calls.pop(0)
                progress = True
        if not progress:
            stuck = [name for name in order if pending[name]]
            raise ValueError(f"cannot rebuild the functional model: the calls of layers {stuck} depend on tensors "
                             f"that are never produced")

    def structure(refs):
        if _is_ref(refs):
            return tensor(refs)
        if isinstance(refs, dict):
            return {k: structure(v) for k, v in refs.items()}
        return [structure(r) for r in refs]

    inputs, outputs = structure(config["input_layers"]), structure(config["output_layers"])
    # A single input/output was saved as one reference; Keras configs wrap it in a list.
    return inputs, outputs, [created[name] for name in order]


__all__ = ["Functional", "Graph", "InputLayer"]
