"""``split_dataset``: cut a dataset (arrays or a torch ``Dataset``) into a left and a right part."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["split_dataset"]


def _sizes(left_size, right_size, total):
    for name, v in (("left_size", left_size), ("right_size", right_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, Received: type({name})={type(v)}")
    if left_size is None and right_size is None:
        raise ValueError(
            "At least one of the `left_size` or `right_size` must be specified. "
            "Received: left_size=None and right_size=None"
        )
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split sizes must be non-zero.")
    for name, v in (("left_size", left_size), ("right_size", right_size)):
        if isinstance(v, int) and not 0 < v < total or isinstance(v, float) and not 0 < v < 1:
            raise ValueError(
                f"`{name}` should be either a positive integer smaller than {total}, or a float "
                f"within the range `[0, 1]`. Received: {name}={v}"
            )
    if isinstance(left_size, float) and isinstance(right_size, float) and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal to 1.")
    left = round(left_size * total) if isinstance(left_size, float) else left_size
    right = round(right_size * total) if isinstance(right_size, float) else right_size
    if left is None:
        left = total - right
    if right is None:
        right = total - left
    if left + right > total:
        raise ValueError(
            f"The sum of `left_size` and `right_size` should be smaller than the {total}. "
            f"Received: left_size + right_size = {left + right} and total_length = {total}"
        )
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(
                f"With `dataset` of length={total}, `left_size`={left} and `right_size`={right}. "
                f"Resulting {side} side dataset split will be empty. Adjust any of the aforementioned parameters"
            )
    return int(left), int(right)


def _as_tensor(a):
    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(a)))


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """Split ``dataset`` into ``(left, right)`` torch datasets (Keras's ``split_dataset``).

    The left part holds the first ``left_size`` samples, the right part the last ``right_size``
    (after a shuffle when ``shuffle=True``); a float size is a fraction of the samples, a missing
    size is the complement of the other.

    Args:
        dataset: a list / tuple of arrays with the same first axis, one array, or a
            ``torch.utils.data.Dataset`` with ``len``.
        left_size, right_size: int (samples), float in ``(0, 1)`` (fraction) or ``None``.
        shuffle: shuffle the samples before splitting.
        seed: int seed of that shuffle.
        preferred_backend: accepted for Keras compatibility; only ``"torch"`` (or ``None``) is
            available: the splits are ``torch.utils.data.Subset`` objects.

    Unlike Keras's torch path (which always shuffles through ``random_split``), the order is kept
    unless ``shuffle=True``, as Keras documents and its TensorFlow path does.

    >>> import numpy as np
    >>> left, right = split_dataset(np.arange(10.0), left_size=0.8)
    >>> len(left), len(right), right[0][0].item()
    (8, 2, 8.0)
    """
    if preferred_backend not in (None, "torch"):
        raise ValueError(
            f"split_dataset: rnnkit returns torch datasets; preferred_backend must be None or 'torch', "
            f"received {preferred_backend!r}"
        )
    if isinstance(dataset, torch.utils.data.Dataset):
        if not hasattr(dataset, "__len__"):
            raise TypeError("split_dataset needs a dataset with a length (an IterableDataset has none)")
        base = dataset
    elif isinstance(dataset, np.ndarray | torch.Tensor):
        base = torch.utils.data.TensorDataset(_as_tensor(dataset))
    elif isinstance(dataset, list | tuple) and dataset:
        tensors = [_as_tensor(a) for a in dataset]
        sizes = {len(t) for t in tensors}
        if len(sizes) != 1:
            raise ValueError(f"split_dataset: the arrays must have the same length, received lengths {sorted(sizes)}")
        base = torch.utils.data.TensorDataset(*tensors)
    else:
        raise TypeError(
            "The `dataset` argument must be a `torch.utils.data.Dataset` object, or a list/tuple of arrays. "
            f"Received: dataset={dataset!r:.100} of type {type(dataset)}"
        )
    total = len(base)
    left, right = _sizes(left_size, right_size, total)
    if shuffle:
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        order = torch.randperm(total, generator=gen).tolist()
    else:
        order = list(range(total))
    return torch.utils.data.Subset(base, order[:left]), torch.utils.data.Subset(base, order[total - right :])
