"""The compiled runner's fast path: split steps (rnnkit.runners.hoist) run as whole-sequence
programs (rnnkit.runners.partitioned), with the eager loop's numbers.

Three paths are compared with the eager loop wherever it matters: ``program`` (the default for a
cell that splits), ``chunks`` (split, but Dynamo-compiled chunks: ``partitioned = False``) and
``unsplit`` (``hoist = False``: the step as written). Tests build the programs without Inductor
(``aot_eager``: the partitioned FX graphs run as they are) except the one marked slow; each one
checks the counters that prove which path ran.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import layers
from rnnkit.runners.hoist import fingerprint, split_step

from .test_compiled_runner import UserLSTMCell, _assert_equal, _pair, _run_both, _warnings_of
from .tutorial_cells import CustomRNNCell, NestedCell

PATHS = ["program", "chunks", "unsplit"]


def _set_path(comp, path):
    loop = comp._compiled_loop()
    loop.partitioned = path == "program"
    loop.hoist = path != "unsplit"
    return loop


def _check_path(loop, path, calls):
    assert loop.compiled_calls == calls
    if path == "program":
        assert loop.program_calls == calls and loop.hoist_reason is None and loop.program_reason is None
    else:
        assert loop.program_calls == 0
    if path == "unsplit":
        assert not loop._splits


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "kw",
    [
        {"return_sequences": True, "return_state": True},
        {"go_backwards": True, "return_sequences": True},
        {"zero_output_for_mask": True, "return_sequences": True},
        {},
    ],
    ids=["seq_state", "backwards", "zero_out", "last"],
)
def test_user_cell_paths_equal_eager(aot, f64, path, kw):
    eager, comp = _pair(lambda: UserLSTMCell(5), **kw)
    loop = _set_path(comp, path)
    x = torch.randn(3, 10, 4, dtype=torch.float64)  # 10 steps: 3 chunks of 4, the last padded
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[0, 7:] = False
    mask[1, 2:4] = False  # a hole: the fused kernel could not run this, the loop can
    _assert_equal(_run_both(eager, comp, x, mask=mask), 1e-10)
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    _check_path(loop, path, 3)  # build call, masked call, unmasked call


@pytest.mark.parametrize("path", PATHS)
def test_tutorial_cells(aot, f64, path):
    eager, comp = _pair(lambda: NestedCell(3, 2, 2), return_sequences=True, return_state=True)
    loop = _set_path(comp, path)
    x = (torch.randn(2, 9, 4, dtype=torch.float64), torch.randn(2, 9, 2, 3, dtype=torch.float64))
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    _check_path(loop, path, 2)
    eager, comp = _pair(lambda: CustomRNNCell(5), return_sequences=True)
    loop = _set_path(comp, path)
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    _check_path(loop, path, 2)


def test_gradients_reach_inputs_and_initial_states_frozen_weights(aot, f64):
    """Input and initial-state gradients through the hoisted part and the programs; weights frozen."""
    eager, comp = _pair(lambda: UserLSTMCell(4))
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    eager(x), comp(x)
    comp.set_weights(eager.get_weights())
    eager.trainable = comp.trainable = False
    grads = []
    s0 = torch.randn(2, 2, 4, dtype=torch.float64)
    for layer in (eager, comp):
        xi = x.clone().requires_grad_()
        h0, c0 = (s.clone().requires_grad_() for s in s0)
        out = layer(xi, initial_state=[h0, c0])
        grads.append(torch.autograd.grad((out * out).sum(), [xi, h0, c0]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-10, rtol=0)
    assert comp._compiled_loop().program_calls == 2


def test_inference_program_under_no_grad(aot, f64):
    eager, comp = _pair(lambda: UserLSTMCell(4), return_sequences=True)
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    eager(x), comp(x)
    comp.set_weights(eager.get_weights())
    with torch.no_grad():
        a, b = eager(x), comp(x)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-10, rtol=0)
    loop = comp._compiled_loop()
    assert loop.program_calls == 2
    keys = [k for _, s in loop._splits.values() if s is not None for k in s.programs]
    assert any(not key[1] for key in keys)  # a program built for inference (key: sig, needs_grad, ...)


def test_training_converges_like_eager(aot):
    """A few SGD steps: compiled (program) and eager weights stay together."""
    eager, comp = _pair(lambda: UserLSTMCell(6))
    x, y = torch.randn(8, 12, 3), torch.randn(8, 6)
    eager(x), comp(x)
    comp.set_weights(eager.get_weights())
    for layer in (eager, comp):
        opt = torch.optim.SGD(layer.parameters(), lr=0.1)
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.mse_loss(layer(x), y).backward()
            opt.step()
    for a, b in zip(eager.get_weights(), comp.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    assert comp._compiled_loop().program_calls == 6


class ScaledCell(layers.Layer):
    """A cell whose math reads a plain Python attribute (a trace bakes it in)."""

    def __init__(self, units, **kw):
        super().__init__(**kw)
        self.units, self.state_size, self.scale = units, units, 1.0

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, x, states):
        h = torch.tanh(self.scale * (x @ self.kernel) + states[0] @ self.recurrent_kernel)
        return h, [h]


def test_changed_attribute_retraces(aot, f64):
    eager, comp = _pair(lambda: ScaledCell(3), return_sequences=True)
    x = torch.randn(2, 8, 2, dtype=torch.float64)
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    eager.cell.scale = comp.cell.scale = 3.0
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    loop = comp._compiled_loop()
    assert loop.program_calls == 3 and loop.traces == 2  # the change re-traced the step
    assert fingerprint(comp.cell) != fingerprint(ScaledCell(3))


# ------------------------------------------------------------------ what is not split, and why
class _Base(layers.Layer):
    def __init__(self, units=3, **kw):
        super().__init__(**kw)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")


class RandomCell(_Base):
    def call(self, x, states):
        h = x @ self.kernel + states[0] * torch.rand_like(states[0])
        return h, [h]


class BranchCell(_Base):
    def call(self, x, states):
        h = x @ self.kernel + states[0]
        if float(h.sum()) > 0:  # Python control flow on a tensor's value
            h = -h
        return h, [h]


class ConcatCell(_Base):
    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1] + self.units, self.units), name="kernel")

    def call(self, x, states):
        h = torch.tanh(torch.cat([x, states[0]], -1) @ self.kernel)
        return h, [h]


class CapturedTensorCell(_Base):
    def __init__(self, units=3, **kw):
        super().__init__(units, **kw)
        self.offset = torch.ones(units)  # neither a weight nor a buffer

    def call(self, x, states):
        h = x @ self.kernel + states[0] + self.offset
        return h, [h]


class InPlaceCell(_Base):
    def call(self, x, states):
        h = x @ self.kernel
        h.add_(states[0])
        return h, [h]


@pytest.mark.parametrize(
    "cls, why",
    [
        (RandomCell, "random"),
        (BranchCell, "tracing the step failed"),
        (ConcatCell, "depends on the inputs alone"),
        (CapturedTensorCell, "neither an input"),
        (InPlaceCell, "in place"),
    ],
)
def test_split_refusals_are_recorded_and_numbers_hold(aot, cls, why):
    layer = layers.RNN(cls())
    x = torch.randn(2, 8, 2)
    layer(x)
    step = layer._step_fn(x, False, None)
    split, reason = split_step(step, layer.cell, x[:, 0], [torch.zeros(2, 3)])
    assert split is None and why in reason
    if cls is RandomCell:
        return  # random numbers inside a compiled step differ from eager (documented)
    eager, comp = _pair(cls)
    msgs = _warnings_of(lambda: _assert_equal(_run_both(eager, comp, x), 1e-5))
    loop = comp._compiled_loop()
    assert loop.compiled_calls == 2 and loop.program_calls == 0 and why in loop.hoist_reason
    # the slower path is reported once, with the reason; a step with no input-only work is not
    # a slow path (nothing to split off) and says nothing
    split_msgs = [m for m in msgs if "could not be split" in m]
    if cls is ConcatCell:
        assert split_msgs == [], msgs
    else:
        assert len(split_msgs) == 1 and why in split_msgs[0], msgs


def test_a_program_that_cannot_be_built_warns_once_and_numbers_hold(aot, f64, monkeypatch):
    from rnnkit.runners import partitioned

    def refuse(*args, **kwargs):
        raise RuntimeError("refused for the test\nsecond line")

    monkeypatch.setattr(partitioned.ChunkProgram, "__init__", refuse)
    eager, comp = _pair(lambda: UserLSTMCell(5), return_sequences=True)
    x = torch.randn(3, 10, 4, dtype=torch.float64)
    msgs = _warnings_of(lambda: [_assert_equal(_run_both(eager, comp, x), 1e-10) for _ in range(2)])
    loop = comp._compiled_loop()
    assert loop.compiled_calls == 3 and loop.program_calls == 0  # (the first _run_both also builds)
    assert loop.program_reason == "RuntimeError: refused for the test"
    assert len(msgs) == 1 and "could not be built (RuntimeError: refused for the test)" in msgs[0], msgs


def test_split_moves_the_input_product_out_of_the_loop():
    layer = layers.RNN(UserLSTMCell(4))
    x = torch.randn(2, 6, 3)
    layer(x)
    step = layer._step_fn(x, False, None)
    split, reason = split_step(step, layer.cell, x[:, 0], [torch.zeros(2, 4), torch.zeros(2, 4)])
    assert reason is None and split.frontier_ops == ["aten.mm.default"]
    split.bind(layer.cell)
    hoisted = split.hoist(x.transpose(0, 1))  # (T, B, 16): x_t @ kernel for every step at once
    assert hoisted[0].shape == (6, 2, 16)
    torch.testing.assert_close(hoisted[0], (x @ layer.cell.kernel).transpose(0, 1))
    h = c = torch.zeros(2, 4)
    out, states = split.step([hoisted[0][0]], [h, c])
    ref_out, ref_states = step(x[:, 0], [h, c])
    torch.testing.assert_close(out, ref_out)
    for a, b in zip(states, ref_states):
        torch.testing.assert_close(a, b)


def test_unfuse_addmm_rewrites_products_with_the_same_numbers():
    from torch.fx.experimental.proxy_tensor import make_fx

    from rnnkit.runners.partitioned import unfuse_addmm

    def f(c, a, b, bias):
        gates = torch.addmm(bias, a, b).chunk(2, dim=-1)  # used by pointwise ops through views
        acc = torch.addmm(torch.addmm(c, a, b), a, b)  # an accumulation: stays addmm
        return torch.addmm(c, a, b).sigmoid()[:, :3] * gates[1], acc, torch.addmm(c, a, b, beta=0.5).tanh()

    args = [torch.randn(5, 6), torch.randn(5, 3), torch.randn(3, 6), torch.randn(6)]
    gm = make_fx(f, tracing_mode="fake")(*args)
    assert unfuse_addmm(gm.graph) == 2  # gates and the sigmoid's; beta / accumulation left alone
    gm.recompile()
    ops = [n.target for n in gm.graph.nodes if n.op == "call_function"]
    assert ops.count(torch.ops.aten.addmm.default) == 3 and ops.count(torch.ops.aten.mm.default) == 2
    for a, b in zip(gm(*args), f(*args)):
        torch.testing.assert_close(a, b)


class PeepholeCell(_Base):
    """A recurrent product (gathered) and a weight read elementwise per step (not a product)."""

    def build(self, input_shape):
        super().build(input_shape)
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")
        self.peep = self.add_weight(shape=(self.units,), initializer="ones", name="peep")

    def call(self, x, states):
        h = torch.tanh(x @ self.kernel + states[0] @ self.recurrent_kernel + self.peep * states[0])
        return h, [h]


def _gathered(comp):
    """Names of the cell tensors whose gradients the programs gather (``ChunkProgram.g_pos``)."""
    loop = comp._compiled_loop()
    progs = [p for _, s in loop._splits.values() if s is not None for p in s.programs.values() if p]
    return sorted({p.split.names[i] for p in progs if p.grad for i, _, _ in p.g_pos})


@pytest.mark.parametrize("make", [lambda: UserLSTMCell(5), lambda: PeepholeCell(4)], ids=["lstm", "peephole"])
def test_weight_gradients_gathered_per_chunk(aot, f64, make):
    """Recurrent kernels' gradients are one product per chunk (gather_weight_grads), with the
    eager loop's numbers; a weight read elementwise keeps its per-step sum."""
    eager, comp = _pair(make, return_sequences=True)
    x = torch.randn(3, 10, 4, dtype=torch.float64)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[1, 3:6] = False
    _assert_equal(_run_both(eager, comp, x, mask=mask), 1e-10)
    assert _gathered(comp) == ["recurrent_kernel"]
    assert comp._compiled_loop().program_calls == 2


def _masked_equal_with(monkeypatch, option, value, units, features, row, cut):
    """An eager and a compiled RNN(UserLSTMCell) with ``ChunkProgram.<option> = value``, checked
    equal (float64) on a batch of 3 x 10 steps whose ``row`` is masked from step ``cut``."""
    import rnnkit.runners.partitioned as pt

    monkeypatch.setattr(pt.ChunkProgram, option, value)
    eager, comp = _pair(lambda: UserLSTMCell(units), return_sequences=True)
    x = torch.randn(3, 10, features, dtype=torch.float64)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[row, cut:] = False
    _assert_equal(_run_both(eager, comp, x, mask=mask), 1e-10)
    return eager, comp, x


@pytest.mark.parametrize("once", [True, False], ids=["once_per_sequence", "per_chunk"])
def test_weight_only_saves_once_per_sequence(aot, f64, monkeypatch, once):
    """``W^T`` for the backward's products (``ChunkProgram.weight_saves``): computed once per
    sequence and contiguous, or saved per chunk as the partitioner has it; same numbers."""
    eager, comp, x = _masked_equal_with(monkeypatch, "weight_saves", once, units=5, features=4, row=0, cut=7)
    loop = comp._compiled_loop()
    (prog,) = [p for _, s in loop._splits.values() if s is not None for p in s.programs.values()]
    W = dict(zip(prog.split.names, prog.split.tensors))["recurrent_kernel"]
    saved = prog.weights_saved(list(prog.split.tensors))
    if once:  # the recurrent kernel's transpose, as a contiguous copy; not among a chunk's saves
        assert any(t.shape == W.t().shape and torch.equal(t, W.t()) and t.is_contiguous() for t in saved)
        assert sum(w for w, _ in prog.slots) == len(saved) >= 1
    else:
        assert prog.prep is None and saved == [] and not any(w for w, _ in prog.slots)


def test_weight_only_saves_leave_random_and_strided_values():
    from torch.fx.experimental.proxy_tensor import make_fx

    from rnnkit.runners.program_passes import weight_only_saves

    w, h = torch.randn(3, 4), torch.randn(2, 3)
    fw = make_fx(lambda w, h: (h @ w, w.t(), torch.rand_like(w), w * 2), tracing_mode="fake")(w, h)
    bw = make_fx(lambda a, b, c, g: (g @ a, b.sum() * g, torch.as_strided(c, (4,), (1,)).sum() * g),
                 tracing_mode="fake")(w.t(), w, w, torch.randn(2, 4))
    prep, positions = weight_only_saves(fw, bw, 1, 1)
    assert positions == [0]  # w.t(); not the random values, not the one read through as_strided
    assert len(fw(w, h)) == 3 and torch.equal(prep(w)[0], w.t())
    fw2 = make_fx(lambda w, h: (h @ w, h.t()), tracing_mode="fake")(w, h)
    bw2 = make_fx(lambda ht, g: ht @ g, tracing_mode="fake")(h.t(), torch.randn(2, 4))
    assert weight_only_saves(fw2, bw2, 1, 1) == (None, [])  # nothing of the weights alone


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "apart"])
def test_saved_values_packed_per_chunk(aot, f64, monkeypatch, packed):
    """A chunk's saved values of one shape travel as one stacked tensor
    (``ChunkProgram.packed_saves``) or one tensor each; same numbers, fewer saved tensors."""
    eager, comp, x = _masked_equal_with(monkeypatch, "packed_saves", packed, units=5, features=4, row=1, cut=3)
    loop = comp._compiled_loop()
    (prog,) = [p for _, s in loop._splits.values() if s is not None for p in s.programs.values()]
    assert loop.program_calls >= 1
    if packed:  # the gates, c and tanh(c) of each of the chunk's steps: at least 4 per step
        assert prog.n_packed >= 4 * prog.K
    else:
        assert prog.n_packed == 0


def test_pack_saves_leaves_inputs_views_strided_reads_and_lone_shapes():
    from torch.fx.experimental.proxy_tensor import make_fx

    from rnnkit.runners.program_passes import pack_saves

    h, m = torch.randn(3, 4), torch.randn(2, 3)
    # saved: h itself, m[0] (a view), sin, cos, exp (read through as_strided), h.sum(0) (alone)
    fw = make_fx(lambda h, m: (h * 2, h, m[0], h.sin(), h.cos(), h.exp(), h.sum(0)), tracing_mode="fake")(h, m)

    def backward(a, b, s, c, e, t, g):
        return (g * a * s * c + torch.as_strided(e, (12,), (1,)).view(3, 4) + t + b[:, None],)

    example = [torch.randn(3, 4), torch.randn(3), torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4),
               torch.randn(4), torch.randn(3, 4)]  # (distinct tensors: make_fx merges repeated ones)
    bw = make_fx(backward, tracing_mode="fake")(*example)
    assert pack_saves(fw, bw, 1) == [2, 3]  # sin and cos only
    out = fw(h, m)
    assert len(out) == 1 + 4 + 1 and out[-1].shape == (3, 2, 4)  # stacked on the second axis
    assert torch.equal(out[-1][:, 0], h.sin()) and torch.equal(out[-1][:, 1], h.cos())
    g = torch.randn(3, 4)
    assert torch.allclose(bw(*out[1:], g)[0], backward(h, m[0], h.sin(), h.cos(), h.exp(), h.sum(0), g)[0])
    lone = make_fx(lambda h: (h * 2, h.sin(), h.sum(0)), tracing_mode="fake")(h)
    lone_bw = make_fx(lambda s, t, g: (g * s + t,), tracing_mode="fake")(torch.randn(3, 4), torch.randn(4),
                                                                         torch.randn(3, 4))
    assert pack_saves(lone, lone_bw, 1) == []  # no two alike: nothing changes
    assert len(lone(h)) == 3


@pytest.mark.parametrize("inside", [True, False], ids=["inside", "whole_sequence"])
def test_input_part_inside_the_programs_or_over_the_sequence(aot, f64, monkeypatch, inside):
    """Both places for the input part (``ChunkProgram.inputs_inside``): the eager loop's outputs
    and weight gradients, and input gradients only when the inputs require them."""
    eager, comp, x = _masked_equal_with(monkeypatch, "inputs_inside", inside, units=4, features=2, row=2, cut=5)
    grads = []
    for layer in (eager, comp):
        xi = x.clone().requires_grad_()
        grads.append(torch.autograd.grad((layer(xi) ** 2).sum(), [xi, *layer.weights]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-10, rtol=0)
    loop = comp._compiled_loop()
    progs = [p for _, s in loop._splits.values() if s is not None for p in s.programs.values()]
    assert {p.raw for p in progs} == {inside} and loop.program_calls == 3
    if inside:  # a second program for inputs that require grad (the first gives them none)
        assert sorted(p.h_pos[0] is None for p in progs) == [False, True]


@pytest.mark.parametrize("per_step", [True, False], ids=["per_step", "batched"])
def test_per_step_input_products_and_masks(aot, f64, monkeypatch, per_step):
    """``ChunkProgram.step_inputs``: one input product and one mask input per step (the step
    kernels then compile once) or one of each per chunk: the eager loop's outputs, states and
    gradients (inputs, weights) either way, nested inputs included."""
    import rnnkit.runners.partitioned as pt

    monkeypatch.setattr(pt.ChunkProgram, "step_inputs", per_step)
    eager, comp = _pair(lambda: UserLSTMCell(4), return_sequences=True, return_state=True)
    x = torch.randn(3, 10, 2, dtype=torch.float64)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[2, 5:] = False
    mask[0, 1:3] = False
    _assert_equal(_run_both(eager, comp, x, mask=mask), 1e-10)
    grads = []
    for layer in (eager, comp):
        xi = x.clone().requires_grad_()
        out = layer(xi, mask=mask)
        grads.append(torch.autograd.grad(sum((o ** 2).sum() for o in out), [xi, *layer.weights]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-10, rtol=0)
    eager_n, comp_n = _pair(lambda: NestedCell(3, 2, 2), return_sequences=True, return_state=True)
    xn = (torch.randn(2, 9, 4, dtype=torch.float64), torch.randn(2, 9, 2, 3, dtype=torch.float64))
    _assert_equal(_run_both(eager_n, comp_n, xn), 1e-10)
    for c in (comp, comp_n):
        loop = c._compiled_loop()
        progs = [p for _, sp in loop._splits.values() if sp is not None for p in sp.programs.values()]
        assert progs and all(p.step_inputs is per_step and p.n_m == (p.K if per_step else 1) for p in progs)
        assert loop.program_calls >= 2


def test_per_step_inputs_by_default_only_for_large_products(aot):
    """The default (None) picks per-step products from the size of one step's product."""
    import rnnkit.runners.partitioned as pt

    for (B, F, U), expect in [((64, 28, 64), False), ((16, 64, 512), True)]:
        comp = layers.RNN(UserLSTMCell(U), jit_compile=True)
        comp(torch.randn(B, 8, F))
        loop = comp._compiled_loop()
        (prog,) = [p for _, sp in loop._splits.values() for p in sp.programs.values()]
        assert prog.step_inputs is expect, (B, F, U)
        assert prog.cpp_wrapper is not expect, (B, F, U)  # (the C++ wrapper where calls are short)
    assert pt.ChunkProgram.step_inputs is None and pt.ChunkProgram.cpp_wrapper is None


def test_new_thread_count_rebuilds_the_program(aot, f64):
    """Inductor compiles a CPU kernel serial or parallel for the thread count it sees, so a new
    ``torch.set_num_threads`` gets its own program (same numbers)."""
    eager, comp = _pair(lambda: UserLSTMCell(4))
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    loop = comp._compiled_loop()
    before = loop.compiles
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads > 1 else 2)
        _assert_equal(_run_both(eager, comp, x), 1e-10)
        assert loop.compiles == before + 1 and loop.program_calls == 3
    finally:
        torch.set_num_threads(threads)
    comp(x)  # back on the first count: its program again
    assert loop.compiles == before + 1 and loop.program_calls == 4


@pytest.mark.parametrize("path", ["program", "chunks"])
def test_default_chunk_size_fixed_on_the_first_compiled_call(aot, f64, path):
    """Without a chunk size, the programs take the one that pads the first compiled call's T
    least (5 for 30 steps, where 4 would pad two); the Dynamo chunks DEFAULT_CHUNK. A later T
    is padded to that size by the same program (not rebuilt), with the eager loop's numbers."""
    from rnnkit.runners.compiled import DEFAULT_CHUNK

    expect = 5 if path == "program" else DEFAULT_CHUNK
    eager, comp = _pair(lambda: UserLSTMCell(4))
    loop = _set_path(comp, path)
    loop.chunk_size = None  # (_pair fixes 4)
    _assert_equal(_run_both(eager, comp, torch.randn(2, 30, 3, dtype=torch.float64)), 1e-10)
    assert loop.chunk_size == expect
    _check_path(loop, path, 2)  # build call and compared call
    compiles = loop.compiles
    x = torch.randn(2, 33, 3, dtype=torch.float64)  # 33 steps: padded to 35 (or 36)
    mask = torch.ones(2, 33, dtype=torch.bool)
    mask[1, 25:] = False
    _assert_equal(_run_both(eager, comp, x, mask=mask), 1e-10)
    assert loop.chunk_size == expect
    assert loop.compiles == compiles  # no new program or graph for the new length
    _check_path(loop, path, 3)


def test_gather_weight_grads_leaves_other_sums():
    from torch.fx.experimental.proxy_tensor import make_fx

    from rnnkit.runners.partitioned import gather_weight_grads

    def f(h0, h1, d0, d1, w):
        shared = h0.t() @ d0
        return (shared + h1.t() @ d1,  # the first product also leaves the graph: left alone
                h0.t() @ d0 + w @ w,  # factors of different shapes: left alone
                h0.t() @ d0 + h1.t() @ d1 + w,  # a term that is no product: left alone
                shared, h1.t() @ d0 + h0.t() @ d1)  # gathered

    args = [torch.randn(3, 2) for _ in range(4)] + [torch.randn(2, 2)]
    gm = make_fx(f, tracing_mode="fake")(*args)
    assert gather_weight_grads(gm, [0, 1, 2, 4]) == [(4, 5)]
    out = gm(*args)
    ref = f(*args)
    for a, b in zip(out[:4], ref[:4]):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(out[4] @ out[5], ref[4])


@pytest.mark.parametrize("form", ["stack", "cat"])  # (Inductor's decompositions write a stack as a cat)
def test_gathered_factor_reuses_a_stack_of_the_same_gradients(form):
    """When the graph already stacks the b_k (the batched input part's gradient), the gathered
    factor is that stack (a view of it), in the stack's order, not a second concatenation."""
    from torch.fx.experimental.proxy_tensor import make_fx

    from rnnkit.runners.partitioned import gather_weight_grads

    def f(h0, h1, d0, d1, x):
        rows = torch.stack([d1, d0]).view(6, 2) if form == "stack" else torch.cat([d1, d0])
        return h0.t() @ d0 + h1.t() @ d1, x.t() @ rows  # (the stack's order differs from the sum's)

    args = [torch.randn(3, 2) for _ in range(4)] + [torch.randn(6, 4)]
    gm = make_fx(f, tracing_mode="fake")(*args)
    cats = sum(n.target is torch.ops.aten.cat.default for n in gm.graph.nodes)
    assert gather_weight_grads(gm, [0]) == [(0, 2)]
    nodes = list(gm.graph.nodes)
    assert sum(n.target is torch.ops.aten.cat.default for n in nodes) == cats + 1  # the a's only
    factor = next(n for n in nodes if n.op == "output").args[0][2]
    if form == "stack":
        assert factor.target is torch.ops.aten.view.default and factor.args[0].target is torch.ops.aten.stack.default
    else:
        assert factor.target is torch.ops.aten.cat.default and len(factor.users) == 2  # x's product and out
    a, g_in, b = gm(*args)
    ref = f(*args)
    torch.testing.assert_close(a @ b, ref[0])
    torch.testing.assert_close(g_in, ref[1])


# ------------------------------------------------------------------ Inductor itself (slow)
@pytest.mark.slow
def test_inductor_program_user_cell_float32(monkeypatch):
    import torch._inductor.config as inductor_config

    import rnnkit.runners.program_passes as pp

    rewrites = []
    real = pp.unfuse_addmm
    monkeypatch.setattr(pp, "unfuse_addmm", lambda g: rewrites.append(real(g)))
    eager, comp = _pair(lambda: UserLSTMCell(8), return_sequences=True, return_state=True)
    x = torch.randn(4, 10, 3)
    with inductor_config.patch(fx_graph_cache=False):  # a cache hit would skip the passes
        _assert_equal(_run_both(eager, comp, x), 1e-5)
    mask = torch.ones(4, 10, dtype=torch.bool)
    mask[0, 6:] = False
    mask[2, 1:3] = False  # a hole
    _assert_equal(_run_both(eager, comp, x, mask=mask), 1e-5)  # masks are inputs: no recompile
    _assert_equal(_run_both(eager, comp, x[:, :7]), 1e-5)  # nor a new length
    loop = comp._compiled_loop()
    assert loop.program_calls == 4 and loop.compiles == 1
    assert sum(rewrites) > 0  # the products' adds went to the pointwise kernels (unfuse_addmm)
    assert _gathered(comp) == ["recurrent_kernel"]  # one weight-gradient product per chunk
    (prog,) = [p for _, sp in loop._splits.values() for p in sp.programs.values()]
    # a small step: both programs built with Inductor's C++ wrapper, tanh as one exp
    assert prog.cpp_wrapper and len(prog.compiled) == 2 and prog.n_packed >= 4 * prog.K
    assert all("inductor_entry" in code.source_code for code in prog.compiled)
    assert all(".tanh()" not in code.source_code for code in prog.compiled)
    # the programs assume the layouts they were built for (no size asserts): transposed initial
    # states and a transposed weight are made contiguous for them, not read as other numbers
    # (before: off by up to 0.9)
    h0, c0 = torch.randn(8, 4).t(), torch.randn(8, 4).t()
    _assert_equal(_run_both(eager, comp, x, initial_state=[h0, c0]), 1e-5)
    kernel = comp.cell.kernel
    kernel.data = kernel.data.t().contiguous().t()
    assert not kernel.is_contiguous()
    _assert_equal(_run_both(eager, comp, x, initial_state=[h0, c0]), 1e-5)
    assert loop.compiles == 1 and loop.program_calls == 6


def test_unfreezing_weights_rebuilds_the_program(aot, f64):
    """Frozen first, trainable later: the new requires_grad flags re-trace (no stale program
    that would leave the weights without gradients)."""
    eager, comp = _pair(lambda: UserLSTMCell(4))
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    eager(x), comp(x)
    comp.set_weights(eager.get_weights())
    comp.trainable = False
    xi = x.clone().requires_grad_()
    (comp(xi) ** 2).sum().backward()
    assert all(w.grad is None for w in comp.weights)
    comp.trainable = True
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    assert all(w.grad is None for w in eager.weights)  # (_run_both uses autograd.grad)
    loop = comp._compiled_loop()
    assert loop.program_calls == 3 and loop.traces == 3  # trainable, frozen, trainable again


def test_autocast_runs_the_dynamo_chunks(aot):
    eager, comp = _pair(lambda: UserLSTMCell(4))
    x = torch.randn(2, 8, 3)
    eager(x), comp(x)
    comp.set_weights(eager.get_weights())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = eager(x), comp(x)
    np.testing.assert_allclose(a.float().detach().numpy(), b.float().detach().numpy(), atol=2e-2)
    loop = comp._compiled_loop()
    assert loop.compiled_calls == 2 and loop.program_calls == 1  # the build call only


class MixedCell(_Base):
    """Input-only work (``x @ kernel``) and raw inputs inside the recurrent part (``h * x``)."""

    def call(self, x, states):
        h = torch.tanh(x @ self.kernel + (states[0][:, :2] * x).sum(-1, keepdim=True))
        return h, [h]


def test_raw_inputs_in_the_recurrent_part(aot, f64):
    eager, comp = _pair(MixedCell, return_sequences=True)
    x = torch.randn(3, 9, 2, dtype=torch.float64)
    _assert_equal(_run_both(eager, comp, x), 1e-10)
    loop = comp._compiled_loop()
    assert loop.program_calls == 2
    split = next(s for _, s in loop._splits.values() if s is not None)
    assert split.x_used == [0] and split.frontier_ops


def test_faster_in_onednn_leaves_small_products_to_mkl(monkeypatch, tmp_path):
    import rnnkit.runners.program_passes as pp

    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path))
    monkeypatch.setattr(pp, "_onednn_choice", {})
    assert not pp.faster_in_onednn(64, 64, 256)  # below ONEDNN_MIN_MACS: not even measured
    assert pp._onednn_choice == {} and not (tmp_path / pp.ONEDNN_RECORD).exists()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    choice = pp.faster_in_onednn(64, 256, 1024)  # measured once, then kept and recorded
    assert choice in (True, False)
    assert list(pp._onednn_choice) == [(64, 256, 1024, torch.get_num_threads())]
    assert torch.equal(torch.rand(3), expected)  # (the measurement draws no random numbers)
    # a later process reads the machine's choice instead of measuring again (same numbers)
    monkeypatch.setattr(pp, "_onednn_choice", {})
    monkeypatch.setattr(pp, "_measure_onednn", lambda *a: pytest.fail("measured again"))
    assert pp.faster_in_onednn(64, 256, 1024) == choice
    monkeypatch.setenv(pp.ONEDNN_ENV, "0")
    assert not pp.faster_in_onednn(64, 256, 1024)


@pytest.mark.slow
def test_inductor_program_with_onednn_products(monkeypatch):
    """Products moved to oneDNN (where it measured faster; here forced) inside an Inductor
    program built with its Python wrapper: the eager loop's numbers, and oneDNN ran."""
    import rnnkit.runners.partitioned as pt

    monkeypatch.setattr(pt, "faster_in_onednn", lambda M, K, N: True)
    monkeypatch.setattr(pt.ChunkProgram, "cpp_wrapper", False)
    eager, comp = _pair(lambda: UserLSTMCell(8), return_sequences=True, return_state=True)
    x = torch.randn(4, 10, 3)
    _assert_equal(_run_both(eager, comp, x), 1e-5)
    loop = comp._compiled_loop()
    (prog,) = [p for _, sp in loop._splits.values() for p in sp.programs.values()]
    assert not prog.cpp_wrapper and prog.onednn_shapes
    assert all("rnnkit.onednn_mm" in code.source_code for code in prog.compiled)
    assert loop.program_calls == 2
