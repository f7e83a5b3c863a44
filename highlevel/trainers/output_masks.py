"""The output masks of a training/evaluation step's forward passes, for the compiled loss and metrics.

Keras 3 attaches a mask to the model's output tensor (``y_pred._keras_mask``) and its
losses and mean metrics read it there. Here masks are not attached to tensors (the
executors keep them beside the values, see ``highlevel/models/mask_plan.py``), so a
compiled step keeps a small side table instead, open only while the step runs:

* the step opens it (``wrap_step``) when the model's outputs may carry a mask —
  a graph model whose ``GraphMaskPlan.emits``, or a subclassed model whose class
  defines ``compute_mask`` — and mask-free models run their step untouched;
* a graph model's forward pass records its output tensors with their masks (``record``,
  called by ``Model.call`` and ``Sequential.call`` on their masked path);
* ``compute_loss`` and ``compute_metrics`` look the masks up by the identity of the
  ``y_pred`` tensors they are given (``lookup``), as Keras finds them on the tensors —
  so a custom ``train_step`` that calls ``self(x)`` and passes its outputs on gets them
  too — or, for copies of them, as the outputs of the step's only forward pass.

A subclassed model's layers do not pass masks on by themselves (unlike Keras, whose
``Layer.__call__`` does), so its output mask is ``model.compute_mask(x, None)`` when its
class defines ``compute_mask``, else there is none.
"""

from __future__ import annotations

from highlevel.utils import tree

_TABLE = "_step_output_masks"   # the model's __dict__ entry holding the open table


def may_mask_outputs(model) -> bool:
    """Whether ``model``'s outputs can carry masks (worked out from its structure, no forward pass)."""
    graph = model.__dict__.get("_graph_value")
    if graph is not None:
        from highlevel.models.mask_plan import graph_plan
        return graph_plan(graph).emits
    return _defines_compute_mask(model)


def _defines_compute_mask(model) -> bool:
    from highlevel.models.model import Model
    return isinstance(model, Model) and type(model).compute_mask is not Model.compute_mask


def wrap_step(model, step):
    """``step(data)`` run with the model's mask table open when its outputs may carry masks.

    Whether they may is decided on the first call (the model is built by then); for a
    mask-free model the wrapper only reads one cached flag per step.
    """
    decided = []

    def step_with_masks(data):
        if not decided:
            decided.append(may_mask_outputs(model))
        if not decided[0]:
            return step(data)
        model.__dict__[_TABLE] = []     # (flat outputs, flat masks) per forward pass
        try:
            return step(data)
        finally:
            # The entries hold the step's tensors (graph tensors when traced): never keep them.
            model.__dict__.pop(_TABLE, None)

    return step_with_masks


def record(model, flat_outputs, flat_masks) -> None:
    """Note one forward pass's output tensors and their masks (``None``: no mask) while a
    step's table is open."""
    table = model.__dict__.get(_TABLE)
    if table is not None:
        table.append((list(flat_outputs), list(flat_masks)))


def lookup(model, x, y_pred, names):
    """The masks of the outputs ``y_pred`` of inputs ``x``, one per output in the compiled order
    ``names``, or ``None`` when none has one (always ``None`` outside a step with a table open).

    The outputs are found by identity among the step's forward passes; failing that (the
    ``stop_gradient`` copies the default ``train_step`` gives the metrics, or the copies of
    ``value_and_grad``'s aux on the NumPy backend), a step that made one forward pass whose
    outputs have ``y_pred``'s shapes uses that pass's masks.
    """
    table = model.__dict__.get(_TABLE)
    if table is None:
        return None
    from highlevel import ops
    from highlevel.trainers.compile_utils import _ordered

    flat_pred = _ordered(y_pred, names)
    found = _find(table, flat_pred)
    if found is None and model.__dict__.get("_graph_value") is None:
        found = _record_subclassed(model, table, x, y_pred, flat_pred)
    if found is None and len(table) == 1:
        outputs, masks = table[0]
        if len(outputs) == len(flat_pred) and all(tuple(ops.shape(a)) == tuple(ops.shape(b))
                                                  for a, b in zip(outputs, flat_pred)):
            found = masks
    if found is None:
        return None
    return found if any(m is not None for m in found) else None


def _find(table, flat_pred):
    """The masks of the pass whose outputs are ``flat_pred`` (in any order), else ``None``."""
    for outputs, masks in table:
        by_id = {id(t): m for t, m in zip(outputs, masks)}
        if all(id(t) in by_id for t in flat_pred):
            return [by_id[id(t)] for t in flat_pred]
    return None


def _record_subclassed(model, table, x, y_pred, flat_pred):
    """A subclassed model's output masks from its own ``compute_mask(x, None)`` (Keras would
    find them on the output tensors; our layers do not attach them), recorded as its pass."""
    if not _defines_compute_mask(model):
        return None
    masks = model.compute_mask(x, None)
    count = len(tree.flatten(y_pred))
    flat_masks = [None] * count if masks is None else tree.flatten(masks)
    if len(flat_masks) != count:
        raise ValueError(f"model {model.name!r}: compute_mask returned {len(flat_masks)} mask(s) for {count} "
                         f"output(s); return one mask (or None) per output, in the outputs' structure")
    record(model, tree.flatten(y_pred), flat_masks)
    return _find(table, flat_pred)


__all__ = ["lookup", "may_mask_outputs", "record", "wrap_step"]
