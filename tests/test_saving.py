"""Native model files: round trips, optimizer state, safety against crafted and damaged files."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
import torch

from rnnkit import layers as L
from rnnkit.models import Input, Model, Sequential
from rnnkit.saving import (
    FileFormatError,
    load_model,
    load_weights,
    model_from_config,
    model_to_config,
    native,
    register_keras_serializable,
    save_model,
    save_weights,
)


@register_keras_serializable(package="rnnkit_tests")
class MinimalCell(L.AbstractRNNCell):
    """A custom cell: ``h = tanh(x W + h U)``."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="rk")
        self.built = True

    def call(self, inputs, states):
        h = torch.tanh(inputs @ self.kernel + states[0] @ self.recurrent_kernel)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class UnregisteredCell(MinimalCell):
    pass


def _randomize(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for w in model.weights:
            w.copy_(torch.rand(w.shape, generator=g, dtype=w.dtype) * 0.5 + 0.05)


def _functional_everything():
    a = Input(shape=(7,), dtype="int32", name="tokens")
    b = Input(shape=(None, 3), name="series")
    x = L.Embedding(20, 6, mask_zero=True)(a)
    x = L.LSTM(5, return_sequences=True)(x)
    x = L.Bidirectional(L.GRU(4, return_sequences=True, reset_after=False), merge_mode="concat")(x)
    x = L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="sum")(x)
    x = L.RNN(L.StackedRNNCells([L.LSTMCell(4), L.GRUCell(3)]), return_sequences=True)(x)
    x = L.TimeDistributed(L.Dense(2))(x)
    x = L.Bidirectional(L.LSTM(2), merge_mode="mul")(x)
    y = L.Masking(mask_value=0.0)(b)
    y = L.GRU(4, return_sequences=True, reset_after=True)(y)
    y = L.RNN(L.LSTMCell(3), return_sequences=True)(y)
    y = L.RNN(L.GRUCell(3, reset_after=False), return_sequences=True)(y)
    y = L.RNN(L.SimpleRNNCell(3), return_sequences=True)(y)
    y = L.Bidirectional(L.RNN(MinimalCell(3), return_sequences=True), merge_mode="ave")(y)
    y = L.SimpleRNN(4)(y)
    y = L.Dropout(0.3)(y)
    y = L.BatchNormalization()(y)
    y = L.LayerNormalization()(y)
    z = L.Concatenate()([x, y])
    out = L.Dense(2)(z)
    return Model([a, b], out, name="everything")


def _sequential_everything():
    return Sequential(
        [
            Input(shape=(6,), dtype="int32"),
            L.Embedding(15, 4, mask_zero=True),
            L.LSTM(5, return_sequences=True),
            L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="concat"),
            L.TimeDistributed(L.Dense(3)),
            L.RNN(MinimalCell(3), return_sequences=True),
            L.RNN(L.StackedRNNCells([L.SimpleRNNCell(3), L.LSTMCell(2)])),
            L.Dropout(0.2),
            L.BatchNormalization(),
            L.LayerNormalization(),
            L.Dense(2),
        ],
        name="seq_everything",
    )


def _inputs_functional(seed=1):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 20, size=(4, 7)).astype("int32")
    tokens[0, 4:] = 0
    series = rng.normal(size=(4, 5, 3)).astype("float32")
    series[1, 3:] = 0.0
    return [tokens, series]


def test_functional_round_trip_every_layer_kind(tmp_path):
    model = _functional_everything()
    _randomize(model)
    x = _inputs_functional()
    want = model.predict(x, verbose=0)
    path = tmp_path / "everything.rnnkit"
    model.save(str(path))
    loaded = load_model(str(path))
    assert type(loaded) is Model
    assert [type(la).__name__ for la in loaded.layers] == [type(la).__name__ for la in model.layers]
    assert [la.name for la in loaded.layers] == [la.name for la in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), want)
    for w0, w1 in zip(model.weights, loaded.weights):
        assert torch.equal(w0, w1)


def test_sequential_round_trip_every_layer_kind(tmp_path):
    model = _sequential_everything()
    _randomize(model, seed=3)
    tokens = np.random.default_rng(0).integers(0, 15, size=(3, 6)).astype("int32")
    want = model.predict(tokens, verbose=0)
    path = tmp_path / "seq.rnnkit"
    save_model(model, path)
    loaded = load_model(path)
    assert isinstance(loaded, Sequential)
    np.testing.assert_array_equal(loaded.predict(tokens, verbose=0), want)
    # BatchNormalization's moving statistics (non-trainable) came back too.
    bn0 = [la for la in model.layers if isinstance(la, L.BatchNormalization)][0]
    bn1 = [la for la in loaded.layers if isinstance(la, L.BatchNormalization)][0]
    np.testing.assert_array_equal(bn0.moving_variance.detach(), bn1.moving_variance.detach())


def test_config_round_trip_without_files():
    model = _functional_everything()
    config = model_to_config(model)
    json.dumps(config)
    rebuilt = model_from_config(config)
    assert len(rebuilt.weights) == len(model.weights)
    assert [tuple(w.shape) for w in rebuilt.weights] == [tuple(w.shape) for w in model.weights]

    def strip(layers):  # build_config shapes depend on how the layer was built
        return [{k: v for k, v in d.items() if k != "build_config"} for d in layers]

    assert strip(model_to_config(rebuilt)["config"]["layers"]) == strip(config["config"]["layers"])


def _small_model():
    inp = Input(shape=(None, 3))
    x = L.LSTM(4, return_sequences=True)(inp)
    x = L.BatchNormalization()(x)
    x = L.GRU(3)(x)
    return Model(inp, L.Dense(2)(x), name="small")


def test_mid_training_save_restores_optimizer_state(tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    model = _small_model()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    for _ in range(3):
        model.train_on_batch(x, y)
    path = tmp_path / "mid.rnnkit"
    model.save(str(path))
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        assert {"optimizer.safetensors", "optimizer.json"} <= set(zf.namelist())
    assert config["format"] == "rnnkit"
    assert config["compile_config"]["loss"] == "mse"
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    loaded = load_model(str(path))
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    for _ in range(2):
        model.train_on_batch(x, y)
        loaded.train_on_batch(x, y)
    for w0, w1 in zip(model.weights, loaded.weights):
        torch.testing.assert_close(w0, w1, rtol=0, atol=0)


def test_without_optimizer_and_without_compile(tmp_path):
    model = _small_model()
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "noopt.rnnkit"
    save_model(model, path, include_optimizer=False)
    with zipfile.ZipFile(path) as zf:
        assert "optimizer.safetensors" not in zf.namelist()
    assert load_model(path).compiled
    assert not load_model(path, compile=False).compiled


def test_save_and_load_weights_safetensors(tmp_path):
    model = _small_model()
    _randomize(model)
    other = _small_model()
    path = tmp_path / "w.safetensors"
    model.save_weights(str(path))
    other.load_weights(str(path))
    x = np.ones((2, 4, 3), "float32")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match=".safetensors"):
        save_weights(model, tmp_path / "w.bin")
    wrong = Sequential([Input(shape=(None, 3)), L.LSTM(5), L.Dense(2)])
    with pytest.raises(FileFormatError, match="weights"):
        load_weights(wrong, path)


def test_custom_cell_needs_registration(tmp_path):
    model = Sequential([Input(shape=(None, 3)), L.RNN(UnregisteredCell(2))])
    path = tmp_path / "custom.rnnkit"
    model.save(str(path))
    with pytest.raises(ValueError, match="UnregisteredCell.*(custom_objects|register_keras_serializable)"):
        load_model(path)
    loaded = load_model(path, custom_objects={"UnregisteredCell": UnregisteredCell})
    x = np.ones((2, 4, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# --------------------------------------------------------------------------- hostile files
def _saved(tmp_path):
    model = Sequential([Input(shape=(None, 3)), L.GRU(2), L.Dense(1)], name="victim")
    path = tmp_path / "victim.rnnkit"
    model.save(str(path))
    return path


def _edit(path, dst, replace=None, drop=(), add=None):
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            zout.writestr(name, (replace or {}).get(name, zin.read(name)))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def _config(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json"))


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["config"]["layers"][1].update(class_name="system", module="os"),
        lambda c: c["config"]["layers"][1].update(class_name="os.system", registered_name="os.system"),
        lambda c: c["config"]["layers"][1].update(class_name="eval", module="builtins"),
        lambda c: c.update(class_name="builtins.eval", registered_name="builtins.eval"),
        lambda c: c.update(class_name="Popen", module="subprocess", registered_name=None),
        lambda c: c["config"]["layers"][1]["config"].update(
            activation={"module": "os", "class_name": "system", "config": {}, "registered_name": None}
        ),
    ],
)
def test_config_naming_code_is_refused(tmp_path, monkeypatch, edit):
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    path = _saved(tmp_path)
    config = _config(path)
    edit(config)
    bad = _edit(path, tmp_path / "bad.rnnkit", replace={"config.json": json.dumps(config)})
    with pytest.raises(ValueError, match="Unknown|unknown|not|Could not"):
        load_model(bad)
    assert not called


# A hand-written protocol-0 pickle that would call os.system("echo pwned") if unpickled.
_PICKLE_PAYLOAD = b"cos\nsystem\n(S'echo pwned'\ntR."


def test_pickle_payload_is_never_loaded(tmp_path, monkeypatch):
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    path = _saved(tmp_path)
    payload = _PICKLE_PAYLOAD
    # An extra member is ignored; the model still loads.
    extra = _edit(path, tmp_path / "extra.rnnkit", add={"data.pkl": payload, "model.pkl": payload})
    load_model(extra)
    # A pickle in place of the weights is rejected, not unpickled.
    swapped = _edit(path, tmp_path / "swap.rnnkit", replace={"model.safetensors": payload})
    with pytest.raises(FileFormatError, match="safetensors"):
        load_model(swapped)
    # A torch.save-style zip (pickle inside) is not a model file.
    torch_file = tmp_path / "state.pt"
    torch.save({"w": torch.ones(2)}, torch_file)
    with pytest.raises(FileFormatError, match="neither"):
        load_model(torch_file)
    # A raw pickle file is not a zip.
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(payload)
    with pytest.raises(FileFormatError, match="zip"):
        load_model(raw)
    with pytest.raises(FileFormatError):
        load_weights(Sequential([Input(shape=(None, 3)), L.GRU(2), L.Dense(1)]), raw)
    assert not called


# --------------------------------------------------------------------------- damaged files
def test_truncated_file(tmp_path):
    path = _saved(tmp_path)
    data = path.read_bytes()
    short = tmp_path / "short.rnnkit"
    short.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="truncated|damaged|zip"):
        load_model(short)
    empty = tmp_path / "empty.rnnkit"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError, match="empty"):
        load_model(empty)


def test_corrupted_member_bytes(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    start = data.find(b"model.safetensors") + 40  # inside the stored weights
    data[start : start + 16] = b"\x00" * 16
    bad = tmp_path / "crc.rnnkit"
    bad.write_bytes(bytes(data))
    with pytest.raises(FileFormatError):
        load_model(bad)


def test_bad_json(tmp_path):
    path = _saved(tmp_path)
    bad = _edit(path, tmp_path / "json.rnnkit", replace={"config.json": b"{not json"})
    with pytest.raises(FileFormatError, match="config.json.*JSON"):
        load_model(bad)


@pytest.mark.parametrize("member", ["config.json", "model.safetensors"])
def test_missing_member(tmp_path, member):
    path = _saved(tmp_path)
    bad = _edit(path, tmp_path / "missing.rnnkit", drop=(member,))
    with pytest.raises(FileFormatError, match=member.replace(".", r"\.")):
        load_model(bad)


def test_weights_of_wrong_shape_or_count(tmp_path):
    from safetensors.torch import load, save

    path = _saved(tmp_path)
    with zipfile.ZipFile(path) as zf:
        tensors = load(zf.read("model.safetensors"))
    key = sorted(tensors)[0]
    wrong_shape = dict(tensors, **{key: torch.zeros(7, 7)})
    bad = _edit(path, tmp_path / "shape.rnnkit", replace={"model.safetensors": save(wrong_shape)})
    with pytest.raises(FileFormatError, match=r"shape \(7, 7\)"):
        load_model(bad)
    fewer = dict(tensors)
    fewer.pop(sorted(tensors)[-1])
    bad = _edit(path, tmp_path / "count.rnnkit", replace={"model.safetensors": save(fewer)})
    with pytest.raises(FileFormatError, match=f"holds {len(fewer)} weights, the model has {len(tensors)}"):
        load_model(bad)


def test_not_a_model_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(FileFormatError, match="not a valid zip"):
        load_model(text)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.rnnkit")
    plain_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(FileFormatError, match="neither"):
        load_model(plain_zip)


def test_future_format_version_refused(tmp_path):
    path = _saved(tmp_path)
    config = _config(path)
    config["format_version"] = 99
    bad = _edit(path, tmp_path / "future.rnnkit", replace={"config.json": json.dumps(config)})
    with pytest.raises(FileFormatError, match="format_version 99"):
        load_model(bad)


# --------------------------------------------------------------------------- atomic saves
def test_interrupted_save_keeps_previous_file(tmp_path, monkeypatch):
    path = _saved(tmp_path)
    before = path.read_bytes()
    writes = []
    real = native._write_member

    def failing(zf, name, data):
        writes.append(name)
        if len(writes) == 2:
            raise OSError("disk full (simulated)")
        real(zf, name, data)

    monkeypatch.setattr(native, "_write_member", failing)
    other = Sequential([Input(shape=(None, 3)), L.LSTM(6), L.Dense(4)])
    with pytest.raises(OSError, match="disk full"):
        other.save(str(path))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["victim.rnnkit"]
    monkeypatch.undo()
    loaded = load_model(path)
    assert loaded.name == "victim"


def test_saved_file_layout(tmp_path):
    path = _saved(tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("config.json"))
        from safetensors.torch import load

        keys = sorted(load(zf.read("model.safetensors")))
    assert {"config.json", "metadata.json", "model.safetensors"} <= names
    assert config["format"] == "rnnkit" and config["class_name"] == "Sequential"
    assert config["config"]["layers"][0]["class_name"] == "InputLayer"
    assert keys[0] == "0000/layers/gru/cell/vars/0"
    assert keys[-1] == "0004/layers/dense/vars/1"
    assert io  # the module is used by helpers in other tests


def test_nested_sequential_inside_functional(tmp_path):
    inner = Sequential([Input(shape=(None, 4)), L.GRU(3, return_sequences=True), L.Dense(2)], name="inner")
    inp = Input(shape=(None, 4))
    out = L.LSTM(2)(inner(inp))
    model = Model(inp, out, name="outer")
    _randomize(model)
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    path = tmp_path / "nested.rnnkit"
    model.save(str(path))
    loaded = load_model(path)
    # Keras's functional model.layers starts with the InputLayer
    assert [type(la).__name__ for la in loaded.layers] == ["InputLayer", "Sequential", "LSTM"]
    assert isinstance(loaded.layers[1], Sequential)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_model_from_bare_inner_config():
    model = _small_model()
    inner = model_to_config(model)["config"]
    rebuilt = model_from_config(inner)
    assert [type(la).__name__ for la in rebuilt.layers] == [
        "InputLayer", "LSTM", "BatchNormalization", "GRU", "Dense"
    ]  # Keras's functional model.layers includes the InputLayer


def test_initial_state_and_return_state_round_trip(tmp_path):
    enc_in, dec_in = Input(shape=(None,), name="enc_tokens"), Input(shape=(None,), name="dec_tokens")
    _, h, c = L.LSTM(4, return_state=True, name="encoder")(L.Embedding(10, 3)(enc_in))
    seq = L.LSTM(4, return_sequences=True, name="decoder")(L.Embedding(12, 3)(dec_in), initial_state=[h, c])
    model = Model([enc_in, dec_in], L.TimeDistributed(L.Dense(5))(seq), name="seq2seq")
    _randomize(model)
    rng = np.random.default_rng(0)
    x = [rng.integers(0, 10, (3, 6)).astype("float32"), rng.integers(0, 12, (3, 4)).astype("float32")]
    path = tmp_path / "s2s.rnnkit"
    model.save(str(path))
    decoder = [d for d in _config(path)["config"]["layers"] if d["name"] == "decoder"][0]
    states = decoder["inbound_nodes"][0]["kwargs"]["initial_state"]
    assert [s["config"]["keras_history"] for s in states] == [["encoder", 0, 1], ["encoder", 0, 2]]
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_save_weights_keras_h5_round_trip(tmp_path):
    """``save_weights("x.weights.h5")`` writes Keras's layout; load_weights reads it back."""
    import rnnkit
    from rnnkit import layers

    def build():
        m = rnnkit.Sequential(
            [rnnkit.Input((None, 3)), layers.Bidirectional(layers.LSTM(4)), layers.Dense(2)]
        )
        return m

    src, dst = build(), build()
    x = np.random.rand(2, 5, 3).astype("float32")
    path = tmp_path / "model.weights.h5"
    src.save_weights(path)
    assert not np.allclose(src.predict(x, verbose=0), dst.predict(x, verbose=0))
    dst.load_weights(path)
    np.testing.assert_array_equal(src.predict(x, verbose=0), dst.predict(x, verbose=0))
