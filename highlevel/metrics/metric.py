"""The ``Metric`` base class: stateful, streaming evaluation over batches.

A metric owns non-trainable ``hl.Variable`` state created with ``add_variable``,
accumulates it in ``update_state(y_true, y_pred, sample_weight=None)`` and reports
``result()``; ``reset_state()`` zeroes it (between epochs).

State is created in ``__init__`` whenever its shape is known there. A metric whose
state depends on the data (``F1Score``: one counter per class) creates it in
``build(y_true_shape, y_pred_shape)``, which the trainer calls eagerly before it
compiles the step, so compiled TensorFlow steps never create variables.
``update_state`` uses only ``hl.ops`` and static shapes (it is traced).
"""

from __future__ import annotations

import numpy as np

from highlevel import ops
from highlevel.losses.loss import as_tensor, snake_case
from highlevel.saving import registry

PACKAGE = "highlevel.metrics"


def _initial_value(initializer, shape, dtype):
    """The initial value of a state variable, computed on the host with NumPy."""
    if initializer is None or initializer == "zeros":
        return np.zeros(shape, dtype=dtype)
    if initializer == "ones":
        return np.ones(shape, dtype=dtype)
    if isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
        return np.full(shape, initializer, dtype=dtype)
    if isinstance(initializer, str):
        from highlevel import initializers  # written by the models helper; only needed for rare names
        initializer = initializers.get(initializer)
    if callable(initializer):
        return initializer(shape, dtype=dtype)
    raise ValueError(f"cannot interpret {initializer!r} as an initializer for a metric variable")


@registry.register_serializable(package=PACKAGE)
class Metric:
    """Base class of every metric. Subclasses implement ``update_state`` and ``result``.

    ``Metric(name=None, dtype=None)``: ``name`` defaults to the snake-case class name,
    ``dtype`` (of the state and the result) to ``"float32"``.
    """

    def __init__(self, name=None, dtype=None):
        self._metrics = []
        self._variables = []
        self.name = name or snake_case(type(self).__name__)
        self._dtype = ops.standardize_dtype(dtype) if dtype is not None else "float32"
        self.built = True

    def __setattr__(self, key, value):
        # Sub-metrics assigned as attributes contribute their state to ``variables``.
        if isinstance(value, Metric) and key != "_metrics" and "_metrics" in self.__dict__:
            self._metrics.append(value)
        super().__setattr__(key, value)

    @property
    def dtype(self) -> str:
        return self._dtype

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        """A new non-trainable state variable (path ``"<metric name>/<name>"``)."""
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before add_variable()")
        dtype = ops.standardize_dtype(dtype or self.dtype)
        shape = tuple(int(d) for d in shape)
        value = _initial_value(initializer, shape, dtype)
        variable = ops.Variable(value, trainable=False, name=name, dtype=dtype)
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    # Keras spelling.
    def add_weight(self, shape=(), initializer="zeros", dtype=None, name=None):
        return self.add_variable(shape, initializer=initializer, dtype=dtype, name=name)

    @property
    def variables(self) -> list:
        """Every state variable, this metric's then its sub-metrics'."""
        variables = list(self._variables)
        for metric in self._metrics:
            variables.extend(metric.variables)
        return variables

    def build(self, y_true_shape=None, y_pred_shape=None):
        """Create data-dependent state. Metrics whose state exists after ``__init__`` need nothing."""
        self.built = True

    def update_state(self, *args, **kwargs):
        """Accumulate the statistics of one batch (traceable: ``hl.ops`` only)."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        """The metric's value from the accumulated state, as a backend tensor."""
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def reset_state(self):
        """Set every state variable back to zero."""
        for variable in self.variables:
            variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def __call__(self, *args, **kwargs):
        """``update_state(...)`` then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def _input(self, x, dtype=None):
        """``x`` as a tensor of ``dtype`` (default: the metric's), cut off from autodiff.

        Metrics see ``y_pred`` straight from the forward pass: without stop_gradient
        their state would keep the graph of every batch alive on torch.
        """
        return ops.stop_gradient(as_tensor(x, dtype or self.dtype))

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"
