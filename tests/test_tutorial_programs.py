"""The tutorials' model-building-and-training programs, after the import swap, on small data.

``import rnnkit as keras; from rnnkit import layers``; tensor math in torch ops; ``tf.data``
replaced by a torch ``DataLoader``. Sources: the Keras RNN guide (000), the IMDB notebook (002),
the partial-sum article (003) and the custom-cell article (004) in ``shared/seeds``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import rnnkit as keras
from rnnkit import layers
from rnnkit.models import Sequential

from .tutorial_cells import CustomRNNCell, NestedCell


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


# --------------------------------------------------------------------------- 000: MNIST rows
INPUT_DIM, UNITS, OUTPUT_SIZE = 10, 16, 10


def build_model(allow_cudnn_kernel=True):
    if allow_cudnn_kernel:
        lstm_layer = keras.layers.LSTM(UNITS, input_shape=(None, INPUT_DIM))
    else:
        lstm_layer = keras.layers.RNN(keras.layers.LSTMCell(UNITS), input_shape=(None, INPUT_DIM))
    model = keras.models.Sequential(
        [
            lstm_layer,
            keras.layers.BatchNormalization(),
            keras.layers.Dense(OUTPUT_SIZE),
        ]
    )
    return model


def _mnist_like(n=96, seed=0):
    """Images of INPUT_DIM rows whose class is the brightest row (learnable, MNIST-shaped)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, OUTPUT_SIZE, n)
    x = rng.random((n, INPUT_DIM, INPUT_DIM)).astype("float32") * 0.2
    for i, label in enumerate(y):
        x[i, label, :] += 0.8
    return x, y


def test_guide_mnist_row_model_cudnn_and_cell_models_agree():
    x_train, y_train = _mnist_like(96, 0)
    x_test, y_test = _mnist_like(32, 1)
    sample, sample_label = x_train[0], y_train[0]

    model = build_model(allow_cudnn_kernel=True)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer="sgd",
        metrics=["accuracy"],
    )
    history = model.fit(
        x_train, y_train, validation_data=(x_test, y_test), batch_size=32, epochs=1, verbose=0
    )
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(np.isfinite(v[0]) for v in history.history.values())
    assert 0.0 <= history.history["accuracy"][0] <= 1.0

    noncudnn_model = build_model(allow_cudnn_kernel=False)
    noncudnn_model.set_weights(model.get_weights())
    for a, b in zip(noncudnn_model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    noncudnn_model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer="sgd",
        metrics=["accuracy"],
    )
    np.testing.assert_allclose(
        noncudnn_model.predict(x_test, verbose=0), model.predict(x_test, verbose=0), atol=1e-5
    )
    noncudnn_model.fit(
        x_train, y_train, validation_data=(x_test, y_test), batch_size=32, epochs=1, verbose=0
    )

    cpu_model = build_model(allow_cudnn_kernel=True)
    cpu_model.set_weights(model.get_weights())
    out = cpu_model.predict_on_batch(np.expand_dims(sample, 0))
    assert isinstance(out, np.ndarray) and out.shape == (1, OUTPUT_SIZE)
    np.testing.assert_allclose(out, model.predict(sample[None], verbose=0), atol=1e-5)
    result = np.argmax(out, axis=1)
    assert result.shape == (1,) and 0 <= int(result[0]) < OUTPUT_SIZE
    assert 0 <= int(sample_label) < OUTPUT_SIZE


def test_guide_mnist_row_model_learns():
    x, y = _mnist_like(256, 0)
    model = build_model()
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(0.01),
        metrics=["accuracy"],
    )
    before = model.evaluate(x, y, verbose=0)[0]
    history = model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss < before * 0.5
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert acc > 0.6


# --------------------------------------------------------------------------- 000: encoder-decoder
def _encoder_decoder(input_fn):
    encoder_vocab, decoder_vocab = 30, 40
    encoder_input = input_fn(shape=(None,))
    encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=8)(encoder_input)
    output, state_h, state_c = layers.LSTM(8, return_state=True, name="encoder")(encoder_embedded)
    encoder_state = [state_h, state_c]
    decoder_input = input_fn(shape=(None,))
    decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=8)(decoder_input)
    decoder_output = layers.LSTM(8, name="decoder")(decoder_embedded, initial_state=encoder_state)
    output = layers.Dense(10)(decoder_output)
    return keras.Model([encoder_input, decoder_input], output)


def test_guide_encoder_decoder_with_initial_state_trains():
    model = _encoder_decoder(keras.Input)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "encoder (LSTM)" in text and "decoder (LSTM)" in text and "(None, 10)" in text

    rng = np.random.default_rng(0)
    enc = rng.integers(0, 30, (64, 6))
    dec = rng.integers(0, 40, (64, 5))
    y = enc[:, -1] % 10  # the answer is only in the encoder input: it must flow through the state
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    before = model.evaluate([enc, dec], y, verbose=0)[0]
    model.fit([enc, dec], y, batch_size=16, epochs=10, verbose=0)
    after = model.evaluate([enc, dec], y, verbose=0)[0]
    assert after < before * 0.7
    assert model.predict([enc, dec], verbose=0).shape == (64, 10)
    # the decoder really depends on the encoder's state
    p1 = model.predict([enc[:4], dec[:4]], verbose=0)
    p2 = model.predict([(enc[:4] + 1) % 30, dec[:4]], verbose=0)
    assert not np.allclose(p1, p2)


def test_guide_encoder_decoder_with_layers_input():
    assert layers.Input is keras.Input
    model = _encoder_decoder(layers.Input)
    assert model.predict(
        [np.zeros((2, 3), "int64"), np.zeros((2, 4), "int64")], verbose=0
    ).shape == (
        2,
        10,
    )


# --------------------------------------------------------------------------- 000: nested cell

def _nested_model():
    unit_1, unit_2, unit_3 = 3, 4, 5
    i1, i2, i3 = 6, 7, 2
    cell = NestedCell(unit_1, unit_2, unit_3)
    assert cell.unit_1 == 3 and len(cell.state_size) == 2  # attributes survive super().__init__
    rnn = keras.layers.RNN(cell)
    input_1 = keras.Input((None, i1))
    input_2 = keras.Input((None, i2, i3))
    outputs = rnn((input_1, input_2))
    model = keras.models.Model([input_1, input_2], outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    n, timestep = 48, 5
    data = [rng.random((n, timestep, i1)), rng.random((n, timestep, i2, i3))]
    targets = [rng.random((n, unit_1)), rng.random((n, unit_2, unit_3))]
    return model, data, targets


def test_guide_nested_input_cell_model_trains():
    model, input_data, target_data = _nested_model()
    before = model.evaluate(input_data, target_data, verbose=0)[0]
    history = model.fit(input_data, target_data, batch_size=8, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.evaluate(input_data, target_data, verbose=0)[0] < before
    out = model.predict(input_data, verbose=0)
    assert [o.shape for o in out] == [(48, 3), (48, 4, 5)]


def test_guide_nested_input_cell_model_logs_a_metric_per_output():
    model, input_data, target_data = _nested_model()
    history = model.fit(input_data, target_data, batch_size=16, epochs=1, verbose=0)
    acc_keys = [k for k in history.history if "acc" in k]
    assert len(acc_keys) == 2, history.history
    assert len({m.name for m in model.metrics}) == len(model.metrics)


# --------------------------------------------------------------------------- 002: IMDB classifiers
TOTAL_WORDS, MAX_REVIEW_LEN, EMBEDDING_LEN = 60, 12, 8
N_TRAIN = 384


def _imdb_like(n=192, seed=0):
    """Ragged synthetic "reviews"; positive when the review ends with a "good" word (< 10)."""
    rng = np.random.default_rng(seed)
    reviews, labels = [], []
    for _ in range(n):
        length = int(rng.integers(3, 20))
        words = rng.integers(10, TOTAL_WORDS, length)
        label = int(rng.random() < 0.5)
        if label:
            words[-1] = rng.integers(1, 10)
        reviews.append(list(words))
        labels.append(label)
    return reviews, np.array(labels)


def _imdb_loaders(positional_training):
    reviews, y_train = _imdb_like(N_TRAIN, 0)
    reviews_test, y_test = _imdb_like(64, 1)
    x_train = keras.preprocessing.sequence.pad_sequences(reviews, maxlen=MAX_REVIEW_LEN)
    x_test = keras.preprocessing.sequence.pad_sequences(reviews_test, maxlen=MAX_REVIEW_LEN)
    assert x_train.shape == (N_TRAIN, MAX_REVIEW_LEN)
    # pre-padding and pre-truncation: the end of each review is kept
    assert list(x_train[0][-3:]) == reviews[0][-3:]
    db_train = DataLoader(
        TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
        batch_size=32,
        shuffle=True,
        drop_last=True,
    )
    db_test = DataLoader(
        TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)),
        batch_size=32,
        drop_last=True,
    )
    return db_train, db_test


def _imdb_model_class(rnn_layer, positional_training):
    class MyRNN(keras.Model):
        def __init__(self, units):
            super().__init__()
            self.embedding = layers.Embedding(
                TOTAL_WORDS, EMBEDDING_LEN, input_length=MAX_REVIEW_LEN
            )
            self.rnn = keras.Sequential(
                [
                    rnn_layer(units, dropout=0.5, return_sequences=True),
                    rnn_layer(units, dropout=0.5),
                ]
            )
            self.outlayer = Sequential(
                [layers.Dense(16), layers.Dropout(rate=0.5), layers.ReLU(), layers.Dense(1)]
            )

        def call(self, inputs, training=None):
            x = inputs
            x = self.embedding(x)
            x = self.rnn(x)
            if positional_training:
                x = self.outlayer(x, training)
            else:
                x = self.outlayer(x, training=training)
            prob = torch.sigmoid(x)
            return prob

    return MyRNN


def _run_imdb(rnn_layer, positional_training, epochs=4):
    db_train, db_test = _imdb_loaders(positional_training)
    model = _imdb_model_class(rnn_layer, positional_training)(16)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )
    history = model.fit(db_train, epochs=epochs, validation_data=db_test, verbose=0)
    result = model.evaluate(db_test, verbose=0)
    return model, history, result


@pytest.mark.parametrize("rnn_layer", [layers.SimpleRNN, layers.LSTM], ids=["SimpleRNN", "LSTM"])
def test_imdb_subclassed_classifier_from_dataloader(rnn_layer):
    model, history, result = _run_imdb(rnn_layer, positional_training=False)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(history.history["loss"]) == 4
    assert np.isfinite(history.history["loss"]).all()
    assert isinstance(result, list) and len(result) == 2
    loss, acc = result
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
    assert result[0] == pytest.approx(history.history["val_loss"][-1])
    # layers held as attributes are tracked, nested Sequentials included
    assert [type(layer).__name__ for layer in model.layers] == [
        "Embedding",
        "Sequential",
        "Sequential",
    ]
    assert len(model.weights) == 1 + 2 * 3 + 4  # embeddings; 2 x (kernel, recurrent, bias); 2 Dense
    assert sum(p.numel() for p in model.parameters()) == model.count_params()


@pytest.mark.parametrize("rnn_layer", [layers.SimpleRNN, layers.LSTM], ids=["SimpleRNN", "LSTM"])
def test_imdb_subclassed_classifier_positional_training(rnn_layer):
    """The tutorial's ``self.outlayer(x, training)``: training passed positionally."""
    model, history, result = _run_imdb(rnn_layer, positional_training=True, epochs=1)
    assert len(history.history["loss"]) == 1 and len(result) == 2
    x = torch.ones(4, 16)
    model.outlayer.train()
    a = model.outlayer(x, False)
    b = model.outlayer(x, False)
    torch.testing.assert_close(a, b)  # training=False given positionally: no dropout
    model.outlayer.eval()
    outs = torch.stack([model.outlayer(torch.ones(64, 16), True) for _ in range(2)])
    assert not torch.equal(outs[0], outs[1])  # training=True positionally: dropout is on


def test_imdb_classifier_learns_the_keyword_task():
    _, history, (loss, acc) = _run_imdb(layers.SimpleRNN, positional_training=False, epochs=12)
    assert min(history.history["val_loss"]) < history.history["val_loss"][0] / 2
    assert acc > 0.85, history.history


# --------------------------------------------------------------------------- 003: partial sums
def _partial_sum_data(n=1024, steps=10, seed=111):
    rng = np.random.default_rng(seed)
    x = rng.random((n, steps, 1)).astype("float32")
    return x, x.cumsum(axis=1)


def _partial_sum_model(rnn, lr):
    model = Sequential([rnn])
    model.compile(optimizer=keras.optimizers.SGD(lr=lr), loss="mean_squared_error")
    return model


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.SimpleRNN(1, activation=None, input_shape=[None, 1], return_sequences=True),
        lambda: layers.RNN(
            layers.SimpleRNNCell(1, activation=None), input_shape=(None, 1), return_sequences=True
        ),
    ],
    ids=["SimpleRNN", "RNN(SimpleRNNCell)"],
)
def test_partial_sums_simple_rnn_learns_the_sum(make):
    x, y = _partial_sum_data()
    model = _partial_sum_model(make(), lr=1e-3)
    assert model.optimizer.learning_rate == pytest.approx(1e-3)
    # a fixed start (U=0.3, W=0.7, b=0) so the result does not hang on the random init
    model.set_weights([np.array([[0.3]]), np.array([[0.7]]), np.array([0.0])])
    before = model.evaluate(x, y, batch_size=256, verbose=0)
    model.fit(x, y, batch_size=64, epochs=5, verbose=0)
    after = model.evaluate(x, y, batch_size=256, verbose=0)
    assert after < before / 20, (before, after)
    weights = model.layers[0].weights
    assert [tuple(w.shape) for w in weights] == [(1, 1), (1, 1), (1,)]
    kernel, recurrent, bias = (float(w.detach().reshape(-1)[0]) for w in weights)
    assert abs(recurrent - 1.0) < 0.1  # o_t = U x_t + W s_{t-1} + b with W -> 1
    pred = model.predict(np.ones((1, 10, 1)) * 0.5, verbose=0).flatten()
    assert pred.shape == (10,)
    np.testing.assert_allclose(pred, 0.5 * np.arange(1, 11), rtol=0.15, atol=0.3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LSTM(1, activation=None, input_shape=[None, 1], return_sequences=True),
        lambda: layers.RNN(
            layers.LSTMCell(1, activation=None), input_shape=(None, 1), return_sequences=True
        ),
    ],
    ids=["LSTM", "RNN(LSTMCell)"],
)
def test_partial_sums_lstm(make):
    x, y = _partial_sum_data(n=512)
    model = _partial_sum_model(make(), lr=1e-3)
    before = model.evaluate(x, y, batch_size=256, verbose=0)
    history = model.fit(x, y, batch_size=64, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    after = model.evaluate(x, y, batch_size=256, verbose=0)
    assert after < before
    assert [tuple(w.shape) for w in model.layers[0].weights] == [(1, 4), (1, 4), (4,)]
    pred = model.predict(np.ones((1, 30, 1)) * 0.5, verbose=0)
    assert pred.shape == (1, 30, 1) and np.isfinite(pred).all()


def test_partial_sums_layer_and_cell_models_are_interchangeable():
    a = Sequential([layers.LSTM(1, activation=None, input_shape=[None, 1], return_sequences=True)])
    b = Sequential(
        [
            layers.RNN(
                layers.LSTMCell(1, activation=None), input_shape=(None, 1), return_sequences=True
            )
        ]
    )
    b.set_weights(a.get_weights())
    x = np.random.default_rng(0).random((3, 8, 1)).astype("float32")
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), atol=1e-6)


# --------------------------------------------------------------------------- 004: custom cell

def test_custom_cell_model_trains():
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(256, 5, 4)).astype("float32")
    y_train = np.argmax(x_train[:, -1, :], axis=-1)  # a class per input feature
    model = keras.Sequential([keras.layers.RNN(CustomRNNCell(16)), keras.layers.Dense(10)])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x_train, y_train, epochs=10, batch_size=16, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"]
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.7
    assert history.history["accuracy"][-1] > 0.5
    names = [getattr(w, "_rnnkit_name", None) for w in model.layers[0].weights]
    assert names == ["kernel", "recurrent_kernel"]
