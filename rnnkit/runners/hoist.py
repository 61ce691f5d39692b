"""Split a cell's step into its input-only part and its recurrent part (for the compiled runner).

A cell's step ``(x_t, states) -> (out_t, new_states)`` usually starts with work that reads only
``x_t`` and the weights (``x_t @ kernel``): PyTorch's fused LSTM does that work for all steps at
once, as one large matrix product, and so does rnnkit for its built-in cells. Here the same is
done for *any* cell, written by the user or not:

1. the step is traced once per input signature into an ATen graph (``make_fx`` on fake tensors,
   with the cell's parameters and buffers as graph inputs);
2. the graph is split: nodes that depend on ``x_t`` but on no state form the **input part**, the
   rest the **recurrent part**; the values crossing the cut are the frontier;
3. the input part runs once over the whole sequence, batched over time by ``torch.vmap`` (its
   matrix products become one product over ``B * T`` rows, forward and backward); the recurrent
   part then runs step by step (in the compiled runner: K steps per compiled graph), reading the
   frontier values of its step. (The compiled runner's programs inline the input part per chunk
   of K steps instead, :meth:`SplitStep.batched_input_part`.)

The numbers are the eager loop's (the same ATen operations, only batched), forward and backward.

A step is left alone (``split_step`` returns ``(None, reason)``) when tracing it fails (Python
control flow on tensor values, methods of rnnkit's ``Variable`` that a plain tensor lacks, ...),
when it draws random numbers or mutates tensors in place, or when nothing depends on ``x_t``
alone. The trace is specialised to the cell's plain Python attributes (numbers, strings, flags,
recursively through sub-layers): :func:`fingerprint` records them, and a change re-traces.
"""

from __future__ import annotations

import operator

import torch

from rnnkit.nest import flatten, pack_as

__all__ = ["SplitStep", "split_step", "fingerprint"]

#: split_step's reason when a step has no input-only work (nothing to split off: not a slow path)
NOTHING_TO_HOIST = "no work in the step depends on the inputs alone"

_PLAIN = (bool, int, float, str, type(None))


def fingerprint(module: torch.nn.Module) -> tuple:
    """What a trace bakes in: the plain Python attributes of ``module`` and its sub-modules, and
    the names, shapes, dtypes and ``requires_grad`` flags of its parameters and buffers.

    >>> lin = torch.nn.Linear(2, 2)
    >>> before = fingerprint(lin)
    >>> lin.in_features = 3
    >>> fingerprint(lin) == before
    False
    """
    items = []
    for prefix, m in module.named_modules():
        for k, v in vars(m).items():
            if isinstance(v, _PLAIN):
                items.append((prefix, k, v))
            elif isinstance(v, list | tuple) and all(isinstance(e, _PLAIN) for e in v):
                items.append((prefix, k, tuple(v)))
        items.append((prefix, "training", m.training))
    for kind, named in (("p", module.named_parameters(remove_duplicate=False)),
                        ("b", module.named_buffers(remove_duplicate=False))):
        for name, t in named:
            items.append((kind, name, tuple(t.shape), t.dtype, t.requires_grad))
    return tuple(items)


class _Stepper(torch.nn.Module):
    """Holds the cell as a sub-module so ``functional_call`` can swap its tensors for the trace."""

    def __init__(self, cell, step_fn):
        super().__init__()
        self.cell = cell
        self.__dict__["step_fn"] = step_fn

    def forward(self, x_t, states):
        return self.step_fn(x_t, states)


class SplitStep:
    """A step split into an input part (run over the whole sequence) and a recurrent part.

    ``hoist(inputs)`` maps the layer's inputs, time-major ``(T, B, ...)``, to the recurrent part's
    inputs (a list of tensors laid out alike); ``step(h_t, states)`` is a step function for the runner
    over those, returning ``(out_t, new_states)`` with the structure the cell returns.
    """

    def __init__(self, names, pre, post, n_x, x_used, out_structure, n_out, frontier_ops):
        self.names = names
        self.pre, self.post = pre, post
        self.n_x, self.x_used = n_x, x_used
        self.out_structure, self.n_out = out_structure, n_out
        #: the ATen operations moved out of the loop (for reports and tests)
        self.frontier_ops = frontier_ops
        self.tensors: list = []
        self._batched: dict = {}  # input shapes -> the traced, time-batched input part

    def bind(self, cell):
        """Read the cell's current parameters and buffers (call once per layer call)."""
        named = dict(cell.named_parameters(remove_duplicate=False))
        named.update(dict(cell.named_buffers(remove_duplicate=False)))
        self.tensors = [named[n] for n in self.names]
        return self

    def hoist(self, inputs):
        leaves = flatten(inputs)
        key = tuple((tuple(t.shape), t.dtype, t.device) for t in leaves)
        fn = self._batched.get(key)
        if fn is None:
            fn = self.batched_input_part(leaves)
            if len(self._batched) >= 8:  # a few sequence lengths; more are rare and retrace
                self._batched.clear()
            self._batched[key] = fn
        hoisted = list(fn(*self.tensors, *leaves))
        return hoisted + [leaves[i] for i in self.x_used]

    def batched_input_part(self, leaves):
        """The input part batched over time for inputs shaped like ``leaves`` (``(T, B, ...)``),
        as a graph ``(*tensors, *leaves) -> hoisted values``: ``vmap`` traced away into plain
        ATen operations (one large product per ``x_t @ W``), so a call costs no ``vmap``
        machinery. The compiled programs inline it per chunk.

        >>> cell = torch.nn.Linear(3, 2, bias=False)
        >>> def step(x, s):
        ...     h = torch.tanh(cell(x) + s[0])
        ...     return h, [h]
        >>> split, _ = split_step(step, cell, torch.randn(4, 3), [torch.zeros(4, 2)])
        >>> x = torch.randn(5, 4, 3)  # (T, B, F)
        >>> gm = split.bind(cell).batched_input_part([x])
        >>> torch.allclose(gm(*split.tensors, x)[0], x @ cell.weight.t())
        True
        """
        from torch.fx.experimental.proxy_tensor import make_fx

        n_t = len(self.tensors)

        def batched(*args):
            tensors, xs = args[:n_t], args[n_t:]
            return tuple(torch.vmap(lambda *x: tuple(self.pre(*tensors, *x)), in_dims=0, out_dims=0)(*xs))

        with torch.no_grad():
            return make_fx(batched, tracing_mode="fake", _allow_non_fake_inputs=True)(*self.tensors, *leaves)

    def run_post(self, tensors, h_t, states):
        """The recurrent part on one step's ``h_t`` (as ``hoist`` lays them out): the flat list
        ``[*output leaves, *new states]``. ``tensors``: the cell's parameters and buffers."""
        n_h = len(h_t) - len(self.x_used)
        xs = [None] * self.n_x
        for i, v in zip(self.x_used, h_t[n_h:]):
            xs[i] = v
        return list(self.post(*tensors, *h_t[:n_h], *xs, *states))

    def step(self, h_t, states):
        res = self.run_post(self.tensors, h_t, states)
        return pack_as(self.out_structure, res[: self.n_out]), res[self.n_out :]


def split_step(step_fn, cell, x_t, states):
    """Trace and split ``step_fn`` (reading ``cell``'s tensors) at example ``x_t`` / ``states``.

    Returns ``(SplitStep, None)``, or ``(None, reason)`` when the step cannot or need not be split.

    >>> cell = torch.nn.Linear(3, 2, bias=False)
    >>> def step(x, s):
    ...     h = torch.tanh(cell(x) + s[0])
    ...     return h, [h]
    >>> split, why = split_step(step, cell, torch.randn(4, 3), [torch.zeros(4, 2)])
    >>> why is None, split.frontier_ops
    (True, ['aten.mm.default'])
    >>> x = torch.randn(5, 4, 3)  # (T, B, F)
    >>> h = split.bind(cell).hoist(x)  # x_t @ W.T for all 5 steps in one product
    >>> out, _ = split.step([h[0][0]], [torch.zeros(4, 2)])
    >>> torch.allclose(out, step(x[0], [torch.zeros(4, 2)])[0])
    True
    >>> split_step(lambda x, s: (x * torch.rand_like(s[0]), [s[0]]), cell, torch.randn(4, 2),
    ...            [torch.zeros(4, 2)])[1]
    'the step draws random numbers (aten.rand_like.default)'
    """
    from torch.func import functional_call
    from torch.fx.experimental.proxy_tensor import make_fx

    stepper = _Stepper(cell, step_fn)
    named = dict(cell.named_parameters(remove_duplicate=False))
    named.update(dict(cell.named_buffers(remove_duplicate=False)))
    names = list(named)
    full_names = [f"cell.{n}" for n in names]
    x_leaves = flatten(x_t)
    n_p, n_x = len(names), len(x_leaves)
    if not all(isinstance(t, torch.Tensor) for t in x_leaves):
        return None, "the inputs are not all tensors"
    structure = {}

    def traced(*args):
        tensors, xs, ss = args[:n_p], args[n_p : n_p + n_x], args[n_p + n_x :]
        out, new = functional_call(stepper, dict(zip(full_names, tensors)), (pack_as(x_t, list(xs)), list(ss)))
        out_leaves = flatten(out)
        structure["out"], structure["n_out"] = out, len(out_leaves)
        return [*out_leaves, *new]

    try:
        with torch.no_grad():  # structure only; autograd is recorded when the parts run
            gm = make_fx(traced, tracing_mode="fake", _allow_non_fake_inputs=True)(
                *named.values(), *x_leaves, *states
            )
    except Exception as e:  # noqa: BLE001  (any failure: the step runs unsplit)
        return None, f"tracing the step failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    g = gm.graph
    g.eliminate_dead_code()
    for n in g.nodes:
        if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload):
            if torch.Tag.nondeterministic_seeded in n.target.tags:
                return None, f"the step draws random numbers ({n.target})"
            if n.target._schema.is_mutable:
                return None, f"the step mutates a tensor in place ({n.target})"
        elif n.op == "call_function" and n.target is not operator.getitem:
            return None, f"the traced step calls {n.target} (not an ATen operation)"
        elif n.op == "get_attr" and any(u.target is not torch.ops.aten.lift_fresh_copy.default for u in n.users):
            # a tensor captured from outside the step (a cached mask, a tensor attribute that is
            # neither a parameter nor a buffer): a trace would freeze its current value
            return None, "the step reads a tensor that is neither an input, a state, a parameter nor a buffer"
    placeholders = [n for n in g.nodes if n.op == "placeholder"]
    p_nodes = placeholders[:n_p]
    x_nodes = placeholders[n_p : n_p + n_x]
    s_nodes = placeholders[n_p + n_x :]
    output = next(n for n in g.nodes if n.op == "output")
    on_x, on_s = set(x_nodes), set(s_nodes)
    for n in g.nodes:
        if n.op == "placeholder" or n is output:
            continue
        ins = n.all_input_nodes
        if any(i in on_s for i in ins):
            on_s.add(n)
        elif any(i in on_x for i in ins):
            on_x.add(n)
    frontier = [
        n for n in g.nodes
        if n in on_x and n.op != "placeholder" and any(u in on_s or u is output for u in n.users)
    ]
    if not frontier:
        return None, NOTHING_TO_HOIST
    if any(isinstance(n.meta.get("val"), tuple | list) for n in frontier):
        return None, "a hoisted value is not a single tensor"

    import torch.fx as fx

    # input part: parameters, x -> frontier values
    pre = fx.Graph()
    env = {n: pre.placeholder(n.name) for n in p_nodes + x_nodes}
    needed: set = set()
    todo = list(frontier)
    while todo:
        n = todo.pop()
        if n in needed or n.op == "placeholder":
            continue
        needed.add(n)
        todo.extend(n.all_input_nodes)
    for n in g.nodes:
        if n in needed:
            env[n] = pre.node_copy(n, lambda a: env[a])
    pre.output(tuple(env[n] for n in frontier))
    # recurrent part: parameters, frontier values, x, states -> outputs, new states
    post = fx.Graph()
    env2 = {n: post.placeholder(n.name) for n in p_nodes}
    env2.update({n: post.placeholder(f"hoisted_{i}") for i, n in enumerate(frontier)})
    env2.update({n: post.placeholder(n.name) for n in x_nodes + s_nodes})
    for n in g.nodes:
        if n.op == "call_function" and n not in env2 and not (n in on_x and n not in on_s and n in needed):
            env2[n] = post.node_copy(n, lambda a: env2[a])
    post.output(fx.node.map_arg(output.args[0], lambda a: env2[a]))
    post.eliminate_dead_code()
    x_used = [i for i, n in enumerate(x_nodes) if env2[n].users]
    pre_gm, post_gm = fx.GraphModule(gm, pre), fx.GraphModule(gm, post)
    ops = [str(n.target) for n in frontier]
    return SplitStep(names, pre_gm, post_gm, n_x, x_used, structure["out"], structure["n_out"], ops), None
