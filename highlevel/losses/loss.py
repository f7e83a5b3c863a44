"""The ``Loss`` base class and the weighting/reduction every loss shares.

A loss is called as ``loss(y_true, y_pred, sample_weight=None)``: its ``call`` returns
per-sample values (the last axis already reduced, e.g. ``(batch,)`` or
``(batch, steps)``), which are weighted and then reduced to a scalar:

* ``"sum_over_batch_size"`` (default) and its alias ``"mean"``: the weighted sum
  divided by the number of per-sample values (NOT by the sum of the weights);
* ``"mean_with_sample_weight"``: the weighted sum divided by the sum of the weights;
* ``"sum"``: the weighted sum;
* ``"none"`` / ``None``: the weighted per-sample values.

Everything here uses only ``hl.ops`` and static shapes, so it traces under
``compile_function`` (no Python branching on tensor values).
"""

from __future__ import annotations

import re

from highlevel import ops
from highlevel.saving import registry

PACKAGE = "highlevel.losses"
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"invalid reduction {reduction!r}; expected one of "
                         f"{', '.join(repr(r) for r in REDUCTIONS)}")
    return reduction


def snake_case(name: str) -> str:
    """``"CategoricalCrossentropy"`` -> ``"categorical_crossentropy"`` (as Keras names objects)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def as_tensor(x, dtype=None):
    """``x`` as a backend tensor, cast to ``dtype`` only when it differs (keeps autodiff links)."""
    if not ops.is_tensor(x):
        x = ops.convert_to_tensor(x)
    if dtype is not None and ops.dtype(x) != dtype:
        x = ops.cast(x, dtype)
    return x


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks agree when they differ by a trailing axis of size 1 (Keras's rule).

    ``(batch,)`` vs ``(batch, 1)``: the rank-1 one is expanded (or, with
    ``expand_rank_1=False`` or higher ranks, the size-1 axis is squeezed).
    """
    r1, r2 = ops.ndim(x1), ops.ndim(x2)
    if r1 == r2 + 1 and ops.shape(x1)[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, -1)
        else:
            x1 = ops.squeeze(x1, axis=-1)
    elif r2 == r1 + 1 and ops.shape(x2)[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, -1)
        else:
            x2 = ops.squeeze(x2, axis=-1)
    return x1, x2


def divide_no_nan(x1, x2):
    """``x1 / x2``, and 0 where ``x2 == 0`` (gradient-safe: never divides by zero)."""
    zero = ops.equal(x2, 0.0)
    safe = ops.where(zero, ops.ones_like(x2), x2)
    quotient = ops.divide(x1, safe)
    return ops.where(zero, ops.zeros_like(quotient), quotient)


def _align_weights(values, sample_weight, what="loss"):
    """Bring ``sample_weight`` to a shape that broadcasts against ``values``.

    Keras's rank rule first (``(batch, 1)`` vs ``(batch,)``); then a weight of lower
    rank gets trailing axes, so per-sample weights ``(batch,)`` weight every step of
    ``(batch, steps)`` values. (Keras 3 multiplies such shapes directly, which fails,
    or silently weights the wrong axis when ``steps == batch``.)
    """
    values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
    v_shape, w_shape = ops.shape(values), ops.shape(sample_weight)
    if len(w_shape) < len(v_shape):
        w_shape = w_shape + (1,) * (len(v_shape) - len(w_shape))
        sample_weight = ops.reshape(sample_weight, w_shape)
    for v, w in zip(v_shape[::-1], w_shape[::-1]):
        if w not in (1, v) and v != 1:
            raise ValueError(f"{what}: sample_weight of shape {ops.shape(sample_weight)} does not broadcast "
                             f"to the per-sample values of shape {v_shape}")
    return values, sample_weight


def apply_mask(sample_weight, mask, dtype, reduction):
    """Fold a boolean per-sample ``mask`` into ``sample_weight`` (Keras's rule).

    For the averaging reductions, valid entries get weight ``total / valid`` so that
    dividing by the number of entries averages over the valid ones only.
    """
    if mask is None:
        return sample_weight
    mask = ops.cast(mask, "bool")
    float_mask = ops.cast(mask, dtype)
    if reduction in ("sum_over_batch_size", "mean"):
        total = float(ops.size(mask))
        valid = ops.sum(float_mask)
        float_mask = ops.multiply(float_mask, divide_no_nan(ops.full((), total, dtype), valid))
    if sample_weight is None:
        return float_mask
    sample_weight = as_tensor(sample_weight, dtype)
    float_mask, sample_weight = _align_weights(float_mask, sample_weight, "mask")
    return ops.multiply(sample_weight, float_mask)


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Reduce already-weighted ``values`` to a scalar (or return them for ``"none"``)."""
    if reduction in (None, "none") or ops.ndim(values) == 0:
        return values
    if ops.size(values) == 0:
        return ops.zeros((), dtype=ops.dtype(values))
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        weight_sum = ops.sum(ops.broadcast_to(ops.cast(sample_weight, ops.dtype(values)), ops.shape(values)))
        return divide_no_nan(ops.sum(values), weight_sum)
    return ops.mean(values)     # the sum divided by the number of values, in one op


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size",
                           dtype="float32", what="loss"):
    """Weight per-sample ``values`` by ``sample_weight`` (and ``mask``) and reduce them."""
    reduction = standardize_reduction(reduction)
    values = as_tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = as_tensor(sample_weight, dtype)
    sample_weight = apply_mask(sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = _align_weights(values, sample_weight, what)
        values = ops.multiply(values, sample_weight)
    return reduce_values(values, sample_weight, reduction)


def _fit_output_mask(mask, values, loss_name):
    """The output ``mask`` brought to the rank of the per-sample ``values`` (Keras's trailing-1 rule);
    a clear error when it does not cover them (e.g. a loss that reduces the masked time axis)."""
    _, mask = squeeze_or_expand_to_same_rank(values, mask, expand_rank_1=False)
    m_shape, v_shape = ops.shape(mask), ops.shape(values)
    if len(m_shape) != len(v_shape) or any(m is not None and v is not None and m != v
                                           for m, v in zip(m_shape, v_shape)):
        raise ValueError(f"loss {loss_name!r}: the model output's mask has shape {tuple(m_shape)}, but the loss "
                         f"gives per-sample values of shape {tuple(v_shape)}; the mask must have the values' shape")
    return mask


@registry.register_serializable(package=PACKAGE)
class Loss:
    """Base class of every loss. Subclasses implement ``call(y_true, y_pred)``.

    ``call`` returns per-sample values; ``__call__`` converts the inputs to ``dtype``,
    applies ``sample_weight`` and ``reduction`` (see the module docstring) and returns
    a scalar tensor (per-sample values for ``reduction="none"``). A subclass whose
    values must skip some entries returns a boolean per-sample mask from
    ``compute_mask`` (``SparseCategoricalCrossentropy(ignore_class=...)`` does).
    """

    #: Whether ``__call__`` casts ``y_true`` to ``dtype`` (integer labels need not be).
    _float_labels = True

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        self.reduction = standardize_reduction(reduction)
        self.name = name or snake_case(type(self).__name__)
        self._dtype = ops.standardize_dtype(dtype) if dtype is not None else "float32"

    @property
    def dtype(self) -> str:
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self._call_masked(y_true, y_pred, sample_weight, None)

    def _call_masked(self, y_true, y_pred, sample_weight, output_mask):
        """``__call__`` that also leaves out the entries where ``output_mask`` is False.

        output_mask: the model output's mask (``(batch, ...)`` like the per-sample values)
        or ``None``; the compiled loss passes it where Keras 3 reads ``y_pred._keras_mask``.
        It is combined (and) with ``compute_mask``'s, then weighted as any mask.
        """
        y_pred = as_tensor(y_pred, self.dtype)
        y_true = as_tensor(y_true, self.dtype if self._float_labels else None)
        values = self.call(y_true, y_pred)
        mask = self.compute_mask(y_true, y_pred)
        if output_mask is not None:
            output_mask = _fit_output_mask(ops.cast(output_mask, "bool"), values, self.name)
            mask = output_mask if mask is None else ops.logical_and(output_mask, ops.cast(mask, "bool"))
        return reduce_weighted_values(values, sample_weight, mask=mask, reduction=self.reduction,
                                      dtype=self.dtype, what=f"loss {self.name!r}")

    def call(self, y_true, y_pred):
        """Per-sample loss values: ``y_true``, ``y_pred`` ``(batch, ..., d)`` -> ``(batch, ...)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def compute_mask(self, y_true, y_pred):
        """A boolean mask over the per-sample values, or ``None`` (every value counts)."""
        return None

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


@registry.register_serializable(package=PACKAGE)
class LossFunctionWrapper(Loss):
    """A ``Loss`` around a function ``fn(y_true, y_pred, **kwargs) -> per-sample values``.

    ``y_true`` and ``y_pred`` are first brought to the same rank (``(batch,)`` against
    ``(batch, 1)``). ``hl.losses.get(fn)`` wraps plain functions this way; saving one
    needs ``fn`` registered with ``@hl.saving.register_serializable()``.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper: fn must be callable, got {fn!r}")
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", None), dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        try:
            config["fn"] = registry.get_registered_name(self.fn)
        except ValueError:
            raise ValueError(f"cannot serialize loss {self.name!r}: its function {self.fn!r} is not registered; "
                             f"decorate it with @hl.saving.register_serializable()") from None
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, str):
            name = fn
            fn = registry.get_registered_object(name)
            if fn is None:
                raise ValueError(f"unknown loss function {name!r}: register it with "
                                 f"@hl.saving.register_serializable()")
        return cls(fn, **config)

    def __repr__(self):
        return f"<LossFunctionWrapper fn={getattr(self.fn, '__name__', self.fn)} kwargs={self._fn_kwargs}>"
