"""``StackedRNNCells``: several cells run one after another inside a single time step."""

from __future__ import annotations

from rnnkit.layers.cells.base import cell_state_specs, state_specs
from rnnkit.layers.layer import Layer, flatten

__all__ = ["StackedRNNCells"]


def _serialize_layer(layer):
    from rnnkit.layers.serialization import serialize

    return serialize(layer)


class StackedRNNCells(Layer):
    """Wrap a list of cells so they behave as one cell: the output of cell k feeds cell k+1.

    ``state_size`` is the list of the cells' state sizes; the states passed to ``call`` are one
    list per cell (a flat list of all states is accepted too).

    >>> import torch
    >>> from rnnkit.layers import LSTMCell, GRUCell
    >>> cell = StackedRNNCells([LSTMCell(4), GRUCell(2)])
    >>> states = [[torch.zeros(3, 4), torch.zeros(3, 4)], [torch.zeros(3, 2)]]
    >>> out, new = cell(torch.zeros(3, 5), states)
    >>> out.shape, [len(s) for s in new]
    (torch.Size([3, 2]), [2, 1])
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError("StackedRNNCells expects a non-empty list of cells, received []")
        for c in cells:
            no_call = isinstance(c, Layer) and type(c).call is Layer.call
            if no_call or not hasattr(c, "call") or not hasattr(c, "state_size"):
                raise ValueError(
                    f"every cell needs a call() method and a state_size attribute; received {c!r}"
                )
        self.cells = cells
        self._counts = None

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        if getattr(last, "output_size", None) is not None:
            return last.output_size
        return state_specs(last.state_size)[0][0]

    def state_counts(self) -> list[int]:
        """How many state tensors each cell has."""
        if self._counts is None:
            self._counts = [len(cell_state_specs(c)) for c in self.cells]
        return self._counts

    def build(self, input_shape):
        shape = input_shape
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(shape)
                cell.built = True
            out = cell.output_size if getattr(cell, "output_size", None) is not None else (
                state_specs(cell.state_size)[0][0]
            )
            out = out if isinstance(out, int) else tuple(out)[-1]
            shape = (*tuple(shape)[:-1], out)
        self.built = True

    def split_states(self, states) -> list[list]:
        """One list of states per cell, from nested or flat ``states``."""
        states = list(states)
        counts = self.state_counts()
        if len(states) == len(self.cells) and all(isinstance(s, list | tuple) for s in states):
            return [list(s) for s in states]
        flat = flatten(states)
        if len(flat) != sum(counts):
            raise ValueError(
                f"{self.name}: expected {sum(counts)} state tensors for cells with state counts "
                f"{counts}, received {len(flat)}"
            )
        out, i = [], 0
        for n in counts:
            out.append(flat[i : i + n])
            i += n
        return out

    def call(self, inputs, states, training=None):
        new_states = []
        x = inputs
        for cell, s in zip(self.cells, self.split_states(states)):
            x, ns = _call_cell(cell, x, s, training)
            new_states.append(ns)
        return x, new_states

    def get_initial_state(self, batch_size=None):
        from rnnkit.layers.cells.base import initial_states_for

        return [
            initial_states_for(c, batch_size, self.dtype, None) for c in self.cells
        ]

    def get_config(self):
        return {**super().get_config(), "cells": [_serialize_layer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from rnnkit.layers.serialization import deserialize

        config = dict(config)
        cells = [deserialize(c, custom_objects=custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


def _call_cell(cell, x, states, training):
    """Call one cell with a list of states; always return a list of new states."""
    if isinstance(cell, Layer):
        has_training, _ = cell._signature_flags()
        if not cell.built:
            cell._maybe_build(x)
        out, new = cell.call(x, states, training=training) if has_training else cell.call(x, states)
    else:
        out, new = cell(x, states)
    if not isinstance(new, list | tuple):
        new = [new]
    return out, list(flatten(list(new)))
