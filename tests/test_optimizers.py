"""Optimizers and learning-rate schedules: torch mapping, Keras defaults, clipping, state."""

import json
import math

import pytest
import torch

from rnnkit import optimizers
from rnnkit.optimizers import schedules

TARGET = torch.tensor([1.0, -2.0, 3.0])
SCALE = torch.tensor([1.0, 4.0, 0.5])


def _loss(w):
    return (SCALE * (w - TARGET) ** 2).sum()


def _run(make_step, w, steps):
    losses = []
    for _ in range(steps):
        w.grad = None
        loss = _loss(w)
        losses.append(loss.item())
        loss.backward()
        make_step()
    return losses


# (rnnkit optimizer, torch optimizer factory with the translated hyper-parameters)
MAPPINGS = [
    (lambda: optimizers.SGD(0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    (
        lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    ),
    (lambda: optimizers.Adam(0.05), lambda p: torch.optim.Adam(p, lr=0.05, eps=1e-7)),
    (
        lambda: optimizers.Adam(0.05, amsgrad=True, beta_1=0.8),
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.999), eps=1e-7, amsgrad=True),
    ),
    (
        lambda: optimizers.Adam(0.05, weight_decay=0.1),
        lambda p: torch.optim.AdamW(p, lr=0.05, eps=1e-7, weight_decay=0.1),
    ),
    (
        lambda: optimizers.AdamW(0.05),
        lambda p: torch.optim.AdamW(p, lr=0.05, eps=1e-7, weight_decay=0.004),
    ),
    (
        lambda: optimizers.RMSprop(0.05, momentum=0.5, centered=True),
        lambda p: torch.optim.RMSprop(p, lr=0.05, alpha=0.9, eps=1e-7, momentum=0.5, centered=True),
    ),
    (
        lambda: optimizers.Adagrad(0.05),
        lambda p: torch.optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.1, eps=1e-7),
    ),
    (
        lambda: optimizers.Adadelta(1.0),
        lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-7),
    ),
    (lambda: optimizers.Adamax(0.05), lambda p: torch.optim.Adamax(p, lr=0.05, eps=1e-7)),
    (
        lambda: optimizers.Nadam(0.05),
        lambda p: torch.optim.NAdam(p, lr=0.05, eps=1e-7, momentum_decay=0.004),
    ),
]


@pytest.mark.parametrize("make_ours, make_torch", MAPPINGS)
def test_matches_torch_and_decreases_loss(make_ours, make_torch):
    w1 = torch.nn.Parameter(torch.zeros(3))
    w2 = torch.nn.Parameter(torch.zeros(3))
    ours = make_ours()
    ours.build([w1])
    ref = make_torch([w2])
    losses = _run(ours.step, w1, 8)
    _run(ref.step, w2, 8)
    torch.testing.assert_close(w1.data, w2.data, rtol=0, atol=1e-7)
    assert losses[-1] < losses[0]
    assert ours.iterations == 8


KERAS_DEFAULTS = {
    "SGD": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False, "name": "SGD"},
    "Adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
             "amsgrad": False, "name": "adam"},
    "AdamW": {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999,
              "epsilon": 1e-7, "amsgrad": False, "name": "adamw"},
    "RMSprop": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7,
                "centered": False, "name": "rmsprop"},
    "Adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
    "Adadelta": {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7},
    "Adamax": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "Nadam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(KERAS_DEFAULTS))
def test_keras_defaults_and_config_round_trip(name):
    opt = getattr(optimizers, name)()
    config = opt.get_config()
    for key, value in KERAS_DEFAULTS[name].items():
        assert config[key] == value, key
    for key in ("clipnorm", "clipvalue", "global_clipnorm"):
        assert config[key] is None
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    restored = optimizers.deserialize(optimizers.serialize(opt))
    assert type(restored) is type(opt) and restored.get_config() == config
    json.dumps(optimizers.serialize(opt))


def test_get_identifiers():
    for name in ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam"):
        assert optimizers.get(name).__class__.__name__.lower() == name
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    cfg = {"class_name": "Adam", "config": {"learning_rate": 0.5}}
    assert optimizers.get(cfg).learning_rate == 0.5
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.get("nope")
    with pytest.raises(ValueError, match="Could not interpret"):
        optimizers.get(3)


def test_lr_alias_and_errors():
    opt = optimizers.Adam(lr=0.25)
    assert opt.learning_rate == 0.25 and opt.lr == 0.25
    opt.lr = 0.5
    assert opt.learning_rate == 0.5
    with pytest.raises(ValueError, match="lr"):
        optimizers.Adam(learning_rate=0.1, lr=0.2)
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.SGD(foo=1)
    with pytest.raises(ValueError, match="clipnorm"):
        optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=2.0)
    with pytest.raises(TypeError, match="learning_rate"):
        optimizers.SGD(learning_rate="fast")
    with pytest.raises(RuntimeError, match="build"):
        optimizers.SGD().step()


def test_learning_rate_setter_updates_param_groups():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = optimizers.Adam(0.1)
    opt.build([{"params": [w]}, {"params": [torch.nn.Parameter(torch.zeros(1))]}])
    opt.build([w])  # idempotent
    opt.learning_rate = 0.01
    assert [g["lr"] for g in opt.torch_optimizer.param_groups] == [0.01, 0.01]
    opt.learning_rate = schedules.ExponentialDecay(0.1, 1, 0.5)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.3


def _two_params():
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(2))
    return a, b


GA, GB = torch.tensor([3.0, 4.0]), torch.tensor([0.3, 0.4])  # norms 5 and 0.5


def _apply(opt, grads):
    a, b = _two_params()
    opt.apply_gradients(zip(grads, (a, b)))
    return -a.data, -b.data  # SGD with lr=1: the update is minus the (clipped) gradient


def test_clipnorm_is_per_variable():
    ga, gb = _apply(optimizers.SGD(1.0, clipnorm=1.0), (GA, GB))
    torch.testing.assert_close(ga, GA / 5.0, rtol=1e-5, atol=0)
    torch.testing.assert_close(gb, GB)


def test_global_clipnorm():
    ga, gb = _apply(optimizers.SGD(1.0, global_clipnorm=1.0), (GA, GB))
    global_norm = math.sqrt(25 + 0.25)
    torch.testing.assert_close(ga, GA / global_norm, rtol=1e-5, atol=0)
    torch.testing.assert_close(gb, GB / global_norm, rtol=1e-5, atol=0)


def test_clipvalue():
    ga, gb = _apply(optimizers.SGD(1.0, clipvalue=0.35), (GA, GB))
    torch.testing.assert_close(ga, torch.tensor([0.35, 0.35]))
    torch.testing.assert_close(gb, torch.tensor([0.3, 0.35]))


def test_weight_decay_is_decoupled_for_sgd():
    w = torch.nn.Parameter(torch.tensor([2.0]))
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.apply_gradients([(torch.tensor([1.0]), w)])
    torch.testing.assert_close(w.data, torch.tensor([2.0 * (1 - 0.1 * 0.5) - 0.1]))


def test_apply_gradients_validates():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match="shape"):
        opt.apply_gradients([(torch.zeros(3), w)])
    opt.apply_gradients([(torch.ones(2), w)])
    with pytest.raises(ValueError, match="not built with"):
        opt.apply_gradients([(torch.ones(1), torch.nn.Parameter(torch.zeros(1)))])


@pytest.mark.parametrize(
    "schedule, formula",
    [
        (schedules.ExponentialDecay(0.1, 10, 0.5), lambda s: 0.1 * 0.5 ** (s / 10)),
        (
            schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
            lambda s: 0.1 * 0.5 ** (s // 10),
        ),
        (schedules.InverseTimeDecay(0.1, 10, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 10)),
        (
            schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0),
            lambda s: (0.1 - 0.01) * (1 - min(s, 10) / 10) ** 2 + 0.01,
        ),
        (
            schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.0, cycle=True),
            lambda s: 0.1 * (1 - s / (10 * max(1, math.ceil(s / 10)))),
        ),
        (
            schedules.CosineDecay(0.1, 10, alpha=0.1),
            lambda s: 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 10) / 10)) + 0.1),
        ),
        (
            schedules.CosineDecay(0.0, 10, warmup_target=0.2, warmup_steps=5),
            lambda s: (
                0.2 * s / 5 if s < 5 else 0.2 * 0.5 * (1 + math.cos(math.pi * min(s - 5, 10) / 10))
            ),
        ),
        (
            schedules.CosineDecayRestarts(0.1, 10, t_mul=1.0, m_mul=0.5),
            lambda s: 0.1 * 0.5 ** (s // 10) * 0.5 * (1 + math.cos(math.pi * (s % 10) / 10)),
        ),
        (
            schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01]),
            lambda s: 0.1 if s <= 3 else (0.05 if s <= 7 else 0.01),
        ),
    ],
)
def test_schedule_formulas(schedule, formula):
    for step in (0, 1, 3, 4, 5, 7, 9, 10, 13, 20, 25):
        assert schedule(step) == pytest.approx(formula(step), rel=1e-9, abs=1e-12)
    clone = schedules.deserialize(json.loads(json.dumps(schedules.serialize(schedule))))
    assert clone.get_config() == schedule.get_config()
    assert clone(7) == pytest.approx(schedule(7))


def test_cosine_decay_restarts_geometric():
    s = schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0)
    assert s(10) == pytest.approx(1.0)  # second period starts (length 20)
    assert s(20) == pytest.approx(0.5)  # half-way through it
    assert s(30) == pytest.approx(1.0)


def test_schedule_validation():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="values"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(TypeError, match="initial_learning_rate"):
        schedules.CosineDecay("x", 10)


def test_optimizer_applies_schedule_each_step():
    schedule = schedules.PiecewiseConstantDecay([1, 2], [1.0, 0.5, 0.25])  # 1.0 at steps 0, 1
    w = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.SGD(schedule)
    deltas = []
    for _ in range(4):
        before = w.item()
        opt.apply_gradients([(torch.ones(1), w)])
        deltas.append(before - w.item())
    assert deltas == pytest.approx([1.0, 1.0, 0.5, 0.25])
    assert opt.torch_optimizer.param_groups[0]["lr"] == 0.25  # next step's rate
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    assert optimizers.SGD.from_config(config).learning_rate == 1.0


def _train(opt, w, steps):
    opt.build([w])
    _run(opt.step, w, steps)


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop", "nadam", "adagrad"])
def test_state_round_trip_matches_uninterrupted(name):
    def make():
        return optimizers.get({"class_name": name, "config": {"learning_rate": 0.05}})

    w_ref = torch.nn.Parameter(torch.zeros(3))
    ref = make()
    _train(ref, w_ref, 6)

    w = torch.nn.Parameter(torch.zeros(3))
    first = make()
    _train(first, w, 3)
    state = first.state_dict()
    w2 = torch.nn.Parameter(w.detach().clone())
    second = make()
    second.load_state_dict(state)  # before build: applied when built
    assert second.iterations == 3
    _train(second, w2, 3)
    torch.testing.assert_close(w2.data, w_ref.data, rtol=0, atol=0)
    assert second.iterations == 6


def test_flatten_unflatten_round_trip():
    w_ref = torch.nn.Parameter(torch.zeros(3))
    ref = optimizers.Adam(0.05, amsgrad=True)
    _train(ref, w_ref, 6)

    w = torch.nn.Parameter(torch.zeros(3))
    opt = optimizers.Adam(0.05, amsgrad=True)
    _train(opt, w, 3)
    opt.learning_rate = 0.05
    tensors, meta = opt.flatten_state()
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    meta = json.loads(json.dumps(meta))
    assert meta["state"]["iterations"] == 3
    assert "torch/state/0/exp_avg" in tensors
    fresh = optimizers.Adam(0.05, amsgrad=True)
    w2 = torch.nn.Parameter(w.detach().clone())
    fresh.build([w2])
    fresh.load_state_dict(optimizers.unflatten_state(tensors, meta))
    assert fresh.torch_optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    _run(fresh.step, w2, 3)
    torch.testing.assert_close(w2.data, w_ref.data, rtol=0, atol=0)
    with pytest.raises(ValueError, match="format"):
        optimizers.unflatten_state(tensors, {"state": {}})


def test_reduced_learning_rate_survives_state_round_trip():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = optimizers.SGD(0.1)
    _train(opt, w, 1)
    opt.learning_rate = 0.02
    other = optimizers.SGD(0.1)
    other.build([torch.nn.Parameter(torch.zeros(3))])
    other.load_state_dict(opt.state_dict())
    assert other.learning_rate == 0.02
    assert other.torch_optimizer.param_groups[0]["lr"] == 0.02
