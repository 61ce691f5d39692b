"""Merge layers: formulas, broadcasting, Keras 3 mask rules, configs, errors and gradients."""

import numpy as np
import pytest
import torch

from rnnkit.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)

RNG = np.random.default_rng(2)

FORMULAS = {
    Add: lambda xs: sum(xs),
    Average: lambda xs: sum(xs) / len(xs),
    Multiply: lambda xs: np.prod(np.stack(xs), axis=0),
    Maximum: lambda xs: np.max(np.stack(xs), axis=0),
    Minimum: lambda xs: np.min(np.stack(xs), axis=0),
}


@pytest.mark.parametrize("cls", list(FORMULAS))
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_elementwise_formulas(cls, shape, n):
    xs = [RNG.normal(size=shape) for _ in range(n)]
    out = cls(dtype="float64")(xs)
    np.testing.assert_allclose(out.numpy(), FORMULAS[cls](xs), rtol=1e-12)


def test_subtract_and_input_count():
    a, b = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    np.testing.assert_allclose(Subtract(dtype="float64")([a, b]).numpy(), a - b, rtol=1e-12)
    with pytest.raises(ValueError, match="exactly 2 input"):
        Subtract()([a, b, a])
    with pytest.raises(ValueError, match="exactly 2 input"):
        Subtract()([a])
    with pytest.raises(ValueError, match="at least 1 input"):
        Add()([])


def test_broadcasting_and_shape_errors():
    a, b = torch.ones(2, 3, 4), torch.full((2, 4), 2.0)  # rank 2 -> (2, 1, 4)
    assert Add()([a, b]).shape == (2, 3, 4) and Add()([a, b])[0, 0, 0] == 3.0
    assert Add().compute_output_shape([(None, 3, 4), (None, 4)]) == (None, 3, 4)
    with pytest.raises(ValueError, match="incompatible shapes"):
        Add()([torch.ones(2, 3), torch.ones(2, 4)])
    with pytest.raises(ValueError, match="different batch sizes"):
        Multiply()([torch.ones(2, 3), torch.ones(3, 3)])
    with pytest.raises(ValueError, match="expects a list of tensors"):
        Add()(torch.ones(2, 3))


def test_concatenate_axes():
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 3, 5))
    np.testing.assert_array_equal(
        Concatenate(dtype="float64")([a, b]).numpy(), np.concatenate([a, b], axis=-1)
    )
    c = RNG.normal(size=(2, 1, 4))
    np.testing.assert_array_equal(
        Concatenate(axis=1, dtype="float64")([a, c]).numpy(), np.concatenate([a, c], axis=1)
    )
    assert Concatenate(axis=1).compute_output_shape([(None, 3, 4), (None, 1, 4)]) == (None, 4, 4)
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        Concatenate(axis=1)([a, b])
    with pytest.raises(ValueError, match="one rank"):
        Concatenate()([a, np.zeros((2, 3))])


def test_configs_roundtrip():
    for layer in (
        Concatenate(axis=1, name="cat"),
        Add(),
        Subtract(),
        Multiply(),
        Average(),
        Maximum(),
        Minimum(),
    ):
        cfg = layer.get_config()
        clone = type(layer).from_config(cfg)
        assert clone.get_config() == cfg
    assert Concatenate(axis=1).get_config()["axis"] == 1


def _masked(x, mask):
    t = torch.as_tensor(x, dtype=torch.float32)
    t._keras_mask = torch.tensor(mask)
    return t


M1 = [[True, True, False], [True, False, False]]
M2 = [[True, False, False], [True, True, True]]


def test_elementwise_masks_or_when_all_masked():
    a, b = _masked(np.ones((2, 3, 2)), M1), _masked(np.ones((2, 3, 2)), M2)
    for cls in (Add, Subtract, Average, Multiply, Maximum, Minimum):
        out = cls()([a, b])
        assert out._keras_mask.tolist() == (np.array(M1) | np.array(M2)).tolist(), cls
        assert getattr(cls()([a, torch.ones(2, 3, 2)]), "_keras_mask", None) is None


def test_multiply_and_extrema_ignore_masked_entries():
    x = np.arange(1.0, 7.0).reshape(2, 3, 1)
    y = np.full((2, 3, 1), 10.0)
    a, b = _masked(x, M1), _masked(y, M2)
    m1, m2 = np.array(M1)[..., None], np.array(M2)[..., None]
    prod = np.where(m1, x, 1.0) * np.where(m2, y, 1.0)
    np.testing.assert_array_equal(Multiply()([a, b]).numpy(), np.where(m1 | m2, prod, 0.0))
    # Maximum: a masked entry takes the other input's value; all-masked takes the first's
    other = np.where(m2, y, x)
    first = np.where(m1, x, other)
    np.testing.assert_array_equal(Maximum()([a, b]).numpy(), np.maximum(first, other))
    np.testing.assert_array_equal(Minimum()([a, b]).numpy(), np.minimum(first, other))


def test_concatenate_masks():
    a, b = _masked(np.ones((2, 3, 2)), M1), _masked(np.ones((2, 3, 2)), M2)
    # time axis: masks joined
    out = Concatenate(axis=1)([a, b])
    assert out._keras_mask.tolist() == [m1 + m2 for m1, m2 in zip(M1, M2)]
    out = Concatenate(axis=1)([a, torch.ones(2, 2, 2)])
    assert out._keras_mask.tolist() == [m + [True, True] for m in M1]
    # feature axis: Keras 3 reduces with any() -> OR of the masks
    out = Concatenate()([a, b])
    assert out._keras_mask.tolist() == (np.array(M1) | np.array(M2)).tolist()
    assert getattr(Concatenate()([torch.ones(2, 2), torch.ones(2, 2)]), "_keras_mask", None) is None


def test_gradients_flow():
    for cls in (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate):
        a = torch.randn(2, 3, requires_grad=True)
        b = torch.randn(2, 3, requires_grad=True)
        cls()([a, b]).sum().backward()
        assert a.grad is not None and b.grad is not None, cls
