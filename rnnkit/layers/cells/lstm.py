"""``LSTMCell``: the long short-term memory step (Hochreiter & Schmidhuber, 1997)."""

from __future__ import annotations

import torch

from rnnkit import activations, initializers
from rnnkit.layers.cells.builtin import BuiltinCell

__all__ = ["LSTMCell"]


class _UnitForgetBias:
    """Bias initializer: zeros for gates i, c, o and ones for the forget gate."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        u = self.units
        parts = [
            self.base((u,), dtype=dtype),
            initializers.get("ones")((u,), dtype=dtype),
            self.base((2 * u,), dtype=dtype),
        ]
        return torch.cat(parts)


class LSTMCell(BuiltinCell):
    """One LSTM step. Gates are laid out i, f, c, o along the kernels' last axis (Keras's order).

    .. math::
        z &= x_t W + h_{t-1} U + b \\\\
        i, f, o &= \\sigma_r(z_i), \\sigma_r(z_f), \\sigma_r(z_o) \\\\
        c_t &= f \\odot c_{t-1} + i \\odot \\mathrm{activation}(z_c) \\\\
        h_t &= o \\odot \\mathrm{activation}(c_t)

    Weights: ``kernel`` ``(F, 4u)``, ``recurrent_kernel`` ``(u, 4u)``, ``bias`` ``(4u,)``.
    States: ``[h, c]``; the output is ``h``.

    Args:
        units: state size (> 0). activation: default "tanh"; recurrent_activation: "sigmoid".
        unit_forget_bias: initialise the forget-gate bias to one (default True).
        Others as :class:`SimpleRNNCell`.

    >>> import torch
    >>> cell = LSTMCell(4)
    >>> out, (h, c) = cell(torch.zeros(2, 3), [torch.zeros(2, 4), torch.zeros(2, 4)])
    >>> out.shape, c.shape
    (torch.Size([2, 4]), torch.Size([2, 4]))
    """

    _cudnn_flattenable = True
    _gates = 4

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    @property
    def _default_activations(self) -> bool:
        return self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid

    def _bias_init(self):
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def step(self, x_proj, states, training: bool = False):
        h_prev, c_prev = states[0], states[1]
        z = torch.addmm(x_proj, self._recurrent_mask(h_prev, training), self.recurrent_kernel)
        if self._default_activations:
            # One sigmoid over all four blocks and fused multiply-adds: fewer kernels and
            # autograd nodes per step; the c block's sigmoid is computed and ignored.
            u = self.units
            i, f, _, o = torch.sigmoid(z).chunk(4, dim=-1)
            c = torch.addcmul(f * c_prev, i, torch.tanh(z[:, 2 * u : 3 * u]))
            h = o * torch.tanh(c)
            return h, [h, c]
        z_i, z_f, z_c, z_o = z.chunk(4, dim=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def call(self, inputs, states, training=None):
        if not isinstance(states, list | tuple) or len(states) != 2:
            raise ValueError(
                f"{self.name}: LSTMCell expects states [h, c] (2 tensors), received "
                f"{type(states).__name__} of length {len(states) if isinstance(states, list | tuple) else 1}"
            )
        return super().call(inputs, states, training)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


LSTMCell.call._rnnkit_hoistable = True  # the loop may hoist this call's input projection
