"""The functional graph with Keras's semantics, checked against real Keras 3.15 (torch backend).

The same model-building function runs once with ``rnnkit`` and once with ``keras`` (their APIs
agree), and what a program can observe is compared: ``model.layers`` (names and classes, InputLayers
included), the order and shapes of ``model.weights``, symbolic masks, and the ``summary()`` text.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.layers import InputLayer

keras = pytest.importorskip("keras")  # the oracle (KERAS_BACKEND=torch, set in conftest.py)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# =========================================================================== graphs, built twice
def guide_encoder_decoder(K):
    """The Keras RNN guide's two-input encoder-decoder (Embedding -> LSTM states -> LSTM)."""
    L = K.layers
    encoder_input = K.Input(shape=(None,), name="encoder_input")
    encoder_embedded = L.Embedding(input_dim=30, output_dim=8, name="encoder_embedding")(encoder_input)
    _, state_h, state_c = L.LSTM(16, return_state=True, name="encoder")(encoder_embedded)
    decoder_input = K.Input(shape=(None,), name="decoder_input")
    decoder_embedded = L.Embedding(input_dim=40, output_dim=8, name="decoder_embedding")(decoder_input)
    decoder_output = L.LSTM(16, name="decoder")(decoder_embedded, initial_state=[state_h, state_c])
    output = L.Dense(10, name="logits")(decoder_output)
    return K.Model([encoder_input, decoder_input], output, name="encoder_decoder")


def lstm_seq2seq(K, num_encoder_tokens=7, num_decoder_tokens=9, latent_dim=16):
    """keras-io examples/nlp/lstm_seq2seq.py's training model (names as Keras would give them)."""
    L = K.layers
    encoder_inputs = K.Input(shape=(None, num_encoder_tokens), name="input_1")
    encoder = L.LSTM(latent_dim, return_state=True, name="lstm_1")
    _, state_h, state_c = encoder(encoder_inputs)
    decoder_inputs = K.Input(shape=(None, num_decoder_tokens), name="input_2")
    decoder_lstm = L.LSTM(latent_dim, return_sequences=True, return_state=True, name="lstm_2")
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
    decoder_outputs = L.Dense(num_decoder_tokens, activation="softmax", name="dense")(decoder_outputs)
    return K.Model([encoder_inputs, decoder_inputs], decoder_outputs, name="seq2seq")


def siamese(K):
    """One Dense shared by two inputs, merged."""
    L = K.layers
    a, b = K.Input(shape=(4,), name="left"), K.Input(shape=(4,), name="right")
    shared = L.Dense(3, name="shared")
    merged = L.Add(name="add")([shared(a), shared(b)])
    return K.Model([a, b], L.Dense(1, name="score")(merged), name="siamese")


def late_auxiliary_input(K):
    """A main sequence input and an auxiliary input joined late; two outputs at two depths."""
    L = K.layers
    main = K.Input(shape=(None, 5), name="main")
    x = L.LSTM(6, name="lstm")(main)
    aux_out = L.Dense(1, name="aux_out")(x)
    aux = K.Input(shape=(3,), name="aux")
    x = L.Concatenate(name="concat")([x, aux])
    x = L.Dense(8, activation="relu", name="hidden")(x)
    x = L.BatchNormalization(name="bn")(x)
    return K.Model([main, aux], [L.Dense(2, name="main_out")(x), aux_out], name="two_outputs")


def nested_and_bidirectional(K):
    """A Sequential used as a layer, a Bidirectional LSTM, a GRU fed by one of two branches."""
    L = K.layers
    inner = K.Sequential([K.Input(shape=(None, 4)), L.GRU(5, return_sequences=True, name="gru"), L.Dense(3, name="proj")], name="inner")
    x_in = K.Input(shape=(None, 4), name="x")
    branch = inner(x_in)
    bi = L.Bidirectional(L.LSTM(4, return_sequences=True, name="bi_lstm"), name="bidirectional")(x_in)
    joined = L.Concatenate(name="join")([branch, bi])
    out = L.SimpleRNN(2, name="rnn")(joined)
    return K.Model(x_in, out, name="nested")


def sequential_stack(K):
    L = K.layers
    return K.Sequential(
        [K.Input(shape=(None, 3)), L.LSTM(8, return_sequences=True, name="l1"), L.LayerNormalization(name="ln"), L.GRU(4, name="l2"), L.Dense(2, name="out")],
        name="stack",
    )


GRAPHS = [guide_encoder_decoder, lstm_seq2seq, siamese, late_auxiliary_input, nested_and_bidirectional, sequential_stack]


def _layer_signature(model):
    return [(layer.name, type(layer).__name__) for layer in model.layers]


@pytest.mark.parametrize("build", GRAPHS, ids=lambda f: f.__name__)
def test_layers_and_weight_order_match_keras(build):
    ours, theirs = build(rnnkit), build(keras)
    assert _layer_signature(ours) == _layer_signature(theirs)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert [tuple(t.shape) for t in ours.inputs] == [tuple(t.shape) for t in theirs.inputs]
    assert [tuple(t.shape) for t in ours.outputs] == [tuple(t.shape) for t in theirs.outputs]


def test_guide_encoder_decoder_first_weight_is_the_encoder_embedding():
    model = guide_encoder_decoder(rnnkit)
    assert [layer.name for layer in model.layers] == [
        "encoder_input", "decoder_input", "encoder_embedding", "decoder_embedding", "encoder", "decoder", "logits"
    ]  # what Keras 3.15 lists (checked by test_layers_and_weight_order_match_keras)
    assert model.weights[0] is model.get_layer("encoder_embedding").embeddings
    assert tuple(model.weights[0].shape) == (30, 8)


def test_weights_exchanged_with_keras_give_the_same_predictions():
    ours, theirs = late_auxiliary_input(rnnkit), late_auxiliary_input(keras)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    rng = np.random.default_rng(1)
    x = [rng.normal(size=(3, 4, 5)).astype("float32"), rng.normal(size=(3, 3)).astype("float32")]
    for a, b in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(a, np.asarray(b), atol=1e-5)


class _Subclassed:
    """A subclassed model whose attributes are assigned in another order than they are called."""

    @staticmethod
    def make(K):
        L = K.layers

        class Tagger(K.Model):
            def __init__(self):
                super().__init__(name="tagger")
                self.head = L.Dense(3, name="head")
                self.embed = L.Embedding(20, 4, name="embed")
                self.rnn = L.Bidirectional(L.GRU(5, return_sequences=True), name="rnn")

            def call(self, x):
                return self.head(self.rnn(self.embed(x)))

        model = Tagger()
        model(np.zeros((2, 6), dtype="int32"))
        return model


def test_subclassed_model_layers_and_weights_match_keras():
    ours, theirs = _Subclassed.make(rnnkit), _Subclassed.make(keras)
    assert _layer_signature(ours) == _layer_signature(theirs)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]


# =========================================================================== introspection
def test_input_layer_and_keras_history():
    x = rnnkit.Input(shape=(None, 3), name="seq")
    layer = x._keras_history.operation
    assert isinstance(layer, InputLayer) and layer.name == "seq" and layer.output is x
    assert x._keras_history == (layer, 0, 0)
    assert layer._inbound_nodes[0].is_input and layer.input == []  # as Keras: no input tensors
    lstm = layers.LSTM(4, return_state=True, name="enc")
    out, h, c = lstm(x)
    assert [t._keras_history.tensor_index for t in (out, h, c)] == [0, 1, 2]
    assert all(t._keras_history.operation is lstm and t._keras_history.node_index == 0 for t in (out, h, c))
    assert lstm.input is x and lstm.output == [out, h, c]
    node = lstm._inbound_nodes[0]
    assert node.layer is lstm and node.args[0] is x and list(node.outputs) == [out, h, c]
    direct = InputLayer(shape=(5,), dtype="int32", name="ids")
    assert direct.output.shape == (None, 5) and direct.output.dtype == "int32"
    assert layers.Input is rnnkit.Input and rnnkit.layers.InputLayer is InputLayer


def test_model_input_output_structures_match_keras():
    for K in (rnnkit, keras):
        a, b = K.Input((3,), name="a"), K.Input((3,), name="b")
        d = K.layers.Dense(2)
        two = K.Model([a, b], [d(a), K.layers.Dense(1)(b)])
        assert isinstance(two.input, list) and two.input[0] is a and two.input[1] is b
        assert isinstance(two.output, list) and len(two.output) == 2
        assert two.inputs == [a, b]
        one = K.Model(a, K.layers.Dense(4)(a))
        assert one.input is a and one.output is one.outputs[0]
        named = K.Model({"a": a, "b": b}, K.layers.Add()([a, b]))
        assert isinstance(named.input, dict) and named.input["b"] is b


def test_layer_used_twice_has_no_single_output():
    a, b = rnnkit.Input((4,)), rnnkit.Input((4,))
    shared = layers.Dense(3, name="twice")
    ya, yb = shared(a), shared(b)
    with pytest.raises(ValueError, match="2 inbound nodes.*get_output_at"):
        _ = shared.output
    with pytest.raises(ValueError, match="get_input_at"):
        _ = shared.input
    assert shared.get_output_at(0) is ya and shared.get_output_at(1) is yb
    assert shared.get_input_at(1) is b
    with pytest.raises(ValueError, match="called 2 time"):
        shared.get_output_at(2)
    with pytest.raises(ValueError, match="never been called"):
        _ = layers.Dense(2).output


def test_submodels_from_intermediate_tensors_share_layers_and_weights():
    model = late_auxiliary_input(rnnkit)
    lstm = model.get_layer("lstm")
    features = rnnkit.Model(model.input[0], lstm.output)
    assert features.get_layer("lstm") is lstm
    assert features.weights[0] is lstm.weights[0]
    x = np.random.default_rng(2).normal(size=(2, 4, 5)).astype("float32")
    with torch.no_grad():
        want = lstm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(features.predict(x, verbose=0), want, atol=1e-6)
    # an intermediate tensor as input: Keras gives it a fresh InputLayer, the layers are shared
    hidden = model.get_layer("hidden")
    tail = rnnkit.Model(hidden.output, model.output[0])
    assert isinstance(tail.layers[0], InputLayer) and tail.layers[0].output.shape == (None, 8)
    assert [type(la).__name__ for la in tail.layers] == ["InputLayer", "BatchNormalization", "Dense"]
    assert tail.get_layer("main_out") is model.get_layer("main_out")
    h = np.random.default_rng(3).normal(size=(2, 8)).astype("float32")
    with torch.no_grad():
        want = model.get_layer("main_out")(model.get_layer("bn")(torch.from_numpy(h))).numpy()
    np.testing.assert_allclose(tail.predict(h, verbose=0), want, atol=1e-6)


def test_disconnected_graph_is_refused_with_the_missing_input_named():
    a, b = rnnkit.Input((3,), name="a"), rnnkit.Input((3,), name="b")
    out = layers.Dense(1)(layers.Concatenate()([a, b]))
    with pytest.raises(ValueError, match="Graph disconnected.*'b'"):
        rnnkit.Model(a, out)


def test_sequential_layers_outputs_and_rebuild():
    model = sequential_stack(rnnkit)
    assert model.input.shape == (None, None, 3) and model.inputs == [model.input]
    assert model.output.shape == (None, 2) and model.layers[-1].output is model.output
    assert model.layers[0].input is model.input
    model.pop()
    model.add(layers.Dense(5, name="out5"))
    # the rebuild replaced the previous build's nodes: each layer still has one call
    assert all(len(layer._inbound_nodes) == 1 for layer in model.layers)
    assert model.output.shape == (None, 5)


# =========================================================================== symbolic masks
def _mask_shapes(K):
    L = K.layers
    tokens = K.Input(shape=(None,), dtype="int32", name="tokens")
    emb = L.Embedding(50, 4, mask_zero=True)(tokens)
    seq = L.LSTM(3, return_sequences=True)(emb)
    last = L.LSTM(3)(seq)
    values = K.Input(shape=(None, 2), name="values")
    masked = L.Masking(mask_value=0.0)(values)
    dense = L.Dense(5)(masked)
    plain = L.Dense(5)(values)
    out = {}
    for name, t in [("emb", emb), ("seq", seq), ("last", last), ("masked", masked), ("dense", dense), ("plain", plain), ("tokens", tokens)]:
        m = getattr(t, "_keras_mask", None)
        out[name] = None if m is None else (tuple(m.shape), m.dtype)
    return out


def test_symbolic_masks_match_keras():
    ours, theirs = _mask_shapes(rnnkit), _mask_shapes(keras)
    assert ours == theirs
    assert ours["emb"] == ((None, None), "bool") and ours["last"] is None


def test_explicitly_passed_symbolic_mask_is_used_at_run_time():
    tokens = rnnkit.Input(shape=(None,), dtype="int32")
    emb = layers.Embedding(10, 4, mask_zero=True)(tokens)
    values = rnnkit.Input(shape=(None, 4))
    out = layers.LSTM(3)(values, mask=emb._keras_mask)
    model = rnnkit.Model([tokens, values], out)
    rng = np.random.default_rng(0)
    t = np.array([[1, 2, 0, 0]], dtype="int32")
    v = rng.normal(size=(1, 4, 4)).astype("float32")
    got = model.predict([t, v], verbose=0)
    lstm = model.layers[-1]
    with torch.no_grad():
        want = lstm(torch.from_numpy(v[:, :2])).numpy()  # the mask keeps the first two steps
    np.testing.assert_allclose(got, want, atol=1e-6)


# =========================================================================== summary
def _summary(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return "".join(lines)


@pytest.mark.parametrize("build", GRAPHS + [_Subclassed.make], ids=lambda f: f.__qualname__)
@pytest.mark.parametrize("line_length", [None, 72])
def test_summary_text_equals_keras(build, line_length, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # the default width depends on the terminal, as in Keras
    ours, theirs = build(rnnkit), build(keras)
    assert _summary(ours, line_length=line_length) == _summary(theirs, line_length=line_length)


@pytest.mark.parametrize("options", [{"expand_nested": True}, {"show_trainable": True}], ids=str)
def test_summary_options_equal_keras(options, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    for build in (nested_and_bidirectional, sequential_stack):
        assert _summary(build(rnnkit), **options) == _summary(build(keras), **options)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_summary_of_a_trained_model_counts_optimizer_params_as_keras(optimizer, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    texts = []
    for K in (rnnkit, keras):
        model = sequential_stack(K)
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(np.zeros((4, 5, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
        texts.append(_summary(model))
    assert "Optimizer params" in texts[1] and texts[0] == texts[1]


def test_summary_has_input_rows_and_connections():
    text = _summary(guide_encoder_decoder(rnnkit), line_length=140)
    header = next(line for line in text.splitlines() if "Layer (type)" in line)
    assert [c.strip() for c in header.strip("┃").split("┃")] == ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    assert "encoder_input (InputLayer)" in text and "decoder_input (InputLayer)" in text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "decoder (LSTM)" in line)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(("├", "└")))
    connected = " ".join(line.split("│")[4].strip() for line in lines[start:end])
    assert connected == "decoder_embedding[0][0], encoder[0][1], encoder[0][2]"
    seq_text = _summary(sequential_stack(rnnkit))
    assert "InputLayer" not in seq_text and "Connected to" not in seq_text  # as Keras's Sequential


# =========================================================================== shape inference
class _NoRun(rnnkit.layers.Layer):
    """A layer whose call() must not run during shape inference."""

    def call(self, x):
        raise AssertionError("call() ran during shape inference")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 7)


class _Recorder(rnnkit.layers.Layer):
    seen: list = []

    def call(self, x):
        type(self).seen.append(type(x).__name__)
        return torch.cat([x, x], dim=-1)


class _NeedsValues(rnnkit.layers.Layer):
    def call(self, x):
        scale = float(x.abs().sum()) + 1.0  # reads a value: cannot run on fake tensors
        return x[:, :1] * scale


def test_shape_inference_uses_compute_output_shape_without_running_call():
    model = rnnkit.Sequential([rnnkit.Input((None, 3)), _NoRun(), layers.Dense(2)])
    assert model.output.shape == (None, None, 2)
    x = rnnkit.Input((5, 3))
    assert _NoRun()(x).shape == (None, 5, 7)


def test_shape_inference_without_compute_output_shape_runs_on_fake_tensors():
    _Recorder.seen = []
    y = _Recorder()(rnnkit.Input((None, 3)))
    assert y.shape == (None, None, 6)
    assert _Recorder.seen and set(_Recorder.seen) == {"FakeTensor"}
    z = _NeedsValues()(rnnkit.Input((4,)))  # falls back to small real tensors
    assert z.shape == (None, 1)


def test_symbolic_calls_leave_no_fake_tensor_behind():
    x = rnnkit.Input((None, 3))
    lstm = layers.LSTM(4)
    lstm(x)
    out = lstm(torch.zeros(2, 5, 3))
    assert type(out) is torch.Tensor and lstm.losses == []


def _builtin_layers():
    from rnnkit.layers import core, merging, normalization

    out = []
    for module in (core, merging, normalization):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, rnnkit.layers.Layer):
                out.append(obj)
    return out


@pytest.mark.parametrize("cls", _builtin_layers(), ids=lambda c: c.__name__)
def test_every_core_merging_normalization_layer_defines_compute_output_shape(cls):
    own = getattr(cls, "compute_output_shape", None)
    assert own is not None and own is not getattr(rnnkit.layers.Layer, "compute_output_shape", None)


_EAGER_CASES = [
    (lambda: layers.Dense(4), (2, 5, 3)),
    (lambda: layers.Embedding(10, 4), "tokens"),
    (lambda: layers.Dropout(0.5), (2, 3)),
    (lambda: layers.Masking(), (2, 4, 3)),
    (lambda: layers.ReLU(), (2, 3)),
    (lambda: layers.Activation("tanh"), (2, 3)),
    (lambda: layers.Flatten(), (2, 4, 3)),
    (lambda: layers.Reshape((3, 4)), (2, 12)),
    (lambda: layers.RepeatVector(3), (2, 5)),
    (lambda: layers.BatchNormalization(), (2, 4, 3)),
    (lambda: layers.LayerNormalization(), (2, 4, 3)),
    (lambda: layers.Concatenate(), [(2, 3), (2, 4)]),
    (lambda: layers.Add(), [(2, 3), (2, 3)]),
    (lambda: layers.Multiply(), [(2, 3), (2, 3)]),
    (lambda: layers.Maximum(), [(2, 3), (2, 3)]),
]


@pytest.mark.parametrize("make, shape", _EAGER_CASES)
def test_symbolic_shapes_agree_with_eager_shapes(make, shape):
    layer = make()
    if shape == "tokens":
        sym, eager = rnnkit.Input((6,), dtype="int32"), torch.ones(2, 6, dtype=torch.int64)
    elif isinstance(shape, list):
        sym = [rnnkit.Input(s[1:]) for s in shape]
        eager = [torch.ones(s) for s in shape]
    else:
        sym, eager = rnnkit.Input(shape[1:]), torch.ones(shape)
    out = layer(sym)
    got = layer(eager)
    assert out.shape == (None, *tuple(got.shape)[1:])


# =========================================================================== architecture
#: a fresh interpreter's preamble: ``rnnkit`` as a bare package (its ``__init__``, which loads
#: everything, skipped), so only the imports of what the code then imports count
_BARE_RNNKIT = (
    "import sys, types; pkg = types.ModuleType('rnnkit'); "
    f"pkg.__path__ = [{os.path.join(ROOT, 'rnnkit')!r}]; sys.modules['rnnkit'] = pkg; "
)


def _run_bare(code):
    """stdout of ``code`` run after :data:`_BARE_RNNKIT` in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _BARE_RNNKIT + code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _sources(package):
    """``(file name, text)`` of every ``.py`` file under ``rnnkit/<package>``."""
    for base, _, files in os.walk(os.path.join(ROOT, "rnnkit", package)):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(base, f), encoding="utf-8") as fh:
                    yield f, fh.read()


@pytest.fixture(scope="module")
def loaded_by():
    """rnnkit modules loaded by importing ``rnnkit.layers``, then ``rnnkit.models``, in a fresh
    interpreter where ``rnnkit/__init__.py`` (which loads everything) is replaced by a bare package,
    so only each package's own imports count. One subprocess for both (importing torch is slow)."""
    after_layers, after_models = _run_bare(
        "names = lambda: ' '.join(sorted(m for m in sys.modules if m.startswith('rnnkit'))); "
        "import rnnkit.layers; print(names()); import rnnkit.models; print(names())"
    ).splitlines()
    return {"rnnkit.layers": after_layers.split(), "rnnkit.models": after_models.split()}


def test_layers_never_import_models(loaded_by):
    loaded = loaded_by["rnnkit.layers"]
    assert "rnnkit.layers.symbolic" in loaded and "rnnkit.layers.input_layer" in loaded
    assert not [m for m in loaded if m.startswith("rnnkit.models")]
    for f, text in _sources("layers"):
        assert "rnnkit.models" not in text, f"{f} names rnnkit.models"


def test_saving_sits_above_models(loaded_by):
    loaded = loaded_by["rnnkit.models"]
    assert "rnnkit.models.functional" in loaded
    assert "rnnkit.saving.model_config" not in loaded and "rnnkit.saving.keras_import" not in loaded
    for f, text in _sources("models"):
        assert "from rnnkit.saving" not in text and "import rnnkit.saving" not in text, f
    # and saving registered itself with models when rnnkit was imported
    model = rnnkit.Sequential([rnnkit.Input((3,)), layers.Dense(2)])
    assert model.get_config()["layers"][0]["class_name"] == "InputLayer"


# =========================================================================== keras-io lstm_seq2seq
def _seq2seq_data(n=256, length=4, seed=0):
    """Synthetic "translation": the target is the source reversed, in another alphabet.

    Source tokens 0..5 one-hot over 6 symbols; target alphabet: 0 = start ("\\t"), 1 = end ("\\n"),
    2..7 = the source tokens; the decoder input is the target shifted right (teacher forcing).
    """
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 6, size=(n, length))
    tgt = np.concatenate([np.zeros((n, 1), int), src[:, ::-1] + 2, np.ones((n, 1), int)], axis=1)
    enc = np.eye(6, dtype="float32")[src]
    dec_in = np.eye(8, dtype="float32")[tgt[:, :-1]]
    dec_target = np.eye(8, dtype="float32")[tgt[:, 1:]]
    return enc, dec_in, dec_target, tgt


def test_lstm_seq2seq_inference_models_from_a_trained_model(tmp_path):
    # keras-io examples/nlp/lstm_seq2seq.py: train, save, load, then build the sampling models from
    # model.input / model.layers[i].output exactly as the example does, and decode.
    rnnkit.utils.set_random_seed(0)
    latent_dim = 32
    enc, dec_in, dec_target, tgt = _seq2seq_data()
    model = lstm_seq2seq(rnnkit, num_encoder_tokens=6, num_decoder_tokens=8, latent_dim=latent_dim)
    model.compile(optimizer=rnnkit.optimizers.RMSprop(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit([enc, dec_in], dec_target, batch_size=32, epochs=25, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    model.save(str(tmp_path / "s2s_model.rnnkit"))
    model = rnnkit.models.load_model(str(tmp_path / "s2s_model.rnnkit"))

    encoder_inputs = model.input[0]  # input_1
    encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output  # lstm_1
    encoder_states = [state_h_enc, state_c_enc]
    encoder_model = rnnkit.Model(encoder_inputs, encoder_states)

    decoder_inputs = model.input[1]  # input_2
    decoder_state_input_h = rnnkit.Input(shape=(latent_dim,))
    decoder_state_input_c = rnnkit.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
    decoder_states = [state_h_dec, state_c_dec]
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = rnnkit.Model([decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states)

    assert [layer.name for layer in model.layers] == ["input_1", "input_2", "lstm_1", "lstm_2", "dense"]
    assert decoder_model.get_layer("lstm_2") is model.get_layer("lstm_2")  # shared, not copied
    assert encoder_model.weights[0] is model.get_layer("lstm_1").weights[0]

    # Teacher-forced, one step at a time, the inference models reproduce the training model.
    sample = slice(0, 8)
    full = model.predict([enc[sample], dec_in[sample]], verbose=0)
    states = encoder_model.predict(enc[sample], verbose=0)
    steps = []
    for t in range(dec_in.shape[1]):
        out, h, c = decoder_model.predict([dec_in[sample, t : t + 1]] + list(states), verbose=0)
        steps.append(out[:, 0])
        states = [h, c]
    np.testing.assert_allclose(np.stack(steps, axis=1), full, atol=1e-5)

    def decode_sequence(input_seq):  # the example's sampling loop, on token indices
        states_value = encoder_model.predict(input_seq, verbose=0)
        target_seq = np.zeros((1, 1, 8), dtype="float32")
        target_seq[0, 0, 0] = 1.0
        decoded = []
        while True:
            output_tokens, h, c = decoder_model.predict([target_seq] + list(states_value), verbose=0)
            token = int(np.argmax(output_tokens[0, -1, :]))
            decoded.append(token)
            if token == 1 or len(decoded) > tgt.shape[1]:
                break
            target_seq = np.zeros((1, 1, 8), dtype="float32")
            target_seq[0, 0, token] = 1.0
            states_value = [h, c]
        return decoded

    correct = sum(decode_sequence(enc[i : i + 1]) == list(tgt[i, 1:]) for i in range(20))
    assert correct >= 15, correct  # the trained model reverses most sequences


def test_runners_sit_below_layers():
    """The runners import nothing from rnnkit.layers (nested-structure helpers live in rnnkit.nest)."""
    for f, text in _sources("runners"):
        assert "rnnkit.layers" not in text and "from rnnkit import layers" not in text, f
    loaded = _run_bare(
        "import rnnkit.runners.fused, rnnkit.runners.loop, rnnkit.runners.compiled, "
        "rnnkit.runners.hoist, rnnkit.runners.partitioned; "
        "print(' '.join(m for m in sys.modules if m.startswith('rnnkit.layers')))"
    )
    assert loaded.strip() == ""
