"""The recurrent engine: SimpleRNN / LSTM / GRU / RNN(cell) against hand loops, each other,
PyTorch's own modules, and Keras's semantics (masks, states, wrappers, dropout, weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit import layers, regularizers
from rnnkit.layers.layer import flatten

from .tutorial_cells import NestedCell

F64 = "float64"
B, T, F, U = 3, 5, 4, 3
TOL = 1e-10


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


X = rand(B, T, F)
RIGHT = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
LEFT = RIGHT.flip(1)
HOLES = torch.tensor([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 1]], dtype=torch.bool)

# family -> (layer class, cell class, extra kwargs, number of states)
FAMILIES = {
    "simple_rnn": (layers.SimpleRNN, layers.SimpleRNNCell, {}, 1),
    "lstm": (layers.LSTM, layers.LSTMCell, {}, 2),
    "gru": (layers.GRU, layers.GRUCell, {"reset_after": True}, 1),
    "gru_reset_before": (layers.GRU, layers.GRUCell, {"reset_after": False}, 1),
}
FUSABLE = ["simple_rnn", "lstm", "gru"]


def close(a, b, tol=TOL):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def all_close(xs, ys, tol=TOL):
    xs, ys = flatten(xs), flatten(ys)
    assert len(xs) == len(ys), (len(xs), len(ys))
    for a, b in zip(xs, ys):
        close(a, b, tol)


def make(family, seed=0, **kw):
    """A built float64 layer of ``family`` with random (seeded) weights, incl. the biases."""
    cls, _, extra, _ = FAMILIES[family]
    layer = cls(U, dtype=F64, **extra, **kw)
    layer.build((None, T, F))
    layer.set_weights([rand(*w.shape, seed=seed + i) * 0.5 for i, w in enumerate(layer.weights)])
    return layer


def states0(family, seed=10):
    return [rand(B, U, seed=seed + i) for i in range(FAMILIES[family][3])]


def hand_loop(cell, x, states, go_backwards=False, mask=None, zero_output=False):
    """Keras's loop written out: masked steps keep the states and repeat the previous output."""
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outs, prev = [], None
    for t in steps:
        out, new = cell(x[:, t], list(states))
        if mask is not None:
            m = mask[:, t, None]
            prev = torch.zeros_like(out) if prev is None else prev
            out = torch.where(m, out, prev)
            new = [torch.where(m, n, s) for n, s in zip(new, states)]
            prev = out
        outs.append(out)
        states = list(new)
    seq = torch.stack(outs, 1)
    if zero_output and mask is not None:
        m = mask.flip(1) if go_backwards else mask
        seq = torch.where(m[..., None], seq, 0.0)
    return seq, states


# ---------------------------------------------------------------------------------------------
# 1a. layer == stepping its cell by hand
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_layer_equals_cell_stepped_by_hand(family, go_backwards):
    layer = make(family, return_sequences=True, return_state=True, go_backwards=go_backwards)
    init = states0(family)
    seq, *final = layer(X, initial_state=init)
    ref_seq, ref_states = hand_loop(layer.cell, X, init, go_backwards)
    close(seq, ref_seq)
    all_close(final, ref_states)
    assert len(final) == FAMILIES[family][3]
    # return_sequences=False gives the last output; return_state=False gives the output alone
    last = make(family, go_backwards=go_backwards)(X, initial_state=init)
    close(last, ref_seq[:, -1])
    # without initial_state the states start at zero
    seq0, *_ = layer(X)
    close(seq0, hand_loop(layer.cell, X, [torch.zeros(B, U, dtype=torch.float64)] * len(init),
                          go_backwards)[0])


# ---------------------------------------------------------------------------------------------
# 1b. fused kernel == generic loop with the same weights (and RNN(cell) == layer)
# ---------------------------------------------------------------------------------------------
def _pair(family, **kw):
    fused = make(family, return_sequences=True, return_state=True, **kw)
    loop = make(family, return_sequences=True, return_state=True, use_cudnn=False, **kw)
    loop.set_weights(fused.get_weights())
    return fused, loop


@pytest.mark.parametrize("mask_name", ["none", "right", "left"])
@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("family", FUSABLE)
def test_fused_equals_loop(family, mask_name, zero_output, fused_spy):
    mask = {"none": None, "right": RIGHT, "left": LEFT}[mask_name]
    for go_backwards in (False, True):
        fused, loop = _pair(family, zero_output_for_mask=zero_output, go_backwards=go_backwards)
        init = [s.requires_grad_() for s in states0(family)]
        n = len(fused_spy.calls)
        a = fused(X, initial_state=init, mask=mask)
        assert len(fused_spy.calls) == n + 1, "the fused kernel should have run"
        b = loop(X, initial_state=init, mask=mask)
        assert len(fused_spy.calls) == n + 1, "use_cudnn=False must keep the fused kernel out"
        all_close(a, b)
        # and the same gradients for the weights and the initial states
        weight = [rand(*o.shape, seed=60 + i) for i, o in enumerate(a)]
        grads = [
            torch.autograd.grad(sum((o * w).sum() for o, w in zip(out, weight)),
                                [*layer.weights, *init])
            for layer, out in ((fused, a), (loop, b))
        ]
        all_close(grads[0], grads[1])
        if mask is not None:  # and both follow Keras's semantics
            ref_seq, ref_states = hand_loop(fused.cell, X, init, go_backwards, mask, zero_output)
            close(a[0], ref_seq)
            all_close(a[1:], ref_states)


@pytest.mark.parametrize("family", FUSABLE)
def test_rnn_of_builtin_cell_equals_layer(family, fused_spy):
    layer = make(family, return_sequences=True, return_state=True)
    _, cell_cls, extra, _ = FAMILIES[family]
    rnn = layers.RNN(cell_cls(U, dtype=F64, **extra), return_sequences=True, return_state=True,
                     dtype=F64)
    rnn(X)
    rnn.set_weights(layer.get_weights())
    for mask in (None, RIGHT, HOLES):
        all_close(rnn(X, mask=mask), layer(X, mask=mask))
    rnn._force_loop = True
    all_close(rnn(X, mask=RIGHT), layer(X, mask=RIGHT))


@pytest.mark.parametrize("family", FUSABLE)
def test_fused_and_loop_draw_the_same_input_dropout_mask(family, fused_spy):
    fused, loop = _pair(family, dropout=0.5)
    torch.manual_seed(123)
    a = fused(X, training=True)
    assert fused_spy.calls, "input dropout in training keeps the fused kernel"
    torch.manual_seed(123)
    b = loop(X, training=True)
    all_close(a, b)
    assert torch.equal(fused.cell._dropout_mask, loop.cell._dropout_mask)
    # and the mask did something: the output differs from inference
    assert not torch.allclose(a[0], fused(X, training=False)[0])


# ---------------------------------------------------------------------------------------------
# 1c. rnnkit == torch.nn.LSTM / GRU / RNN with the weights copied
# ---------------------------------------------------------------------------------------------
def _torch_module(kind):
    torch.manual_seed(5)
    if kind == "lstm":
        m = torch.nn.LSTM(F, U, batch_first=True)
    elif kind == "gru":
        m = torch.nn.GRU(F, U, batch_first=True)
    else:
        m = torch.nn.RNN(F, U, batch_first=True, nonlinearity=kind)
    m = m.double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return m


def _keras_weights(kind, m):
    w_ih, w_hh = m.weight_ih_l0.detach(), m.weight_hh_l0.detach()
    b_ih, b_hh = m.bias_ih_l0.detach(), m.bias_hh_l0.detach()
    if kind == "gru":  # torch r, z, n -> Keras z, r, h
        def keras_order(w):
            r, z, n = w.chunk(3, dim=0)
            return torch.cat([z, r, n], dim=0)

        return [keras_order(w_ih).T, keras_order(w_hh).T,
                torch.stack([keras_order(b_ih), keras_order(b_hh)])]
    return [w_ih.T, w_hh.T, b_ih + b_hh]  # LSTM gates i, f, g, o == Keras i, f, c, o


def _rnnkit_layer(kind, **kw):
    if kind == "lstm":
        return layers.LSTM(U, dtype=F64, **kw)
    if kind == "gru":
        return layers.GRU(U, dtype=F64, **kw)
    return layers.SimpleRNN(U, activation=kind, dtype=F64, **kw)


@pytest.mark.parametrize("use_cudnn", ["auto", False])
@pytest.mark.parametrize("kind", ["lstm", "gru", "tanh", "relu"])
def test_matches_torch_nn_modules(kind, use_cudnn):
    m = _torch_module(kind)
    layer = _rnnkit_layer(kind, return_sequences=True, return_state=True, use_cudnn=use_cudnn)
    layer(X)
    layer.set_weights(_keras_weights(kind, m))
    n_states = 2 if kind == "lstm" else 1
    init = [rand(B, U, seed=20 + i) for i in range(n_states)]
    hx = tuple(s[None] for s in init) if kind == "lstm" else init[0][None]
    want_seq, want_hx = m(X, hx)
    want_states = [h[0] for h in want_hx] if kind == "lstm" else [want_hx[0]]
    seq, *states = layer(X, initial_state=init)
    close(seq, want_seq)
    all_close(states, want_states)

    # a packed sequence == a right-padded mask (outputs past each length are zeros)
    lengths = RIGHT.sum(1)
    packed = pack_padded_sequence(X, lengths, batch_first=True, enforce_sorted=False)
    out_packed, hx_packed = m(packed, hx)
    want_seq, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=T)
    want_states = [h[0] for h in hx_packed] if kind == "lstm" else [hx_packed[0]]
    zlayer = _rnnkit_layer(kind, return_sequences=True, return_state=True,
                           zero_output_for_mask=True, use_cudnn=use_cudnn)
    zlayer(X)
    zlayer.set_weights(layer.get_weights())
    seq, *states = zlayer(X, initial_state=init, mask=RIGHT)
    close(seq, want_seq)
    all_close(states, want_states)


def _hard_sigmoid(v):
    return torch.clamp(v / 6 + 0.5, 0.0, 1.0)  # Keras 3: relu6(x + 3) / 6


def test_lstm_non_default_activations_against_the_formula():
    layer = make("lstm", activation="relu", recurrent_activation="hard_sigmoid",
                 return_sequences=True, return_state=True)
    k, rk, b = (torch.as_tensor(w) for w in layer.get_weights())
    init = states0("lstm")
    h, c, outs = init[0], init[1], []
    for t in range(T):
        z = X[:, t] @ k + h @ rk + b
        zi, zf, zc, zo = z.chunk(4, -1)
        c = _hard_sigmoid(zf) * c + _hard_sigmoid(zi) * torch.relu(zc)
        h = _hard_sigmoid(zo) * torch.relu(c)
        outs.append(h)
    seq, hh, cc = layer(X, initial_state=init)
    close(seq, torch.stack(outs, 1))
    all_close([hh, cc], [h, c])


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_against_the_formula(reset_after):
    layer = make("gru" if reset_after else "gru_reset_before", return_sequences=True)
    k, rk, b = (torch.as_tensor(w) for w in layer.get_weights())
    b_in, b_rec = (b[0], b[1]) if reset_after else (b, torch.zeros_like(b))
    h, outs = states0("gru")[0], []
    for t in range(T):
        xz, xr, xh = (X[:, t] @ k + b_in).chunk(3, -1)
        rz, rr, rh = (h @ rk + b_rec).chunk(3, -1)
        z, r = torch.sigmoid(xz + rz), torch.sigmoid(xr + rr)
        if reset_after:
            hh = torch.tanh(xh + r * rh)
        else:
            hh = torch.tanh(xh + (r * h) @ rk[:, 2 * U:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    close(layer(X, initial_state=states0("gru")), torch.stack(outs, 1))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_unroll_gives_the_same_numbers(family):
    a = make(family, return_sequences=True, return_state=True)
    b = make(family, return_sequences=True, return_state=True, unroll=True)
    for mask in (None, RIGHT, HOLES):
        all_close(a(X, mask=mask), b(X, mask=mask))


# ---------------------------------------------------------------------------------------------
# which runner ran
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "factory,kernel",
    [
        (lambda: layers.SimpleRNN(U), "rnn_tanh"),
        (lambda: layers.SimpleRNN(U, activation="relu"), "rnn_relu"),
        (lambda: layers.LSTM(U), "lstm"),
        (lambda: layers.GRU(U), "gru"),
        (lambda: layers.RNN(layers.LSTMCell(U)), "lstm"),
        (lambda: layers.RNN(layers.GRUCell(U)), "gru"),
        (lambda: layers.LSTM(U, dropout=0.5), "lstm"),
    ],
)
def test_fused_kernel_runs(factory, kernel, fused_spy):
    layer = factory()
    layer(X.float())
    layer(X.float(), mask=RIGHT, training=True)
    layer(X.float(), mask=LEFT)
    assert fused_spy.calls == [kernel] * 3


@pytest.mark.parametrize(
    "factory,call_kw",
    [
        (lambda: layers.LSTM(U, unroll=True), {}),
        (lambda: layers.GRU(U, unroll=True), {}),
        (lambda: layers.LSTM(U, recurrent_dropout=0.3), {"training": True}),
        (lambda: layers.GRU(U, recurrent_dropout=0.3), {"training": True}),
        (lambda: layers.LSTM(U, recurrent_activation="hard_sigmoid"), {}),
        (lambda: layers.GRU(U, reset_after=False), {}),
        (lambda: layers.SimpleRNN(U, activation="sigmoid"), {}),
        (lambda: layers.LSTM(U), {"mask": HOLES}),
        (lambda: layers.GRU(U), {"mask": HOLES}),
        (lambda: layers.SimpleRNN(U), {"mask": HOLES}),
        (lambda: layers.LSTM(U, use_cudnn=False), {}),
        (lambda: layers.RNN([layers.LSTMCell(U)]), {}),
    ],
)
def test_fused_kernel_does_not_run(factory, call_kw, fused_spy):
    factory()(X.float(), **call_kw)
    assert fused_spy.calls == []


@pytest.mark.parametrize(
    "factory",
    [
        lambda: layers.LSTM(U, unroll=True, use_cudnn=True),
        lambda: layers.GRU(U, reset_after=False, use_cudnn=True),
        lambda: layers.LSTM(U, recurrent_activation="hard_sigmoid", use_cudnn=True),
        lambda: layers.LSTM(U, recurrent_dropout=0.2, use_cudnn=True),
        lambda: layers.SimpleRNN(U, activation="sigmoid", use_cudnn=True),
    ],
)
def test_use_cudnn_true_refuses_ineligible_configurations(factory):
    with pytest.raises(ValueError, match="use_cudnn=True"):
        factory()


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_use_cudnn_true_refuses_a_mask_with_holes(cls, fused_spy):
    layer = cls(U, use_cudnn=True)
    layer(X.float(), mask=RIGHT)  # padding is fine
    assert len(fused_spy.calls) == 1
    with pytest.raises(ValueError, match="use_cudnn=True"):
        layer(X.float(), mask=HOLES)
    assert len(fused_spy.calls) == 1


# ---------------------------------------------------------------------------------------------
# 2. Keras semantics
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_masked_steps_carry_states_and_repeat_output(family):
    for zero_output in (False, True):
        layer = make(family, return_sequences=True, return_state=True,
                     zero_output_for_mask=zero_output)
        init = states0(family)
        seq, *final = layer(X, initial_state=init, mask=HOLES)
        ref_seq, ref_states = hand_loop(layer.cell, X, init, mask=HOLES, zero_output=zero_output)
        close(seq, ref_seq)
        all_close(final, ref_states)
        # spelled out: row 0 is masked at t=1, so its output repeats t=0 (or is zero)
        close(seq[0, 1], torch.zeros(U, dtype=torch.float64) if zero_output else seq[0, 0])
        # row 2 is masked at t=0: output is zero, states stay the initial ones until t=1
        close(seq[2, 0], torch.zeros(U, dtype=torch.float64))
        last = make(family, zero_output_for_mask=zero_output)(X, initial_state=init, mask=HOLES)
        close(last, ref_seq[:, -1])


@pytest.mark.parametrize("family", FUSABLE)
def test_fully_masked_row_keeps_initial_states(family):
    mask = RIGHT.clone()
    mask[1] = False
    for zero_output in (False, True):
        layer = make(family, return_sequences=True, return_state=True,
                     zero_output_for_mask=zero_output)
        init = states0(family)
        seq, *final = layer(X, initial_state=init, mask=mask)
        close(seq[1], torch.zeros(T, U, dtype=torch.float64))
        all_close([s[1] for s in final], [s[1] for s in init])
        ref_seq, ref_states = hand_loop(layer.cell, X, init, mask=mask, zero_output=zero_output)
        close(seq, ref_seq)
        all_close(final, ref_states)


def test_last_output_of_a_masked_final_step():
    layer = make("lstm")
    init = states0("lstm")
    out = layer(X, initial_state=init, mask=RIGHT)
    seq, _ = hand_loop(layer.cell, X, init, mask=RIGHT)
    close(out[1], seq[1, 2])  # row 1: last valid step is t=2
    zl = make("lstm", zero_output_for_mask=True)
    close(zl(X, initial_state=init, mask=RIGHT)[1], torch.zeros(U, dtype=torch.float64))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_go_backwards_returns_the_reversed_sequence(family):
    fw = make(family, return_sequences=True)
    bw = make(family, return_sequences=True, go_backwards=True)
    close(bw(X), fw(X.flip(1)))


def test_stateful_keeps_states_across_calls_and_resets():
    layer = make("lstm", stateful=True, return_state=True)
    x1, x2 = rand(B, T, F, seed=1), rand(B, T, F, seed=2)
    assert layer.states is None or all(torch.count_nonzero(s) == 0 for s in layer.states)
    out1, h1, c1 = layer(x1)
    all_close(layer.states, [h1, c1])
    out2, h2, c2 = layer(x2)
    ref = make("lstm", return_state=True)
    ref.set_weights(layer.get_weights())
    all_close(ref(x2, initial_state=[h1, c1]), (out2, h2, c2))
    layer.reset_states()
    assert len(layer.states) == 2
    assert all(torch.count_nonzero(s) == 0 for s in layer.states)
    all_close(layer(x1), (out1, h1, c1))  # starts from zeros again


def test_stateful_states_feed_another_layers_initial_state():
    """The guide: ``existing_state = lstm_layer.states``; ``new(p3, initial_state=existing)``."""
    p1, p2, p3 = (rand(B, T, F, seed=s) for s in (1, 2, 3))
    lstm_layer = make("lstm", stateful=True)
    lstm_layer(p1)
    lstm_layer(p2)
    existing_state = lstm_layer.states
    new_lstm_layer = make("lstm", seed=50)
    new_output = new_lstm_layer(p3, initial_state=existing_state)
    seq, _ = hand_loop(new_lstm_layer.cell, p3, existing_state)
    close(new_output, seq[:, -1])
    # stateful + return_state: the kept states are the returned ones
    keep = make("gru", stateful=True, return_state=True)
    _, h = keep(p1)
    close(keep.states[0], h)


def test_reset_states_with_values():
    layer = make("gru", stateful=True)
    layer(X)
    h = rand(B, U, seed=9)
    layer.reset_states([h])
    close(layer.states[0], h)
    ref = make("gru")
    ref.set_weights(layer.get_weights())
    close(layer(X), ref(X, initial_state=[h]))


def test_stacked_cells_return_state_ordering():
    cells = [layers.LSTMCell(2, dtype=F64), layers.GRUCell(3, dtype=F64),
             layers.SimpleRNNCell(4, dtype=F64)]
    rnn = layers.RNN(cells, return_sequences=True, return_state=True, dtype=F64)
    out = rnn(X)
    # Keras 3.15 returns one entry per cell, each a list of that cell's states (checked against
    # real Keras: RNN([LSTMCell, GRUCell, SimpleRNNCell], return_state=True) -> out, [h, c], [h], [h]).
    assert [type(o) for o in out[1:]] == [list, list, list]
    out = (out[0], *[s for ss in out[1:] for s in ss])
    assert [tuple(o.shape) for o in out] == [(B, T, 4), (B, 2), (B, 2), (B, 3), (B, 4)]
    # by hand: output of cell k feeds cell k+1
    st = [[torch.zeros(B, 2, dtype=torch.float64)] * 2, [torch.zeros(B, 3, dtype=torch.float64)],
          [torch.zeros(B, 4, dtype=torch.float64)]]
    outs = []
    for t in range(T):
        h = X[:, t]
        for k, c in enumerate(cells):
            h, st[k] = c(h, st[k])
        outs.append(h)
    close(out[0], torch.stack(outs, 1))
    all_close(out[1:], [s for ss in st for s in ss])
    # initial_state in the same flat order
    init = [rand(B, 2, seed=1), rand(B, 2, seed=2), rand(B, 3, seed=3), rand(B, 4, seed=4)]
    out_init = rnn(X, initial_state=init)
    assert not torch.allclose(out_init[0], out[0])
    stacked = layers.StackedRNNCells(cells)
    ref = layers.RNN(stacked, return_sequences=True, return_state=True, dtype=F64)
    flat = lambda o: [o[0], *[s for ss in o[1:] for s in ss]]  # noqa: E731
    all_close(flat(ref(X, initial_state=init)), flat(out_init))
    # ... and per cell, as Keras takes it
    nested = [init[:2], init[2:3], init[3:]]
    all_close(flat(ref(X, initial_state=nested)), flat(out_init))


@pytest.mark.parametrize("family", ["lstm", "gru_reset_before"])
def test_time_major_equals_transposed_batch_major(family):
    bm = make(family, return_sequences=True, return_state=True)
    tm = make(family, return_sequences=True, return_state=True, time_major=True)
    tm.set_weights(bm.get_weights())
    out_bm = bm(X, mask=RIGHT)
    for mask in (RIGHT.T, RIGHT):  # a (time, batch) mask, or Keras's (batch, time) one
        out_tm = tm(X.transpose(0, 1), mask=mask)
        close(out_tm[0], out_bm[0].transpose(0, 1))
        all_close(out_tm[1:], out_bm[1:])
    last = make(family, time_major=True)
    last.set_weights(bm.get_weights())
    close(last(X.transpose(0, 1)), bm(X)[0][:, -1])



def test_nested_inputs_states_and_outputs():
    cell = NestedCell(2, 3, 4, dtype=F64)
    assert cell.unit_1 == 2 and cell.state_size[1] == torch.Size([3, 4])
    rnn = layers.RNN(cell, return_sequences=True, return_state=True, dtype=F64)
    x1, x2 = rand(B, T, 5, seed=1), rand(B, T, 6, 7, seed=2)
    (seq1, seq2), s1, s2 = rnn((x1, x2))
    assert seq1.shape == (B, T, 2) and seq2.shape == (B, T, 3, 4)
    assert s1.shape == (B, 2) and s2.shape == (B, 3, 4)
    # the cell accumulates its outputs: final states are the sums of the per-step outputs
    close(s1, (x1 @ cell.kernel_1).sum(1))
    close(s2, torch.einsum("btij,ijkl->bkl", x2, cell.kernel_2_3))
    close(seq1, x1 @ cell.kernel_1)
    # masked steps repeat the previous output in every nested output
    (mseq1, mseq2), ms1, _ = rnn((x1, x2), mask=RIGHT)
    close(mseq1[1, 3], mseq1[1, 2])
    close(mseq2[2, 4], mseq2[2, 0])
    close(ms1, ((x1 @ cell.kernel_1) * RIGHT[..., None]).sum(1))


# ---------------------------------------------------------------------------------------------
# Bidirectional, TimeDistributed, mask propagation
# ---------------------------------------------------------------------------------------------
def _bidi(merge_mode="concat", **kw):
    bi = layers.Bidirectional(layers.LSTM(U, dtype=F64, **kw), merge_mode=merge_mode, dtype=F64)
    bi(X)
    bi.set_weights([rand(*w.shape, seed=30 + i) * 0.5 for i, w in enumerate(bi.weights)])
    return bi


def _directions(bi, x, mask=None, fw_init=None, bw_init=None):
    """Reference: a fresh forward LSTM and a fresh backward LSTM with the wrapper's weights."""
    kw = {"return_sequences": bi.return_sequences, "return_state": bi.return_state,
          "zero_output_for_mask": bi.return_sequences}
    fw = layers.LSTM(U, dtype=F64, **kw)
    bw = layers.LSTM(U, dtype=F64, go_backwards=True, **kw)
    fw(x)
    bw(x)
    fw.set_weights(bi.forward_layer.get_weights())
    bw.set_weights(bi.backward_layer.get_weights())
    return fw(x, mask=mask, initial_state=fw_init), bw(x, mask=mask, initial_state=bw_init)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode):
    bi = _bidi(merge_mode, return_sequences=True)
    y_fw, y_bw = _directions(bi, X)
    y_bw = y_bw.flip(1)
    want = {
        "concat": lambda: torch.cat([y_fw, y_bw], -1),
        "sum": lambda: y_fw + y_bw,
        "mul": lambda: y_fw * y_bw,
        "ave": lambda: (y_fw + y_bw) / 2,
        None: lambda: [y_fw, y_bw],
    }[merge_mode]()
    all_close(bi(X), want)
    # the backward direction really is the sequence reversed
    bw_ref = layers.LSTM(U, dtype=F64, return_sequences=True)
    bw_ref(X)
    bw_ref.set_weights(bi.backward_layer.get_weights())
    close(y_bw, bw_ref(X.flip(1)).flip(1))


def test_bidirectional_return_state_ordering_and_initial_state_halves():
    bi = _bidi("concat", return_state=True)
    init = [rand(B, U, seed=40 + i) for i in range(4)]
    out = bi(X, initial_state=init)
    assert len(out) == 5
    fw, bw = _directions(bi, X, fw_init=init[:2], bw_init=init[2:])
    close(out[0], torch.cat([fw[0], bw[0]], -1))
    all_close(out[1:3], fw[1:])  # forward h, c
    all_close(out[3:], bw[1:])  # backward h, c
    out_none = _bidi(None, return_state=True)(X)
    assert len(out_none) == 6  # fw out, bw out, fw h, fw c, bw h, bw c


def test_bidirectional_with_mask():
    bi = _bidi("concat", return_sequences=True)
    fw, bw = _directions(bi, X, mask=RIGHT)
    out = bi(X, mask=RIGHT)
    close(out, torch.cat([fw, bw.flip(1)], -1))
    assert getattr(out, "_keras_mask", None) is not None and torch.equal(out._keras_mask, RIGHT)
    last = _bidi("sum")
    fw, bw = _directions(last, X, mask=LEFT)
    close(last(X, mask=LEFT), fw + bw)


def test_time_distributed_dense():
    td = layers.TimeDistributed(layers.Dense(2, dtype=F64), dtype=F64)
    y = td(X)
    dense = td.layer
    close(y, X @ dense.kernel + dense.bias)
    for t in range(T):
        close(y[:, t], dense(X[:, t]))


def test_embedding_mask_zero_propagates_to_lstm():
    ids = torch.tensor([[3, 5, 1, 0, 0], [2, 0, 0, 0, 0], [4, 4, 4, 4, 4]])
    emb = layers.Embedding(6, F, mask_zero=True, dtype=F64)
    lstm = layers.LSTM(U, return_sequences=True, dtype=F64)
    e = emb(ids)
    y = lstm(e)
    close(y, lstm(e.detach().clone(), mask=ids != 0))
    assert torch.equal(y._keras_mask, ids != 0)
    # the mask mattered: row 1 repeats its only valid output
    close(y[1, 4], y[1, 0])
    assert not torch.allclose(y, lstm(e.detach().clone()))
    model = rnnkit.Sequential([layers.Embedding(6, F, mask_zero=True, dtype=F64),
                               layers.LSTM(U, dtype=F64)])
    out = model(ids)
    m_emb, m_lstm = model.layers
    close(out, m_lstm(m_emb(ids).detach().clone(), mask=ids != 0))


def test_embedding_mask_reaches_bidirectional_and_functional_models():
    ids = torch.tensor([[3, 5, 1, 0, 0], [2, 0, 0, 0, 0]])
    emb = layers.Embedding(6, F, mask_zero=True, dtype=F64)
    bi = layers.Bidirectional(layers.LSTM(U, dtype=F64), dtype=F64)
    e = emb(ids)
    y = bi(e)
    close(y, bi(e.detach().clone(), mask=ids != 0))
    assert not torch.allclose(y, bi(e.detach().clone()))
    inp = rnnkit.Input(shape=(None,), dtype="int64")
    out = layers.LSTM(U, dtype=F64)(layers.Embedding(6, F, mask_zero=True, dtype=F64)(inp))
    model = rnnkit.Model(inp, out)
    m_emb = next(m for m in model.layers if isinstance(m, layers.Embedding))
    m_lstm = next(m for m in model.layers if isinstance(m, layers.LSTM))
    close(model(ids), m_lstm(m_emb(ids).detach().clone(), mask=ids != 0))


def test_masking_layer_then_lstm():
    x = X.clone()
    x[1, 3:] = -1.0
    x[2, 1:] = -1.0
    masking = layers.Masking(mask_value=-1.0, dtype=F64)
    lstm = layers.LSTM(U, dtype=F64)
    y = lstm(masking(x))
    close(y, lstm(x, mask=RIGHT))


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("use_cudnn", ["auto", False])
def test_input_dropout_mask_is_the_same_at_every_step(use_cudnn):
    n = 16
    layer = layers.SimpleRNN(n, dropout=0.5, return_sequences=True, use_bias=False,
                             kernel_initializer="identity", recurrent_initializer="zeros",
                             use_cudnn=use_cudnn, dtype=F64)
    x = torch.ones(2, 6, n, dtype=torch.float64)
    torch.manual_seed(3)
    y = layer(x, training=True)
    zeros = y == 0
    assert zeros.any() and (~zeros).any()
    assert (zeros == zeros[:, :1]).all(), "the same features must be dropped at every step"
    mask = layer.cell._dropout_mask
    assert mask.shape == (2, n) and set(mask.unique().tolist()) <= {0.0, 2.0}
    close(y, torch.tanh(mask)[:, None].expand(2, 6, n))
    # drawn again on the next call
    torch.manual_seed(4)
    y2 = layer(x, training=True)
    assert not torch.equal(y2 == 0, zeros)
    # inactive in inference
    close(layer(x, training=False), torch.tanh(x))


def test_recurrent_dropout_mask_is_the_same_at_every_step():
    layer = make("simple_rnn", recurrent_dropout=0.5, return_sequences=True)
    torch.manual_seed(8)
    y = layer(X, training=True)
    m = layer.cell._recurrent_dropout_mask
    assert m.shape == (B, U) and set(m.unique().tolist()) <= {0.0, 2.0}
    cell = layer.cell
    h, outs = torch.zeros(B, U, dtype=torch.float64), []
    for t in range(T):
        h = torch.tanh(X[:, t] @ cell.kernel + (h * m) @ cell.recurrent_kernel + cell.bias)
        outs.append(h)
    close(y, torch.stack(outs, 1))
    ref = make("simple_rnn", return_sequences=True)
    close(layer(X, training=False), ref(X))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_dropout_inactive_without_training(family):
    drop = make(family, dropout=0.4, recurrent_dropout=0.4, return_sequences=True)
    plain = make(family, return_sequences=True)
    close(drop(X), plain(X))
    close(drop(X, training=False), plain(X))
    assert not torch.allclose(drop(X, training=True), plain(X))


# ---------------------------------------------------------------------------------------------
# weights, losses, dtypes, inputs, serialization
# ---------------------------------------------------------------------------------------------
def test_regularizers_appear_in_losses():
    layer = layers.LSTM(U, kernel_regularizer=regularizers.L2(0.1),
                        recurrent_regularizer=regularizers.L1(0.2),
                        bias_regularizer="l2", dtype=F64)
    layer(X)
    cell = layer.cell
    want = [0.1 * (cell.kernel ** 2).sum(), 0.2 * cell.recurrent_kernel.abs().sum(),
            0.01 * (cell.bias ** 2).sum()]
    got = layer.losses
    assert len(got) == 3
    for g, w in zip(got, want):
        close(g, w)
    assert layers.GRU(U)(X.float()) is not None and layers.GRU(U).losses == []


def test_lstm_weight_order_and_layout():
    layer = layers.LSTM(U, bias_initializer="zeros")
    layer(X.float())
    k, rk, b = layer.get_weights()
    assert k.shape == (F, 4 * U) and rk.shape == (U, 4 * U) and b.shape == (4 * U,)
    assert [getattr(w, "_rnnkit_name", None) for w in layer.weights] == [
        "kernel", "recurrent_kernel", "bias"]
    np.testing.assert_array_equal(b, np.r_[np.zeros(U), np.ones(U), np.zeros(2 * U)])
    nb = layers.LSTM(U, unit_forget_bias=False)
    nb(X.float())
    np.testing.assert_array_equal(nb.get_weights()[2], np.zeros(4 * U))
    new = [k + 1.0, rk - 1.0, b * 3.0]
    layer.set_weights(new)
    assert all(np.array_equal(a, b_) for a, b_ in zip(layer.get_weights(), new))
    np.testing.assert_array_equal(layer.cell.kernel.detach().numpy(), new[0])


def test_gru_and_simple_rnn_weight_shapes():
    g = layers.GRU(U)
    g(X.float())
    assert [w.shape for w in g.get_weights()] == [(F, 3 * U), (U, 3 * U), (2, 3 * U)]
    g2 = layers.GRU(U, reset_after=False)
    g2(X.float())
    assert [w.shape for w in g2.get_weights()] == [(F, 3 * U), (U, 3 * U), (3 * U,)]
    s = layers.SimpleRNN(U)
    s(X.float())
    assert [w.shape for w in s.get_weights()] == [(F, U), (U, U), (U,)]


def test_lstm_gate_blocks_follow_keras_order():
    """Gate blocks i, f, c, o: an LSTM whose weights are zero except its biases, one step."""
    layer = layers.LSTM(1, return_state=True, dtype=F64)
    layer(X[:, :1, :1])
    bi, bf, bc, bo = 0.3, -0.2, 0.7, 1.1
    layer.set_weights([np.zeros((1, 4)), np.zeros((1, 4)), np.array([bi, bf, bc, bo])])
    c0 = torch.full((1, 1), 2.0, dtype=torch.float64)
    _, h, c = layer(torch.zeros(1, 1, 1, dtype=torch.float64),
                    initial_state=[torch.zeros(1, 1, dtype=torch.float64), c0])
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    want_c = sig(bf) * 2.0 + sig(bi) * np.tanh(bc)
    close(c, [[want_c]])
    close(h, [[sig(bo) * np.tanh(want_c)]])


@pytest.mark.parametrize(
    "dtype",
    ["float64", torch.float64,
     {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"},
      "registered_name": None}],
)
def test_dtype_spellings(dtype):
    layer = layers.LSTM(U, dtype=dtype, return_state=True)
    out = layer(X.float())
    assert all(w.dtype == torch.float64 for w in layer.weights)
    assert all(o.dtype == torch.float64 for o in out)
    assert layer.get_config()["dtype"]["config"]["name"] == "float64"


def test_numpy_inputs_accepted():
    layer = make("gru", return_sequences=True)
    close(layer(X.numpy()), layer(X))
    f32 = layers.LSTM(U)
    assert f32(np.random.default_rng(0).random((2, 3, F)).astype(np.float32)).shape == (2, U)
    assert f32(np.random.default_rng(0).random((2, 3, F))).dtype == torch.float32


def test_input_shape_argument():
    layer = layers.LSTM(U, input_shape=(None, F))
    assert layer.get_config()["batch_input_shape"] == [None, None, F]
    model = rnnkit.Sequential([layers.SimpleRNN(U, input_shape=(T, F)), layers.Dense(2)])
    assert len(model.weights) == 5, "input_shape= builds the model right away"
    assert model(X.float()).shape == (B, 2)


SERIALIZABLE = [
    lambda: layers.SimpleRNN(U, activation="relu", return_sequences=True, dropout=0.1),
    lambda: layers.LSTM(U, return_state=True, go_backwards=True, unit_forget_bias=False),
    lambda: layers.GRU(U, reset_after=False, stateful=True, recurrent_dropout=0.2),
    lambda: layers.RNN(layers.LSTMCell(U), return_sequences=True, zero_output_for_mask=True),
    lambda: layers.RNN([layers.GRUCell(U), layers.SimpleRNNCell(2)], time_major=True),
    lambda: layers.Bidirectional(layers.GRU(U, return_sequences=True), merge_mode="mul"),
    lambda: layers.TimeDistributed(layers.Dense(2)),
    lambda: layers.SimpleRNNCell(U),
    lambda: layers.LSTMCell(U, kernel_regularizer="l2"),
    lambda: layers.GRUCell(U, reset_after=False),
    lambda: layers.StackedRNNCells([layers.LSTMCell(U), layers.GRUCell(2)]),
]


@pytest.mark.parametrize("factory", SERIALIZABLE, ids=lambda f: type(f()).__name__)
def test_serialize_deserialize_round_trip(factory):
    layer = factory()
    d = layers.serialize(layer)
    assert d["class_name"] == type(layer).__name__ and d["module"] == "keras.layers"
    again = layers.deserialize(d)
    assert type(again) is type(layer)
    assert again.get_config() == layer.get_config()


@pytest.mark.parametrize("factory", SERIALIZABLE[:7], ids=lambda f: type(f()).__name__)
def test_serialize_round_trip_of_built_layer_keeps_numbers(factory):
    layer = factory()
    x = X.float() if not getattr(layer, "time_major", False) else X.float().transpose(0, 1)
    y = flatten(layer(x))
    again = layers.deserialize(layers.serialize(layer))
    assert again.built, "build_config must build the copy"
    again.set_weights(layer.get_weights())
    if getattr(layer, "stateful", False):
        layer.reset_states()
        y = flatten(layer(x))
    all_close(flatten(again(x)), y, tol=1e-6)
