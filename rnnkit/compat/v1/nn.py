"""TF1's ``tf.compat.v1.nn`` recurrent functions: ``dynamic_rnn`` and ``bidirectional_dynamic_rnn``.

``rnn_cell`` is available as an attribute (``rnnkit.compat.v1.nn.rnn_cell.LSTMCell``). The loop
runs in Python over the time axis; with ``sequence_length``, outputs past each sequence's end are
zero and its state is carried through unchanged (TF's copy-through), so the final state is the
state at the last valid step.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.compat.v1 import rnn_cell
from rnnkit.layers.cells.base import initial_states_for
from rnnkit.layers.layer import flatten, map_structure, pack_as

__all__ = ["bidirectional_dynamic_rnn", "dynamic_rnn", "rnn_cell"]


def _as_tensor(x, what):
    if isinstance(x, np.ndarray | np.generic):
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, list | tuple | int | float):
        return torch.as_tensor(x)
    raise TypeError(f"{what} must be a tensor or an array, received {type(x).__name__}")


def _check_cell(cell, what="cell"):
    if not callable(cell) or not hasattr(cell, "state_size"):
        raise TypeError(
            f"{what} must be an RNN cell (callable with a state_size attribute), received "
            f"{type(cell).__name__}"
        )


def _zero_state(cell, batch, dtype, like):
    """TF1 cells: ``zero_state``; other cells: their ``get_initial_state`` (or zeros), as a list."""
    if isinstance(cell, rnn_cell.RNNCell) or (
        hasattr(cell, "zero_state") and not hasattr(cell, "get_initial_state")
    ):
        return map_structure(lambda t: t.to(like.device), cell.zero_state(batch, dtype))
    return list(initial_states_for(cell, batch, dtype, like.device, inputs=None))


def _standardize_state(cell, state, expected, batch, like):
    """Check ``state`` against ``expected`` (leaf count and shapes) and repack it like it."""
    want = flatten(expected) if isinstance(expected, list | tuple) else [expected]
    got = flatten(state) if isinstance(state, list | tuple) else [state]
    got = [_as_tensor(s, "initial_state") for s in got]
    shapes = [tuple(t.shape) for t in want]
    if len(got) != len(want) or any(tuple(g.shape) != s for g, s in zip(got, shapes)):
        raise ValueError(
            f"initial_state must match the cell's state structure {cell.state_size!r}: "
            f"{len(want)} tensor(s) of shapes {shapes}, received {len(got)} of shapes "
            f"{[tuple(g.shape) for g in got]}"
        )
    got = [g.to(device=like.device, dtype=w.dtype) for g, w in zip(got, want)]
    if isinstance(expected, torch.Tensor):
        return got[0]
    return pack_as(expected, got)


def _seq_len(sequence_length, batch, device):
    if sequence_length is None:
        return None
    sl = _as_tensor(sequence_length, "sequence_length")
    if sl.dim() != 1 or sl.shape[0] != batch:
        raise ValueError(
            f"sequence_length must be a vector of shape ({batch},) (one length per batch "
            f"entry), received shape {tuple(sl.shape)}"
        )
    if sl.is_floating_point() or sl.is_complex():
        raise TypeError(f"sequence_length must hold integers, received {sl.dtype}")
    return sl.to(device=device, dtype=torch.long)


def _check_inputs(inputs, time_major):
    x = _as_tensor(inputs, "inputs")
    if x.dim() != 3:
        layout = "(time, batch, depth)" if time_major else "(batch, time, depth)"
        raise ValueError(f"inputs must have rank 3 {layout}, received shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"inputs must be floating point, received {x.dtype}")
    return x


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None,
                parallel_iterations=None, swap_memory=False, time_major=False, scope=None):
    """Run ``cell`` over ``inputs`` (TF1's ``tf.nn.dynamic_rnn``).

    For each step ``t``: ``out_t, s_t = cell(x_t, s_{t-1})``; with ``sequence_length`` ``L``,
    entries with ``t >= L[b]`` get ``out_t[b] = 0`` and ``s_t[b] = s_{t-1}[b]``.

    Args:
        cell: a TF1 cell (``rnn_cell.LSTMCell`` ...) or any rnnkit cell.
        inputs: ``(batch, time, depth)``, or ``(time, batch, depth)`` with ``time_major``.
        sequence_length: optional int vector ``(batch,)``.
        initial_state: in the cell's state structure (default: zeros of ``dtype``).
        dtype: dtype of the zero state (default: the inputs' dtype).
        parallel_iterations, swap_memory, scope: accepted for compatibility; no effect.
        time_major: layout of ``inputs`` and ``outputs`` (default False).

    Returns:
        ``(outputs, state)``: ``outputs`` ``(batch, time, output_size)`` (time-major if asked),
        ``state`` the final state in the cell's structure (``LSTMStateTuple`` ...).

    >>> import torch
    >>> cell = rnn_cell.LSTMCell(4)
    >>> out, st = dynamic_rnn(cell, torch.ones(2, 5, 3), sequence_length=[5, 2])
    >>> out.shape, st.h.shape, bool((out[1, 2:] == 0).all())
    (torch.Size([2, 5, 4]), torch.Size([2, 4]), True)
    """
    _check_cell(cell)
    x = _check_inputs(inputs, time_major)
    xs = x.unbind(0) if time_major else x.unbind(1)
    batch = x.shape[1] if time_major else x.shape[0]
    if len(xs) == 0:
        raise ValueError(f"inputs need at least one time step, received shape {tuple(x.shape)}")
    if isinstance(cell, rnn_cell.RNNCell):
        cell._adopt_dtype(x.dtype)
    from rnnkit import config as _config

    sdtype = x.dtype if dtype is None else _config.torch_dtype(dtype)
    expected = _zero_state(cell, batch, sdtype, x)
    if initial_state is None:
        state = expected
    else:
        state = _standardize_state(cell, initial_state, expected, batch, x)
    lengths = _seq_len(sequence_length, batch, x.device)
    outs = []
    for t, x_t in enumerate(xs):
        out, new_state = cell(x_t, state)
        if isinstance(state, list) and isinstance(new_state, torch.Tensor):
            new_state = [new_state]
        if lengths is not None:
            keep = t < lengths
            out = map_structure(lambda o, k=keep: torch.where(_col(k, o), o, torch.zeros_like(o)),
                                out)
            new_leaves = [torch.where(_col(keep, n), n, s)
                          for n, s in zip(_leaves(new_state), _leaves(state))]
            new_state = new_leaves[0] if isinstance(new_state, torch.Tensor) else pack_as(
                new_state, new_leaves)
        outs.append(out)
        state = new_state
    axis = 0 if time_major else 1
    out_leaves = [flatten(o) if isinstance(o, list | tuple) else [o] for o in outs]
    stacked = [torch.stack([o[i] for o in out_leaves], axis) for i in range(len(out_leaves[0]))]
    outputs = stacked[0] if isinstance(outs[0], torch.Tensor) else pack_as(outs[0], stacked)
    return outputs, state


def _leaves(s):
    return [s] if isinstance(s, torch.Tensor) else flatten(s)


def _col(mask, like):
    return mask.reshape(-1, *([1] * (like.dim() - 1)))


def _reverse(x, lengths, time_major):
    """TF's ``reverse_sequence``: reverse the first ``lengths[b]`` steps of each sequence."""
    t_axis = 0 if time_major else 1
    if lengths is None:
        return x.flip(t_axis)
    steps = x.shape[t_axis]
    t = torch.arange(steps, device=x.device).unsqueeze(0)  # (1, T)
    lens = lengths.unsqueeze(1)  # (B, 1)
    idx = torch.where(t < lens, lens - 1 - t, t)  # (B, T)
    if time_major:
        idx = idx.transpose(0, 1)
    idx = idx.reshape(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return torch.gather(x, t_axis, idx)


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None,
                              initial_state_fw=None, initial_state_bw=None, dtype=None,
                              parallel_iterations=None, swap_memory=False, time_major=False,
                              scope=None):
    """Forward and backward :func:`dynamic_rnn` (TF1's ``tf.nn.bidirectional_dynamic_rnn``).

    The backward cell reads each sequence reversed within its own length (TF's
    ``reverse_sequence``: ``x_bw[b, t] = x[b, L_b - 1 - t]`` for ``t < L_b``) and its outputs
    are reversed back, so ``out_bw[b, t]`` lines up with ``x[b, t]``.

    Args:
        cell_fw, cell_bw: the two cells. inputs, sequence_length, dtype, time_major: as
        :func:`dynamic_rnn`. initial_state_fw, initial_state_bw: optional initial states.

    Returns:
        ``((out_fw, out_bw), (state_fw, state_bw))``.

    >>> import torch
    >>> fw, bw = rnn_cell.GRUCell(3), rnn_cell.GRUCell(3)
    >>> (o_fw, o_bw), (s_fw, s_bw) = bidirectional_dynamic_rnn(fw, bw, torch.ones(2, 4, 5))
    >>> o_fw.shape, o_bw.shape, s_bw.shape
    (torch.Size([2, 4, 3]), torch.Size([2, 4, 3]), torch.Size([2, 3]))
    """
    _check_cell(cell_fw, "cell_fw")
    _check_cell(cell_bw, "cell_bw")
    x = _check_inputs(inputs, time_major)
    batch = x.shape[1] if time_major else x.shape[0]
    lengths = _seq_len(sequence_length, batch, x.device)
    out_fw, state_fw = dynamic_rnn(cell_fw, x, lengths, initial_state_fw, dtype,
                                   time_major=time_major)
    out_bw, state_bw = dynamic_rnn(cell_bw, _reverse(x, lengths, time_major), lengths,
                                   initial_state_bw, dtype, time_major=time_major)
    out_bw = map_structure(lambda o: _reverse(o, lengths, time_major), out_bw)
    return (out_fw, out_bw), (state_fw, state_bw)
