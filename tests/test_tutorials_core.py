"""The layer-only parts of the tutorials in shared/seeds, after the import swap.

``import rnnkit as keras; from rnnkit import layers`` and tensor math with torch ops
(``tf.matmul`` -> ``torch.matmul``, ``tf.zeros`` -> ``torch.zeros``, ``tf.unstack(x, axis=1)``
-> ``x.unbind(1)``, ``tf.TensorShape([n])`` -> ``torch.Size([n])``). Sizes are the tutorials'
unless noted (a few batch / vocabulary sizes are reduced to keep the suite fast).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit as keras
from rnnkit import activations, constraints, initializers, layers, regularizers

from .tutorial_cells import CustomRNNCell, NestedCell


def close(a, b, tol=1e-10):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=0, atol=tol)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


# ---------------------------------------------------------------------------------------------
# 002: stepping cells by hand, stacks of cells and layers
# ---------------------------------------------------------------------------------------------
def test_002_simple_rnn_cell_build_and_variables():
    cell = keras.layers.SimpleRNNCell(3)
    cell.build(input_shape=(None, 4))
    names = [getattr(v, "_rnnkit_name", None) for v in cell.trainable_variables]
    assert names == ["kernel", "recurrent_kernel", "bias"]
    assert [tuple(v.shape) for v in cell.trainable_variables] == [(4, 3), (3, 3), (3,)]
    np.testing.assert_array_equal(cell.trainable_variables[2].detach().numpy(), np.zeros(3))
    # recurrent_kernel is orthogonal by default
    rk = cell.recurrent_kernel.detach().double()
    close(rk @ rk.T, torch.eye(3, dtype=torch.float64), 1e-5)


def test_002_simple_rnn_cell_stepped_by_hand():
    h0 = [torch.zeros([4, 64])]
    x = torch.randn([4, 80, 100])
    cell = keras.layers.SimpleRNNCell(64)
    xt = x[:, 0, :]
    out, h1 = cell(xt, h0)
    assert (tuple(out.shape), tuple(h1[0].shape)) == ((4, 64), (4, 64))
    close(out, torch.tanh(xt @ cell.kernel + cell.bias), 1e-6)
    h = h0
    for xt in x.unbind(1):
        out, h = cell(xt, h)
    # the same as the layer with the cell's weights
    layer = keras.layers.SimpleRNN(64)
    layer(x)
    layer.set_weights(cell.get_weights())
    close(layer(x), out, 1e-5)


def test_002_multi_layer_cells_stepped_by_hand():
    x = torch.randn([4, 80, 100])
    cell0 = keras.layers.SimpleRNNCell(64)
    cell1 = keras.layers.SimpleRNNCell(64)
    h0 = [torch.zeros([4, 64])]
    h1 = [torch.zeros([4, 64])]
    for xt in x.unbind(1):
        out0, h0 = cell0(xt, h0)
        out1, h1 = cell1(out0, h1)
    assert tuple(out1.shape) == (4, 64)
    net = keras.Sequential([keras.layers.SimpleRNN(64, return_sequences=True),
                            keras.layers.SimpleRNN(64)])
    net(x)
    net.set_weights(cell0.get_weights() + cell1.get_weights())
    close(net(x), out1, 1e-5)


def test_002_simple_rnn_layers_and_stack():
    x = torch.randn([4, 80, 100])
    layer = keras.layers.SimpleRNN(64)
    assert tuple(layer(x).shape) == (4, 64)
    layer = keras.layers.SimpleRNN(64, return_sequences=True)
    assert tuple(layer(x).shape) == (4, 80, 64)
    net = keras.Sequential([keras.layers.SimpleRNN(64, return_sequences=True),
                            keras.layers.SimpleRNN(64)])
    assert tuple(net(x).shape) == (4, 64)


def test_002_lstm_cell_stepped_by_hand():
    x = torch.randn([2, 80, 100])
    xt = x[:, 0, :]
    cell = keras.layers.LSTMCell(64)
    state = [torch.zeros([2, 64]), torch.zeros([2, 64])]
    out, state = cell(xt, state)
    assert out is state[0], "the output and the first state are the same tensor"
    assert len(state) == 2 and tuple(state[1].shape) == (2, 64)
    for xt in x.unbind(1):
        out, state = cell(xt, state)
    layer = keras.layers.LSTM(64, return_state=True)
    layer(x)
    layer.set_weights(cell.get_weights())
    # the tutorial ran one extra first step on x[:, 0]: start the layer from that state
    state1 = cell(x[:, 0], [torch.zeros([2, 64]), torch.zeros([2, 64])])[1]
    y, h, c = layer(x, initial_state=state1)
    close(y, out, 1e-5)
    close(c, state[1], 1e-5)


def test_002_lstm_layers_and_stack():
    x = torch.randn([2, 80, 100])
    assert tuple(keras.layers.LSTM(64)(x).shape) == (2, 64)
    assert tuple(layers.LSTM(64, return_sequences=True)(x).shape) == (2, 80, 64)
    net = keras.Sequential([keras.layers.LSTM(64, return_sequences=True),
                            keras.layers.LSTM(64)])
    assert tuple(net(x).shape) == (2, 64)


def test_002_gru_cell_and_layers():
    x = torch.randn([2, 80, 100])
    h = [torch.zeros([2, 64])]
    cell = layers.GRUCell(64)
    for xt in x.unbind(1):
        out, h = cell(xt, h)
    assert tuple(out.shape) == (2, 64)
    layer = layers.GRU(64)
    layer(x)
    layer.set_weights(cell.get_weights())
    close(layer(x), out, 1e-5)
    net = keras.Sequential([layers.GRU(64, return_sequences=True), layers.GRU(64)])
    assert tuple(net(x).shape) == (2, 64)


def _sentiment_model(rnn_cls, units, positional_training):
    """MyRNN / MyLSTM of 002 (subclassed Model, Sequential inside) at reduced sizes."""
    total_words, embedding_len, max_review_len = 100, 16, 12

    class MyRNN(keras.Model):
        def __init__(self, units):
            super(MyRNN, self).__init__()  # noqa: UP008 (the tutorial's spelling)
            self.embedding = layers.Embedding(total_words, embedding_len,
                                              input_length=max_review_len)
            self.rnn = keras.Sequential([
                rnn_cls(units, dropout=0.5, return_sequences=True),
                rnn_cls(units, dropout=0.5)
            ])
            self.outlayer = keras.Sequential([
                layers.Dense(32),
                layers.Dropout(rate=0.5),
                layers.ReLU(),
                layers.Dense(1)])

        def call(self, inputs, training=None):
            x = inputs
            x = self.embedding(x)
            x = self.rnn(x)
            if positional_training:
                x = self.outlayer(x, training)  # the tutorial's spelling
            else:
                x = self.outlayer(x, training=training)
            prob = torch.sigmoid(x)
            return prob

    return MyRNN(units), torch.randint(0, total_words, (5, max_review_len))


@pytest.mark.parametrize("rnn_cls", [layers.SimpleRNN, layers.LSTM])
def test_002_sentiment_model_forward(rnn_cls):
    model, ids = _sentiment_model(rnn_cls, 8, positional_training=False)
    prob = model(ids)
    assert tuple(prob.shape) == (5, 1) and bool(((prob > 0) & (prob < 1)).all())
    close(model(ids), prob)  # inference is deterministic (dropout off)
    torch.manual_seed(1)
    assert not torch.allclose(model(ids, training=True), prob)


def test_002_sentiment_model_training_passed_positionally():
    model, ids = _sentiment_model(layers.SimpleRNN, 8, positional_training=True)
    assert tuple(model(ids).shape) == (5, 1)


# ---------------------------------------------------------------------------------------------
# 000: the Keras RNN guide
# ---------------------------------------------------------------------------------------------
def test_000_sequential_models_and_summary(capsys):
    model = keras.Sequential()
    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.LSTM(128))
    model.add(layers.Dense(10))
    ids = torch.randint(0, 1000, (2, 7))
    assert tuple(model(ids).shape) == (2, 10)
    model.summary()
    assert "lstm" in capsys.readouterr().out.lower()

    model = keras.Sequential()
    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.GRU(256, return_sequences=True))
    model.add(layers.SimpleRNN(128))
    model.add(layers.Dense(10))
    assert tuple(model(ids).shape) == (2, 10)


def test_000_encoder_decoder_with_initial_state():
    encoder_vocab, decoder_vocab = 1000, 2000
    encoder_input = layers.Input(shape=(None,))
    encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(encoder_input)
    output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(
        encoder_embedded)
    encoder_state = [state_h, state_c]
    decoder_input = layers.Input(shape=(None,))
    decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(decoder_input)
    decoder_output = layers.LSTM(64, name="decoder")(decoder_embedded,
                                                    initial_state=encoder_state)
    output = layers.Dense(10)(decoder_output)
    model = keras.Model([encoder_input, decoder_input], output)
    enc = torch.randint(0, encoder_vocab, (3, 6))
    dec = torch.randint(0, decoder_vocab, (3, 4))
    y = model([enc, dec])
    assert tuple(y.shape) == (3, 10)
    # the decoder really starts from the encoder's states
    by_name = {getattr(layer, "name", None): layer for layer in model.layers}
    encoder, decoder = by_name["encoder"], by_name["decoder"]
    embs = [layer for layer in model.layers if isinstance(layer, layers.Embedding)]
    e_emb = next(e for e in embs if e.input_dim == encoder_vocab)
    d_emb = next(e for e in embs if e.input_dim == decoder_vocab)
    _, h, c = encoder(e_emb(enc))
    dense = next(layer for layer in model.layers if isinstance(layer, layers.Dense))
    close(y, dense(decoder(d_emb(dec), initial_state=[h, c])), 1e-6)
    assert not torch.allclose(y, dense(decoder(d_emb(dec))))


def test_000_stateful_lstm_and_state_reuse():
    paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
    paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
    paragraph3 = np.random.random((20, 10, 50)).astype(np.float32)

    lstm_layer = layers.LSTM(64, stateful=True)
    output = lstm_layer(paragraph1)
    output = lstm_layer(paragraph2)
    output = lstm_layer(paragraph3)
    assert tuple(output.shape) == (20, 64)
    lstm_layer.reset_states()
    assert all(torch.count_nonzero(s) == 0 for s in lstm_layer.states)

    lstm_layer = layers.LSTM(64, stateful=True)
    output = lstm_layer(paragraph1)
    output = lstm_layer(paragraph2)
    existing_state = lstm_layer.states
    new_lstm_layer = layers.LSTM(64)
    new_output = new_lstm_layer(paragraph3, initial_state=existing_state)
    assert tuple(new_output.shape) == (20, 64)
    # continuing the stateful layer == a copy started from existing_state
    new_lstm_layer.set_weights(lstm_layer.get_weights())
    close(new_lstm_layer(paragraph3, initial_state=existing_state), lstm_layer(paragraph3), 1e-6)
    # and the state mattered
    assert not torch.allclose(new_lstm_layer(paragraph3), lstm_layer.states[0])


def test_000_bidirectional_in_sequential(capsys):
    model = keras.Sequential()
    model.add(layers.Bidirectional(layers.LSTM(64, return_sequences=True), input_shape=(5, 10)))
    model.add(layers.Bidirectional(layers.LSTM(32)))
    model.add(layers.Dense(10))
    model.summary()
    assert "bidirectional" in capsys.readouterr().out.lower()
    assert sum(int(np.prod(w.shape)) for w in model.get_weights()) == (
        2 * (10 * 256 + 64 * 256 + 256) + 2 * (128 * 128 + 32 * 128 + 128) + 64 * 10 + 10
    )
    assert tuple(model(np.random.random((4, 5, 10)).astype(np.float32)).shape) == (4, 10)


def test_000_lstm_and_rnn_lstmcell_models_agree():
    """build_model(allow_cudnn_kernel=True / False) with shared weights (no training)."""
    input_dim, units, output_size = 28, 64, 10

    def build_model(allow_cudnn_kernel=True):
        if allow_cudnn_kernel:
            lstm_layer = keras.layers.LSTM(units, input_shape=(None, input_dim))
        else:
            lstm_layer = keras.layers.RNN(keras.layers.LSTMCell(units),
                                          input_shape=(None, input_dim))
        return keras.models.Sequential([lstm_layer, keras.layers.BatchNormalization(),
                                        keras.layers.Dense(output_size)])

    model = build_model(allow_cudnn_kernel=True)
    noncudnn_model = build_model(allow_cudnn_kernel=False)
    noncudnn_model.set_weights(model.get_weights())
    sample = np.random.random((3, 28, 28)).astype(np.float32)
    close(model.predict_on_batch(sample), noncudnn_model.predict_on_batch(sample), 1e-5)



def test_000_nested_cell_functional_model():
    unit_1, unit_2, unit_3 = 10, 20, 30
    i1, i2, i3 = 32, 64, 32
    batch_size, timestep = 4, 6  # reduced from 64 x 50
    cell = NestedCell(unit_1, unit_2, unit_3)
    rnn = keras.layers.RNN(cell)
    input_1 = keras.Input((None, i1))
    input_2 = keras.Input((None, i2, i3))
    outputs = rnn((input_1, input_2))
    model = keras.models.Model([input_1, input_2], outputs)
    input_1_data = np.random.random((batch_size, timestep, i1))
    input_2_data = np.random.random((batch_size, timestep, i2, i3))
    out_1, out_2 = model([input_1_data, input_2_data])
    assert tuple(out_1.shape) == (batch_size, unit_1)
    assert tuple(out_2.shape) == (batch_size, unit_2, unit_3)
    # the last output is the last step's projection
    x1 = torch.as_tensor(input_1_data, dtype=torch.float32)
    x2 = torch.as_tensor(input_2_data, dtype=torch.float32)
    close(out_1, x1[:, -1] @ cell.kernel_1, 1e-4)
    close(out_2, torch.einsum("bij,ijkl->bkl", x2[:, -1], cell.kernel_2_3), 1e-3)
    # the same layer called directly on tensors
    d1, d2 = rnn((x1, x2))
    close(d1, out_1, 1e-6)
    close(d2, out_2, 1e-6)


# ---------------------------------------------------------------------------------------------
# 003: partial sums with SimpleRNN / LSTM and the S-LSTM cell
# ---------------------------------------------------------------------------------------------
X_HALF = np.ones((1, 30, 1)) * 0.5


def test_003_simple_rnn_cell_partial_sums_forward():
    model = keras.Sequential([
        layers.RNN(layers.SimpleRNNCell(1, activation=None), input_shape=(None, 1),
                   return_sequences=True)
    ])
    # the tutorial's trained weights reproduce its printed predictions
    model.layers[0].set_weights([np.array([[0.6021545]]), np.array([[1.0050855]]),
                                 np.array([0.20719269])])
    y = model.predict(X_HALF).flatten()
    close(y[:5], [0.5082699, 1.0191246, 1.5325773, 2.0486412, 2.5673294], 1e-5)
    close(y[-3:], [15.253077, 15.838916, 16.427734], 1e-4)
    same = keras.Sequential([layers.SimpleRNN(1, activation=None, input_shape=(None, 1),
                                              return_sequences=True)])
    same.set_weights(model.get_weights())
    close(same.predict(X_HALF), model.predict(X_HALF), 1e-6)


def test_003_lstm_cell_partial_sums_forward():
    model = keras.Sequential([
        layers.RNN(layers.LSTMCell(1, activation=None), input_shape=(None, 1),
                   return_sequences=True)
    ])
    model.layers[0].set_weights([
        np.array([[0.11471224, -0.15296884, 0.82662594, -0.14256166]]),
        np.array([[0.10575113, 0.16468772, -0.05777477, 0.20210776]]),
        np.array([0.4812489, 1.6566612, 1.1815464, 0.4349145]),
    ])
    y = model.predict(X_HALF).flatten()
    close(y[:5], [0.59412843, 1.1486205, 1.6723596, 2.1724625, 2.6546886], 1e-5)
    close(y[-2:], [13.734106, 14.174344], 1e-4)


def _tf21_hard_sigmoid(x):
    """TF 2.1's hard_sigmoid (the tutorial's): clip(0.2 x + 0.5, 0, 1)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class SLSTMCell(layers.AbstractRNNCell):
    def __init__(self,
                 units,
                 activation='tanh',
                 recurrent_activation='hard_sigmoid',
                 use_bias=True,
                 kernel_initializer='glorot_uniform',
                 recurrent_initializer='orthogonal',
                 bias_initializer='zeros',
                 kernel_regularizer=None,
                 recurrent_regularizer=None,
                 bias_regularizer=None,
                 kernel_constraint=None,
                 recurrent_constraint=None,
                 bias_constraint=None,
                 **kwargs):
        super(SLSTMCell, self).__init__(**kwargs)  # noqa: UP008 (the tutorial's spelling)
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    @property
    def state_size(self):
        return [self.units, self.units]

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, self.units * 2),
            name='kernel',
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units * 2),
            name='recurrent_kernel',
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units * 2,),
                name='bias',
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def call(self, inputs, states, training=None):
        h_tm1 = states[0]  # previous memory state
        c_tm1 = states[1]  # previous carry state
        k_f, k_c = torch.chunk(self.kernel, 2, dim=1)
        x_f = torch.matmul(inputs, k_f)
        x_c = torch.matmul(inputs, k_c)
        if self.use_bias:
            b_f, b_c = torch.chunk(self.bias, 2, dim=0)
            x_f = x_f + b_f
            x_c = x_c + b_c
        f = self.recurrent_activation(x_f + torch.matmul(
            h_tm1, self.recurrent_kernel[:, :self.units]))
        c = f * c_tm1 + (1 - f) * self.activation(x_c + torch.matmul(
            h_tm1, self.recurrent_kernel[:, self.units:]))
        h = self.activation(c)
        return h, [h, c]


class SLSTMCellH1(SLSTMCell):
    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        h_0 = torch.ones([batch_size, self.units], dtype=dtype)
        c_0 = torch.zeros([batch_size, self.units], dtype=dtype)
        return [h_0, c_0]


SLSTM_WEIGHTS = [np.array([[-0.79614836, 0.03041089]]), np.array([[0.08143749, 1.0668359]]),
                 np.array([0.6330045, 1.0431471])]


def _slstm_reference(x, h, c, hard_sigmoid):
    k, rk, b = (torch.as_tensor(w, dtype=torch.float64) for w in SLSTM_WEIGHTS)
    outs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        f = hard_sigmoid(xt @ k[:, :1] + b[:1] + h @ rk[:, :1])
        c = f * c + (1 - f) * (xt @ k[:, 1:] + b[1:] + h @ rk[:, 1:])
        h = c
        outs.append(h)
    return torch.stack(outs, 1)


def test_003_slstm_cell_forward():
    model = keras.Sequential([
        layers.RNN(SLSTMCell(1, activation=None), input_shape=(None, 1), return_sequences=True)
    ])
    model.layers[0].set_weights(SLSTM_WEIGHTS)
    assert [getattr(w, "_rnnkit_name", None) for w in model.layers[0].weights] == [
        "kernel", "recurrent_kernel", "bias"]
    y = model.predict(X_HALF)
    x = torch.as_tensor(X_HALF)
    zeros = torch.zeros(1, 1, dtype=torch.float64)
    close(y, _slstm_reference(x, zeros, zeros, activations.get("hard_sigmoid")), 1e-5)
    # with TF 2.1's hard_sigmoid (the tutorial's runtime) the printed predictions come back
    tf21 = keras.Sequential([
        layers.RNN(SLSTMCell(1, activation=None, recurrent_activation=_tf21_hard_sigmoid),
                   input_shape=(None, 1), return_sequences=True)
    ])
    tf21.set_weights(SLSTM_WEIGHTS)
    y = tf21.predict(X_HALF).flatten()
    close(y[:5], [0.47944844, 0.96489847, 1.4559155, 1.9520411, 2.4527955], 1e-5)
    close(y[-2:], [14.435274, 14.876117], 1e-4)


def test_003_slstm_custom_initial_state_is_used():
    model = keras.Sequential([
        layers.RNN(SLSTMCellH1(1, activation=None), input_shape=(None, 1), return_sequences=True)
    ])
    model.layers[0].set_weights(SLSTM_WEIGHTS)
    y = model.predict(X_HALF)
    x = torch.as_tensor(X_HALF)
    h0 = torch.ones(1, 1, dtype=torch.float64)
    c0 = torch.zeros(1, 1, dtype=torch.float64)
    hs = activations.get("hard_sigmoid")
    close(y, _slstm_reference(x, h0, c0, hs), 1e-5)
    assert not np.allclose(y, _slstm_reference(x, c0, c0, hs).numpy(), atol=1e-3)
    # called directly, with a batch of 3 and float64 inputs
    rnn = layers.RNN(SLSTMCellH1(2), return_state=True)
    _, h, c = rnn(torch.zeros(3, 1, 4, dtype=torch.float64))
    assert tuple(h.shape) == (3, 2)


# ---------------------------------------------------------------------------------------------
# 004: a custom cell subclassing Layer
# ---------------------------------------------------------------------------------------------

def test_004_custom_cell_in_sequential():
    model = keras.Sequential([
        keras.layers.RNN(CustomRNNCell(64)),
        keras.layers.Dense(10),
    ])
    x = np.random.random((5, 7, 3)).astype(np.float32)
    y = model(x)
    assert tuple(y.shape) == (5, 10)
    rnn, dense = model.layers
    cell = rnn.cell
    w = cell.kernel.detach()
    assert w.abs().max() <= 0.05 and w.abs().max() > 0  # 'uniform' is U(-0.05, 0.05)
    h = torch.zeros(5, 64)
    for xt in torch.as_tensor(x).unbind(1):
        h = xt @ cell.kernel + h @ cell.recurrent_kernel
    close(y, h @ dense.kernel + dense.bias, 1e-6)
    assert len(model.trainable_weights) == 4


def test_004_cell_exactly_as_printed_lacks_state_size():
    class VerbatimCell(CustomRNNCell):
        def __init__(self, units):
            super().__init__(units)
            del self.state_size

    with pytest.raises(ValueError, match=r"lacks \['state_size'\]"):
        keras.layers.RNN(VerbatimCell(64))
