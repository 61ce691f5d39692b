"""The compiled runner (``jit_compile``): same numbers as the eager loop, and it really ran.

Most tests compile with Dynamo + AOTAutograd and the ``aot_eager`` backend (the same captured
graphs, forward and backward, without Inductor's C++ code generation, which takes ~10 s per
graph on this machine); the tests marked slow use Inductor itself, as ``jit_compile`` does.
Every test checks the runner's counters, so a silent fallback to the eager loop fails it.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from rnnkit import layers
from rnnkit.runners import compiled
from rnnkit.runners.compiled import CompiledLoop, CompiledRunnerWarning, inductor_patches

from .test_keras_fixtures import CASES, _rnn_layers, replay
from .tutorial_cells import CustomRNNCell, NestedCell


class UserLSTMCell(layers.Layer):
    """An LSTM cell as a user writes it (benchmarks/bench_lstm.py has the same)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * self.units,), initializer="uniform", name="bias")

    def call(self, inputs, states):
        h, c = states
        z = inputs @ self.kernel + h @ self.recurrent_kernel + self.bias
        i, f, g, o = z.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, [h, c]


def _pair(make_cell, jit=True, chunk=4, **kw):
    """An eager and a compiled RNN around two copies of a cell, with equal weights."""
    torch.manual_seed(0)
    eager = layers.RNN(make_cell(), **kw)
    comp = layers.RNN(make_cell(), jit_compile=jit, **kw)
    comp._compiled_loop().chunk_size = chunk
    return eager, comp


def _run_both(eager, comp, x, **call_kw):
    """Outputs and weight gradients of both layers (weights copied eager -> compiled)."""
    results = []
    for layer in (eager, comp):
        if not layer.built:
            layer(x, **call_kw)
        if layer is comp:
            comp.set_weights(eager.get_weights())
        out = layer(x, **call_kw)
        leaves = [o for o in (out if isinstance(out, list | tuple) else [out])]
        leaves = [t for o in leaves for t in (o if isinstance(o, list | tuple) else [o])]
        loss = sum((t * torch.linspace(-1, 1, t.numel(), dtype=t.dtype).view(t.shape)).sum() for t in leaves)
        grads = torch.autograd.grad(loss, layer.weights)
        results.append((leaves, grads))
    return results


def _assert_equal(results, tol):
    (eo, eg), (co, cg) = results
    assert len(eo) == len(co)
    for a, b in zip(eo + list(eg), co + list(cg)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=tol, rtol=0)


def test_user_cell_float64_outputs_states_and_gradients(aot, f64):
    eager, comp = _pair(lambda: UserLSTMCell(5), return_sequences=True, return_state=True)
    x = torch.randn(3, 10, 4, dtype=torch.float64)  # 10 steps: 3 chunks of 4, the last padded
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    loop = comp._compiled_loop()
    assert loop.compiled_calls == 2 and loop.compiles >= 1


def test_user_cell_float32_and_lengths_do_not_recompile(aot):
    eager, comp = _pair(lambda: UserLSTMCell(6))
    for T in (8, 11, 5, 13):  # new sequence lengths reuse the one graph
        x = torch.randn(4, T, 3)
        _assert_equal(_run_both(eager, comp, x), 1e-5)
    loop = comp._compiled_loop()
    assert loop.compiled_calls == 5  # the build call, then one call per length
    assert loop.compiles == 1  # one graph (forward and backward) for all four lengths


@pytest.mark.parametrize("zero_out", [False, True])
@pytest.mark.parametrize("pattern", ["right", "holes", "left"])
def test_masks(aot, f64, pattern, zero_out):
    eager, comp = _pair(
        lambda: UserLSTMCell(4), return_sequences=True, return_state=True,
        zero_output_for_mask=zero_out,
    )
    x = torch.randn(3, 9, 2, dtype=torch.float64)
    mask = torch.ones(3, 9, dtype=torch.bool)
    if pattern == "right":
        mask[0, 6:] = False
        mask[2, 3:] = False
    elif pattern == "left":
        mask[1, :4] = False
    else:
        mask[0, 2:5] = False
        mask[1, 0] = False
        mask[2, 8] = False
    _assert_equal(_run_both(eager, comp, x, mask=mask), 1e-10)
    assert comp._compiled_loop().compiled_calls == 2


def test_tutorial_nested_cell(aot, f64):
    """The Keras guide's NestedCell: nested inputs, nested states and outputs."""
    eager, comp = _pair(lambda: NestedCell(3, 2, 2), return_sequences=True, return_state=True)
    x = (torch.randn(2, 6, 4, dtype=torch.float64), torch.randn(2, 6, 2, 3, dtype=torch.float64))
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    assert comp._compiled_loop().compiled_calls == 2


def test_tutorial_custom_rnn_cell(aot):
    eager, comp = _pair(lambda: CustomRNNCell(5), return_sequences=True)
    x = torch.randn(2, 7, 3)
    _assert_equal(_run_both(eager, comp, x), 1e-5)
    assert comp._compiled_loop().compiled_calls == 2


def test_go_backwards_and_time_major(aot, f64):
    for kw in ({"go_backwards": True}, {"time_major": True}):
        eager, comp = _pair(lambda: UserLSTMCell(4), return_sequences=True, **kw)
        x = torch.randn(5, 8, 3, dtype=torch.float64)
        _assert_equal(_run_both(eager, comp, x), 1e-10)
        assert comp._compiled_loop().compiled_calls == 2


def test_stateful_layer_carries_states(aot, f64):
    eager, comp = _pair(lambda: UserLSTMCell(4), stateful=True, return_sequences=True)
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    eager(x)
    comp(x)
    comp.set_weights(eager.get_weights())
    eager.reset_states()
    comp.reset_states()
    for _ in range(3):
        a, b = eager(x), comp(x)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-10, rtol=0)
    for s, t in zip(eager.states, comp.states):
        np.testing.assert_allclose(s.numpy(), t.numpy(), atol=1e-10, rtol=0)
    assert comp._compiled_loop().compiled_calls == 4


def test_builtin_cells_non_fused_configs(aot, f64):
    """Built-in layers whose configuration the fused kernel cannot run (hoisted loop, stacked)."""
    torch.manual_seed(0)
    x = torch.randn(3, 8, 4, dtype=torch.float64)
    cases = [
        lambda jit: layers.LSTM(5, activation="relu", return_sequences=True, jit_compile=jit),
        lambda jit: layers.GRU(5, reset_after=False, jit_compile=jit),
        lambda jit: layers.RNN(
            [layers.LSTMCell(4), layers.GRUCell(3)],
            return_state=True, jit_compile=jit,
        ),
    ]
    for make in cases:
        eager, comp = make(False), make(True)
        comp._compiled_loop().chunk_size = 4
        _assert_equal(_run_both(eager, comp, x), 1e-10)
        assert comp._compiled_loop().compiled_calls == 2


def test_dropout_masks_match_eager_in_training(aot, f64):
    torch.manual_seed(1)
    eager = layers.LSTM(4, recurrent_dropout=0.3, dropout=0.2, return_sequences=True)
    comp = layers.LSTM(4, recurrent_dropout=0.3, dropout=0.2, return_sequences=True,
                       jit_compile=True)
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    eager(x)
    comp(x)
    comp.set_weights(eager.get_weights())
    torch.manual_seed(7)
    a = eager(x, training=True)
    torch.manual_seed(7)
    b = comp(x, training=True)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-10, rtol=0)
    assert comp._compiled_loop().compiled_calls == 2  # the build call and the training call


def test_bidirectional_and_model_compile_route_layers(aot):
    import rnnkit

    bi = layers.Bidirectional(layers.RNN(UserLSTMCell(3), return_sequences=True), jit_compile=True)
    assert bi.forward_layer.jit_compile is True and bi.backward_layer.jit_compile is True
    rnn = layers.RNN(UserLSTMCell(3))
    model = rnnkit.Sequential([layers.Input((8, 2)), rnn, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert rnn.jit_compile is True
    x, y = np.random.rand(4, 8, 2).astype("float32"), np.random.rand(4, 1).astype("float32")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    loop = rnn._compiled_loop()
    assert loop.compiled_calls >= 2 and loop.compiles >= 1
    kept = layers.RNN(UserLSTMCell(3), jit_compile=False)  # an explicit per-layer choice stays
    m2 = rnnkit.Sequential([layers.Input((8, 2)), kept])
    m2.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert kept.jit_compile is False


def test_auto_compiles_on_the_second_call(aot):
    eager, comp = _pair(lambda: UserLSTMCell(3), jit="auto")
    x = torch.randn(2, 8, 2)
    comp(x)
    loop = comp._compiled_loop()
    assert (loop.eager_calls, loop.compiled_calls, loop.compiles) == (1, 0, 0)
    comp(x)
    assert loop.compiled_calls == 1 and loop.compiles >= 1


def test_each_layer_has_its_own_graphs(aot):
    """More layers than Dynamo's per-function recompile limit (8): each compiles once."""
    x = torch.randn(2, 4, 3)
    rnns = [layers.RNN(CustomRNNCell(2), jit_compile=True) for _ in range(10)]
    for r in rnns:
        r._compiled_loop().chunk_size = 4
        with torch.no_grad():
            r(x)
            r(x)
    assert [(r._compiled_loop().compiles, r._compiled_loop().compiled_calls) for r in rnns] == [(1, 2)] * 10


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return [str(m.message) for m in w if issubclass(m.category, CompiledRunnerWarning)]


class BreakingCell(CustomRNNCell):
    """Converts a tensor to a Python float each step: Dynamo must break the graph there."""

    def call(self, inputs, states):
        out, new = super().call(inputs, states)
        if float(out.sum()) > 1e9:  # data-dependent Python control flow
            out = out * 0
        return out, new


def test_graph_break_warns_once_and_numbers_hold(aot):
    eager, comp = _pair(lambda: BreakingCell(3), return_sequences=True)
    x = torch.randn(2, 8, 2)
    msgs = _warnings_of(lambda: [_run_both(eager, comp, x) for _ in range(2)])
    # two reports, once each: the step cannot be split (its trace fails on float()), and the
    # Dynamo-compiled chunks it runs as instead break their graph
    assert len(msgs) == 2, msgs
    assert "could not be split (tracing the step failed" in msgs[0], msgs
    assert "does not trace into one graph" in msgs[1], msgs
    _assert_equal(_run_both(eager, comp, x), 1e-5)


def test_fallbacks_warn_once_with_the_reason(aot):
    eager, comp = _pair(lambda: UserLSTMCell(3))
    comp._compiled_loop().backend = "no_such_backend"
    x = torch.randn(2, 8, 2)
    msgs = _warnings_of(lambda: [_run_both(eager, comp, x) for _ in range(3)])
    assert len(msgs) == 1 and "compiling the loop failed" in msgs[0], msgs
    _assert_equal(_run_both(eager, comp, x), 1e-5)
    assert comp._compiled_loop().compiled_calls == 0
    # a sequence shorter than one chunk
    short = layers.RNN(UserLSTMCell(3), jit_compile=True)
    msgs = _warnings_of(lambda: [short(torch.randn(2, 2, 2)) for _ in range(2)])
    assert len(msgs) == 1 and "shorter than the compiled chunk" in msgs[0]


def test_batch_sizes_are_capped(aot, monkeypatch):
    monkeypatch.setattr(compiled, "MAX_SIGNATURES", 2)
    comp = layers.RNN(CustomRNNCell(2), jit_compile=True)
    comp._compiled_loop().chunk_size = 4
    with torch.no_grad():
        msgs = _warnings_of(lambda: [comp(torch.randn(b, 4, 3)) for b in (1, 2, 3, 4, 1, 2)])
    loop = comp._compiled_loop()
    assert (loop.compiles, loop.compiled_calls, loop.eager_calls) == (2, 4, 2)
    assert len(msgs) == 1 and "distinct input signatures" in msgs[0]


def test_cuda_graphs_are_requested_on_gpu_only():
    # The CUDA-graph path itself runs only on a GPU (not available on this machine); this checks
    # the device -> Inductor option mapping that selects it.
    assert inductor_patches(torch.device("cuda", 0)) == {"triton.cudagraphs": True}
    assert inductor_patches(torch.device("cpu")) == {}


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_backend_asks_inductor_for_cuda_graphs_on_cuda_only(monkeypatch, device):
    # What runs on a GPU, checked without one: the Dynamo backend of the compiled chunks is
    # handed graphs whose example inputs are fake CUDA tensors, and must ask Inductor for CUDA
    # graphs (and skip the CPU-only machine setup); on CPU, the reverse. (The chunks themselves
    # run on CPU in test_compiled_programs' "chunks" path: the same Dynamo path a GPU takes.)
    from torch._inductor import compile_fx as inductor_compile_fx
    from torch._subclasses.fake_tensor import FakeTensorMode

    calls = []
    monkeypatch.setattr(inductor_compile_fx, "compile_fx",
                        lambda gm, example, config_patches=None: calls.append(config_patches) or gm)
    monkeypatch.setattr(compiled.cpp_header, "prebuild", lambda **kw: calls.append("header"))
    monkeypatch.setattr(compiled.vec_isa, "wait", lambda: calls.append("isa"))
    with FakeTensorMode():
        example = [torch.empty(4, 3, device=device), torch.empty(4, 5, device=device)]
    loop = CompiledLoop(True, "t")
    gm = torch.fx.symbolic_trace(lambda a, b: a.sum() + b.sum())
    assert loop._backend(gm, example) is gm and loop.compiles == 1
    assert calls == ([{"triton.cudagraphs": True}] if device == "cuda" else ["header", "isa", {}])


def test_bad_arguments():
    with pytest.raises(ValueError, match="jit_compile must be False, True or 'auto'"):
        layers.RNN(CustomRNNCell(2), jit_compile="yes")
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        CompiledLoop(True, "x", chunk_size=0)


def test_import_rnnkit_does_not_import_dynamo():
    code = "import sys, rnnkit; from rnnkit import layers; layers.LSTM(3); print('torch._dynamo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ Inductor itself (slow)
@pytest.mark.slow
def test_inductor_user_cell_float32():
    eager, comp = _pair(lambda: UserLSTMCell(8), return_sequences=True, return_state=True)
    x = torch.randn(4, 10, 3)
    _assert_equal(_run_both(eager, comp, x), 1e-5)
    assert comp._compiled_loop().compiled_calls == 2  # the build call and the measured call


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm_mask_holes"])
def test_inductor_fixture_cases(name):
    case = next(c for c in CASES if c["name"] == name)
    layer, _ = replay(case, "compiled")
    assert all(r._compiled_loop().compiled_calls > 0 for r in _rnn_layers(layer))


# ------------------------------------------------------------------ every applicable fixture case
# The compiled runner serves the configurations that run on the generic loop: every case the
# fused kernel does not take (test_keras_fixtures.FUSED lists the others, which never reach it).
from .test_keras_fixtures import FUSED  # noqa: E402

APPLICABLE = [c["name"] for c in CASES if c["name"] not in FUSED and "time_distributed" not in c["name"]]


@pytest.mark.slow
def test_every_applicable_fixture_case_compiled(aot):
    """Every loop-run Keras case through the compiled runner: Keras's numbers to 1e-8."""
    ran = 0
    for name in APPLICABLE:
        case = next(c for c in CASES if c["name"] == name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CompiledRunnerWarning)
            layer, _ = replay(case, "compiled")
        ran += any(r._compiled_loop().compiled_calls > 0 for r in _rnn_layers(layer))
    assert ran == len(APPLICABLE) >= 15
