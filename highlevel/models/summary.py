"""``model.summary()``: a table of layers, output shapes and parameter counts.

    Model: "sequential"
    +---------------------+--------------+---------+
    | Layer (type)        | Output Shape | Param # |
    +=====================+==============+=========+
    | dense (Dense)       | (None, 4)    |      36 |
    ...
     Total params: 41 (164.00 B)
     Trainable params: 41 (164.00 B)
     Non-trainable params: 0 (0.00 B)
     Backend: numpy
"""

from __future__ import annotations

import numpy as np

from highlevel import backend


def readable_size(num_bytes: float) -> str:
    """``1536`` -> ``"1.50 KB"`` (powers of 1024, as Keras)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if num_bytes < 1024:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} PB"


def _count(weights) -> tuple[int, int]:
    """(number of scalars, bytes) of a list of variables."""
    count = nbytes = 0
    for v in weights:
        size = int(np.prod(v.shape))
        count += size
        nbytes += size * _itemsize(v.dtype)
    return count, nbytes


def _itemsize(dtype: str) -> int:
    if dtype == "bfloat16":
        return 2
    if dtype == "bool":
        return 1
    return np.dtype(dtype).itemsize


def _format_shape(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_format_shape(v)}" for k, v in shape.items()) + "}"
    if isinstance(shape, list) or (isinstance(shape, tuple) and shape and isinstance(shape[0], (tuple, list))):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _node_shapes(node):
    shapes = [t.shape for t in node.outputs]
    return shapes[0] if len(shapes) == 1 else shapes


def _layer_rows(model):
    """``[(name (class), output shape, params, connected_to, trainable)]`` for the model's layers."""
    from highlevel.models.sequential import Sequential

    graph = model._graph
    functional = graph is not None and not isinstance(model, Sequential)
    rows = []
    for layer in model.layers:
        nodes = [] if graph is None else [n for n in layer._inbound_nodes if id(n) in graph.node_ids]
        if nodes:
            shapes = [_node_shapes(n) for n in nodes]
            shape = _format_shape(shapes[0]) if all(s == shapes[0] for s in shapes) else "multiple"
        else:
            recorded = layer._output_shapes
            if recorded is not None and isinstance(recorded, tuple) and all(
                    d is None or isinstance(d, int) for d in recorded) and recorded:
                recorded = (None,) + tuple(recorded[1:])  # the batch dim of the data seen is not part of the model
            shape = _format_shape(recorded)
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        connected = []
        if functional:
            for node in nodes:
                for t in node.input_tensors:
                    producer, node_index, tensor_index = t._history
                    connected.append(f"{producer.name}[{node_index}][{tensor_index}]")
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, params, ", ".join(connected) or "-",
                     "Y" if layer.trainable else "N"))
    return rows, functional


def summary_lines(model, line_length=None, show_trainable=False) -> list:
    """The lines ``print_summary`` prints."""
    rows, functional = _layer_rows(model)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    columns = [0, 1, 2]
    if functional:
        headers.append("Connected to")
        columns.append(3)
    if show_trainable:
        headers.append("Trainable")
        columns.append(4)
    table = [[row[c] for c in columns] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in table]) for i, h in enumerate(headers)]
    if line_length:
        # Widen the first column so the table spans at least line_length characters.
        total = sum(widths) + 3 * len(widths) + 1
        if total < line_length:
            widths[0] += line_length - total
    right = {2}  # numbers align right

    def line(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(parts) + " |"

    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    header_border = "+" + "+".join("=" * (w + 2) for w in widths) + "+"
    lines = [f'Model: "{model.name}"', border, line(headers), header_border]
    lines += [line(r) for r in table]
    lines.append(border)
    trainable, trainable_bytes = _count(model.trainable_weights)
    frozen, frozen_bytes = _count(model.non_trainable_weights)
    lines += [f" Total params: {trainable + frozen:,} ({readable_size(trainable_bytes + frozen_bytes)})",
              f" Trainable params: {trainable:,} ({readable_size(trainable_bytes)})",
              f" Non-trainable params: {frozen:,} ({readable_size(frozen_bytes)})",
              f" Backend: {backend.name()}"]
    return lines


def print_summary(model, line_length=None, print_fn=None, show_trainable=False) -> None:
    """Print ``summary_lines(model)`` one line at a time through ``print_fn`` (default ``print``)."""
    print_fn = print_fn or print
    for text in summary_lines(model, line_length=line_length, show_trainable=show_trainable):
        print_fn(text)
