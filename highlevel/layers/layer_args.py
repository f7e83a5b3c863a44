"""Argument checks shared by the convolution, pooling and reshaping layers.

Each helper raises ``ValueError`` naming the layer (class and name), the argument, what
was expected and what was given, so ``Conv2D(16, 0)`` fails at construction with a
message a user can act on.
"""

from __future__ import annotations

import numbers

from highlevel import ops


def describe(layer) -> str:
    """``Conv2D 'conv2d_1'``: how error messages name a layer."""
    return f"{type(layer).__name__} {layer.name!r}"


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(layer, name, value) -> int:
    """``value`` as an int, or ``ValueError`` unless it is a positive integer."""
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{describe(layer)}: {name} must be a positive integer, got {name}={value!r}")
    return int(value)


def int_tuple(layer, name, value, rank, allow_zero=False) -> tuple:
    """``3`` -> ``(3, 3)`` for rank 2; a sequence must have ``rank`` integers, each > 0
    (>= 0 with ``allow_zero``)."""
    if _is_int(value):
        values = (int(value),) * rank
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = None
        if values is None or len(values) != rank or not all(_is_int(v) for v in values):
            raise ValueError(f"{describe(layer)}: {name} must be an integer or a tuple of {rank} integers, "
                             f"got {name}={value!r}")
        values = tuple(int(v) for v in values)
    lowest = 0 if allow_zero else 1
    if any(v < lowest for v in values):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{describe(layer)}: {name} must be {bound}, got {name}={value!r}")
    return values


def padding_mode(layer, value, allow_causal=False) -> str:
    """``"valid"``/``"same"`` (and ``"causal"`` where allowed), case-insensitive."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    mode = value.lower() if isinstance(value, str) else value
    if mode not in allowed:
        raise ValueError(f"{describe(layer)}: padding must be one of {', '.join(map(repr, allowed))}, "
                         f"got padding={value!r}")
    return mode


def data_format(layer, value) -> str:
    """``None`` -> ``"channels_last"`` (the framework's layout); else one of the two Keras names."""
    value = "channels_last" if value is None else value
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{describe(layer)}: data_format must be 'channels_last' or 'channels_first', "
                         f"got data_format={value!r}")
    return value


def channels_last(x, data_format_):
    """``(batch, channels, *spatial)`` -> ``(batch, *spatial, channels)`` for channels_first data."""
    if data_format_ == "channels_last":
        return x
    rank = ops.ndim(x)
    return ops.transpose(x, (0,) + tuple(range(2, rank)) + (1,))


def restore_layout(x, data_format_):
    """The inverse of ``channels_last``."""
    if data_format_ == "channels_last":
        return x
    rank = ops.ndim(x)
    return ops.transpose(x, (0, rank - 1) + tuple(range(1, rank - 1)))


def shape_channels_last(shape, data_format_) -> tuple:
    shape = tuple(shape)
    if data_format_ == "channels_last":
        return shape
    return (shape[0],) + shape[2:] + (shape[1],)


def shape_restore_layout(shape, data_format_) -> tuple:
    shape = tuple(shape)
    if data_format_ == "channels_last":
        return shape
    return (shape[0], shape[-1]) + shape[1:-1]


def pair_of_pairs(layer, name, value) -> tuple:
    """ZeroPadding2D/Cropping2D amounts: ``n``, ``(h, w)`` or ``((top, bottom), (left, right))``."""
    if _is_int(value):
        if value < 0:
            raise ValueError(f"{describe(layer)}: {name} must be non-negative, got {name}={value!r}")
        return ((int(value),) * 2,) * 2
    try:
        parts = tuple(value)
    except TypeError:
        parts = ()
    if len(parts) != 2:
        raise ValueError(f"{describe(layer)}: {name} must be an int, a tuple of 2 ints or a tuple of 2 tuples "
                         f"of 2 ints, got {name}={value!r}")
    return tuple(int_tuple(layer, f"{name}[{i}]", part, 2, allow_zero=True) for i, part in enumerate(parts))
