"""Symbolic tensors for the functional API: ``Input``, ``KerasTensor`` and the call graph.

Calling a layer on a :class:`KerasTensor` records a :class:`Node` (layer, arguments, outputs)
instead of computing. Output shapes are inferred by running the layer on two small dummy batches
of different sizes: an axis whose size differs between the two runs is unknown (``None``).
"""

from __future__ import annotations

import torch

from rnnkit import config as _config

__all__ = ["KerasTensor", "Node", "Input", "any_symbolic", "symbolic_call"]

_DUMMY = ({None: 2}, {None: 3})  # sizes given to unknown axes in the two inference runs


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for unknown axes), a dtype and where it came from."""

    def __init__(self, shape, dtype="float32", name=None, node=None, index=0, has_mask=False):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = _config.standardize_dtype(dtype)
        self.name = name
        self.node = node  # the Node that produced it (None for an Input)
        self.index = index
        self.has_mask = has_mask

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def dummy(self, variant: int, device=None) -> torch.Tensor:
        sizes = [(2 + variant if i == 0 else 3 + 2 * variant) if s is None else s for i, s in enumerate(self.shape)]
        t = torch.zeros(sizes, dtype=_config.torch_dtype(self.dtype), device=device)
        if self.has_mask and t.dim() >= 2:
            t._keras_mask = torch.ones(t.shape[:2], dtype=torch.bool, device=device)
        return t

    # Keras-style conveniences
    def __len__(self):
        raise TypeError("a symbolic tensor has no length; did you mean .shape?")


class Node:
    """One layer call in a functional graph."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer, self.args, self.kwargs = layer, args, kwargs
        self.outputs = outputs  # the returned structure of KerasTensors

    def inputs(self) -> list[KerasTensor]:
        from rnnkit.layers.layer import flatten

        return [t for t in flatten([list(self.args), dict(self.kwargs)]) if isinstance(t, KerasTensor)]


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, sparse=None, tensor=None):
    """A symbolic model input of ``shape`` (without the batch axis; ``None`` = unknown size).

    >>> x = Input(shape=(None, 8))
    >>> x.shape
    (None, None, 8)
    """
    if batch_shape is None:
        if shape is None:
            raise ValueError("Input needs shape= (without the batch axis) or batch_shape=")
        if isinstance(shape, int):
            shape = (shape,)
        batch_shape = (batch_size, *tuple(shape))
    from rnnkit.layers.layer import unique_name

    return KerasTensor(batch_shape, dtype or _config.floatx(), name=name or unique_name("input_layer"))


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


def _substitute(x, variant, device):
    from rnnkit.layers.layer import map_structure

    return map_structure(lambda t: t.dummy(variant, device) if isinstance(t, KerasTensor) else t, x)


def symbolic_call(layer, args, kwargs):
    """Record ``layer(*args, **kwargs)`` on symbolic tensors and return symbolic outputs."""
    from rnnkit.layers.layer import flatten, map_structure, pack_as

    if not layer.built and args:  # build from the symbolic shapes (unknown axes stay None)
        first = map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else t, args[0])
        layer.build(first)
        layer.built = True
        layer._build_input_shape = map_structure(lambda d: d, list(first) if isinstance(first, tuple) else first)
    device = next((p.device for p in layer.parameters()), None)
    saved = _save_states(layer)
    runs = []
    try:
        with torch.no_grad():
            for variant in (0, 1):
                a = _substitute(list(args), variant, device)
                k = _substitute(dict(kwargs), variant, device)
                runs.append(layer(*a, **k))
    finally:
        _restore_states(layer, saved)
    leaves0, leaves1 = flatten(runs[0]), flatten(runs[1])
    outs = []
    for i, (t0, t1) in enumerate(zip(leaves0, leaves1)):
        if not isinstance(t0, torch.Tensor):
            raise TypeError(f"{layer.name} returned a {type(t0).__name__}; expected tensors")
        shape = [a if a == b else None for a, b in zip(t0.shape, t1.shape)]
        outs.append(
            KerasTensor(
                shape,
                _config.standardize_dtype(t0.dtype),
                name=f"{layer.name}/out{i}",
                index=i,
                has_mask=getattr(t0, "_keras_mask", None) is not None,
            )
        )
    structure = pack_as(runs[0], outs)
    node = Node(layer, tuple(args), dict(kwargs), structure)
    for t in outs:
        t.node = node
    return structure


def _save_states(layer):
    saved = []
    for m in layer.modules():
        if hasattr(m, "_states") and getattr(m, "stateful", False):
            saved.append((m, m._states))
    return saved


def _restore_states(layer, saved):
    for m, s in saved:
        m._states = s
