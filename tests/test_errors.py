"""Misuse raises before any computation, with a message naming what was expected and received."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers

B, T, F, U = 3, 5, 4, 2
X = torch.randn(B, T, F, generator=torch.Generator().manual_seed(0))


class CountingCell(layers.Layer):
    """A cell that counts its steps, to prove an error came before any computation."""

    def __init__(self, units=U, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.steps = 0

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

    def call(self, inputs, states):
        self.steps += 1
        out = inputs @ self.kernel + states[0]
        return out, [out]


def built(layer, x=X):
    layer(x)
    return layer


# ---------------------------------------------------------------------------------------------
# input rank / feature size / dtype
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
@pytest.mark.parametrize("shape", [(B, F), (F,)])
def test_rank_too_low(cls, shape, fused_spy):
    layers_ = (cls(U), built(cls(U)))
    n = len(fused_spy.calls)
    for layer in layers_:
        with pytest.raises(ValueError, match=r"rank (>= )?3.*received shape.*\(" + str(shape[0])):
            layer(torch.zeros(shape))
    assert len(fused_spy.calls) == n


def test_rank_too_low_generic_rnn():
    cell = CountingCell()
    with pytest.raises(ValueError, match=r"rank >= 3.*\(3, 4\)"):
        layers.RNN(cell)(torch.zeros(3, 4))
    assert cell.steps == 0


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_rank_too_high_for_builtin_layers(cls):
    with pytest.raises(ValueError, match=r"rank.*3.*\(3, 5, 4, 2\)"):
        cls(U)(torch.zeros(3, 5, 4, 2))


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_feature_size_differs_from_built_one(cls, fused_spy):
    layer = built(cls(U))
    n = len(fused_spy.calls)
    with pytest.raises(ValueError, match=r"\(4,\).*received.*\(6,\)"):
        layer(torch.zeros(B, T, 6))
    assert len(fused_spy.calls) == n
    model = rnnkit.Sequential([cls(U, input_shape=(None, F))])
    with pytest.raises(ValueError, match=r"\(4,\).*received.*\(7,\)"):
        model(torch.zeros(B, T, 7))


def test_feature_size_differs_generic_rnn():
    cell = CountingCell()
    rnn = built(layers.RNN(cell))
    cell.steps = 0
    with pytest.raises(ValueError, match=r"\(4,\).*received.*\(3,\)"):
        rnn(torch.zeros(B, T, 3))
    assert cell.steps == 0


@pytest.mark.parametrize(
    "factory",
    [lambda: layers.LSTM(U), lambda: layers.GRU(U), lambda: layers.SimpleRNN(U),
     lambda: layers.RNN(CountingCell())],
)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_integer_and_bool_inputs_cast_as_keras(factory, dtype):
    # Keras casts bool / integer sequences (one-hot bool arrays are common) to the layer's
    # float dtype: the result equals the float input's.
    layer = factory()
    x = (torch.arange(B * T * F).reshape(B, T, F) % 2).to(dtype)
    out = layer(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, layer(x.to(torch.float32)), rtol=0, atol=0)
    out_np = layer(x.numpy().astype(np.int64 if dtype is not torch.bool else bool))
    torch.testing.assert_close(out_np, out, rtol=0, atol=0)


@pytest.mark.parametrize(
    "factory",
    [lambda: layers.LSTM(U), lambda: layers.RNN(CountingCell())],
)
@pytest.mark.parametrize("bad", [np.full((B, T, F), "a"), np.full((B, T, F), None, dtype=object)])
def test_string_and_object_inputs_refused(factory, bad):
    with pytest.raises(TypeError, match=r"expected numeric sequences.*dtype (<U1|object)"):
        factory()(bad)


def test_nested_input_to_builtin_layer():
    with pytest.raises(ValueError, match="LSTM|lstm"):
        layers.LSTM(U)((X, X))


# ---------------------------------------------------------------------------------------------
# initial states
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls,n_states", [(layers.LSTM, 2), (layers.GRU, 1), (layers.SimpleRNN, 1)]
)
def test_wrong_number_of_initial_states(cls, n_states, fused_spy):
    layer = built(cls(U))
    n = len(fused_spy.calls)
    for k in (n_states - 1, n_states + 1, n_states + 2):
        if k == 0:
            continue
        with pytest.raises(ValueError, match=rf"expects {n_states} state.*received {k}"):
            layer(X, initial_state=[torch.zeros(B, U)] * k)
    assert len(fused_spy.calls) == n


@pytest.mark.parametrize("bad", [(B, U + 1), (B + 1, U), (B, U, 1), (U,)])
def test_wrong_shape_of_initial_state(bad, fused_spy):
    layer = built(layers.LSTM(U))
    n = len(fused_spy.calls)
    msg = re.escape(f"state 1 must have shape (3, 2), received {tuple(bad)!r}")
    with pytest.raises(ValueError, match=msg):
        layer(X, initial_state=[torch.zeros(B, U), torch.zeros(bad)])
    assert len(fused_spy.calls) == n


def test_wrong_initial_states_generic_and_stacked():
    cell = CountingCell()
    rnn = layers.RNN(cell)
    with pytest.raises(ValueError, match=r"expects 1 state.*received 2"):
        rnn(X, initial_state=[torch.zeros(B, U)] * 2)
    stacked = layers.RNN([layers.LSTMCell(U), layers.GRUCell(3)])
    with pytest.raises(ValueError, match=r"expects 3 state.*received 2"):
        stacked(X, initial_state=[torch.zeros(B, U), torch.zeros(B, U)])
    with pytest.raises(ValueError, match=r"state 2 must have shape \(3, 3\), received \(3, 2\)"):
        stacked(X, initial_state=[torch.zeros(B, U)] * 3)
    assert cell.steps == 0


def test_bidirectional_initial_state_count():
    bi = layers.Bidirectional(layers.LSTM(U))
    with pytest.raises(ValueError, match=r"even number.*received 3"):
        bi(X, initial_state=[torch.zeros(B, U)] * 3)
    with pytest.raises(ValueError, match=r"expects 2 state.*received 1"):
        bi(X, initial_state=[torch.zeros(B, U)] * 2)


def test_stateful_layer_refuses_a_changed_batch_size(fused_spy):
    layer = layers.GRU(U, stateful=True)
    layer(X)
    kept = [s.clone() for s in layer.states]
    n = len(fused_spy.calls)
    with pytest.raises(ValueError, match=r"batch size 3, received a batch of 4"):
        layer(torch.zeros(4, T, F))
    assert len(fused_spy.calls) == n
    assert all(torch.equal(a, b) for a, b in zip(kept, layer.states))
    with pytest.raises(ValueError, match=r"state 0 must have shape \(3, 2\), received \(3, 5\)"):
        layer.reset_states([torch.zeros(B, 5)])
    with pytest.raises(AttributeError, match="stateful"):
        layers.GRU(U).reset_states()


# ---------------------------------------------------------------------------------------------
# unroll / masks / merge_mode / units / cells / weights
# ---------------------------------------------------------------------------------------------
def test_unroll_with_unknown_time_length_on_a_concrete_build():
    cell = CountingCell()
    rnn = layers.RNN(cell, unroll=True)
    with pytest.raises(ValueError, match=r"unroll=True.*\(None, None, 3\)"):
        rnn.build((None, None, 3))
    assert cell.steps == 0


@pytest.mark.parametrize("factory", [lambda: layers.RNN(layers.SimpleRNNCell(U), unroll=True),
                                     lambda: layers.LSTM(U, unroll=True)])
def test_unroll_with_unknown_time_length_on_symbolic_input(factory):
    inp = rnnkit.Input(shape=(None, 3))
    with pytest.raises(ValueError, match=r"unroll=True.*\(None, None, 3\).*unknown time"):
        factory()(inp)


@pytest.mark.parametrize(
    "mask_shape", [(B, T - 1), (B - 1, T), (B, T, 2), (B,), (T, B)]
)
def test_mask_shape_mismatch(mask_shape, fused_spy):
    layer = built(layers.LSTM(U))
    n = len(fused_spy.calls)
    with pytest.raises(ValueError, match=r"mask must have shape.*\(3, 5\), received"):
        layer(X, mask=torch.ones(mask_shape, dtype=torch.bool))
    assert len(fused_spy.calls) == n
    cell = CountingCell()
    with pytest.raises(ValueError, match="mask must have shape"):
        layers.RNN(cell)(X, mask=torch.ones(mask_shape, dtype=torch.bool))
    assert cell.steps == 0


@pytest.mark.parametrize("mode", ["foo", "concatenate", "max", 1])
def test_invalid_merge_mode(mode):
    with pytest.raises(ValueError, match=r"merge_mode.*expected one of.*concat"):
        layers.Bidirectional(layers.LSTM(U), merge_mode=mode)


def test_bidirectional_needs_a_recurrent_layer():
    with pytest.raises(ValueError, match=r"recurrent layer.*received Dense"):
        layers.Bidirectional(layers.Dense(3))


UNIT_CLASSES = [layers.SimpleRNN, layers.LSTM, layers.GRU, layers.SimpleRNNCell,
                layers.LSTMCell, layers.GRUCell]


@pytest.mark.parametrize("cls", UNIT_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("units", [0, -1, -5, 2.5, None, "3"])
def test_units_must_be_a_positive_integer(cls, units):
    msg = re.escape(f"units must be a positive integer, received {units!r}")
    with pytest.raises(ValueError, match=msg):
        cls(units)


def test_units_zero_inside_stacked_cells():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        layers.RNN([layers.LSTMCell(2), layers.GRUCell(0)])


class NoCall:
    state_size = 3


class NoStateSize:
    def call(self, inputs, states):
        return inputs, states


class LayerNoStateSize(layers.Layer):
    def call(self, inputs, states):
        return inputs, states


@pytest.mark.parametrize("cell,missing", [(NoCall(), "call"), (NoStateSize(), "state_size"),
                                          (LayerNoStateSize(), "state_size")])
def test_cell_without_call_or_state_size(cell, missing):
    with pytest.raises(ValueError, match=rf"call.*state_size.*lacks \['{missing}'\]"):
        layers.RNN(cell)
    with pytest.raises(ValueError, match="call"):
        layers.StackedRNNCells([layers.LSTMCell(2), cell])


class LayerNoCall(layers.Layer):
    state_size = 3


def test_layer_cell_without_call():
    with pytest.raises(ValueError, match=r"lacks \['call'\]"):
        layers.RNN(LayerNoCall())


@pytest.mark.parametrize(
    "factory",
    [lambda: layers.LSTM(U), lambda: layers.GRU(U, reset_after=False),
     lambda: layers.Bidirectional(layers.SimpleRNN(U)), lambda: layers.RNN(CountingCell())],
)
def test_set_weights_wrong_count(factory):
    layer = built(factory())
    w = layer.get_weights()
    for bad in (w[:-1], w + [np.zeros(1)], []):
        with pytest.raises(ValueError, match=rf"expects {len(w)} weights.*received {len(bad)}"):
            layer.set_weights(bad)
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), w))


def test_set_weights_wrong_shape():
    layer = built(layers.LSTM(U))
    k, rk, b = layer.get_weights()
    with pytest.raises(ValueError, match=r"weight 1 \(recurrent_kernel\) has shape \(2, 8\), "
                                         r"received an array of shape \(8, 2\)"):
        layer.set_weights([k, rk.T, b])
    with pytest.raises(ValueError, match=r"weight 2 \(bias\) has shape \(8,\).*\(2, 4\)"):
        layer.set_weights([k, rk, b.reshape(2, 4)])
    gru = built(layers.GRU(U))
    k, rk, b = gru.get_weights()
    with pytest.raises(ValueError, match=r"\(2, 6\).*received an array of shape \(6,\)"):
        gru.set_weights([k, rk, b[0]])  # a reset_before bias into a reset_after GRU
    assert np.array_equal(gru.get_weights()[0], k)


def test_use_cudnn_value():
    with pytest.raises(ValueError, match=r"use_cudnn must be 'auto', True or False, received"):
        layers.LSTM(U, use_cudnn="yes")


@pytest.mark.parametrize("arg", ["dropout", "recurrent_dropout"])
def test_dropout_rate_range(arg):
    with pytest.raises(ValueError, match=rf"{arg} must be a float in \[0, 1\], received 1.5"):
        layers.GRU(U, **{arg: 1.5})


def test_zero_time_steps():
    with pytest.raises(ValueError, match=r"at least one time step, received \(3, 0, 4\)"):
        layers.LSTM(U)(torch.zeros(B, 0, F))
