"""Rewrites of the partitioned chunk programs' FX graphs (:mod:`rnnkit.runners.partitioned`).

Each works in place on an ATen-level graph (``make_fx`` with Inductor's decompositions) and is
tested on its own: :func:`unfuse_addmm` (an Inductor post-grad pass), :func:`gather_weight_grads`
(the recurrent weights' gradient factors), :func:`weight_only_saves` (saved values that are
functions of the weights alone, computed once per sequence) and :func:`pack_saves` (a chunk's
saved values of one shape as one tensor).
"""

from __future__ import annotations

import contextlib
import operator
import os
import platform
import time

import torch

from rnnkit.config import rnnkit_home
from rnnkit.runners import machine_record

__all__ = [
    "faster_in_onednn", "gather_weight_grads", "mm_shapes", "onednn_mm", "onednn_products", "pack_saves",
    "unfuse_addmm", "weight_only_saves",
]


def _pointwise_use(node):
    """Whether ``node`` is a pointwise op, or a view whose uses all are (Inductor fuses those)."""
    if node.op != "call_function":
        return False
    if node.target is operator.getitem or (isinstance(node.target, torch._ops.OpOverload) and node.target.is_view):
        return all(_pointwise_use(u) for u in node.users)
    return isinstance(node.target, torch._ops.OpOverload) and torch.Tag.pointwise in node.target.tags


def unfuse_addmm(graph):
    """Rewrite ``addmm(c, a, b)`` as ``mm(a, b) + c`` where every use is pointwise (in place).

    Inductor's post-grad patterns fold ``mm(a, b) + c`` into ``addmm`` on CPU (on GPUs it
    unfolds them where the uses are pointwise, as here). ATen's CPU ``addmm`` first copies ``c``
    into the output, then accumulates the product into it: one extra pass over a ``(B, 4U)``
    buffer per product, and a recurrent step is a chain of small products. Unfused, the add
    joins the pointwise kernel that reads the product anyway. An ``addmm`` that feeds another
    product or leaves the graph (a weight gradient summed over the chunk's steps) stays: there
    the accumulation inside the product is the cheap way (unfolding those too cost 13% at
    (B, U) = (64, 256)). Measured at (64, 64): forward + backward programs of a chunk 2-9% faster,
    identical outputs; the eager loop also computes product and add apart. Returns the number
    of rewrites.

    >>> from torch.fx.experimental.proxy_tensor import make_fx
    >>> f = lambda c, a, b: (torch.addmm(c, a, b).sigmoid(), torch.addmm(torch.addmm(c, a, b), a, b))
    >>> gm = make_fx(f, tracing_mode="fake")(torch.randn(2, 3), torch.randn(2, 4), torch.randn(4, 3))
    >>> unfuse_addmm(gm.graph)  # the sigmoid's; the accumulation stays
    1
    """
    aten = torch.ops.aten
    n = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not aten.addmm.default or node.kwargs:
            continue  # (alpha / beta given: left as it is)
        if not node.users or not all(_pointwise_use(u) for u in node.users):
            continue
        c, a, b = node.args
        with graph.inserting_before(node):
            mm = graph.call_function(aten.mm.default, (a, b))
            add = graph.call_function(aten.add.Tensor, (mm, c))
        mm.meta["val"] = add.meta["val"] = node.meta["val"]  # same shape, dtype and strides
        node.replace_all_uses_with(add)
        graph.erase_node(node)
        n += 1
    return n


def _product_terms(node):
    """``[(a, b), ...]`` when ``node`` is a sum of products ``mm(a, b)`` (a chain of ``add``s
    whose inner nodes have no other use), else None."""
    aten = torch.ops.aten
    terms, todo = [], [node]
    while todo:
        n = todo.pop()
        if n.op != "call_function" or n.kwargs or (n is not node and len(n.users) != 1):
            return None
        if n.target is aten.mm.default:
            terms.append(n.args)
        elif n.target is aten.add.Tensor and len(n.args) == 2:
            todo.extend(n.args)
        else:
            return None
    return terms


def _stack_of(graph, nodes):
    """A node of ``graph`` that stacks ``nodes`` (in some order) along a new or the first dim:
    ``stack(ns)`` or ``cat(ns, 0)`` (as Inductor's decompositions write a stack), or None."""
    want = set(nodes)
    if len(want) != len(nodes):
        return None
    aten = torch.ops.aten
    for n in graph.nodes:
        if (n.op == "call_function" and n.target in (aten.stack.default, aten.cat.default) and not n.kwargs
                and (len(n.args) == 1 or n.args[1] == 0) and len(n.args[0]) == len(nodes)
                and set(n.args[0]) == want):
            return n
    return None


def gather_weight_grads(gm, slots):
    """Let a backward program return the factors of its weight gradients, not their sums (in place).

    A weight ``W`` a step multiplies by (``h_{t-1} @ W``) gets, in a K-step backward, the
    gradient ``sum_k h_{k-1}^T @ dz_k``: K small products, one per step, each between two steps of
    the recurrence. For each output slot in ``slots`` that is such a sum (products of equal
    shapes only), the slot is replaced by ``cat([a_k], 1)`` and ``cat([b_k], 0)`` is appended to the
    outputs: the caller then computes the gradient as one product per chunk, ``K`` times larger
    (what cuDNN and oneDNN do for the whole sequence). Returns ``[(slot, appended slot), ...]``.

    >>> from torch.fx.experimental.proxy_tensor import make_fx
    >>> def f(h0, h1, d0, d1):
    ...     return h0.t() @ d0 + h1.t() @ d1, d0 * 2
    >>> args = [torch.randn(3, 2) for _ in range(4)]
    >>> gm = make_fx(f, tracing_mode="fake")(*args)
    >>> gather_weight_grads(gm, [0, 1])  # slot 1 is not a sum of products
    [(0, 2)]
    >>> a, _, b = gm(*args)
    >>> torch.allclose(a @ b, f(*args)[0])
    True
    """
    graph = gm.graph
    out = next(n for n in graph.nodes if n.op == "output")
    outs = list(out.args[0])
    gathered = []
    for j in slots:
        terms = _product_terms(outs[j]) if isinstance(outs[j], torch.fx.Node) else None
        if not terms or len(terms) < 2:
            continue
        vals = [(a.meta.get("val"), b.meta.get("val")) for a, b in terms]
        if any(not isinstance(v, torch.Tensor) or v.dim() != 2 for pair in vals for v in pair):
            continue
        if len({(tuple(a.shape), tuple(b.shape), a.dtype, b.dtype) for a, b in vals}) != 1:
            continue
        # the input part's gradient may already stack the same b_k (raw programs: the batched
        # x_t @ kernel): then the factor is that buffer (or a view of it), not a second copy
        stack = _stack_of(graph, [b for _, b in terms])
        if stack is not None:
            order = {b: k for k, b in enumerate(stack.args[0])}
            terms.sort(key=lambda t: order[t[1]])  # (pairs move together: the sum is the same)
            vals = [(a.meta["val"], b.meta["val"]) for a, b in terms]
        fake = vals[0][0].fake_mode if hasattr(vals[0][0], "fake_mode") else contextlib.nullcontext()
        rows, cols = vals[0][1].shape
        with graph.inserting_before(out):
            a_cat = graph.call_function(torch.ops.aten.cat.default, ([a for a, _ in terms], 1))
            if stack is None:
                b_cat = graph.call_function(torch.ops.aten.cat.default, ([b for _, b in terms], 0))
            elif stack.target is torch.ops.aten.cat.default:
                b_cat = stack  # (K*rows, cols) already
            else:
                b_cat = graph.call_function(torch.ops.aten.view.default, (stack, [len(terms) * rows, cols]))
        with fake:
            a_cat.meta["val"] = torch.cat([a for a, _ in vals], 1)
            if b_cat is not stack:
                b_cat.meta["val"] = torch.cat([b for _, b in vals], 0)
        outs[j] = a_cat
        outs.append(b_cat)
        gathered.append((j, len(outs) - 1))
    if gathered:
        out.args = (tuple(outs),)
        graph.eliminate_dead_code()
        gm.recompile()
    return gathered


def _unfuse_pass(onednn=frozenset()):
    """:func:`unfuse_addmm`, then :func:`onednn_products` for the product shapes in ``onednn``,
    as an Inductor custom pass (its uuid, which names those shapes, keys Inductor's caches)."""
    from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files

    if onednn:  # (defined now: a program Inductor finds in its cache calls it without the pass)
        onednn_mm()

    class _UnfuseAddmm(CustomGraphPass):
        def __call__(self, graph):
            unfuse_addmm(graph)
            if onednn:
                onednn_products(graph, onednn)

        def uuid(self):
            return get_hash_for_files((__file__,)) + repr(sorted(onednn)).encode()

    return _UnfuseAddmm()


def _mm_shape(node):
    """``(M, K, N)`` of a float32 CPU ``mm(a, b)`` node with static shapes, else None."""
    if node.op != "call_function" or node.target is not torch.ops.aten.mm.default or node.kwargs:
        return None
    vals = [getattr(x, "meta", {}).get("val") for x in node.args]
    if not all(isinstance(v, torch.Tensor) and v.dtype == torch.float32 and v.device.type == "cpu"
               and v.dim() == 2 for v in vals):
        return None
    try:
        return int(vals[0].shape[0]), int(vals[0].shape[1]), int(vals[1].shape[1])
    except (TypeError, ValueError):  # (symbolic sizes)
        return None


def mm_shapes(gm) -> set:
    """The ``(M, K, N)`` of the float32 CPU products ``mm`` in graph module ``gm``."""
    return {s for s in map(_mm_shape, gm.graph.nodes) if s is not None}


_ops: list = []


def onednn_mm():
    """``rnnkit::onednn_mm(a, w) -> a @ w^T`` by oneDNN (``torch.ops.mkldnn._linear_pointwise``),
    an operator of rnnkit's own: Inductor lowers ``_linear_pointwise`` only for frozen (constant)
    weights, and calls an operator it does not know as it is. Defined on first use."""
    if not _ops:
        if hasattr(torch.ops.rnnkit, "onednn_mm"):  # (this module imported a second time)
            _ops.append((None, torch.ops.rnnkit.onednn_mm.default))
            return _ops[0][1]
        lib = torch.library.Library("rnnkit", "FRAGMENT")
        lib.define("onednn_mm(Tensor a, Tensor w) -> Tensor")
        linear = torch.ops.mkldnn._linear_pointwise.default
        lib.impl("onednn_mm", lambda a, w: linear(a, w, None, "none", [], ""), "CPU")
        torch.library.register_fake("rnnkit::onednn_mm", lambda a, w: a.new_empty((a.shape[0], w.shape[0])), lib=lib)
        _ops.append((lib, torch.ops.rnnkit.onednn_mm.default))
    return _ops[0][1]


def onednn_products(graph, shapes) -> int:
    """Rewrite each float32 CPU ``mm(a, b)`` whose ``(M, K, N)`` is in ``shapes`` as oneDNN's
    ``linear(a, b^T)`` (:func:`onednn_mm`), in place; returns the number.

    Which library multiplies faster depends on the machine and the shape: on a 2-core AMD EPYC
    (Zen 4) VM, two threads, oneDNN took ``(64, 256) @ (256, 1024)`` in 207 us against MKL's 294,
    but ``(64, 64) @ (64, 256)`` in 41 against 23 (the caller measures, :func:`faster_in_onednn`).
    oneDNN reads ``b^T`` as its weight, a view when ``b`` is itself a transpose.

    >>> from torch.fx.experimental.proxy_tensor import make_fx
    >>> f = lambda a, b: (a @ b).sigmoid()
    >>> a, b = torch.randn(4, 3), torch.randn(3, 5)
    >>> gm = make_fx(f, tracing_mode="fake")(a, b)
    >>> onednn_products(gm.graph, {(4, 3, 5)})
    1
    >>> _ = gm.recompile()
    >>> torch.allclose(gm(a, b), f(a, b))
    True
    """
    aten = torch.ops.aten
    n = 0
    for node in list(graph.nodes):
        shape = _mm_shape(node)
        if shape is None or shape not in shapes:
            continue
        a, b = node.args
        with graph.inserting_before(node):
            w = graph.call_function(aten.permute.default, (b, [1, 0]))
            lin = graph.call_function(onednn_mm(), (a, w))
        w.meta["val"] = b.meta["val"].permute(1, 0)
        lin.meta["val"] = node.meta["val"]  # (a new contiguous (M, N) tensor, as the product's)
        node.replace_all_uses_with(lin)
        graph.erase_node(node)
        n += 1
    return n


#: products of fewer multiply-adds always stay MKL's (oneDNN's call overhead wins there)
ONEDNN_MIN_MACS = 1 << 21
#: set to ``0`` to leave every product to MKL
ONEDNN_ENV = "RNNKIT_ONEDNN_PRODUCTS"
#: where the choices are kept, under ``$RNNKIT_HOME``
ONEDNN_RECORD = "onednn_products.json"
_ONEDNN_FORMAT = "rnnkit-onednn-products-1"
_onednn_choice: dict = {}


def _machine_key() -> str:
    """A record key for what the products' speeds depend on: the CPU (vendor, model, flags,
    count), with torch's build and the kernel (:func:`~rnnkit.runners.machine_record.key`)."""
    cpu = ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            cpu = "".join(line for line in f.read(1 << 16).split("\n\n")[0].splitlines(True)
                          if line.startswith(("model name", "flags", "vendor_id")))
    return machine_record.key(cpu, platform.processor(), os.cpu_count())


def _measure_onednn(M, K, N) -> bool:
    a, b = torch.full((M, K), 0.5), torch.full((K, N), 0.25)  # (not the user's random stream)
    lin = torch.ops.mkldnn._linear_pointwise.default
    calls = {"mkl": lambda: torch.mm(a, b), "onednn": lambda: lin(a, b.t(), None, "none", [], "")}
    times = {name: [] for name in calls}
    with torch.no_grad():
        for fn in calls.values():
            fn()
        for _ in range(9):
            for name, fn in calls.items():
                t0 = time.perf_counter()
                for _ in range(4):
                    fn()
                times[name].append(time.perf_counter() - t0)
    median = {name: sorted(ts)[len(ts) // 2] for name, ts in times.items()}
    return median["onednn"] < 0.9 * median["mkl"]


def faster_in_onednn(M: int, K: int, N: int) -> bool:
    """Whether oneDNN's linear multiplies ``(M, K) @ (K, N)`` (float32, CPU) at least 10% faster
    than ``torch.mm`` (MKL) on this machine at this process's thread count. Measured once per
    machine, shape and thread count (medians of 9 interleaved rounds of 4 calls each, about
    25 ms at (64, 256, 1024); a shared machine's bursts hit single rounds) and recorded in
    ``$RNNKIT_HOME/onednn_products.json`` (:mod:`rnnkit.runners.machine_record`), so later
    processes make the same choice and get the same numbers. Never below
    :data:`ONEDNN_MIN_MACS`, without oneDNN, or with ``RNNKIT_ONEDNN_PRODUCTS=0``.

    >>> faster_in_onednn(4, 4, 4)
    False
    """
    if (M * K * N < ONEDNN_MIN_MACS or not torch.backends.mkldnn.is_available()
            or os.environ.get(ONEDNN_ENV, "1") == "0"):
        return False
    key = (M, K, N, torch.get_num_threads())
    if key not in _onednn_choice:
        path, name = os.path.join(rnnkit_home(), ONEDNN_RECORD), ",".join(map(str, key))
        machine = _machine_key()
        known = machine_record.read(path, _ONEDNN_FORMAT).get(machine, {})
        if name not in known:
            known[name] = _measure_onednn(M, K, N)
            machine_record.write(path, _ONEDNN_FORMAT, machine, known)
        _onednn_choice[key] = known[name]
    return _onednn_choice[key]


#: views whose result depends on the layout of what they read (a saved value read through one
#: must keep its layout)
_AS_STRIDED = frozenset({torch.ops.aten.as_strided.default, torch.ops.aten.as_strided_.default})


def _output(gm):
    """The output node of graph module ``gm`` and the list of what it returns."""
    out = next(n for n in gm.graph.nodes if n.op == "output")
    return out, list(out.args[0])


def weight_only_saves(fw, bw, n_p, n_out):
    """Take the saved values that are functions of the weights alone out of a forward program.

    The partitioner saves for the backward, once per chunk, views such as ``permute(W)``: the
    ``W^T`` of the product ``dz @ W^T`` that carries a gradient to the previous step. The
    backward's products then read a transposed weight, which MKL multiplies slower on this
    machine (two threads: ``(64, 1024) @ (1024, 256)`` 282 us transposed against 194 us
    contiguous, ``(64, 256) @ (256, 64)`` 24 against 20 us). Each saved output of ``fw`` (its
    outputs past the first ``n_out``) computed from the first ``n_p`` placeholders (the weights)
    alone is dropped from ``fw``'s outputs (in place); the returned graph module computes them
    from the weights, for the caller to run once per sequence and make contiguous. Random ops
    are never taken out, nor a value the backward ``bw`` reads through ``as_strided`` (which
    depends on the layout). Returns ``(prep, positions among the saved values)``, or
    ``(None, [])``.

    >>> from torch.fx.experimental.proxy_tensor import make_fx
    >>> fw = make_fx(lambda w, h: (h @ w, w.t(), h.t()), tracing_mode="fake")(torch.randn(3, 4), torch.randn(2, 3))
    >>> bw = make_fx(lambda wt, ht, g: (g @ wt, ht @ g), tracing_mode="fake")(
    ...     torch.randn(4, 3), torch.randn(3, 2), torch.randn(2, 4))
    >>> prep, positions = weight_only_saves(fw, bw, 1, 1)
    >>> positions  # w.t() leaves the forward program; h.t() stays
    [0]
    >>> w, h = torch.randn(3, 4), torch.randn(2, 3)
    >>> [tuple(t.shape) for t in fw(w, h)], torch.equal(prep(w)[0], w.t())
    ([(2, 4), (3, 2)], True)
    """
    graph = fw.graph
    ph = [n for n in graph.nodes if n.op == "placeholder"]
    weights = set(ph[:n_p])
    out, outs = _output(fw)
    saved = outs[n_out:]
    seeded = torch.Tag.nondeterministic_seeded
    only = {}  # node -> computed from the weights alone (graph order is topological)
    for n in graph.nodes:
        if n.op == "placeholder":
            only[n] = n in weights
        elif n.op == "call_function":
            random = isinstance(n.target, torch._ops.OpOverload) and seeded in n.target.tags
            only[n] = not random and all(only.get(a, False) for a in n.all_input_nodes)
        else:
            only[n] = False
    bw_ph = [n for n in bw.graph.nodes if n.op == "placeholder"]

    def layout_free(k):
        return k < len(bw_ph) and not any(u.target in _AS_STRIDED for u in bw_ph[k].users)

    pick = [k for k, n in enumerate(saved)
            if isinstance(n, torch.fx.Node) and n.op == "call_function" and only[n] and layout_free(k)]
    if not pick:
        return None, []
    needed, todo = set(), [saved[k] for k in pick]
    while todo:
        n = todo.pop()
        if n not in needed and n.op != "placeholder":
            needed.add(n)
            todo.extend(n.all_input_nodes)
    g = torch.fx.Graph()
    env = {}
    for p in ph[:n_p]:
        env[p] = g.placeholder(p.name)
        env[p].meta = dict(p.meta)
    for n in graph.nodes:
        if n in needed:
            env[n] = g.node_copy(n, lambda a: env[a])
    g.output([env[saved[k]] for k in pick])
    prep = torch.fx.GraphModule(fw, g)
    taken = set(pick)
    out.args = ((*outs[:n_out], *(o for k, o in enumerate(saved) if k not in taken)),)
    graph.eliminate_dead_code()
    fw.recompile()
    return prep, pick


def _pack_dim(val) -> int:
    """The axis :func:`pack_saves` stacks values like ``val`` on: the second (each member a
    strided slice, so Inductor writes it in the loop that computes it), or the first of 0-d ones."""
    return 1 if val.dim() >= 1 else 0


def pack_saves(fw, bw, n_out, once=()):
    """Return a forward program's per-chunk saved values of one shape and dtype as one stacked
    tensor, and let the backward read each as a view of it (in place, both graphs).

    A chunk's forward saves a few values per step for the backward (an LSTM cell's: five
    ``(B, U)`` tensors a step, 20 for K=4). Each is a buffer allocated apart
    and, from a compiled program, a Python tensor to wrap, keep on the autograd context, unpack
    and hand to the backward program: per tensor, not per byte. Stacked, a group is one buffer
    (Inductor's kernels write straight into its slices) and one tensor through all of that.

    The backward's first placeholders are the saved values, in order: the forward's outputs past
    the first ``n_out``, and at the positions ``once`` those computed once per sequence instead
    (:func:`weight_only_saves`); the rest are tangents. Saved values that are placeholders of the forward or views (of its inputs, say:
    packed, they would be copies), or that the backward reads through ``as_strided`` (which
    depends on the layout), stay as they are; each group of two or more alike others becomes
    one stacked tensor among the forward's outputs (after the ones that stay) and a placeholder
    of the backward (after its other saved ones) read through ``aten.select``. They are stacked
    on the second axis: stacked on the first, each member is a contiguous block, which Inductor
    fills by a copy loop of its own after the kernel that computed it (one OpenMP barrier per
    member: the forward 1.2x slower at (64, 28, 28, 64)); as a strided slice it is written by
    that kernel. Returns the backward placeholder positions (among the saved values) that were
    taken out, sorted.

    >>> from torch.fx.experimental.proxy_tensor import make_fx
    >>> fw = make_fx(lambda h: (h.sum(), h.sin(), h.cos(), h.t()), tracing_mode="fake")(torch.randn(2, 3))
    >>> bw = make_fx(lambda s, c, t, g: (g * s * c + t.t(),), tracing_mode="fake")(
    ...     torch.randn(2, 3), torch.randn(2, 3), torch.randn(3, 2), torch.randn(2, 3))
    >>> pack_saves(fw, bw, 1)  # sin and cos packed; h.t() (another shape) stays
    [0, 1]
    >>> h, g = torch.randn(2, 3), torch.randn(2, 3)
    >>> _, t, packed = fw(h)
    >>> packed.shape, torch.allclose(bw(t, packed, g)[0], g * h.sin() * h.cos() + h)
    (torch.Size([2, 2, 3]), True)
    """
    aten = torch.ops.aten
    graph = fw.graph
    out, outs = _output(fw)
    saved = outs[n_out:]
    n_saved = len(once) + len(saved)
    taken = set(once)
    chunk_ph = [k for k in range(n_saved) if k not in taken]  # (what the i-th saved output feeds)
    bw_ph = [n for n in bw.graph.nodes if n.op == "placeholder"]
    groups: dict = {}
    seen = set()
    for i, n in enumerate(saved):
        if not isinstance(n, torch.fx.Node) or n.op != "call_function" or n in seen:
            continue
        seen.add(n)
        val = n.meta.get("val")
        view = n.target is operator.getitem or getattr(n.target, "is_view", False)
        if not isinstance(val, torch.Tensor) or view or any(u.target in _AS_STRIDED for u in bw_ph[chunk_ph[i]].users):
            continue
        groups.setdefault((tuple(val.shape), val.dtype, val.device), []).append(i)
    groups = [g for g in groups.values() if len(g) >= 2]
    if not groups:
        return []
    packs = []  # (stacked node, its axis) per group
    with graph.inserting_before(out):
        for g in groups:  # (as ``cat`` of ``unsqueeze``: the graphs are decomposed, ``stack`` is not)
            val = saved[g[0]].meta["val"]
            d = _pack_dim(val)
            rows = []
            for i in g:
                rows.append(graph.call_function(aten.unsqueeze.default, (saved[i], d)))
                rows[-1].meta["val"] = saved[i].meta["val"].unsqueeze(d)
            s = graph.call_function(aten.cat.default, (rows, d))
            s.meta["val"] = val.new_empty((*val.shape[:d], len(g), *val.shape[d:]))
            packs.append((s, d))
    members = {i for g in groups for i in g}
    out.args = ((*outs[:n_out], *(o for i, o in enumerate(saved) if i not in members), *(s for s, _ in packs)),)
    fw.recompile()
    g_bw = bw.graph
    first_op = next(n for n in g_bw.nodes if n.op != "placeholder")
    anchor = bw_ph[n_saved - 1]
    for j, (g, (s, d)) in enumerate(zip(groups, packs)):
        with g_bw.inserting_after(anchor):
            anchor = g_bw.placeholder(f"packed_saves_{j}")
        anchor.meta["val"] = s.meta["val"]
        for q, i in enumerate(g):
            old = bw_ph[chunk_ph[i]]
            with g_bw.inserting_before(first_op):
                view = g_bw.call_function(aten.select.int, (anchor, d, q))
            view.meta["val"] = s.meta["val"].select(d, q)
            old.replace_all_uses_with(view)
            g_bw.erase_node(old)
    g_bw.lint()
    bw.recompile()
    return sorted(chunk_ph[i] for i in members)
