"""Models: Sequential, functional and subclassed models, their structure, weights and summary,
and the data ``fit`` / ``evaluate`` / ``predict`` accept."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

import rnnkit
import rnnkit as keras
from rnnkit import layers


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def _summary_text(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return "\n".join(lines)


def _row(text, name):
    # the layer's row in Keras's box-drawn table: its lines (cells wrap) joined, box edges stripped
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip("│┃ ").startswith(name))
    row = []
    for line in lines[start:]:
        if line.startswith(("├", "└")):
            break
        row.append(line.strip("│┃ "))
    return " ".join(row)


def _seq_data(n=32, steps=5, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype("float32")
    y = x.mean(axis=(1, 2))[:, None].astype("float32")
    return x, y


def _regressor():
    model = keras.Sequential([keras.Input((None, 3)), layers.GRU(4), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


# =========================================================================== Sequential
def test_sequential_from_list_and_add_agree():
    a = keras.Sequential([layers.LSTM(4, input_shape=(None, 3)), layers.Dense(2)])
    b = keras.Sequential()
    b.add(layers.LSTM(4, input_shape=(None, 3)))
    b.add(layers.Dense(2))
    assert [type(layer).__name__ for layer in a.layers] == ["LSTM", "Dense"]
    assert [type(layer).__name__ for layer in b.layers] == ["LSTM", "Dense"]
    assert a.built and b.built  # input_shape on the first layer builds the model
    b.set_weights(a.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), atol=1e-6)


def test_sequential_input_first_builds_and_summarises():
    model = keras.Sequential([rnnkit.Input(shape=(None, 3)), layers.SimpleRNN(5), layers.Dense(10)])
    assert model.built and len(model.layers) == 2  # the Input is not a layer
    assert [tuple(w.shape) for w in model.weights] == [(3, 5), (5, 5), (5,), (5, 10), (10,)]
    text = _summary_text(model)
    assert "(None, 10)" in _row(text, model.layers[1].name)
    assert "(None, 5)" in _row(text, model.layers[0].name)


def test_sequential_add_input_then_layers():
    model = keras.Sequential()
    model.add(keras.Input((4,)))
    model.add(layers.Dense(3))
    assert model.built
    assert model(torch.zeros(2, 4)).shape == (2, 3)
    with pytest.raises(ValueError, match="Input"):
        model.add(keras.Input((4,)))
    with pytest.raises(TypeError):
        model.add("dense")


def test_sequential_build_and_deferred_build():
    model = keras.Sequential([layers.LSTM(4), layers.Dense(2)])
    assert not model.built
    assert model.weights == []
    model.build((None, 7, 3))
    assert model.built
    assert [tuple(w.shape) for w in model.layers[0].weights] == [(3, 16), (4, 16), (16,)]
    deferred = keras.Sequential([layers.GRU(4), layers.Dense(2)])
    assert deferred(np.zeros((2, 5, 3), "float32")).shape == (2, 2)  # built on first call
    assert deferred.built and deferred.count_params() == 3 * (3 * 4 + 4 * 4 + 2 * 4) + 4 * 2 + 2


def test_sequential_pop():
    model = keras.Sequential(
        [keras.Input((None, 3)), layers.LSTM(4), layers.Dense(8), layers.Dense(2)]
    )
    last = model.pop()
    assert isinstance(last, layers.Dense) and last.units == 2
    assert len(model.layers) == 2
    assert model.predict(np.zeros((2, 5, 3), "float32"), verbose=0).shape == (2, 8)
    model.pop()
    model.pop()
    with pytest.raises(ValueError, match="empty"):
        model.pop()


def test_sequential_pop_then_add_and_train():
    x, y = _seq_data()
    model = keras.Sequential([keras.Input((None, 3)), layers.LSTM(4), layers.Dense(5)])
    model.pop()
    model.add(layers.Dense(1))
    model.compile(optimizer="adam", loss="mse")
    assert model.predict(x, verbose=0).shape == (32, 1)
    text = _summary_text(model)
    assert "(None, 1)" in _row(text, model.layers[-1].name)
    model.fit(x, y, epochs=1, verbose=0)


def test_model_output_of_sequential_in_functional_model():
    inner = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    inp = keras.Input((None, 3))
    out = inner(layers.LSTM(6)(inp))
    model = keras.Model(inp, out)
    assert model.predict(np.zeros((3, 4, 3), "float32"), verbose=0).shape == (3, 2)
    assert any(layer is inner for layer in model.layers)


# =========================================================================== functional
def test_functional_several_inputs_and_outputs():
    seq_in = keras.Input((None, 3), name="seq")
    meta_in = keras.Input((2,), name="meta")
    h = layers.LSTM(8, name="encoder")(seq_in)
    merged = layers.Concatenate()([h, layers.Dense(4, name="meta_proj")(meta_in)])
    score = layers.Dense(1, name="score")(merged)
    cls = layers.Dense(3, activation="softmax", name="cls")(merged)
    model = keras.Model(inputs=[seq_in, meta_in], outputs=[score, cls])
    assert model.inputs == [seq_in, meta_in]
    assert model.output_names == ["score", "cls"]
    rng = np.random.default_rng(0)
    xs, xm = (
        rng.normal(size=(40, 6, 3)).astype("float32"),
        rng.normal(size=(40, 2)).astype("float32"),
    )
    ys, yc = rng.normal(size=(40, 1)).astype("float32"), rng.integers(0, 3, 40)

    model.compile(
        optimizer="adam",
        loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
        metrics={"cls": ["accuracy"]},
    )
    h = model.fit([xs, xm], [ys, yc], batch_size=8, epochs=2, verbose=0).history
    assert {"loss", "cls_accuracy"} <= set(h)
    # dicts keyed by input / output names work as well
    h2 = model.fit({"seq": xs, "meta": xm}, {"score": ys, "cls": yc}, epochs=1, verbose=0).history
    assert np.isfinite(h2["loss"][0])
    score, probs = model.predict([xs, xm], batch_size=16, verbose=0)
    assert score.shape == (40, 1) and probs.shape == (40, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    same = model.predict({"meta": xm, "seq": xs}, verbose=0)
    np.testing.assert_allclose(same[0], score, rtol=1e-5, atol=1e-6)
    res = model.evaluate([xs, xm], [ys, yc], verbose=0, return_dict=True)
    assert set(res) == {"loss", "score_loss", "cls_loss", "cls_accuracy"}


def test_functional_dict_outputs_and_output_structure():
    inp = keras.Input((None, 2))
    h = layers.GRU(4)(inp)
    model = keras.Model(inp, {"mean": layers.Dense(1)(h), "logits": layers.Dense(3)(h)})
    out = model.predict(np.zeros((5, 3, 2), "float32"), verbose=0)
    assert isinstance(out, dict) and out["mean"].shape == (5, 1) and out["logits"].shape == (5, 3)


def test_functional_model_is_callable_and_shares_weights():
    inp = keras.Input((None, 3))
    base = keras.Model(inp, layers.Dense(2)(layers.LSTM(4)(inp)))
    a, b = keras.Input((None, 3)), keras.Input((None, 3))
    siamese = keras.Model([a, b], layers.Subtract()([base(a), base(b)]))
    assert len(siamese.weights) == len(base.weights)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_allclose(siamese.predict([x, x], verbose=0), 0.0, atol=1e-6)


def test_layers_input_alias():
    assert layers.Input is rnnkit.Input
    x = layers.Input(shape=(None, 3))
    assert x.shape == (None, None, 3)


def test_functional_graph_errors():
    a, b = keras.Input((3,)), keras.Input((3,))
    out = layers.Dense(1)(layers.Add()([a, b]))
    with pytest.raises(ValueError, match="not among"):
        keras.Model(a, out)
    with pytest.raises(TypeError, match="symbolic"):
        keras.Model(a, torch.zeros(1))
    with pytest.raises(ValueError, match="both"):
        keras.Model(inputs=a)


# =========================================================================== subclassed
class TwoTower(keras.Model):
    def __init__(self):
        super().__init__()
        self.rnn = layers.LSTM(4)
        self.blocks = [layers.Dense(6, activation="relu"), layers.Dense(3)]
        self.norm = layers.BatchNormalization()

    def call(self, inputs, training=None):
        x = self.rnn(inputs)
        for block in self.blocks:
            x = block(x)
        return self.norm(x, training=training)


def test_subclassed_model_tracks_layers_and_weights():
    model = TwoTower()
    x, _ = _seq_data(n=8)
    assert model.predict(x, verbose=0).shape == (8, 3)
    assert {type(layer).__name__ for layer in model.layers} >= {"LSTM", "BatchNormalization"}
    shapes = [tuple(w.shape) for w in model.weights]
    assert (3, 16) in shapes and (4, 6) in shapes and (6, 3) in shapes
    assert len(model.weights) == 3 + 2 + 2 + 4
    assert len(model.trainable_weights) == 3 + 2 + 2 + 2
    assert len(model.non_trainable_weights) == 2  # moving mean / variance
    assert model.count_params() == sum(w.size for w in model.get_weights())


def test_subclassed_model_trains_and_batchnorm_updates_its_statistics():
    model = TwoTower()
    x, _ = _seq_data(n=32)
    y = np.random.default_rng(1).integers(0, 3, 32)
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.predict(x, verbose=0)
    moving = [w.detach().clone() for w in model.non_trainable_weights]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert any(not torch.equal(a, b) for a, b in zip(moving, model.non_trainable_weights))


def test_subclassed_model_without_call_fails_clearly():
    class Empty(keras.Model):
        pass

    with pytest.raises(NotImplementedError, match="call"):
        Empty()(torch.zeros(1, 2))


# =========================================================================== layers and weights
def test_get_layer_by_name_and_index():
    model = keras.Sequential(
        [keras.Input((None, 3)), layers.LSTM(4, name="rec"), layers.Dense(2, name="head")]
    )
    assert model.get_layer("rec") is model.layers[0]
    assert model.get_layer(index=1) is model.get_layer("head")
    assert model.get_layer(index=-1).name == "head"
    with pytest.raises(ValueError, match="nope"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="out of range"):
        model.get_layer(index=5)


def _lstm_model(cell_based):
    rnn = (
        layers.RNN(layers.LSTMCell(6), return_sequences=True)
        if cell_based
        else layers.LSTM(6, return_sequences=True)
    )
    return keras.Sequential(
        [keras.Input((None, 3)), rnn, layers.LSTM(5), layers.BatchNormalization(), layers.Dense(2)]
    )


def test_weights_round_trip_between_lstm_and_cell_models():
    a, b = _lstm_model(False), _lstm_model(True)
    w = a.get_weights()
    assert [x.shape for x in w] == [
        (3, 24), (6, 24), (24,), (6, 20), (5, 20), (20,), (5,), (5,), (5,), (5,), (5, 2), (2,)
    ]  # fmt: skip
    assert [x.shape for x in b.get_weights()] == [x.shape for x in w]
    b.set_weights(w)
    for x1, x2 in zip(b.get_weights(), w):
        np.testing.assert_array_equal(x1, x2)
    x = np.random.default_rng(0).normal(size=(4, 7, 3)).astype("float32")
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), atol=1e-5)
    # get_weights returns copies
    w[0][...] = 0
    assert np.abs(a.get_weights()[0]).sum() > 0
    assert all(isinstance(v, torch.nn.Parameter) for v in a.weights)


def test_set_weights_errors():
    model = _lstm_model(False)
    w = model.get_weights()
    with pytest.raises(ValueError, match="expects 12 weights"):
        model.set_weights(w[:-1])
    w[0] = np.zeros((4, 24), "float32")
    with pytest.raises(ValueError, match=r"\(3, 24\)"):
        model.set_weights(w)


def test_reset_states_of_stateful_model():
    model = keras.Sequential(
        [keras.Input(batch_shape=(2, None, 3)), layers.LSTM(4, stateful=True), layers.Dense(1)]
    )
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    first = model.predict_on_batch(x)
    second = model.predict_on_batch(x)
    assert not np.allclose(first, second)  # the state carried over
    model.reset_states()
    np.testing.assert_allclose(model.predict_on_batch(x), first, atol=1e-6)


# =========================================================================== summary
def test_summary_contents():
    model = keras.Sequential(
        [
            layers.LSTM(8, input_shape=(None, 6), name="rows"),
            layers.BatchNormalization(name="bn"),
            layers.Dense(10, name="logits"),
        ],
        name="mnist_rows",
    )
    text = _summary_text(model)
    assert 'Model: "mnist_rows"' in text
    lstm_params = 4 * (6 * 8 + 8 * 8 + 8)
    assert "rows (LSTM)" in text and "(None, 8)" in _row(text, "rows")
    assert _row(text, "rows").rstrip().endswith(f"{lstm_params:,}")
    assert "bn (BatchNormalization)" in text and _row(text, "bn").rstrip().endswith("32")
    assert "logits (Dense)" in text and "(None, 10)" in _row(text, "logits")
    assert _row(text, "logits").rstrip().endswith("90")
    total = lstm_params + 32 + 90
    assert f"Total params: {total:,}" in text
    assert f"Trainable params: {total - 16:,}" in text
    assert "Non-trainable params: 16" in text  # BatchNormalization's moving mean / variance
    assert model.count_params() == total


def test_summary_print_fn_default_prints(capsys):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    assert model.summary() is None
    out = capsys.readouterr().out
    assert "Dense" in out and "Total params: 10" in out


def test_summary_of_functional_model_with_several_outputs():
    inp = keras.Input((None, 3))
    seq, h, c = layers.LSTM(4, return_sequences=True, return_state=True, name="enc")(inp)
    out = layers.Dense(2, name="proj")(h)
    text = _summary_text(keras.Model(inp, [seq, out]))
    assert "enc (LSTM)" in text
    assert "(None, None, 4)" in _row(text, "enc") and "(None, 4)" in _row(text, "enc")
    assert "(None, 2)" in _row(text, "proj")
    assert f"Total params: {4 * (3 * 4 + 4 * 4 + 4) + 4 * 2 + 2:,}" in text


def test_summary_of_unbuilt_sequential():
    model = keras.Sequential([layers.LSTM(4), layers.Dense(2)])
    text = _summary_text(model)
    assert "lstm" in text.lower() and "dense" in text.lower()
    assert "unbuilt" in text
    assert "Total params: 0" in text
    model.build((None, None, 3))
    assert f"Total params: {4 * (3 * 4 + 4 * 4 + 4) + 4 * 2 + 2:,}" in _summary_text(model)


def test_summary_columns_stay_separated_for_long_names():
    model = keras.Sequential(
        [layers.LSTM(8, input_shape=(None, 6)), layers.BatchNormalization(), layers.Dense(10)]
    )
    text = _summary_text(model)
    row = _row(text, model.layers[1].name)
    assert "(BatchNormalization)" in row, row
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│├└"]
    assert len({len(line) for line in table}) == 1  # every table line has the same width: aligned


# =========================================================================== fit inputs
def test_fit_on_numpy_and_torch_tensors_gives_the_same_result():
    x, y = _seq_data()
    histories = []
    for cast in (lambda a: a, torch.from_numpy):
        keras.utils.set_random_seed(5)
        model = _regressor()
        histories.append(
            model.fit(cast(x), cast(y), batch_size=8, epochs=2, shuffle=False, verbose=0).history
        )
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-6)


class PairDataset(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), torch.from_numpy(self.y[i])


def test_fit_on_dataloader():
    x, y = _seq_data(n=32)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16)
    model = _regressor()
    model.fit(loader, epochs=3, validation_data=loader, verbose=0)
    assert model.optimizer.iterations == 6
    assert model.evaluate(loader, verbose=0) == pytest.approx(model.history.history["val_loss"][-1])
    xs = DataLoader(TensorDataset(torch.from_numpy(x)), batch_size=10)
    np.testing.assert_allclose(
        model.predict(xs, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="y must not be given"):
        model.fit(loader, y, verbose=0)


@pytest.mark.parametrize("kind", ["TensorDataset", "custom"])
def test_fit_on_torch_dataset(kind):
    x, y = _seq_data(n=32)
    if kind == "custom":
        data = PairDataset(x, y)
    else:
        data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    model = _regressor()
    h = model.fit(data, batch_size=8, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
    assert model.optimizer.iterations == 8


def test_fit_on_list_of_batches():
    x, y = _seq_data(n=32)
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]
    model = _regressor()
    h = model.fit(batches, epochs=2, verbose=0)
    assert model.optimizer.iterations == 8 and len(h.history["loss"]) == 2


def test_fit_on_an_iterable_of_batches():
    x, y = _seq_data(n=32)

    class Batches:  # a re-iterable that is not a list (not mistaken for arrays)
        def __iter__(self):
            return ((x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8))

    model = _regressor()
    h = model.fit(Batches(), epochs=2, verbose=0)
    assert model.optimizer.iterations == 8 and len(h.history["loss"]) == 2


def test_fit_on_batches_with_sample_weights():
    x, y = _seq_data(n=16)
    sw = np.zeros(16, "float32")
    model = _regressor()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    w0 = model.get_weights()
    loader = DataLoader(TensorDataset(*map(torch.from_numpy, (x, y, sw))), batch_size=8)
    h = model.fit(loader, epochs=1, verbose=0)
    assert h.history["loss"] == [0.0]  # every sample weighs 0
    for a, b in zip(w0, model.get_weights()):
        np.testing.assert_allclose(a, b)

    def weighted_batches():
        while True:
            yield x[:8], y[:8], np.ones(8, "float32")
            yield x[8:], y[8:], np.zeros(8, "float32")

    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    h = model.fit(weighted_batches(), steps_per_epoch=2, epochs=1, verbose=0)
    first_half = model.evaluate(x[:8], y[:8], verbose=0)
    assert h.history["loss"][0] == pytest.approx(first_half / 2, rel=1e-5)


def test_sample_weight_and_class_weight_match_keras_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4, 2)).astype("float32")
    y = rng.integers(0, 2, (12, 1)).astype("float32")
    model = keras.Sequential(
        [keras.Input((4, 2)), layers.SimpleRNN(3), layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy")
    p = model.predict(x, verbose=0).clip(1e-7, 1 - 1e-7)
    per_sample = -(y * np.log(p) + (1 - y) * np.log(1 - p))[:, 0]
    sw = rng.random(12).astype("float32")
    # Keras's "sum_over_batch_size": sum(w * l) / batch size
    expected = float((sw * per_sample).sum() / 12)
    assert model.evaluate(x, y, sample_weight=sw, batch_size=12, verbose=0) == pytest.approx(
        expected, rel=1e-4
    )
    h = model.fit(x, y, sample_weight=sw, batch_size=12, epochs=1, verbose=0).history
    assert h["loss"][0] == pytest.approx(expected, rel=1e-4)
    cw = {0: 0.25, 1: 3.0}
    w = np.where(y[:, 0] > 0.5, 3.0, 0.25)
    h = model.fit(x, y, class_weight=cw, batch_size=12, epochs=1, verbose=0).history
    assert h["loss"][0] == pytest.approx(float((w * per_sample).sum() / 12), rel=1e-4)
    # class_weight with sparse integer targets and a softmax output
    yi = rng.integers(0, 3, 12)
    clf = keras.Sequential(
        [keras.Input((4, 2)), layers.SimpleRNN(3), layers.Dense(3, activation="softmax")]
    )
    clf.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    pc = clf.predict(x, verbose=0)
    ce = -np.log(pc[np.arange(12), yi])
    cw3 = {0: 1.0, 1: 0.0, 2: 2.0}
    wc = np.array([cw3[int(k)] for k in yi])
    h = clf.fit(x, yi, class_weight=cw3, batch_size=12, epochs=1, verbose=0).history
    assert h["loss"][0] == pytest.approx(float((wc * ce).sum() / 12), rel=1e-4)


def test_validation_split_takes_the_last_samples():
    x, y = _seq_data(n=40)
    model = _regressor()
    h = model.fit(x, y, validation_split=0.25, batch_size=10, epochs=1, verbose=0).history
    assert model.optimizer.iterations == 3  # 30 training samples
    assert h["val_loss"][0] == pytest.approx(model.evaluate(x[30:], y[30:], verbose=0), rel=1e-5)
    h = model.fit(x, y, validation_data=(x[:8], y[:8]), epochs=1, verbose=0).history
    assert h["val_loss"][0] == pytest.approx(model.evaluate(x[:8], y[:8], verbose=0), rel=1e-5)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)


class Recording(keras.Model):
    """Remembers the first feature of every training batch it sees."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1)
        self.seen = []

    def call(self, x, training=None):
        if training:
            self.seen.append(x[:, 0].detach().clone())
        return self.dense(x)


def test_shuffle():
    x = np.arange(24, dtype="float32")[:, None].repeat(2, axis=1)
    y = np.zeros((24, 1), "float32")
    model = Recording()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0)
    order = torch.cat(model.seen).tolist()
    assert order == list(range(24)) * 2
    model.seen.clear()
    model.fit(x, y, batch_size=6, epochs=2, shuffle=True, verbose=0)
    first, second = torch.cat(model.seen[:4]).tolist(), torch.cat(model.seen[4:]).tolist()
    assert sorted(first) == sorted(second) == list(range(24))
    assert first != list(range(24)) and first != second


def test_initial_epoch_and_history_contents():
    x, y = _seq_data()
    model = _regressor()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=5, initial_epoch=3, validation_data=(x, y), verbose=0)
    assert history.epoch == [3, 4]
    assert sorted(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert all(len(v) == 2 for v in history.history.values())
    assert history.model is model and model.history is history
    assert history.params["epochs"] == 5


def test_steps_per_epoch_with_a_generator():
    x, y = _seq_data(n=8)

    def forever():
        while True:
            yield x, y

    model = _regressor()
    h = model.fit(forever(), steps_per_epoch=3, epochs=2, verbose=0)
    assert model.optimizer.iterations == 6 and len(h.history["loss"]) == 2
    assert model.evaluate(forever(), steps=2, verbose=0) > 0


def test_steps_per_epoch_with_arrays():
    x, y = _seq_data(n=64)
    model = _regressor()
    model.fit(x, y, batch_size=8, steps_per_epoch=3, epochs=2, verbose=0)
    assert model.optimizer.iterations == 6


def test_evaluate_return_types():
    x, y = _seq_data()
    model = _regressor()
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", "mse"])
    values = model.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 3
    assert values[0] == pytest.approx(values[2], rel=1e-5)  # loss == mse metric here
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(d) == ["loss", "mae", "mse"] and d["mae"] == pytest.approx(values[1])
    # the result does not depend on the batch size
    assert model.evaluate(x, y, batch_size=5, verbose=0)[0] == pytest.approx(values[0], rel=1e-5)
    assert model.metrics_names == ["loss", "mae", "mse"]


def test_predict_returns_numpy_batched():
    x, _ = _seq_data(n=37)
    model = _regressor()
    full = model.predict(x, batch_size=37, verbose=0)
    parts = model.predict(x, batch_size=5, verbose=0)
    assert isinstance(full, np.ndarray) and full.dtype == np.float32 and full.shape == (37, 1)
    np.testing.assert_allclose(parts, full, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(torch.from_numpy(x), verbose=0), full, rtol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x[:3]), full[:3], rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(x)).numpy(), full, rtol=1e-5, atol=1e-6)


def test_train_and_test_on_batch():
    x, y = _seq_data(n=16)
    model = _regressor()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    before = model.test_on_batch(x, y)
    assert isinstance(before, list) and len(before) == 2
    losses = [model.train_on_batch(x, y)[0] for _ in range(20)]
    assert losses[0] == pytest.approx(before[0], rel=1e-5)  # loss before the update
    assert losses[-1] < losses[0]
    after = model.test_on_batch(x, y, return_dict=True)
    assert set(after) == {"loss", "mae"} and after["loss"] < before[0]
    assert model.optimizer.iterations == 20
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.train_on_batch(x, y), float)


def test_dropout_is_active_in_fit_only():
    model = keras.Sequential(
        [keras.Input((8,)), layers.Dropout(0.5), layers.Dense(1, use_bias=False)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x = np.ones((64, 8), "float32")
    preds = [model.predict(x, verbose=0) for _ in range(2)]
    np.testing.assert_array_equal(preds[0], preds[1])  # inference: no dropout
    y = np.zeros((64, 1), "float32")
    assert model.train_on_batch(x, y) != pytest.approx(model.test_on_batch(x, y))


def test_fit_returns_history_with_val_metrics_for_generator_validation():
    x, y = _seq_data(n=16)
    model = _regressor()
    h = model.fit(x, y, epochs=2, validation_data=[(x, y)], validation_freq=2, verbose=0).history
    assert len(h["loss"]) == 2 and len(h["val_loss"]) == 1
