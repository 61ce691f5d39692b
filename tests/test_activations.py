"""Activation functions against their formulas, and name/serialization round trips."""

import math

import pytest
import torch

from rnnkit import activations
from rnnkit.saving.object_registry import register_keras_serializable

X = torch.linspace(-7.0, 7.0, 57, dtype=torch.float64)


def _sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def _softplus(v):
    return math.log1p(math.exp(v))


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805

FORMULAS = {
    "tanh": math.tanh,
    "sigmoid": _sig,
    "hard_sigmoid": lambda v: min(max(v / 6.0 + 0.5, 0.0), 1.0),
    "relu": lambda v: max(v, 0.0),
    "elu": lambda v: v if v > 0 else math.exp(v) - 1.0,
    "selu": lambda v: SELU_SCALE * (v if v > 0 else SELU_ALPHA * (math.exp(v) - 1.0)),
    "linear": lambda v: v,
    "softplus": _softplus,
    "softsign": lambda v: v / (abs(v) + 1.0),
    "silu": lambda v: v * _sig(v),
    "swish": lambda v: v * _sig(v),
    "gelu": lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))),
    "exponential": math.exp,
    "hard_silu": lambda v: v * min(max(v / 6.0 + 0.5, 0.0), 1.0),
    "hard_swish": lambda v: v * min(max(v / 6.0 + 0.5, 0.0), 1.0),
    "leaky_relu": lambda v: v if v >= 0 else 0.2 * v,
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "mish": lambda v: v * math.tanh(_softplus(v)),
    "celu": lambda v: max(v, 0.0) + min(0.0, math.exp(v) - 1.0),
    "log_sigmoid": lambda v: math.log(_sig(v)),
    "hard_tanh": lambda v: min(max(v, -1.0), 1.0),
    "tanh_shrink": lambda v: v - math.tanh(v),
    "hard_shrink": lambda v: v if abs(v) > 0.5 else 0.0,
    "soft_shrink": lambda v: v - 0.5 if v > 0.5 else (v + 0.5 if v < -0.5 else 0.0),
    "squareplus": lambda v: (v + math.sqrt(v * v + 4.0)) / 2.0,
}


def _expect(fn, x=X):
    return torch.tensor([fn(v) for v in x.tolist()], dtype=x.dtype)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_elementwise_against_formula(name):
    out = activations.get(name)(X)
    assert out.dtype == X.dtype and out.shape == X.shape
    torch.testing.assert_close(out, _expect(FORMULAS[name]), rtol=1e-9, atol=1e-12)


def test_hard_sigmoid_is_keras3_not_keras2():
    x = torch.tensor([-3.0, -2.5, 0.0, 1.0, 2.5, 3.0])
    expected = torch.tensor([0.0, 1 / 12, 0.5, 4 / 6, 11 / 12, 1.0])
    torch.testing.assert_close(activations.hard_sigmoid(x), expected)
    # Keras 2's 0.2 * x + 0.5 would give 0.0 at -2.5 and 1.0 at 2.5.
    assert activations.hard_sigmoid(torch.tensor(2.5)).item() < 0.99


def _keras_relu(v, negative_slope=0.0, max_value=None, threshold=0.0):
    if v > threshold:
        return v if max_value is None else min(v, max_value)
    return negative_slope * (v - threshold)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"negative_slope": 0.1},
        {"max_value": 6.0},
        {"max_value": 2.5},
        {"threshold": 1.0},
        {"negative_slope": 0.3, "threshold": -1.0},
        {"negative_slope": 0.2, "max_value": 4.0, "threshold": 0.5},
    ],
)
def test_relu_arguments(kwargs):
    expected = _expect(lambda v: _keras_relu(v, **kwargs))
    torch.testing.assert_close(activations.relu(X, **kwargs), expected)


def test_parametrised_variants():
    torch.testing.assert_close(
        activations.elu(X, alpha=0.5), _expect(lambda v: v if v > 0 else 0.5 * math.expm1(v))
    )
    torch.testing.assert_close(
        activations.leaky_relu(X, negative_slope=0.01), _expect(lambda v: v if v > 0 else 0.01 * v)
    )
    tanh_gelu = 0.5 * X * (1 + torch.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X**3)))
    torch.testing.assert_close(activations.gelu(X, approximate=True), tanh_gelu)


def test_softmax_and_log_softmax():
    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    e = torch.exp(x)
    torch.testing.assert_close(activations.softmax(x), e / e.sum(-1, keepdim=True))
    torch.testing.assert_close(activations.softmax(x, axis=0), e / e.sum(0, keepdim=True))
    torch.testing.assert_close(activations.log_softmax(x), torch.log(e / e.sum(-1, keepdim=True)))


def test_glu():
    x = torch.tensor([[1.0, 2.0, 0.5, -1.0]])
    expected = torch.tensor([[1.0 * _sig(0.5), 2.0 * _sig(-1.0)]])
    torch.testing.assert_close(activations.glu(x), expected)
    with pytest.raises(ValueError, match="even"):
        activations.glu(torch.ones(3))


def test_gradients_flow():
    x = X.clone().requires_grad_(True)
    activations.get("tanh")(x).sum().backward()
    torch.testing.assert_close(x.grad, 1 - torch.tanh(X) ** 2)


@pytest.mark.parametrize("name", sorted(activations._BY_NAME))
def test_name_round_trip(name):
    fn = activations.get(name)
    assert callable(fn)
    text = activations.serialize(fn)
    assert isinstance(text, str)
    assert activations.deserialize(text) is fn
    assert activations.get_name(fn) == text


def test_aliases_and_none():
    assert activations.get(None) is activations.linear
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize(activations.hard_swish) == "hard_silu"
    assert activations.get("swish") is activations.silu
    assert activations.get(activations.tanh) is activations.tanh


def test_keras_function_dict_and_custom_function():
    d = {"module": "keras.activations", "class_name": "function", "config": "tanh",
         "registered_name": "function"}  # fmt: skip
    assert activations.get(d) is activations.tanh

    def cube(x):
        return x**3

    assert activations.deserialize("cube", custom_objects={"cube": cube}) is cube
    assert activations.get(cube) is cube
    assert activations.get_name(cube) == "cube"

    @register_keras_serializable(package="test_act")
    def quad(x):
        return x**4

    assert activations.serialize(quad) == "test_act>quad"
    assert activations.get("test_act>quad") is quad
    reg = {"module": "builtins", "class_name": "function", "config": "quad",
           "registered_name": "test_act>quad"}  # fmt: skip
    assert activations.deserialize(reg) is quad


def test_errors():
    with pytest.raises(ValueError, match="Unknown activation 'tanhh'.*sigmoid"):
        activations.get("tanhh")
    with pytest.raises(ValueError, match="Could not interpret activation"):
        activations.get(3)
    with pytest.raises(TypeError, match="str or dict"):
        activations.deserialize(3)
    with pytest.raises(ValueError, match="named activation"):
        activations.get_name(lambda x: x)
