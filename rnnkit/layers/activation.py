"""Activation layers with weights or options: ``LeakyReLU``, ``PReLU``, ``ELU``, ``Softmax``.

(``ReLU`` and ``Activation`` live in :mod:`rnnkit.layers.core`.) All of them pass a Keras mask
on unchanged; ``Softmax`` also uses it: masked positions get probability 0.
"""

from __future__ import annotations

import numbers
import warnings

import torch
import torch.nn.functional as F

from rnnkit import constraints, initializers, regularizers
from rnnkit.layers.core import serialize_or_none
from rnnkit.layers.layer import Layer

__all__ = ["ELU", "LeakyReLU", "PReLU", "Softmax"]


def _non_negative(layer: str, arg: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{layer}: {arg} must be a non-negative float, received {value!r}")
    return float(value)


class LeakyReLU(Layer):
    """Leaky rectified linear unit: ``f(x) = x`` for ``x >= 0``, ``negative_slope * x`` otherwise.

    Args:
        negative_slope: non-negative float (default 0.3, Keras's layer default).
        alpha: the Keras 2 spelling of ``negative_slope`` (accepted, with Keras's deprecation
            warning); the config always says ``negative_slope``.

    >>> import torch
    >>> LeakyReLU(negative_slope=0.5)(torch.tensor([-2.0, 3.0])).tolist()
    [-1.0, 3.0]
    """

    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn(
                "LeakyReLU: argument `alpha` is deprecated (Keras 2 spelling); use "
                "`negative_slope` instead.",
                stacklevel=2,
            )
        super().__init__(**kwargs)
        self.negative_slope = _non_negative("LeakyReLU", "negative_slope", negative_slope)

    def call(self, inputs):
        return F.leaky_relu(inputs, self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Parametric ReLU: ``f(x) = max(x, 0) - alpha * max(-x, 0)`` with a learned ``alpha``.

    ``alpha`` has the input's shape without the batch axis, with size 1 on ``shared_axes``
    (e.g. ``shared_axes=[1]`` shares one slope per channel across time).

    Args:
        alpha_initializer: initializer of ``alpha`` (default ``"zeros"``).
        alpha_regularizer, alpha_constraint: optional.
        shared_axes: int or list of ints (1-based input axes) that share a slope (default None).

    >>> import torch
    >>> layer = PReLU(alpha_initializer="ones", shared_axes=[1])
    >>> layer(torch.tensor([[[-2.0, 3.0], [1.0, -1.0]]])).tolist()
    [[[-2.0, 3.0], [1.0, -1.0]]]
    >>> [w.shape for w in layer.get_weights()]
    [(1, 2)]
    """

    supports_masking = True

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, list | tuple) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, int) or a < 1 for a in axes):
                raise ValueError(
                    f"PReLU: shared_axes must be positive ints (input axes after the batch "
                    f"axis), received {shared_axes!r}"
                )
            self.shared_axes = axes

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if axis > len(shape):
                raise ValueError(
                    f"{self.name}: shared_axes {self.shared_axes} out of range for inputs of "
                    f"shape {tuple(input_shape)}"
                )
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"{self.name}: PReLU needs every non-shared axis known, received {input_shape}"
            )
        self.alpha = self.add_weight(
            shape=shape,
            initializer=self.alpha_initializer,
            name="alpha",
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )
        self.built = True

    def call(self, inputs):
        want = tuple(self.alpha.shape)
        got = tuple(inputs.shape[1:])
        if len(got) != len(want) or any(a not in (1, b) for a, b in zip(want, got)):
            raise ValueError(
                f"{self.name}: expected inputs of shape (batch, {', '.join(map(str, want))}) "
                f"(1 = shared axis), received {tuple(inputs.shape)}"
            )
        return torch.relu(inputs) - self.alpha * torch.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        cfg = {
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": serialize_or_none(regularizers, self.alpha_regularizer),
            "alpha_constraint": serialize_or_none(constraints, self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }
        return {**super().get_config(), **cfg}


class ELU(Layer):
    """Exponential linear unit: ``f(x) = x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: float scale of the negative part (default 1.0).

    >>> import torch
    >>> ELU()(torch.tensor([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise ValueError(f"ELU: alpha must be a float, received {alpha!r}")
        self.alpha = float(alpha)

    def call(self, inputs):
        return F.elu(inputs, self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax along ``axis``: ``exp(x - logsumexp(x, axis))``; masked entries get 0.

    A mask (``mask=`` or the input's Keras mask) broadcastable to the input from the right
    (e.g. ``(B, 1, Tv)`` for scores ``(B, Tq, Tv)``) marks the entries that take part; the
    others are set to a large negative number before the softmax and to 0 after it (as Keras).

    Args:
        axis: int or tuple of ints, the normalised axes (default -1).

    >>> import torch
    >>> out = Softmax()(torch.zeros(1, 4), mask=torch.tensor([[True, True, False, True]]))
    >>> [round(v, 4) for v in out[0].tolist()]
    [0.3333, 0.3333, 0.0, 0.3333]
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, list | tuple):
            axis = [int(a) for a in axis]
        elif isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Softmax: axis must be an int or a list of ints, received {axis!r}")
        self.axis = axis

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = torch.as_tensor(mask, device=inputs.device)
            if mask.dim() > inputs.dim() or any(
                m not in (1, i) for m, i in zip(reversed(mask.shape), reversed(inputs.shape))
            ):
                raise ValueError(
                    f"{self.name}: the mask must broadcast to the inputs from the right, "
                    f"received inputs of shape {tuple(inputs.shape)} and a mask of shape "
                    f"{tuple(mask.shape)}"
                )
            mask = mask if mask.dtype == torch.bool else mask > 0.5
            big = -3e4 if inputs.dtype == torch.float16 else -1e9
            inputs = torch.where(mask, inputs, torch.tensor(big, dtype=inputs.dtype))
        if isinstance(self.axis, list) and len(self.axis) > 1:
            out = torch.exp(inputs - torch.logsumexp(inputs, dim=self.axis, keepdim=True))
        else:
            axis = self.axis[0] if isinstance(self.axis, list) else self.axis
            out = torch.softmax(inputs, dim=axis)
        if mask is not None:
            out = torch.where(mask, out, torch.zeros((), dtype=out.dtype))
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
