"""Keras's convolution conventions on ``torch.nn.functional.conv{1,2,3}d``.

Keras stores a convolution kernel as ``(*kernel_size, in_channels, out_channels)`` and accepts
``channels_last`` inputs ``(N, *spatial, C)``; PyTorch wants a weight ``(out, in, *kernel_size)``
and ``(N, C, *spatial)`` inputs. :func:`torch_conv_weight` is the one place the kernel layout
is mapped. ``padding="same"`` follows TensorFlow / XLA: the output has ``ceil(n / stride)``
positions and an odd amount of padding puts the extra row at the end.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rnnkit import config as _config

__all__ = [
    "conv_nd",
    "conv_output_length",
    "same_padding",
    "standardize_data_format",
    "standardize_padding",
    "standardize_tuple",
    "to_channels_first",
    "to_channels_last",
    "torch_conv_weight",
]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def standardize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as a tuple of ``n`` positive ints.

    >>> standardize_tuple(3, 2, "kernel_size"), standardize_tuple([1, 2], 2, "strides")
    ((3, 3), (1, 2))
    """
    if isinstance(value, int) and not isinstance(value, bool):
        out = (value,) * n
    else:
        try:
            out = tuple(value)
        except TypeError:
            raise ValueError(
                f"{name} must be an int or a tuple of {n} ints, received {value!r}"
            ) from None
        if len(out) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in out):
            raise ValueError(f"{name} must be an int or a tuple of {n} ints, received {value!r}")
    low = 0 if allow_zero else 1
    if any(v < low for v in out):
        raise ValueError(
            f"{name} must have values >= {low}, received {name}={value!r}"
        )
    return out


def standardize_padding(value, allow_causal: bool = False) -> str:
    """``"valid"`` or ``"same"`` (any case; ``"causal"`` too where allowed)."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    p = value.lower() if isinstance(value, str) else value
    if p not in allowed:
        raise ValueError(f"padding must be one of {allowed}, received padding={value!r}")
    return p


def standardize_data_format(value) -> str:
    """``"channels_last"`` / ``"channels_first"``; None means ``rnnkit.config.image_data_format()``."""
    if value is None:
        return _config.image_data_format()
    v = str(value).lower()
    if v not in ("channels_last", "channels_first"):
        raise ValueError(
            f"data_format must be 'channels_last' or 'channels_first', received {value!r}"
        )
    return v


def conv_output_length(n, kernel: int, stride: int, dilation: int, padding: str):
    """Output positions of one spatial axis (None stays None).

    >>> conv_output_length(8, 3, 1, 1, "valid"), conv_output_length(7, 3, 2, 1, "same")
    (6, 4)
    """
    if n is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding == "same":
        return math.ceil(n / stride)
    return max(0, (n - span) // stride + 1)


def same_padding(sizes, kernel, strides, dilation) -> list[tuple[int, int]]:
    """Per spatial axis ``(before, after)`` padding of TensorFlow's / XLA's ``"SAME"``."""
    pads = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        out = math.ceil(n / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def torch_conv_weight(kernel: torch.Tensor) -> torch.Tensor:
    """Keras kernel ``(*k, in, out)`` -> torch weight ``(out, in, *k)`` (a view, no copy).

    >>> torch_conv_weight(torch.zeros(3, 5, 2, 8)).shape
    torch.Size([8, 2, 3, 5])
    """
    r = kernel.dim() - 2
    return kernel.permute(r + 1, r, *range(r))


def to_channels_first(x: torch.Tensor, lead: int = 1) -> torch.Tensor:
    """``(*lead, *spatial, C)`` -> ``(*lead, C, *spatial)`` (``lead`` leading axes kept)."""
    return x.movedim(-1, lead)


def to_channels_last(x: torch.Tensor, lead: int = 1) -> torch.Tensor:
    """``(*lead, C, *spatial)`` -> ``(*lead, *spatial, C)``."""
    return x.movedim(lead, -1)


def conv_nd(x, weight, bias=None, strides=None, padding="valid", dilation=None, groups=1):
    """Channels-first convolution of ``x`` ``(N, C, *spatial)`` with a torch-layout ``weight``.

    ``padding`` is ``"valid"`` or ``"same"`` (TensorFlow's placement of odd padding); ``strides``
    and ``dilation`` are tuples with one entry per spatial axis (default ones).

    >>> conv_nd(torch.ones(1, 2, 5), torch.ones(4, 2, 2), padding="same").shape
    torch.Size([1, 4, 5])
    """
    rank = x.dim() - 2
    strides = strides or (1,) * rank
    dilation = dilation or (1,) * rank
    pad = 0
    if padding == "same":
        pads = same_padding(x.shape[2:], weight.shape[2:], strides, dilation)
        if all(a == b for a, b in pads):
            pad = tuple(a for a, _ in pads)
        else:  # asymmetric: pad explicitly (F.pad lists the last axis first)
            x = F.pad(x, [p for pair in reversed(pads) for p in pair])
    return _CONV[rank](x, weight, bias, stride=strides, padding=pad, dilation=dilation, groups=groups)
