"""Research cells (peephole LSTM, TF Addons' layer-norm cells) and RNN's constants / time_major."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import activations, initializers
from rnnkit.compat.v1 import nn as tf1_nn
from rnnkit.layers import RNN, AbstractRNNCell, Layer, StackedRNNCells
from rnnkit.layers.cells.research import (
    LayerNormLSTMCell,
    LayerNormSimpleRNNCell,
    PeepholeLSTMCell,
)
from rnnkit.layers.serialization import deserialize, serialize

RNG = np.random.default_rng(42)


def sig(v):
    return 1 / (1 + np.exp(-v))


def ln(v, gamma, beta, eps):
    mean = v.mean(-1, keepdims=True)
    var = ((v - mean) ** 2).mean(-1, keepdims=True)
    return (v - mean) / np.sqrt(var + eps) * gamma + beta


def _randomize(cell):
    ws = [RNG.normal(size=w.shape) * 0.5 for w in cell.get_weights()]
    cell.set_weights(ws)
    return ws


def _run(cell, x):
    layer = RNN(cell, return_sequences=True, return_state=True, dtype="float64")
    res = layer(torch.from_numpy(x))
    return [r.detach().numpy() for r in res]


def test_peephole_lstm_matches_equations():
    cell = PeepholeLSTMCell(3, dtype="float64")
    x = RNG.normal(size=(2, 5, 4))
    cell.build((None, 4))
    assert [w._rnnkit_name for w in cell.weights] == [
        "kernel", "recurrent_kernel", "bias", "input_gate_peephole_weights",
        "forget_gate_peephole_weights", "output_gate_peephole_weights"]
    W, U, b, wi, wf, wo = _randomize(cell)
    seq, h_last, c_last = _run(cell, x)
    h, c = np.zeros((2, 3)), np.zeros((2, 3))
    for t in range(5):
        z = x[:, t] @ W + h @ U + b
        zi, zf, zc, zo = np.split(z, 4, axis=1)
        i, f = sig(zi + wi * c), sig(zf + wf * c)
        c = f * c + i * np.tanh(zc)
        h = sig(zo + wo * c) * np.tanh(c)
        np.testing.assert_allclose(seq[:, t], h, atol=1e-12)
    np.testing.assert_allclose(c_last, c, atol=1e-12)


def test_layer_norm_lstm_matches_equations():
    eps = 1e-3
    cell = LayerNormLSTMCell(3, dtype="float64")
    x = RNG.normal(size=(2, 4, 5))
    cell.build((None, 5))
    W, U, b, gk, bk, gr, br, gs, bs = _randomize(cell)
    seq, h_last, c_last = _run(cell, x)
    h, c = np.zeros((2, 3)), np.zeros((2, 3))
    for t in range(4):
        z = ln(x[:, t] @ W, gk, bk, eps) + ln(h @ U, gr, br, eps) + b
        zi, zf, zc, zo = np.split(z, 4, axis=1)
        c = ln(sig(zf) * c + sig(zi) * np.tanh(zc), gs, bs, eps)
        h = sig(zo) * np.tanh(c)
        np.testing.assert_allclose(seq[:, t], h, atol=1e-12)
    np.testing.assert_allclose(h_last, h, atol=1e-12)
    np.testing.assert_allclose(c_last, c, atol=1e-12)


def test_layer_norm_lstm_tfa_reference():
    const = initializers.Constant(0.5)
    cells = [
        LayerNormLSTMCell(2, kernel_initializer=const, recurrent_initializer=const,
                          bias_initializer=const, norm_epsilon=1e-12, dtype="float64")
        for _ in range(2)
    ]
    stacked = StackedRNNCells(cells, dtype="float64")
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    states = ((t([0.2, 0.3]), t([0.0, 0.1])), (t([0.6, 0.7]), t([0.4, 0.5])))
    out, ((h0, c0), (h1, c1)) = stacked(x, states)
    expected_h, expected_c = [[-0.47406167, 0.47406143]], [[-1.0, 1.0]]
    for h in (out, h0, h1):
        np.testing.assert_allclose(h.detach().numpy(), expected_h, atol=1e-6)
    for c in (c0, c1):
        np.testing.assert_allclose(c.detach().numpy(), expected_c, atol=1e-6)


def test_layer_norm_simple_rnn_matches_equations():
    eps = 1e-5
    cell = LayerNormSimpleRNNCell(3, dtype="float64")
    x = RNG.normal(size=(2, 4, 5))
    cell.build((None, 5))
    assert [w._rnnkit_name for w in cell.weights] == [
        "kernel", "recurrent_kernel", "bias", "gamma"]
    W, U, b, g = _randomize(cell)
    seq, h_last = _run(cell, x)
    h = np.zeros((2, 3))
    for t in range(4):
        h = np.tanh(ln(x[:, t] @ W + h @ U, g, 0.0, eps) + b)
        np.testing.assert_allclose(seq[:, t], h, atol=1e-12)
    np.testing.assert_allclose(h_last, h, atol=1e-12)


@pytest.mark.parametrize("cls", [PeepholeLSTMCell, LayerNormLSTMCell, LayerNormSimpleRNNCell])
def test_config_serialization_and_dropout(cls):
    cell = cls(4, dropout=0.2, recurrent_dropout=0.3, name="c")
    clone = deserialize(serialize(cell))
    assert type(clone) is cls and clone.get_config() == cell.get_config()
    layer = RNN(cell, return_sequences=True)
    x = torch.randn(3, 5, 2)
    layer(x, training=True).sum().backward()
    assert all(w.grad is not None for w in cell.weights)
    assert layer(x).shape == (3, 5, 4)


def test_bad_units():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        LayerNormLSTMCell(0)


class _ConstCell(Layer):
    """Keras 2 style cell that reads an extra constant at every step."""

    def __init__(self, units, const_dim, **kwargs):
        super().__init__(**kwargs)
        self.units, self.const_dim = units, const_dim

    @property
    def state_size(self):
        return self.units

    def build(self, input_shape):
        # Keras 2 convention: with constants, build gets [step_input_shape, *constant_shapes].
        step_shape, const_shape = input_shape
        assert const_shape[-1] == self.const_dim
        self.kernel = self.add_weight(shape=(step_shape[-1], self.units), name="kernel")
        self.const_kernel = self.add_weight(shape=(const_shape[-1], self.units), name="const")

    def call(self, inputs, states, constants=None):
        out = torch.tanh(inputs @ self.kernel + states[0] + constants[0] @ self.const_kernel)
        return out, [out]


def test_rnn_constants_reach_every_step():
    torch.manual_seed(0)
    cell = _ConstCell(3, 2)
    layer = RNN(cell, return_sequences=True)
    x, k = torch.randn(2, 4, 5), torch.randn(2, 2)
    seq = layer(x, constants=[k])
    h = torch.zeros(2, 3)
    for t in range(4):
        h = torch.tanh(x[:, t] @ cell.kernel + h + k @ cell.const_kernel)
        torch.testing.assert_close(seq[:, t], h)
    assert not torch.allclose(layer(x, constants=[k + 1.0]), seq)
    with pytest.raises(ValueError, match="constants"):
        RNN(PeepholeLSTMCell(3))(x, constants=[k])


@pytest.mark.parametrize("make", [lambda: LayerNormLSTMCell(3), lambda: PeepholeLSTMCell(3),
                                  lambda: _ConstCell(3, 2)])
def test_rnn_time_major_equals_transposed_batch_major(make):
    torch.manual_seed(1)
    cell = make()
    x = torch.randn(2, 6, 4)
    kw = {"constants": [torch.ones(2, 2)]} if isinstance(cell, _ConstCell) else {}
    batch_major = RNN(cell, return_sequences=True, return_state=True)(x, **kw)
    time_major = RNN(cell, return_sequences=True, return_state=True, time_major=True)(
        x.transpose(0, 1), **kw)
    torch.testing.assert_close(time_major[0], batch_major[0].transpose(0, 1))
    for a, b in zip(time_major[1:], batch_major[1:]):
        torch.testing.assert_close(a, b)


class SLSTMCell(AbstractRNNCell):
    """The simplified LSTM of tutorial 003 (Wu 2016), with h0 = 1 as its initial state."""

    def __init__(self, units, activation="tanh", recurrent_activation="hard_sigmoid", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)

    @property
    def state_size(self):
        return [self.units, self.units]

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], 2 * u), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(u, 2 * u), name="recurrent_kernel",
                                                initializer="orthogonal")
        self.bias = self.add_weight(shape=(2 * u,), name="bias", initializer="zeros")

    def call(self, inputs, states, training=None):
        h_tm1, c_tm1 = states[0], states[1]
        x_f, x_c = (inputs @ self.kernel + self.bias).chunk(2, dim=-1)
        u = self.units
        f = self.recurrent_activation(x_f + h_tm1 @ self.recurrent_kernel[:, :u])
        c = f * c_tm1 + (1 - f) * self.activation(x_c + h_tm1 @ self.recurrent_kernel[:, u:])
        h = self.activation(c)
        return h, [h, c]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        h_0 = torch.ones(batch_size, self.units, dtype=dtype)
        c_0 = torch.zeros(batch_size, self.units, dtype=dtype)
        return [h_0, c_0]


def test_slstm_custom_initial_state_inside_rnn():
    torch.manual_seed(0)
    cell = SLSTMCell(2, activation=None)
    layer = RNN(cell, return_sequences=True)
    x = torch.rand(3, 30, 1)
    seq = layer(x)
    assert seq.shape == (3, 30, 2)
    zero = layer(x, initial_state=[torch.zeros(3, 2), torch.zeros(3, 2)])
    assert not torch.allclose(seq[:, 0], zero[:, 0])
    ones = layer(x, initial_state=[torch.ones(3, 2), torch.zeros(3, 2)])
    torch.testing.assert_close(seq, ones)  # the cell's own initial state was used


def test_slstm_trains_through_dynamic_rnn():
    torch.manual_seed(0)
    cell = SLSTMCell(1, activation=None)
    x = torch.rand(16, 10, 1)
    y = x.cumsum(1) + 1

    def loss_fn():
        out, _ = tf1_nn.dynamic_rnn(cell, x)
        return ((out - y) ** 2).mean()

    loss = loss_fn()
    loss.backward()
    assert all(w.grad is not None and float(w.grad.abs().sum()) > 0 for w in cell.weights)
    first = float(loss.detach())
    for _ in range(5):
        cell.zero_grad()
        loss_fn().backward()
        with torch.no_grad():  # plain SGD
            for w in cell.weights:
                w -= 0.01 * w.grad
    assert float(loss_fn().detach()) < first
