"""Training's rough edges (issue 11): dropout at rate 1.0, interrupted fit, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import callbacks, losses
from rnnkit import layers as L
from rnnkit.models import Input, Sequential

X = np.random.default_rng(0).random((6, 5, 3)).astype("float32")


# --------------------------------------------------------------------------- dropout = 1.0
@pytest.mark.parametrize("cls", [L.LSTM, L.GRU, L.SimpleRNN])
@pytest.mark.parametrize("arg", ["dropout", "recurrent_dropout"])
def test_full_dropout_matches_keras(cls, arg):
    """Rate 1.0 in training runs as Keras 3.15 does (checked against real Keras, torch backend):
    dropout=1.0 zeroes the inputs; recurrent_dropout=1.0 is off for LSTM / GRU (Keras applies it
    only for 0 < rate < 1) and zeroes SimpleRNN's previous output."""
    keras = pytest.importorskip("keras")
    kcls = getattr(keras.layers, cls.__name__)
    klayer = kcls(4, **{arg: 1.0})
    expected = np.asarray(klayer(X, training=True).detach().cpu())
    layer = cls(4, **{arg: 1.0})
    layer.build(X.shape)
    layer.set_weights([np.asarray(w) for w in klayer.get_weights()])
    got = layer(torch.from_numpy(X), training=True).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_full_dropout_trains():
    model = Sequential([Input(shape=(5, 3)), L.LSTM(4, dropout=1.0, recurrent_dropout=1.0),
                        L.Dense(2)])
    model.compile("adam", "mse")
    hist = model.fit(X, np.zeros((6, 2)), epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


# --------------------------------------------------------------------------- interrupted fit
def _dropout_model():
    model = Sequential([Input(shape=(5, 3)), L.LSTM(8), L.Dropout(0.5), L.Dense(2)])
    model.compile("adam", "mse")
    return model


class _Recorder(callbacks.Callback):
    def __init__(self, fail_at_epoch=None, exc=RuntimeError):
        super().__init__()
        self.ended, self.fail_at_epoch, self.exc = False, fail_at_epoch, exc

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.fail_at_epoch:
            raise self.exc("stop here")

    def on_train_end(self, logs=None):
        self.ended = True


def _assert_inference_mode(model):
    assert not model.training
    a = model.predict(X, verbose=0)
    b = model(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6)  # dropout off: the same outputs twice


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_exception_in_callback_cleans_up(exc):
    model = _dropout_model()
    rec = _Recorder(fail_at_epoch=2, exc=exc)
    with pytest.raises(exc, match="stop here"):
        model.fit(X, np.zeros((6, 2)), epochs=5, verbose=0, callbacks=[rec])
    assert rec.ended
    assert model.history.epoch == [0, 1]  # the completed epochs are kept
    assert len(model.history.history["loss"]) == 2
    _assert_inference_mode(model)


def test_generator_raising_mid_epoch(tmp_path):
    model = _dropout_model()

    def batches():
        yield X[:3], np.zeros((3, 2), "float32")
        raise KeyboardInterrupt

    log = tmp_path / "log.csv"
    rec = _Recorder()
    with pytest.raises(KeyboardInterrupt):
        model.fit(batches(), epochs=3, verbose=0, callbacks=[rec, callbacks.CSVLogger(str(log))])
    assert rec.ended
    assert model.history.epoch == []
    _assert_inference_mode(model)
    model.fit(X, np.zeros((6, 2)), epochs=1, verbose=0)  # still usable


# --------------------------------------------------------------------------- clear errors
def _compiled(loss="mse"):
    model = Sequential([Input(shape=(5, 3)), L.LSTM(4), L.Dense(1, activation="sigmoid")])
    model.compile("adam", loss)
    return model


def test_binary_crossentropy_labels_outside_unit_interval():
    with pytest.raises(ValueError, match=r"labels \(y_true\) in \[0, 1\].*from -1 to 2"):
        losses.binary_crossentropy(torch.tensor([[-1.0], [2.0]]), torch.tensor([[0.3], [0.6]]))
    model = _compiled("binary_crossentropy")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        model.fit(X, np.array([0, 1, 2, 0, 1, 3.0]), epochs=1, verbose=0)


@pytest.mark.parametrize("epochs", [2.5, "3", True, -1])
def test_fit_epochs_must_be_an_integer(epochs):
    with pytest.raises(ValueError, match="epochs must be an integer >= 0"):
        _compiled().fit(X, np.zeros((6, 1)), epochs=epochs, verbose=0)


def test_empty_arrays():
    model = _compiled()
    empty_x, empty_y = np.zeros((0, 5, 3), "float32"), np.zeros((0, 1), "float32")
    with pytest.raises(ValueError, match="at least one sample"):
        model.fit(empty_x, empty_y, verbose=0)
    with pytest.raises(ValueError, match="at least one sample"):
        model.evaluate(empty_x, empty_y, verbose=0)
    with pytest.raises(ValueError, match="at least one sample"):
        model.predict(empty_x, verbose=0)


@pytest.mark.parametrize("bs", [0, -4, 2.5])
def test_batch_size_must_be_positive(bs):
    model = _compiled()
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        model.predict(X, batch_size=bs, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        model.fit(X, np.zeros((6, 1)), batch_size=bs, verbose=0)


def test_class_weight_missing_a_class():
    model = Sequential([Input(shape=(5, 3)), L.LSTM(4), L.Dense(3)])
    model.compile("adam", losses.SparseCategoricalCrossentropy(from_logits=True))
    y = np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match=r"classes \[2\] occur in y"):
        model.fit(X, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)
    model.fit(X, y, class_weight={0: 1.0, 1: 2.0, 2: 1.0}, verbose=0, epochs=1)


def test_lstm_cell_direct_call_errors():
    cell = L.LSTMCell(4)
    with pytest.raises(ValueError, match=r"state 0 must have shape \(batch, 4\).*received \(2, 5\)"):
        cell(torch.randn(2, 3), [torch.zeros(2, 5), torch.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"one time step.*\(batch, features\).*\(2, 7, 3\)"):
        cell(torch.randn(2, 7, 3), [torch.zeros(2, 4), torch.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"state 1 must have shape"):
        cell(torch.randn(2, 3), [torch.zeros(2, 4), torch.zeros(3, 4)])
    out, _ = cell(torch.randn(2, 3), [torch.zeros(2, 4), torch.zeros(2, 4)])
    assert out.shape == (2, 4)


@pytest.mark.parametrize("make", [lambda: L.LSTM(4), lambda: L.GRUCell(3), lambda: L.Dense(2)])
def test_complex_inputs(make):
    layer = make()
    x = torch.randn(2, 5, 3, dtype=torch.complex64)
    if isinstance(layer, L.GRUCell):
        x = x[:, 0]
        args = (x, torch.zeros(2, 3))
    else:
        args = (x,)
    with pytest.raises(TypeError, match="complex inputs are not supported"):
        layer(*args)
    with pytest.raises(TypeError, match="complex inputs are not supported"):
        L.LSTM(2)(np.ones((2, 5, 3), np.complex128))
