"""Losses against their formulas written out in numpy (float64), plus Keras's documented numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import losses
from rnnkit.saving import register_keras_serializable

EPS = 1e-7
RNG = np.random.default_rng(0)


def t(x):
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def probs(*shape):
    return RNG.uniform(0.02, 0.98, size=shape)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------- references
def ref_bce(y, p, from_logits=False, ls=0.0):
    y = y * (1 - ls) + 0.5 * ls
    if from_logits:
        p = 1 / (1 + np.exp(-p))
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1)


def ref_cce(y, p, from_logits=False, ls=0.0):
    y = y * (1 - ls) + ls / y.shape[-1]
    p = softmax(p) if from_logits else np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(y * np.log(p)).sum(-1)


def ref_huber(y, p, d=1.0):
    e = np.abs(p - y)
    return np.where(e <= d, 0.5 * e**2, d * e - 0.5 * d**2).mean(-1)


def ref_hinge_labels(y):
    return 2 * y - 1 if np.isin(y, [0, 1]).all() else y


def ref_cos(y, p):
    yn = y / np.sqrt(np.maximum((y**2).sum(-1, keepdims=True), 1e-12))
    pn = p / np.sqrt(np.maximum((p**2).sum(-1, keepdims=True), 1e-12))
    return -(yn * pn).sum(-1)


REFS = {
    "mean_squared_error": lambda y, p: ((y - p) ** 2).mean(-1),
    "mean_absolute_error": lambda y, p: np.abs(y - p).mean(-1),
    "mean_absolute_percentage_error": lambda y, p: 100
    * np.abs((y - p) / np.maximum(np.abs(y), EPS)).mean(-1),
    "mean_squared_logarithmic_error": lambda y, p: (
        (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2
    ).mean(-1),
    "huber": ref_huber,
    "log_cosh": lambda y, p: np.log(np.cosh(p - y)).mean(-1),
    "binary_crossentropy": ref_bce,
    "categorical_crossentropy": ref_cce,
    "kl_divergence": lambda y, p: (
        np.clip(y, EPS, 1) * np.log(np.clip(y, EPS, 1) / np.clip(p, EPS, 1))
    ).sum(-1),
    "poisson": lambda y, p: (p - y * np.log(p + EPS)).mean(-1),
    "hinge": lambda y, p: np.maximum(1 - ref_hinge_labels(y) * p, 0).mean(-1),
    "squared_hinge": lambda y, p: (np.maximum(1 - ref_hinge_labels(y) * p, 0) ** 2).mean(-1),
    "categorical_hinge": lambda y, p: np.maximum(
        ((1 - y) * p).max(-1) - (y * p).sum(-1) + 1, 0
    ),
    "cosine_similarity": ref_cos,
}


@pytest.mark.parametrize("name", sorted(REFS))
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_functions_match_formulas(name, shape):
    if name in ("binary_crossentropy", "hinge", "squared_hinge"):
        y = RNG.integers(0, 2, size=shape).astype(np.float64)
    elif name in ("categorical_crossentropy", "categorical_hinge"):
        y = np.eye(shape[-1])[RNG.integers(0, shape[-1], size=shape[:-1])]
    else:
        y = probs(*shape)
    p = probs(*shape) if name != "cosine_similarity" else RNG.normal(size=shape)
    got = losses.get(name)(t(y), t(p))
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got.numpy(), REFS[name](y, p), rtol=1e-6, atol=1e-9)


def test_aliases_are_the_functions():
    assert losses.mse is losses.mean_squared_error
    for short, long in [("mae", "mean_absolute_error"), ("mape", "mean_absolute_percentage_error"),
                        ("msle", "mean_squared_logarithmic_error"), ("kld", "kl_divergence")]:
        assert losses.get(short) is losses.get(long)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_binary_crossentropy_logits_and_smoothing(from_logits, ls):
    y = RNG.integers(0, 2, size=(6, 4)).astype(np.float64)
    p = RNG.normal(size=(6, 4)) * 3 if from_logits else probs(6, 4)
    got = losses.binary_crossentropy(t(y), t(p), from_logits=from_logits, label_smoothing=ls)
    np.testing.assert_allclose(got.numpy(), ref_bce(y, p, from_logits, ls), rtol=1e-6)
    loss = losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=ls)
    assert loss(t(y), t(p)).item() == pytest.approx(ref_bce(y, p, from_logits, ls).mean())


def test_binary_crossentropy_extreme_logits_are_finite():
    p = torch.tensor([[1000.0, -1000.0]], dtype=torch.float64, requires_grad=True)
    loss = losses.BinaryCrossentropy(from_logits=True)(torch.tensor([[0.0, 1.0]]), p)
    loss.backward()
    assert loss.item() == pytest.approx(1000.0) and torch.isfinite(p.grad).all()


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_categorical_crossentropy_logits_and_smoothing(from_logits, ls):
    y = np.eye(5)[RNG.integers(0, 5, size=7)]
    p = RNG.normal(size=(7, 5)) if from_logits else probs(7, 5)
    got = losses.categorical_crossentropy(t(y), t(p), from_logits=from_logits, label_smoothing=ls)
    np.testing.assert_allclose(got.numpy(), ref_cce(y, p, from_logits, ls), rtol=1e-6)


def test_categorical_crossentropy_axis():
    y = np.eye(4)[RNG.integers(0, 4, size=3)]
    p = probs(3, 4)
    got = losses.categorical_crossentropy(t(y.T), t(p.T), axis=0)
    np.testing.assert_allclose(got.numpy(), ref_cce(y, p), rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_shapes(from_logits):
    labels = RNG.integers(0, 4, size=6)
    p = RNG.normal(size=(6, 4)) if from_logits else probs(6, 4)
    want = ref_cce(np.eye(4)[labels], p, from_logits)
    for y in (labels, labels.reshape(6, 1), labels.astype(np.float32), labels.reshape(6, 1) * 1.0):
        got = losses.sparse_categorical_crossentropy(torch.as_tensor(y), t(p), from_logits)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    # (B, T) targets against (B, T, C) outputs
    labels = RNG.integers(0, 4, size=(2, 5))
    p = probs(2, 5, 4)
    got = losses.SparseCategoricalCrossentropy(reduction="none")(torch.as_tensor(labels), t(p))
    np.testing.assert_allclose(got.numpy(), ref_cce(np.eye(4)[labels], p), rtol=1e-6)


def test_sparse_categorical_crossentropy_ignore_class():
    labels = np.array([[0, 2, -1], [1, -1, -1]])
    p = probs(2, 3, 3)
    per = ref_cce(np.eye(3)[np.where(labels < 0, 0, labels)], p)
    valid = labels >= 0
    fn = losses.sparse_categorical_crossentropy(torch.as_tensor(labels), t(p), ignore_class=-1)
    np.testing.assert_allclose(fn.numpy(), np.where(valid, per, 0.0), rtol=1e-6)
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    assert loss(torch.as_tensor(labels), t(p)).item() == pytest.approx(per[valid].mean())


def test_keras_documented_numbers():
    y, p = [[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]
    assert losses.BinaryCrossentropy()(y, p).item() == pytest.approx(0.81492, abs=1e-4)
    total = losses.BinaryCrossentropy(reduction="sum")(y, p).item()
    assert total == pytest.approx(1.6298, abs=1e-3)
    assert losses.BinaryCrossentropy()(y, p, sample_weight=[1, 0]).item() == pytest.approx(
        0.458, abs=1e-3)
    np.testing.assert_allclose(
        losses.BinaryCrossentropy(reduction="none")(y, p).numpy(), [0.916, 0.714], atol=1e-3)
    y3, p3 = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    assert losses.CategoricalCrossentropy()(y3, p3).item() == pytest.approx(1.177, abs=1e-3)
    assert losses.CategoricalCrossentropy()(y3, p3, sample_weight=[0.3, 0.7]).item() == \
        pytest.approx(0.814, abs=1e-3)
    assert losses.SparseCategoricalCrossentropy()([1, 2], p3).item() == pytest.approx(
        1.177, abs=1e-3)
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(torch.tensor([1, 2]), torch.tensor(p3)).numpy(),
        [0.0513, 2.3026], atol=1e-3)
    assert losses.Huber()(y, p).item() == pytest.approx(0.155, abs=1e-3)
    assert losses.LogCosh()(y, [[1.0, 1.0], [0.0, 0.0]]).item() == pytest.approx(0.108, abs=1e-3)


def test_reductions_and_sample_weight():
    y, p = probs(4, 3, 2), probs(4, 3, 2)
    per = ((y - p) ** 2).mean(-1)  # (4, 3)
    w = RNG.uniform(size=4)
    mse = losses.MeanSquaredError
    assert mse()(t(y), t(p)).item() == pytest.approx(per.mean())
    assert mse(reduction="mean")(t(y), t(p)).item() == pytest.approx(per.mean())
    assert mse(reduction="sum")(t(y), t(p)).item() == pytest.approx(per.sum())
    np.testing.assert_allclose(mse(reduction=None)(t(y), t(p)).numpy(), per)
    # (B,) weights scale whole samples; sum_over_batch_size divides by the element count
    weighted = per * w[:, None]
    assert mse()(t(y), t(p), sample_weight=t(w)).item() == pytest.approx(weighted.sum() / 12)
    assert mse()(t(y), t(p), sample_weight=t(w[:, None])).item() == pytest.approx(
        weighted.sum() / 12)
    np.testing.assert_allclose(mse(reduction="none")(t(y), t(p), t(w)).numpy(), weighted)
    got = mse(reduction="mean_with_sample_weight")(t(y), t(p), t(w)).item()
    assert got == pytest.approx(weighted.sum() / (3 * w.sum()))
    w2 = RNG.uniform(size=(4, 3))
    assert mse()(t(y), t(p), t(w2)).item() == pytest.approx((per * w2).sum() / 12)


def test_mask_averages_over_unmasked_entries():
    y, p = probs(2, 5, 1), probs(2, 5, 1)
    per = ((y - p) ** 2)[..., 0]
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    got = losses.MeanSquaredError()(t(y), t(p), mask=torch.as_tensor(mask)).item()
    assert got == pytest.approx(per[mask].mean())


def test_shape_handling_b_vs_b1():
    y, p = probs(5), probs(5, 1)
    want = ref_bce(y[:, None], p)
    for yt, yp in ((y, p), (y[:, None], p), (y[:, None], p[:, 0])):
        got = losses.binary_crossentropy(t(yt), t(yp))
        np.testing.assert_allclose(got.numpy().reshape(-1), want, rtol=1e-6)
        assert losses.BinaryCrossentropy()(t(yt), t(yp)).item() == pytest.approx(want.mean())
    # (B, T) targets against (B, T, 1) outputs: the output's trailing 1 is squeezed
    y, p = probs(2, 3), probs(2, 3, 1)
    assert losses.MeanSquaredError()(t(y), t(p)).item() == pytest.approx(
        ((y - p[..., 0]) ** 2).mean())


def test_clear_errors():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        losses.mean_squared_error(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"y_true.shape=\(3,\)"):
        losses.sparse_categorical_crossentropy(torch.zeros(3), torch.ones(4, 5))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        losses.sparse_categorical_crossentropy(torch.tensor([0, 7]), torch.ones(2, 5))
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match="sample_weight of shape"):
        losses.MeanSquaredError()(torch.zeros(4, 3), torch.zeros(4, 3), torch.ones(5))
    with pytest.raises(ValueError, match="Unknown loss 'nope'"):
        losses.get("nope")
    with pytest.raises(ValueError, match="Could not interpret"):
        losses.get(3)


def test_get_and_serialize_round_trip():
    assert losses.get(None) is None
    assert losses.get("binary_crossentropy") is losses.binary_crossentropy
    obj = losses.get("CategoricalCrossentropy")
    assert isinstance(obj, losses.CategoricalCrossentropy)
    inst = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, name="bce")
    assert losses.get(inst) is inst
    cfg = losses.serialize(inst)
    assert cfg["module"] == "keras.losses" and cfg["class_name"] == "BinaryCrossentropy"
    assert cfg["config"] == {"name": "bce", "reduction": "sum_over_batch_size",
                             "from_logits": True, "label_smoothing": 0.1, "axis": -1}
    back = losses.get(cfg)
    assert isinstance(back, losses.BinaryCrossentropy) and back.from_logits
    assert back.get_config() == inst.get_config()
    keras_cfg = {"module": "keras.losses", "class_name": "SparseCategoricalCrossentropy",
                 "config": {"name": "sparse_categorical_crossentropy",
                            "reduction": "sum_over_batch_size", "from_logits": True,
                            "ignore_class": None}, "registered_name": None}
    assert losses.deserialize(keras_cfg).from_logits is True
    fn_cfg = losses.serialize(losses.mse)
    assert losses.deserialize(fn_cfg) is losses.mean_squared_error
    huber = losses.Huber(delta=2.0)
    assert losses.Huber.from_config(huber.get_config()).delta == 2.0


def test_custom_function_through_get_and_resolve_loss():
    def my_loss(y_true, y_pred):
        return (y_pred - y_true).abs().sum(dim=-1)

    assert losses.get(my_loss) is my_loss
    loss = losses.resolve_loss(my_loss)
    assert isinstance(loss, losses.LossFunctionWrapper) and loss.name == "my_loss"
    assert loss(torch.zeros(2, 3), torch.ones(2, 3)).item() == pytest.approx(3.0)
    assert loss(torch.zeros(2, 3), torch.ones(2, 3), sample_weight=[1, 0]).item() == \
        pytest.approx(1.5)
    register_keras_serializable(package="test_losses")(my_loss)
    cfg = losses.serialize(loss)
    assert cfg["config"]["fn"] == "test_losses>my_loss"
    assert losses.deserialize(cfg).fn is my_loss
    named = losses.resolve_loss("mse")
    assert named.name == "mse" and named.fn is losses.mean_squared_error


def test_resolve_loss_crossentropy_shortcut():
    assert losses.resolve_loss("ce", (8, 1), (8, 1)).fn is losses.binary_crossentropy
    assert losses.resolve_loss("crossentropy", (8,), (8, 4)).fn is \
        losses.sparse_categorical_crossentropy
    assert losses.resolve_loss("ce", (8, 4), (8, 4)).fn is losses.categorical_crossentropy
    with pytest.raises(ValueError, match="y_true_shape"):
        losses.resolve_loss("ce")


def test_subclass_and_gradients():
    class Abs(losses.Loss):
        def call(self, y_true, y_pred):
            return (y_pred - y_true).abs().mean(dim=-1)

    p = torch.tensor([[0.5, 1.5]], requires_grad=True)
    out = Abs(reduction="sum")(torch.zeros(1, 2), p)
    out.backward()
    assert out.item() == pytest.approx(1.0) and p.grad.tolist() == [[0.5, 0.5]]
    assert Abs().name == "abs"
