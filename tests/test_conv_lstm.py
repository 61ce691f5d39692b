"""ConvLSTM1D / 2D / 3D, their cells and Conv3D against real Keras 3.15 float64 fixtures.

The fixtures (tests/fixtures/keras_conv_lstm/) come from scripts/make_conv_lstm_fixtures.py run
on Keras's JAX backend with x64: outputs (sequences and states) and the gradients of
``sum(output_k * cotangent_k)`` with respect to the inputs, the initial states and the weights.
"""

from __future__ import annotations

import copy
import json
import pathlib

import numpy as np
import pytest
import torch

import rnnkit
import rnnkit.layers.cells.conv_lstm as cell_mod
from rnnkit import layers

from .layer_contract import run_layer_test

FIX = pathlib.Path(__file__).parent / "fixtures" / "keras_conv_lstm"
META = json.loads((FIX / "cases.json").read_text())
ARR = np.load(FIX / "arrays.npz")
CASES = META["cases"]
F64 = torch.float64


def _t(a):
    return torch.tensor(np.asarray(a), dtype=F64)


def _arr(name, key):
    return ARR[f"{name}/{key}"]


def _layer_from_case(case):
    kwargs = dict(case["kwargs"])
    if case["class_name"] == "ConvLSTMCell":
        return layers.ConvLSTMCell(dtype="float64", **kwargs)
    return getattr(layers, case["class_name"])(dtype="float64", **kwargs)


def _forward(name, case, layer, x, states):
    if case["class_name"] == "ConvLSTMCell":
        h, (_, c) = layer(x, list(states))
        return [h, c]
    kw = {}
    if case["mask"]:
        kw["mask"] = torch.tensor(_arr(name, "mask"))
    if case["initial_state"]:
        kw["initial_state"] = list(states)
    out = layer(x, **kw)
    return list(out) if isinstance(out, list | tuple) else [out]


def _build(name, case):
    layer = _layer_from_case(case)
    x = _t(_arr(name, "x")).requires_grad_(True)
    n_states = 2 if (case["initial_state"] or case["cell_states"]) else 0
    states = [_t(_arr(name, f"state{k}")).requires_grad_(True) for k in range(n_states)]
    if case["class_name"] == "ConvLSTMCell":
        layer.build(tuple(x.shape))
    else:
        layer(x.detach(), **({"initial_state": [s.detach() for s in states]} if states else {}))
        if case["stateful_second"]:
            layer.reset_states()
    layer.set_weights([_arr(name, f"w{k}") for k in range(case["num_weights"])])
    return layer, x, states


GRAD_CASES = [n for n, c in CASES.items() if c["has_grads"]]


@pytest.mark.parametrize("name", GRAD_CASES)
def test_outputs_and_gradients_match_keras(name):
    case = CASES[name]
    layer, x, states = _build(name, case)
    outs = _forward(name, case, layer, x, states)
    assert len(outs) == case["num_outputs"]
    for k, o in enumerate(outs):
        np.testing.assert_allclose(o.detach().numpy(), _arr(name, f"out{k}"), rtol=0, atol=1e-8,
                                   err_msg=f"{name} output {k}")
    loss = sum((o * _t(_arr(name, f"cot{k}"))).sum() for k, o in enumerate(outs))
    weights = layer.trainable_weights
    grads = torch.autograd.grad(loss, [x, *states, *weights])
    np.testing.assert_allclose(grads[0].numpy(), _arr(name, "grad_x"), rtol=0, atol=1e-8)
    for k in range(len(states)):
        np.testing.assert_allclose(grads[1 + k].numpy(), _arr(name, f"grad_state{k}"), rtol=0,
                                   atol=1e-8, err_msg=f"{name} state {k} gradient")
    for k, g in enumerate(grads[1 + len(states):]):
        np.testing.assert_allclose(g.numpy(), _arr(name, f"grad_w{k}"), rtol=0, atol=1e-8,
                                   err_msg=f"{name} weight {k} gradient")


def test_stateful_second_call_matches_keras():
    name = "lstm2d_stateful"
    case = CASES[name]
    layer, x, _ = _build(name, case)
    first = layer(x.detach())
    second = layer(_t(_arr(name, "x2")))
    np.testing.assert_allclose(first.detach().numpy(), _arr(name, "out0"), rtol=0, atol=1e-8)
    np.testing.assert_allclose(second.detach().numpy(), _arr(name, "second0"), rtol=0, atol=1e-8)
    layer.reset_states()
    again = layer(x.detach())
    np.testing.assert_allclose(again.detach().numpy(), _arr(name, "out0"), rtol=0, atol=1e-8)


def _without(cfg, keys=("name",)):
    """The config without ``keys``, and without VarianceScaling's ``input_axes`` / ``output_axes``.

    rnnkit's initializers serialize without Keras 3.15's new (None by default) ``input_axes`` /
    ``output_axes`` of VarianceScaling: a gap of rnnkit.initializers, not of these layers.
    """
    out = {}
    for k, v in cfg.items():
        if k in keys:
            continue
        if k.endswith("_initializer") and isinstance(v, dict):
            inner = {a: b for a, b in v["config"].items() if a not in ("input_axes", "output_axes")}
            v = {**v, "config": inner}
        out[k] = v
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_config_equals_keras_and_loads_from_it(name):
    case = CASES[name]
    keras_cfg = case["keras_config"]
    if case["class_name"] == "ConvLSTMCell":
        keras_cfg = {"rank": case["kwargs"]["rank"], **keras_cfg}  # Keras's cell omits its rank
    cls = getattr(layers, case["class_name"])
    layer = cls.from_config(copy.deepcopy(keras_cfg))
    ours = json.loads(json.dumps(layer.get_config()))
    assert _without(ours) == _without(keras_cfg)
    assert _without(json.loads(json.dumps(_layer_from_case(case).get_config()))) == _without(keras_cfg)


def test_fixture_files_are_small():
    assert sum(p.stat().st_size for p in FIX.iterdir()) < 400_000


# ---------------------------------------------------------------- the layer contract

def _x(*shape, seed=3):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


CONTRACT = {
    "1d_same_seq_state": (
        lambda: layers.ConvLSTM1D(3, 3, padding="same", return_sequences=True, return_state=True,
                                  dtype="float64"),
        _x(2, 3, 5, 2), [(2, 3, 5, 3), (2, 5, 3), (2, 5, 3)], 3,
    ),
    "1d_cf_strided": (
        lambda: layers.ConvLSTM1D(2, 2, strides=2, data_format="channels_first", dtype="float64"),
        _x(2, 3, 2, 7), [(2, 2, 3)], 3,
    ),
    "2d_valid": (
        lambda: layers.ConvLSTM2D(2, 3, dtype="float64"), _x(2, 3, 5, 4, 1), [(2, 3, 2, 2)], 3,
    ),
    "2d_no_bias_backwards_seq": (
        lambda: layers.ConvLSTM2D(2, (2, 3), padding="same", use_bias=False, go_backwards=True,
                                  return_sequences=True, dtype="float64"),
        _x(2, 3, 4, 4, 2), [(2, 3, 4, 4, 2)], 2,
    ),
    "3d_same_state": (
        lambda: layers.ConvLSTM3D(2, 2, padding="same", return_state=True, dtype="float64"),
        _x(1, 2, 3, 3, 3, 1), [(1, 3, 3, 3, 2)] * 3, 3,
    ),
    "rnn_convlstm2d_cell": (
        lambda: layers.RNN(layers.ConvLSTM2DCell(2, 3, padding="same", dtype="float64"),
                           return_sequences=True, dtype="float64"),
        _x(2, 3, 4, 4, 1), [(2, 3, 4, 4, 2)], 3,
    ),
    "conv3d": (
        lambda: layers.Conv3D(2, 3, strides=2, padding="same", dtype="float64"),
        _x(2, 5, 4, 3, 2), [(2, 3, 2, 2, 2)], 2,
    ),
    "conv3d_cf_groups": (
        lambda: layers.Conv3D(4, 2, groups=2, data_format="channels_first", dtype="float64"),
        _x(2, 2, 3, 3, 3), [(2, 4, 2, 2, 2)], 2,
    ),
}


@pytest.mark.parametrize("name", list(CONTRACT))
def test_layer_contract(name):
    factory, x, shapes, n_weights = CONTRACT[name]
    run_layer_test(factory, x, shapes, n_weights)


def test_contract_with_mask():
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    run_layer_test(
        lambda: layers.ConvLSTM1D(2, 3, return_sequences=True, dtype="float64"),
        _x(2, 3, 6, 2), [(2, 3, 4, 2)], 3, call_kwargs={"mask": mask},
    )


# ---------------------------------------------------------------- semantics

def _layer2d(**kw):
    torch.manual_seed(0)
    layer = layers.ConvLSTM2D(2, 3, padding="same", dtype="float64", **kw)
    return layer


def test_layer_equals_stepping_the_cell_by_hand():
    x = _x(2, 4, 5, 5, 3)
    layer = _layer2d(return_sequences=True, return_state=True)
    seq, h, c = layer(x)
    cell = layer.cell
    states = cell.get_initial_state(2)
    outs = []
    for t in range(x.shape[1]):
        out, states = cell(x[:, t], states)
        outs.append(out)
    torch.testing.assert_close(seq, torch.stack(outs, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(h, states[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(c, states[1], rtol=0, atol=1e-12)
    torch.testing.assert_close(seq[:, -1], h, rtol=0, atol=0)


def test_input_convolution_is_hoisted_out_of_the_loop(monkeypatch):
    """One input convolution over all B * T frames, then one recurrent convolution per step."""
    calls = []
    real = cell_mod._conv

    def spy(x, *args, **kwargs):
        calls.append(tuple(x.shape))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(cell_mod, "_conv", spy)
    layer = layers.ConvLSTM1D(2, 3, dtype="float64")
    B, T = 3, 5
    layer(_x(B, T, 8, 2))
    assert calls[0] == (B * T, 2, 8)  # the input convolution, channels first
    assert calls[1:] == [(B, 2, 6)] * T  # the recurrent convolutions


def test_go_backwards_is_forward_on_the_reversed_sequence():
    x = _x(2, 4, 5, 5, 1)
    fwd = _layer2d(return_sequences=True)
    bwd = _layer2d(return_sequences=True, go_backwards=True)
    bwd(x)
    bwd.set_weights(fwd.get_weights() if fwd.built else [w for w in _built(fwd, x).get_weights()])
    torch.testing.assert_close(bwd(x), fwd(x.flip(1)), rtol=0, atol=1e-12)


def _built(layer, x):
    layer(x)
    return layer


def test_stateful_equals_one_long_sequence():
    x = _x(2, 6, 4, 4, 1)
    whole = _built(_layer2d(return_sequences=True), x)
    stateful = _layer2d(return_sequences=True, stateful=True)
    stateful(x[:, :3])
    stateful.set_weights(whole.get_weights())
    stateful.reset_states()
    parts = torch.cat([stateful(x[:, :3]), stateful(x[:, 3:])], 1)
    torch.testing.assert_close(parts, whole(x), rtol=0, atol=1e-12)
    assert [tuple(s.shape) for s in stateful.states] == [(2, 4, 4, 2)] * 2
    with pytest.raises(ValueError, match="batch"):
        stateful(x[:1, :3])


def test_masked_steps_keep_states_and_repeat_outputs():
    x = _x(2, 5, 6, 2)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    layer = _built(layers.ConvLSTM1D(2, 3, return_sequences=True, return_state=True,
                                     dtype="float64"), x)
    seq, h, c = layer(x, mask=mask)
    short_seq, short_h, short_c = layer(x[:1, :3])
    torch.testing.assert_close(seq[:1, :3], short_seq, rtol=0, atol=1e-12)
    torch.testing.assert_close(seq[0, 3], short_seq[0, -1], rtol=0, atol=0)  # repeated
    torch.testing.assert_close(h[:1], short_h, rtol=0, atol=1e-12)
    torch.testing.assert_close(c[:1], short_c, rtol=0, atol=1e-12)
    full = layer(x[1:])
    torch.testing.assert_close(seq[1:], full[0], rtol=0, atol=1e-12)
    # an all-true mask changes nothing; the mask is passed on only with return_sequences
    torch.testing.assert_close(layer(x, mask=torch.ones(2, 5, dtype=torch.bool))[0], layer(x)[0])
    assert layer.compute_mask(x, mask)[0] is mask
    last = layers.ConvLSTM1D(2, 3)
    assert last.compute_mask(x, mask) is None


def test_return_state_and_initial_state_round_trip():
    x = _x(2, 4, 5, 5, 1)
    layer = _built(_layer2d(return_state=True), x)
    out, h, c = layer(x[:, :2])
    out2, h2, c2 = layer(x[:, 2:], initial_state=[h, c])
    _, h_all, c_all = layer(x)
    torch.testing.assert_close(h2, h_all, rtol=0, atol=1e-12)
    torch.testing.assert_close(c2, c_all, rtol=0, atol=1e-12)
    torch.testing.assert_close(out2, h2, rtol=0, atol=0)


def test_channels_first_equals_channels_last():
    x = _x(2, 3, 5, 4, 2)
    last = _built(layers.ConvLSTM2D(3, (3, 2), padding="same", return_sequences=True,
                                    dtype="float64"), x)
    first = layers.ConvLSTM2D(3, (3, 2), padding="same", return_sequences=True,
                              data_format="channels_first", dtype="float64")
    xf = x.permute(0, 1, 4, 2, 3)
    first(xf)
    first.set_weights(last.get_weights())
    torch.testing.assert_close(first(xf), last(x).permute(0, 1, 4, 2, 3), rtol=0, atol=1e-12)


def test_dropout_masks_are_per_gate_fixed_over_time_and_off_in_inference():
    x = _x(2, 4, 6, 2)
    layer = layers.ConvLSTM1D(2, 3, dropout=0.5, recurrent_dropout=0.5, return_sequences=True,
                              dtype="float64")
    plain = layers.ConvLSTM1D(2, 3, return_sequences=True, dtype="float64")
    layer(x)
    plain(x)
    plain.set_weights(layer.get_weights())
    torch.testing.assert_close(layer(x, training=False), plain(x), rtol=0, atol=0)
    torch.manual_seed(1)
    a = layer(x, training=True)
    masks = layer.cell._dropout_mask
    rmasks = layer.cell._recurrent_dropout_mask
    assert tuple(masks.shape) == (4, 2, 2, 6) and tuple(rmasks.shape) == (4, 2, 2, 4)
    assert not torch.equal(masks[0], masks[1])  # one mask per gate
    assert set(masks.unique().tolist()) <= {0.0, 2.0}
    assert not torch.allclose(a, plain(x))
    torch.manual_seed(1)
    torch.testing.assert_close(layer(x, training=True), a, rtol=0, atol=0)  # same draw, same out
    a.sum().backward()
    assert all(torch.isfinite(w.grad).all() for w in layer.trainable_weights)


def test_dropout_matches_a_hand_masked_step():
    """Training-mode numbers: gate g's input / recurrent convolutions see mask g."""
    x = _x(2, 3, 6, 2)
    layer = layers.ConvLSTM1D(2, 3, padding="same", dropout=0.3, recurrent_dropout=0.4,
                              return_sequences=True, dtype="float64")
    layer(x)
    torch.manual_seed(5)
    seq = layer(x, training=True)
    m, rm = layer.cell._dropout_mask, layer.cell._recurrent_dropout_mask  # (4, B, C, S)
    k, rk, b = (w.detach() for w in layer.trainable_weights)
    h = torch.zeros(2, 6, 2, dtype=F64)
    c = torch.zeros_like(h)
    ref = []
    for t in range(3):
        gates = []
        for g in range(4):
            xg = (x[:, t] * m[g].transpose(1, 2))
            hg = (h * rm[g].transpose(1, 2))
            wi = k[..., 2 * g: 2 * g + 2].permute(2, 1, 0)
            wr = rk[..., 2 * g: 2 * g + 2].permute(2, 1, 0)
            z = (torch.nn.functional.conv1d(xg.transpose(1, 2), wi, b[2 * g: 2 * g + 2], padding=1)
                 + torch.nn.functional.conv1d(hg.transpose(1, 2), wr, padding=1))
            gates.append(z.transpose(1, 2))
        i, f, cc, o = (torch.sigmoid(gates[0]), torch.sigmoid(gates[1]), torch.tanh(gates[2]),
                       torch.sigmoid(gates[3]))
        c = f * c + i * cc
        h = o * torch.tanh(c)
        ref.append(h)
    torch.testing.assert_close(seq.detach(), torch.stack(ref, 1), rtol=0, atol=1e-12)


def test_unit_forget_bias_and_weight_layout():
    layer = _built(layers.ConvLSTM3D(3, (1, 2, 3), padding="same"), torch.zeros(1, 2, 4, 4, 4, 2))
    assert [tuple(w.shape) for w in layer.get_weights()] == [(1, 2, 3, 2, 12), (1, 2, 3, 3, 12),
                                                               (12,)]
    np.testing.assert_array_equal(layer.get_weights()[2], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    no = _built(layers.ConvLSTM1D(3, 2, unit_forget_bias=False), torch.zeros(1, 2, 4, 2))
    np.testing.assert_array_equal(no.get_weights()[2], np.zeros(12))
    assert layer.filters == 3 and layer.kernel_size == (1, 2, 3) and layer.cell.rank == 3


def test_compute_output_shape():
    layer = layers.ConvLSTM2D(4, 3, strides=2, return_sequences=True, return_state=True)
    assert layer.compute_output_shape((None, None, 9, 8, 3)) == (
        (None, None, 4, 3, 4), (None, 4, 3, 4), (None, 4, 3, 4))
    cf = layers.ConvLSTM1D(2, 3, padding="same", data_format="channels_first")
    assert cf.compute_output_shape((5, 7, 3, 10)) == (5, 2, 10)
    assert layers.Conv3D(2, 3).compute_output_shape((None, 5, 6, 7, 1)) == (None, 3, 4, 5, 2)


def test_save_and_load_a_model(tmp_path):
    model = rnnkit.Sequential([
        layers.Input((3, 4, 4, 1)),
        layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True),
        layers.Conv3D(1, 3, padding="same", activation="sigmoid"),
    ])
    x = np.random.default_rng(0).random((2, 3, 4, 4, 1)).astype("float32")
    want = model.predict(x, verbose=0)
    path = tmp_path / "m.rnnkit"
    model.save(path)
    back = rnnkit.models.load_model(path)
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=0, atol=1e-6)
    assert [type(layer).__name__ for layer in back.layers][-2:] == ["ConvLSTM2D", "Conv3D"]


def test_serialize_deserialize_cells_and_layers():
    cell = layers.ConvLSTMCell(2, 3, 3, padding="same", name="c")
    back = layers.deserialize(layers.serialize(cell))
    assert type(back) is layers.ConvLSTMCell and back.rank == 2 and back.padding == "same"
    layer = layers.ConvLSTM3D(2, 3, dropout=0.1, seed=7)
    back = layers.deserialize(layers.serialize(layer))
    assert type(back) is layers.ConvLSTM3D and back.dropout == 0.1 and back.cell.seed == 7


# ---------------------------------------------------------------- errors

def test_errors_name_what_was_expected():
    with pytest.raises(ValueError, match=r"Specifying `strides > 1` is not compatible"):
        layers.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding"):
        layers.ConvLSTM1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size"):
        layers.ConvLSTM2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="filters"):
        layers.ConvLSTM1D(0, 3)
    with pytest.raises(ValueError, match="data_format"):
        layers.ConvLSTM1D(2, 3, data_format="NHWC")
    with pytest.raises(ValueError, match="Rank 4"):
        layers.ConvLSTMCell(4, 2, 3)
    with pytest.raises(ValueError, match=r"rank 5 \(batch, time, rows, cols, channels\)"):
        layers.ConvLSTM2D(2, 3)(torch.zeros(2, 3, 4, 1))
    with pytest.raises(ValueError, match="larger than the spatial input"):
        layers.ConvLSTM1D(2, 5)(torch.zeros(2, 3, 4, 1))
    layer = _built(layers.ConvLSTM1D(2, 3, return_state=True), torch.zeros(2, 3, 6, 1))
    with pytest.raises(ValueError, match=r"state 0 must have shape \(2, 4, 2\)"):
        layer(torch.zeros(2, 3, 6, 1), initial_state=[torch.zeros(2, 6, 2), torch.zeros(2, 6, 2)])
    with pytest.raises(ValueError, match="feature shape"):
        layer(torch.zeros(2, 3, 7, 1))
    with pytest.raises(ValueError, match=r"states \[h, c\]"):
        layer.cell(torch.zeros(2, 6, 1), [torch.zeros(2, 4, 2)])
    with pytest.raises(ValueError, match="dropout"):
        layers.ConvLSTM1D(2, 3, dropout=1.5)
    with pytest.raises(ValueError, match="groups"):
        layers.Conv3D(3, 2, groups=2)
    with pytest.raises(ValueError, match=r"rank 5"):
        layers.Conv3D(3, 2)(torch.zeros(2, 3, 4, 1))


def test_same_padding_matches_tensorflow_placement():
    # even kernel: TensorFlow puts the extra padding at the end
    x = torch.arange(5, dtype=F64).reshape(1, 1, 5)
    w = torch.ones(1, 1, 2, dtype=F64)
    # windows [0,1] [1,2] [2,3] [3,4] [4,pad]
    assert cell_mod._conv(x, w, padding="same").flatten().tolist() == [1, 3, 5, 7, 4]
    w3 = torch.ones(1, 1, 3, dtype=F64)
    assert cell_mod._conv(x, w3, padding="same").flatten().tolist() == [1, 3, 6, 9, 7]
    assert cell_mod._conv(x, w3, strides=(2,), padding="same").flatten().tolist() == [1, 6, 7]



def test_seeded_dropout_is_reproducible():
    x = _x(2, 3, 6, 2)

    def run(seed):
        layer = layers.ConvLSTM1D(2, 3, dropout=0.5, recurrent_dropout=0.5, seed=seed,
                                  dtype="float64")
        layer(x)
        layer.set_weights([np.full(w.shape, 0.1) for w in layer.get_weights()])
        return layer(x, training=True), layer.cell._dropout_mask

    (a, ma), (b, mb), (_, mc) = run(3), run(3), run(4)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.equal(ma, mb) and not torch.equal(ma, mc)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_keras_files_both_ways(tmp_path, rank):
    """A real Keras (torch backend) ConvLSTM model loads in rnnkit with Keras's predictions, and
    rnnkit's .keras file of it loads back in Keras."""
    keras = pytest.importorskip("keras")
    spatial = {1: (6,), 2: (5, 4), 3: (4, 3, 3)}[rank]
    inp = keras.Input((3, *spatial, 2))
    conv_lstm = getattr(keras.layers, f"ConvLSTM{rank}D")
    x = conv_lstm(3, 2, padding="same", return_sequences=True, recurrent_activation="hard_sigmoid",
                  go_backwards=rank == 2)(inp)
    x = conv_lstm(2, 3, strides=2 if rank != 2 else 1, dilation_rate=2 if rank == 2 else 1,
                  padding="same")(x)
    model = keras.Model(inp, x)
    data = np.random.default_rng(rank).random((2, 3, *spatial, 2)).astype("float32")
    want = model.predict(data, verbose=0)
    model.save(tmp_path / "k.keras")
    back = rnnkit.models.load_model(tmp_path / "k.keras")
    assert [type(layer).__name__ for layer in back.layers][1:] == [f"ConvLSTM{rank}D"] * 2
    np.testing.assert_allclose(back.predict(data, verbose=0), want, rtol=0, atol=2e-6)
    back.save(tmp_path / "r.keras")
    again = keras.models.load_model(tmp_path / "r.keras")
    np.testing.assert_allclose(again.predict(data, verbose=0), want, rtol=0, atol=2e-6)


def test_bidirectional_conv_lstm2d():
    x = _x(2, 3, 4, 4, 1)
    bi = layers.Bidirectional(layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True,
                                                dtype="float64"), dtype="float64")
    out = bi(x)
    assert tuple(out.shape) == (2, 3, 4, 4, 4)
    fwd, bwd = bi.forward_layer, bi.backward_layer
    torch.testing.assert_close(out[..., :2], fwd(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(out[..., 2:], bwd(x).flip(1), rtol=0, atol=1e-12)
