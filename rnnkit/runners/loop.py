"""The generic runner: steps any cell over time with Keras's masking semantics.

Masked steps carry the states unchanged and repeat the previous output (zeros before the first
valid step); with ``zero_output_for_mask`` the masked outputs are zeros instead. Inputs arrive in
processing order (the layer has already reversed them for ``go_backwards``).
"""

from __future__ import annotations

import torch

from rnnkit.nest import flatten, pack_as

__all__ = ["run_loop"]


def run_loop(step_fn, inputs, states, mask=None, zero_output_for_mask=False, return_sequences=True):
    """Run ``step_fn(x_t, states) -> (out_t, new_states)`` over the time axis (axis 1).

    Args:
        step_fn: one step; ``x_t`` has the structure of ``inputs`` without the time axis,
            ``states`` is a flat list of tensors and so is the returned ``new_states``.
        inputs: a tensor ``(B, T, ...)`` or a nested structure of them.
        states: flat list of initial state tensors.
        mask: optional bool tensor ``(B, T)``.

    Returns:
        ``(last_output, outputs, final_states)``; ``outputs`` (stacked on axis 1, same structure
        as the cell's output) is None when ``return_sequences`` is False.
    """
    leaves = flatten(inputs)
    steps = leaves[0].shape[1]
    per_leaf = [leaf.unbind(1) for leaf in leaves]
    nested = len(leaves) > 1 or not isinstance(inputs, torch.Tensor)
    xs = [pack_as(inputs, [p[t] for p in per_leaf]) for t in range(steps)] if nested else per_leaf[0]
    states = list(states)
    outs = []
    if mask is None:
        out = None
        for t in range(steps):
            out, states = step_fn(xs[t], states)
            if return_sequences:
                outs.append(out)
        last = out
    else:
        m_steps = mask.unbind(1)
        prev = None
        for t in range(steps):
            out, new_states = step_fn(xs[t], states)
            m = m_steps[t]
            out_leaves = flatten(out)
            if prev is None:
                prev = [torch.zeros_like(o) for o in out_leaves]
            out_leaves = [torch.where(_expand(m, o), o, p) for o, p in zip(out_leaves, prev)]
            states = [torch.where(_expand(m, n), n, s) for n, s in zip(new_states, states)]
            prev = out_leaves
            outs.append(out_leaves)
        last_leaves = outs[-1]
        if zero_output_for_mask:
            m_last = m_steps[-1]
            last_leaves = [torch.where(_expand(m_last, o), o, torch.zeros_like(o)) for o in last_leaves]
        last = pack_as(out, last_leaves)
        if return_sequences:
            stacked = [torch.stack([o[i] for o in outs], 1) for i in range(len(last_leaves))]
            if zero_output_for_mask:
                stacked = [torch.where(_expand(mask, s), s, torch.zeros_like(s)) for s in stacked]
            return last, pack_as(out, stacked), states
        return last, None, states
    if not return_sequences:
        return last, None, states
    out_leaves = [flatten(o) for o in outs]
    stacked = [torch.stack([o[i] for o in out_leaves], 1) for i in range(len(out_leaves[0]))]
    return last, pack_as(outs[0], stacked), states


def _expand(mask, like):
    """Broadcast a ``(B,)`` or ``(B, T)`` mask against ``like``."""
    return mask.reshape(*mask.shape, *([1] * (like.dim() - mask.dim())))
