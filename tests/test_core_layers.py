"""Core layers (Dense, Embedding, Dropout, Masking, ReLU, Activation, Flatten, Reshape,
RepeatVector) against their formulas, masks, configs, weights and errors."""

import numpy as np
import pytest
import torch

from rnnkit.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Masking,
    ReLU,
    RepeatVector,
    Reshape,
)

RNG = np.random.default_rng(0)


def _roundtrip(layer):
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    return clone


# ----------------------------------------------------------------------------- Dense
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (2, 2, 4, 3)])
def test_dense_formula_any_rank(shape):
    layer = Dense(6, activation="tanh", dtype="float64")
    x = RNG.normal(size=shape)
    out = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 6) and bias.shape == (6,)
    bias = RNG.normal(size=6)
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(layer(x).detach().numpy(), np.tanh(x @ kernel + bias), rtol=1e-12)
    assert out.shape == (*shape[:-1], 6) and out.dtype == torch.float64


def test_dense_no_bias_and_int_inputs():
    layer = Dense(2, use_bias=False, kernel_initializer="ones")
    out = layer(torch.tensor([[1, 2, 3]]))
    assert [w.shape for w in layer.get_weights()] == [(3, 2)]
    assert out.tolist() == [[6.0, 6.0]]


def test_dense_mask_passes_through():
    x = torch.ones(2, 3, 4)
    x._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    out = Dense(5)(x)
    assert torch.equal(out._keras_mask, x._keras_mask)


def test_dense_config_roundtrip():
    layer = Dense(
        3,
        activation="relu",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer="l2",
        kernel_constraint="non_neg",
        activity_regularizer="l1",
        name="d",
    )
    cfg = layer.get_config()
    assert cfg["units"] == 3 and cfg["activation"] == "relu" and cfg["use_bias"] is False
    assert cfg["kernel_initializer"]["class_name"] == "HeNormal"
    assert cfg["bias_regularizer"] is None and cfg["kernel_regularizer"]["class_name"] == "L2"
    clone = _roundtrip(layer)
    assert clone.name == "d"
    clone(torch.ones(1, 2))
    assert len(clone.losses) == 2  # kernel L2 + activity L1


def test_dense_errors():
    for bad in (0, -2, 1.5, None):
        with pytest.raises(ValueError, match="units must be a positive integer"):
            Dense(bad)
    layer = Dense(3)
    layer(torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"weight 0 \(kernel\) has shape \(4, 3\)"):
        layer.set_weights([np.zeros((3, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match="expects 2 weights"):
        layer.set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match="last axis 4"):
        layer(torch.ones(1, 5))
    with pytest.raises(ValueError, match="rank >= 2"):
        Dense(2)(torch.ones(3))
    with pytest.raises(NotImplementedError, match="lora"):
        Dense(2, lora_rank=4)
    Dense(2, lora_rank=None, lora_alpha=None, quantization_config=None)  # Keras 3.15 keys


def test_dense_gradients():
    layer = Dense(3)
    x = torch.randn(4, 2, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and layer.kernel.grad is not None and layer.bias.grad is not None


# ----------------------------------------------------------------------------- Embedding
def test_embedding_lookup_and_weights():
    layer = Embedding(10, 4, dtype="float64")
    idx = np.array([[1, 9, 0], [3, 3, 2]])
    out = layer(idx)
    (table,) = layer.get_weights()
    assert table.shape == (10, 4) and np.abs(table).max() <= 0.05
    np.testing.assert_array_equal(out.detach().numpy(), table[idx])
    # float tensors holding integers are accepted, like Keras
    assert torch.equal(layer(torch.tensor(idx, dtype=torch.float32)), out)
    assert getattr(out, "_keras_mask", None) is None


def test_embedding_mask_zero():
    layer = Embedding(5, 2, mask_zero=True)
    out = layer(torch.tensor([[1, 2, 0, 0], [4, 0, 0, 0]]))
    assert out.shape == (2, 4, 2)
    assert out._keras_mask.tolist() == [[True, True, False, False], [True, False, False, False]]
    assert Dense(3)(out)._keras_mask.tolist() == out._keras_mask.tolist()


def test_embedding_out_of_range():
    layer = Embedding(10, 4)
    with pytest.raises(IndexError, match=r"index 10 .*input_dim=10"):
        layer(torch.tensor([[1, 10]]))
    with pytest.raises(IndexError, match=r"index -1 .*input_dim=10"):
        layer(torch.tensor([[-1, 2]]))


def test_embedding_config_and_errors():
    layer = Embedding(7, 3, mask_zero=True, embeddings_regularizer="l2", input_length=5)
    cfg = layer.get_config()
    for key in (
        "input_dim",
        "output_dim",
        "embeddings_initializer",
        "embeddings_regularizer",
        "activity_regularizer",
        "embeddings_constraint",
        "mask_zero",
    ):
        assert key in cfg
    assert "input_length" not in cfg
    assert cfg["embeddings_initializer"]["class_name"] == "RandomUniform"
    clone = _roundtrip(layer)
    assert clone.mask_zero and clone.input_dim == 7
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="output_dim must be a positive integer"):
        Embedding(3, -1)
    with pytest.raises(NotImplementedError):
        Embedding(3, 2, lora_rank=2)


def test_embedding_gradients():
    layer = Embedding(6, 3)
    layer(torch.tensor([[1, 1, 2]])).sum().backward()
    grad = layer.embeddings.grad
    assert grad[1].tolist() == [2.0] * 3 and grad[2].tolist() == [1.0] * 3
    assert grad[0].abs().sum() == 0


# ----------------------------------------------------------------------------- Dropout
def test_dropout_inference_is_identity():
    x = torch.randn(3, 4)
    layer = Dropout(0.5)
    assert torch.equal(layer(x), x)
    assert torch.equal(layer(x, training=False), x)


def test_dropout_training_scales_kept_units():
    torch.manual_seed(0)
    x = torch.ones(200, 50, dtype=torch.float64)
    out = Dropout(0.3, dtype="float64")(x, training=True)
    values = set(np.round(out.unique().numpy(), 12).tolist())
    assert values == {0.0, round(1 / 0.7, 12)}
    assert abs((out == 0).double().mean().item() - 0.3) < 0.02


def test_dropout_module_train_mode_and_mask():
    layer = Dropout(0.5).train()
    x = torch.ones(10, 20)
    x._keras_mask = torch.ones(10, dtype=torch.bool)
    out = layer(x)
    assert (out == 0).any()
    assert out._keras_mask is x._keras_mask


def test_dropout_seed_and_noise_shape():
    x = torch.ones(4, 6, 5)
    a = Dropout(0.5, seed=3)(x, training=True)
    b = Dropout(0.5, seed=3)(x, training=True)
    assert torch.equal(a, b)
    out = Dropout(0.5, noise_shape=(None, 1, 5), seed=1)(x, training=True)
    assert torch.equal(out, out[:, :1, :].expand_as(out))  # same mask at every step
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=(None, 1))(x, training=True)


def test_dropout_errors_config_gradients():
    for bad in (-0.1, 1.0, 1.5, "0.5", None):
        with pytest.raises(ValueError, match=r"rate must be a float in \[0, 1\)"):
            Dropout(bad)
    layer = Dropout(0.25, noise_shape=(None, 1, 3), seed=7)
    cfg = _roundtrip(layer).get_config()
    assert cfg["rate"] == 0.25 and cfg["noise_shape"] == [None, 1, 3] and cfg["seed"] == 7
    x = torch.ones(8, 8, requires_grad=True)
    out = Dropout(0.5)(x, training=True)
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())


# ----------------------------------------------------------------------------- Masking
def test_masking_zeroes_and_masks():
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]], [[0.0, 0.0], [5.0, 5.0], [0.0, 0.0]]])
    out = Masking()(x)
    expected_mask = np.any(x != 0.0, axis=-1)
    np.testing.assert_array_equal(out._keras_mask.numpy(), expected_mask)
    np.testing.assert_array_equal(out.numpy(), x * expected_mask[..., None])

    y = x.copy()
    y[0, 1] = -1.0
    layer = Masking(mask_value=-1.0)
    out = layer(y)
    assert out._keras_mask.tolist() == [[True, False, True], [True, True, True]]
    assert out[0, 1].tolist() == [0.0, 0.0]
    assert Dense(2)(out)._keras_mask.tolist() == out._keras_mask.tolist()
    assert _roundtrip(layer).mask_value == -1.0


# ----------------------------------------------------------------------------- ReLU / Activation
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_value": 1.5},
        {"negative_slope": 0.1},
        {"threshold": 0.5},
        {"max_value": 2.0, "negative_slope": 0.2, "threshold": 0.5},
    ],
)
def test_relu_formula(kwargs):
    x = np.linspace(-3, 3, 25)
    mv, ns, th = (
        kwargs.get("max_value"),
        kwargs.get("negative_slope", 0.0),
        kwargs.get("threshold", 0.0),
    )
    expected = np.where(x > th, x, ns * (x - th))
    if mv is not None:
        expected = np.where(x > th, np.minimum(expected, mv), expected)
    layer = ReLU(dtype="float64", **kwargs)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12, atol=1e-12)
    assert _roundtrip(layer).get_config()["max_value"] == (None if mv is None else float(mv))


def test_relu_errors():
    with pytest.raises(ValueError, match="max_value must be a non-negative"):
        ReLU(max_value=-1)
    with pytest.raises(ValueError, match="negative_slope must be a non-negative"):
        ReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="threshold must be a non-negative"):
        ReLU(threshold=None)


def test_activation_layer():
    x = np.linspace(-2, 2, 9)
    layer = Activation("tanh", dtype="float64")
    np.testing.assert_allclose(layer(x).numpy(), np.tanh(x), rtol=1e-12)
    assert _roundtrip(layer).get_config()["activation"] == "tanh"
    t = torch.ones(2, 3, 1)
    t._keras_mask = torch.tensor([[True, False, True]] * 2)
    assert torch.equal(Activation("relu")(t)._keras_mask, t._keras_mask)
    with pytest.raises(ValueError, match="Unknown activation"):
        Activation("nope")


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("shape", [(2,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_flatten(shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    out = Flatten()(x)
    np.testing.assert_array_equal(out.numpy(), x.reshape(shape[0], -1))


def test_flatten_channels_first_and_config():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    layer = Flatten(data_format="channels_first")
    np.testing.assert_array_equal(layer(x).numpy(), x.transpose(0, 2, 1).reshape(2, -1))
    assert _roundtrip(layer).data_format == "channels_first"
    assert Flatten().compute_output_shape((None, 3, 4)) == (None, 12)
    with pytest.raises(ValueError, match="data_format"):
        Flatten(data_format="nchw")


def test_reshape():
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    np.testing.assert_array_equal(Reshape((3, 4))(x).numpy(), x.reshape(2, 3, 4))
    np.testing.assert_array_equal(Reshape((-1, 2))(x).numpy(), x.reshape(2, 6, 2))
    layer = Reshape([2, -1, 3])
    assert layer(x).shape == (2, 2, 2, 3)
    assert _roundtrip(layer).target_shape == (2, -1, 3)
    assert layer.compute_output_shape((None, 12)) == (None, 2, 2, 3)
    with pytest.raises(ValueError, match=r"cannot reshape .*\(5,\)"):
        Reshape((5,))(x)
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape((-1, -1))


def test_repeat_vector():
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    layer = RepeatVector(3)
    out = layer(x)
    np.testing.assert_array_equal(out.numpy(), np.repeat(x[:, None, :], 3, axis=1))
    assert _roundtrip(layer).n == 3
    with pytest.raises(ValueError, match="rank 2"):
        layer(np.zeros((2, 3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        RepeatVector(0)
