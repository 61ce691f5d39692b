"""Non-recurrent layers == real Keras 3.15, number for number, in float64.

Each case of tests/fixtures/keras_layers/ (written by scripts/make_layer_fixtures.py with Keras on
JAX, float64) is rebuilt with ``rnnkit.layers.deserialize`` from Keras's own serialized dict,
given Keras's weights with ``set_weights`` and called on the same inputs and masks; outputs and
the gradients of ``sum(out * upstream)`` with respect to the inputs and every weight must agree
to 1e-8.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from rnnkit import layers

from .conftest import FIXTURES

DIR = os.path.join(FIXTURES, "keras_layers")
with open(os.path.join(DIR, "cases.json")) as f:
    META = json.load(f)
CASES = {c["name"]: c for c in META["cases"]}
TOL = 1e-8


def _arrays(name):
    with np.load(os.path.join(DIR, f"{name}.npz")) as z:
        return {k: z[k] for k in z.files}


def _mask_kwargs(case, arr):
    out = {}
    for arg, spec in case["mask_args"].items():
        if isinstance(spec, list):
            out[arg] = [None if k is None else torch.from_numpy(arr[k]) for k in spec]
        else:
            out[arg] = torch.from_numpy(arr[spec])
    return out


def _run(case, arr):
    layer = layers.deserialize(case["layer"])
    assert type(layer).__name__ == case["layer"]["class_name"]
    xs = [torch.tensor(arr[f"in{i}"], requires_grad=True) for i in range(case["n_inputs"])]
    masking = layers.Masking(0.0, dtype="float64")
    fed = [masking(x) if i in case["masked_inputs"] else x for i, x in enumerate(xs)]
    kwargs = {**case["kwargs"], **_mask_kwargs(case, arr)}

    def call():
        if case["call"] == "single":
            return layer(fed[0], **kwargs)
        if case["call"] == "list":
            return layer(list(fed), **kwargs)
        return layer(*fed, **kwargs)

    if not layer.built or not layer.weights:
        call()
    assert len(layer.weights) == case["n_weights"]
    layer.set_weights([arr[f"w{i}"] for i in range(case["n_weights"])])
    outs = call()
    outs = list(outs) if isinstance(outs, tuple | list) else [outs]
    return layer, xs, outs


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_matches_keras(name):
    case, arr = CASES[name], _arrays(name)
    tol = case["tolerance"]  # 1e-8, or 2e-6 where Keras-on-JAX itself rounds to float32
    assert tol == TOL or case["tolerance_note"], name
    layer, xs, outs = _run(case, arr)
    assert len(outs) == case["n_outputs"]
    for i, o in enumerate(outs):
        want = arr[f"out{i}"]
        assert tuple(o.shape) == want.shape, (i, tuple(o.shape), want.shape)
        assert o.dtype == torch.float64
        np.testing.assert_allclose(o.detach().numpy(), want, rtol=tol, atol=tol, err_msg=f"out{i}")
    loss = sum((o * torch.from_numpy(arr[f"up{i}"])).sum() for i, o in enumerate(outs))
    weights = list(layer.weights)
    grads = torch.autograd.grad(loss, xs + weights, allow_unused=True)
    for i, g in enumerate(grads[: len(xs)]):
        want = arr[f"gin{i}"]
        got = np.zeros_like(want) if g is None else g.numpy()
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"input grad {i}")
    for i, g in enumerate(grads[len(xs):]):
        want = arr[f"gw{i}"]
        assert g is not None, f"no gradient for weight {i}"
        np.testing.assert_allclose(g.numpy(), want, rtol=tol, atol=tol, err_msg=f"weight grad {i}")


def test_fixtures_come_from_keras_on_jax_in_float64():
    assert META["backend"] == "jax" and META["floatx"] == "float64"
    assert META["keras"].startswith("3.15")
    kinds = {c["layer"]["class_name"] for c in META["cases"]}
    loose = [c["name"] for c in META["cases"] if c["tolerance"] != TOL]
    assert all(n.startswith("mha_") for n in loose), loose  # only Keras's fused attention path
    assert {"Conv1D", "MultiHeadAttention", "GlobalAveragePooling1D", "Softmax"} <= kinds


def test_fixture_check_can_fail():
    """Perturbing one weight breaks agreement: the comparison is not vacuous."""
    case = CASES["conv1d_valid"]
    arr = _arrays("conv1d_valid")
    arr["w0"] = arr["w0"].copy()
    arr["w0"][0, 0, 0] += 1e-6
    _, _, outs = _run(case, arr)
    assert not np.allclose(outs[0].detach().numpy(), arr["out0"], rtol=TOL, atol=TOL)
