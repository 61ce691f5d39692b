"""Nested structures of tensors (lists, tuples, namedtuples, dicts): map, flatten, rebuild.

A leaf module (it imports nothing from rnnkit), so the runners below the layers can use it.

>>> flatten({"a": [1, 2], "b": (3,)})
[1, 2, 3]
>>> pack_as({"a": [0, 0], "b": (0,)}, [4, 5, 6])
{'a': [4, 5], 'b': (6,)}
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["map_structure", "flatten", "pack_as"]


def map_structure(fn, x):
    """Apply ``fn`` to every leaf of nested lists / tuples / dicts."""
    if isinstance(x, torch.Tensor):
        return fn(x)
    if isinstance(x, Mapping):
        return {k: map_structure(fn, v) for k, v in x.items()}
    if isinstance(x, list | tuple) and not isinstance(x, torch.Size):
        out = [map_structure(fn, v) for v in x]
        if hasattr(x, "_fields"):  # namedtuple
            return type(x)(*out)
        return type(x)(out)
    return fn(x)


def flatten(x) -> list:
    """Leaves of nested lists / tuples / dicts, in order."""
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, list) and all(isinstance(v, torch.Tensor) for v in x):
        return list(x)
    if isinstance(x, Mapping):
        return [leaf for k in x for leaf in flatten(x[k])]
    if isinstance(x, list | tuple) and not isinstance(x, torch.Size):
        return [leaf for v in x for leaf in flatten(v)]
    return [x]


def pack_as(structure, leaves):
    """Inverse of :func:`flatten`: put ``leaves`` back into ``structure``'s shape."""
    it = iter(leaves)

    def build(s):
        if isinstance(s, Mapping):
            return {k: build(v) for k, v in s.items()}
        if isinstance(s, list | tuple) and not isinstance(s, torch.Size):
            out = [build(v) for v in s]
            if hasattr(s, "_fields"):
                return type(s)(*out)
            return type(s)(out)
        return next(it)

    return build(structure)
