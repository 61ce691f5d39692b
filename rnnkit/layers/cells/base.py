"""What every recurrent cell shares: state-size helpers, zero states, dropout masks.

A cell computes one time step: ``call(inputs, states, training=None) -> (output, new_states)``.
It declares ``state_size`` (an int, a shape, or a list of those: one entry per state tensor) and
``output_size``. The ``RNN`` layer owns the loop.
"""

from __future__ import annotations

import inspect

import torch

from rnnkit.layers.layer import Layer

__all__ = ["AbstractRNNCell", "DropoutRNNCell", "state_specs", "cell_state_specs", "zero_states", "initial_states_for"]


def _as_shape(spec) -> tuple[int, ...]:
    if isinstance(spec, int):
        return (int(spec),)
    if hasattr(spec, "as_list"):  # TensorShape-like
        spec = spec.as_list()
    return tuple(int(s) for s in spec)


def state_specs(state_size) -> list[tuple[int, ...]]:
    """Flatten a cell's ``state_size`` into one shape (without batch) per state tensor.

    ``6`` -> ``[(6,)]``; ``[6, 6]`` -> ``[(6,), (6,)]``; ``torch.Size([2, 3])`` -> ``[(2, 3)]``;
    ``[torch.Size([4]), torch.Size([2, 3])]`` -> ``[(4,), (2, 3)]``.

    >>> state_specs([6, 6])
    [(6,), (6,)]
    """
    if isinstance(state_size, int):
        return [(state_size,)]
    if isinstance(state_size, torch.Size) or hasattr(state_size, "as_list"):
        return [_as_shape(state_size)]
    if isinstance(state_size, list | tuple):
        out = []
        for s in state_size:
            if hasattr(s, "_fields"):  # a namedtuple of sizes (e.g. LSTMStateTuple) = several states
                out.extend(state_specs(list(s)))
                continue
            if isinstance(s, list | tuple) and not isinstance(s, torch.Size) and any(
                isinstance(v, list | tuple | torch.Size) for v in s
            ):
                out.extend(state_specs(s))  # nested list of state sizes (stacked cells)
            else:
                out.append(_as_shape(s))
        return out
    raise TypeError(
        f"state_size must be an int, a shape or a list of those, received {state_size!r}"
    )


def cell_state_specs(cell) -> list[tuple[int, ...]]:
    """Per-state shapes of a cell; stacked cells (with ``.cells``) list each sub-cell's in turn."""
    subs = getattr(cell, "cells", None)
    if subs is not None and isinstance(getattr(cell, "state_size", None), list):
        return [spec for c in subs for spec in cell_state_specs(c)]
    return state_specs(cell.state_size)


def zero_states(state_size, batch_size: int, dtype, device=None) -> list[torch.Tensor]:
    """Zero tensors ``(batch_size, *shape)`` for each state of ``state_size``."""
    return [
        torch.zeros((batch_size, *shape), dtype=dtype, device=device)
        for shape in state_specs(state_size)
    ]


_INITIAL_STATE_STYLE: dict = {}  # cell class -> (takes inputs=, takes dtype=)


def initial_states_for(cell, batch_size: int, dtype, device, inputs=None) -> list[torch.Tensor]:
    """The cell's own ``get_initial_state`` (Keras 3 or Keras 2 signature) or zeros, flattened."""
    fn = getattr(cell, "get_initial_state", None)
    if fn is None:
        return [
            torch.zeros((batch_size, *shape), dtype=dtype, device=device)
            for shape in cell_state_specs(cell)
        ]
    style = _INITIAL_STATE_STYLE.get(type(cell))
    if style is None:
        params = inspect.signature(fn).parameters
        style = _INITIAL_STATE_STYLE[type(cell)] = ("inputs" in params, "dtype" in params)
    takes_inputs, takes_dtype = style
    if takes_inputs or takes_dtype:  # Keras 2: (inputs=None, batch_size=None, dtype=None)
        kwargs = {"batch_size": batch_size}
        if takes_inputs:
            kwargs["inputs"] = inputs
        if takes_dtype:
            kwargs["dtype"] = dtype
        states = fn(**kwargs)
    else:
        states = fn(batch_size)
    if isinstance(states, torch.Tensor):
        states = [states]
    from rnnkit.layers.layer import flatten

    return [s.to(device=device) if s.device != device else s for s in flatten(list(states))]


class DropoutRNNCell:
    """Mixin: Keras's dropout masks, drawn once per sequence and reused at every step.

    ``dropout`` applies to the step inputs, ``recurrent_dropout`` to the previous output. The
    masks are cached until :meth:`reset_dropout_mask` (the ``RNN`` layer calls it on each call).
    They are drawn from the cell's ``seed_generator`` (an :class:`rnnkit.random.SeedGenerator`,
    as in Keras) when it has one: cells with the same seed draw the same masks.
    """

    _dropout_mask = None
    _recurrent_dropout_mask = None

    def _mask_like(self, like: torch.Tensor, rate: float) -> torch.Tensor:
        if rate >= 1:  # everything dropped: all zeros (Keras's dropout at rate 1.0)
            return torch.zeros_like(like)
        from rnnkit.random import keep_mask

        return keep_mask(like, rate, getattr(self, "seed_generator", None))

    def get_dropout_mask(self, step_input: torch.Tensor):
        if not getattr(self, "dropout", 0.0) > 0:
            return None
        if self._dropout_mask is None or self._dropout_mask.shape != step_input.shape:
            self._dropout_mask = self._mask_like(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_state: torch.Tensor):
        if not getattr(self, "recurrent_dropout", 0.0) > 0:
            return None
        if (
            self._recurrent_dropout_mask is None
            or self._recurrent_dropout_mask.shape != step_state.shape
        ):
            self._recurrent_dropout_mask = self._mask_like(step_state, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        if self._dropout_mask is not None:
            self.__dict__["_dropout_mask"] = None

    def reset_recurrent_dropout_mask(self):
        if self._recurrent_dropout_mask is not None:
            self.__dict__["_recurrent_dropout_mask"] = None


class AbstractRNNCell(Layer):
    """Base class for custom cells: implement ``state_size``, ``output_size`` and ``call``.

    >>> import torch
    >>> class Acc(AbstractRNNCell):
    ...     @property
    ...     def state_size(self):
    ...         return 3
    ...     @property
    ...     def output_size(self):
    ...         return 3
    ...     def call(self, inputs, states):
    ...         out = inputs + states[0]
    ...         return out, [out]
    >>> out, new = Acc()(torch.ones(2, 3), [torch.zeros(2, 3)])
    >>> out.tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    @property
    def state_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define state_size")

    @property
    def output_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define output_size")

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """Zero states; accepts both Keras 3 ``(batch_size)`` and Keras 2 keyword forms."""
        if batch_size is None and inputs is not None:
            batch_size = inputs.shape[0]
        if dtype is None:
            dtype = inputs.dtype if inputs is not None else self.dtype
        states = zero_states(self.state_size, batch_size, dtype)
        return states
