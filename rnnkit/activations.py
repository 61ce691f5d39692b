"""Activation functions on torch tensors, with Keras 3's names and semantics.

Every function takes a tensor and returns a new one. :func:`get` turns a name (``"tanh"``), a
serialized dict, ``None`` (the identity, ``linear``) or a callable into a function;
:func:`serialize` / :func:`get_name` give the name Keras writes into a layer config.

>>> import torch
>>> get("hard_sigmoid")(torch.tensor([-3.0, 0.0, 1.5])).tolist()
[0.0, 0.5, 0.75]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.saving.object_registry import (
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    serialize_keras_object,
)

__all__ = [
    "celu",
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "get_name",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
]


def _tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    try:
        out = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"activation expected a torch tensor, received {type(x).__name__}") from err
    return out if out.is_floating_point() else out.to(torch.get_default_dtype())


def linear(x):
    """Identity: return ``x`` unchanged."""
    return x


def tanh(x):
    """Hyperbolic tangent."""
    return torch.tanh(_tensor(x))


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return torch.sigmoid(_tensor(x))


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: ``relu6(x + 3) / 6`` = ``clip(x / 6 + 0.5, 0, 1)``."""
    return F.relu6(_tensor(x) + 3.0) / 6.0


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit with Keras's ``negative_slope``, ``max_value`` and ``threshold``.

    Values at or below ``threshold`` become ``negative_slope * (x - threshold)``; values above
    stay ``x``, clipped to ``max_value`` when given.
    """
    x = _tensor(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return F.leaky_relu(x, negative_slope)
    negative_part = None
    if negative_slope != 0.0:
        negative_part = torch.relu(threshold - x) if threshold != 0 else torch.relu(-x)
    if threshold != 0:
        out = x * (x > threshold).to(x.dtype)
    else:
        out = torch.relu(x)
    if max_value is not None:
        out = out.clamp(0.0, float(max_value))
    if negative_part is not None:
        out = out - negative_slope * negative_part
    return out


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: ``x`` for ``x >= 0``, else ``negative_slope * x`` (Keras default 0.2)."""
    return F.leaky_relu(_tensor(x), negative_slope)


def relu6(x):
    """ReLU capped at 6: ``min(max(x, 0), 6)``."""
    return F.relu6(_tensor(x))


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return F.elu(_tensor(x), alpha)


def selu(x):
    """Scaled ELU with the fixed constants alpha=1.67326324, scale=1.05070098."""
    return F.selu(_tensor(x))


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: ``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return F.celu(_tensor(x), alpha)


def softmax(x, axis=-1):
    """Softmax along ``axis`` (default the last one)."""
    return torch.softmax(_tensor(x), dim=axis)


def log_softmax(x, axis=-1):
    """Logarithm of the softmax along ``axis``."""
    return torch.log_softmax(_tensor(x), dim=axis)


def softplus(x):
    """Softplus: ``log(exp(x) + 1)``."""
    return F.softplus(_tensor(x))


def softsign(x):
    """Softsign: ``x / (abs(x) + 1)``."""
    return F.softsign(_tensor(x))


def silu(x):
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``."""
    return F.silu(_tensor(x))


swish = silu


def hard_silu(x):
    """Hard SiLU (hard swish): ``x * hard_sigmoid(x)``."""
    x = _tensor(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def gelu(x, approximate=False):
    """Gaussian error linear unit; ``approximate=True`` uses the tanh formula."""
    return F.gelu(_tensor(x), approximate="tanh" if approximate else "none")


def exponential(x):
    """Elementwise ``exp(x)``."""
    return torch.exp(_tensor(x))


def mish(x):
    """Mish: ``x * tanh(softplus(x))``."""
    return F.mish(_tensor(x))


def log_sigmoid(x):
    """Logarithm of the sigmoid: ``-softplus(-x)``."""
    return F.logsigmoid(_tensor(x))


def hard_tanh(x):
    """Tanh replaced by ``clip(x, -1, 1)``."""
    return F.hardtanh(_tensor(x))


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return F.tanhshrink(_tensor(x))


def hard_shrink(x, threshold=0.5):
    """``x`` where ``abs(x) > threshold``, else 0."""
    return F.hardshrink(_tensor(x), threshold)


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return F.softshrink(_tensor(x), threshold)


def squareplus(x, b=4):
    """Squareplus: ``(x + sqrt(x**2 + b)) / 2``."""
    x = _tensor(x)
    return (x + torch.sqrt(x * x + b)) / 2


def glu(x, axis=-1):
    """Gated linear unit: split ``x`` in halves ``a, b`` along ``axis``; ``a * sigmoid(b)``."""
    x = _tensor(x)
    if x.shape[axis] % 2:
        raise ValueError(
            f"glu expected an even size along axis {axis}, received shape {tuple(x.shape)}"
        )
    return F.glu(x, dim=axis)


_FUNCTIONS = (
    celu, elu, exponential, gelu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_tanh,
    leaky_relu, linear, log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
    soft_shrink, softmax, softplus, softsign, squareplus, tanh, tanh_shrink,
)  # fmt: skip
_BY_NAME: dict[str, object] = {fn.__name__: fn for fn in _FUNCTIONS}
_BY_NAME.update({"swish": silu, "hard_swish": hard_silu})
_NAME_OF: dict[object, str] = {fn: fn.__name__ for fn in _FUNCTIONS}


def get_name(fn) -> str:
    """The name Keras writes for activation ``fn`` (``"tanh"``, ``"silu"``, ``"pkg>my_fn"``).

    >>> get_name(swish), get_name(get(None))
    ('silu', 'linear')
    """
    if isinstance(fn, str):
        get(fn)  # validates the name
        return fn
    if fn in _NAME_OF:
        return _NAME_OF[fn]
    if callable(fn) and getattr(fn, "__name__", "<lambda>") != "<lambda>":
        return get_registered_name(fn)
    raise ValueError(f"get_name expected a named activation function, received {fn!r}")


def serialize(activation):
    """Keras's form of an activation: its string name, or a dict for a configurable object.

    >>> serialize(tanh), serialize(None)
    ('tanh', 'linear')
    """
    if activation is None:
        return "linear"
    if hasattr(activation, "get_config") and not isinstance(activation, str):
        return serialize_keras_object(activation, "keras.activations")
    return get_name(activation)


def _lookup(name: str, custom_objects=None):
    obj = get_registered_object(name, custom_objects, _BY_NAME)
    if obj is None:
        raise ValueError(f"Unknown activation {name!r}; expected one of {sorted(_BY_NAME)}")
    return obj


def deserialize(config, custom_objects=None):
    """Inverse of :func:`serialize`: a name or Keras dict to the activation function.

    >>> deserialize("relu") is relu
    True
    """
    if isinstance(config, str):
        return _lookup(config, custom_objects)
    if isinstance(config, dict):
        if config.get("class_name") == "function":
            name = config.get("config")
            if not isinstance(name, str):
                raise ValueError(f"activation dict of a function needs a name, received {config!r}")
            registered = config.get("registered_name")
            if registered and registered != "function":
                obj = get_registered_object(registered, custom_objects, _BY_NAME)
                if obj is not None:
                    return obj
            return _lookup(name, custom_objects)
        return deserialize_keras_object(config, _BY_NAME, custom_objects, "activation")
    raise TypeError(
        f"activation deserialize expected a str or dict, received {type(config).__name__}"
    )


def get(identifier):
    """Turn a name, Keras dict, ``None`` (linear) or callable into an activation function.

    >>> get("swish") is silu, get(None) is linear
    (True, True)
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if isinstance(obj, type):
        obj = obj()
    if callable(obj):
        return obj
    raise ValueError(
        f"Could not interpret activation {identifier!r}: expected a name from "
        f"{sorted(_BY_NAME)}, a dict, or a callable"
    )
