"""Real Keras 3 (torch backend) as the oracle for rnnkit's files and layers.

- Keras loads what ``model.save("m.keras")`` writes and predicts the same (float32, 1e-5).
- rnnkit loads what Keras's ``model.save`` writes (masks, op nodes, shared layers...) and
  predicts the same.
- ``.weights.h5`` files go both ways between ``save_weights`` / ``load_weights``.
- A seeded random-configuration differential test: recurrent layers built in Keras, weights
  copied to rnnkit, outputs and input gradients compared.

Every model is written once, as a function of the framework (``K`` is ``keras`` or ``rnnkit``),
since rnnkit spells Keras's API.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.models import load_model
from rnnkit.saving.keras_optimizer import keras_optimizer_arrays

keras = pytest.importorskip("keras")

TOL = 1e-5


# --------------------------------------------------------------------------- model builders
def _padded(rng, batch, steps, features, lengths=None):
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    lengths = lengths or [steps - i % 3 for i in range(batch)]
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    return x


def sequential(K, rng):
    model = K.Sequential(
        [
            K.Input(shape=(None, 3)),
            K.layers.LSTM(4, return_sequences=True),
            K.layers.Bidirectional(K.layers.GRU(2)),
            K.layers.Dense(3, activation="tanh"),
        ]
    )
    return model, [rng.normal(size=(3, 5, 3)).astype("float32")]


def functional_masking(K, rng):
    inp = K.Input(shape=(None, 3))
    x = K.layers.Masking()(inp)
    x = K.layers.LSTM(4, return_sequences=True)(x)
    x = K.layers.GRU(3, reset_after=False)(x)
    out = K.layers.Dense(2)(x)
    return K.Model(inp, out), [_padded(rng, 4, 6, 3)]


def functional_shared(K, rng):
    a = K.Input(shape=(None, 3), name="a")
    b = K.Input(shape=(None, 3), name="b")
    shared = K.layers.LSTM(4)
    dense = K.layers.Dense(2)
    merged = K.layers.Concatenate()([dense(shared(a)), dense(shared(b))])
    out = K.layers.Dense(1)(merged)
    return K.Model([a, b], out), [
        rng.normal(size=(2, 5, 3)).astype("float32"),
        rng.normal(size=(2, 4, 3)).astype("float32"),
    ]


def functional_initial_state(K, rng):
    # The guide's encoder-decoder: the encoder's states start the decoder.
    enc_in = K.Input(shape=(None, 3))
    dec_in = K.Input(shape=(None, 2))
    _, h, c = K.layers.LSTM(4, return_state=True)(enc_in)
    dec = K.layers.LSTM(4, return_sequences=True)(dec_in, initial_state=[h, c])
    out = K.layers.Dense(2, activation="softmax")(dec)
    return K.Model([enc_in, dec_in], out), [
        rng.normal(size=(2, 5, 3)).astype("float32"),
        rng.normal(size=(2, 4, 2)).astype("float32"),
    ]


def bidirectional_modes(K, rng):
    inp = K.Input(shape=(None, 3))
    outs = [
        K.layers.Bidirectional(K.layers.LSTM(2, return_sequences=True), merge_mode=mode)(inp)
        for mode in ("concat", "sum", "mul", "ave")
    ]
    outs.append(K.layers.Bidirectional(K.layers.SimpleRNN(2), merge_mode=None)(inp)[1])
    return K.Model(inp, outs), [rng.normal(size=(2, 5, 3)).astype("float32")]


def stacked_cells_states(K, rng):
    inp = K.Input(shape=(None, 3))
    outs = K.layers.RNN([K.layers.LSTMCell(2), K.layers.GRUCell(3)], return_state=True)(inp)
    return K.Model(inp, outs), [rng.normal(size=(2, 5, 3)).astype("float32")]


def embedding_mask_zero(K, rng):
    tokens = K.Input(shape=(None,), dtype="int32")
    x = K.layers.Embedding(12, 4, mask_zero=True)(tokens)
    x = K.layers.Bidirectional(K.layers.LSTM(3, return_sequences=True))(x)
    x = K.layers.GRU(2)(x)
    out = K.layers.Dense(1, activation="sigmoid")(x)
    ids = rng.integers(1, 12, size=(3, 6))
    ids[0, 4:] = 0
    ids[1, 2:] = 0
    return K.Model(tokens, out), [ids.astype("int32")]


def recurrent_families(K, rng):
    inp = K.Input(shape=(None, 3))
    outs = [
        K.layers.SimpleRNN(3, activation="relu", return_sequences=True)(inp),
        K.layers.LSTM(3, go_backwards=True)(inp),
        K.layers.GRU(3, reset_after=True)(inp),
        K.layers.GRU(3, reset_after=False, use_bias=False)(inp),
    ]
    return K.Model(inp, outs), [_padded(rng, 3, 5, 3)]


def return_state_outputs(K, rng):
    inp = K.Input(shape=(None, 3))
    seq, h, c = K.layers.LSTM(3, return_sequences=True, return_state=True)(inp)
    g, gh = K.layers.GRU(2, return_state=True)(seq)
    return K.Model(inp, [g, gh, h, c]), [rng.normal(size=(2, 4, 3)).astype("float32")]


def nested_and_plain_layers(K, rng):
    # a Sequential inside a functional model, with the plain layers RNN programs use
    inner = K.Sequential(
        [K.Input(shape=(None, 4)), K.layers.LSTM(3, return_sequences=True), K.layers.TimeDistributed(K.layers.Dense(2))],
        name="inner",
    )
    inp = K.Input(shape=(None, 3))
    x = K.layers.Dropout(0.5)(K.layers.Dense(4, activation="relu")(inp))
    x = K.layers.BatchNormalization()(K.layers.LayerNormalization()(inner(x)))
    out = K.layers.Dense(1)(K.layers.SimpleRNN(2)(x))
    return K.Model(inp, out), [rng.normal(size=(3, 5, 3)).astype("float32")]


def conv_attention(K, rng):
    # the layers around RNNs: convolution, pooling, attention over an LSTM's sequence
    inp = K.Input(shape=(None, 3))
    x = K.layers.MaxPooling1D(2)(K.layers.Conv1D(4, 3, padding="same", activation="relu")(inp))
    q = K.layers.LSTM(4, return_sequences=True)(x)
    a = K.layers.Attention()([q, x])
    m = K.layers.MultiHeadAttention(num_heads=2, key_dim=2)(q, x)
    x = K.layers.GlobalAveragePooling1D()(K.layers.Concatenate()([a, m]))
    return K.Model(inp, K.layers.Dense(2)(K.layers.LeakyReLU()(x))), [rng.normal(size=(2, 8, 3)).astype("float32")]


BUILDERS = [
    conv_attention,
    nested_and_plain_layers,
    sequential,
    functional_masking,
    functional_shared,
    functional_initial_state,
    bidirectional_modes,
    stacked_cells_states,
    embedding_mask_zero,
    recurrent_families,
    return_state_outputs,
]


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])

    def fix_variances(layers):  # BatchNormalization's moving variance must stay positive
        for layer in layers:
            fix_variances(getattr(layer, "layers", []))
            if type(layer).__name__ == "BatchNormalization":
                gamma, beta, mean, var = layer.get_weights()
                layer.set_weights([gamma, beta, mean, np.abs(var) + 0.5])

    fix_variances(model.layers)


def _flat(outputs):
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, list | tuple):
        return [leaf for o in outputs for leaf in _flat(o)]
    return [np.asarray(outputs)]


def _predict(model, inputs):
    return _flat(model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0))


def _assert_same(got, want, tol=TOL):
    assert len(got) == len(want), (len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, (i, g.shape, w.shape)
        np.testing.assert_allclose(g, w, atol=tol, rtol=0, err_msg=f"output {i}")


# --------------------------------------------------------------------------- .keras both ways
@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
def test_keras_loads_what_rnnkit_saves(build, tmp_path):
    model, inputs = build(rk, np.random.default_rng(0))
    _randomize(model, 1)
    path = tmp_path / "m.keras"
    assert model.save(path) == "keras"
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert "keras_version" in json.loads(zf.read("metadata.json"))
    reloaded = keras.saving.load_model(path)
    want = _predict(model, inputs)
    _assert_same(_predict(reloaded, inputs), want)
    # and rnnkit reads its own .keras file back
    _assert_same(_predict(load_model(path), inputs), want)


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
def test_rnnkit_loads_what_keras_saves(build, tmp_path):
    model, inputs = build(keras, np.random.default_rng(0))
    _randomize(model, 2)
    path = tmp_path / "k.keras"
    model.save(path)
    reloaded = load_model(path)
    _assert_same(_predict(reloaded, inputs), _predict(model, inputs))


@pytest.mark.parametrize("build", [functional_masking, embedding_mask_zero, stacked_cells_states], ids=lambda f: f.__name__)
def test_keras_file_round_trips_through_rnnkit(build, tmp_path):
    """A Keras file (with its mask op nodes) loaded in rnnkit and saved again still loads in Keras."""
    model, inputs = build(keras, np.random.default_rng(0))
    _randomize(model, 2)
    model.save(tmp_path / "k.keras")
    load_model(tmp_path / "k.keras").save(tmp_path / "again.keras")
    _assert_same(_predict(keras.saving.load_model(tmp_path / "again.keras"), inputs), _predict(model, inputs))


@pytest.mark.parametrize("build", [sequential, functional_masking, bidirectional_modes, stacked_cells_states])
def test_h5_layout_matches_keras(build, tmp_path):
    """The same architecture gives the same datasets (paths and shapes) in both writers."""
    import h5py

    def layout(path):
        found = {}
        with zipfile.ZipFile(path) as zf, h5py.File(__import__("io").BytesIO(zf.read("model.weights.h5"))) as h5:
            h5.visititems(lambda n, o: found.__setitem__(n, o.shape) if isinstance(o, h5py.Dataset) else None)
        return found

    kmodel, _ = build(keras, np.random.default_rng(0))
    rmodel, _ = build(rk, np.random.default_rng(0))
    kmodel.save(tmp_path / "k.keras")
    rmodel.save(tmp_path / "r.keras")
    assert layout(tmp_path / "r.keras") == layout(tmp_path / "k.keras")


@pytest.mark.parametrize("build", [sequential, functional_shared, embedding_mask_zero, stacked_cells_states])
def test_weights_h5_both_ways(build, tmp_path):
    rng = np.random.default_rng(0)
    rmodel, inputs = build(rk, rng)
    kmodel, _ = build(keras, np.random.default_rng(0))
    _randomize(rmodel, 3)
    rmodel.save_weights(tmp_path / "r.weights.h5")
    kmodel.load_weights(tmp_path / "r.weights.h5")
    _assert_same(_predict(kmodel, inputs), _predict(rmodel, inputs))

    _randomize(kmodel, 4)
    kmodel.save_weights(tmp_path / "k.weights.h5")
    rmodel.load_weights(tmp_path / "k.weights.h5")
    _assert_same(_predict(rmodel, inputs), _predict(kmodel, inputs))


def test_compiled_model_reloads_compiled_in_keras(tmp_path):
    model, inputs = sequential(rk, np.random.default_rng(0))
    model.compile(optimizer=rk.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    model.save(tmp_path / "c.keras")
    reloaded = keras.saving.load_model(tmp_path / "c.keras")
    assert type(reloaded.optimizer).__name__ == "Adam"
    assert float(reloaded.optimizer.learning_rate) == pytest.approx(0.01)
    assert reloaded.loss == "mse"


def test_trained_keras_model_loads_compiled(tmp_path):
    model, inputs = sequential(keras, np.random.default_rng(0))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.003), loss="mse", metrics=["mae"])
    y = np.random.default_rng(1).normal(size=(3, 3)).astype("float32")
    model.optimizer.build(model.trainable_variables)
    model.save(tmp_path / "trained.keras")  # holds the optimizer's variables too
    with zipfile.ZipFile(tmp_path / "trained.keras") as zf:
        assert b"optimizer" in zf.read("model.weights.h5")
    reloaded = load_model(tmp_path / "trained.keras")
    _assert_same(_predict(reloaded, inputs), _predict(model, inputs))
    assert type(reloaded.optimizer).__name__ == "RMSprop"
    assert reloaded.optimizer.learning_rate == pytest.approx(0.003)
    reloaded.fit(inputs[0], y, epochs=1, verbose=0)  # and it trains on


_OPTIMIZERS = {
    "adam": lambda K: K.optimizers.Adam(learning_rate=0.01),
    "sgd_momentum": lambda K: K.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "rmsprop": lambda K: K.optimizers.RMSprop(learning_rate=0.01),
}


def _train_data():
    rng = np.random.default_rng(7)
    return rng.normal(size=(8, 5, 3)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")


@pytest.mark.parametrize("opt", sorted(_OPTIMIZERS))
@pytest.mark.parametrize("direction", ["rnnkit_to_keras", "keras_to_rnnkit"])
def test_optimizer_state_travels_in_keras_files(opt, direction, tmp_path):
    """Training continues where it stopped: after reloading, one more step gives what the
    original model's next step gives (a fresh optimizer state would step differently)."""
    src, dst = (rk, keras) if direction == "rnnkit_to_keras" else (keras, rk)
    x, y = _train_data()
    model, _ = sequential(src, np.random.default_rng(0))
    _randomize(model, 8)
    model.compile(optimizer=_OPTIMIZERS[opt](src), loss="mse")
    for i in range(3):
        model.train_on_batch(x[i : i + 2], y[i : i + 2])
    model.save(tmp_path / "t.keras")
    loader = keras.saving.load_model if dst is keras else load_model
    reloaded = loader(tmp_path / "t.keras")
    fresh = loader(tmp_path / "t.keras")
    fresh.compile(optimizer=_OPTIMIZERS[opt](dst), loss="mse")  # same weights, new optimizer
    assert int(reloaded.optimizer.iterations) == 3
    # the state itself: Keras's optimizer variables and rnnkit's torch state, mapped
    kmodel, rmodel = (reloaded, model) if dst is keras else (model, reloaded)
    kvars = [np.asarray(v.numpy()) for v in kmodel.optimizer.variables]
    rvars = keras_optimizer_arrays(rmodel)
    assert len(kvars) == len(rvars) > 2
    for a, b in zip(kvars, rvars):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if opt == "rmsprop":  # Keras divides by sqrt(v + eps), torch by sqrt(v) + eps: steps differ
        return
    for m in (model, reloaded, fresh):
        m.train_on_batch(x[4:6], y[4:6])

    def gap(m):
        return max(float(np.abs(a - b).max()) for a, b in zip(m.get_weights(), model.get_weights()))

    # SGD with momentum is the same algorithm in both; Adam places epsilon differently in torch
    # and Keras, a difference far below what a lost optimizer state makes
    assert gap(reloaded) < (2e-5 if opt == "sgd_momentum" else 1e-3), gap(reloaded)
    assert gap(fresh) > 5 * max(gap(reloaded), 2e-4), (gap(fresh), gap(reloaded))


def test_save_says_which_format(tmp_path):
    model, _ = sequential(rk, np.random.default_rng(0))
    assert model.save(tmp_path / "m.rnnkit") == "rnnkit"
    assert model.save(tmp_path / "m.keras") == "keras"
    assert model.save(tmp_path / "other.zip", format="keras") == "keras"
    with zipfile.ZipFile(tmp_path / "m.rnnkit") as zf:
        assert "model.safetensors" in zf.namelist()
    with pytest.raises(ValueError, match="format must be"):
        model.save(tmp_path / "m.x", format="h5")


# --------------------------------------------------------------------------- op nodes
def test_keras_op_nodes_load(tmp_path):
    """Keras records ops on symbolic tensors as graph nodes; rnnkit rebuilds them."""
    ops = keras.ops
    a = keras.Input((4, 3))
    b = keras.Input((4, 3))
    last = a[:, -1]
    outs = [
        ops.cast(ops.any(ops.not_equal(a, 0.0), axis=-1), "float32"),
        last * 2.0 - b[:, 0] / 4.0,
        ops.cast(a > b, "int32"),
        ops.where(a >= 0, a, -a) ** 2,
        ops.mean(ops.abs(a), axis=1, keepdims=True),
        ops.sum(ops.expand_dims(last, 1), axis=-1),
        ops.concatenate([a[:, 1:3, ...], b[:, :2]], axis=-1),
        ops.transpose(ops.reshape(a, (-1, 12)) + 1.0, (1, 0)),
        ops.max(a, axis=1) + ops.min(b, axis=1),
        ops.softmax(ops.matmul(a, ops.transpose(b, (0, 2, 1))), axis=-1),
        ops.logical_and(a > 0, ops.logical_not(b > 0)),
        ops.logical_or(a > 0, b < 0),
        ops.squeeze(a[:, :1], axis=1),
        ops.all(ops.equal(a, a), axis=1),
        ops.stack([a, b], axis=1),
        (a // 0.5) + (a % 0.5) - ops.negative(b),
        ops.exp(a) + ops.log(ops.abs(a) + 1.0) + ops.sqrt(ops.abs(b)) + ops.square(a),
        ops.tanh(a) * ops.sigmoid(b) + ops.relu(a) + ops.silu(b) + ops.softplus(a) + ops.gelu(b),
        ops.log_softmax(a, axis=1) + ops.erf(b),
        ops.round(a * 3.0) + ops.floor(b) + ops.ceil(a) + ops.sign(b),
        ops.clip(a, -0.5, 0.5) + ops.maximum(a, b) + ops.minimum(a, 0.25),
        ops.var(a, axis=1) + ops.std(b, axis=-1, keepdims=True)[:, :, 0][:, :1],
        ops.prod(a, axis=1) + ops.logsumexp(b, axis=1),
        ops.argmax(a, axis=-1),
        ops.cumsum(a, axis=1),
        ops.flip(a, axis=1),
        ops.tile(a, (1, 2, 1)),
        ops.repeat(a, 2, axis=1),
        ops.take(a, [0, 2], axis=1),
        ops.pad(a, [[0, 0], [1, 0], [0, 2]]),
        ops.norm(a, axis=-1),
        ops.einsum("btf,bsf->bts", a, b),
        # numpy's dot; Keras's torch backend runs matmul for >2-D inputs (its jax one np.dot),
        # so only the cases where the two agree are compared
        ops.dot(a[:, 0], ops.transpose(b[:, 0], (1, 0))),
        ops.ones_like(a) + ops.zeros_like(b),
        ops.reciprocal(ops.abs(a) + 1.0),
    ]
    model = keras.Model([a, b], outs)
    model.save(tmp_path / "ops.keras")
    reloaded = load_model(tmp_path / "ops.keras")
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(3, 4, 3)).astype("float32") for _ in range(2)]
    inputs[0][0, 2] = 0.0
    got, want = _predict(reloaded, inputs), _predict(model, inputs)
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g.astype("float64"), w.astype("float64"), atol=TOL, err_msg=f"output {i}")
    assert len(got) == len(want) == len(outs)


def test_unknown_op_node_names_the_node(tmp_path):
    a = keras.Input((4, 3))
    model = keras.Model(a, keras.ops.arctan2(a, a + 1.0))
    model.save(tmp_path / "u.keras")
    with pytest.raises(ValueError) as err:
        load_model(tmp_path / "u.keras")
    msg = str(err.value)
    assert "Arctan2" in msg and "arctan2" in msg  # the op and the node's name
    assert "custom_objects" not in msg


@rk.saving.register_keras_serializable(package="interop")
def _double(x):
    return x * 2.0


def test_keras_lambda_files(tmp_path):
    """A Keras Lambda of a bytecode lambda is refused (rnnkit runs no code from a file, with
    either safe_mode); a registered named function loads and predicts as Keras does."""
    inp = keras.Input((4, 3))
    keras.Model(inp, keras.layers.Lambda(lambda t: t + 1.0, name="evil")(inp)).save(tmp_path / "l.keras")
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match=r"'evil'.*bytecode") as err:
            load_model(tmp_path / "l.keras", safe_mode=safe_mode)
        assert "custom_objects" in str(err.value)  # passing the function there does help

    def keras_double(t):
        return t * 2.0

    kfn = keras.saving.register_keras_serializable(package="interop", name="_double")(keras_double)
    kmodel = keras.Model(inp, keras.layers.Lambda(kfn, name="double")(inp))
    kmodel.save(tmp_path / "named.keras")
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    _assert_same(_predict(load_model(tmp_path / "named.keras"), [x]), _predict(kmodel, [x]))


# --------------------------------------------------------------------------- Keras 3 mask bug
def test_mask_with_initial_state_is_applied_unlike_keras3():
    """Keras 3.15 drops an Embedding / Masking mask when ``initial_state`` is passed too
    (tf.keras applied it). rnnkit applies it: the masked result equals running the layer on
    the unpadded sequences."""

    def build(K):
        tokens = K.Input(shape=(None,), dtype="int32")
        h = K.Input(shape=(3,))
        c = K.Input(shape=(3,))
        x = K.layers.Embedding(10, 4, mask_zero=True)(tokens)
        return K.Model([tokens, h, c], K.layers.LSTM(3)(x, initial_state=[h, c]))

    rmodel, kmodel = build(rk), build(keras)
    _randomize(kmodel, 5)
    rmodel.set_weights(kmodel.get_weights())
    rng = np.random.default_rng(1)
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 0]], dtype="int32")
    lengths = [3, 4]
    h0, c0 = (rng.normal(size=(2, 3)).astype("float32") for _ in range(2))
    # the masked computation: each sequence run alone without its padding
    want = np.concatenate(
        [rmodel.predict([ids[i : i + 1, :n], h0[i : i + 1], c0[i : i + 1]], verbose=0) for i, n in enumerate(lengths)]
    )
    got = rmodel.predict([ids, h0, c0], verbose=0)
    np.testing.assert_allclose(got, want, atol=TOL)
    keras_out = kmodel.predict([ids, h0, c0], verbose=0)
    assert np.abs(keras_out - want).max() > 1e-2  # Keras 3 ran through the padding


# --------------------------------------------------------------------------- differential test
_ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear", "softsign", "elu"]
_RECURRENT_ACTIVATIONS = ["sigmoid", "hard_sigmoid", "tanh"]


def _random_layer_config(rng):
    kind = str(rng.choice(["SimpleRNN", "LSTM", "GRU"]))
    cfg = {
        "units": int(rng.integers(1, 6)),
        "activation": str(rng.choice(_ACTIVATIONS)),
        "use_bias": bool(rng.random() < 0.8),
        "go_backwards": bool(rng.random() < 0.3),
        "return_sequences": bool(rng.random() < 0.5),
        "return_state": bool(rng.random() < 0.3),
    }
    if kind != "SimpleRNN":
        cfg["recurrent_activation"] = str(rng.choice(_RECURRENT_ACTIVATIONS))
    if kind == "LSTM":
        cfg["unit_forget_bias"] = bool(rng.random() < 0.5)
    if kind == "GRU":
        cfg["reset_after"] = bool(rng.random() < 0.5)
    merge = None
    if rng.random() < 0.35:
        merge = str(rng.choice(["concat", "sum", "mul", "ave"]))
        cfg["return_state"] = False
        cfg["go_backwards"] = False  # Keras 3 refuses Bidirectional(layer(go_backwards=True))
    mask = str(rng.choice(["none", "right", "left", "holes"], p=[0.3, 0.3, 0.2, 0.2]))
    return kind, cfg, merge, mask


def _mask_array(rng, kind, batch, steps):
    if kind == "none":
        return None
    m = np.ones((batch, steps), dtype=bool)
    for i in range(batch):
        n = int(rng.integers(1, steps + 1))
        if kind == "right":
            m[i, n:] = False
        elif kind == "left":
            m[i, : steps - n] = False
        else:
            m[i] = rng.random(steps) < 0.7
            m[i, 0] = True
    return m


def test_random_layer_configurations_match_keras():
    """Seeded random recurrent layers: Keras builds, rnnkit copies the weights; outputs and
    gradients with respect to the inputs agree within float32 tolerance."""
    rng = np.random.default_rng(20261201)
    checked, seen = 0, set()
    for trial in range(40):
        kind, cfg, merge, mask_kind = _random_layer_config(rng)
        seen |= {kind, f"merge={merge}", f"mask={mask_kind}"}
        seen |= {k for k in ("go_backwards", "return_sequences", "return_state") if cfg[k]}
        seen |= {f"use_bias={cfg['use_bias']}", f"reset_after={cfg.get('reset_after')}"}
        batch, steps, features = int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
        x_np = rng.normal(size=(batch, steps, features)).astype("float32")
        mask_np = _mask_array(rng, mask_kind, batch, steps)

        klayer = getattr(keras.layers, kind)(**cfg)
        rlayer = getattr(rk.layers, kind)(**cfg)
        if merge is not None:
            klayer = keras.layers.Bidirectional(klayer, merge_mode=merge)
            rlayer = rk.layers.Bidirectional(rlayer, merge_mode=merge)
        kx = torch.tensor(x_np, requires_grad=True)
        kmask = None if mask_np is None else torch.tensor(mask_np)
        kout = klayer(kx, mask=kmask)
        weights = [rng.normal(scale=0.6, size=w.shape).astype("float32") for w in klayer.get_weights()]
        klayer.set_weights(weights)
        kout = klayer(kx, mask=kmask)
        rx = torch.tensor(x_np, requires_grad=True)
        rlayer.build((None, steps, features))
        rlayer.set_weights(weights)
        rout = rlayer(rx, mask=None if mask_np is None else torch.tensor(mask_np))

        kflat, rflat = _flat_torch(kout), _flat_torch(rout)
        where = f"trial {trial}: {kind}({cfg}), merge={merge}, mask={mask_kind}, x{x_np.shape}"
        assert len(kflat) == len(rflat), where
        for k, r in zip(kflat, rflat):
            np.testing.assert_allclose(r.detach().numpy(), k.detach().numpy(), atol=2e-5, err_msg=where)
        probe = [rng.normal(size=tuple(k.shape)).astype("float32") for k in kflat]
        kgrad = torch.autograd.grad(sum((k * torch.tensor(p)).sum() for k, p in zip(kflat, probe)), kx)[0]
        rgrad = torch.autograd.grad(sum((r * torch.tensor(p)).sum() for r, p in zip(rflat, probe)), rx)[0]
        np.testing.assert_allclose(rgrad.numpy(), kgrad.numpy(), atol=1e-4, err_msg=where)
        checked += 1
    assert checked == 40
    # the seeded draw covers every family, merge mode, mask kind and flag
    wanted = {"SimpleRNN", "LSTM", "GRU", "go_backwards", "return_sequences", "return_state"}
    wanted |= {f"merge={m}" for m in ("None", "concat", "sum", "mul", "ave")}
    wanted |= {f"mask={m}" for m in ("none", "right", "left", "holes")}
    wanted |= {"use_bias=False", "reset_after=False", "reset_after=True"}
    assert wanted <= seen, sorted(wanted - seen)


def _flat_torch(out):
    if isinstance(out, list | tuple):
        return [leaf for o in out for leaf in _flat_torch(o)]
    return [torch.as_tensor(out)]


# --------------------------------------------------------------------------- rnnkit-only content
def test_rnnkit_only_options_warn_and_still_reload(tmp_path):
    inp = rk.Input(shape=(None, 3))
    out = rk.layers.LSTM(2, time_major=True)(inp)
    model = rk.Model(inp, out)
    with pytest.warns(UserWarning, match=r"Keras 3 cannot rebuild.*time_major=True"):
        assert model.save(tmp_path / "tm.keras") == "keras"
    x = np.random.default_rng(0).normal(size=(4, 2, 3)).astype("float32")  # (T, B, F)
    _assert_same(_predict(load_model(tmp_path / "tm.keras"), [x]), _predict(model, [x]))


@rk.saving.register_keras_serializable(package="interop")
class _ScaledTanhCell(rk.layers.Layer):
    """A user cell written with torch ops: Keras cannot run it, rnnkit reloads it."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        h = torch.tanh(inputs @ self.kernel + states[0] @ self.recurrent_kernel) * 0.5
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_custom_cell_keras_file_reloads_in_rnnkit(tmp_path):
    inp = rk.Input(shape=(None, 3))
    model = rk.Model(inp, rk.layers.RNN(_ScaledTanhCell(4))(inp))
    _randomize(model, 6)
    with pytest.warns(UserWarning, match="_ScaledTanhCell"):
        model.save(tmp_path / "custom.keras")
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    _assert_same(_predict(load_model(tmp_path / "custom.keras"), [x]), _predict(model, [x]))
