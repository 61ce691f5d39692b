"""Seed every random number generator that rnnkit uses, for repeatable runs."""

from __future__ import annotations

import numbers
import random

import numpy as np
import torch

__all__ = ["set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and every GPU).

    Call it once at the start of a script: weight initialisation, dropout, data
    shuffling and everything else drawn from these generators then repeats exactly
    from run to run (given the same code, library versions and hardware; some GPU
    kernels are not bit-for-bit deterministic, see ``torch.use_deterministic_algorithms``).

    Args:
        seed: an int in ``[0, 2**32)``.

    >>> set_random_seed(1234)
    >>> a = (random.random(), np.random.rand(), torch.rand(1).item())
    >>> set_random_seed(1234)
    >>> a == (random.random(), np.random.rand(), torch.rand(1).item())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(
            f"set_random_seed expected an int seed, received {seed!r} "
            f"(of type {type(seed).__name__})"
        )
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"set_random_seed expected a seed in [0, 2**32), received {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
