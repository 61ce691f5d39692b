"""Argument checks and padding arithmetic shared by the convolution and pooling layers.

Keras (like TensorFlow) pads ``"same"`` asymmetrically: the total padding
``max((ceil(L / s) - 1) * s + (k - 1) * d + 1 - L, 0)`` is split with the extra element at the
end. PyTorch's ``padding=`` is symmetric, so the layers pad explicitly with :func:`same_padding`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "check_rank",
    "data_format",
    "int_tuple",
    "output_length",
    "pad_spatial",
    "padding_mode",
    "same_padding",
    "to_channels_first",
    "to_channels_last",
]


def int_tuple(layer: str, arg: str, value, n: int, allow_zero: bool = False) -> tuple:
    """An int or a sequence of ``n`` ints -> a tuple of ``n`` positive (or >= 0) ints."""
    values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    low = 0 if allow_zero else 1
    if (
        values is None
        or len(values) != n
        or any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in values)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{layer}: {arg} must be a {kind} int or a tuple of {n} {kind} ints, received {value!r}"
        )
    return values


def padding_mode(layer: str, padding, allow_causal: bool = False) -> str:
    """``"valid"`` / ``"same"`` (/ ``"causal"``), case-insensitive, as Keras accepts."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ValueError(f"{layer}: padding must be one of {allowed}, received {padding!r}")
    return value


def data_format(layer: str, value) -> str:
    """``None`` -> ``"channels_last"`` (Keras's default ``image_data_format``)."""
    value = "channels_last" if value is None else value
    lowered = value.lower() if isinstance(value, str) else value
    if lowered not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{layer}: data_format must be 'channels_last' or 'channels_first', received {value!r}"
        )
    return lowered


def check_rank(layer, inputs, ndim: int, what: str) -> None:
    """Raise a clear error unless ``inputs`` is a tensor of rank ``ndim``."""
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != ndim:
        got = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(f"{layer.name}: expected inputs of rank {ndim} {what}, received {got}")


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Keras / TensorFlow ``"same"`` padding ``(before, after)`` of one spatial axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def pad_spatial(x: torch.Tensor, pads: list[tuple[int, int]], value: float = 0.0) -> torch.Tensor:
    """Pad the trailing spatial axes of a channels-first tensor: ``pads`` in axis order."""
    if not any(a or b for a, b in pads):
        return x
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    return F.pad(x, flat, value=value)


def to_channels_first(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """``(B, *spatial, C)`` -> ``(B, C, *spatial)`` when ``fmt`` is channels_last."""
    if fmt == "channels_first":
        return x
    return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1))


def to_channels_last(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """Inverse of :func:`to_channels_first`."""
    if fmt == "channels_first":
        return x
    return x.permute(0, *range(2, x.dim()), 1)


def output_length(size, kernel: int, stride: int, padding: str, dilation: int = 1):
    """Length of one spatial axis after a convolution / pooling window (None stays None)."""
    if size is None:
        return None
    if padding == "same":
        return math.ceil(size / stride)
    if padding == "causal":
        size = size + (kernel - 1) * dilation
    span = (kernel - 1) * dilation + 1
    return max((size - span) // stride + 1, 0)
