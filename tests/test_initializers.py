"""Initializer statistics, exact values, seeding, dtypes and Keras config round trips."""

import math

import pytest
import torch

from rnnkit import initializers as I
from rnnkit.config import set_floatx
from rnnkit.saving.object_registry import register_keras_serializable

BIG = (400, 500)  # fan_in 400, fan_out 500, 200k samples
TRUNC_STD = 0.87962566103423978  # stddev of a unit normal truncated at +-2


def _stats(w):
    w = w.double()
    return w.mean().item(), w.std().item(), w.min().item(), w.max().item()


def test_zeros_ones_constant_identity_exact():
    assert torch.equal(I.Zeros()((2, 3)), torch.zeros(2, 3))
    assert torch.equal(I.Ones()((4,)), torch.ones(4))
    assert torch.equal(I.Constant(2.5)((2, 2)), torch.full((2, 2), 2.5))
    assert torch.equal(I.Constant([1.0, 2.0])((3, 2)), torch.tensor([[1.0, 2.0]] * 3))
    assert torch.equal(I.Identity()((3, 3)), torch.eye(3))
    assert torch.equal(I.Identity(gain=0.5)((2, 4)), 0.5 * torch.eye(2, 4))
    with pytest.raises(ValueError, match="2-D"):
        I.Identity()((2, 2, 2))


def test_random_uniform_and_normal_statistics():
    torch.manual_seed(0)
    mean, std, lo, hi = _stats(I.RandomUniform(-0.2, 0.6)(BIG))
    assert lo >= -0.2 and hi < 0.6
    assert abs(mean - 0.2) < 0.005 and abs(std - 0.8 / math.sqrt(12)) < 0.005
    mean, std, _, _ = _stats(I.RandomNormal(mean=1.0, stddev=0.3)(BIG))
    assert abs(mean - 1.0) < 0.005 and abs(std - 0.3) < 0.005
    mean, std, lo, hi = _stats(I.TruncatedNormal(mean=0.5, stddev=0.1)(BIG))
    assert lo >= 0.3 - 1e-6 and hi <= 0.7 + 1e-6
    assert abs(mean - 0.5) < 0.002 and abs(std - 0.1 * TRUNC_STD) < 0.002


def test_defaults_match_keras():
    assert I.RandomUniform().get_config() == {"seed": None, "minval": -0.05, "maxval": 0.05}
    assert I.RandomNormal().get_config() == {"seed": None, "mean": 0.0, "stddev": 0.05}
    assert I.TruncatedNormal().get_config() == {"seed": None, "mean": 0.0, "stddev": 0.05}
    assert I.VarianceScaling().get_config() == {
        "seed": None, "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"
    }  # fmt: skip
    assert I.GlorotUniform().get_config() == {"seed": None}
    assert I.Orthogonal().get_config() == {"seed": None, "gain": 1.0}
    assert I.Identity().get_config() == {"gain": 1.0}
    assert I.Constant().get_config() == {"value": 0.0}


# (class, scale, mode, distribution)
PRESETS = [
    (I.GlorotUniform, 1.0, "fan_avg", "uniform"),
    (I.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
    (I.HeUniform, 2.0, "fan_in", "uniform"),
    (I.HeNormal, 2.0, "fan_in", "truncated_normal"),
    (I.LecunUniform, 1.0, "fan_in", "uniform"),
    (I.LecunNormal, 1.0, "fan_in", "truncated_normal"),
]


@pytest.mark.parametrize("cls,scale,mode,dist", PRESETS)
def test_variance_scaling_presets_statistics(cls, scale, mode, dist):
    fan_in, fan_out = BIG
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    target_std = math.sqrt(scale / n)  # the std after truncation equals this
    init = cls(seed=3)
    assert isinstance(init, I.VarianceScaling)
    assert (init.scale, init.mode, init.distribution) == (scale, mode, dist)
    mean, std, lo, hi = _stats(init(BIG))
    assert abs(mean) < 0.02 * target_std
    assert abs(std - target_std) < 0.02 * target_std
    bound = math.sqrt(3 * scale / n) if dist == "uniform" else 2 * target_std / TRUNC_STD
    assert -bound - 1e-6 <= lo and hi <= bound + 1e-6


def test_variance_scaling_modes_and_untruncated():
    torch.manual_seed(1)
    w = I.VarianceScaling(4.0, "fan_out", "untruncated_normal")(BIG)
    assert abs(w.std().item() - math.sqrt(4.0 / 500)) < 0.002
    assert w.abs().max().item() > 2.5 * math.sqrt(4.0 / 500)  # not truncated
    assert I.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    with pytest.raises(ValueError, match="mode"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="positive scale"):
        I.VarianceScaling(scale=0.0)


def test_compute_fans():
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans((3, 5)) == (3, 5)
    assert I.compute_fans((2, 3, 4, 5)) == (24, 30)
    w = I.VarianceScaling(1.0, "fan_in", "uniform", seed=0)((3, 4, 5))
    assert w.abs().max().item() <= math.sqrt(3.0 / 12)


@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (2, 3, 12), (3, 2, 5)])
def test_orthogonal(shape):
    w = I.Orthogonal(seed=5)(shape, dtype="float64")
    assert tuple(w.shape) == shape
    m = w.reshape(-1, shape[-1])
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    torch.testing.assert_close(gram, torch.eye(small, dtype=torch.float64))
    w2 = I.Orthogonal(gain=2.0, seed=5)(shape, dtype="float64")
    torch.testing.assert_close(w2, 2.0 * w)
    with pytest.raises(ValueError, match="two dimensions"):
        I.Orthogonal()((5,))


def test_seeded_repeatable_unseeded_follows_global_rng():
    for init in (I.RandomUniform(seed=7), I.GlorotNormal(seed=7), I.Orthogonal(seed=7)):
        assert torch.equal(init((5, 4)), init((5, 4)))
        assert torch.equal(init((5, 4)), type(init).from_config(init.get_config())((5, 4)))
    assert not torch.equal(I.HeUniform(seed=1)((5, 4)), I.HeUniform(seed=2)((5, 4)))
    init = I.GlorotUniform()
    torch.manual_seed(11)
    a = init((5, 4))
    b = init((5, 4))
    torch.manual_seed(11)
    assert torch.equal(init((5, 4)), a) and not torch.equal(a, b)


@pytest.mark.parametrize("name", ["zeros", "ones", "constant", "uniform", "truncated_normal",
                                  "glorot_uniform", "orthogonal", "identity"])  # fmt: skip
@pytest.mark.parametrize("dtype", ["float64", torch.float16, "bfloat16", None])
def test_dtypes(name, dtype):
    w = I.get(name)((4, 4), dtype=dtype)
    expected = {None: torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}
    assert w.dtype == expected.get(dtype, dtype)
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"}}
    assert I.get(name)((2, 2), dtype=policy).dtype == torch.float64


def test_floatx_default():
    set_floatx("float64")
    try:
        assert I.GlorotUniform()((2, 2)).dtype == torch.float64
    finally:
        set_floatx("float32")


def test_random_needs_float_dtype_and_valid_shape():
    with pytest.raises(ValueError, match="float dtype"):
        I.RandomNormal()((2,), dtype="int32")
    assert I.Zeros()((2,), dtype="int64").dtype == torch.int64
    with pytest.raises(ValueError, match="non-negative ints"):
        I.Zeros()((2, -1))
    with pytest.raises(TypeError, match="shape"):
        I.Ones()("2x2")
    with pytest.raises(ValueError, match="seed"):
        I.RandomUniform(seed="abc")


ALIASES = {
    "zeros": I.Zeros, "ones": I.Ones, "constant": I.Constant, "uniform": I.RandomUniform,
    "random_uniform": I.RandomUniform, "normal": I.RandomNormal, "random_normal": I.RandomNormal,
    "truncated_normal": I.TruncatedNormal, "glorot_uniform": I.GlorotUniform,
    "glorot_normal": I.GlorotNormal, "he_uniform": I.HeUniform, "he_normal": I.HeNormal,
    "lecun_uniform": I.LecunUniform, "lecun_normal": I.LecunNormal, "orthogonal": I.Orthogonal,
    "identity": I.Identity, "variance_scaling": I.VarianceScaling,
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_get_by_name_and_round_trip(name):
    cls = ALIASES[name]
    for ident in (name, cls.__name__):
        obj = I.get(ident)
        assert type(obj) is cls
    d = I.serialize(obj)
    assert d["module"] == "keras.initializers" and d["class_name"] == cls.__name__
    assert d["registered_name"] is None
    back = I.deserialize(d)
    assert type(back) is cls and back.get_config() == obj.get_config()
    short = I.get({"class_name": d["class_name"], "config": d["config"]})
    assert type(short) is cls
    assert I.get(obj) is obj


def test_keras_dicts_from_real_configs():
    ortho = {"module": "keras.initializers", "class_name": "Orthogonal",
             "config": {"seed": None, "gain": 1.0}, "registered_name": None}  # fmt: skip
    obj = I.get(ortho)
    assert isinstance(obj, I.Orthogonal) and obj.gain == 1.0 and obj.seed is None
    assert I.serialize(obj) == ortho
    glorot = {"module": "keras.initializers", "class_name": "GlorotUniform",
              "config": {"seed": None, "input_axes": None, "output_axes": None},
              "registered_name": None, "shared_object_id": 140025805294352}  # fmt: skip
    obj = I.get(glorot)
    assert isinstance(obj, I.GlorotUniform)
    assert obj.get_config() == {"seed": None}
    emb = {
        "module": "keras.initializers",
        "class_name": "RandomUniform",
        "config": {"seed": None, "minval": -0.05, "maxval": 0.05},
        "registered_name": None,
    }
    assert I.serialize(I.get(emb)) == emb
    vs = {"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_avg",
          "distribution": "uniform", "seed": 4}}  # fmt: skip
    obj = I.get(vs)
    assert (obj.scale, obj.mode, obj.distribution, obj.seed) == (2.0, "fan_avg", "uniform", 4)
    const = {"class_name": "Constant", "config": {"value": 0.25}}
    assert torch.equal(I.get(const)((2,)), torch.tensor([0.25, 0.25]))


def test_input_output_axes_round_trip():
    init = I.VarianceScaling(1.0, "fan_in", "uniform", seed=0, input_axes=[0, 1], output_axes=[2])
    assert init._fans((3, 4, 5)) == (12, 5)
    assert I.deserialize(I.serialize(init)).get_config() == init.get_config()


def test_custom_initializer():
    @register_keras_serializable(package="test_init")
    class Sevens(I.Initializer):
        def __call__(self, shape, dtype=None):
            return torch.full(shape, 7.0)

    d = I.serialize(Sevens())
    assert d["registered_name"] == "test_init>Sevens"
    assert isinstance(I.deserialize(d), Sevens)
    assert isinstance(I.get("test_init>Sevens"), Sevens)

    class Fives(I.Initializer):
        pass

    assert isinstance(I.deserialize({"class_name": "Fives", "config": {}}, {"Fives": Fives}), Fives)
    fn = lambda shape, dtype=None: torch.zeros(shape)  # noqa: E731
    assert I.get(fn) is fn


def test_unknown_names():
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'.*glorot_uniform"):
        I.get("glorot")
    with pytest.raises(ValueError, match="Unknown initializer"):
        I.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="Could not interpret initializer"):
        I.get(1.5)
    with pytest.raises(TypeError, match="get_config"):
        I.serialize(lambda s: s)
