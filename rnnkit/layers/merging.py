"""Layers that merge a list of tensors: ``Concatenate``, ``Add``, ``Subtract``, ``Multiply``,
``Average``, ``Maximum`` and ``Minimum``, with Keras 3's shape rules and masks.

Masks follow Keras 3. Elementwise layers: the output mask is the logical OR of the input masks
when every input carries one, else there is none. ``Multiply`` treats masked entries as 1 (and
zeroes the output where every input is masked); ``Maximum``/``Minimum`` ignore masked entries
(taking the first input's value where all are masked); ``Add``, ``Subtract`` and ``Average``
use the values as they are (padding is usually zeros already). ``Concatenate`` concatenates
the masks along ``axis`` (an unmasked input counting as all True) and reduces the last axis with
``any``: along the time axis that joins the masks, along the feature axis it ORs them.
"""

from __future__ import annotations

import torch

from rnnkit.layers.layer import Layer

__all__ = ["Add", "Average", "Concatenate", "Maximum", "Merge", "Minimum", "Multiply", "Subtract"]


def _expand_mask(mask, x):
    """A ``(B, T)`` mask of a ``(B, T, F)`` tensor broadcast to the tensor's shape."""
    mask = mask.to(torch.bool)
    if mask.dim() < x.dim():
        mask = mask.unsqueeze(-1)
    return mask.expand_as(x)


class Merge(Layer):
    """Base of the elementwise merge layers: checks the list of inputs, aligns their ranks and
    broadcasts them, then applies :meth:`_merge` (subclasses implement it).

    Lower-rank inputs get size-1 axes inserted after the batch axis until the ranks match, then
    the usual broadcasting rules apply.

    >>> import torch
    >>> Add()([torch.ones(2, 3), torch.ones(2, 1)]).tolist()
    [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """

    supports_masking = True
    _min_inputs = 1
    _max_inputs = None

    def _check_inputs(self, inputs):
        if not isinstance(inputs, list | tuple) or not all(
            isinstance(t, torch.Tensor) for t in inputs
        ):
            raise ValueError(
                f"{self.name}: a {type(self).__name__} layer expects a list of tensors, "
                f"received {type(inputs).__name__}"
            )
        n = len(inputs)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = (
                f"exactly {self._min_inputs}"
                if self._max_inputs == self._min_inputs
                else f"at least {self._min_inputs}"
            )
            raise ValueError(
                f"{self.name}: a {type(self).__name__} layer expects {want} input(s), received {n}"
            )
        batch = {t.shape[0] for t in inputs if t.dim() > 0}
        if len(batch) > 1:
            raise ValueError(
                f"{self.name}: cannot merge tensors with different batch sizes, received "
                f"shapes {[tuple(t.shape) for t in inputs]}"
            )

    def _align(self, inputs):
        rank = max(t.dim() for t in inputs)
        out = []
        for t in inputs:
            while t.dim() < rank:
                t = t.unsqueeze(1)
            out.append(t)
        try:
            torch.broadcast_shapes(*(t.shape for t in out))
        except RuntimeError:
            raise ValueError(
                f"{self.name}: inputs have incompatible shapes {[tuple(t.shape) for t in inputs]}"
            ) from None
        return out

    def call(self, inputs, mask=None):
        self._check_inputs(inputs)
        masks = list(mask) if isinstance(mask, list | tuple) else [None] * len(inputs)
        if len(masks) != len(inputs):
            raise ValueError(f"{self.name}: received {len(inputs)} inputs but {len(masks)} masks")
        return self._merge(self._align(list(inputs)), masks)

    def _merge(self, inputs, masks):
        raise NotImplementedError(f"{type(self).__name__} must implement _merge()")

    def compute_mask(self, inputs, mask=None):
        if not isinstance(mask, list | tuple) or any(m is None for m in mask):
            return None
        out = mask[0].to(torch.bool)
        for m in mask[1:]:
            out = torch.logical_or(out, m.to(torch.bool))
        return out

    def compute_output_shape(self, input_shape):
        rank = max(len(s) for s in input_shape)
        shapes = [(s[0], *([1] * (rank - len(s))), *s[1:]) for s in input_shape]
        out = []
        for dims in zip(*shapes):
            known = {d for d in dims if d != 1}
            if len(known - {None}) > 1:
                raise ValueError(f"{self.name}: incompatible input shapes {list(input_shape)}")
            out.append(None if None in known else (known.pop() if known else 1))
        return tuple(out)

    def _masked_op(self, op, inputs, masks):
        """Keras's rule for operations without an identity element (maximum, minimum)."""
        output, output_mask = None, None
        for x, m in zip(inputs, masks):
            m = None if m is None else _expand_mask(m, x)
            if output is None:
                output, output_mask = x, m
                continue
            if m is not None:
                x = torch.where(m, x, output)
            if output_mask is not None:
                output = torch.where(output_mask, output, x)
            output_mask = None if m is None or output_mask is None else output_mask | m
            output = op(output, x)
        return output


class Add(Merge):
    """Elementwise sum of a list of tensors: ``output = inputs[0] + inputs[1] + ...``.

    >>> import torch
    >>> Add()([torch.tensor([[1.0, 2.0]]), torch.tensor([[10.0, 20.0]])]).tolist()
    [[11.0, 22.0]]
    """

    def _merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(Merge):
    """Elementwise difference of exactly two tensors: ``output = inputs[0] - inputs[1]``.

    >>> import torch
    >>> Subtract()([torch.tensor([[5.0]]), torch.tensor([[2.0]])]).tolist()
    [[3.0]]
    """

    _min_inputs = 2
    _max_inputs = 2

    def _merge(self, inputs, masks):
        return inputs[0] - inputs[1]


class Multiply(Merge):
    """Elementwise product of a list of tensors: ``output = inputs[0] * inputs[1] * ...``.

    Masked entries count as 1; where every input is masked the output is 0.

    >>> import torch
    >>> Multiply()([torch.tensor([[2.0, 3.0]]), torch.tensor([[4.0, 5.0]])]).tolist()
    [[8.0, 15.0]]
    """

    def _merge(self, inputs, masks):
        all_masked = all(m is not None for m in masks)
        out, out_mask = None, None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = _expand_mask(m, x)
                x = torch.where(m, x, torch.ones((), dtype=x.dtype, device=x.device))
                if all_masked:
                    out_mask = m if out_mask is None else out_mask | m
            out = x if out is None else out * x
        if all_masked:
            out = torch.where(out_mask, out, torch.zeros((), dtype=out.dtype, device=out.device))
        return out


class Average(Merge):
    """Elementwise mean of a list of tensors: ``output = (inputs[0] + ... + inputs[n-1]) / n``.

    >>> import torch
    >>> Average()([torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 6.0]])]).tolist()
    [[2.0, 4.0]]
    """

    def _merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / len(inputs)


class Maximum(Merge):
    """Elementwise maximum of a list of tensors: ``output = max(inputs[0], inputs[1], ...)``.

    Masked entries are ignored (see the module notes).

    >>> import torch
    >>> Maximum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])]).tolist()
    [[3.0, 5.0]]
    """

    def _merge(self, inputs, masks):
        return self._masked_op(torch.maximum, inputs, masks)


class Minimum(Merge):
    """Elementwise minimum of a list of tensors: ``output = min(inputs[0], inputs[1], ...)``.

    Masked entries are ignored (see the module notes).

    >>> import torch
    >>> Minimum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])]).tolist()
    [[1.0, 2.0]]
    """

    def _merge(self, inputs, masks):
        return self._masked_op(torch.minimum, inputs, masks)


class Concatenate(Merge):
    """Concatenates a list of tensors along ``axis``: ``(B, .., a_i, ..)`` -> ``(B, .., sum a_i, ..)``.

    All inputs must have the same rank and the same sizes on every other axis.

    Args:
        axis: int, the concatenation axis (default -1).

    >>> import torch
    >>> Concatenate()([torch.zeros(2, 3), torch.ones(2, 4)]).shape
    torch.Size([2, 7])
    >>> Concatenate(axis=1)([torch.zeros(2, 3, 5), torch.ones(2, 1, 5)]).shape
    torch.Size([2, 4, 5])
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Concatenate: axis must be an int, received {axis!r}")
        self.axis = axis

    def call(self, inputs, mask=None):
        self._check_inputs(inputs)
        shapes = [tuple(t.shape) for t in inputs]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(
                f"{self.name}: Concatenate(axis={self.axis}) expects inputs of one rank that "
                f"has that axis, received shapes {shapes}"
            )
        axis = self.axis % rank
        rest = {s[:axis] + s[axis + 1 :] for s in shapes}
        if len(rest) > 1:
            raise ValueError(
                f"{self.name}: Concatenate(axis={self.axis}) requires inputs with matching "
                f"shapes except for the concatenation axis, received shapes {shapes}"
            )
        return torch.cat(list(inputs), dim=axis)

    def compute_mask(self, inputs, mask=None):
        if not isinstance(mask, list | tuple) or all(m is None for m in mask):
            return None
        full = [
            torch.ones_like(x, dtype=torch.bool) if m is None else _expand_mask(m, x)
            for x, m in zip(inputs, mask)
        ]
        return torch.cat(full, dim=self.axis).any(dim=-1)

    def compute_output_shape(self, input_shape):
        out = list(input_shape[0])
        sizes = [s[self.axis] for s in input_shape]
        out[self.axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
