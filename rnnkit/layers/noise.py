"""Regularisation noise layers: ``SpatialDropout1D/2D/3D``, ``GaussianNoise``, ``GaussianDropout``.

All are the identity at inference (``training=False``, the default outside ``fit``) and pass a
Keras mask on. ``seed=`` makes the noise repeatable: the layer owns an
:class:`rnnkit.random.SeedGenerator` (``layer.seed_generator``, one of its non-trainable variables,
as in Keras) and each draw takes a generator from it (:func:`_generator`); without a seed torch's
global generator is used.
"""

from __future__ import annotations

import math
import numbers

import torch

from rnnkit.layers import _conv_utils as U
from rnnkit.layers.core import Dropout
from rnnkit.layers.layer import Layer
from rnnkit.random import SeedGenerator, torch_generator

__all__ = [
    "GaussianDropout",
    "GaussianNoise",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
]


def _generator(layer, device) -> torch.Generator | None:
    """A generator for one draw on ``device`` from the layer's seed generator, or None if unseeded."""
    sg = getattr(layer, "seed_generator", None)
    if sg is not None:
        return torch_generator(sg, device)
    if layer.seed is None:
        return None
    gens = layer.__dict__.setdefault("_generators", {})
    key = str(device)
    if key not in gens:
        gens[key] = torch.Generator(device=device)
        gens[key].manual_seed(int(layer.seed))
    return gens[key]


def _unit_rate(layer: str, arg: str, value, closed: bool) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and (0 <= value <= 1 if closed else 0 <= value < 1)
    if not ok:
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{layer}: {arg} must be a float in {interval}, received {value!r}")
    return float(value)


class _SpatialDropout(Dropout):
    rank = 1

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = U.data_format(type(self).__name__, data_format)

    def _channel_noise_shape(self, inputs):
        B = inputs.shape[0]
        ones = (1,) * self.rank
        if self.data_format == "channels_first":
            return (B, inputs.shape[1], *ones)
        return (B, *ones, inputs.shape[-1])

    def call(self, inputs, training=None):
        U.check_rank(self, inputs, self.rank + 2, "(batch, *spatial, channels)")
        if not training or self.rate == 0:
            return inputs
        keep_prob = 1.0 - self.rate
        probs = torch.full(
            self._channel_noise_shape(inputs), keep_prob, dtype=inputs.dtype, device=inputs.device
        )
        keep = torch.bernoulli(probs, generator=_generator(self, inputs.device))
        return inputs * keep / keep_prob

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("noise_shape", None)
        if self.rank > 1:
            cfg["data_format"] = self.data_format
        return cfg


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole feature channels: one keep/drop draw per ``(sample, channel)``.

    For ``(B, steps, C)`` inputs in training, ``output = inputs * keep[:, None, :] / (1 - rate)``
    with ``keep ~ Bernoulli(1 - rate)`` of shape ``(B, C)``: a dropped channel is zero at every
    step (neighbouring steps are correlated, so element-wise dropout regularises little).

    Args:
        rate: float in ``[0, 1)``, fraction of channels dropped.
        seed: int for repeatable draws (default None).

    >>> import torch
    >>> layer = SpatialDropout1D(0.5, seed=0)
    >>> out = layer(torch.ones(1, 4, 3), training=True)
    >>> bool((out == out[:, :1]).all())  # constant along time
    True
    """

    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole 2-D feature maps: ``(B, H, W, C)``, one draw per ``(sample, channel)``.

    Args:
        rate: float in ``[0, 1)``; data_format: ``"channels_last"`` (default) or
            ``"channels_first"``; seed: int or None.

    >>> import torch
    >>> SpatialDropout2D(0.5)(torch.ones(1, 2, 2, 3)).shape
    torch.Size([1, 2, 2, 3])
    """

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole 3-D feature maps: ``(B, D, H, W, C)`` (arguments as SpatialDropout2D).

    >>> import torch
    >>> SpatialDropout3D(0.5)(torch.ones(1, 2, 2, 2, 3)).shape
    torch.Size([1, 2, 2, 2, 3])
    """

    rank = 3


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise in training: ``output = inputs + N(0, stddev**2)``.

    Args:
        stddev: float in ``[0, 1]``, standard deviation of the noise.
        seed: int for repeatable noise (default None).

    >>> import torch
    >>> layer = GaussianNoise(0.1, seed=0)
    >>> layer(torch.zeros(3)).tolist()  # inference: identity
    [0.0, 0.0, 0.0]
    >>> bool((layer(torch.zeros(1000), training=True).std() - 0.1).abs() < 0.01)
    True
    """

    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _unit_rate("GaussianNoise", "stddev", stddev, closed=True)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.stddev == 0:
            return inputs
        gen = _generator(self, inputs.device)
        noise = torch.randn(inputs.shape, generator=gen, dtype=inputs.dtype, device=inputs.device)
        return inputs + self.stddev * noise

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplicative Gaussian noise in training: ``output = inputs * N(1, rate / (1 - rate))``.

    Args:
        rate: float in ``[0, 1)``, the drop probability of the equivalent dropout.
        seed: int for repeatable noise (default None).

    >>> import torch
    >>> layer = GaussianDropout(0.5, seed=0)
    >>> layer(torch.ones(2)).tolist()
    [1.0, 1.0]
    >>> bool((layer(torch.ones(4000), training=True).std() - 1.0).abs() < 0.05)
    True
    """

    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _unit_rate("GaussianDropout", "rate", rate, closed=False)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        gen = _generator(self, inputs.device)
        noise = torch.randn(inputs.shape, generator=gen, dtype=inputs.dtype, device=inputs.device)
        return inputs * (1.0 + stddev * noise)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
