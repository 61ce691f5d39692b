"""GPU checks (skipped without CUDA): cuDNN runs the fused path with Keras's numbers.

Run on a machine with a GPU: ``python -m pytest tests/test_cuda.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers

from .test_keras_fixtures import CASES, FUSED, replay

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_keras_case_on_cuda(case, fused_spy):
    """Every Keras fixture on the GPU in float64 (cuDNN where fused), to 1e-8."""
    _, results = replay(case, "auto", fused_spy, device="cuda")
    if case["name"] in FUSED:
        assert all(ran for _, ran in results)


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
@pytest.mark.parametrize("padding", ["none", "right", "left"])
def test_cudnn_matches_cpu_float32(cls, padding, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # full float32 precision
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(0)
    layer = cls(16, return_sequences=True, return_state=True)
    x = torch.randn(5, 9, 7)
    lengths = torch.tensor([9, 4, 1, 7, 2])
    steps = torch.arange(9)
    mask = {
        "none": None,
        "right": steps < lengths[:, None],
        "left": steps >= (9 - lengths)[:, None],
    }[padding]
    cpu = layer(x, mask=mask)
    layer.cuda()
    gpu = layer(x.cuda(), mask=None if mask is None else mask.cuda())
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().cpu().numpy(), atol=2e-5)


def test_fit_on_cuda_with_numpy_data_and_mixed_precision():
    rnnkit.utils.set_random_seed(0)
    x = np.random.rand(64, 10, 3).astype("float32")
    y = (x.sum(axis=(1, 2)) > 15).astype("int64")
    for amp in (None, "float16", "bfloat16"):
        model = rnnkit.Sequential([layers.LSTM(16), layers.Dense(2)])
        model.build((None, 10, 3))
        model.to("cuda")
        model.compile(
            optimizer="adam",
            loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            mixed_precision=amp,
        )
        hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        assert np.isfinite(hist.history["loss"]).all()
        assert model.predict(x, verbose=0).shape == (64, 2)


@pytest.mark.parametrize("cls", [layers.LSTM, layers.SimpleRNN])
def test_weights_live_in_one_cudnn_buffer_after_cuda(cls, monkeypatch):
    """After .cuda(), LSTM / SimpleRNN weights are views of one cuDNN-ordered buffer: no copy,
    no compaction warning, and an optimizer created afterwards trains the weights that run."""
    import warnings

    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # full float32 precision

    from rnnkit.runners.fused import is_cudnn_flat

    torch.manual_seed(0)
    layer = cls(16)
    x = torch.randn(4, 7, 5)
    cpu_out = layer(x)
    layer.cuda()
    assert is_cudnn_flat(layer.cell)
    xc = x.cuda()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cuDNN's "not part of single contiguous chunk" warning
        gpu_out = layer(xc)
    np.testing.assert_allclose(cpu_out.detach().numpy(), gpu_out.detach().cpu().numpy(), atol=1e-4)
    before = [w.copy() for w in layer.get_weights()]
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        layer(xc).pow(2).sum().backward()
        opt.step()
    assert is_cudnn_flat(layer.cell)
    assert all(not np.allclose(a, b) for a, b in zip(before, layer.get_weights()))
    layer.set_weights(before)  # set_weights copies into the views: still one buffer
    assert is_cudnn_flat(layer.cell)
    np.testing.assert_allclose(layer(xc).detach().cpu().numpy(), gpu_out.detach().cpu().numpy(), atol=1e-6)


def _cuda_pair(**kw):
    """An eager and a ``jit_compile=True`` RNN over the user-written LSTM cell, equal weights, on CUDA."""
    from .test_compiled_runner import UserLSTMCell

    torch.manual_seed(0)
    eager = layers.RNN(UserLSTMCell(16), **kw)
    comp = layers.RNN(UserLSTMCell(16), jit_compile=True, **kw)
    for layer in (eager, comp):
        layer.build((8, 13, 5))
    comp.set_weights(eager.get_weights())
    return eager.cuda(), comp.cuda()


def test_compiled_user_cell_trains_like_eager_on_cuda(monkeypatch):
    """jit_compile on CUDA (Dynamo chunks, Inductor with CUDA graphs): three SGD steps with a mask
    give the eager loop's outputs, states and weights to float32 precision, and the compiled runner
    ran every step (no fallback)."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    eager, comp = _cuda_pair(return_sequences=True, return_state=True)
    x = torch.randn(8, 13, 5, device="cuda")
    mask = torch.ones(8, 13, dtype=torch.bool, device="cuda")
    mask[0, 9:] = False
    mask[3, 2:5] = False
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (eager, comp)]
    for _ in range(3):
        outs = []
        for layer, opt in zip((eager, comp), opts):
            opt.zero_grad()
            out = layer(x, mask=mask)
            w = torch.linspace(-1, 1, out[0].numel(), device="cuda").view(out[0].shape)
            ((out[0] * w).sum() + out[1].sum() + out[2].pow(2).sum()).backward()
            opt.step()
            outs.append([t.detach().cpu().numpy() for t in out])
        for a, b in zip(*outs):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    for a, b in zip(eager.get_weights(), comp.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    loop = comp._compiled_loop()
    assert loop._disabled is None and loop.compiled_calls == 3 and loop.eager_calls == 0
    assert loop.program_calls == 0  # on CUDA split steps run as Dynamo chunks (CUDA graphs), not programs


def test_compiled_replays_read_each_call_s_inputs(monkeypatch):
    """CUDA graphs replay into static buffers: every call must read its own inputs (a stale input
    buffer would repeat the previous call's numbers), training and no-grad. Results are compared
    at once or as clones, as the compiled runner's docs tell users to keep them."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    eager, comp = _cuda_pair(return_sequences=True)
    x = torch.randn(8, 13, 5, device="cuda")
    for grad in (True, False):
        kept = []
        with torch.set_grad_enabled(grad):
            for k in range(3):
                xk = x * (k + 1)
                out = comp(xk).detach().clone()
                np.testing.assert_allclose(out.cpu().numpy(), eager(xk).detach().cpu().numpy(), atol=1e-5, rtol=0)
                kept.append((xk, out))
        for xk, out in kept:  # the clones still hold their own call's numbers
            np.testing.assert_allclose(out.cpu().numpy(), eager(xk).detach().cpu().numpy(), atol=1e-5, rtol=0)
    assert comp._compiled_loop()._disabled is None
