"""``GRUCell``: the gated recurrent unit step (Cho et al., 2014)."""

from __future__ import annotations

import torch

from rnnkit.layers.cells.builtin import BuiltinCell

__all__ = ["GRUCell"]


class GRUCell(BuiltinCell):
    """One GRU step. Gates are laid out z, r, h along the kernels' last axis (Keras's order).

    .. math::
        z &= \\sigma_r(x W_z + h_{t-1} U_z + b_z), \\quad r = \\sigma_r(x W_r + h_{t-1} U_r + b_r) \\\\
        \\tilde h &= \\mathrm{act}(x W_h + r \\odot (h_{t-1} U_h + b^{rec}_h))
            \\ \\text{(reset_after=True)} \\\\
        \\tilde h &= \\mathrm{act}(x W_h + (r \\odot h_{t-1}) U_h + b_h)
            \\ \\text{(reset_after=False)} \\\\
        h_t &= z \\odot h_{t-1} + (1 - z) \\odot \\tilde h

    Weights: ``kernel`` ``(F, 3u)``, ``recurrent_kernel`` ``(u, 3u)``, ``bias`` ``(2, 3u)``
    (input bias, recurrent bias) when ``reset_after`` (default, cuDNN-compatible), else ``(3u,)``.

    >>> import torch
    >>> cell = GRUCell(4)
    >>> out, h = cell(torch.zeros(2, 3), [torch.zeros(2, 4)])
    >>> out.shape, cell.bias.shape
    (torch.Size([2, 4]), torch.Size([2, 12]))
    """

    _gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if self.bias is None:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def step(self, x_proj, states, training: bool = False):
        h_prev = states[0]
        u = self.units
        h_rec = self._recurrent_mask(h_prev, training)
        x_z, x_r, x_h = x_proj.split(u, dim=-1)
        if self.reset_after:
            inner = torch.matmul(h_rec, self.recurrent_kernel)
            if self.bias is not None:
                inner = inner + self.bias[1]
            r_z, r_r, r_h = inner.split(u, dim=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            hh = self.activation(x_h + r * r_h)
        else:
            inner = torch.matmul(h_rec, self.recurrent_kernel[:, : 2 * u])
            r_z, r_r = inner.split(u, dim=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            hh = self.activation(x_h + torch.matmul(r * h_rec, self.recurrent_kernel[:, 2 * u :]))
        h = z * h_prev + (1 - z) * hh
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
