"""rnnkit.compat.v1: TF1's rnn_cell cells, dynamic_rnn and bidirectional_dynamic_rnn."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import rnnkit.compat.v1 as tf
from rnnkit.compat.v1 import nn
from rnnkit.compat.v1.rnn_cell import (
    BasicLSTMCell,
    BasicRNNCell,
    GRUCell,
    LSTMCell,
    LSTMStateTuple,
    MultiRNNCell,
)
from rnnkit.layers import RNN
from rnnkit.layers.layer import flatten

TF1 = os.path.join(os.path.dirname(__file__), "fixtures", "tf1")
with open(os.path.join(TF1, "tf1_cases.json")) as _f:
    CASES = json.load(_f)
with np.load(os.path.join(TF1, "tf1_cases.npz")) as _z:
    ARR = {k: _z[k] for k in _z.files}
VAR_ORDER = ["kernel", "bias", "w_f_diag", "w_i_diag", "w_o_diag", "projection/kernel"]


def _np(t):
    return t.detach().cpu().numpy()


def _cell_from_fixture(cfg, prefix, depth):
    cell = LSTMCell(**cfg, dtype="float64")
    cell.build((None, depth))
    cell.set_weights([ARR[f"{prefix}w/{k}"] for k in VAR_ORDER if f"{prefix}w/{k}" in ARR])
    return cell


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_tf1_fixture(case):
    n, d = case["name"], case["dynamic_rnn"]
    x = torch.from_numpy(ARR[f"{n}/x"])
    sl = ARR.get(f"{n}/seq_len")
    tol = dict(rtol=0, atol=1e-8)
    if case.get("bidirectional"):
        fw = _cell_from_fixture(case["cell"], f"{n}/fw/", x.shape[-1])
        bw = _cell_from_fixture(case["cell"], f"{n}/bw/", x.shape[-1])
        (o_fw, o_bw), (s_fw, s_bw) = nn.bidirectional_dynamic_rnn(
            fw, bw, x, sequence_length=sl, dtype=tf.float64
        )
        np.testing.assert_allclose(_np(o_fw), ARR[f"{n}/outputs_fw"], **tol)
        np.testing.assert_allclose(_np(o_bw), ARR[f"{n}/outputs_bw"], **tol)
        for tag, s in (("fw", s_fw), ("bw", s_bw)):
            np.testing.assert_allclose(_np(s.c), ARR[f"{n}/state_{tag}_c"], **tol)
            np.testing.assert_allclose(_np(s.h), ARR[f"{n}/state_{tag}_h"], **tol)
        return
    cell = _cell_from_fixture(case["cell"], f"{n}/", x.shape[-1])
    names = [w._rnnkit_name for w in cell.weights]
    assert names == [k for k in VAR_ORDER if f"{n}/w/{k}" in ARR]
    is_tuple = case["cell"].get("state_is_tuple", True)
    init = None
    if d.get("initial_state"):
        c0, h0 = torch.from_numpy(ARR[f"{n}/init_c"]), torch.from_numpy(ARR[f"{n}/init_h"])
        init = LSTMStateTuple(c0, h0) if is_tuple else torch.cat([c0, h0], 1)
    out, state = nn.dynamic_rnn(cell, x, sequence_length=sl, initial_state=init,
                                time_major=d.get("time_major", False))
    np.testing.assert_allclose(_np(out), ARR[f"{n}/outputs"], **tol)
    if is_tuple:
        assert isinstance(state, LSTMStateTuple)
        np.testing.assert_allclose(_np(state.c), ARR[f"{n}/state_c"], **tol)
        np.testing.assert_allclose(_np(state.h), ARR[f"{n}/state_h"], **tol)
    else:
        np.testing.assert_allclose(_np(state), ARR[f"{n}/state_concat"], **tol)


def test_fixture_cell_inside_rnn_layer_matches_dynamic_rnn():
    x = torch.from_numpy(ARR["everything/x"])
    cfg = next(c for c in CASES if c["name"] == "everything")["cell"]
    cell = _cell_from_fixture(cfg, "everything/", 4)
    layer = RNN(cell, return_sequences=True, return_state=True, dtype="float64")
    seq, c, h = layer(x)
    out, state = nn.dynamic_rnn(cell, x)
    np.testing.assert_allclose(_np(seq), _np(out), atol=1e-12)
    np.testing.assert_allclose(_np(c), _np(state.c), atol=1e-12)
    np.testing.assert_allclose(_np(h), _np(state.h), atol=1e-12)


def test_lstm_cell_direct_structures_and_dtype_inference():
    cell = LSTMCell(4, num_proj=3)
    x = torch.randn(2, 5, dtype=torch.float64)
    h, s = cell(x, cell.zero_state(2, torch.float64))
    assert cell.dtype == torch.float64  # taken from the first input
    assert isinstance(s, LSTMStateTuple) and s.dtype == torch.float64
    assert (h.shape, s.c.shape, s.h.shape) == ((2, 3), (2, 4), (2, 3))
    assert cell.state_size == LSTMStateTuple(4, 3) and cell.output_size == 3
    h2, s2 = cell(x, [s.c, s.h])  # a plain list works too
    flat = LSTMCell(4, num_proj=3, state_is_tuple=False, dtype="float64")
    assert flat.state_size == 7
    flat.build((None, 5))
    flat.set_weights(cell.get_weights())
    hf, sf = flat(x, torch.cat([s.c, s.h], 1))
    np.testing.assert_allclose(_np(hf), _np(h2))
    np.testing.assert_allclose(_np(sf), _np(torch.cat(list(s2), 1)))
    assert [w._rnnkit_name for w in cell.weights] == ["kernel", "bias", "projection/kernel"]


def test_basic_rnn_gru_basic_lstm_math():
    rng = np.random.default_rng(0)
    x, h = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    tx, th = torch.from_numpy(x), torch.from_numpy(h)

    rnn = BasicRNNCell(2)
    out, _ = rnn(tx, th)
    k, b = rnn.get_weights()
    np.testing.assert_allclose(_np(out), np.tanh(np.concatenate([x, h], 1) @ k + b))

    gru = GRUCell(2, bias_initializer=None)
    out, new = gru(tx, th)
    gk, gb, ck, cb = gru.get_weights()
    assert [w._rnnkit_name for w in gru.weights] == [
        "gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias"]
    np.testing.assert_allclose(gb, np.ones(4))
    g = sig(np.concatenate([x, h], 1) @ gk + gb)
    r, u = g[:, :2], g[:, 2:]
    cand = np.tanh(np.concatenate([x, r * h], 1) @ ck + cb)
    np.testing.assert_allclose(_np(new), u * h + (1 - u) * cand)

    lstm = BasicLSTMCell(2, forget_bias=0.5)
    c0 = rng.normal(size=(3, 2))
    out, s = lstm(tx, LSTMStateTuple(torch.from_numpy(c0), th))
    k, b = lstm.get_weights()
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ k + b, 4, axis=1)
    c = sig(f + 0.5) * c0 + sig(i) * np.tanh(j)
    np.testing.assert_allclose(_np(s.c), c)
    np.testing.assert_allclose(_np(out), sig(o) * np.tanh(c))


def test_multi_rnn_cell_dynamic_rnn():
    torch.manual_seed(0)
    cells = [LSTMCell(3), GRUCell(2)]
    multi = MultiRNNCell(cells)
    x = torch.randn(2, 5, 4)
    out, (s0, s1) = nn.dynamic_rnn(multi, x, sequence_length=[5, 3])
    assert isinstance(s0, LSTMStateTuple) and s1.shape == (2, 2)
    st = [cells[0].zero_state(2), cells[1].zero_state(2)]
    for t in range(3):  # sequence 1 stops after 3 steps: its state is the one at t = 2
        y, s_a = cells[0](x[1:, t], LSTMStateTuple(st[0].c[1:], st[0].h[1:]))
        y, s_b = cells[1](y, st[1][1:])
        st = [LSTMStateTuple(torch.cat([st[0].c[:1], s_a.c]), torch.cat([st[0].h[:1], s_a.h])),
              torch.cat([st[1][:1], s_b])]
    np.testing.assert_allclose(_np(s1[1]), _np(st[1][1]), atol=1e-6)
    assert torch.all(out[1, 3:] == 0)
    flat = MultiRNNCell([BasicRNNCell(3), GRUCell(2)], state_is_tuple=False)
    _, s = nn.dynamic_rnn(flat, x)
    assert s.shape == (2, 5)
    assert [tuple(w.shape) for w in multi.weights][:2] == [(7, 12), (12,)]


def test_tf1_cells_inside_rnn_layer_return_flat_states():
    x = torch.randn(2, 6, 3)
    for cell, n_states in ((LSTMCell(4, use_peepholes=True), 2), (GRUCell(4), 1),
                           (LSTMCell(4, state_is_tuple=False), 1),
                           (MultiRNNCell([GRUCell(3), BasicRNNCell(4)]), 2)):
        res = RNN(cell, return_sequences=True, return_state=True)(x)
        seq, states = res[0], res[1:]
        assert seq.shape == (2, 6, 4) and len(states) == n_states
        out, st = nn.dynamic_rnn(cell, x)
        np.testing.assert_allclose(_np(seq), _np(out), atol=1e-6)
        ref = flatten(st) if isinstance(st, tuple) else [st]
        for a, b in zip(states, ref):
            np.testing.assert_allclose(_np(a), _np(b), atol=1e-6)


def test_tutorial_001_after_import_swap():
    # TF1 code of the tutorial with ``import tensorflow as tf`` swapped for rnnkit.compat.v1.
    num_units, batch, steps, emb = 16, 2, 75, 100
    X = torch.from_numpy(np.random.default_rng(1).normal(size=(batch, steps, emb))).float()
    with tf.variable_scope("bilstm", reuse=None):
        cell = tf.nn.rnn_cell.LSTMCell(num_units, use_peepholes=True, cell_clip=None,
                                       initializer=None, num_proj=None, proj_clip=None,
                                       forget_bias=1.0, state_is_tuple=True, activation=None,
                                       reuse=None, name="lstm")
        outputs, state = tf.nn.dynamic_rnn(cell, X, sequence_length=None, initial_state=None,
                                           dtype=tf.float32, time_major=False)
    assert outputs.shape == (batch, steps, num_units)
    assert torch.equal(outputs[:, -1], state.h)
    fw, bw = tf.nn.rnn_cell.LSTMCell(8), tf.nn.rnn_cell.LSTMCell(8)
    (o_fw, o_bw), _ = tf.nn.bidirectional_dynamic_rnn(fw, bw, X, sequence_length=[75, 40],
                                                      dtype=tf.float32)
    assert torch.cat([o_fw, o_bw], -1).shape == (batch, steps, 16)
    assert torch.all(o_bw[1, 40:] == 0)


def test_training_through_dynamic_rnn():
    torch.manual_seed(0)
    cell = LSTMCell(6, use_peepholes=True, num_proj=3, cell_clip=5.0)
    x, y = torch.randn(8, 7, 4), torch.randn(8, 3)
    sl = torch.tensor([7, 6, 5, 7, 3, 7, 2, 7])

    def loss_fn():
        _, state = nn.dynamic_rnn(cell, x, sequence_length=sl)
        return ((state.h - y) ** 2).mean()

    loss = loss_fn()
    loss.backward()
    assert len(cell.weights) == 6
    for w in cell.weights:
        assert w.grad is not None and float(w.grad.abs().sum()) > 0, w._rnnkit_name
    first = float(loss.detach())
    for _ in range(10):
        cell.zero_grad()
        loss_fn().backward()
        with torch.no_grad():  # plain SGD
            for w in cell.weights:
                w -= 0.5 * w.grad
    assert float(loss_fn().detach()) < first


def test_get_config_round_trip():
    cell = LSTMCell(3, use_peepholes=True, num_proj=2, proj_clip=1.0, activation="relu")
    clone = LSTMCell.from_config(cell.get_config())
    assert clone.get_config()["num_proj"] == 2 and clone.use_peepholes
    multi = MultiRNNCell([GRUCell(2), BasicRNNCell(3)])
    assert MultiRNNCell.from_config(multi.get_config()).state_size == (2, 3)


def test_errors():
    cell = LSTMCell(3)
    with pytest.raises(ValueError, match="rank 3"):
        nn.dynamic_rnn(cell, torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"sequence_length must be a vector of shape \(2,\)"):
        nn.dynamic_rnn(cell, torch.ones(2, 4, 5), sequence_length=[1, 2, 3])
    with pytest.raises(ValueError, match="initial_state must match"):
        nn.dynamic_rnn(cell, torch.ones(2, 4, 5), initial_state=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="state_is_tuple=True expects"):
        cell(torch.ones(2, 5), torch.zeros(2, 6))
    with pytest.raises(ValueError, match="input depth 5"):
        cell(torch.ones(2, 7), cell.zero_state(2))
    with pytest.raises(ValueError, match="num_units must be a positive integer"):
        LSTMCell(0)
    with pytest.raises(TypeError, match="must be an RNN cell"):
        nn.dynamic_rnn(object(), torch.ones(2, 4, 5))
    out, st = nn.dynamic_rnn(LSTMCell(3), np.ones((2, 4, 5)))  # dtype inferred from inputs
    assert out.dtype == torch.float64 and st.c.dtype == torch.float64
