"""Global settings: the default float type of new weights (Keras's ``floatx``), rnnkit's home directory."""

from __future__ import annotations

import os

import torch

_FLOATX = "float32"
_VALID = ("float16", "bfloat16", "float32", "float64")

__all__ = [
    "floatx",
    "image_data_format",
    "rnnkit_home",
    "set_floatx",
    "set_image_data_format",
    "standardize_dtype",
    "torch_dtype",
]

_IMAGE_DATA_FORMAT = "channels_last"

#: environment variable naming rnnkit's home directory (data-set cache, machine facts)
HOME_ENV = "RNNKIT_HOME"


def rnnkit_home() -> str:
    """rnnkit's directory for what it keeps between runs: ``$RNNKIT_HOME``, default ``~/.rnnkit``.

    >>> import os
    >>> rnnkit_home() == os.path.expanduser(os.environ.get("RNNKIT_HOME") or "~/.rnnkit")
    True
    """
    return os.path.expanduser(os.environ.get(HOME_ENV) or os.path.join("~", ".rnnkit"))


def floatx() -> str:
    """Return the default float type name for new weights, e.g. ``"float32"``.

    >>> floatx()
    'float32'
    """
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type for weights created from now on."""
    global _FLOATX
    value = standardize_dtype(value)
    if value not in _VALID:
        raise ValueError(f"set_floatx expected one of {_VALID}, received {value!r}")
    _FLOATX = value


def standardize_dtype(dtype) -> str | None:
    """Turn a dtype spelling (str, torch.dtype, numpy dtype, Keras DTypePolicy dict) into a name."""
    if dtype is None:
        return None
    if isinstance(dtype, dict):  # Keras DTypePolicy / FloatDTypePolicy dict
        cfg = dtype.get("config", dtype)
        name = cfg.get("name")
        if name is None:
            raise ValueError(f"dtype dict has no 'name' in its config: {dtype!r}")
        return standardize_dtype(name)
    if isinstance(dtype, torch.dtype):
        return str(dtype).replace("torch.", "")
    name = getattr(dtype, "name", None)
    if name is not None and not isinstance(dtype, str):
        dtype = name
    dtype = str(dtype)
    if dtype.startswith("mixed_"):  # "mixed_float16": variables stay float32
        return "float32"
    aliases = {"float": "float32", "double": "float64", "half": "float16"}
    return aliases.get(dtype, dtype)


def torch_dtype(dtype) -> torch.dtype:
    """The torch dtype for any dtype spelling (``None`` means ``floatx()``)."""
    name = standardize_dtype(dtype) or _FLOATX
    try:
        out = getattr(torch, name)
    except AttributeError:
        raise ValueError(f"unknown dtype {dtype!r}") from None
    if not isinstance(out, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    return out


def image_data_format() -> str:
    """The default ``data_format`` of convolutional layers: ``"channels_last"`` (Keras's default).

    >>> image_data_format()
    'channels_last'
    """
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the default ``data_format``: ``"channels_last"`` or ``"channels_first"``."""
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"image_data_format must be 'channels_last' or 'channels_first', received "
            f"{data_format!r}"
        )
    _IMAGE_DATA_FORMAT = value
