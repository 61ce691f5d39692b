"""Research cells: peephole LSTM and the layer-normalised LSTM / simple RNN of TF Addons.

All three keep Keras's weight layout (``kernel``, ``recurrent_kernel``, ``bias`` with gates
i, f, c, o) and the built-in cells' hoisting protocol (``project_inputs`` + ``step``), so they run
inside ``rnnkit.layers.RNN`` and ``StackedRNNCells`` like the built-in cells.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit import constraints, initializers, regularizers
from rnnkit.layers.cells.builtin import _ser
from rnnkit.layers.cells.lstm import LSTMCell
from rnnkit.layers.cells.simple import SimpleRNNCell
from rnnkit.layers.layer import Layer
from rnnkit.saving.object_registry import register_keras_serializable

_register = register_keras_serializable(package="Addons")

__all__ = ["LayerNormLSTMCell", "LayerNormSimpleRNNCell", "PeepholeLSTMCell"]


@_register
class PeepholeLSTMCell(LSTMCell):
    """LSTM step with peephole connections (Gers & Schmidhuber), as Keras's PeepholeLSTMCell.

    .. math::
        z &= x_t W + h_{t-1} U + b \\quad (\\text{blocks } z_i, z_f, z_c, z_o) \\\\
        i &= \\sigma_r(z_i + w_i \\odot c_{t-1}), \\quad f = \\sigma_r(z_f + w_f \\odot c_{t-1}) \\\\
        c_t &= f \\odot c_{t-1} + i \\odot act(z_c) \\\\
        o &= \\sigma_r(z_o + w_o \\odot c_t), \\quad h_t = o \\odot act(c_t)

    Weights: ``kernel`` ``(F, 4u)``, ``recurrent_kernel`` ``(u, 4u)``, ``bias`` ``(4u,)``, then
    ``input_gate_peephole_weights``, ``forget_gate_peephole_weights``,
    ``output_gate_peephole_weights`` ``(u,)`` (initialised with ``kernel_initializer``).
    States ``[h, c]``. Arguments as :class:`~rnnkit.layers.LSTMCell`.

    >>> import torch
    >>> cell = PeepholeLSTMCell(3)
    >>> out, (h, c) = cell(torch.ones(2, 4), [torch.zeros(2, 3), torch.zeros(2, 3)])
    >>> out.shape, [w.shape for w in cell.get_weights()][3:]
    (torch.Size([2, 3]), [(3,), (3,), (3,)])
    """

    def build(self, input_shape):
        super().build(input_shape)
        for gate in ("input", "forget", "output"):
            name = f"{gate}_gate_peephole_weights"
            setattr(self, name, self.add_weight(shape=(self.units,), name=name,
                                                initializer=self.kernel_initializer))
        self.built = True

    def step(self, x_proj, states, training: bool = False):
        h_prev, c_prev = states[0], states[1]
        z = torch.addmm(x_proj, self._recurrent_mask(h_prev, training), self.recurrent_kernel)
        z_i, z_f, z_c, z_o = z.chunk(4, dim=-1)
        i = self.recurrent_activation(z_i + self.input_gate_peephole_weights * c_prev)
        f = self.recurrent_activation(z_f + self.forget_gate_peephole_weights * c_prev)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + self.output_gate_peephole_weights * c)
        h = o * self.activation(c)
        return h, [h, c]


class _LayerNorm(Layer):
    """Layer normalisation over the last axis: ``(x - mean) / sqrt(var + eps) * gamma + beta``."""

    def __init__(self, epsilon, gamma_initializer="ones", beta_initializer="zeros", center=True,
                 gamma_regularizer=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.epsilon, self.center = float(epsilon), bool(center)
        self.gamma_initializer, self.beta_initializer = gamma_initializer, beta_initializer
        self.gamma_regularizer, self.gamma_constraint = gamma_regularizer, gamma_constraint
        self.beta = None

    def build(self, input_shape):
        n = (int(input_shape[-1]),)
        self.gamma = self.add_weight(shape=n, initializer=self.gamma_initializer, name="gamma",
                                     regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape=n, initializer=self.beta_initializer, name="beta")
        self.built = True

    def call(self, x):
        return F.layer_norm(x, x.shape[-1:], self.gamma, self.beta, self.epsilon)


@_register
class LayerNormLSTMCell(LSTMCell):
    """LSTM step with layer normalisation before the nonlinearities (TF Addons' LayerNormLSTMCell).

    .. math::
        z &= LN_k(x_t W) + LN_r(h_{t-1} U) + b \\quad (\\text{blocks } z_i, z_f, z_c, z_o) \\\\
        i, f, o &= \\sigma_r(z_i), \\sigma_r(z_f), \\sigma_r(z_o) \\\\
        c_t &= LN_s(f \\odot c_{t-1} + i \\odot act(z_c)) \\\\
        h_t &= o \\odot act(c_t)

    where ``LN(v) = (v - mean(v)) / sqrt(var(v) + norm_epsilon) * gamma + beta`` over the last
    axis, each ``LN`` with its own ``gamma`` / ``beta``. The normalised ``c_t`` is the carried
    state (as in TF Addons). Weights: ``kernel`` ``(F, 4u)``, ``recurrent_kernel`` ``(u, 4u)``,
    ``bias`` ``(4u,)``, then ``gamma``, ``beta`` of the sublayers ``kernel_norm`` (4u),
    ``recurrent_norm`` (4u) and ``state_norm`` (u). States ``[h, c]``.

    Args:
        units and the other arguments of :class:`~rnnkit.layers.LSTMCell`;
        norm_gamma_initializer: default "ones"; norm_beta_initializer: default "zeros";
        norm_epsilon: default 1e-3.

    >>> import torch
    >>> cell = LayerNormLSTMCell(2, kernel_initializer="ones", recurrent_initializer="ones")
    >>> out, (h, c) = cell(torch.ones(1, 3), [torch.zeros(1, 2), torch.tensor([[0.0, 1.0]])])
    >>> [round(v, 3) for v in c[0].tolist()]
    [-0.996, 0.996]
    """

    def __init__(self, units, norm_gamma_initializer="ones", norm_beta_initializer="zeros",
                 norm_epsilon=1e-3, **kwargs):
        super().__init__(units, **kwargs)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_epsilon = float(norm_epsilon)
        for name in ("kernel_norm", "recurrent_norm", "state_norm"):
            setattr(self, name, _LayerNorm(self.norm_epsilon, self.norm_gamma_initializer,
                                           self.norm_beta_initializer, name=name,
                                           dtype=self._dtype_name))

    def build(self, input_shape):
        super().build(input_shape)
        b = input_shape[0] if len(input_shape) > 1 else None
        for norm, width in ((self.kernel_norm, 4 * self.units),
                            (self.recurrent_norm, 4 * self.units), (self.state_norm, self.units)):
            norm.build((b, width))
            norm.built = True
        self.built = True

    def project_inputs(self, inputs, training: bool = False):
        """``LN_k(dropout(x) W) + b`` for one step ``(B, F)`` or a whole sequence ``(B, T, F)``."""
        if training and self.dropout > 0:
            step = inputs if inputs.dim() == 2 else inputs[:, 0]
            mask = self.get_dropout_mask(step)
            inputs = inputs * (mask if inputs.dim() == 2 else mask.unsqueeze(1))
        z = self.kernel_norm.call(torch.matmul(inputs, self.kernel))
        return z + self.bias if self.bias is not None else z

    def step(self, x_proj, states, training: bool = False):
        h_prev, c_prev = states[0], states[1]
        r = self._recurrent_mask(h_prev, training) @ self.recurrent_kernel
        z = x_proj + self.recurrent_norm.call(r)
        z_i, z_f, z_c, z_o = z.chunk(4, dim=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = self.state_norm.call(f * c_prev + i * self.activation(z_c))
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        return {
            **super().get_config(),
            "norm_gamma_initializer": initializers.serialize(self.norm_gamma_initializer),
            "norm_beta_initializer": initializers.serialize(self.norm_beta_initializer),
            "norm_epsilon": self.norm_epsilon,
        }


@_register
class LayerNormSimpleRNNCell(SimpleRNNCell):
    """Simple RNN step with a scale-only layer norm before the bias (TF Addons' version).

    .. math::
        h_t = act\\Big(\\gamma \\odot \\frac{v - mean(v)}{\\sqrt{var(v) + \\epsilon}} + b\\Big),
        \\qquad v = x_t W + h_{t-1} U

    As in TF Addons the normalisation has no beta of its own: the cell's ``bias`` (added after
    the normalisation) plays that role. Weights: ``kernel`` ``(F, u)``, ``recurrent_kernel``
    ``(u, u)``, ``bias`` ``(u,)``, then ``gamma`` ``(u,)`` of the sublayer ``layernorm``.

    Args:
        units, activation ("tanh"), use_bias and the other arguments of
        :class:`~rnnkit.layers.SimpleRNNCell`; layernorm_epsilon: default 1e-5 (TF Addons');
        gamma_initializer ("ones"), gamma_regularizer, gamma_constraint.

    >>> import torch
    >>> cell = LayerNormSimpleRNNCell(2, activation=None, kernel_initializer="ones")
    >>> out, (h,) = cell(torch.ones(1, 3), [torch.tensor([[1.0, -1.0]])])
    >>> cell.recurrent_kernel.shape, out.shape
    (torch.Size([2, 2]), torch.Size([1, 2]))
    """

    def __init__(self, units, activation="tanh", layernorm_epsilon=1e-5, gamma_initializer="ones",
                 gamma_regularizer=None, gamma_constraint=None, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.layernorm_epsilon = float(layernorm_epsilon)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.layernorm = _LayerNorm(self.layernorm_epsilon, self.gamma_initializer, center=False,
                                    gamma_regularizer=self.gamma_regularizer,
                                    gamma_constraint=self.gamma_constraint, name="layernorm",
                                    dtype=self._dtype_name)

    def build(self, input_shape):
        super().build(input_shape)
        self.layernorm.build((None, self.units))
        self.layernorm.built = True
        self.built = True

    def _input_bias(self):
        return None  # the bias is added after the normalisation, in step()

    def step(self, x_proj, states, training: bool = False):
        h = self._recurrent_mask(states[0], training)
        v = self.layernorm.call(torch.addmm(x_proj, h, self.recurrent_kernel))
        if self.bias is not None:
            v = v + self.bias
        out = self.activation(v)
        return out, [out]

    def get_config(self):
        return {
            **super().get_config(),
            "layernorm_epsilon": self.layernorm_epsilon,
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "gamma_regularizer": _ser(regularizers, self.gamma_regularizer),
            "gamma_constraint": _ser(constraints, self.gamma_constraint),
        }
