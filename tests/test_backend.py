"""``rnnkit.backend`` (Keras 2's ``K``) against ``tf_keras.backend`` 2.21: the numbers in
tests/fixtures/backend_tf_keras.{npz,json}, written by scripts/make_backend_fixtures.py in an
environment with TensorFlow (this one needs none)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import backend as K
from rnnkit import layers

_HERE = os.path.join(os.path.dirname(__file__), "fixtures", "backend_tf_keras")
META = json.load(open(_HERE + ".json"))
ARRAYS = dict(np.load(_HERE + ".npz", allow_pickle=False))
W, U = ARRAYS["W"], ARRAYS["U"]


def _dec(v):
    if isinstance(v, dict) and "array" in v:
        return torch.as_tensor(ARRAYS[v["array"]])
    if isinstance(v, dict) and "tuple" in v:
        return tuple(_dec(e) for e in v["tuple"])
    if isinstance(v, list):
        return [_dec(e) for e in v]
    return v


def _expected(v):
    if isinstance(v, dict) and "array" in v:
        return ARRAYS[v["array"]]
    if isinstance(v, dict) and "value" in v:
        return v["value"]
    return [_expected(e) for e in v]


def _compare(got, want, where):
    if isinstance(want, list):
        got = list(got)
        assert len(got) == len(want), where
        for g, w in zip(got, want):
            _compare(g, w, where)
        return
    if not isinstance(want, np.ndarray):
        assert got == want, (where, got, want)
        return
    g = K.get_value(got) if isinstance(got, torch.Tensor) else np.asarray(got)
    assert g.shape == want.shape, (where, g.shape, want.shape)
    assert g.dtype == want.dtype, (where, g.dtype, want.dtype)
    np.testing.assert_allclose(g.astype("float64"), want.astype("float64"), rtol=1e-5, atol=1e-6, err_msg=where)


CASES = [c for c in META["cases"] if c["fn"] != "rnn"]
RNN_CASES = [c for c in META["cases"] if c["fn"] == "rnn"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['fn']}-{i}" for i, c in enumerate(CASES)])
def test_function_as_tf_keras_backend(case):
    got = getattr(K, case["fn"])(*_dec(case["args"]), **{k: _dec(v) for k, v in case["kwargs"].items()})
    _compare(got, _expected(case["out"]), case["fn"])


def _simple_step(x, states):  # the fixture script's STEPS["simple"], in rnnkit's K
    h = K.tanh(K.dot(x, K.constant(W)) + K.dot(states[0], K.constant(U)))
    return h, [h]


def _step_with_constant(x, states):  # STEPS["constant"]
    h_prev, c = states[0], states[1]
    h = K.tanh(K.dot(x, K.constant(W)) + K.dot(h_prev, K.constant(U)) + c)
    return h * 2.0, [h]


STEPS = {"simple": _simple_step, "constant": _step_with_constant}


@pytest.mark.parametrize("case", RNN_CASES, ids=[f"{c['step']}-{'-'.join(c['kwargs'])}" for c in RNN_CASES])
def test_rnn_as_tf_keras_backend(case):
    kwargs = {k: _dec(v) for k, v in case["kwargs"].items()}
    last, outputs, states = K.rnn(STEPS[case["step"]], torch.as_tensor(ARRAYS["X"]),
                                  [torch.as_tensor(ARRAYS["H0"])], **kwargs)
    _compare([last, outputs, states], _expected(case["out"]), "rnn")


def test_rnn_time_major_and_last_output_only():
    x = torch.as_tensor(ARRAYS["X"])
    h0 = [torch.as_tensor(ARRAYS["H0"])]
    last, outs, _ = K.rnn(_simple_step, x, h0)
    last_tm, outs_tm, _ = K.rnn(_simple_step, x.transpose(0, 1), h0, time_major=True)
    torch.testing.assert_close(last_tm, last)
    torch.testing.assert_close(outs_tm, outs.transpose(0, 1))
    _, only_last, _ = K.rnn(_simple_step, x, h0, return_all_outputs=False)
    torch.testing.assert_close(only_last, last.unsqueeze(1))


def test_a_tf_keras_cell_with_K_runs_after_the_import_swap():
    """The tutorial's custom-cell idiom (``K.dot`` / ``K.bias_add``, the Keras RNN guide's
    MinimalRNNCell) with ``from rnnkit import backend as K``, trained by fit."""

    class MinimalRNNCell(layers.Layer):
        def __init__(self, units, **kwargs):
            self.units = units
            self.state_size = units
            super().__init__(**kwargs)

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
            self.built = True

        def call(self, inputs, states):
            prev_output = states[0]
            h = K.bias_add(K.dot(inputs, self.kernel), self.bias)
            output = h + K.dot(prev_output, self.recurrent_kernel)
            return output, [output]

    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([rnnkit.Input((5, 3)), layers.RNN(MinimalRNNCell(4)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(32, 5, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    hist = model.fit(x, y, epochs=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_configuration_and_values():
    assert K.floatx() == "float32" and K.epsilon() == 1e-7 and K.image_data_format() == "channels_last"
    K.set_epsilon(1e-5)
    try:
        assert K.epsilon() == 1e-5
    finally:
        K.set_epsilon(1e-7)
    v = K.variable(np.ones((2, 2)))
    assert isinstance(v, rnnkit.Variable) and v.requires_grad and K.dtype(v) == "float32"
    K.set_value(v, np.full((2, 2), 3.0))
    np.testing.assert_array_equal(K.get_value(v), np.full((2, 2), 3.0, "float32"))
    assert K.is_keras_tensor(rnnkit.Input((3,))) and not K.is_keras_tensor(v)
    assert K.in_train_phase(lambda: 1, lambda: 2, training=True) == 1 and K.in_train_phase(1, 2) == 2
    d = K.dropout(torch.ones(1000), 0.5, seed=1)
    assert set(np.unique(K.get_value(d))) <= {0.0, 2.0} and 300 < int((d > 0).sum()) < 700
    with pytest.raises(ValueError, match=r"level must be in \[0, 1\), received 1.0"):
        K.dropout(torch.ones(3), 1.0)
    with pytest.raises(ValueError, match="cannot sum over the batch axis"):
        K.batch_dot(torch.ones(2, 3), torch.ones(2, 3), axes=0)
