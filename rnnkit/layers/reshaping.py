"""Reshaping layers for sequences: ``Permute``, ``ZeroPadding1D``, ``Cropping1D``, ``UpSampling1D``.

(``Flatten``, ``Reshape`` and ``RepeatVector`` live in :mod:`rnnkit.layers.core`.) As in Keras,
none of these pass a Keras mask on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.layers import _conv_utils as U
from rnnkit.layers.layer import Layer

__all__ = ["Cropping1D", "Permute", "UpSampling1D", "ZeroPadding1D"]


class Permute(Layer):
    """Permutes the non-batch axes: ``output = inputs.permute(0, *dims)``.

    Args:
        dims: tuple of the 1-based axes ``1..n`` in their new order, e.g. ``(2, 1)`` swaps
            time and features of ``(B, T, F)`` inputs.

    >>> import torch
    >>> Permute((2, 1))(torch.zeros(4, 3, 5)).shape
    torch.Size([4, 5, 3])
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise ValueError(f"Permute: dims must be a tuple of ints, received {dims!r}") from None
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                "Permute: dims must be a permutation of 1..n (the batch axis 0 stays first), "
                f"received dims={dims}"
            )
        self.dims = dims

    def call(self, inputs):
        U.check_rank(self, inputs, len(self.dims) + 1, f"for dims={self.dims}")
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class ZeroPadding1D(Layer):
    """Pads the time axis with zeros: ``(B, T, F)`` -> ``(B, left + T + right, F)``.

    Args:
        padding: int (both sides) or ``(left, right)`` (default 1).
        data_format: ``"channels_last"`` (default, time is axis 1) or ``"channels_first"``
            (time is axis 2).

    >>> import torch
    >>> ZeroPadding1D((1, 2))(torch.ones(1, 2, 1)).flatten().tolist()
    [0.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = U.int_tuple("ZeroPadding1D", "padding", padding, 2, allow_zero=True)
        self.data_format = U.data_format("ZeroPadding1D", data_format)

    def call(self, inputs):
        U.check_rank(self, inputs, 3, "(batch, steps, features)")
        x = U.to_channels_first(inputs, self.data_format)
        return U.to_channels_last(F.pad(x, self.padding), self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = 2 if self.data_format == "channels_first" else 1
        if shape[axis] is not None:
            shape[axis] += sum(self.padding)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping1D(Layer):
    """Crops the time axis: ``(B, T, F)`` -> ``(B, T - start - end, F)``.

    Args:
        cropping: int (both sides) or ``(start, end)`` steps removed (default ``(1, 1)``).

    >>> import torch
    >>> Cropping1D((1, 0))(torch.arange(3.0).reshape(1, 3, 1)).flatten().tolist()
    [1.0, 2.0]
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = U.int_tuple("Cropping1D", "cropping", cropping, 2, allow_zero=True)

    def call(self, inputs):
        U.check_rank(self, inputs, 3, "(batch, steps, features)")
        start, end = self.cropping
        if start + end >= inputs.shape[1]:
            raise ValueError(
                f"{self.name}: cropping={self.cropping} removes all {inputs.shape[1]} steps of "
                f"inputs of shape {tuple(inputs.shape)}"
            )
        return inputs[:, start : inputs.shape[1] - end, :]

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else steps - sum(self.cropping), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class UpSampling1D(Layer):
    """Repeats each time step ``size`` times: ``(B, T, F)`` -> ``(B, size * T, F)``.

    Args:
        size: positive int (default 2).

    >>> import torch
    >>> UpSampling1D(2)(torch.tensor([[[1.0], [2.0]]])).flatten().tolist()
    [1.0, 1.0, 2.0, 2.0]
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"UpSampling1D: size must be a positive int, received {size!r}")
        self.size = size

    def call(self, inputs):
        U.check_rank(self, inputs, 3, "(batch, steps, features)")
        return torch.repeat_interleave(inputs, self.size, dim=1)

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else steps * self.size, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}
