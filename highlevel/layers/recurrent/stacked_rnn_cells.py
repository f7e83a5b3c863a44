"""``StackedRNNCells``: several cells run as one, each step feeding the next cell's input."""

from __future__ import annotations

from highlevel.layers.layer import Layer, _call_signature
from highlevel.layers.recurrent.rnn import as_state_list
from highlevel.saving import registry


def _sizes(cell) -> list:
    size = cell.state_size
    return [size] if isinstance(size, int) else list(size)


@registry.register_serializable(package="highlevel")
class StackedRNNCells(Layer):
    """Cells applied in order at each step; the states are the cells' states, concatenated in one
    flat list (first cell's first). ``RNN([cell_1, cell_2])`` builds one."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError(f"StackedRNNCells {self.name!r}: expected at least one cell, got an empty list")
        for cell in cells:
            if not callable(getattr(cell, "call", None)) or getattr(cell, "state_size", None) is None:
                raise ValueError(f"StackedRNNCells {self.name!r}: every cell needs call(inputs, states) and "
                                 f"state_size, got {cell!r}")
        self.cells = cells

    @property
    def state_size(self) -> list:
        return [size for cell in self.cells for size in _sizes(cell)]

    @property
    def output_size(self) -> int:
        last = self.cells[-1]
        return getattr(last, "output_size", None) or _sizes(last)[0]

    def get_initial_state(self, batch_size=None):
        from highlevel import ops
        states = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn is not None:
                states += as_state_list(fn(batch_size=batch_size))
            else:
                states += [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in _sizes(cell)]
        return states

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if not cell.built:
                cell.build(shape)
                cell.built = True
            output_size = getattr(cell, "output_size", None) or _sizes(cell)[0]
            shape = shape[:-1] + (output_size,)
        self.built = True

    def call(self, inputs, states, training=False):
        states = as_state_list(states)
        new_states, start = [], 0
        for cell in self.cells:
            count = len(_sizes(cell))
            own = states[start:start + count]
            start += count
            kwargs = {"training": training} if _call_signature(type(cell))[0] else {}
            inputs, cell_states = cell(inputs, own, **kwargs)
            new_states += as_state_list(cell_states)
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), "cells": [registry.serialize(cell) for cell in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [registry.deserialize(c, custom_objects=custom_objects, expected="layer") for c in config.pop("cells")]
        return cls(cells, **config)
