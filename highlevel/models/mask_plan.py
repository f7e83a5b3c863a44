"""Mask propagation in the model executors (functional graphs and ``Sequential``).

Backend tensors cannot all carry attributes (NumPy arrays cannot), so masks are not
attached to tensors as Keras does: the executor keeps them beside the values, one
per symbolic tensor of the graph, and follows Keras 3's rules:

* a layer whose ``call`` takes ``mask`` and that has one tensor argument receives
  that argument's mask (a structure for a list of inputs: ``Attention``); with
  several tensor arguments, each argument ``x`` with a ``x_mask`` parameter receives
  its mask (``MultiHeadAttention``'s ``query_mask``/``value_mask``/``key_mask``).
  Masks given explicitly when the graph was built win;
* the output mask is ``layer.compute_mask(first argument, its mask)`` when the layer
  ``supports_masking``, else ``None`` (the mask is dropped);
* a model's own ``mask`` argument gives its inputs' masks.

Graphs where no layer can produce a mask (checked once per graph, see
``GraphMaskPlan``) never come here: their layers do not pay for masking.
"""

from __future__ import annotations

import functools
import inspect

from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import is_symbolic
from highlevel.utils import tree


@functools.lru_cache(maxsize=None)
def _call_parameters(cls):
    try:
        return inspect.signature(cls.call)
    except (TypeError, ValueError):
        return None


def _ids(structure):
    """``structure`` with each symbolic tensor replaced by its id and anything else by None
    (a bare id for a single tensor; ``None`` when no tensor is in it)."""
    if is_symbolic(structure):
        return id(structure)
    if not tree.is_nested(structure):
        return None
    ids = tree.map_structure(lambda x: id(x) if is_symbolic(x) else None, structure)
    return ids if any(i is not None for i in tree.flatten(ids)) else None


def _lookup(ids, masks: dict):
    """The masks for an ``_ids`` structure; ``None`` when none of them has a mask."""
    if ids is None:
        return None
    if type(ids) is int:
        return masks.get(ids)
    found = tree.map_structure(lambda i: None if i is None else masks.get(i), ids)
    return found if any(m is not None for m in tree.flatten(found)) else None


def _has_mask(value) -> bool:
    return value is not None and any(m is not None for m in tree.flatten(value))


def overrides_compute_mask(layer) -> bool:
    return type(layer).compute_mask is not Layer.compute_mask


def may_emit_mask(layer, first_arg) -> bool:
    """Whether ``layer`` may output a mask when none of its inputs has one (a mask source:
    ``Embedding(mask_zero=True)``, ``Masking``, a model containing one, ...)."""
    if not layer.supports_masking:
        return False
    graph = layer.__dict__.get("_graph_value")
    if graph is not None:
        return graph_plan(graph).emits
    if not overrides_compute_mask(layer):
        return False
    # Ask the layer with symbolic inputs and no mask: a layer that only forwards masks
    # (merging, RNNs, attention) answers None; a source answers a mask or fails on the
    # placeholder (either way it counts as a source).
    try:
        return _has_mask(layer.compute_mask(first_arg, None))
    except Exception:  # noqa: BLE001 - any failure means "cannot tell": assume it may
        return True


class NodeMaskPlan:
    """What the masked executor needs to know about one node, worked out once."""

    __slots__ = ("first", "fills", "explicit", "overrides")

    def __init__(self, node):
        layer = node.layer
        self.first = _ids(node.call_args[0]) if node.call_args else None
        self.explicit = node.call_kwargs.get("mask") is not None
        self.overrides = overrides_compute_mask(layer)
        self.fills = []
        signature = _call_parameters(type(layer))
        if signature is None:
            return
        params = signature.parameters
        try:
            bound = signature.bind_partial(None, *node.call_args, **node.call_kwargs).arguments
        except TypeError:
            return
        tensor_args = [(name, _ids(value)) for name, value in list(bound.items())[1:]
                       if not name.endswith("mask") and _ids(value) is not None]
        if len(tensor_args) == 1:
            if "mask" in params:
                self.fills.append(("mask", tensor_args[0][1]))
        else:
            for name, ids in tensor_args:
                if f"{name}_mask" in params:
                    self.fills.append((f"{name}_mask", ids))


class GraphMaskPlan:
    """``active``: some tensor of the graph may carry a mask even when the inputs have none;
    ``emits``: some output may. ``nodes``: a ``NodeMaskPlan`` per node in run order."""

    def __init__(self, graph):
        self.nodes = [NodeMaskPlan(node) for node in graph._run_order]
        flags: dict = {}
        active = False
        for node, plan in zip(graph._run_order, self.nodes):
            incoming = plan.explicit or any(flags.get(i, False) for i in tree.flatten(plan.first))
            layer = node.layer
            out = layer.supports_masking and (incoming or may_emit_mask(layer, node.call_args[0]
                                                                         if node.call_args else None))
            if out:
                active = True
                for t in node.outputs:
                    flags[id(t)] = True
        self.active = active
        self.emits = any(flags.get(id(t), False) for t in graph.outputs)


def graph_plan(graph) -> GraphMaskPlan:
    """The graph's ``GraphMaskPlan``, computed on first use (a graph never changes)."""
    plan = graph.__dict__.get("_mask_plan")
    if plan is None:
        plan = graph.__dict__["_mask_plan"] = GraphMaskPlan(graph)
    return plan


def run_masked(graph, flat_inputs, flat_masks, call):
    """``graph.run`` with masks: ``(flat outputs, flat output masks)`` (``None`` = no mask)."""
    plan = graph_plan(graph)
    values = {id(t): v for t, v in zip(graph.inputs, flat_inputs)}
    masks = {id(t): m for t, m in zip(graph.inputs, flat_masks or ()) if m is not None}
    for node, node_plan in zip(graph._run_order, plan.nodes):
        args, kwargs = node.fill_in(values)
        previous = None
        if masks:
            previous = _lookup(node_plan.first, masks)
            for name, ids in node_plan.fills:
                if kwargs.get(name) is None:
                    found = _lookup(ids, masks)
                    if found is not None:
                        kwargs[name] = found
        if kwargs.get("mask") is not None:
            previous = kwargs["mask"]   # given (or filled in): Keras's previous mask
        result = call(node, args, kwargs)
        node_outputs = node.outputs
        if len(node_outputs) == 1 and not isinstance(result, (list, tuple, dict)):
            values[id(node_outputs[0])] = result
        else:
            flat = tree.flatten(result)
            if len(flat) != len(node_outputs):
                raise ValueError(f"layer {node.layer.name!r} returned {len(flat)} outputs when called in model "
                                 f"{graph.owner!r}, but {len(node_outputs)} when the graph was built")
            for t, value in zip(node_outputs, flat):
                values[id(t)] = value
        layer = node.layer
        if layer.supports_masking and (previous is not None or node_plan.overrides):
            output_mask = layer.compute_mask(args[0] if args else None, previous)
            if output_mask is not None:
                for t, m in zip(node_outputs, tree.flatten(output_mask)):
                    if m is not None:
                        masks[id(t)] = m
    return [values[id(t)] for t in graph.outputs], [masks.get(id(t)) for t in graph.outputs]


def flatten_masks(graph, mask) -> list:
    """A model's ``mask`` argument as a list aligned with ``graph.inputs`` (``None`` entries allowed)."""
    count = len(graph.inputs)
    if mask is None:
        return [None] * count
    if count == 1 and not (isinstance(mask, (list, tuple)) and len(mask) == 1):
        return [mask]
    if isinstance(mask, dict) and isinstance(graph.input_structure, dict):
        return [mask.get(k) for k in sorted(graph.input_structure)]
    flat = list(mask) if isinstance(mask, (list, tuple)) else [mask]
    if len(flat) != count:
        raise ValueError(f"model {graph.owner!r} has {count} input(s) but was given {len(flat)} mask(s)")
    return flat


__all__ = ["GraphMaskPlan", "NodeMaskPlan", "flatten_masks", "graph_plan", "may_emit_mask", "run_masked"]
