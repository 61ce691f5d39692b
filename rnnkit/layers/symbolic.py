"""Symbolic tensors and the call graph: ``KerasTensor``, ``Node`` and shape inference.

Calling a layer on a :class:`KerasTensor` computes nothing: it records a :class:`Node` (the layer,
its arguments and its symbolic outputs) on ``layer._inbound_nodes`` and returns new symbolic tensors
whose ``_keras_history`` points back to that node, as Keras does. Output shapes come from

1. the layer's ``compute_output_shape`` when it defines one (``call()`` is not run; output masks,
   when the layer makes them, come from ``compute_mask`` on meta tensors), otherwise
2. running the layer under torch's ``FakeTensorMode`` (no real computation, real weights stay
   untouched) on two dummy batches whose unknown axes differ in size: an axis whose size differs
   between the two runs is unknown (``None``), and otherwise
3. the same two runs on small real zero tensors, when the layer's ``call()`` cannot run on fake
   tensors (it reads tensor values, e.g. a mask with holes, or it still has unbuilt sublayers).

This module sits at the layer base (``Layer.__call__`` needs it), below the models package.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import torch

from rnnkit import config as _config
from rnnkit.layers.keras_ops import KerasOp
from rnnkit.layers.layer import Layer, _TrainingScope, flatten, map_structure, pack_as

__all__ = ["KerasHistory", "KerasTensor", "Node", "Operation", "any_symbolic", "record_function", "symbolic_call"]


class KerasHistory(NamedTuple):
    """Where a symbolic tensor comes from: ``(operation, node_index, tensor_index)``."""

    operation: object
    node_index: int
    tensor_index: int


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for unknown axes), a dtype and where it came from.

    Args:
        shape: the shape including the batch axis (``None`` for unknown sizes).
        dtype: dtype name (default ``"float32"``).
        name: a name (model inputs carry their ``InputLayer``'s name).
        node: the :class:`Node` that produced it; ``index``: its position among the node's
            flattened outputs.

    ``_keras_history`` is ``(layer, node_index, tensor_index)``; ``_keras_mask`` is the symbolic
    mask travelling with it (a boolean ``KerasTensor``) or None.

    >>> from rnnkit.layers import Input, Embedding
    >>> x = Input(shape=(None,), dtype="int32", name="tokens")
    >>> x.shape, x._keras_history.operation.name
    ((None, None), 'tokens')
    >>> y = Embedding(10, 4, mask_zero=True)(x)
    >>> y.shape, y._keras_mask.shape, y._keras_mask.dtype
    ((None, None, 4), (None, None), 'bool')
    """

    def __init__(self, shape, dtype="float32", name=None, node=None, index=0, sparse=False):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = _config.standardize_dtype(dtype)
        self.name = name
        self.node = node
        self.index = index
        self.sparse = bool(sparse)
        self.ragged = False
        self._keras_mask = None
        self._mask_of = None  # for a mask tensor: the KerasTensor whose mask it is

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def has_mask(self) -> bool:
        """Whether a Keras mask travels with this tensor."""
        return self._keras_mask is not None

    @property
    def _keras_history(self) -> KerasHistory | None:
        node = self.node
        if node is None:
            return None
        nodes = list(node.layer._inbound_nodes)
        index = next((i for i, n in enumerate(nodes) if n is node), 0)
        return KerasHistory(node.layer, index, self.index)

    def __repr__(self):
        return (
            f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse={self.sparse}, "
            f"ragged={self.ragged}, name={self.name}>"
        )

    def dummy(self, variant: int, device=None, meta: bool = False) -> torch.Tensor:
        """A zero tensor of this shape; unknown axes get sizes that differ with ``variant``."""
        sizes = [(2 + variant if i == 0 else 3 + 2 * variant) if s is None else s for i, s in enumerate(self.shape)]
        dtype = _config.torch_dtype(self.dtype)
        if meta:
            t = torch.empty(sizes, dtype=dtype, device="meta")
        elif dtype == torch.bool:
            t = torch.ones(sizes, dtype=dtype, device=device)
        else:
            t = torch.zeros(sizes, dtype=dtype, device=device)
        if self._keras_mask is not None:
            t._keras_mask = self._keras_mask.dummy(variant, device, meta)
        return t

    # Arithmetic, indexing and order comparisons record a Keras operation node (as Keras 3 does:
    # ``x[:, -1]`` is a ``GetItem`` node, ``x * 2`` a ``Multiply`` one), which .keras files keep.
    # ``==`` / ``!=`` stay identity (symbolic tensors are dictionary keys): use ops.equal.
    def __add__(self, other):
        return _keras_op("Add", self, other)

    def __radd__(self, other):
        return _keras_op("Add", other, self)

    def __sub__(self, other):
        return _keras_op("Subtract", self, other)

    def __rsub__(self, other):
        return _keras_op("Subtract", other, self)

    def __mul__(self, other):
        return _keras_op("Multiply", self, other)

    def __rmul__(self, other):
        return _keras_op("Multiply", other, self)

    def __truediv__(self, other):
        return _keras_op("TrueDivide", self, other)

    def __rtruediv__(self, other):
        return _keras_op("TrueDivide", other, self)

    def __pow__(self, other):
        return _keras_op("Power", self, other)

    def __matmul__(self, other):
        return _keras_op("Matmul", self, other)

    def __rmatmul__(self, other):
        return _keras_op("Matmul", other, self)

    def __neg__(self):
        return _keras_op("Negative", self)

    def __abs__(self):
        return _keras_op("Absolute", self)

    def __lt__(self, other):
        return _keras_op("Less", self, other)

    def __le__(self, other):
        return _keras_op("LessEqual", self, other)

    def __gt__(self, other):
        return _keras_op("Greater", self, other)

    def __ge__(self, other):
        return _keras_op("GreaterEqual", self, other)

    def __getitem__(self, key):
        return _keras_op("GetItem", self, list(key) if isinstance(key, tuple) else key)

    def __len__(self):
        raise TypeError("a symbolic tensor has no length; did you mean .shape?")

    def __iter__(self):
        raise TypeError(
            f"a symbolic tensor of shape {self.shape} cannot be iterated; a layer returning several "
            "tensors returns a list of symbolic tensors"
        )


class Node:
    """One call of a layer in a functional graph (Keras's ``Node``).

    ``layer`` was called with ``args`` / ``kwargs`` (symbolic tensors among them) and returned
    ``outputs`` (the structure of symbolic tensors). Creating a node appends it to
    ``layer._inbound_nodes``. ``is_input`` is True for the node of an ``InputLayer``.

    >>> from rnnkit.layers import Input, Dense
    >>> x = Input(shape=(3,))
    >>> dense = Dense(2)
    >>> y = dense(x)
    >>> node = dense._inbound_nodes[0]
    >>> node.layer is dense, node.input_tensors == [x], node.output_tensors == [y]
    (True, True, True)
    """

    def __init__(self, layer, args=(), kwargs=None, outputs=None, is_input=False):
        self.layer = layer
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.outputs = outputs
        self.is_input = bool(is_input)
        nodes = layer.__dict__.get("_inbound_nodes")
        if nodes is None:
            nodes = layer.__dict__["_inbound_nodes"] = []
        nodes.append(self)

    @property
    def operation(self):
        return self.layer

    @property
    def input_tensors(self) -> list[KerasTensor]:
        """The symbolic tensors among the arguments: positional ones, then keyword ones by name."""
        leaves = flatten(list(self.args)) + flatten({k: self.kwargs[k] for k in sorted(self.kwargs)})
        return [t for t in leaves if isinstance(t, KerasTensor)]

    def inputs(self) -> list[KerasTensor]:
        """Same as :attr:`input_tensors` (kept for code written against the older method)."""
        return self.input_tensors

    @property
    def output_tensors(self) -> list[KerasTensor]:
        return [t for t in flatten(self.outputs) if isinstance(t, KerasTensor)]

    @property
    def parent_nodes(self) -> list[Node]:
        out = []
        for t in self.input_tensors:
            if t.node is not None and all(t.node is not n for n in out):
                out.append(t.node)
        return out

    def __repr__(self):
        return f"<Node layer={self.layer.name}, is_input={self.is_input}>"


def _is_symbolic(x) -> bool:
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, list | tuple):
        return any(_is_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(_is_symbolic(v) for v in x.values())
    return False


def any_symbolic(args, kwargs) -> bool:
    """Whether any argument is a symbolic tensor."""
    if args and isinstance(args[0], torch.Tensor) and len(args) == 1 and not kwargs:
        return False
    if args and _is_symbolic(args[0]):
        return True
    return any(_is_symbolic(v) for v in args[1:]) or any(_is_symbolic(v) for v in kwargs.values())


def _keras_op(op, *args):
    """A Keras operation node (:class:`rnnkit.layers.keras_ops.KerasOp`) on symbolic tensors."""
    return KerasOp(op)(*args)


class Operation(Layer):
    """A function called on symbolic tensors (``rnnkit.ops.fn(t)``, ``t + 1``, ``t[:, -1]``),
    recorded in the functional graph as a layer: calling it calls the function again with the
    graph's tensors in the symbolic tensors' places (see :func:`record_function`).

    >>> from rnnkit.layers import Input
    >>> y = record_function(torch.split, (Input(shape=(4,)), 2), {"dim": -1})
    >>> op = y[0].node.layer
    >>> type(op).__name__, [tuple(t.shape) for t in op([torch.ones(3, 4)])]
    ('Operation', [(3, 2), (3, 2)])
    """

    def __init__(self, fn, args, kwargs, name=None, **kw):
        super().__init__(name=name or getattr(fn, "__name__", "operation"), **kw)
        self.fn, self.op_args, self.op_kwargs = fn, args, kwargs
        self.built = True

    def call(self, inputs):
        args, kwargs = _fill((self.op_args, self.op_kwargs), iter(inputs))
        return self.fn(*args, **kwargs)

    def get_config(self):
        raise NotImplementedError(
            f"{self.name}: a model that calls {getattr(self.fn, '__name__', 'a function')} on "
            f"symbolic tensors (rnnkit.ops or an operator) cannot be written as an architecture "
            f"yet; save its weights (save_weights) and rebuild it in code, or wrap the "
            f"computation in a registered Layer subclass"
        )


class _Slot:
    """Where a symbolic tensor sat among an operation's arguments."""


def _hollow(x, found):
    """``x`` with each symbolic tensor replaced by a slot (the tensors collected in ``found``)."""
    if isinstance(x, KerasTensor):
        found.append(x)
        return _Slot()
    if isinstance(x, list | tuple) and not hasattr(x, "_fields"):
        return type(x)(_hollow(e, found) for e in x)
    if isinstance(x, dict):
        return {k: _hollow(v, found) for k, v in x.items()}
    return x


def _fill(x, it):
    if isinstance(x, _Slot):
        return next(it)
    if isinstance(x, list | tuple) and not hasattr(x, "_fields"):
        return type(x)(_fill(e, it) for e in x)
    if isinstance(x, dict):
        return {k: _fill(v, it) for k, v in x.items()}
    return x


def record_function(fn, args=(), kwargs=None, name=None):
    """``fn(*args, **kwargs)`` where some arguments are symbolic: an :class:`Operation` node in
    the graph, and its symbolic outputs.

    >>> from rnnkit.layers import Input
    >>> x = Input(shape=(5, 3))
    >>> y = record_function(torch.mean, (x,), {"dim": 1})
    >>> y.shape, (x[:, -1] * 2).shape
    ((None, 3), (None, 3))
    """
    found: list = []
    args_h, kwargs_h = _hollow((tuple(args), dict(kwargs or {})), found)
    return Operation(fn, args_h, kwargs_h, name=name)(list(found))


def _shapes(x):
    return map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else t, x)


def _substitute(x, variant, device, meta=False):
    return map_structure(lambda t: t.dummy(variant, device, meta) if isinstance(t, KerasTensor) else t, x)


# --------------------------------------------------------------------------- compute_output_shape
def _defines_compute_output_shape(layer) -> bool:
    fn = getattr(type(layer), "compute_output_shape", None)
    return fn is not None and fn is not getattr(Layer, "compute_output_shape", None)


def _is_shape(s) -> bool:
    return isinstance(s, tuple | list | torch.Size) and all(d is None or isinstance(d, int) for d in s)


def _output_shapes_from_layer(layer, args, kwargs):
    """The layer's ``compute_output_shape`` answer as a structure of shape tuples, or None when
    the layer has none (or declines with ``NotImplementedError``)."""
    if not _defines_compute_output_shape(layer):
        return None
    fn = layer.compute_output_shape
    try:
        params = [
            p for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    # Keras's rule: every tensor argument ``name`` of call() becomes ``name_shape``; a
    # compute_output_shape with one parameter receives the first argument's shape.
    call_params = list(inspect.signature(layer.call).parameters)
    named = {}
    for i, a in enumerate(args):
        if i < len(call_params) and _is_symbolic(a):
            named[f"{call_params[i]}_shape"] = _shapes(a)
    for k, v in kwargs.items():
        if k != "mask" and not k.endswith("_mask") and _is_symbolic(v):
            named[f"{k}_shape"] = _shapes(v)
    first = _shapes(args[0]) if args else None
    try:
        if len(params) <= 1:
            out = fn(first)
        else:
            wanted = {p.name: named[p.name] for p in params if p.name in named}
            if params[0].name not in wanted:
                wanted = {params[0].name: first, **{k: v for k, v in wanted.items() if k != params[0].name}}
            missing = [p.name for p in params if p.default is p.empty and p.name not in wanted]
            if missing:
                return None
            out = fn(**wanted)
    except NotImplementedError:
        return None
    if _is_shape(out):
        return tuple(out)

    def norm(s):
        if _is_shape(s):
            return tuple(s)
        if isinstance(s, dict):
            return {k: norm(v) for k, v in s.items()}
        if isinstance(s, list | tuple):
            return type(s)(norm(v) for v in s)
        raise ValueError(
            f"{layer.name}.compute_output_shape() returned {out!r}; expected a shape tuple or a "
            "list / dict of shape tuples"
        )

    return norm(out)


def _masks_from_layer(layer, args, kwargs, n_outputs, structure):
    """Output masks (a list aligned with the flat outputs) from ``compute_mask`` alone."""
    if not (layer.supports_masking or type(layer).compute_mask is not Layer.compute_mask):
        return [None] * n_outputs
    runs = []
    for variant in (0, 1):
        for meta in (True, False):
            try:
                inputs = _substitute(args[0], variant, None, meta) if args else None
                mask = kwargs.get("mask")
                mask = _substitute(mask, variant, None, meta) if mask is not None else _input_mask(inputs)
                with torch.no_grad():
                    out = layer.compute_mask(inputs, mask)
                break
            except Exception:  # noqa: BLE001 - meta tensors refused: retry on small real ones
                if not meta:
                    raise
        runs.append(out)
    outs = structure if isinstance(structure, list | tuple) else [structure]
    out = [None] * n_outputs
    m0 = runs[0] if isinstance(runs[0], list | tuple) else [runs[0]]
    m1 = runs[1] if isinstance(runs[1], list | tuple) else [runs[1]]
    flat_pos = 0
    for o, a, b in zip(outs, m0, m1):
        if isinstance(a, torch.Tensor) and not isinstance(o, list | tuple | dict):
            out[flat_pos] = _merge_shapes(a.shape, b.shape)
        flat_pos += len(flatten(o))
    return out


def _input_mask(inputs):
    if isinstance(inputs, torch.Tensor):
        return getattr(inputs, "_keras_mask", None)
    masks = [getattr(t, "_keras_mask", None) for t in flatten(inputs)]
    if any(m is not None for m in masks):
        return pack_as(inputs, masks) if isinstance(inputs, list | tuple | dict) else masks[0]
    return None


def _merge_shapes(a, b):
    return tuple(x if x == y else None for x, y in zip(a, b))


# --------------------------------------------------------------------------- running the layer
def _can_fake(layer) -> bool:
    for m in layer.modules():
        if isinstance(m, Layer) and not m.built:
            return False  # a sublayer would create its weights under fake mode
        for p in m.parameters(recurse=False):
            if isinstance(p, torch.nn.parameter.UninitializedParameter):
                return False
    return True


def _run_twice(layer, args, kwargs, fake: bool):
    device = next((p.device for p in layer.parameters()), None)
    runs = []
    saved = _save_side_effects(layer)
    try:
        if fake:
            from torch._subclasses.fake_tensor import FakeTensorMode

            mode = FakeTensorMode(allow_non_fake_inputs=True)
        for variant in (0, 1):
            a = _substitute(list(args), variant, device)
            k = _substitute(dict(kwargs), variant, device)
            if fake:
                a, k = map_structure(lambda t: _fake(mode, t), (a, k))
            with torch.no_grad(), _TrainingScope(bool(kwargs.get("training", False))):
                if fake:
                    with mode:
                        runs.append(layer(*a, **k))
                else:
                    runs.append(layer(*a, **k))
    finally:
        _restore_side_effects(saved)
    return runs


def _fake(mode, t):
    if not isinstance(t, torch.Tensor):
        return t
    f = mode.from_tensor(t)
    mask = getattr(t, "_keras_mask", None)
    if mask is not None:
        f._keras_mask = mode.from_tensor(mask)
    return f


def _save_side_effects(layer):
    saved = []
    for m in layer.modules():
        if hasattr(m, "_states") and getattr(m, "stateful", False):
            saved.append((m, "_states", m._states))
        if isinstance(m, Layer):
            saved.append((m, "_activity_losses", list(m._activity_losses)))
    return saved


def _restore_side_effects(saved):
    for m, attr, value in saved:
        m.__dict__[attr] = value


def _specs_by_running(layer, args, kwargs):
    """``(structure of the first run, [(shape, dtype, mask_shape)] per flat output)``."""
    runs = None
    if _can_fake(layer):
        try:
            runs = _run_twice(layer, args, kwargs, fake=True)
        except Exception:  # noqa: BLE001 - call() needs real values: fall back to real dummies
            runs = None
    if runs is None:
        runs = _run_twice(layer, args, kwargs, fake=False)
    leaves0, leaves1 = flatten(runs[0]), flatten(runs[1])
    specs = []
    for t0, t1 in zip(leaves0, leaves1):
        if not isinstance(t0, torch.Tensor):
            raise TypeError(f"{layer.name} returned a {type(t0).__name__}; expected tensors")
        m0, m1 = getattr(t0, "_keras_mask", None), getattr(t1, "_keras_mask", None)
        mask = _merge_shapes(m0.shape, m1.shape) if isinstance(m0, torch.Tensor) else None
        specs.append((_merge_shapes(t0.shape, t1.shape), _config.standardize_dtype(t0.dtype), mask))
    return runs[0], specs


# --------------------------------------------------------------------------- the symbolic call
def _build_symbolically(layer, args):
    if layer.built or not args:
        return
    first = _shapes(args[0])
    layer.build(first)
    layer.built = True
    if getattr(layer, "_build_input_shape", None) is None:
        layer._build_input_shape = map_structure(lambda d: d, list(first) if isinstance(first, tuple) else first)


def symbolic_call(layer, args, kwargs):
    """Record ``layer(*args, **kwargs)`` on symbolic tensors and return symbolic outputs.

    >>> from rnnkit.layers import Input, LSTM
    >>> lstm = LSTM(4, return_state=True)
    >>> out, h, c = lstm(Input(shape=(None, 3)))
    >>> out.shape, h._keras_history.tensor_index, lstm.output[2] is c
    ((None, 4), 1, True)
    """
    if not args and "inputs" in kwargs:
        kwargs = dict(kwargs)
        args = (kwargs.pop("inputs"),)
    _build_symbolically(layer, args)
    shapes = _output_shapes_from_layer(layer, args, kwargs)
    if shapes is not None:
        structure, flat = _shape_structure(shapes), _flat_shapes(shapes)
        masks = _masks_from_layer(layer, args, kwargs, len(flat), structure)
        specs = [(s, layer.compute_dtype, m) for s, m in zip(flat, masks)]
    else:
        structure, specs = _specs_by_running(layer, args, kwargs)
    outs = []
    for i, (shape, dtype, mask_shape) in enumerate(specs):
        t = KerasTensor(shape, dtype, name=f"{layer.name}/out{i}", index=i)
        if mask_shape is not None:
            t._keras_mask = KerasTensor(mask_shape, "bool", name=f"{layer.name}/mask{i}", index=i)
            t._keras_mask._mask_of = t
        outs.append(t)
    result = pack_as(structure, outs)
    node = Node(layer, args, kwargs, result)
    for t in outs:
        t.node = node
        if t._keras_mask is not None:
            t._keras_mask.node = node
    return result


class _Leaf:
    """A placeholder leaf standing for one shape in a nested output-shape structure."""


def _flat_shapes(shapes) -> list:
    if _is_shape(shapes):
        return [tuple(shapes)]
    if isinstance(shapes, dict):
        return [s for k in shapes for s in _flat_shapes(shapes[k])]
    return [s for v in shapes for s in _flat_shapes(v)]


def _shape_structure(shapes):
    if _is_shape(shapes):
        return _Leaf()
    if isinstance(shapes, dict):
        return {k: _shape_structure(v) for k, v in shapes.items()}
    return type(shapes)(_shape_structure(v) for v in shapes)
