"""BatchNormalization and LayerNormalization against their formulas (float64), moving-statistic
updates, masked moments, weights, configs and gradients."""

import numpy as np
import pytest
import torch

from rnnkit.layers.core import Masking
from rnnkit.layers.normalization import BatchNormalization, LayerNormalization

RNG = np.random.default_rng(1)


def _np(t):
    return t.detach().numpy()


def _bn_ref(x, mean, var, gamma, beta, eps, axis):
    shape = [1] * x.ndim
    shape[axis] = -1
    r = lambda v: np.reshape(v, shape)  # noqa: E731
    return (x - r(mean)) / np.sqrt(r(var) + eps) * r(gamma) + r(beta)


# ----------------------------------------------------------------------------- BatchNormalization
@pytest.mark.parametrize("shape,axis", [((6, 3), -1), ((4, 5, 3), -1), ((2, 3, 4, 5), 1)])
def test_batchnorm_training_and_inference(shape, axis):
    bn = BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-3, dtype="float64")
    x = RNG.normal(2.0, 3.0, size=shape)
    bn.build(x.shape)
    c = shape[axis]
    gamma, beta = RNG.normal(size=c), RNG.normal(size=c)
    mm, mv = RNG.normal(size=c), RNG.uniform(0.5, 2.0, size=c)
    bn.set_weights([gamma, beta, mm, mv])
    red = tuple(d for d in range(len(shape)) if d != axis % len(shape))
    mean, var = x.mean(axis=red), x.var(axis=red)  # biased variance, as Keras

    out = bn(x, training=True)
    np.testing.assert_allclose(
        _np(out), _bn_ref(x, mean, var, gamma, beta, 1e-3, axis), rtol=1e-10, atol=1e-10
    )
    mm1, mv1 = mm * 0.9 + mean * 0.1, mv * 0.9 + var * 0.1
    np.testing.assert_allclose(_np(bn.moving_mean), mm1, rtol=1e-12)
    np.testing.assert_allclose(_np(bn.moving_variance), mv1, rtol=1e-12)

    bn(x, training=True)  # second update
    np.testing.assert_allclose(_np(bn.moving_mean), mm1 * 0.9 + mean * 0.1, rtol=1e-12)
    np.testing.assert_allclose(_np(bn.moving_variance), mv1 * 0.9 + var * 0.1, rtol=1e-12)

    before = bn.get_weights()
    out = bn(x)  # inference (module.training starts False): moving statistics, no update
    np.testing.assert_allclose(
        _np(out), _bn_ref(x, before[2], before[3], gamma, beta, 1e-3, axis), rtol=1e-10
    )
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_batchnorm_weights_order_and_trainability():
    bn = BatchNormalization()
    bn(torch.randn(4, 3))
    names = [w._rnnkit_name for w in bn.weights]
    assert names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.shape for w in bn.get_weights()] == [(3,)] * 4
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    assert not bn.moving_mean.requires_grad and not bn.moving_variance.requires_grad
    with pytest.raises(ValueError, match=r"weight 2 \(moving_mean\) has shape \(3,\)"):
        bn.set_weights([np.ones(3), np.zeros(3), np.zeros(4), np.ones(3)])
    with pytest.raises(ValueError, match="expects 4 weights"):
        bn.set_weights([np.ones(3), np.zeros(3)])

    bare = BatchNormalization(center=False, scale=False)
    bare(torch.randn(4, 3))
    assert [w._rnnkit_name for w in bare.weights] == ["moving_mean", "moving_variance"]


def test_batchnorm_masked_moments():
    x = RNG.normal(size=(3, 5, 4))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
    bn = BatchNormalization(momentum=0.5, dtype="float64")
    out = bn(x, training=True, mask=torch.tensor(mask))
    w = mask[..., None].astype(np.float64)
    n = w.sum(axis=(0, 1)) + 1e-7
    mean = (w * x).sum(axis=(0, 1)) / n
    var = (w * (x - mean) ** 2).sum(axis=(0, 1)) / n
    ones, zeros = np.ones(4), np.zeros(4)
    np.testing.assert_allclose(_np(out), _bn_ref(x, mean, var, ones, zeros, 1e-3, -1), rtol=1e-9)
    np.testing.assert_allclose(_np(bn.moving_mean), 0.5 * mean, rtol=1e-12)
    np.testing.assert_allclose(_np(bn.moving_variance), 0.5 + 0.5 * var, rtol=1e-12)
    assert torch.equal(out._keras_mask, torch.tensor(mask))

    # the same through a Masking layer's mask (padded steps hold zeros)
    xp = x * w
    bn2 = BatchNormalization(momentum=0.5, dtype="float64")
    bn2(Masking(dtype="float64")(xp), training=True)
    np.testing.assert_allclose(_np(bn2.moving_mean), 0.5 * (w * xp).sum((0, 1)) / n, rtol=1e-9)

    with pytest.raises(ValueError, match="one axis less than the inputs"):
        bn(x, training=True, mask=torch.ones(3, 5, 4, dtype=torch.bool))


def test_batchnorm_not_trainable_runs_in_inference_mode():
    bn = BatchNormalization(trainable=False, dtype="float64")
    x = RNG.normal(5.0, 2.0, size=(8, 3))
    out = bn(x, training=True)
    np.testing.assert_allclose(_np(out), x / np.sqrt(1 + 1e-3), rtol=1e-12)
    assert _np(bn.moving_mean).tolist() == [0.0] * 3


def test_batchnorm_gradients_and_no_autograd_on_update():
    bn = BatchNormalization()
    x = torch.randn(6, 4, requires_grad=True)
    out = bn(x, training=True)
    assert bn.moving_mean.grad_fn is None and not bn.moving_mean.requires_grad
    (out * torch.arange(4.0)).sum().backward()
    assert x.grad is not None and bn.gamma.grad is not None and bn.beta.grad is not None
    assert bn.moving_mean.grad is None
    # inference output, then a training call updating the statistics in place, then backward
    y = bn(x).sum()
    bn(x, training=True)
    y.backward()


def test_batchnorm_config_and_errors():
    bn = BatchNormalization(
        axis=1,
        momentum=0.8,
        epsilon=1e-5,
        center=False,
        gamma_regularizer="l2",
        beta_constraint="non_neg",
        name="bn",
    )
    cfg = bn.get_config()
    for key in (
        "axis",
        "momentum",
        "epsilon",
        "center",
        "scale",
        "beta_initializer",
        "gamma_initializer",
        "moving_mean_initializer",
        "moving_variance_initializer",
        "beta_regularizer",
        "gamma_regularizer",
        "beta_constraint",
        "gamma_constraint",
        "synchronized",
    ):
        assert key in cfg
    clone = BatchNormalization.from_config(cfg)
    assert clone.get_config() == cfg and clone.axis == 1 and clone.center is False
    with pytest.raises(TypeError, match="axis must be an int"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(NotImplementedError, match="renorm"):
        BatchNormalization(renorm=True)
    bn = BatchNormalization()
    bn(torch.randn(2, 3))
    with pytest.raises(ValueError, match="expected 3 features"):
        bn(torch.randn(2, 4))


# ----------------------------------------------------------------------------- LayerNormalization
def _ln_ref(x, axes, gamma, beta, eps, bshape):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        out = out * gamma.reshape(bshape)
    if beta is not None:
        out = out + beta.reshape(bshape)
    return out


@pytest.mark.parametrize(
    "shape,axis",
    [((4, 6), -1), ((2, 3, 5), -1), ((2, 3, 4, 5), [2, 3]), ((2, 3, 5), 1), ((2, 3, 4, 5), [1, 3])],
)
def test_layernorm_formula(shape, axis):
    x = RNG.normal(1.0, 2.0, size=shape)
    ln = LayerNormalization(axis=axis, epsilon=1e-3, dtype="float64")
    ln.build(shape)
    axes = [a % len(shape) for a in (axis if isinstance(axis, list) else [axis])]
    pshape = tuple(shape[a] for a in axes)
    gamma, beta = RNG.normal(size=pshape), RNG.normal(size=pshape)
    ln.set_weights([gamma, beta])
    bshape = [shape[d] if d in axes else 1 for d in range(len(shape))]
    expected = _ln_ref(x, tuple(axes), gamma, beta, 1e-3, bshape)
    np.testing.assert_allclose(_np(ln(x)), expected, rtol=1e-10, atol=1e-10)


def test_layernorm_weights_rms_and_flags():
    ln = LayerNormalization()
    ln(torch.randn(2, 3))
    assert [w._rnnkit_name for w in ln.weights] == ["gamma", "beta"]
    assert len(ln.trainable_weights) == 2

    x = RNG.normal(size=(3, 6))
    rms = LayerNormalization(rms_scaling=True, epsilon=1e-3, dtype="float64")
    out = rms(x)
    assert [w._rnnkit_name for w in rms.weights] == ["gamma"]
    (gamma,) = rms.get_weights()
    np.testing.assert_allclose(
        _np(out), x / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-3) * gamma, rtol=1e-10
    )
    bare = LayerNormalization(center=False, scale=False, dtype="float64")
    np.testing.assert_allclose(_np(bare(x)), _ln_ref(x, (1,), None, None, 1e-3, [1, 6]), rtol=1e-10)
    assert bare.weights == []


def test_layernorm_mask_gradients_config():
    x = torch.randn(2, 3, 4, requires_grad=True)
    x._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    ln = LayerNormalization()
    out = ln(x)
    assert torch.equal(out._keras_mask, x._keras_mask)
    (out * torch.arange(4.0)).sum().backward()
    assert x.grad is not None and ln.gamma.grad is not None and ln.beta.grad is not None

    ln = LayerNormalization(axis=[1, 2], epsilon=1e-5, rms_scaling=True, beta_regularizer="l1")
    cfg = ln.get_config()
    assert cfg["axis"] == [1, 2] and cfg["rms_scaling"] is True
    clone = LayerNormalization.from_config(cfg)
    assert clone.get_config() == cfg
    with pytest.raises(TypeError, match="axis must be an int or a list"):
        LayerNormalization(axis="last")
    ln = LayerNormalization()
    ln(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"built for sizes \(3,\)"):
        ln(torch.randn(2, 4))
