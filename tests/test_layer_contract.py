"""The Keras layer contract (tests/layer_contract.py) applied to every layer and cell kind."""

from __future__ import annotations

import pytest
import torch

from rnnkit import layers
from rnnkit.layers.cells.research import (
    LayerNormLSTMCell,
    LayerNormSimpleRNNCell,
    PeepholeLSTMCell,
)

from .layer_contract import run_layer_test

B, T, F, U = 3, 4, 5, 2
F64 = "float64"


def _x(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)


X = _x(B, T, F)
XT = _x(B, F)
MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)

# name: (factory, expected output shapes, number of weights)
LAYERS = {
    "simple_rnn": (lambda: layers.SimpleRNN(U, dtype=F64), [(B, U)], 3),
    "simple_rnn_seq_state": (
        lambda: layers.SimpleRNN(U, return_sequences=True, return_state=True, dtype=F64),
        [(B, T, U), (B, U)],
        3,
    ),
    "lstm": (lambda: layers.LSTM(U, dtype=F64), [(B, U)], 3),
    "lstm_seq_state": (
        lambda: layers.LSTM(U, return_sequences=True, return_state=True, dtype=F64),
        [(B, T, U), (B, U), (B, U)],
        3,
    ),
    "lstm_no_bias": (lambda: layers.LSTM(U, use_bias=False, dtype=F64), [(B, U)], 2),
    "gru": (lambda: layers.GRU(U, dtype=F64), [(B, U)], 3),
    "gru_reset_before": (lambda: layers.GRU(U, reset_after=False, dtype=F64), [(B, U)], 3),
    "gru_backwards_state": (
        lambda: layers.GRU(U, go_backwards=True, return_state=True, dtype=F64),
        [(B, U), (B, U)],
        3,
    ),
    "rnn_simple_cell": (lambda: layers.RNN(layers.SimpleRNNCell(U, dtype=F64), dtype=F64),
                        [(B, U)], 3),
    "rnn_lstm_cell": (lambda: layers.RNN(layers.LSTMCell(U, dtype=F64), dtype=F64), [(B, U)], 3),
    "rnn_gru_cell": (lambda: layers.RNN(layers.GRUCell(U, dtype=F64), dtype=F64), [(B, U)], 3),
    "rnn_stacked_cells": (
        lambda: layers.RNN(
            [layers.LSTMCell(U, dtype=F64), layers.GRUCell(3, dtype=F64)],
            return_state=True,
            dtype=F64,
        ),
        [(B, 3), (B, U), (B, U), (B, 3)],
        6,
    ),
    "rnn_peephole_cell": (lambda: layers.RNN(PeepholeLSTMCell(U, dtype=F64), dtype=F64),
                          [(B, U)], 6),
    "rnn_layernorm_lstm_cell": (
        lambda: layers.RNN(LayerNormLSTMCell(U, dtype=F64), dtype=F64), [(B, U)], 9,
    ),
    "rnn_layernorm_simple_cell": (
        lambda: layers.RNN(LayerNormSimpleRNNCell(U, dtype=F64), dtype=F64), [(B, U)], 4,
    ),
    "bidirectional_lstm": (
        lambda: layers.Bidirectional(layers.LSTM(U, return_sequences=True, dtype=F64), dtype=F64),
        [(B, T, 2 * U)],
        6,
    ),
    "bidirectional_gru_sum_state": (
        lambda: layers.Bidirectional(
            layers.GRU(U, return_state=True, dtype=F64), merge_mode="sum", dtype=F64
        ),
        [(B, U), (B, U), (B, U)],
        6,
    ),
    "time_distributed_dense": (
        lambda: layers.TimeDistributed(layers.Dense(U, dtype=F64), dtype=F64), [(B, T, U)], 2,
    ),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_contract(name):
    factory, shapes, n_weights = LAYERS[name]
    run_layer_test(factory, X, shapes, n_weights)


@pytest.mark.parametrize("name", ["lstm", "gru", "simple_rnn", "rnn_lstm_cell"])
def test_layer_contract_with_mask(name):
    factory, shapes, n_weights = LAYERS[name]
    run_layer_test(factory, X, shapes, n_weights, call_kwargs={"mask": MASK})


def test_layer_contract_non_trainable():
    layer = run_layer_test(
        lambda: layers.LSTM(U, trainable=True, dtype=F64), X, [(B, U)], 3
    )
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 3


def _states(*sizes):
    return [_x(B, s) for s in sizes]


# name: (factory, states, expected output shapes incl. new states, number of weights)
CELLS = {
    "simple_rnn_cell": (lambda: layers.SimpleRNNCell(U, dtype=F64), _states(U), [(B, U), (B, U)], 3),
    "lstm_cell": (lambda: layers.LSTMCell(U, dtype=F64), _states(U, U),
                  [(B, U), (B, U), (B, U)], 3),
    "gru_cell": (lambda: layers.GRUCell(U, dtype=F64), _states(U), [(B, U), (B, U)], 3),
    "gru_cell_reset_before": (
        lambda: layers.GRUCell(U, reset_after=False, dtype=F64), _states(U), [(B, U), (B, U)], 3,
    ),
    "stacked_cells": (
        lambda: layers.StackedRNNCells(
            [layers.SimpleRNNCell(3, dtype=F64), layers.LSTMCell(U, dtype=F64)], dtype=F64
        ),
        [_states(3), _states(U, U)],
        [(B, U), (B, 3), (B, U), (B, U)],
        6,
    ),
    "peephole_lstm_cell": (lambda: PeepholeLSTMCell(U, dtype=F64), _states(U, U),
                           [(B, U), (B, U), (B, U)], 6),
}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_contract(name):
    factory, states, shapes, n_weights = CELLS[name]
    run_layer_test(factory, XT, shapes, n_weights, call_kwargs={"states": states})


class _UnusedWeight(layers.Layer):
    def build(self, input_shape):
        self.used = self.add_weight(shape=(input_shape[-1],), name="used")
        self.unused = self.add_weight(shape=(1,), name="unused")

    def call(self, x):
        return x * self.used


def test_the_contract_can_fail():
    """The helper catches a weight no gradient reaches, and wrong shapes / counts."""
    with pytest.raises(AssertionError, match="unused"):
        run_layer_test(lambda: _UnusedWeight(dtype=F64), X, [(B, T, F)], 2,
                       custom_objects={"_UnusedWeight": _UnusedWeight})
    with pytest.raises(AssertionError, match="output shapes"):
        run_layer_test(LAYERS["lstm"][0], X, [(B, T, U)], 3)
    with pytest.raises(AssertionError):
        run_layer_test(LAYERS["lstm"][0], X, [(B, U)], 4)
