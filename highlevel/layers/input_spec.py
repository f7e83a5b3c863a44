"""``InputSpec``: what a layer accepts (rank, fixed dims), checked on every call.

The check runs on symbolic tensors when a functional graph is built and on real
tensors when a layer is called, so a wrong shape fails early with a message that
names the layer, the expectation and the shape received.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.utils import tree


class InputSpec:
    """Constraints on one input: ``ndim``/``min_ndim``/``max_ndim``, ``axes`` ({axis: size}),
    a full ``shape`` (``None`` dims are free) and ``dtype``."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else ops.standardize_dtype(dtype)
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.axes = {int(k): int(v) for k, v in (axes or {}).items()}
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name, self.optional = name, optional

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
                                          ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim),
                                          ("axes", self.axes or None)) if v is not None]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": None if self.shape is None else list(self.shape), "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _shape_of(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    # NumPy and torch shapes are tuples of ints; a TensorFlow TensorShape iterates as ints/None.
    return shape if type(shape) is tuple else tuple(shape)


def assert_input_compatibility(input_spec, inputs, layer_name: str) -> None:
    """Raise ``ValueError`` when ``inputs`` (a tensor or a structure) break ``input_spec``.

    ``input_spec`` is an ``InputSpec`` or a list of them (one per flattened input).
    """
    if not input_spec:
        return
    if isinstance(input_spec, InputSpec) and not isinstance(inputs, (list, tuple, dict)):
        specs, flat = [input_spec], [inputs]  # the common case, without tree walks
    else:
        specs, flat = tree.flatten(input_spec), tree.flatten(inputs)
    if len(specs) != len(flat) and not all(s.optional for s in specs[len(flat):]):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(flat)} '
                         f"input tensors")
    for index, (spec, x) in enumerate(zip(specs, flat)):
        if spec is None or x is None:
            continue
        shape = _shape_of(x)
        if shape is not None:
            problem = _problem(spec, shape)
            if problem:
                raise ValueError(f'Input {index} of layer "{layer_name}" is incompatible with the layer: {problem}')


def _problem(spec: InputSpec, shape: tuple):
    """What is wrong with ``shape`` for ``spec`` (a message), or ``None``."""
    rank = len(shape)
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and rank != spec.ndim:
        return f"expected ndim={spec.ndim}, found ndim={rank}. Full shape received: {shape}"
    if spec.max_ndim is not None and rank > spec.max_ndim:
        return f"expected max_ndim={spec.max_ndim}, found ndim={rank}. Full shape received: {shape}"
    if spec.min_ndim is not None and rank < spec.min_ndim:
        return f"expected min_ndim={spec.min_ndim}, found ndim={rank}. Full shape received: {shape}"
    for axis, value in spec.axes.items():
        if not -rank <= axis < rank:
            return (f"expected axis {axis} of the input to have value {value}, but the input has rank {rank}. "
                    f"Full shape received: {shape}")
        if shape[axis] is not None and shape[axis] != value:
            return f"expected axis {axis} of input shape to have value {value}, but received input with shape {shape}"
    if spec.shape is not None and len(spec.shape) == rank:
        for expected, actual in zip(spec.shape, shape):
            if expected is not None and actual is not None and expected != actual:
                return f"expected shape={spec.shape}, found shape={shape}"
    return None
