"""Regularizer and constraint values against Keras's formulas, and config round trips."""

import pytest
import torch

from rnnkit import constraints as C
from rnnkit import regularizers as R
from rnnkit.saving.object_registry import register_keras_serializable

W = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, -4.0]], dtype=torch.float64)
EPS = 1e-7


def test_regularizer_values():
    abs_sum, sq_sum = W.abs().sum().item(), (W**2).sum().item()
    assert R.L1()(W).item() == pytest.approx(0.01 * abs_sum)
    assert R.L2()(W).item() == pytest.approx(0.01 * sq_sum)
    assert R.L1(0.3)(W).item() == pytest.approx(0.3 * abs_sum)
    assert R.L2(l2=0.2)(W).item() == pytest.approx(0.2 * sq_sum)
    both = R.L1L2(l1=0.1, l2=0.05)(W)
    assert both.dim() == 0 and both.dtype == torch.float64
    assert both.item() == pytest.approx(0.1 * abs_sum + 0.05 * sq_sum)
    assert R.L1L2()(W).item() == 0.0
    assert R.Regularizer()(W).item() == 0.0


def test_regularizer_gradient():
    w = W.clone().requires_grad_(True)
    R.L1L2(l1=0.1, l2=0.5)(w).backward()
    torch.testing.assert_close(w.grad, 0.1 * torch.sign(W) + 2 * 0.5 * W)


def _ortho_expected(w, factor, mode):
    m = w if mode == "rows" else w.T
    rows = [r / max(r.norm().item(), EPS**0.5) for r in m]
    n = len(rows)
    total = sum(abs(float(rows[i] @ rows[j])) for i in range(n) for j in range(n) if i != j)
    return factor * 0.5 * total / (n * (n - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer(mode):
    w = torch.tensor([[1.0, 2.0], [0.5, -1.0], [3.0, 0.2]], dtype=torch.float64)
    got = R.OrthogonalRegularizer(0.2, mode)(w).item()
    assert got == pytest.approx(_ortho_expected(w, 0.2, mode))
    assert R.OrthogonalRegularizer(1.0)(torch.eye(4)).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="2-D"):
        R.OrthogonalRegularizer()(torch.ones(2, 2, 2))
    with pytest.raises(ValueError, match="mode"):
        R.OrthogonalRegularizer(mode="diagonal")


REG_NAMES = {"l1": R.L1, "l2": R.L2, "l1_l2": R.L1L2, "L1": R.L1, "L2": R.L2, "L1L2": R.L1L2,
             "orthogonal_regularizer": R.OrthogonalRegularizer}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REG_NAMES))
def test_regularizer_get_and_round_trip(name):
    obj = R.get(name)
    assert type(obj) is REG_NAMES[name]
    d = R.serialize(obj)
    assert d["module"] == "keras.regularizers" and d["class_name"] == type(obj).__name__
    back = R.deserialize(d)
    assert type(back) is type(obj) and back.get_config() == obj.get_config()
    assert R.get(obj) is obj


def test_regularizer_keras_dicts_and_errors():
    d = {"module": "keras.regularizers", "class_name": "L1L2",
         "config": {"l1": 0.0, "l2": 0.001}, "registered_name": None}  # fmt: skip
    obj = R.get(d)
    assert (obj.l1, obj.l2) == (0.0, 0.001)
    assert R.serialize(obj) == d
    assert R.get({"class_name": "L2", "config": {"l2": 0.5}}).l2 == 0.5
    assert R.L1(None).l1 == 0.01 and R.L1L2(None, None).l2 == 0.0
    assert R.get(None) is None
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'.*l1_l2"):
        R.get("l3")
    with pytest.raises(ValueError, match="Could not interpret regularizer"):
        R.get(0.5)
    with pytest.raises(ValueError, match="non-negative float.*l2=-1"):
        R.L2(-1)
    with pytest.raises(ValueError, match="l1="):
        R.L1("big")
    with pytest.raises(TypeError, match="torch tensor"):
        R.L2()([1.0, 2.0])


def test_custom_regularizer():
    @register_keras_serializable(package="test_reg")
    class Sum(R.Regularizer):
        def __call__(self, x):
            return x.sum()

    d = R.serialize(Sum())
    assert d["registered_name"] == "test_reg>Sum"
    assert isinstance(R.get(d), Sum) and isinstance(R.get("test_reg>Sum"), Sum)


def _norms(w, axis):
    return torch.sqrt((w**2).sum(dim=axis, keepdim=True))


@pytest.mark.parametrize("axis", [0, 1, [0, 1]])
def test_max_norm(axis):
    dim = tuple(axis) if isinstance(axis, list) else axis
    n = _norms(W, dim)
    expected = W * (n.clamp(0, 2.0) / (EPS + n))
    torch.testing.assert_close(C.MaxNorm(2.0, axis=axis)(W), expected)
    out = C.MaxNorm(1.5, axis=axis)(W)
    assert (_norms(out, dim) <= 1.5 + 1e-6).all()


def test_max_norm_keeps_small_slices():
    w = torch.tensor([[0.3, 3.0], [0.4, 4.0]], dtype=torch.float64)
    out = C.MaxNorm(2)(w)
    torch.testing.assert_close(out[:, 0], w[:, 0] * 0.5 / (0.5 + EPS))
    torch.testing.assert_close(out[:, 1], w[:, 1] * 2 / (5 + EPS))


def test_non_neg_and_unit_norm():
    assert torch.equal(C.NonNeg()(W), W.clamp_min(0.0))
    for axis in (0, 1):
        out = C.UnitNorm(axis=axis)(W)
        torch.testing.assert_close(out, W / (EPS + _norms(W, axis)))
        torch.testing.assert_close(_norms(out, axis), torch.ones_like(_norms(W, axis)))


@pytest.mark.parametrize("rate", [1.0, 0.5, 0.0])
def test_min_max_norm(rate):
    n = _norms(W, 0)
    desired = rate * n.clamp(1.0, 3.0) + (1 - rate) * n
    expected = W * (desired / (EPS + n))
    torch.testing.assert_close(C.MinMaxNorm(1.0, 3.0, rate=rate)(W), expected)
    with pytest.raises(ValueError, match="min_value <= max_value"):
        C.MinMaxNorm(2.0, 1.0)


CON_NAMES = {"max_norm": C.MaxNorm, "non_neg": C.NonNeg, "unit_norm": C.UnitNorm,
             "min_max_norm": C.MinMaxNorm, "MaxNorm": C.MaxNorm, "NonNeg": C.NonNeg,
             "UnitNorm": C.UnitNorm, "MinMaxNorm": C.MinMaxNorm}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CON_NAMES))
def test_constraint_get_and_round_trip(name):
    obj = C.get(name)
    assert type(obj) is CON_NAMES[name]
    d = C.serialize(obj)
    assert d["module"] == "keras.constraints" and d["class_name"] == type(obj).__name__
    back = C.deserialize(d)
    assert type(back) is type(obj) and back.get_config() == obj.get_config()
    assert C.get(obj) is obj


def test_constraint_keras_dicts_and_errors():
    d = {"module": "keras.constraints", "class_name": "MaxNorm",
         "config": {"max_value": 3.0, "axis": 0}, "registered_name": None}  # fmt: skip
    obj = C.get(d)
    assert (obj.max_value, obj.axis) == (3.0, 0)
    assert C.serialize(obj) == d
    mm_config = {"min_value": 0.5, "max_value": 2.0, "rate": 0.5, "axis": [0, 1]}
    mm = C.get({"class_name": "MinMaxNorm", "config": mm_config})
    assert mm.get_config() == {"min_value": 0.5, "max_value": 2.0, "rate": 0.5, "axis": [0, 1]}
    assert C.get(None) is None
    with pytest.raises(ValueError, match="Unknown constraint 'maxnorm'.*max_norm"):
        C.get("maxnorm")
    with pytest.raises(ValueError, match="Could not interpret constraint"):
        C.get(2)
    with pytest.raises(TypeError, match="axis"):
        C.UnitNorm(axis="rows")
    with pytest.raises(TypeError, match="torch tensor"):
        C.NonNeg()([1.0])
    fn = torch.abs
    assert C.get(fn) is fn
