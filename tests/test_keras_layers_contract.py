"""The layer contract (tests/layer_contract.py) for every convolution, pooling, reshaping,
activation, noise, attention and Lambda layer."""

from __future__ import annotations

import pytest
import torch

from rnnkit import layers
from rnnkit.saving import register_keras_serializable

from .layer_contract import run_layer_test

F64 = "float64"
B, T, C = 2, 8, 4


def _x(*shape, seed=7):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


X = _x(B, T, C)
X2 = _x(B, 6, 5, 3)
X3 = _x(1, 4, 4, 4, 2)
Q, V = _x(B, 5, C, seed=1), _x(B, 6, C, seed=2)
MASK = torch.tensor([[True] * T, [True] * 5 + [False] * 3])


@register_keras_serializable(package="rnnkit_tests")
def last_step(x):
    return x[:, -1]


# name: (factory, inputs, expected output shapes, number of weights, call kwargs)
CASES = {
    "conv1d": (lambda: layers.Conv1D(3, 3, dtype=F64), X, [(B, 6, 3)], 2, {}),
    "conv1d_causal_dilated": (
        lambda: layers.Conv1D(3, 3, padding="causal", dilation_rate=2, dtype=F64), X, [(B, T, 3)], 2, {}
    ),
    "conv1d_same_strided_groups": (
        lambda: layers.Conv1D(6, 3, strides=2, padding="same", groups=2, dtype=F64), X,
        [(B, 4, 6)], 2, {},
    ),
    "conv1d_channels_first_nobias": (
        lambda: layers.Conv1D(2, 2, use_bias=False, data_format="channels_first", dtype=F64),
        X, [(B, 2, 3)], 1, {},
    ),
    "conv2d": (lambda: layers.Conv2D(2, (3, 2), padding="same", dtype=F64), X2, [(B, 6, 5, 2)], 2, {}),
    "conv3d": (lambda: layers.Conv3D(2, 2, dtype=F64), X3, [(1, 3, 3, 3, 2)], 2, {}),
    "separable_conv1d": (
        lambda: layers.SeparableConv1D(5, 3, depth_multiplier=2, dtype=F64), X, [(B, 6, 5)], 3, {}
    ),
    "separable_conv2d": (
        lambda: layers.SeparableConv2D(2, 2, strides=2, dtype=F64), X2, [(B, 3, 2, 2)], 3, {}
    ),
    "max_pooling1d": (lambda: layers.MaxPooling1D(dtype=F64), X, [(B, 4, C)], 0, {}),
    "average_pooling1d_same": (
        lambda: layers.AveragePooling1D(3, strides=2, padding="same", dtype=F64), X, [(B, 4, C)], 0, {}
    ),
    "max_pooling2d": (lambda: layers.MaxPooling2D(dtype=F64), X2, [(B, 3, 2, 3)], 0, {}),
    "average_pooling2d": (lambda: layers.AveragePooling2D(2, dtype=F64), X2, [(B, 3, 2, 3)], 0, {}),
    "max_pooling3d": (lambda: layers.MaxPooling3D(dtype=F64), X3, [(1, 2, 2, 2, 2)], 0, {}),
    "average_pooling3d": (lambda: layers.AveragePooling3D(2, dtype=F64), X3, [(1, 2, 2, 2, 2)], 0, {}),
    "global_average_pooling1d_mask": (
        lambda: layers.GlobalAveragePooling1D(dtype=F64), X, [(B, C)], 0, {"mask": MASK}
    ),
    "global_max_pooling1d_keepdims": (
        lambda: layers.GlobalMaxPooling1D(keepdims=True, dtype=F64), X, [(B, 1, C)], 0, {}
    ),
    "global_average_pooling2d": (lambda: layers.GlobalAveragePooling2D(dtype=F64), X2, [(B, 3)], 0, {}),
    "global_max_pooling2d": (lambda: layers.GlobalMaxPooling2D(dtype=F64), X2, [(B, 3)], 0, {}),
    "global_average_pooling3d": (lambda: layers.GlobalAveragePooling3D(dtype=F64), X3, [(1, 2)], 0, {}),
    "global_max_pooling3d": (lambda: layers.GlobalMaxPooling3D(dtype=F64), X3, [(1, 2)], 0, {}),
    "flatten_4d": (lambda: layers.Flatten(dtype=F64), X2, [(B, 90)], 0, {}),
    "reshape": (lambda: layers.Reshape((-1, 2), dtype=F64), X, [(B, 16, 2)], 0, {}),
    "permute": (lambda: layers.Permute((2, 1), dtype=F64), X, [(B, C, T)], 0, {}),
    "repeat_vector": (lambda: layers.RepeatVector(3, dtype=F64), X[:, 0], [(B, 3, C)], 0, {}),
    "zero_padding1d": (lambda: layers.ZeroPadding1D((1, 2), dtype=F64), X, [(B, T + 3, C)], 0, {}),
    "cropping1d": (lambda: layers.Cropping1D((1, 2), dtype=F64), X, [(B, T - 3, C)], 0, {}),
    "up_sampling1d": (lambda: layers.UpSampling1D(3, dtype=F64), X, [(B, 3 * T, C)], 0, {}),
    "leaky_relu": (lambda: layers.LeakyReLU(0.1, dtype=F64), X, [(B, T, C)], 0, {}),
    "prelu_shared": (
        lambda: layers.PReLU(alpha_initializer="ones", shared_axes=[1], dtype=F64), X, [(B, T, C)], 1, {}
    ),
    "elu": (lambda: layers.ELU(0.5, dtype=F64), X, [(B, T, C)], 0, {}),
    "softmax_mask": (lambda: layers.Softmax(dtype=F64), X, [(B, T, C)], 0,
                     {"mask": torch.tensor([True, False, True, True])}),
    "spatial_dropout1d": (lambda: layers.SpatialDropout1D(0.3, seed=1, dtype=F64), X, [(B, T, C)], 0, {}),
    "gaussian_noise": (lambda: layers.GaussianNoise(0.2, seed=1, dtype=F64), X, [(B, T, C)], 0, {}),
    "gaussian_dropout": (lambda: layers.GaussianDropout(0.2, seed=1, dtype=F64), X, [(B, T, C)], 0, {}),
    "attention": (lambda: layers.Attention(dtype=F64), [Q, V], [(B, 5, C)], 0, {}),
    "attention_scale_concat_scores": (
        lambda: layers.Attention(use_scale=True, score_mode="concat", dtype=F64), [Q, V, V * 2],
        [(B, 5, C), (B, 5, 6)], 2, {"return_attention_scores": True},
    ),
    "additive_attention_causal": (
        lambda: layers.AdditiveAttention(dtype=F64), [Q, Q], [(B, 5, C)], 1, {"use_causal_mask": True}
    ),
    "multi_head_attention": (
        lambda: layers.MultiHeadAttention(2, 3, dtype=F64), Q, [(B, 5, C)], 8, {"value": V}
    ),
    "multi_head_attention_gate_scores": (
        lambda: layers.MultiHeadAttention(2, 3, value_dim=2, use_gate=True, output_shape=5, dtype=F64),
        Q, [(B, 5, 5), (B, 2, 5, 6)], 10, {"value": V, "return_attention_scores": True},
    ),
    "lambda_named_function": (
        lambda: layers.Lambda(last_step, dtype=F64), X, [(B, C)], 0, {}
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_contract(name):
    factory, inputs, shapes, n_weights, kwargs = CASES[name]
    run_layer_test(factory, inputs, shapes, n_weights, call_kwargs=kwargs)


@register_keras_serializable(package="rnnkit_tests")
def detached(x):
    return x.detach() * 2


def test_weightless_contract_can_fail():
    """The weightless branch catches an input that no gradient reaches."""
    with pytest.raises(AssertionError, match="no gradient reached input 0"):
        run_layer_test(lambda: layers.Lambda(detached, dtype=F64), X, [(B, T, C)], 0)
    with pytest.raises(AssertionError, match="output shapes"):
        run_layer_test(lambda: layers.MaxPooling1D(dtype=F64), X, [(B, T, C)], 0)
