"""Merging layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``,
``Concatenate``, ``Dot`` (Keras 3 arguments). Each is called on a list of tensors.

Elementwise merges broadcast as Keras does: the shapes without their batch dim are
aligned on their last axes, a size 1 stretches, and an input of lower rank gets size-1
axes inserted after its batch axis. Incompatible shapes raise ``ValueError`` naming the
layer and every input shape, when the graph is built.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import SymbolicTensor
from highlevel.saving import registry

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _shape_text(shapes):
    return "[" + ", ".join(str(None if s is None else tuple(s)) for s in shapes) + "]"


class _Merge(Layer):
    """Base of the merge layers: ``call(inputs)`` with ``inputs`` a list of tensors."""

    _exact_inputs = None  # the number of inputs a layer needs, when fixed

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    # ------------------------------------------------------------ shape checks
    def _input_shapes(self, input_shape):
        """``input_shape`` as a list of shape tuples, or a ``ValueError`` naming the layer."""
        cls = type(self).__name__
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"{cls} {self.name!r}: a merge layer must be called on a list of tensors, got "
                             f"input shape {input_shape!r}")
        shapes = [tuple(s) for s in input_shape]
        if self._exact_inputs is not None and len(shapes) != self._exact_inputs:
            raise ValueError(f"{cls} {self.name!r}: expected exactly {self._exact_inputs} inputs, got {len(shapes)} "
                             f"with shapes {_shape_text(shapes)}")
        return shapes

    def _check_batch(self, shapes):
        batch_sizes = {s[0] for s in shapes if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f"{type(self).__name__} {self.name!r}: cannot merge tensors with different batch sizes; "
                             f"got shapes {_shape_text(shapes)}")

    def _elementwise_shape(self, shapes):
        """The broadcast output shape (Keras's rule), or a ``ValueError`` naming every input shape."""
        if any(len(s) == 0 for s in shapes):
            raise ValueError(f"{type(self).__name__} {self.name!r}: inputs must have a batch axis; got shapes "
                             f"{_shape_text(shapes)}")
        self._check_batch(shapes)
        rank = max(len(s) - 1 for s in shapes)
        out = []
        for i in range(rank):
            dims = [s[1:][i - rank + len(s) - 1] for s in shapes if i - rank + len(s) - 1 >= 0]
            if any(d is None for d in dims):
                known = {d for d in dims if d is not None and d != 1}
                if len(known) > 1:
                    raise self._incompatible(shapes)
                out.append(None)
                continue
            sizes = set(dims) - {1}
            if len(sizes) > 1:
                raise self._incompatible(shapes)
            out.append(sizes.pop() if sizes else 1)
        batch_sizes = {s[0] for s in shapes} - {None}
        return (batch_sizes.pop() if batch_sizes else None,) + tuple(out)

    def _incompatible(self, shapes):
        return ValueError(f"{type(self).__name__} {self.name!r}: inputs have incompatible shapes "
                          f"{_shape_text(shapes)} (their shapes after the batch axis must be equal or broadcast, "
                          f"aligned on the last axis)")

    def build(self, input_shape):
        shapes = self._input_shapes(input_shape)
        self._elementwise_shape(shapes)
        self.built = True

    def compute_output_shape(self, input_shape):
        return self._elementwise_shape(self._input_shapes(input_shape))

    def compute_output_spec(self, inputs, *args, **kwargs):
        shapes = [x.shape for x in inputs] if isinstance(inputs, (list, tuple)) else inputs
        output_shape = self.compute_output_shape(shapes)
        dtypes = {x.dtype for x in inputs} if isinstance(inputs, (list, tuple)) else set()
        # Integer inputs merge into an integer result; floats run in the layer's dtype.
        dtype = dtypes.pop() if len(dtypes) == 1 and not any(d in _FLOATS for d in dtypes) else self.compute_dtype
        return SymbolicTensor(output_shape, dtype)

    # ------------------------------------------------------------------ call
    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{type(self).__name__} {self.name!r}: a merge layer must be called on a list of tensors, "
                             f"got {type(inputs).__name__}")
        inputs = list(inputs)
        if self._exact_inputs is not None and len(inputs) != self._exact_inputs:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected exactly {self._exact_inputs} inputs, got "
                             f"{len(inputs)}")
        ranks = [ops.ndim(x) for x in inputs]
        top = max(ranks)
        if min(ranks) != top:
            # Lower-rank inputs get size-1 axes after the batch axis (Keras's rule).
            inputs = [ops.reshape(x, ops.shape(x)[:1] + (1,) * (top - r) + ops.shape(x)[1:])
                      for x, r in zip(inputs, ranks)]
            if mask is not None:
                mask = None  # masks follow the original shapes; Keras drops them here too
        return self._merge(inputs, self._masks(mask, inputs))

    def _masks(self, mask, inputs):
        """Per-input boolean masks broadcast to the inputs' shapes (``None`` entries stay)."""
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask] * len(inputs)
        if len(masks) != len(inputs) or all(m is None for m in masks):
            return None
        out = []
        for x, m in zip(inputs, masks):
            if m is None:
                out.append(None)
                continue
            m = ops.cast(m, "bool")
            if ops.ndim(m) < ops.ndim(x):
                m = ops.expand_dims(m, -1)
            out.append(ops.logical_or(m, ops.zeros(ops.shape(x), dtype="bool")))
        return out

    def _merge(self, inputs, masks):
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        """The OR of the inputs' masks (``None`` when any input has none), as Keras."""
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or any(m is None for m in mask):
            return None
        output = mask[0]
        for m in mask[1:]:
            output = ops.logical_or(output, m)
        return output


def _where_mask_or(op, inputs, masks):
    """Keras's merge for ops without an identity (maximum/minimum): masked-out entries of an
    input take the running result's value, and vice versa, so they never win."""
    output, output_mask = None, None
    for i, x in enumerate(inputs):
        mask = masks[i] if masks is not None else None
        if output is None:
            output, output_mask = x, mask
            continue
        if mask is not None:
            x = ops.where(mask, x, output)
        if output_mask is not None:
            output = ops.where(output_mask, output, x)
        output_mask = ops.logical_or(output_mask, mask) if mask is not None and output_mask is not None else None
        output = op(output, x)
    return output


@registry.register_serializable(package="highlevel")
class Add(_Merge):
    """Elementwise sum of a list of tensors (broadcast as described in the module)."""

    def _merge(self, inputs, masks):
        output = inputs[0]
        for x in inputs[1:]:
            output = ops.add(output, x)
        return output


@registry.register_serializable(package="highlevel")
class Subtract(_Merge):
    """``inputs[0] - inputs[1]``; exactly two inputs."""

    _exact_inputs = 2

    def _merge(self, inputs, masks):
        return ops.subtract(inputs[0], inputs[1])


@registry.register_serializable(package="highlevel")
class Multiply(_Merge):
    """Elementwise product of a list of tensors. With masks on every input, masked-out
    entries count as 1 and entries masked out everywhere give 0 (as Keras)."""

    def _merge(self, inputs, masks):
        output, output_mask = None, None
        all_masked = masks is not None and all(m is not None for m in masks)
        for i, x in enumerate(inputs):
            mask = masks[i] if masks is not None else None
            if mask is not None:
                x = ops.where(mask, x, ops.ones_like(x))
                if all_masked:
                    output_mask = mask if output_mask is None else ops.logical_or(output_mask, mask)
            output = x if output is None else ops.multiply(output, x)
        if all_masked:
            output = ops.where(output_mask, output, ops.zeros_like(output))
        return output


@registry.register_serializable(package="highlevel")
class Average(_Merge):
    """Elementwise mean of a list of tensors."""

    def _merge(self, inputs, masks):
        output = inputs[0]
        for x in inputs[1:]:
            output = ops.add(output, x)
        return ops.divide(output, float(len(inputs)))


@registry.register_serializable(package="highlevel")
class Maximum(_Merge):
    """Elementwise maximum of a list of tensors (masked-out entries never win)."""

    def _merge(self, inputs, masks):
        return _where_mask_or(ops.maximum, inputs, masks)


@registry.register_serializable(package="highlevel")
class Minimum(_Merge):
    """Elementwise minimum of a list of tensors (masked-out entries never win)."""

    def _merge(self, inputs, masks):
        return _where_mask_or(ops.minimum, inputs, masks)


# ------------------------------------------------------------------ Concatenate


@registry.register_serializable(package="highlevel")
class Concatenate(_Merge):
    """Join a list of tensors along ``axis``; every other axis must match.

    inputs ``(batch, ..., d_i, ...)`` -> ``(batch, ..., sum d_i, ...)``.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Concatenate {self.name!r}: axis must be an int, got axis={axis!r}")
        self.axis = axis

    def _output_shape(self, shapes):
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ValueError(f"Concatenate {self.name!r}: inputs must all have the same rank; got shapes "
                             f"{_shape_text(shapes)}")
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate {self.name!r}: axis {self.axis} is out of bounds for inputs of rank {rank}; "
                             f"got shapes {_shape_text(shapes)}")
        axis = self.axis % rank
        out = []
        for i in range(rank):
            dims = [s[i] for s in shapes]
            if i == axis:
                out.append(None if None in dims else sum(dims))
                continue
            known = set(dims) - {None}
            if len(known) > 1:
                raise ValueError(f"Concatenate {self.name!r}: inputs must have matching shapes except on the "
                                 f"concatenation axis {self.axis}; got shapes {_shape_text(shapes)}")
            out.append(known.pop() if known else None)
        return tuple(out)

    def build(self, input_shape):
        self._output_shape(self._input_shapes(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        return self._output_shape(self._input_shapes(input_shape))

    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Concatenate {self.name!r}: must be called on a list of tensors, got "
                             f"{type(inputs).__name__}")
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Masks (all ones where an input has none) concatenated, then any() over the last axis (Keras)."""
        if mask is None or not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                masks.append(ops.ones(ops.shape(x), dtype="bool"))
            elif ops.ndim(m) < ops.ndim(x):
                masks.append(ops.logical_or(ops.expand_dims(ops.cast(m, "bool"), -1),
                                            ops.zeros(ops.shape(x), dtype="bool")))
            else:
                masks.append(ops.cast(m, "bool"))
        return ops.any(ops.concatenate(masks, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


# ------------------------------------------------------------------ Dot

_LETTERS = "bcdefghijklmnopqrstuvwxy"


@registry.register_serializable(package="highlevel")
class Dot(_Merge):
    """Per-sample dot product of two tensors along ``axes`` (an int, or one axis per input).

    ``x1 (batch, ..., n, ...)``, ``x2 (batch, ..., n, ...)`` -> the contraction of the two
    ``n`` axes: ``x1``'s remaining axes, then ``x2``'s without its batch axis; a result of
    rank 1 becomes ``(batch, 1)``. normalize=True L2-normalizes both inputs along their
    axes first (``x * min(1 / ||x||, 1e7)``), so the result is the cosine similarity.
    """

    _exact_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"Dot {self.name!r}: axes must be an int or a list of two ints, got axes={axes!r}")
            axes = list(axes)
        elif isinstance(axes, bool) or not isinstance(axes, int):
            raise ValueError(f"Dot {self.name!r}: axes must be an int or a list of two ints, got axes={axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolve(self, shapes):
        """The two contraction axes (non-negative), checked against the shapes."""
        s1, s2 = shapes
        if len(s1) < 2 or len(s2) < 2:
            raise ValueError(f"Dot {self.name!r}: inputs must have rank >= 2 (a batch axis and a feature axis); "
                             f"got shapes {_shape_text(shapes)}")
        wanted = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        axes = []
        for a, s in zip(wanted, (s1, s2)):
            if not -len(s) <= a < len(s):
                raise ValueError(f"Dot {self.name!r}: axes={self.axes!r} is out of bounds for input shapes "
                                 f"{_shape_text(shapes)}")
            axes.append(a % len(s))
        if 0 in axes:
            raise ValueError(f"Dot {self.name!r}: cannot take the dot product over the batch axis 0 (axes="
                             f"{self.axes!r}); got shapes {_shape_text(shapes)}")
        d1, d2 = s1[axes[0]], s2[axes[1]]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(f"Dot {self.name!r}: incompatible input shapes {_shape_text(shapes)}: size {d1} of axis "
                             f"{axes[0]} of the first input differs from size {d2} of axis {axes[1]} of the second")
        self._check_batch(shapes)
        return axes

    def build(self, input_shape):
        self._resolve(self._input_shapes(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = self._input_shapes(input_shape)
        a1, a2 = self._resolve(shapes)
        s1, s2 = shapes
        out = [d for i, d in enumerate(s1) if i != a1] + [d for i, d in enumerate(s2) if i not in (0, a2)]
        if len(out) == 1:
            out.append(1)
        return tuple(out)

    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"Dot {self.name!r}: must be called on a list of exactly 2 tensors")
        x1, x2 = inputs
        a1, a2 = self._resolve([ops.shape(x1), ops.shape(x2)])
        if self.normalize:
            x1, x2 = _l2_normalize(x1, a1), _l2_normalize(x2, a2)
        # einsum subscripts: "a" is the batch axis, "z" the contracted one.
        letters = iter(_LETTERS)
        sub1 = "".join("a" if i == 0 else "z" if i == a1 else next(letters) for i in range(ops.ndim(x1)))
        sub2 = "".join("a" if i == 0 else "z" if i == a2 else next(letters) for i in range(ops.ndim(x2)))
        out = "a" + sub1[1:].replace("z", "") + sub2[1:].replace("z", "")
        output = ops.einsum(f"{sub1},{sub2}->{out}", x1, x2)
        if len(out) == 1:
            output = ops.expand_dims(output, -1)
        return output

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _l2_normalize(x, axis):
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    # rsqrt(max(s, 1e-14)) == min(rsqrt(s), 1e7) (Keras's cap), without an infinity at s = 0.
    return ops.multiply(x, ops.rsqrt(ops.maximum(square_sum, 1e-14)))

