"""Weight constraints with Keras 3's classes, names, formulas and config keys.

A constraint is called on a weight tensor after an update and returns the projected weight as a
new tensor. Norms are L2 norms taken along ``axis`` (Keras's default 0: one norm per column of a
``(input_dim, units)`` kernel), with Keras's epsilon 1e-7 in the denominators.

>>> import torch
>>> get("non_neg")(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]
True
"""

from __future__ import annotations

import torch

from rnnkit.saving.object_registry import (
    deserialize_keras_object,
    get_registered_object,
    serialize_keras_object,
)

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "get",
    "serialize",
    "deserialize",
]

_MODULE = "keras.constraints"
_EPSILON = 1e-7


def _tensor(w) -> torch.Tensor:
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"constraint expected a torch tensor, received {type(w).__name__}")
    return w


def _axis(axis):
    if isinstance(axis, (list, tuple)):
        if not all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
            raise TypeError(f"constraint axis must be an int or ints, received axis={axis!r}")
        return list(axis)
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"constraint axis must be an int or list of ints, received axis={axis!r}")
    return axis


def _norms(w, axis):
    dim = tuple(axis) if isinstance(axis, list) else axis
    return torch.sqrt(w.square().sum(dim=dim, keepdim=True))


class Constraint:
    """Base class: ``c(w)`` returns the constrained weight (the base returns ``w`` itself).

    >>> class Halve(Constraint):
    ...     def __call__(self, w):
    ...         return w / 2
    >>> Halve()(torch.tensor([4.0])).tolist()
    [2.0]
    """

    def __call__(self, w):
        """The constrained weight (unchanged for the base class)."""
        return w

    def get_config(self) -> dict:
        """The constructor arguments as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild a constraint from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescale slices whose norm along ``axis`` exceeds ``max_value`` down to it.

    ``w * clip(norms, 0, max_value) / (epsilon + norms)``.

    >>> [round(v, 4) for v in MaxNorm(1.0)(torch.tensor([[3.0], [4.0]])).flatten().tolist()]
    [0.6, 0.8]
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = _axis(axis)

    def __call__(self, w):
        """Project ``w``."""
        w = _tensor(w)
        norms = _norms(w, self.axis)
        desired = norms.clamp(0.0, float(self.max_value))
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        """``{"max_value", "axis"}``."""
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Zero out negative entries.

    >>> NonNeg()(torch.tensor([-0.5, 0.0, 1.5])).tolist() == [0.0, 0.0, 1.5]
    True
    """

    def __call__(self, w):
        """Project ``w``."""
        w = _tensor(w)
        return w * (w >= 0.0).to(w.dtype)


class UnitNorm(Constraint):
    """Scale slices along ``axis`` to unit norm: ``w / (epsilon + norms)``.

    >>> [round(v, 4) for v in UnitNorm()(torch.tensor([[3.0], [4.0]])).flatten().tolist()]
    [0.6, 0.8]
    """

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        """Project ``w``."""
        w = _tensor(w)
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self):
        """``{"axis"}``."""
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move slice norms along ``axis`` toward ``[min_value, max_value]`` at ``rate``.

    ``desired = rate * clip(norms, min_value, max_value) + (1 - rate) * norms``, then
    ``w * desired / (epsilon + norms)``.

    >>> n = MinMaxNorm(2.0, 3.0)(torch.tensor([[0.6], [0.8]])).norm().item()
    >>> round(n, 4)
    2.0
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        if min_value > max_value:
            raise ValueError(
                f"MinMaxNorm expected min_value <= max_value, received {min_value}, {max_value}"
            )
        self.min_value, self.max_value, self.rate = min_value, max_value, rate
        self.axis = _axis(axis)

    def __call__(self, w):
        """Project ``w``."""
        w = _tensor(w)
        norms = _norms(w, self.axis)
        clipped = norms.clamp(float(self.min_value), float(self.max_value))
        desired = self.rate * clipped + (1.0 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        """``{"min_value", "max_value", "rate", "axis"}``."""
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
_BY_NAME: dict[str, type] = {c.__name__: c for c in _CLASSES}
_BY_NAME.update(
    {
        "constraint": Constraint,
        "max_norm": MaxNorm,
        "min_max_norm": MinMaxNorm,
        "non_neg": NonNeg,
        "unit_norm": UnitNorm,
    }
)


def serialize(constraint) -> dict:
    """Keras's dict form ``{"module", "class_name", "config", "registered_name"}``.

    >>> serialize(MaxNorm(3))["config"]
    {'max_value': 3, 'axis': 0}
    """
    if not hasattr(constraint, "get_config"):
        raise TypeError(
            f"serialize expected a constraint with get_config(), received {constraint!r}"
        )
    return serialize_keras_object(constraint, _MODULE)


def deserialize(config, custom_objects=None):
    """Build a constraint from Keras's dict form (or a name).

    >>> deserialize({"class_name": "UnitNorm", "config": {"axis": 1}})
    UnitNorm(axis=1)
    """
    return deserialize_keras_object(config, _BY_NAME, custom_objects, "constraint")


def get(identifier):
    """Turn ``None``, a name, a Keras dict, a class or an instance/callable into a constraint.

    >>> get("max_norm"), get(None)
    (MaxNorm(max_value=2, axis=0), None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if get_registered_object(identifier, None, _BY_NAME) is None:
            raise ValueError(
                f"Unknown constraint {identifier!r}; expected one of {sorted(_BY_NAME)}"
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
        f"Could not interpret constraint {identifier!r}: expected a name from "
        f"{sorted(_BY_NAME)}, a dict, or a callable"
    )
