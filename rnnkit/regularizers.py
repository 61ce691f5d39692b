"""Weight regularizers with Keras 3's classes, names, formulas and config keys.

A regularizer is called on a weight tensor and returns a scalar penalty tensor to add to the loss.

>>> import torch
>>> round(get("l2")(torch.ones(2, 3)).item(), 4)
0.06
"""

from __future__ import annotations

import math

import torch

from rnnkit.saving.object_registry import (
    deserialize_keras_object,
    get_registered_object,
    serialize_keras_object,
)

__all__ = [
    "l1",
    "l2",
    "l1_l2",
    "orthogonal_regularizer",
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "get",
    "serialize",
    "deserialize",
]

_MODULE = "keras.regularizers"


def _factor(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float, "
            f"received {name}={value!r}"
        )
    return float(value)


def _tensor(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"regularizer expected a torch tensor, received {type(x).__name__}")
    return x


class Regularizer:
    """Base class: ``reg(weight)`` returns a scalar penalty; the base penalty is zero.

    >>> class Sum(Regularizer):
    ...     def __call__(self, x):
    ...         return x.sum()
    >>> Sum()(torch.ones(3)).item()
    3.0
    """

    def __call__(self, x):
        """The penalty of weight ``x`` (zero for the base class)."""
        return torch.zeros((), dtype=_tensor(x).dtype, device=x.device)

    def get_config(self) -> dict:
        """The constructor arguments as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild a regularizer from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``.

    >>> round(L1L2(l1=0.1, l2=0.01)(torch.tensor([1.0, -2.0])).item(), 4)
    0.35
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        """The penalty of weight ``x``."""
        x = _tensor(x)
        out = torch.zeros((), dtype=x.dtype, device=x.device)
        if self.l1:
            out = out + self.l1 * x.abs().sum()
        if self.l2:
            out = out + self.l2 * x.square().sum()
        return out

    def get_config(self):
        """``{"l1", "l2"}``."""
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    >>> round(L1(0.5)(torch.tensor([1.0, -2.0])).item(), 4)
    1.5
    """

    def __init__(self, l1=0.01):
        self.l1 = _factor(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        """The penalty of weight ``x``."""
        return self.l1 * _tensor(x).abs().sum()

    def get_config(self):
        """``{"l1": l1}``."""
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``.

    >>> round(L2(0.5)(torch.tensor([1.0, -2.0])).item(), 4)
    2.5
    """

    def __init__(self, l2=0.01):
        self.l2 = _factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        """The penalty of weight ``x``."""
        return self.l2 * _tensor(x).square().sum()

    def get_config(self):
        """``{"l2": l2}``."""
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalise non-orthogonal rows (or columns) of a 2-D weight.

    Rows (``mode="rows"``) or columns are L2-normalised; the penalty is
    ``factor * 0.5 * sum(|off-diagonal of the Gram matrix|) / (n * (n - 1) / 2)``.

    >>> round(OrthogonalRegularizer(1.0)(torch.eye(3)).item(), 4)
    0.0
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(
                f"OrthogonalRegularizer expected mode 'rows' or 'columns', received mode={mode!r}"
            )
        self.mode = mode

    def __call__(self, x):
        """The penalty of 2-D weight ``x``."""
        x = _tensor(x)
        if x.dim() != 2:
            raise ValueError(
                f"OrthogonalRegularizer expects a 2-D weight, received shape {tuple(x.shape)}"
            )
        axis = 1 if self.mode == "rows" else 0
        sq = x.square().sum(dim=axis, keepdim=True)
        x = x * torch.rsqrt(sq.clamp_min(1e-7))
        gram = x @ x.T if self.mode == "rows" else x.T @ x
        n = gram.shape[0]
        off = gram * (1.0 - torch.eye(n, dtype=x.dtype, device=x.device))
        pairs = n * (n - 1.0) / 2.0
        return self.factor * 0.5 * off.abs().sum() / pairs

    def get_config(self):
        """``{"factor", "mode"}``."""
        return {"factor": self.factor, "mode": self.mode}


_CLASSES = (L1, L1L2, L2, OrthogonalRegularizer, Regularizer)
_BY_NAME: dict[str, type] = {c.__name__: c for c in _CLASSES}
_BY_NAME.update(
    {
        "l1": L1,
        "l2": L2,
        "l1_l2": L1L2,
        "l1l2": L1L2,
        "orthogonal_regularizer": OrthogonalRegularizer,
        "regularizer": Regularizer,
    }
)


def serialize(regularizer) -> dict:
    """Keras's dict form ``{"module", "class_name", "config", "registered_name"}``.

    >>> serialize(L2(0.1))["config"]
    {'l2': 0.1}
    """
    if not hasattr(regularizer, "get_config"):
        raise TypeError(
            f"serialize expected a regularizer with get_config(), received {regularizer!r}"
        )
    return serialize_keras_object(regularizer, _MODULE)


def deserialize(config, custom_objects=None):
    """Build a regularizer from Keras's dict form (or a name).

    >>> deserialize({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.1}})
    L1L2(l1=0.0, l2=0.1)
    """
    return deserialize_keras_object(config, _BY_NAME, custom_objects, "regularizer")


def get(identifier):
    """Turn ``None``, a name, a Keras dict, a class or an instance/callable into a regularizer.

    >>> get("l1"), get(None)
    (L1(l1=0.01), None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if get_registered_object(identifier, None, _BY_NAME) is None:
            raise ValueError(
                f"Unknown regularizer {identifier!r}; expected one of {sorted(_BY_NAME)}"
            )
        obj = deserialize(identifier)
    elif isinstance(identifier, dict):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if isinstance(obj, type):
        obj = obj()
    if callable(obj):
        return obj
    raise ValueError(
        f"Could not interpret regularizer {identifier!r}: expected a name from "
        f"{sorted(_BY_NAME)}, a dict, or a callable"
    )


# Keras's lowercase spellings (``keras.regularizers.l2(0.01)``).
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer
