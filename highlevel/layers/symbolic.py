"""Symbolic tensors and graph nodes: what the functional API is made of.

``hl.Input(shape)`` returns a ``SymbolicTensor``: a shape (``None`` for unknown
dims, the batch dim first), a dtype and where it came from. Calling a layer on
symbolic tensors computes the output shapes without running anything heavy and
records a ``Node`` on the layer (its ``_inbound_nodes``): the layer, the call
arguments (symbolic tensors in them are the node's inputs) and the outputs.
``hl.Model(inputs, outputs)`` walks these nodes back from ``outputs``.
"""

from __future__ import annotations

import itertools

from highlevel import ops
from highlevel.utils import tree

_tensor_ids = itertools.count()


def _shape_tuple(shape) -> tuple:
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"a shape must be a tuple of ints or None, got {shape!r}") from None
    if any(d is not None and d < 0 for d in shape):
        raise ValueError(f"a shape must not have negative dimensions, got {shape}")
    return shape


class SymbolicTensor:
    """A placeholder with a static ``shape`` (``None`` = unknown) and ``dtype``; holds no values.

    ``_history`` is ``(layer, node_index, tensor_index)``: the layer whose
    ``_inbound_nodes[node_index]`` produced it, and its position among that node's outputs.
    """

    # NumPy must not try to treat a placeholder as an array.
    __array_ufunc__ = None

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = _shape_tuple(shape)
        self.dtype = ops.standardize_dtype(dtype)
        self.name = name or f"symbolic_tensor_{next(_tensor_ids)}"
        self._history = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def node(self):
        """The ``Node`` that produced this tensor (``None`` for a detached placeholder)."""
        if self._history is None:
            return None
        layer, node_index, _ = self._history
        return layer._inbound_nodes[node_index]

    def __repr__(self):
        origin = f", from={self._history[0].name!r}" if self._history else ""
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype} name={self.name!r}{origin}>"

    def __bool__(self):
        raise TypeError("a SymbolicTensor has no value: it cannot be used as a Python bool")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self!r} is a placeholder of the functional API and has no value; build a model "
                        f"with hl.Model(inputs, outputs) and call it on data")

    def _unsupported(self, *args, **kwargs):
        raise TypeError(f"{self!r}: arithmetic on symbolic tensors is not supported; express the computation "
                        f"with layers (or wrap it in a custom Layer)")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unsupported
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __pow__ = __neg__ = _unsupported
    __getitem__ = _unsupported
    __hash__ = object.__hash__


def is_symbolic(x) -> bool:
    return isinstance(x, SymbolicTensor)


def any_symbolic(structure) -> bool:
    return any(isinstance(x, SymbolicTensor) for x in tree.flatten(structure))


class Node:
    """One call of ``layer`` on symbolic tensors.

    ``call_args``/``call_kwargs`` are the arguments as given (symbolic tensors in
    place); ``input_tensors`` the symbolic tensors among them, in order;
    ``outputs`` the flat list of output tensors (``output_structure`` their nesting).
    Creating a node appends it to ``layer._inbound_nodes`` and stamps the outputs' history.
    """

    def __init__(self, layer, call_args=(), call_kwargs=None, outputs=()):
        self.layer = layer
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.input_tensors = [x for x in tree.flatten((self.call_args, self.call_kwargs)) if is_symbolic(x)]
        self.output_structure = outputs
        self.outputs = tree.flatten(outputs)
        self.index = len(layer._inbound_nodes)
        self._fill_plan = None
        layer._inbound_nodes.append(self)
        for i, tensor in enumerate(self.outputs):
            tensor._history = (layer, self.index, i)

    @property
    def is_input(self) -> bool:
        """An InputLayer's node: no inputs, its output is a model input."""
        return not self.input_tensors

    @property
    def parent_nodes(self) -> list:
        return [t.node for t in self.input_tensors if t.node is not None]

    def fill_in(self, values: dict):
        """``(args, kwargs)`` with each symbolic tensor replaced by ``values[id(tensor)]``."""
        plan = self._fill_plan
        if plan is None:
            plan = self._fill_plan = self._make_fill_plan()
        kind = plan[0]
        if kind == "one":
            return (values[plan[1]],), {}
        if kind == "flat":
            args = tuple(a if i is None else values[i] for i, a in plan[1])
            kwargs = {k: v if i is None else values[i] for k, i, v in plan[2]}
            return args, kwargs

        def fill(x):
            return values[id(x)] if is_symbolic(x) else x
        args = tree.map_structure(fill, self.call_args) if self.call_args else ()
        kwargs = tree.map_structure(fill, self.call_kwargs) if self.call_kwargs else {}
        return args, kwargs

    def _make_fill_plan(self) -> tuple:
        """How ``fill_in`` rebuilds the arguments, worked out once: ``("one", id)`` for a single
        symbolic argument, ``("flat", args, kwargs)`` when no argument is nested, else ``("nested",)``."""
        args, kwargs = self.call_args, self.call_kwargs
        if any(tree.is_nested(v) for v in args) or any(tree.is_nested(v) for v in kwargs.values()):
            return ("nested",)
        if len(args) == 1 and not kwargs and is_symbolic(args[0]):
            return ("one", id(args[0]))
        return ("flat", [(id(a) if is_symbolic(a) else None, a) for a in args],
                [(k, id(v) if is_symbolic(v) else None, v) for k, v in kwargs.items()])

    def __repr__(self):
        return f"<Node {self.layer.name}[{self.index}] inputs={len(self.input_tensors)} outputs={len(self.outputs)}>"
