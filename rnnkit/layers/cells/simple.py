"""``SimpleRNNCell``: the fully connected recurrent step."""

from __future__ import annotations

import torch

from rnnkit.layers.cells.builtin import BuiltinCell

__all__ = ["SimpleRNNCell"]


class SimpleRNNCell(BuiltinCell):
    """One step of a fully connected RNN whose output is fed back as the next state.

    .. math:: h_t = \\mathrm{activation}(x_t W + h_{t-1} U + b)

    Weights (Keras layout): ``kernel`` ``(F, units)``, ``recurrent_kernel`` ``(units, units)``,
    ``bias`` ``(units,)``.

    Args:
        units: state size (> 0).
        activation: default ``"tanh"``.
        use_bias, kernel_initializer ("glorot_uniform"), recurrent_initializer ("orthogonal"),
        bias_initializer ("zeros"), *_regularizer, *_constraint: as in Keras.
        dropout: input dropout rate; recurrent_dropout: rate on the previous state.

    Call: ``out, new_states = cell(x_t, states)`` with ``x_t`` ``(B, F)`` and ``states`` a list
    ``[h]`` (or a bare tensor, returned bare).

    >>> import torch
    >>> cell = SimpleRNNCell(3)
    >>> out, h = cell(torch.zeros(4, 5), [torch.zeros(4, 3)])
    >>> out.shape, len(h)
    (torch.Size([4, 3]), 1)
    """

    _cudnn_flattenable = True
    _gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def step(self, x_proj, states, training: bool = False):
        h = self._recurrent_mask(states[0], training)
        out = self.activation(torch.addmm(x_proj, h, self.recurrent_kernel))
        return out, [out]
