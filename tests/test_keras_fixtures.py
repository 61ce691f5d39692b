"""Every Keras 3.15 reference case, rebuilt with rnnkit.layers.deserialize, to 1e-8 in float64.

Each case runs twice: with the runner rnnkit picks ("auto": the fused kernel where eligible) and
with the generic loop forced. Outputs and weight gradients must match Keras's in both.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.layers import RNN, deserialize
from rnnkit.layers.layer import flatten

from .conftest import load_keras_arrays, load_keras_cases

CASES = load_keras_cases()
TOL = 1e-8


def _rnn_layers(layer):
    return [m for m in layer.modules() if isinstance(m, RNN)]


def replay(case, runner, spy=None, device="cpu"):
    arrays = load_keras_arrays(case["name"])
    layer = deserialize(case["layer"])
    layer.set_weights([arrays[f"w_{i}"] for i in range(case["n_weights"])])
    layer.to(device)
    if runner in ("loop", "compiled"):
        for r in _rnn_layers(layer):
            r._force_loop = True
            if runner == "compiled":  # the compiled runner (tests/test_compiled_runner.py)
                r.jit_compile = True
                r._compiled_loop().chunk_size = 2
    if any(r.stateful for r in _rnn_layers(layer)):
        layer.reset_states()
    results = []
    for k, call in enumerate(case["calls"]):
        if call.get("reset_states"):
            layer.reset_states()
            continue
        xs = [torch.tensor(arrays[f"x{k}_{i}"], device=device) for i in range(call["n_inputs"])]
        x = tuple(xs) if call.get("nested_input") else xs[0]
        kwargs = {}
        if call.get("mask"):
            kwargs["mask"] = torch.tensor(arrays[f"mask{k}"], device=device)
        if call.get("n_init"):
            kwargs["initial_state"] = [
                torch.tensor(arrays[f"init{k}_{i}"], device=device) for i in range(call["n_init"])
            ]
        before = len(spy.calls) if spy else 0
        out = flatten(layer(x, **kwargs))
        fused_ran = bool(spy) and len(spy.calls) > before
        assert len(out) == call["n_outputs"]
        for i, o in enumerate(out):
            want = arrays[f"y{k}_{i}"]
            assert tuple(o.shape) == want.shape, (i, o.shape, want.shape)
            np.testing.assert_allclose(o.detach().cpu().numpy(), want, atol=TOL, rtol=0, err_msg=f"y{k}_{i}")
        if call.get("gradients"):
            loss = sum((o * torch.tensor(arrays[f"r_{i}"], device=device)).sum() for i, o in enumerate(out))
            grads = torch.autograd.grad(loss, layer.weights, allow_unused=True)
            for j, g in enumerate(grads):
                want = arrays[f"g_{j}"]
                got = np.zeros_like(want) if g is None else g.cpu().numpy()
                np.testing.assert_allclose(got, want, atol=TOL, rtol=0, err_msg=f"g_{j}")
        results.append((out, fused_ran))
    return layer, results


@pytest.mark.parametrize("runner", ["auto", "loop"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_keras_case(case, runner, fused_spy):
    layer, results = replay(case, runner, fused_spy)
    if runner == "loop":
        assert fused_spy.calls == [], "forcing the loop must keep the fused kernel out"


# Cases whose configuration and masks the fused kernel can express (RNN(built-in cell) included):
# the kernel must have run for every call of these.
NOT_FUSED = ("hard_sigmoid", "linear", "unroll", "reset_before", "stacked", "time_distributed")


def _has_holes(case) -> bool:
    """Some call's mask is not padding (each row must be True* False* or False* True*)."""
    arrays = load_keras_arrays(case["name"])
    for k, call in enumerate(case["calls"]):
        if call.get("mask"):
            for row in arrays[f"mask{k}"].astype(int):
                changes = int(np.abs(np.diff(row)).sum())
                if changes > 1 or not row.any():
                    return True
    return False


HOLES = [c["name"] for c in CASES if _has_holes(c)]
FUSED = [
    c["name"]
    for c in CASES
    if not any(s in c["name"] for s in NOT_FUSED)
    and c["name"] not in HOLES
    and c["name"] not in ("lstm_relu", "gru_relu")  # relu is not a fused LSTM / GRU activation
]


def test_fused_list_is_what_rnnkit_plans():
    """The hand-written list above agrees with the layers' own eligibility decisions."""
    for case in CASES:
        if case["name"] in HOLES:  # the configuration may be eligible, the mask is not padding
            continue
        layer = deserialize(case["layer"])
        kinds = [r._fused_kind() for r in _rnn_layers(layer)]
        assert (case["name"] in FUSED) == (bool(kinds) and all(k is not None for k in kinds)), case["name"]


@pytest.mark.parametrize("name", HOLES)
def test_masks_with_holes_fall_back_to_the_loop(name, fused_spy):
    case = next(c for c in CASES if c["name"] == name)
    _, results = replay(case, "auto", fused_spy)
    assert not any(ran for _, ran in results)


@pytest.mark.parametrize("name", FUSED)
def test_fused_kernel_ran(name, fused_spy):
    case = next(c for c in CASES if c["name"] == name)
    _, results = replay(case, "auto", fused_spy)
    assert all(ran for _, ran in results), f"{name}: the fused kernel did not run"


def test_fused_and_loop_agree_on_every_eligible_case():
    agreed = 0
    for case in CASES:
        if case["name"] not in FUSED:
            continue
        _, fused = replay(case, "auto")
        _, loop = replay(case, "loop")
        for (fo, _), (lo, _) in zip(fused, loop):
            for a, b in zip(fo, lo):
                np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12, rtol=0)
        agreed += 1
    assert agreed == len(FUSED) > 20
