"""Tiny helpers for the nested structures the trainer passes around.

Inputs, targets, sample weights and outputs may be a single leaf, a list/tuple of
leaves or a dict of leaves (one level, as Keras models use them). ``None`` is kept as
a leaf so that "no targets" survives mapping.
"""

from __future__ import annotations


def is_nested(struct) -> bool:
    return isinstance(struct, (list, tuple, dict))


def flatten(struct) -> list:
    """Leaves of ``struct`` in order (dicts in insertion order)."""
    if isinstance(struct, dict):
        return [leaf for value in struct.values() for leaf in flatten(value)]
    if isinstance(struct, (list, tuple)):
        return [leaf for value in struct for leaf in flatten(value)]
    return [struct]


def map_structure(fn, struct):
    """``struct`` with ``fn`` applied to every leaf (``None`` leaves are passed through)."""
    if isinstance(struct, dict):
        return {key: map_structure(fn, value) for key, value in struct.items()}
    if isinstance(struct, (list, tuple)):
        mapped = [map_structure(fn, value) for value in struct]
        return mapped if isinstance(struct, list) else tuple(mapped)
    if struct is None:
        return None
    return fn(struct)
