"""Whole-sequence autograd over compiled K-step programs (the compiled runner's fast path).

For a step that :mod:`rnnkit.runners.hoist` could split, the recurrent part is unrolled K steps
(masking included) into one ATen graph, differentiated once into a joint forward-backward graph,
partitioned into a forward and a backward program (AOTAutograd's min-cut partitioner: what the
backward needs is saved, cheap pointwise work is recomputed), and each program is compiled by
Inductor as an inference graph. One :class:`torch.autograd.Function` then covers the whole
sequence: its forward calls the forward program once per chunk, its backward calls the backward
program once per chunk in reverse. So a training step pays two compiled calls per chunk and one
autograd node per sequence, not a Dynamo guard check, an AOTAutograd wrapper and an autograd node
per chunk (on a small CPU shape that overhead was half of the step). The backward program
returns the factors of the recurrent weights' gradients (:func:`gather_weight_grads`), so each
such gradient is one product per chunk instead of one per step. By default the programs read the
layer's inputs and run the step's input part themselves, batched over the chunk's K steps
(``raw``): one product per chunk for ``x_t @ kernel`` and for its gradient, and no
whole-sequence buffer of hoisted values to write, read back and concatenate the gradient of
(measured against hoisting over the whole sequence: training step 0.92-0.98x at (64, 28, 28, 64),
0.97x at (64, 100, 128, 256)).

Private PyTorch APIs used (guarded: any failure falls back to the Dynamo path):
``torch._functorch.partitioners.min_cut_rematerialization_partition`` and
``torch._inductor.compile_fx.compile_fx_inner`` (and the ``current_callable`` of what it
returns, ``torch.autograd.profiler._is_profiler_enabled``); the public custom-pass hook
``torch._inductor.custom_graph_pass`` runs :func:`unfuse_addmm` on each program. The graph
rewrites (:func:`unfuse_addmm`, :func:`gather_weight_grads`, ``weight_only_saves``) live in
:mod:`rnnkit.runners.program_passes`.
"""

from __future__ import annotations

import torch

from rnnkit.runners import cpp_header, vec_isa
from rnnkit.runners.loop import _expand
from rnnkit.runners.program_passes import (
    _unfuse_pass,
    faster_in_onednn,
    gather_weight_grads,
    mm_shapes,
    pack_saves,
    unfuse_addmm,
    weight_only_saves,
)

__all__ = ["ChunkProgram", "gather_weight_grads", "unfuse_addmm"]


def _checked(gm):
    """``gm`` after checking it is functional (Inductor's inner compiler needs that)."""
    for n in gm.graph.nodes:
        if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload) and n.target._schema.is_mutable:
            raise RuntimeError(f"the traced chunk mutates a tensor ({n.target})")
    return gm


def _reads(gm, n):
    """Whether each of the first ``n`` inputs of graph module ``gm`` is read."""
    return [bool(p.users) for p in gm.graph.nodes if p.op == "placeholder"][:n]


#: multiply-adds of one step's input product from which ChunkProgram runs one product per step
STEP_INPUTS_MIN_MACS = 1 << 21


def _large_input_product(pre, P, h_chunk) -> bool:
    """Whether one step's input part is a product of at least :data:`STEP_INPUTS_MIN_MACS`
    multiply-adds, estimated as (elements it produces per step) x (features of a step's input row)
    (``B * 4U * F`` for an LSTM's ``x_t @ kernel``: 0.46 M at (64, 28, 28, 64), 8.4 M at
    (64, 100, 128, 256)).

    >>> pre = lambda W, x: [x @ W]
    >>> W, x = torch.zeros(128, 1024), torch.zeros(4, 64, 128)  # K=4 steps of (B=64, F=128)
    >>> _large_input_product(pre, [W], [x]), _large_input_product(pre, [W[:28]], [x[..., :28]])
    (True, False)
    """
    with torch.no_grad():
        out = pre(*P, *h_chunk)
    K = h_chunk[0].shape[0]
    produced = sum(o.numel() for o in out) // K
    features = sum(h[0, 0].numel() for h in h_chunk)
    return produced * features >= STEP_INPUTS_MIN_MACS


class ChunkProgram:
    """Compiled forward / backward programs for K steps of a split step, at one signature.

    Args:
        split: a bound :class:`~rnnkit.runners.hoist.SplitStep`.
        K: steps per chunk; ``keep``: also return every step's (masked) outputs.
        h_chunk: example inputs of one chunk, time-major ``(K, B, ...)``: the hoisted values
            (``split.hoist``), or with ``raw`` the layer's input leaves.
        states, prev, mask_chunk: example states, previous outputs, ``(K, B)`` mask.
        grad: build the training programs (else one inference program).
        compile: compile the programs with Inductor (False: run the FX graphs uncompiled).
        raw: the programs run the step's input part on each chunk of inputs themselves.

    >>> from rnnkit.runners.hoist import split_step
    >>> cell = torch.nn.Linear(2, 2)
    >>> def step(x, s):
    ...     h = torch.tanh(x + cell(s[0]))
    ...     return h, [h]
    >>> x, h0 = torch.randn(8, 3, 2), torch.zeros(3, 2)  # (T, B, F): 2 chunks of K=4
    >>> split, _ = split_step(lambda x, s: step(x * 2, s), cell, x[0], [h0])
    >>> H = split.bind(cell).hoist(x)
    >>> mask = torch.ones(8, 3, dtype=torch.bool)
    >>> prog = ChunkProgram(split, 4, False, [H[0][:4]], [h0], [h0], mask[:4], grad=True,
    ...                     compile=False)
    >>> states, last, _ = prog.run(H, [h0], mask, [h0], 2)
    >>> ref = h0
    >>> for t in range(8):
    ...     ref = step(x[t] * 2, [ref])[0]
    >>> torch.allclose(last[0], ref)
    True
    """

    #: Inductor config patches for the programs: no size asserts (a call per buffer per call);
    #: ``tanh(x)`` as ``2 / (1 + exp(-2x)) - 1``, one Sleef ``exp`` instead of Sleef's ``tanh``
    #: (the gate kernels ran 27 -> 18 us at (B, U) = (64, 64); training step 0.93-0.94x at
    #: (64, 28, 28, 64), 0.97x at (64, 100, 128, 256)). Its absolute error is at most 1.8e-7 in
    #: float32 (3.3e-16 in float64) over [-12, 12], against 3.2e-8 for eager ``tanh``; but
    #: near 0 it is absolute, not relative (float32 ``tanh(1e-8)`` reads 0): drop this key
    #: where a cell divides by a tanh of tiny values.
    config_patches: dict = {"size_asserts": False, "cpp.use_decompose_tanh": True}
    #: compile each program with Inductor's C++ wrapper (its kernels and products called from
    #: C++, no Python between them: about 50 us less per program call, 14 calls in a 5 ms
    #: training step at (64, 28, 28, 64), which ran 0.93x on two threads), at the cost of a
    #: larger C++ file to build. None: only where a step's input product is small (as for
    #: ``step_inputs``): at (64, 100, 128, 256) it gained 3% of a 120 ms step and cost 2.8 s of
    #: its cold compile (14.4 s against 11.6 s, bench_compile.py)
    cpp_wrapper: bool | None = None
    #: compute recurrent weights' gradients once per chunk (:func:`gather_weight_grads`)
    gather_grads: bool = True
    #: saved values of the weights alone (the ``W^T`` of the backward's products) computed once
    #: per sequence and contiguous, not saved per chunk as views (:func:`weight_only_saves`)
    weight_saves: bool = True
    #: a chunk's saved values of one shape and dtype as one stacked tensor (:func:`pack_saves`):
    #: one buffer, one tensor to save and hand over instead of ~6 per step (an LSTM cell at K=4:
    #: 29 forward outputs became 14). Training step 0.93-1.01x (median 0.96x, four in-process
    #: A/Bs) at (64, 28, 28, 64), 0.99x at (64, 100, 128, 256)
    packed_saves: bool = True
    #: let oneDNN multiply the float32 products it multiplies at least 10% faster than MKL on
    #: this machine and thread count (measured per shape: ``faster_in_onednn``); large products
    #: only. On the 2-core AMD EPYC VM: the large shape's ``(64, 256) @ (256, 1024)`` 1.3-1.4x
    #: faster on two threads; the small shape's products stay MKL's (oneDNN 2x slower there)
    onednn: bool = True
    #: run the input part inside the chunk programs (``raw``) instead of over the whole sequence
    inputs_inside: bool = True
    #: with ``raw``: one input product per step (each its own buffer) and one mask input per step,
    #: so the K steps' pointwise kernels are the same C++ and Inductor compiles it once (the forward
    #: program's 4 kernels became 2 at the large CPU shape: cold compile 17-19 s against 21-23 s).
    #: None: only when a step's product is large (:data:`STEP_INPUTS_MIN_MACS`); at the small shape
    #: the K products of 64 rows cost 6% of the step on two threads, at the large one nothing.
    step_inputs: bool | None = None

    def __init__(self, split, K, keep, h_chunk, states, prev, mask_chunk, grad, compile=True, raw=False):
        from torch.fx.experimental.proxy_tensor import make_fx

        decomps = None
        self.compiled = []  # Inductor's compiled programs (with ``compile``)
        self.onednn_shapes = set()  # the (M, K, N) of the products oneDNN multiplies
        if compile:
            from torch._inductor import config as inductor_config
            from torch._inductor.compile_fx import compile_fx_inner
            from torch._inductor.decomposition import select_decomp_table

            decomps = select_decomp_table()
            patches = {"post_grad_custom_post_pass": _unfuse_pass(), **self.config_patches}

            def compile_fx(gm, example):
                # the graphs are already ATen-level, decomposed and functional: Inductor's
                # inner compiler, without AOTAutograd's runtime wrappers around each call
                vec_isa.wait()  # (once per process; see rnnkit.runners.vec_isa)
                if self.onednn and not self.cpp_wrapper:  # products oneDNN multiplies faster here
                    chosen = frozenset(s for s in mm_shapes(gm) if faster_in_onednn(*s))
                    self.onednn_shapes |= chosen
                    patches["post_grad_custom_post_pass"] = _unfuse_pass(chosen)
                with inductor_config.patch(patches):
                    code = compile_fx_inner(gm, example, is_inference=True, cpp_wrapper=self.cpp_wrapper)
                self.compiled.append(code)

                direct = getattr(code, "current_callable", None) is not None

                def call(*args):
                    # the compiled function itself: the CompiledFxGraph's __call__ around it
                    # (metrics, autotune-cache and profiler bookkeeping) took 6-15 us of a
                    # 200 us call at (64, 28, 28, 64); a profiler still sees it labelled
                    if direct and not torch.autograd.profiler._is_profiler_enabled:
                        return code.current_callable(list(args))
                    return code(list(args))

                return call
        else:  # run the partitioned graphs as they are (tests of the logic; no code generation)
            def compile_fx(gm, example):
                return gm

        self.split, self.K, self.keep, self.grad, self.raw = split, K, keep, grad, raw
        # weights and states as every call passes them (:meth:`run`): contiguous. The compiled
        # programs assume their example inputs' layouts (no size asserts), so a transposed
        # initial state would otherwise read as the wrong numbers
        P = [p.contiguous() for p in split.tensors]
        states = [s.contiguous() for s in states]  # (``prev``: the runner's zeros, contiguous)
        # raw: the chunk reads the layer's inputs and runs the input part itself, batched over
        # its K steps (one product per chunk, no whole-sequence buffer of hoisted values)
        self.pre = split.batched_input_part(list(h_chunk)) if raw else None
        x_grad = [h.requires_grad for h in h_chunk]
        self.n_p, self.n_h, self.n_s, self.n_o = len(P), len(h_chunk), len(states), len(prev)
        # (both fixed per program: the class defaults may change)
        large = raw and _large_input_product(self.pre, P, h_chunk)
        self.step_inputs = raw and (large if self.step_inputs is None else bool(self.step_inputs))
        self.cpp_wrapper = (not large) if self.cpp_wrapper is None else bool(self.cpp_wrapper)
        if compile:  # the C++ header Inductor will compile against, in the background of the tracing
            cpp_header.prebuild(self.cpp_wrapper)
        self.n_m = K if self.step_inputs else 1
        masks = mask_chunk.unbind(0) if self.step_inputs else [mask_chunk]
        example = [*(p.detach() for p in P), *(h.detach() for h in h_chunk), *(s.detach() for s in states),
                   *masks, *(o.detach() for o in prev)]
        if not grad:
            gm = make_fx(self._chunk, tracing_mode="fake", decomposition_table=decomps)(*example)
            self.infer = compile_fx(_checked(gm), example)
            return
        from torch._functorch.partitioners import min_cut_rematerialization_partition

        i_mask = self.n_p + self.n_h + self.n_s
        # weights the programs read (without ``raw``, the input part's ``kernel`` is not one)
        used = _reads(split.post, self.n_p)
        if raw:
            used = [a or b for a, b in zip(used, _reads(self.pre, self.n_p))]

        def differentiable(i, t):
            if i_mask <= i < i_mask + self.n_m or not t.is_floating_point():
                return False
            if i < self.n_p:  # a weight read here that requires grad
                return P[i].requires_grad and used[i]
            if raw and i < self.n_p + self.n_h:  # a raw input: as the caller's
                return x_grad[i - self.n_p]
            return True  # hoisted values, states, previous outputs

        self.diff = diff = [differentiable(i, t) for i, t in enumerate(example)]
        self.n_out = n_out = self.n_s + self.n_o + (self.n_o if keep else 0)
        # where each gradient sits among the backward program's outputs (one per diff input):
        # weights (index, position), recurrent inputs, then states and outputs leaving a chunk
        pos = {i: j for j, i in enumerate(i for i, d in enumerate(diff) if d)}
        n_ph = self.n_p + self.n_h
        self.p_pos = [(i, pos[i]) for i in range(self.n_p) if i in pos]
        self.h_pos = [pos.get(self.n_p + j) for j in range(self.n_h)]  # (None: no gradient)
        self.c_pos = [pos[i] for i in (*range(n_ph, n_ph + self.n_s),
                                       *range(i_mask + self.n_m, i_mask + self.n_m + self.n_o))]

        def joint(primals, tangents):
            outs = self._chunk(*primals)
            d_in = [p for p, d in zip(primals, diff) if d]
            grads = torch.autograd.grad(outs, d_in, tangents, allow_unused=True)
            return outs, [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, d_in)]

        primals = [t.detach().requires_grad_(d) for t, d in zip(example, diff)]
        with torch.no_grad():
            outs = self._chunk(*example)  # one eager chunk: output shapes for the tangents
        tangents = [torch.zeros_like(o) for o in outs]
        joint_gm = _checked(make_fx(joint, tracing_mode="fake", decomposition_table=decomps)(primals, tangents))
        fw, bw = min_cut_rematerialization_partition(joint_gm, None, num_fwd_outputs=n_out)
        # recurrent weights' gradients as one product per chunk (``bw`` returns the factors)
        gathered = dict(gather_weight_grads(bw, [j for _, j in self.p_pos])) if self.gather_grads else {}
        self.g_pos = [(i, j, gathered[j]) for i, j in self.p_pos if j in gathered]
        self.p_pos = [(i, j) for i, j in self.p_pos if j not in gathered]
        # saved values of the weights alone (W^T): once per sequence, contiguous, not per chunk
        self.prep, taken = weight_only_saves(fw, bw, self.n_p, n_out) if self.weight_saves else (None, [])
        self.n_packed = 0  # saved values that travel in a stacked tensor (:func:`pack_saves`)
        if self.packed_saves:
            removed = pack_saves(fw, bw, n_out, taken)
            taken = [k - sum(r < k for r in removed) for k in taken]
            self.n_packed = len(removed)
        with torch.no_grad():
            per_chunk = list(fw(*example)[n_out:])
            once = self.weights_saved(example[: self.n_p])
        it = iter(range(len(per_chunk)))
        #: where each of the backward's saved inputs comes from: (once per sequence?, index)
        self.slots = [(True, taken.index(k)) if k in taken else (False, next(it))
                      for k in range(len(taken) + len(per_chunk))]
        self.fw = compile_fx(fw, example)
        self.bw = compile_fx(bw, [*self.saved_inputs(once, per_chunk), *tangents])

    def weights_saved(self, P):
        """The backward's saved values that are functions of the weights ``P`` alone, contiguous
        (:func:`~rnnkit.runners.program_passes.weight_only_saves`); once per sequence."""
        return [t.contiguous() for t in self.prep(*P)] if self.prep is not None else []

    def saved_inputs(self, once, chunk):
        """The backward program's saved inputs for one chunk: ``once`` (:meth:`weights_saved`)
        and the chunk's own saved values, in the backward's order."""
        if not once:
            return chunk
        return [once[i] if w else chunk[i] for w, i in self.slots]

    def _chunk(self, *flat):
        """K masked steps: ``(*P, *H, *S, M, *prev) -> (*S', *prev'[, *Y])`` (the traced function)."""
        n_p, n_h, n_s, n_o = self.n_p, self.n_h, self.n_s, self.n_o
        split = self.split
        P = flat[:n_p]
        H = flat[n_p : n_p + n_h]
        n_m = self.n_m
        if self.raw and self.step_inputs:
            xs = [h.unbind(0) for h in H]
            steps = [[*split.pre(*P, *[x[t] for x in xs]), *(xs[i][t] for i in split.x_used)]
                     for t in range(self.K)]
            per = [list(col) for col in zip(*steps)]
        else:
            if self.raw:
                H = [*self.pre(*P, *H), *(H[i] for i in split.x_used)]
            per = [h.unbind(0) for h in H]
        S = list(flat[n_p + n_h : n_p + n_h + n_s])
        M = flat[n_p + n_h + n_s : n_p + n_h + n_s + n_m]
        prev = list(flat[n_p + n_h + n_s + n_m :])
        ms = M if self.step_inputs else M[0].unbind(0)
        ys = [[] for _ in range(n_o)]
        for t in range(self.K):
            res = split.run_post(P, [p[t] for p in per], S)
            out, new = res[: split.n_out], res[split.n_out :]
            m = ms[t]
            out = [torch.where(_expand(m, o), o, q) for o, q in zip(out, prev)]
            S = [torch.where(_expand(m, a), a, b) for a, b in zip(new, S)]
            prev = out
            if self.keep:
                for i, o in enumerate(out):
                    ys[i].append(o)
        result = [*S, *prev]
        if self.keep:
            result += [torch.stack(y, 0) for y in ys]
        return result

    def run(self, H, states, M, prev, n):
        """``H``: recurrent inputs ``(n*K, B, ...)``; ``M``: ``(n*K, B)``. Returns
        ``(final states, last outputs, per-step outputs (n*K, B, ...) or None)``."""
        P = [p.contiguous() for p in self.split.tensors]  # (as built: see __init__)
        states = [s.contiguous() for s in states]
        if self.grad:
            flat = _SequenceFunction.apply(self, n, *P, *H, *states, M, *prev)
        else:
            flat = _run_chunks(self.infer, self, n, P, H, states, M, prev)[0]
        S = list(flat[: self.n_s])
        prev = list(flat[self.n_s : self.n_s + self.n_o])
        Y = list(flat[self.n_s + self.n_o :]) if self.keep else None
        return S, prev, Y


def _run_chunks(program, prog, n, P, H, S, M, prev):
    """Call ``program`` once per chunk; returns ``((*S, *prev, *Y), [saved tensors per chunk])``."""
    K, n_s, n_o = prog.K, prog.n_s, prog.n_o
    Hc = [h.reshape(n, K, *h.shape[1:]).unbind(0) for h in H]
    Mc = M.reshape(n, K, *M.shape[1:]).unbind(0)
    S, prev = list(S), list(prev)
    n_out = n_s + n_o + (n_o if prog.keep else 0)
    ys, saves = [], []
    for c in range(n):
        ms = Mc[c].unbind(0) if prog.step_inputs else (Mc[c],)
        r = program(*P, *[h[c] for h in Hc], *S, *ms, *prev)
        S, prev = list(r[:n_s]), list(r[n_s : n_s + n_o])
        if prog.keep:
            ys.append(r[n_s + n_o : n_out])
        saves.append(r[n_out:])
    Y = [torch.cat([y[i] for y in ys], 0) for i in range(n_o)] if prog.keep else []
    return (*S, *prev, *Y), saves


class _SequenceFunction(torch.autograd.Function):
    """All chunks of one sequence as a single autograd node (see the module docstring)."""

    @staticmethod
    def forward(ctx, prog, n, *flat):
        n_p, n_h, n_s = prog.n_p, prog.n_h, prog.n_s
        P, H = flat[:n_p], flat[n_p : n_p + n_h]
        S, M, prev = flat[n_p + n_h : n_p + n_h + n_s], flat[n_p + n_h + n_s], flat[n_p + n_h + n_s + 1 :]
        outs, saves = _run_chunks(prog.fw, prog, n, P, H, S, M, prev)
        once = prog.weights_saved(P)
        ctx.prog, ctx.n, ctx.n_saved, ctx.n_once = prog, n, len(saves[0]), len(once)
        ctx.meta = [(o.shape, o.dtype, o.device) for o in outs]
        ctx.save_for_backward(*once, *[t for s in saves for t in s])
        return outs

    @staticmethod
    def backward(ctx, *grads):
        prog, n, ns = ctx.prog, ctx.n, ctx.n_saved
        n_p, n_h, n_s, n_o, K = prog.n_p, prog.n_h, prog.n_s, prog.n_o, prog.K
        saved = ctx.saved_tensors
        once, saved = saved[: ctx.n_once], saved[ctx.n_once :]
        grads = [
            g.contiguous() if g is not None else torch.zeros(shape, dtype=dt, device=dev)
            for g, (shape, dt, dev) in zip(grads, ctx.meta)
        ]
        carry = grads[: n_s + n_o]  # gradients of the states and outputs leaving a chunk
        gY = [g.reshape(n, K, *g.shape[1:]).unbind(0) for g in grads[n_s + n_o :]]
        p_pos, g_pos, h_pos, c_pos = prog.p_pos, prog.g_pos, prog.h_pos, prog.c_pos
        g_p = [None] * n_p
        g_h = [[None] * n for _ in range(n_h)]
        for c in range(n - 1, -1, -1):
            r = prog.bw(*prog.saved_inputs(once, saved[c * ns : (c + 1) * ns]), *carry, *[g[c] for g in gY])
            for i, j in p_pos:
                g_p[i] = r[j] if g_p[i] is None else g_p[i] + r[j]
            for i, ja, jb in g_pos:  # (this product is ours alone: accumulated in place)
                g_p[i] = torch.mm(r[ja], r[jb]) if g_p[i] is None else g_p[i].addmm_(r[ja], r[jb])
            for k, j in enumerate(h_pos):
                if j is not None:
                    g_h[k][c] = r[j]
            carry = [r[j] for j in c_pos]
        return (
            None, None,
            *g_p,
            *[torch.cat(parts, 0) if parts[0] is not None else None for parts in g_h],
            *carry[:n_s],
            None,
            *carry[n_s:],
        )
