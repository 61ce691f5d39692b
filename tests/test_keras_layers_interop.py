"""Keras 3 ``.keras`` files holding the layers around RNNs load in rnnkit and predict as Keras.

Real Keras 3.15 (torch backend, a test dependency) builds and saves each model; rnnkit reads the
config (class names resolved by ``rnnkit.layers.deserialize``) and the h5 weights (matched by
Keras's attribute paths, e.g. ``multi_head_attention/query_dense/vars/0``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from rnnkit.saving import load_model  # noqa: E402

L = keras.layers


def _cnn_lstm():
    return keras.Sequential(
        [
            keras.Input((16, 3)),
            L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu"),
            L.MaxPooling1D(2, padding="same"),
            L.SeparableConv1D(5, 3, padding="same", depth_multiplier=2),
            L.LeakyReLU(negative_slope=0.1),
            L.PReLU(shared_axes=[1]),
            L.SpatialDropout1D(0.2),
            L.ZeroPadding1D((1, 0)),
            L.Cropping1D((0, 1)),
            L.UpSampling1D(2),
            L.LSTM(4, return_sequences=True),
            L.AveragePooling1D(3, strides=2, padding="same"),
            L.GlobalAveragePooling1D(),
            L.GaussianNoise(0.1),
            L.Dense(3),
            L.ELU(),
            L.Softmax(),
        ]
    )


def _attention():
    q, v = keras.Input((5, 6)), keras.Input((7, 6))
    h = L.MultiHeadAttention(2, 3, value_dim=4)(q, v)
    h = L.Attention(use_scale=True)([h, v])
    h = L.AdditiveAttention()([h, v])
    h = L.Permute((2, 1))(h)
    h = L.GlobalMaxPooling1D()(h)
    return keras.Model([q, v], L.Dense(2)(h))


def _conv2d():
    return keras.Sequential(
        [
            keras.Input((9, 8, 2)),
            L.Conv2D(4, 3, strides=2, padding="same", activation="tanh"),
            L.MaxPooling2D(padding="same"),
            L.AveragePooling2D(1),
            L.Flatten(),
            L.RepeatVector(2),
            L.Reshape((-1,)),
            L.Dense(2),
        ]
    )


@pytest.mark.parametrize("build", [_cnn_lstm, _attention, _conv2d])
def test_keras_file_with_conv_pool_attention_layers_predicts_like_keras(tmp_path, build):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras.utils.set_random_seed(0)
        model = build()
        for i, w in enumerate(model.weights):  # non-trivial PReLU slopes / biases
            w.assign(np.random.default_rng(i).normal(size=w.shape) * 0.3)
        rng = np.random.default_rng(1)
        xs = [rng.normal(size=(2, *i.shape[1:])).astype("float32") for i in model.inputs]
        want = np.asarray(model.predict(xs if len(xs) > 1 else xs[0], verbose=0))
        path = os.path.join(tmp_path, "m.keras")
        model.save(path)
    loaded = load_model(path)
    got = loaded.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    # float32 through up to 17 layers on two different kernels (the float64 numbers are checked
    # to 1e-8 by tests/test_keras_layers_fixtures.py); this checks loading, not rounding
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=2e-4)


def test_rnnkit_model_with_these_layers_saves_a_keras_file_keras_loads(tmp_path):
    import rnnkit
    from rnnkit import layers as R

    q_in, v_in = rnnkit.Input((5, 4)), rnnkit.Input((6, 4))
    h = R.Conv1D(4, 3, padding="same", activation="relu")(q_in)
    h = R.MultiHeadAttention(2, 3)(h, v_in)
    h = R.AdditiveAttention()([h, v_in])
    h = R.MaxPooling1D(2, padding="same")(h)
    out = R.Dense(2)(R.GlobalAveragePooling1D()(R.LeakyReLU(0.2)(h)))
    model = rnnkit.Model([q_in, v_in], out)
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(2, 5, 4)).astype("float32"), rng.normal(size=(2, 6, 4)).astype("float32")]
    want = model.predict(xs, verbose=0)
    path = os.path.join(tmp_path, "from_rnnkit.keras")
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = keras.models.load_model(path)
        got = np.asarray(theirs.predict(xs, verbose=0))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
