"""Seeded random draws with Keras's semantics: ``SeedGenerator`` and a few sampling functions.

A :class:`SeedGenerator` holds a small integer state (a non-trainable variable, as in Keras: it
is counted in ``layer.non_trainable_variables`` but not in ``layer.weights``). Each draw takes
the current state as its seed and advances it, so two generators made with the same seed give
the same sequence of draws: two layers with the same ``seed=`` and the same weights produce the
same dropout masks, call after call.

``seed=None`` keeps PyTorch's behaviour: draws come from torch's global generator, so
``torch.manual_seed`` / ``rnnkit.utils.set_random_seed`` make them reproducible.

>>> import torch
>>> a, b = SeedGenerator(7), SeedGenerator(7)
>>> torch.equal(uniform((3,), seed=a), uniform((3,), seed=b))
True
>>> torch.equal(uniform((3,), seed=a), uniform((3,), seed=a))  # the state advanced
False
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

__all__ = ["SeedGenerator", "dropout", "keep_mask", "normal", "randint", "torch_generator", "uniform"]

_MASK64 = (1 << 64) - 1


class SeedGenerator(nn.Module):
    """A stateful seed source for random layers (Keras's ``keras.random.SeedGenerator``).

    Args:
        seed: an integer (draws are reproducible), or None (draws use torch's global generator;
            the state still counts draws).
        name: a name for the state variable's path (default ``"seed_generator"``).

    The state is a ``(2,)`` int64 tensor ``[seed, counter]`` (a non-persistent buffer: it moves
    with ``.to()`` but stays out of ``state_dict``). :meth:`next` returns the current state and
    advances the counter.

    >>> g = SeedGenerator(3)
    >>> g.state.tolist(), g.next().tolist(), g.state.tolist()
    ([3, 0], [3, 0], [3, 1])
    """

    def __init__(self, seed=None, name=None, **kwargs):
        super().__init__()
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"SeedGenerator: seed must be an integer or None, received {seed!r}")
        self.initial_seed = None if seed is None else int(seed)
        self.name = name or "seed_generator"
        state = torch.tensor([0 if seed is None else int(seed), 0], dtype=torch.int64)
        self.register_buffer("state", state, persistent=False)

    @property
    def path(self) -> str:
        return f"{self.name}/seed_generator_state"

    def next(self, ordered: bool = True) -> torch.Tensor:
        """The seed for one draw (the current state); advances the state."""
        current = self.state.clone()
        self.state[1] += 1
        return current

    def get_config(self) -> dict:
        return {"seed": self.initial_seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self) -> str:
        return f"seed={self.initial_seed}"


def torch_generator(seed, device=None) -> torch.Generator | None:
    """A ``torch.Generator`` for one draw from ``seed`` (int or SeedGenerator), or None (global RNG).

    An int always gives the same generator; a SeedGenerator gives a new one per call (its state
    advances); None, or a SeedGenerator made with ``seed=None``, means torch's global generator.

    >>> torch_generator(None) is None, torch_generator(3).initial_seed() == torch_generator(3).initial_seed()
    (True, True)
    """
    if seed is None:
        return None
    if isinstance(seed, SeedGenerator):
        if seed.initial_seed is None:
            seed.next()
            return None
        a, b = (int(v) for v in seed.next().tolist())
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        a, b = int(seed), 0
    else:
        raise ValueError(f"seed must be an integer, a SeedGenerator or None, received {seed!r}")
    mixed = (a * 0x9E3779B97F4A7C15 + b * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & _MASK64
    g = torch.Generator(device=device if device is not None else "cpu")
    g.manual_seed(mixed)
    return g


def _dtype(dtype):
    from rnnkit import config

    return config.torch_dtype(dtype or config.floatx())


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None, device=None) -> torch.Tensor:
    """Uniform samples in ``[minval, maxval)`` of ``shape`` (dtype default ``floatx()``).

    >>> x = uniform((2, 3), minval=-1.0, maxval=1.0, seed=1)
    >>> tuple(x.shape), bool((x >= -1).all() and (x < 1).all())
    ((2, 3), True)
    """
    g = torch_generator(seed, device)
    out = torch.rand(tuple(shape), generator=g, dtype=_dtype(dtype), device=device)
    return out * (maxval - minval) + minval


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None, device=None) -> torch.Tensor:
    """Normal samples of ``shape`` with ``mean`` and ``stddev``.

    >>> normal((1000,), mean=5.0, seed=2).mean().round().item()
    5.0
    """
    g = torch_generator(seed, device)
    return torch.randn(tuple(shape), generator=g, dtype=_dtype(dtype), device=device) * stddev + mean


def randint(shape, minval, maxval, dtype="int32", seed=None, device=None) -> torch.Tensor:
    """Integers in ``[minval, maxval)`` of ``shape``.

    >>> sorted(set(randint((100,), 0, 3, seed=4).tolist()))
    [0, 1, 2]
    """
    from rnnkit import config

    g = torch_generator(seed, device)
    return torch.randint(int(minval), int(maxval), tuple(shape), generator=g, device=device).to(
        config.torch_dtype(dtype)
    )


def keep_mask(like: torch.Tensor, rate: float, seed=None) -> torch.Tensor:
    """Inverted-dropout multipliers shaped like ``like``: 0 with probability ``rate``, else 1/(1-rate).

    >>> sorted(set(keep_mask(torch.ones(100), 0.5, seed=SeedGenerator(1)).tolist()))
    [0.0, 2.0]
    """
    keep = 1.0 - float(rate)
    probs = torch.full_like(like, keep)
    g = torch_generator(seed, like.device)
    return torch.bernoulli(probs, generator=g) / keep


def dropout(inputs: torch.Tensor, rate: float, noise_shape=None, seed=None) -> torch.Tensor:
    """Zero entries of ``inputs`` with probability ``rate`` and scale the rest by ``1/(1-rate)``.

    ``noise_shape`` (None entries = the input's size) shares one draw along axes of size 1.

    >>> y = dropout(torch.ones(4, 6), 0.5, noise_shape=(None, 1), seed=3)
    >>> bool((y == y[:, :1]).all())  # one decision per row
    True
    """
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), received {rate}")
    if rate == 0:
        return inputs
    shape = tuple(inputs.shape) if noise_shape is None else tuple(
        d if d is not None else inputs.shape[i] for i, d in enumerate(noise_shape)
    )
    like = torch.empty(shape, dtype=inputs.dtype, device=inputs.device)
    return inputs * keep_mask(like, rate, seed)
