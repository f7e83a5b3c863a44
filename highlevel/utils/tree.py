"""Nested structures (lists, tuples, dicts of leaves): flatten, pack, map.

Models take and return tensors, lists, tuples and dicts of tensors. These helpers
give every part of the framework one agreed order for the leaves:

* lists and tuples in order (namedtuples included);
* dicts by sorted key, as ``tree.flatten`` in Keras (dm-tree/optree do the same),
  so ``Model(inputs, outputs={"b": ..., "a": ...}).output_names == ["a", "b"]``;
* ``None`` and everything else is a leaf.
"""

from __future__ import annotations


def is_nested(x) -> bool:
    """Whether ``x`` is a list, tuple or dict (a structure rather than a leaf)."""
    return isinstance(x, (list, tuple, dict))


def _sorted_keys(d: dict):
    try:
        return sorted(d)
    except TypeError:  # mixed key types: keep insertion order rather than fail
        return list(d)


def flatten(structure) -> list:
    """The leaves of ``structure`` in the canonical order."""
    out: list = []
    _flatten_into(structure, out)
    return out


def _flatten_into(x, out):
    if isinstance(x, dict):
        for key in _sorted_keys(x):
            _flatten_into(x[key], out)
    elif isinstance(x, (list, tuple)):
        for item in x:
            _flatten_into(item, out)
    else:
        out.append(x)


def pack_sequence_as(structure, flat):
    """Rebuild ``structure``'s shape with the leaves ``flat`` (inverse of ``flatten``)."""
    flat = list(flat)
    packed, used = _pack(structure, flat, 0)
    if used != len(flat):
        raise ValueError(f"pack_sequence_as: the structure has {used} leaves but {len(flat)} values were given")
    return packed


def _pack(structure, flat, index):
    if isinstance(structure, dict):
        items = {}
        for key in _sorted_keys(structure):
            items[key], index = _pack(structure[key], flat, index)
        # Keep the caller's key order in the rebuilt dict.
        return {key: items[key] for key in structure}, index
    if isinstance(structure, (list, tuple)):
        items = []
        for item in structure:
            packed, index = _pack(item, flat, index)
            items.append(packed)
        if isinstance(structure, list):
            return items, index
        if hasattr(structure, "_fields"):  # namedtuple
            return type(structure)(*items), index
        return type(structure)(items), index
    if index >= len(flat):
        raise ValueError("pack_sequence_as: fewer values than leaves in the structure")
    return flat[index], index + 1


def map_structure(fn, structure):
    """Apply ``fn`` to every leaf, keeping the structure."""
    return pack_sequence_as(structure, [fn(leaf) for leaf in flatten(structure)])
