"""``InputLayer`` and ``hl.Input``: the entry points of a functional graph."""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import Node, SymbolicTensor, _shape_tuple
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class InputLayer(Layer):
    """Holds a model input: its ``output`` is a ``SymbolicTensor`` of ``batch_shape``.

    shape: the shape without the batch dim; batch_size: optional fixed batch size;
    batch_shape: the full shape instead of both; dtype: ``"float32"`` by default.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, input_tensor=None,
                 optional=False, name=None, **kwargs):
        # Keras 2 spelling, still found in configs.
        if batch_shape is None and "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        kwargs.pop("ragged", None)
        kwargs.pop("trainable", None)
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise ValueError(f"InputLayer {self.name!r}: sparse inputs are not supported")
        if input_tensor is not None:
            if not isinstance(input_tensor, SymbolicTensor):
                raise ValueError(f"InputLayer {self.name!r}: input_tensor must be a symbolic tensor (hl.Input), "
                                 f"got {type(input_tensor).__name__}")
            batch_shape, dtype = input_tensor.shape, input_tensor.dtype
            self._dtype = ops.standardize_dtype(dtype)
        if shape is not None and batch_shape is not None:
            raise ValueError(f"InputLayer {self.name!r}: give shape (and batch_size) or batch_shape, not both")
        if batch_shape is None:
            if shape is None:
                raise ValueError(f"InputLayer {self.name!r}: a shape is required, e.g. hl.Input(shape=(784,))")
            batch_shape = (batch_size,) + _shape_tuple(shape)
        self.batch_shape = _shape_tuple(batch_shape)
        self.optional = bool(optional)
        self.built = True
        self._output_tensor = SymbolicTensor(self.batch_shape, self.dtype, name=self.name)
        Node(self, (), {}, self._output_tensor)

    @property
    def output(self):
        return self._output_tensor

    def call(self, inputs=None, *args, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False, "name": self.name,
                "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):
    """A symbolic model input: ``x = hl.Input((784,))`` has shape ``(None, 784)``.

    shape: the shape without the batch dim (``None`` entries for variable sizes);
    batch_size / batch_shape: to fix the batch dim; dtype: ``"float32"`` by default.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, batch_shape=batch_shape,
                       input_tensor=tensor, optional=optional, name=name)
    return layer.output
