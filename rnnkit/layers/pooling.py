"""Pooling layers with Keras 3's arguments, padding and mask behaviour.

Windowed pooling (``MaxPooling1D/2D/3D``, ``AveragePooling1D/2D/3D``) uses
``torch.nn.functional.{max,avg}_pool*d`` after Keras's asymmetric ``"same"`` padding: max pools
pad with ``-inf``; average pools divide by the number of real (unpadded) values in each window,
as Keras does. Global pooling reduces every spatial axis; ``GlobalAveragePooling1D`` consumes a
Keras mask (a masked mean over the unmasked steps), the other pooling layers ignore masks, and
no pooling layer passes one on (as in Keras).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rnnkit.layers import _conv_utils as U
from rnnkit.layers.layer import Layer

__all__ = [
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
]

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class _Pooling(Layer):
    rank = 1
    mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls, n = type(self).__name__, self.rank
        self.pool_size = U.int_tuple(cls, "pool_size", pool_size, n)
        self.strides = U.int_tuple(cls, "strides", pool_size if strides is None else strides, n)
        self.padding = U.padding_mode(cls, padding)
        self.data_format = U.data_format(cls, data_format)

    def call(self, inputs):
        U.check_rank(self, inputs, self.rank + 2, "(batch, *spatial, channels)")
        x = U.to_channels_first(inputs, self.data_format)  # (B, C, *spatial)
        size = x.shape[2:]
        if self.padding == "valid":
            short = [n < k for n, k in zip(size, self.pool_size)]
            if any(short):
                raise ValueError(
                    f"{self.name}: inputs of shape {tuple(inputs.shape)} are smaller than "
                    f"pool_size={self.pool_size} with padding='valid'"
                )
            pads = [(0, 0)] * self.rank
        else:
            pads = [U.same_padding(n, k, s) for n, k, s in zip(size, self.pool_size, self.strides)]
        if self.mode == "max":
            x = U.pad_spatial(x, pads, value=-math.inf)
            y = _MAX[self.rank](x, self.pool_size, self.strides)
        else:
            window = math.prod(self.pool_size)
            total = _AVG[self.rank](U.pad_spatial(x, pads), self.pool_size, self.strides) * window
            if any(a or b for a, b in pads):  # divide by the number of real values per window
                ones = torch.ones((1, 1, *size), dtype=x.dtype, device=x.device)
                count = _AVG[self.rank](U.pad_spatial(ones, pads), self.pool_size, self.strides)
                y = total / (count * window)
            else:
                y = total / window
        return U.to_channels_last(y, self.data_format)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        last = self.data_format == "channels_last"
        spatial = shape[1:-1] if last else shape[2:]
        out = tuple(
            U.output_length(n, k, s, self.padding)
            for n, k, s in zip(spatial, self.pool_size, self.strides)
        )
        return (shape[0], *out, shape[-1]) if last else (shape[0], shape[1], *out)

    def get_config(self):
        cfg = {
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }
        return {**super().get_config(), **cfg}


class MaxPooling1D(_Pooling):
    """Max pooling over time: ``(B, steps, C)`` -> ``(B, new_steps, C)``.

    ``output[b, t, c] = max(inputs[b, t * strides : t * strides + pool_size, c])``.

    Args:
        pool_size: int, window size (default 2).
        strides: int (default None: ``pool_size``).
        padding: ``"valid"`` (default) or ``"same"`` (output length ``ceil(steps / strides)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    >>> import torch
    >>> MaxPooling1D(2)(torch.tensor([[[1.0], [3.0], [2.0], [0.0]]])).flatten().tolist()
    [3.0, 2.0]
    """

    rank, mode = 1, "max"


class AveragePooling1D(_Pooling):
    """Average pooling over time: ``(B, steps, C)`` -> ``(B, new_steps, C)``.

    With ``padding="same"`` a window that overlaps the padding averages its real values only.

    Args:
        pool_size: int, window size (default 2).
        strides: int (default None: ``pool_size``).
        padding: ``"valid"`` (default) or ``"same"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    >>> import torch
    >>> x = torch.tensor([[[1.0], [3.0], [2.0]]])
    >>> AveragePooling1D(2, padding="same")(x).flatten().tolist()
    [2.0, 2.0]
    """

    rank, mode = 1, "average"


class MaxPooling2D(_Pooling):
    """Max pooling over rows and columns: ``(B, H, W, C)`` -> ``(B, H', W', C)``.

    Arguments as :class:`MaxPooling1D` with ints or 2-tuples (``pool_size`` default ``(2, 2)``).

    >>> import torch
    >>> MaxPooling2D()(torch.zeros(1, 4, 6, 3)).shape
    torch.Size([1, 2, 3, 3])
    """

    rank, mode = 2, "max"


class AveragePooling2D(_Pooling):
    """Average pooling over rows and columns: ``(B, H, W, C)`` -> ``(B, H', W', C)``.

    Arguments as :class:`AveragePooling1D` with ints or 2-tuples.

    >>> import torch
    >>> AveragePooling2D(padding="same")(torch.ones(1, 3, 3, 1)).flatten().tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    rank, mode = 2, "average"


class MaxPooling3D(_Pooling):
    """Max pooling over three spatial axes: ``(B, D, H, W, C)`` -> ``(B, D', H', W', C)``.

    >>> import torch
    >>> MaxPooling3D()(torch.zeros(1, 4, 4, 4, 2)).shape
    torch.Size([1, 2, 2, 2, 2])
    """

    rank, mode = 3, "max"


class AveragePooling3D(_Pooling):
    """Average pooling over three spatial axes: ``(B, D, H, W, C)`` -> ``(B, D', H', W', C)``.

    >>> import torch
    >>> AveragePooling3D()(torch.zeros(1, 4, 4, 4, 2)).shape
    torch.Size([1, 2, 2, 2, 2])
    """

    rank, mode = 3, "average"


class _GlobalPooling(Layer):
    rank = 1
    mode = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = U.data_format(type(self).__name__, data_format)
        self.keepdims = bool(keepdims)

    def _axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def call(self, inputs):
        U.check_rank(self, inputs, self.rank + 2, "(batch, *spatial, channels)")
        if self.mode == "max":
            return torch.amax(inputs, dim=self._axes(), keepdim=self.keepdims)
        return torch.mean(inputs, dim=self._axes(), keepdim=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        last = self.data_format == "channels_last"
        if not self.keepdims:
            return (shape[0], shape[-1] if last else shape[1])
        ones = (1,) * self.rank
        return (shape[0], *ones, shape[-1]) if last else (shape[0], shape[1], *ones)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over time: ``(B, steps, C)`` -> ``(B, C)`` (``(B, 1, C)`` with ``keepdims``).

    With a Keras mask ``(B, steps)`` (from ``Embedding(mask_zero=True)`` / ``Masking``, or
    ``mask=``) only unmasked steps are averaged:
    ``output = sum_t mask[:, t] * inputs[:, t] / sum_t mask[:, t]``. The output has no mask.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"`` (``(B, C, steps)``).
        keepdims: keep the time axis with length 1 (default False).

    >>> import torch
    >>> x = torch.tensor([[[1.0], [3.0], [8.0]]])
    >>> GlobalAveragePooling1D()(x, mask=torch.tensor([[True, True, False]])).tolist()
    [[2.0]]
    """

    supports_masking = True
    rank, mode = 1, "average"

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        U.check_rank(self, inputs, 3, "(batch, steps, channels)")
        axis = 1 if self.data_format == "channels_last" else 2
        mask = torch.as_tensor(mask, device=inputs.device)
        if tuple(mask.shape) != (inputs.shape[0], inputs.shape[axis]):
            raise ValueError(
                f"{self.name}: expected a mask of shape {(inputs.shape[0], inputs.shape[axis])} "
                f"(batch, steps), received {tuple(mask.shape)}"
            )
        keep = mask.bool().unsqueeze(2 if axis == 1 else 1)
        total = torch.where(keep, inputs, torch.zeros((), dtype=inputs.dtype)).sum(
            dim=axis, keepdim=self.keepdims
        )
        return total / keep.to(inputs.dtype).sum(dim=axis, keepdim=self.keepdims)


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over time: ``(B, steps, C)`` -> ``(B, C)`` (``(B, 1, C)`` with ``keepdims``).

    As in Keras, a Keras mask is not used (padded steps take part in the max).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: keep the time axis with length 1 (default False).

    >>> import torch
    >>> GlobalMaxPooling1D()(torch.tensor([[[1.0], [3.0], [2.0]]])).tolist()
    [[3.0]]
    """

    rank, mode = 1, "max"


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over rows and columns: ``(B, H, W, C)`` -> ``(B, C)``.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: keep the spatial axes with length 1 (default False).

    >>> import torch
    >>> GlobalAveragePooling2D(keepdims=True)(torch.ones(2, 3, 3, 4)).shape
    torch.Size([2, 1, 1, 4])
    """

    rank, mode = 2, "average"


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over rows and columns: ``(B, H, W, C)`` -> ``(B, C)`` (arguments as above).

    >>> import torch
    >>> GlobalMaxPooling2D()(torch.ones(2, 3, 3, 4)).shape
    torch.Size([2, 4])
    """

    rank, mode = 2, "max"


class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over three spatial axes: ``(B, D, H, W, C)`` -> ``(B, C)``.

    >>> import torch
    >>> GlobalAveragePooling3D()(torch.ones(2, 2, 3, 3, 4)).shape
    torch.Size([2, 4])
    """

    rank, mode = 3, "average"


class GlobalMaxPooling3D(_GlobalPooling):
    """Max over three spatial axes: ``(B, D, H, W, C)`` -> ``(B, C)``.

    >>> import torch
    >>> GlobalMaxPooling3D()(torch.ones(2, 2, 3, 3, 4)).shape
    torch.Size([2, 4])
    """

    rank, mode = 3, "max"
