"""The compiled runner (``jit_compile``): the generic loop, K steps at a time, through torch.compile.

Any cell (built-in or user-written, nested inputs / states, masks) runs here with the numbers of
the eager loop (:func:`rnnkit.runners.loop.run_loop`), but with K consecutive steps traced by
TorchDynamo and compiled by Inductor into one graph whose pointwise work is fused into a few
kernels, forward and backward (one autograd node per chunk instead of a dozen per step).

Two paths, chosen per input signature:

- **Split steps, whole-sequence programs** (the fast path). The step is traced once and split
  (:mod:`rnnkit.runners.hoist`): its input-only work (``x_t @ kernel``) runs as one product per
  K steps, not one per step; the recurrent rest runs as K-step forward / backward programs
  compiled by Inductor (the input part inlined), under a single autograd node for the whole
  sequence (:mod:`rnnkit.runners.partitioned`). Cells that draw random numbers, mutate tensors, branch on
  tensor values or read tensors that are not weights do not split (``hoist_reason`` says why).
  CPU only (on a GPU, split steps run as Dynamo chunks with CUDA graphs).
- **Dynamo-compiled chunks** (everything else): K steps of the step as written, traced by
  TorchDynamo (graph breaks allowed and reported), one compiled autograd function per chunk.

Both read the inputs time-major (contiguous chunks and steps, whatever T is).

Policy (what gets compiled, and when):

- **Chunking bounds compile time and recompilation.** One graph covers ``chunk_size`` steps;
  a sequence of T steps runs as ``ceil(T / chunk_size)`` calls of that same graph. The chunk
  size is fixed per layer on its first compiled call: for the whole-sequence programs, from
  that call's T (:func:`choose_chunk`: the size in :data:`CHUNK_CHOICES` that pads the
  sequence least, then the smallest: 4 for T = 28 or 100, 5 for T = 30, where 4 would run two
  padded steps); for the Dynamo-compiled chunks, :data:`DEFAULT_CHUNK`. (Larger chunks run
  faster and compile slower: at (64, 28, 28, 64) 7 steps per program trained at 0.95x the step
  of 4 but compiled in 13.2 s against 10.4 s cold; at (64, 100, 128, 256) 5 steps 0.98x, 11.3
  against 9.6 s: a gain only after some 10^4 and 10^3 training steps.) The last chunk is
  padded with copies of the last step that are *masked off* (Keras masking: a masked step
  keeps the states and repeats the output), and the padded outputs are dropped. So neither
  the sequence length nor a mask changes the graph: compile time does not grow with T and a
  new T never recompiles.
- **Signatures.** The graph is specialised (``dynamic=False``) to the batch size, per-step
  shapes, dtypes, device, training flag, grad / autocast mode, ``return_sequences`` and, on CPU,
  ``torch.get_num_threads()`` (Inductor compiles a kernel serial or parallel for the thread
  count it sees: the whole-sequence programs are rebuilt for a new count; Dynamo-compiled
  chunks keep the code of their first compile, as ``torch.compile`` does). At most
  :data:`MAX_SIGNATURES` of them are compiled per layer; calls with further new signatures run
  on the eager loop (with one warning), so changing batch sizes never recompile without bound.
- **Short sequences** (``T < chunk_size``, or below the smallest of :data:`CHUNK_CHOICES`
  before the size is fixed) run on the eager loop.
- **Fallbacks are never silent**: a graph break, an unexpected recompile, a compile error, too
  many signatures or a too-short sequence is reported once per layer and reason, as a
  :class:`CompiledRunnerWarning` that says why. After a compile error the layer stays eager.
- ``mode="auto"`` compiles a signature only when it is seen for the second time (a training or
  evaluation loop), so a one-off call is never slower than eager at all, and no call is slower
  than eager by more than the time spent compiling. ``mode=True`` compiles on the first call.
- **CUDA**: on a GPU the graphs are compiled with CUDA graphs (Inductor's ``triton.cudagraphs``,
  as ``torch.compile(mode="reduce-overhead")``), forward and backward, since shapes are static.
  As with any CUDA-graph code, outputs of a step are overwritten by the next replay of the same
  graph: keep ``.clone()``-ed copies of outputs you store across training steps.
- **Machine setup** (CPU): Inductor's check of the CPU's vector instruction sets runs once per
  machine, not per process: recorded by :mod:`rnnkit.runners.vec_isa`, started in the
  background of the first trace.
- **Randomness**: dropout masks of rnnkit's cells are drawn eagerly (one no-grad probe step per
  call) before the compiled chunks run, so they equal the eager loop's. Random numbers a
  user-written cell draws inside ``call`` come from Inductor's generator and differ from eager.

``torch._dynamo`` / ``torch._inductor`` are imported on first use only, so ``import rnnkit`` and
layers without ``jit_compile`` never pay for them.
"""

from __future__ import annotations

import itertools
import types
import warnings

import torch

from rnnkit.nest import flatten, map_structure, pack_as
from rnnkit.runners import cpp_header, vec_isa
from rnnkit.runners.loop import _expand, run_loop

__all__ = [
    "CompiledLoop",
    "CompiledRunnerWarning",
    "CHUNK_CHOICES",
    "DEFAULT_CHUNK",
    "DEFAULT_BACKEND",
    "MAX_SIGNATURES",
    "inductor_patches",
    "check_jit_compile",
    "choose_chunk",
]

#: Steps per Dynamo-compiled graph.
DEFAULT_CHUNK = 4
#: Steps per whole-sequence program that :func:`choose_chunk` picks from: at least 4 (fewer
#: steps per call cost more Python and C++ glue per step), at most 8 (compile time grows with
#: the steps unrolled: at (64, 32, 28, 64) 9.0 s for 8 against 7.6 s for 4, in one process)
CHUNK_CHOICES = (4, 5, 6, 7, 8)
#: The torch.compile backend: Inductor (fused kernels). Tests of the runner's logic may set
#: ``"aot_eager"`` (the same Dynamo capture and AOTAutograd graphs, no code generation).
DEFAULT_BACKEND = "inductor"
#: Distinct shape / dtype / mode signatures compiled per layer before new ones run eagerly.
MAX_SIGNATURES = 6

_ids = itertools.count()
#: backends the whole-sequence programs support: compile with Inductor, or run the graphs as FX
_PROGRAM_BACKENDS = {"inductor": True, "aot_eager": False, "eager": False}


def choose_chunk(T: int) -> int:
    """Steps per program for sequences of ``T`` steps: the size in :data:`CHUNK_CHOICES` that pads
    ``T`` to the fewest steps, the smallest of those (the shortest compile).

    >>> [choose_chunk(T) for T in (3, 6, 9, 28, 30, 35, 37, 100)]
    [4, 6, 5, 4, 5, 5, 4, 4]
    """
    return min(CHUNK_CHOICES, key=lambda K: (-(-T // K) * K, K))


def _pad_time_major(leaves, mask, K):
    """Time-major leaves ``(T, B, ...)`` and ``(B, T)`` mask -> ``(leaves, mask, n, T)`` padded to
    ``n * K`` steps (time-major mask ``(n*K, B)``). Padded steps repeat the last real input (finite
    values for any cell) and are masked off, so they change nothing."""
    T, B = leaves[0].shape[:2]
    n = -(-T // K)
    pad = n * K - T
    m_tm = (
        torch.ones(T, B, dtype=torch.bool, device=leaves[0].device) if mask is None
        else mask.t().contiguous()
    )
    if pad:
        leaves = [torch.cat([t, t[-1:].expand(pad, *t.shape[1:])], 0) for t in leaves]
        m_tm = torch.cat([m_tm, m_tm.new_zeros(pad, B)], 0)
    return leaves, m_tm, n, T


def _finish(structure, last_leaves, stacked, states, mask, zero_output_for_mask):
    """``(last, outputs or None, states)`` with ``zero_output_for_mask`` applied (as run_loop)."""
    if mask is not None and zero_output_for_mask:
        m_last = mask[:, -1]
        last_leaves = [torch.where(_expand(m_last, o), o, torch.zeros_like(o)) for o in last_leaves]
        if stacked is not None:
            stacked = [torch.where(_expand(mask, y), y, torch.zeros_like(y)) for y in stacked]
    last = pack_as(structure, last_leaves)
    return last, (pack_as(structure, stacked) if stacked is not None else None), states


def _needs_grad(needs_grad, leaves, states) -> bool:
    """``needs_grad`` as given, else whether autograd records through the loop."""
    if needs_grad is None:
        return torch.is_grad_enabled() and any(t.requires_grad for t in [*leaves, *states])
    return bool(needs_grad)


class CompiledRunnerWarning(UserWarning):
    """The compiled runner fell back to the eager loop, broke its graph or recompiled (says why)."""


def check_jit_compile(value, owner: str = "layer"):
    """Validate a ``jit_compile`` argument: ``False`` / ``True`` / ``"auto"`` (None means False).

    >>> check_jit_compile("auto")
    'auto'
    """
    if value is None:
        return False
    if value not in (True, False, "auto") or (value not in (True, False) and not isinstance(value, str)):
        raise ValueError(f"{owner}: jit_compile must be False, True or 'auto', received {value!r}")
    return value


def inductor_patches(device: torch.device) -> dict:
    """Inductor config patches for a device: CUDA graphs on a GPU (static shapes), none on CPU.

    >>> inductor_patches(torch.device("cpu"))
    {}
    >>> inductor_patches(torch.device("cuda"))
    {'triton.cudagraphs': True}
    """
    return {"triton.cudagraphs": True} if torch.device(device).type == "cuda" else {}


def _chunk_body(step_fn, inputs, states, mask, prev, keep):
    """K masked steps (``inputs``: time-major ``(K, B, ...)``). The function that gets compiled.

    Returns ``(per-step output leaves (if keep), states, prev, last raw output)``: ``prev`` holds
    the (masked) output leaves of the last step, which carry into the next chunk.
    """
    leaves = flatten(inputs)
    steps = leaves[0].shape[0]
    per_leaf = [leaf.unbind(0) for leaf in leaves]
    nested = len(leaves) > 1 or not isinstance(inputs, torch.Tensor)
    m_steps = mask.unbind(0)
    outs = []
    out = None
    for t in range(steps):
        x_t = pack_as(inputs, [p[t] for p in per_leaf]) if nested else per_leaf[0][t]
        out, new_states = step_fn(x_t, states)
        m = m_steps[t]
        o_leaves = [torch.where(_expand(m, o), o, p) for o, p in zip(flatten(out), prev)]
        states = [torch.where(_expand(m, n), n, s) for n, s in zip(new_states, states)]
        prev = o_leaves
        if keep:
            outs.append(o_leaves)
    return outs, states, prev, out


def _new_chunk_fn():
    """A copy of :func:`_chunk_body` with its own code object: Dynamo keeps its compiled graphs
    and its recompile limit per code object, so each layer gets its own."""
    code = _chunk_body.__code__.replace(co_name=f"_rnnkit_chunk_{next(_ids)}")
    return types.FunctionType(code, _chunk_body.__globals__, code.co_name)


class CompiledLoop:
    """Run the generic loop through torch.compile, ``chunk_size`` steps per compiled graph.

    One instance belongs to one ``RNN`` layer (see the module docstring for the policy).

    Args:
        mode: ``True`` (compile on first call) or ``"auto"`` (compile a signature on its second call).
        name: the owning layer's name, used in warnings.
        chunk_size: steps per compiled graph (``int >= 1``); None (default): fixed on the first
            compiled call (:func:`choose_chunk` of its T for the programs, else
            :data:`DEFAULT_CHUNK`).

    Attributes ``compiled_calls`` / ``eager_calls`` / ``compiles`` count what ran.

    >>> import torch
    >>> loop = CompiledLoop("auto", "demo")
    >>> step = lambda x, s: (x + s[0], [x + s[0]])
    >>> last, seq, states = loop.run(step, torch.ones(2, 8, 3), [torch.zeros(2, 3)])
    >>> float(last[0, 0]), loop.eager_calls  # first call of a signature in "auto" mode: eager
    (8.0, 1)
    """

    def __init__(self, mode=True, name="rnn", chunk_size=None):
        if mode not in (True, "auto"):
            raise ValueError(f"{name}: CompiledLoop mode must be True or 'auto', received {mode!r}")
        if chunk_size is not None and (
            not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1
        ):
            raise ValueError(f"{name}: chunk_size must be a positive integer, received {chunk_size!r}")
        self.mode, self.name, self.chunk_size = mode, name, chunk_size
        self.backend = DEFAULT_BACKEND
        self.compiled_calls = 0
        self.eager_calls = 0
        self.compiles = 0
        self._fn = None
        self._sigs: dict = {}  # signature -> number of calls seen
        self._compiled_sigs: set = set()
        self._disabled = None  # reason, once a compile error made this layer eager for good
        self._warned: set = set()
        self._zeros: dict = {}  # signature -> zero output leaves (the output before step 0)
        self._splits: dict = {}  # signature -> (cell fingerprint, SplitStep or None)
        #: split the step (input part over the whole sequence, see rnnkit.runners.hoist)
        self.hoist = True
        #: why the last traced step was not split (None: it was, or none was tried)
        self.hoist_reason = None
        #: run split steps as whole-sequence programs (see rnnkit.runners.partitioned)
        self.partitioned = True
        #: why the last program could not be built (the Dynamo-compiled chunks ran instead)
        self.program_reason = None
        self.program_calls = 0
        self.traces = 0  # steps traced for splitting (one per signature and cell fingerprint)

    # ------------------------------------------------------------------ reporting
    def _warn(self, kind: str, message: str):
        if kind in self._warned:
            return
        self._warned.add(kind)
        warnings.warn(f"{self.name}: jit_compile: {message}", CompiledRunnerWarning, stacklevel=5)

    def _eager(self, kind, why, step_fn, inputs, states, mask, zero_output_for_mask, return_sequences):
        if kind is not None:
            self._warn(kind, why)
        self.eager_calls += 1
        return run_loop(step_fn, inputs, states, mask, zero_output_for_mask, return_sequences)

    def _compiled_fn(self):
        if self._fn is None:
            import torch._dynamo  # noqa: F401  (imported here, never at rnnkit import time)

            self._fn = torch.compile(_new_chunk_fn(), backend=self._backend, dynamic=False)
        return self._fn

    def _backend(self, gm, example_inputs):
        self.compiles += 1
        if self.backend != "inductor":
            from torch._dynamo import lookup_backend

            return lookup_backend(self.backend)(gm, example_inputs)
        from torch._inductor.compile_fx import compile_fx

        device = next((t.device for t in example_inputs if isinstance(t, torch.Tensor)), torch.device("cpu"))
        if device.type == "cpu":
            cpp_header.prebuild(cpp_wrapper=False)  # (built while Inductor lowers the graph)
            vec_isa.wait()
        return compile_fx(gm, example_inputs, config_patches=inductor_patches(device))

    # ------------------------------------------------------------------ running
    def run(
        self,
        step_fn,
        inputs,
        states,
        mask=None,
        zero_output_for_mask=False,
        return_sequences=True,
        training=False,
        probe=False,
        needs_grad=None,
        cell=None,
    ):
        """Same contract as :func:`rnnkit.runners.loop.run_loop`: ``(last, outputs or None, states)``.

        ``probe``: run one no-grad eager step first (draws the cells' dropout masks in the
        eager loop's order, so the compiled chunks read the same masks). ``needs_grad``: whether
        autograd records through the loop (default: grad mode is on and an input or state
        requires grad); the first chunk's states then require grad like the later chunks', so
        one graph serves every chunk. ``cell``: the module whose parameters / buffers ``step_fn``
        reads; given, the step is split (:mod:`rnnkit.runners.hoist`) and its input-only part runs
        once over the whole sequence, outside the loop.
        """
        args = (step_fn, inputs, states, mask, zero_output_for_mask, return_sequences)
        leaves = flatten(inputs)
        B, T = leaves[0].shape[:2]
        K = self.chunk_size if self.chunk_size is not None else CHUNK_CHOICES[0]
        if self._disabled is not None:
            return self._eager(None, None, *args)
        if T < K:
            return self._eager(
                "short", f"sequences of {T} step(s) are shorter than the compiled chunk "
                f"({K} steps) and run on the eager loop", *args,
            )
        sig = (
            tuple((t.shape[0], *t.shape[2:], t.dtype, t.device) for t in leaves),
            tuple((*s.shape, s.dtype) for s in states),
            bool(training),
            bool(return_sequences),
            torch.is_grad_enabled(),
            # Inductor decides at compile time whether a CPU kernel runs in parallel (a program
            # compiled on 1 thread stays serial on 2): the thread count is part of the signature
            torch.get_num_threads() if leaves[0].device.type == "cpu" else 0,
            torch.is_autocast_enabled(leaves[0].device.type),
        )
        seen = self._sigs.get(sig, 0)
        if seen == 0 and len(self._sigs) >= MAX_SIGNATURES:
            return self._eager(
                "signatures", f"more than {MAX_SIGNATURES} distinct input signatures (batch size, "
                f"shapes, dtype, training mode, CPU thread count); new ones run on the eager loop instead of "
                f"recompiling (keep batch sizes fixed, e.g. drop_remainder)", *args,
            )
        self._sigs[sig] = seen + 1
        if self.mode == "auto" and seen == 0:
            return self._eager(None, None, *args)
        # The compiled chunks read time-major inputs (T, B, ...): chunks and steps are then
        # contiguous views, whatever T is (Dynamo specialises on strides).
        tm = map_structure(lambda t: t.transpose(0, 1).contiguous(), inputs)
        step = step_fn
        if self.backend == "inductor" and leaves[0].device.type == "cpu":
            vec_isa.start()  # Inductor's CPU check, in the background of the tracing below
        if cell is not None and not probe and self.hoist and not sig[-1]:  # (not under autocast)
            split = self._split(sig, step_fn, cell, inputs, states)
            if split is not None:
                # CPU only: on a GPU the Dynamo path uses CUDA graphs, which would overwrite
                # the tensors one program call saves for the backward at the next call
                if self.partitioned and self.backend in _PROGRAM_BACKENDS and leaves[0].device.type == "cpu":
                    if self.chunk_size is None:  # (fixed from here on: one program per signature)
                        self.chunk_size = choose_chunk(T)
                    result = self._run_program(
                        sig, split, step_fn, tm, states, mask, zero_output_for_mask, return_sequences,
                        needs_grad,
                    )
                    if result is not None:
                        return result
                tm, step = split.hoist(tm), split.step
        if self.chunk_size is None:
            self.chunk_size = DEFAULT_CHUNK
        try:
            return self._run_compiled(
                sig, step, tm, states, mask, zero_output_for_mask, return_sequences, probe, needs_grad
            )
        except Exception as e:  # noqa: BLE001  (reported, then the eager loop decides)
            result = run_loop(*args)  # a genuine error of the cell raises here, as eagerly
            self._disabled = f"{type(e).__name__}: {e}"
            self._warn("error", f"compiling the loop failed ({self._disabled}); this layer runs "
                       f"on the eager loop from now on")
            self.eager_calls += 1
            return result

    def _run_program(self, sig, split, step_fn, inputs, states, mask, zero_output_for_mask,
                     return_sequences, needs_grad):
        """Run a split step through whole-sequence programs (:mod:`rnnkit.runners.partitioned`);
        ``inputs``: the layer's inputs, time-major.

        Returns None (after recording why in ``program_reason``) when the programs cannot be
        built; the caller then runs the Dynamo-compiled chunks instead.
        """
        from rnnkit.runners.partitioned import ChunkProgram

        raw = ChunkProgram.inputs_inside
        src = flatten(inputs)
        zeros = self._zero_outputs(sig, step_fn, inputs, states)
        leaves, m_tm, n, T = _pad_time_major(src if raw else split.hoist(inputs), mask, self.chunk_size)
        K = self.chunk_size
        needs_grad = _needs_grad(needs_grad, [*leaves, *split.tensors], states)
        # (raw inputs: a program per set of inputs that require grad)
        key = (sig, needs_grad, bool(return_sequences), tuple(t.requires_grad for t in leaves) if raw else None)
        programs = split.__dict__.setdefault("programs", {})
        prog = programs.get(key)
        if prog is None:
            try:
                prog = ChunkProgram(
                    split, K, bool(return_sequences), [t[:K] for t in leaves], list(states), zeros,
                    m_tm[:K], needs_grad, compile=_PROGRAM_BACKENDS[self.backend], raw=raw,
                )
            except Exception as e:  # noqa: BLE001  (reported; the Dynamo path runs instead)
                prog = False
                self.program_reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                self._warn("program", f"the whole-sequence program could not be built "
                           f"({self.program_reason}); the loop runs as Dynamo-compiled chunks "
                           f"instead (same numbers, slower)")
            else:
                self.compiles += 1
            programs[key] = prog
        if prog is False:
            return None
        S, prev, Y = prog.run(leaves, list(states), m_tm, zeros, n)
        self.compiled_calls += 1
        self.program_calls += 1
        stacked = [y[:T].transpose(0, 1) for y in Y] if return_sequences else None
        return _finish(split.out_structure, prev, stacked, S, mask, zero_output_for_mask)

    def _zero_outputs(self, sig, step, inputs, states, run=False):
        """Zeros shaped like the step's output leaves (the output before step 0), one no-grad
        step on step 0 of the time-major ``inputs`` per signature; ``run``: take that step anyway
        (a probe draws the dropout masks)."""
        zeros = self._zeros.get(sig)
        if zeros is None or run:
            with torch.no_grad():
                out0, _ = step(map_structure(lambda t: t[0], inputs), list(states))
            zeros = self._zeros[sig] = [torch.zeros_like(o) for o in flatten(out0)]
        return zeros

    def _split(self, sig, step_fn, cell, inputs, states):
        """This signature's :class:`~rnnkit.runners.hoist.SplitStep` (traced on first use), or None."""
        from rnnkit.runners.hoist import NOTHING_TO_HOIST, fingerprint, split_step

        fp = fingerprint(cell)
        cached = self._splits.get(sig)
        if cached is None or cached[0] != fp:
            x0 = map_structure(lambda t: t[:, 0], inputs)
            split, why = split_step(step_fn, cell, x0, list(states))
            self.hoist_reason = why
            if split is None and why != NOTHING_TO_HOIST:  # (nothing to gain: not a slow path)
                self._warn("split", f"the step could not be split ({why}); it runs as "
                           f"Dynamo-compiled chunks of the step as written (same numbers, slower "
                           f"than the whole-sequence programs)")
            self.traces += 1
            cached = self._splits[sig] = (fp, split)
        split = cached[1]
        return split.bind(cell) if split is not None else None

    def _run_compiled(self, sig, step_fn, inputs, states, mask, zero_output_for_mask,
                      return_sequences, probe, needs_grad):
        """``inputs``: time-major ``(T, B, ...)`` leaves; ``mask``: ``(B, T)`` or None."""
        K = self.chunk_size
        leaves, m_tm, n, T = _pad_time_major(flatten(inputs), mask, K)
        B = leaves[0].shape[1]
        # (n*K, B, ...) -> n chunks (K, B, ...): views. unbind, not t[c]: one backward node for
        # all chunks (t[c] would give each chunk's gradient a zero-filled copy of the whole input).
        per_leaf = [t.reshape(n, K, *t.shape[1:]).unbind(0) for t in leaves]
        chunk_inputs = [pack_as(inputs, [p[c] for p in per_leaf]) for c in range(n)]
        masks = m_tm.reshape(n, K, B).unbind(0)
        zeros = self._zero_outputs(sig, step_fn, inputs, states, run=probe)
        needs_grad = _needs_grad(needs_grad, leaves, states)
        states = list(states)
        prev = zeros
        if needs_grad:  # later chunks get states that require grad: make the first chunk's alike
            states = [s if s.requires_grad else s.detach().requires_grad_() for s in states]
            prev = [z.detach().requires_grad_() for z in zeros]
        fn = self._compiled_fn()
        from torch._dynamo.utils import counters

        breaks_before = dict(counters["graph_break"])
        compiles_before = self.compiles
        chunks = []
        out = None
        for c in range(n):
            outs, states, prev, out = fn(
                step_fn, chunk_inputs[c], states, masks[c], prev, bool(return_sequences),
            )
            chunks.extend(outs)
        self._report(sig, compiles_before, breaks_before, counters)
        self.compiled_calls += 1
        stacked = None
        if return_sequences:
            stacked = [torch.stack([o[i] for o in chunks[:T]], 1) for i in range(len(prev))]
        return _finish(out, prev, stacked, states, mask, zero_output_for_mask)

    def _report(self, sig, compiles_before, breaks_before, counters):
        new = self.compiles - compiles_before
        if new == 0:
            return
        breaks = {
            k: v - breaks_before.get(k, 0)
            for k, v in counters["graph_break"].items()
            if v > breaks_before.get(k, 0)
        }
        if new > 1 or breaks:
            why = "; ".join(str(k) for k in breaks) or (
                f"{new} graphs compiled for one signature (a state's requires_grad or dtype "
                f"changes between chunks?)"
            )
            self._warn("graph_break", f"the cell's step does not trace into one graph ({why}); "
                       f"it still runs compiled, in pieces, and may be slow")
        if sig in self._compiled_sigs:
            from torch._dynamo.utils import guard_failures

            reasons = [str(r) for rs in guard_failures.values() for r in rs][-3:]
            self._warn("recompile", f"recompiled for an input signature already compiled "
                       f"({'; '.join(reasons) or 'guard failure'}); the cell probably changes "
                       f"Python attributes between calls")
        self._compiled_sigs.add(sig)
