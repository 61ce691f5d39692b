"""How :class:`~rnnkit.layers.rnn.RNN` runs a cell: the fused kernel a cell maps to
(:func:`fused_spec`), and the per-step adaptors the loops call (a built-in cell with its input
projection hoisted over the sequence, stacked cells, any cell through its ``call``)."""

from __future__ import annotations

import inspect

import torch

from rnnkit.layers.cells.builtin import BuiltinCell
from rnnkit.layers.cells.stacked import _call_cell
from rnnkit.layers.layer import Layer, flatten

__all__ = ["fused_spec"]


def fused_spec(cell, unroll: bool = False) -> tuple[str | None, list[str]]:
    """Which fused kernel runs ``cell`` (or None) and, if none, what prevents it.

    Only rnnkit's own SimpleRNNCell (tanh / relu), LSTMCell (tanh, sigmoid) and GRUCell (tanh,
    sigmoid, reset_after) qualify, with no recurrent dropout and ``unroll=False``. Subclasses
    that override ``call`` or ``step`` never do: their math is theirs.
    """
    from rnnkit import activations
    from rnnkit.layers.cells.gru import GRUCell
    from rnnkit.layers.cells.lstm import LSTMCell
    from rnnkit.layers.cells.simple import SimpleRNNCell

    cls = type(cell)
    if cls not in (SimpleRNNCell, LSTMCell, GRUCell):
        return None, [f"cell {cls.__name__} is not a built-in SimpleRNNCell / LSTMCell / GRUCell"]
    blockers = []
    if unroll:
        blockers.append("unroll=True")
    if cell.recurrent_dropout > 0:
        blockers.append(f"recurrent_dropout={cell.recurrent_dropout}")
    act, rec = cell.activation, cell.recurrent_activation
    if cls is SimpleRNNCell:
        if act not in (activations.tanh, activations.relu):
            blockers.append(f"activation={activations.serialize(act)!r}")
        kind = "rnn_tanh" if act is activations.tanh else "rnn_relu"
    else:
        if act is not activations.tanh:
            blockers.append(f"activation={activations.serialize(act)!r}")
        if rec is not activations.sigmoid:
            blockers.append(f"recurrent_activation={activations.serialize(rec)!r}")
        if cls is GRUCell and not cell.reset_after:
            blockers.append("reset_after=False")
        kind = "lstm" if cls is LSTMCell else "gru"
    return (None if blockers else kind), blockers


def _hoistable(cell) -> bool:
    """Built-in cell whose one-step math is rnnkit's own (so the input projection can be hoisted)."""
    return isinstance(cell, BuiltinCell) and getattr(type(cell).call, "_rnnkit_hoistable", False)



class _HoistedStep:
    """Built-in cell: project all steps' inputs in one matrix product, then step the recurrence."""

    def __init__(self, cell, x, training):
        self.cell, self.training = cell, training
        self.hoisted = cell.project_inputs(x, training)  # (B, T, gates * units)

    def __call__(self, xp_t, states):
        return self.cell.step(xp_t, states, self.training)


class _StackedStep:
    """Stacked cells: the first cell's input projection hoisted when it is a built-in cell."""

    def __init__(self, cell, x, training):
        self.cell, self.training = cell, training
        self.first = cell.cells[0]
        self.hoist_first = _hoistable(self.first)
        self.hoisted = self.first.project_inputs(x, training) if self.hoist_first else None
        self.counts = cell.state_counts()

    def __call__(self, x_t, states):
        new, i, out = [], 0, x_t
        for k, (c, n) in enumerate(zip(self.cell.cells, self.counts)):
            s = states[i : i + n]
            i += n
            if k == 0 and self.hoist_first:
                out, ns = c.step(out, s, self.training)
            else:
                out, ns = _call_cell(c, out, s, self.training)
            new.extend(ns)
        return out, new


_CALL_FLAGS: dict = {}  # (cell class, call function) -> (takes training, takes constants)


class _GenericStep:
    """Any cell: call its ``call(x_t, states[, training][, constants])`` each step."""

    hoisted = None

    def __init__(self, cell, training, extra):
        self.cell = cell
        fn = cell.call if isinstance(cell, Layer) else cell
        key = (type(cell), getattr(fn, "__func__", fn))
        flags = _CALL_FLAGS.get(key)
        if flags is None:  # (inspect.signature costs tens of microseconds: once per cell class)
            try:
                params = inspect.signature(fn).parameters
            except (TypeError, ValueError):
                params = {}
            var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
            flags = ("training" in params or var_kw, "constants" in params or var_kw)
            if len(_CALL_FLAGS) < 4096:
                _CALL_FLAGS[key] = flags
        takes_training, takes_constants = flags
        kw = dict(extra)
        if takes_training:
            kw["training"] = training
        if extra and not takes_constants:
            raise ValueError(
                f"constants were given but {type(cell).__name__}.call does not accept a "
                f"'constants' argument"
            )
        self.fn, self.kw = fn, kw
        self.structure = cell.state_size

    def __call__(self, x_t, states):
        out, new = self.fn(x_t, states, **self.kw)
        if isinstance(new, torch.Tensor):
            return out, [new]
        return out, flatten(list(new))
