"""``keras.ops.core``'s functions: conversion, casts, control flow (eager), slicing."""

from __future__ import annotations

import builtins

import numpy as np
import torch

from rnnkit.layers.symbolic import KerasTensor
from rnnkit.ops._base import _PUBLIC, _dtype, _op, _t

_START = len(_PUBLIC)


# --------------------------------------------------------------------------- core
@_op
def convert_to_tensor(x, dtype=None, sparse=None):
    """``x`` as a torch tensor (Python floats as floatx, ints as int32; arrays keep their dtype)."""
    return _t(x, dtype)


def convert_to_numpy(x):
    """A NumPy array of ``x`` (detached, on the CPU)."""
    if isinstance(x, KerasTensor):
        raise TypeError("rnnkit.ops.convert_to_numpy: a symbolic tensor has no values yet")
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


_PUBLIC.append("convert_to_numpy")


def is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor."""
    return isinstance(x, torch.Tensor)


_PUBLIC.append("is_tensor")


def shape(x) -> tuple:
    """The shape as a tuple (``None`` for a symbolic tensor's unknown axes)."""
    if isinstance(x, KerasTensor):
        return tuple(x.shape)
    return tuple(int(s) for s in _t(x).shape)


_PUBLIC.append("shape")


@_op
def cast(x, dtype):
    return _t(x).to(_dtype(dtype))


@_op
def stop_gradient(variable):
    return _t(variable).detach()


@_op
def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()`` (eager)."""
    return true_fn() if bool(pred) else false_fn()


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)`` (eager)."""
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (eager; a tuple in, a tuple out)."""
    single = not isinstance(loop_vars, list | tuple)
    state = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while bool(cond(*state)) and (maximum_iterations is None or n < maximum_iterations):
        out = body(*state)
        state = (out,) if single else tuple(out)
        n += 1
    return state[0] if single else state


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns ``(carry, stacked ys)``."""
    if xs is None and length is None:
        raise ValueError("rnnkit.ops.scan: give xs or length")
    n = int(length) if xs is None else int(_first_leaf(xs).shape[0])
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        x = None if xs is None else _index_tree(xs, i)
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, (_stack_tree(ys) if ys and ys[0] is not None else None)


def _first_leaf(t):
    while isinstance(t, list | tuple | dict):
        t = next(iter(t.values())) if isinstance(t, dict) else t[0]
    return _t(t)


def _index_tree(t, i):
    if isinstance(t, dict):
        return {k: _index_tree(v, i) for k, v in t.items()}
    if isinstance(t, list | tuple):
        return type(t)(_index_tree(e, i) for e in t)
    return _t(t)[i]


def _stack_tree(ys):
    y0 = ys[0]
    if isinstance(y0, dict):
        return {k: _stack_tree([y[k] for y in ys]) for k in y0}
    if isinstance(y0, list | tuple):
        return type(y0)(_stack_tree([y[j] for y in ys]) for j in range(len(y0)))
    return torch.stack([_t(y) for y in ys])


_PUBLIC += ["fori_loop", "while_loop", "scan"]


@_op
def slice(inputs, start_indices, shape):  # noqa: A001  (Keras's name)
    """``inputs[start : start + size]`` on each axis."""
    x = _t(inputs)
    idx = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return x[idx]


@_op
def unstack(x, num=None, axis=0):
    return list(_t(x).unbind(int(axis)))


def map(f, xs):  # noqa: A001  (Keras's name)
    """``f`` over the leading axis of ``xs`` (a tensor or a structure of them), results stacked."""
    n = int(_first_leaf(xs).shape[0])
    return _stack_tree([f(_index_tree(xs, i)) for i in range(n)])


def vectorized_map(function, elements):
    """``function`` on each slice of ``elements`` along the first axis, stacked (``torch.vmap``)."""
    if isinstance(elements, torch.Tensor | np.ndarray):
        return torch.vmap(function)(_t(elements))
    return map(function, elements)


def switch(index, branches, *operands):
    """``branches[index](*operands)``, the index clamped into range (as Keras)."""
    i = builtins.min(builtins.max(int(index), 0), len(branches) - 1)
    return branches[i](*operands)


_PUBLIC += ["map", "vectorized_map", "switch"]


__all__ = _PUBLIC[_START:]
