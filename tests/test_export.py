"""Export for serving: onnxruntime's outputs equal ``model.predict`` at other batch sizes and lengths."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.runners import fused
from rnnkit.saving.export import ExportError

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _onnx_run(path, xs):
    sess = ort.InferenceSession(path)
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})


def _predict(model, xs):
    out = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
    return out if isinstance(out, list) else [out]


def _assert_close(got, ref):
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def _only_standard_ops(path):
    model = onnx.load(path)
    domains = {n.domain for n in model.graph.node}
    assert domains <= {"", "ai.onnx"}, domains  # no custom / Python ops: onnxruntime alone runs it
    return {n.op_type for n in model.graph.node}


def _seq(units=6, **kw):
    return [layers.LSTM(units, return_sequences=True, **kw)]


FLOAT_MODELS = {
    "simple_rnn": lambda: [layers.SimpleRNN(5), layers.Dense(2)],
    "lstm": lambda: [layers.LSTM(5), layers.Dense(2)],
    "gru": lambda: [layers.GRU(5), layers.Dense(2)],
    "gru_sequences": lambda: [layers.GRU(5, return_sequences=True), layers.Dense(2)],
    "bidirectional_concat": lambda: [layers.Bidirectional(layers.LSTM(4)), layers.Dense(2)],
    "bidirectional_sum_sequences": lambda: [
        layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode="sum")],
    "stacked_layers": lambda: [layers.LSTM(6, return_sequences=True), layers.GRU(5),
                               layers.Dense(3, activation="softmax")],
    "rnn_builtin_cell": lambda: [layers.RNN(layers.LSTMCell(4)), layers.Dense(2)],
}


@pytest.mark.parametrize("kind", sorted(FLOAT_MODELS))
def test_float_models_have_dynamic_batch_and_time(kind, tmp_path):
    torch.manual_seed(0)
    model = rnnkit.Sequential([rnnkit.Input(shape=(None, 3)), *FLOAT_MODELS[kind]()])
    path = str(tmp_path / "m.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fused layers: no fixed-length warning
        model.export(path, verbose=False)
    ops = _only_standard_ops(path)
    assert ops & {"LSTM", "GRU", "RNN"}  # ONNX's own recurrent operators, not an unrolled loop
    for shape in [(1, 1, 3), (5, 11, 3), (2, 3, 3)]:
        x = np.random.default_rng(1).normal(size=shape).astype("float32")
        _assert_close(_onnx_run(path, [x]), _predict(model, [x]))


def _masked_model(rnn):
    inp = rnnkit.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(30, 4, mask_zero=True)(inp)
    return rnnkit.Model(inp, layers.Dense(2)(rnn(x)))


MASKED = {
    "lstm": lambda: layers.LSTM(5),
    "gru_sequences": lambda: layers.GRU(5, return_sequences=True),
    "simple_rnn": lambda: layers.SimpleRNN(5),
    "bidirectional": lambda: layers.Bidirectional(layers.LSTM(4)),
    "bidirectional_sequences": lambda: layers.Bidirectional(layers.GRU(3, return_sequences=True)),
}


@pytest.mark.parametrize("kind", sorted(MASKED))
def test_embedding_masks_right_and_left_padded_at_other_shapes(kind, tmp_path):
    torch.manual_seed(0)
    model = _masked_model(MASKED[kind]())
    path = str(tmp_path / "m.onnx")
    model.export(path, verbose=False)
    _only_standard_ops(path)
    right = rnnkit.utils.pad_sequences([[1, 2], [3, 4, 5, 6, 7, 8, 9], [5]], padding="post")
    left = rnnkit.utils.pad_sequences([[1, 2], [3, 4, 5, 6, 7, 8, 9], [5], [6, 7, 8]], padding="pre")
    for x in (right, left, np.concatenate([right, left[:3]])):
        assert (x == 0).any()  # really padded
        _assert_close(_onnx_run(path, [x.astype("int64")]), _predict(model, [x]))


def test_block_layout_equals_eager_masks_exactly():
    """The export-time mask formulation gives the eager numbers (float64), states included."""
    torch.manual_seed(0)
    x = torch.randn(5, 6, 3, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1] * 6, [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1],
                         [0] * 6]).bool()
    for cls in (layers.LSTM, layers.GRU, layers.SimpleRNN):
        for kw in ({}, {"go_backwards": True}, {"return_sequences": True},
                   {"return_sequences": True, "zero_output_for_mask": True}):
            layer = cls(4, return_state=True, dtype="float64", **kw)
            ref = layer(x, mask=mask)
            with fused.exporting():
                got = layer(x, mask=mask)
            for a, b in zip(ref, got):
                torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_several_inputs_and_outputs_with_initial_state(tmp_path):
    torch.manual_seed(0)
    enc_in = rnnkit.Input(shape=(None, 3))
    dec_in = rnnkit.Input(shape=(None, 2))
    _, h, c = layers.LSTM(4, return_state=True)(enc_in)
    seq = layers.LSTM(4, return_sequences=True)(dec_in, initial_state=[h, c])
    model = rnnkit.Model([enc_in, dec_in], [layers.Dense(2)(seq), h])
    path = str(tmp_path / "m.onnx")
    model.export(path, verbose=False)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(3, 7, 3)).astype("float32"), rng.normal(size=(3, 5, 2)).astype("float32")]
    _assert_close(_onnx_run(path, xs), _predict(model, xs))


class MinimalRNNCell(layers.Layer):
    """A user-written cell (the Keras guide's): runs on the generic loop."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        h = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return torch.tanh(h), [torch.tanh(h)]


def test_user_cell_exports_at_a_fixed_length_and_says_so(tmp_path):
    torch.manual_seed(0)
    model = rnnkit.Sequential([rnnkit.Input(shape=(6, 3)), layers.RNN(MinimalRNNCell(4)), layers.Dense(2)])
    path = str(tmp_path / "m.onnx")
    with pytest.warns(UserWarning, match="fixed sequence length"):
        model.export(path, verbose=False)
    x = np.random.default_rng(0).normal(size=(7, 6, 3)).astype("float32")  # other batch, same T
    _assert_close(_onnx_run(path, [x]), _predict(model, [x]))
    unknown = rnnkit.Sequential([rnnkit.Input(shape=(None, 3)), layers.RNN(MinimalRNNCell(4))])
    with pytest.raises(ExportError, match="fixed sequence length"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unknown.export(str(tmp_path / "u.onnx"), verbose=False)


@pytest.mark.parametrize("masked", [False, True])
def test_torch_export_program_runs_at_another_batch_size(masked, tmp_path):
    torch.manual_seed(0)
    if masked:
        model = _masked_model(layers.Bidirectional(layers.LSTM(4)))
        x = rnnkit.utils.pad_sequences([[1, 2], [3, 4, 5], [6], [7, 8], [9]], maxlen=3).astype("int64")
    else:
        model = rnnkit.Sequential([rnnkit.Input(shape=(3, 2)), layers.LSTM(4), layers.Dense(2)])
        x = np.random.default_rng(0).normal(size=(5, 3, 2)).astype("float32")
    path = str(tmp_path / "m.pt2")
    model.export(path, format="torch", verbose=False)
    program = torch.export.load(path).module()
    got = [t.detach().numpy() for t in program(torch.as_tensor(x))]
    _assert_close(got, _predict(model, [x]))


def test_export_errors_are_named_and_files_are_replaced_atomically(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input(shape=(None, 3)), layers.LSTM(2)])
    with pytest.raises(ExportError, match="format must be one of"):
        model.export(str(tmp_path / "m.x"), format="tflite")
    with pytest.raises(ExportError, match="empty"):
        model.export("", verbose=False)
    unbuilt = rnnkit.Sequential([layers.LSTM(2)])
    with pytest.raises(ExportError, match="input shape"):
        unbuilt.export(str(tmp_path / "u.onnx"), verbose=False)
    target = tmp_path / "keep.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(ExportError):
        bad = rnnkit.Sequential([rnnkit.Input(shape=(None, 3)), layers.LSTM(2)])
        bad.export(str(target), input_signature=[("not", "a shape")], verbose=False)
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["keep.onnx"]


def test_cli_export(tmp_path, capsys):
    from rnnkit.cli import main

    model = rnnkit.Sequential([rnnkit.Input(shape=(None, 3)), layers.GRU(3), layers.Dense(2)])
    model.save(str(tmp_path / "m.rnnkit"))
    assert main(["export", str(tmp_path / "m.rnnkit"), "--format", "onnx"]) == 0
    assert "exported onnx model" in capsys.readouterr().out
    x = np.random.default_rng(0).normal(size=(4, 9, 3)).astype("float32")
    _assert_close(_onnx_run(str(tmp_path / "m.onnx"), [x]), _predict(model, [x]))
    assert main(["export", str(tmp_path / "missing.rnnkit")]) == 2


def test_export_after_bfloat16_training(tmp_path):
    torch.manual_seed(0)
    model = rnnkit.Sequential([rnnkit.Input(shape=(None, 3)), layers.LSTM(4), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", mixed_precision="bfloat16")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(16, 5, 3)), rng.normal(size=(16, 2)), epochs=1, verbose=0)
    path = str(tmp_path / "m.onnx")
    model.export(path, verbose=False)
    x = rng.normal(size=(3, 8, 3)).astype("float32")
    # The exported graph computes in float32: compare with the float32 forward pass.
    ref = model(torch.as_tensor(x)).detach().numpy()
    _assert_close(_onnx_run(path, [x]), [ref])
