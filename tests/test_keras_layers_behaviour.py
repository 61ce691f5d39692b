"""Masks, errors, randomness statistics, Lambda's loading rules and save / load for the layers
around recurrent ones (conv, pooling, reshaping, activation, noise, attention)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.saving import register_keras_serializable

F64 = "float64"


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _masked(x, mask):
    x = x.clone()
    x._keras_mask = mask
    return x


MASK = torch.tensor([[True, True, True, False], [True, False, False, False]])


# ----------------------------------------------------------------------------- masks
@pytest.mark.parametrize(
    "factory",
    [
        lambda: layers.LeakyReLU(dtype=F64),
        lambda: layers.PReLU(dtype=F64),
        lambda: layers.ELU(dtype=F64),
        lambda: layers.SpatialDropout1D(0.5, dtype=F64),
        lambda: layers.GaussianNoise(0.1, dtype=F64),
        lambda: layers.GaussianDropout(0.1, dtype=F64),
    ],
)
def test_elementwise_layers_pass_the_mask(factory):
    x = _masked(_x(2, 4, 4), MASK)
    out = factory()(x)
    assert torch.equal(out._keras_mask, MASK)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: layers.Conv1D(2, 2, padding="same", dtype=F64),
        lambda: layers.MaxPooling1D(dtype=F64),
        lambda: layers.AveragePooling1D(2, dtype=F64),
        lambda: layers.GlobalAveragePooling1D(dtype=F64),
        lambda: layers.GlobalMaxPooling1D(dtype=F64),
        lambda: layers.Flatten(dtype=F64),
        lambda: layers.Permute((2, 1), dtype=F64),
        lambda: layers.ZeroPadding1D(dtype=F64),
        lambda: layers.Cropping1D((1, 1), dtype=F64),
        lambda: layers.UpSampling1D(dtype=F64),
    ],
)
def test_shape_changing_layers_drop_the_mask(factory):
    out = factory()(_masked(_x(2, 4, 4), MASK))
    assert getattr(out, "_keras_mask", None) is None


def test_softmax_uses_a_broadcastable_mask_and_passes_it_on():
    x = _x(2, 3, 4)
    mask = torch.tensor([[[True, True, False, True]], [[False, True, True, True]]])  # (2, 1, 4)
    out = layers.Softmax(dtype=F64)(_masked(x, mask))
    assert torch.all(out[0, :, 2] == 0) and torch.all(out[1, :, 0] == 0)
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    assert out._keras_mask is mask
    with pytest.raises(ValueError, match="broadcast"):  # (B, T) mask on (B, T, F): Keras refuses too
        layers.Softmax()(_masked(x, torch.ones(2, 3, dtype=torch.bool)))


def test_global_average_pooling_consumes_the_mask_global_max_ignores_it():
    x = _x(2, 4, 3)
    avg = layers.GlobalAveragePooling1D(dtype=F64)(_masked(x, MASK))
    want = torch.stack([x[0, :3].mean(0), x[1, :1].mean(0)])
    torch.testing.assert_close(avg, want)
    mx = layers.GlobalMaxPooling1D(dtype=F64)(_masked(x, MASK))
    torch.testing.assert_close(mx, x.amax(1))  # as Keras: padded steps take part


def test_masked_embedding_into_global_average_pooling_ignores_padding():
    emb = layers.Embedding(10, 3, mask_zero=True, dtype=F64)
    ids = torch.tensor([[4, 2, 0, 0], [7, 0, 0, 0]])
    pooled = layers.GlobalAveragePooling1D(dtype=F64)(emb(ids))
    table = emb.embeddings.detach()
    torch.testing.assert_close(pooled, torch.stack([table[[4, 2]].mean(0), table[7]]))


def test_attention_masks_and_output_mask():
    q, v = _masked(_x(2, 4, 3), MASK), _masked(_x(2, 4, 3, seed=1), MASK)
    out, scores = layers.Attention(dtype=F64)([q, v], return_attention_scores=True)
    assert torch.equal(out._keras_mask, MASK)  # the query mask is passed on
    assert torch.all(out[~MASK] == 0)  # masked query steps are zeroed
    assert torch.all(scores[1, :, 1:] < 1e-300)  # masked value steps get no weight
    torch.testing.assert_close(scores.sum(-1), torch.ones(2, 4, dtype=torch.float64))


def test_multi_head_attention_value_mask_from_keras_mask_and_causal():
    layer = layers.MultiHeadAttention(2, 3, dtype=F64)
    q = _x(2, 4, 5)
    v = _masked(_x(2, 4, 5, seed=1), MASK)
    _, scores = layer(q, v, return_attention_scores=True)
    assert torch.all(scores[1, :, :, 1:] == 0) and torch.all(scores[0, :, :, 3] == 0)
    _, causal = layer(q, q, use_causal_mask=True, return_attention_scores=True)
    assert torch.all(torch.triu(causal[0, 0], diagonal=1) == 0)
    fast = layer(q, q, use_causal_mask=True)  # fused SDPA path == einsum path
    layer.dropout = 0.5  # einsum path (inference: nothing dropped)
    torch.testing.assert_close(fast, layer(q, q, use_causal_mask=True))
    out = layer(_masked(q, MASK), v)
    assert torch.equal(out._keras_mask, MASK)


# ----------------------------------------------------------------------------- randomness
def test_noise_layers_are_identity_at_inference():
    x = _x(3, 5, 4)
    for layer in (
        layers.SpatialDropout1D(0.5, seed=1, dtype=F64),
        layers.GaussianNoise(0.5, seed=1, dtype=F64),
        layers.GaussianDropout(0.5, seed=1, dtype=F64),
    ):
        assert torch.equal(layer(x), x) and torch.equal(layer(x, training=False), x)


def test_spatial_dropout_drops_whole_channels_at_the_rate():
    layer = layers.SpatialDropout1D(0.3, seed=3, dtype=F64)
    out = layer(torch.ones(400, 6, 50, dtype=torch.float64), training=True)
    assert torch.all(out == out[:, :1])  # one draw per (sample, channel), shared over time
    kept = (out[:, 0] != 0).double()
    assert abs(kept.mean().item() - 0.7) < 0.01
    values = out.unique()
    assert len(values) == 2 and values[0] == 0 and abs(values[1].item() - 1 / 0.7) < 1e-12


def test_gaussian_noise_and_dropout_statistics_and_seed():
    x = torch.full((200_000,), 2.0, dtype=torch.float64)
    noisy = layers.GaussianNoise(0.3, seed=5, dtype=F64)(x, training=True)
    assert abs(noisy.mean().item() - 2.0) < 0.005 and abs(noisy.std().item() - 0.3) < 0.005
    mult = layers.GaussianDropout(0.2, seed=5, dtype=F64)(x, training=True)
    assert abs(mult.mean().item() - 2.0) < 0.01
    assert abs(mult.std().item() - 2.0 * (0.2 / 0.8) ** 0.5) < 0.01
    a = layers.GaussianNoise(0.3, seed=9, dtype=F64)(x[:10], training=True)
    b = layers.GaussianNoise(0.3, seed=9, dtype=F64)(x[:10], training=True)
    assert torch.equal(a, b)  # same seed, same noise


def test_attention_dropout_only_in_training():
    layer = layers.Attention(dropout=0.5, seed=0, dtype=F64)
    q, v = _x(2, 4, 3), _x(2, 5, 3, seed=1)
    _, w = layer([q, v], return_attention_scores=True)
    a = layer([q, v])
    torch.testing.assert_close(a, w @ v)
    assert not torch.allclose(layer([q, v], training=True), a)


# ----------------------------------------------------------------------------- arguments
def test_leaky_relu_keras2_alpha_spelling():
    with pytest.warns(UserWarning, match="alpha"):
        layer = layers.LeakyReLU(alpha=0.2)
    assert layer.negative_slope == 0.2 and "alpha" not in layer.get_config()
    assert layers.LeakyReLU().negative_slope == 0.3  # Keras's layer default
    out = layer(torch.tensor([-1.0, 1.0]))
    torch.testing.assert_close(out, torch.tensor([-0.2, 1.0]))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.Conv1D(0, 3), "filters"),
        (lambda: layers.Conv1D(4, 3, groups=3), "divisible by groups"),
        (lambda: layers.Conv1D(4, 3, strides=2, dilation_rate=2), "dilation_rate"),
        (lambda: layers.Conv2D(4, 3, padding="causal"), "padding"),
        (lambda: layers.SeparableConv1D(4, 3, padding="causal"), "padding"),
        (lambda: layers.Conv1D(4, (3, 3)), "kernel_size"),
        (lambda: layers.MaxPooling1D(0), "pool_size"),
        (lambda: layers.Conv1D(2, 2, data_format="NHWC"), "data_format"),
        (lambda: layers.Permute((1, 3)), "permutation"),
        (lambda: layers.UpSampling1D(0), "size"),
        (lambda: layers.LeakyReLU(-1.0), "negative_slope"),
        (lambda: layers.GaussianNoise(2.0), "stddev"),
        (lambda: layers.GaussianDropout(1.0), "rate"),
        (lambda: layers.Attention(score_mode="general"), "score_mode"),
        (lambda: layers.MultiHeadAttention(0, 2), "num_heads"),
        (lambda: layers.MultiHeadAttention(2, 2, attention_axes=(1, 2)), "attention_axes"),
        (lambda: layers.Lambda("x"), "callable"),
    ],
)
def test_bad_arguments_raise_before_computing(make, match):
    with pytest.raises((ValueError, NotImplementedError), match=match):
        make()


@pytest.mark.parametrize(
    "layer, x, match",
    [
        (layers.Conv1D(2, 3), torch.zeros(2, 5), "rank 3"),
        (layers.Conv1D(2, 3), torch.zeros(2, 2, 4), "shorter than the dilated kernel"),
        (layers.MaxPooling1D(4), torch.zeros(1, 3, 2), "smaller than pool_size"),
        (layers.Cropping1D((2, 2)), torch.zeros(1, 4, 2), "removes all"),
        (layers.GlobalAveragePooling1D(), torch.zeros(2, 3), "rank 3"),
        (layers.Permute((2, 1)), torch.zeros(2, 3, 4, 5), "rank 3"),
    ],
)
def test_bad_inputs_raise_clear_errors(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)


def test_conv_wrong_channel_count_after_build():
    layer = layers.Conv1D(2, 2)
    layer(torch.zeros(1, 4, 3))
    with pytest.raises(ValueError, match="3 input channels"):
        layer(torch.zeros(1, 4, 5))


def test_attention_needs_a_list():
    with pytest.raises(ValueError, match=r"\[query, value\]"):
        layers.Attention()(torch.zeros(1, 2, 3))


def test_conv_kernel_layout_is_keras_and_torch_view_matches_conv1d():
    layer = layers.Conv1D(5, 3, dtype=F64)
    x = _x(2, 7, 4)
    out = layer(x)
    assert layer.kernel.shape == (3, 4, 5)
    w = layers.conv.keras_kernel_to_torch(layer.kernel)
    want = torch.nn.functional.conv1d(x.transpose(1, 2), w, layer.bias).transpose(1, 2)
    torch.testing.assert_close(out, want)


# ----------------------------------------------------------------------------- Lambda
@register_keras_serializable(package="rnnkit_tests")
def mean_over_time(x):
    return x.mean(dim=1)


def test_lambda_with_registered_function_saves_and_loads(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input((4, 3)), layers.Lambda(mean_over_time), layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    want = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "m.rnnkit")
    model.save(path)
    # A named, registered function loads in either safe_mode, as in Keras (Keras's safe_mode
    # guards bytecode lambdas, which rnnkit refuses in both modes: see the next test).
    for safe_mode in (True, False):
        loaded = rnnkit.saving.load_model(path, safe_mode=safe_mode)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-6)


def test_lambda_holding_a_python_lambda_is_refused_on_load():
    layer = layers.Lambda(lambda x: x * 2, name="double")
    cfg = layers.serialize(layer)
    assert cfg["config"]["function"]["class_name"] == "__lambda__"
    assert cfg["config"]["function"]["config"]["code"] is None  # no bytecode written
    with pytest.raises(ValueError, match="never executes code"):
        layers.deserialize(cfg)
    with pytest.raises(ValueError, match="never executes code"):
        layers.Lambda.from_config(cfg["config"], safe_mode=False)
    # the user may hand the function over, keyed by the layer's name
    again = layers.deserialize(cfg, custom_objects={"double": lambda x: x * 2})
    assert again(torch.ones(2)).tolist() == [2.0, 2.0]


def test_lambda_from_a_real_keras_config_with_bytecode_is_refused():
    keras = pytest.importorskip("keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = keras.saving.serialize_keras_object(keras.layers.Lambda(lambda x: x + 1))
    assert cfg["config"]["function"]["config"]["code"]  # Keras wrote bytecode
    with pytest.raises(ValueError, match="never executes code"):
        layers.deserialize(cfg)


def test_lambda_unknown_named_function_is_not_imported():
    cfg = {"class_name": "Lambda", "config": {"name": "l", "function": {
        "module": "os", "class_name": "function", "config": "system", "registered_name": "system"}}}
    with pytest.raises(ValueError, match="does not import it"):
        layers.deserialize(cfg)


# ----------------------------------------------------------------------------- save / load
def test_cnn_lstm_model_saves_and_loads(tmp_path):
    model = rnnkit.Sequential(
        [
            rnnkit.Input((12, 3)),
            layers.Conv1D(8, 3, padding="causal", activation="relu"),
            layers.MaxPooling1D(2),
            layers.SeparableConv1D(6, 2, padding="same"),
            layers.LeakyReLU(0.1),
            layers.SpatialDropout1D(0.2),
            layers.LSTM(5, return_sequences=True),
            layers.Conv1D(4, 1),
            layers.GlobalAveragePooling1D(),
            layers.Dense(2),
        ]
    )
    x = np.random.default_rng(1).normal(size=(3, 12, 3)).astype("float32")
    want = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "cnn_lstm.rnnkit")
    model.save(path)
    loaded = rnnkit.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert [type(a).__name__ for a in loaded.layers] == [type(a).__name__ for a in model.layers]


def test_functional_attention_model_saves_and_loads(tmp_path):
    q_in, v_in = rnnkit.Input((5, 4)), rnnkit.Input((6, 4))
    attended = layers.MultiHeadAttention(2, 3)(q_in, v_in)
    mixed = layers.Attention(use_scale=True)([attended, v_in])
    out = layers.Dense(1)(layers.GlobalMaxPooling1D()(mixed))
    model = rnnkit.Model([q_in, v_in], out)
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(2, 5, 4)).astype("float32"), rng.normal(size=(2, 6, 4)).astype("float32")]
    want = model.predict(xs, verbose=0)
    path = os.path.join(tmp_path, "attn.rnnkit")
    model.save(path)
    loaded = rnnkit.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(xs, verbose=0), want, rtol=1e-5, atol=1e-6)
