"""Turning what users pass to ``fit`` / ``evaluate`` / ``predict`` into batches of tensors.

Accepted: numpy arrays or torch tensors (also lists / tuples / dicts of them for several inputs
or outputs), a ``torch.utils.data.Dataset`` or ``DataLoader``, or any iterable of
``(x, y[, sample_weight])`` batches.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from rnnkit.layers.layer import flatten, map_structure, pack_as

__all__ = ["is_array_like", "to_tensors", "num_samples", "ArrayBatches", "IterableBatches", "unpack"]


def _leaf_is_array(x) -> bool:
    return isinstance(x, np.ndarray | torch.Tensor)


def is_array_like(x) -> bool:
    """True for an array/tensor or a (nested) list/tuple/dict whose leaves are all arrays."""
    if x is None:
        return False
    if _leaf_is_array(x):
        return True
    if isinstance(x, Mapping | list | tuple):
        leaves = flatten(x)
        return bool(leaves) and all(_leaf_is_array(v) for v in leaves)
    return False


def to_tensors(x):
    """numpy leaves -> torch tensors (no copy when possible)."""

    def conv(v):
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                raise TypeError(
                    "received a numpy object array (ragged sequences?); pad them first with "
                    "rnnkit.utils.pad_sequences"
                )
            return torch.from_numpy(np.ascontiguousarray(v))
        return v

    return map_structure(conv, x)


def num_samples(x, what="x") -> int:
    leaves = flatten(x)
    sizes = {int(v.shape[0]) for v in leaves}
    if len(sizes) != 1:
        raise ValueError(f"all arrays in {what} must have the same number of samples, received {sorted(sizes)}")
    return sizes.pop()


def unpack(batch):
    """``(x, y, sample_weight)`` from a batch tuple (missing parts are None)."""
    if isinstance(batch, list | tuple):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
        raise ValueError(
            f"a data batch must be x, (x,), (x, y) or (x, y, sample_weight); received a tuple of {len(batch)}"
        )
    return batch, None, None


class ArrayBatches:
    """Batches of in-memory arrays, optionally shuffled each epoch."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False):
        self.x, self.y, self.sw = to_tensors(x), to_tensors(y), to_tensors(sample_weight)
        n = num_samples(self.x, "x")
        if n == 0:
            shapes = [tuple(t.shape) for t in flatten(self.x)]
            raise ValueError(f"expected at least one sample, received empty arrays (x shapes {shapes})")
        if self.y is not None:
            ny = num_samples(self.y, "y")
            if ny != n:
                raise ValueError(f"x and y must have the same number of samples, received x: {n} and y: {ny}")
        if self.sw is not None and num_samples(self.sw, "sample_weight") != n:
            raise ValueError(
                f"sample_weight must have one value per sample ({n}), received {num_samples(self.sw)}"
            )
        if batch_size is None:
            batch_size = 32
        if int(batch_size) <= 0:
            raise ValueError(f"batch_size must be a positive integer, received {batch_size}")
        self.n, self.batch_size, self.shuffle = n, int(batch_size), shuffle

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        order = torch.randperm(self.n) if self.shuffle else None
        for start in range(0, self.n, self.batch_size):
            idx = order[start : start + self.batch_size] if order is not None else slice(start, start + self.batch_size)

            def take(v, idx=idx):
                return v[idx]

            yield (
                map_structure(take, self.x),
                None if self.y is None else map_structure(take, self.y),
                None if self.sw is None else map_structure(take, self.sw),
            )


class IterableBatches:
    """A DataLoader, Dataset or any re-iterable of batches; ``steps`` caps an epoch."""

    def __init__(self, data, steps=None, batch_size=None):
        if isinstance(data, torch.utils.data.Dataset) and not isinstance(
            data, torch.utils.data.IterableDataset
        ):
            data = torch.utils.data.DataLoader(data, batch_size=batch_size or 32)
        self.data, self.steps = data, steps
        self._iter = None

    def __len__(self):
        if self.steps is not None:
            return int(self.steps)
        return len(self.data)  # TypeError for iterables without a length

    def __iter__(self):
        if self.steps is None:
            for batch in self.data:
                yield batch if isinstance(self.data, ArrayBatches) else unpack_tensors(batch)
            return
        count = 0
        while count < self.steps:
            if self._iter is None:
                self._iter = iter(self.data)
            try:
                batch = next(self._iter)
            except StopIteration:
                self._iter = None
                if count == 0:
                    raise ValueError("the data iterable produced no batches") from None
                continue
            count += 1
            yield batch if isinstance(self.data, ArrayBatches) else unpack_tensors(batch)


def length_or_none(data):
    """Number of batches per epoch, or None when the source cannot tell."""
    try:
        return len(data)
    except TypeError:
        return None


def unpack_tensors(batch):
    x, y, sw = unpack(batch)
    return to_tensors(x), to_tensors(y), to_tensors(sw)


def class_weights_to_sample_weights(y, class_weight: dict):
    """Per-sample weights from ``class_weight`` ({class index: weight}) and targets ``y``."""
    if isinstance(y, list | tuple | dict):
        raise ValueError("class_weight is only supported for models with a single output")
    y = torch.as_tensor(y)
    labels = y.argmax(-1) if y.dim() > 1 and y.shape[-1] > 1 else y.reshape(y.shape[0], -1)[:, 0]
    labels = labels.round().long() if labels.is_floating_point() else labels.long()
    present = sorted(int(c) for c in torch.unique(labels).tolist())
    missing = [c for c in present if c not in {int(k) for k in class_weight}]
    if missing:
        raise ValueError(
            f"class_weight must give a weight for every class in y; classes {missing} occur in "
            f"y but class_weight has only {sorted(class_weight)}"
        )
    if present and present[0] < 0:
        raise ValueError(f"class_weight needs class ids >= 0, y holds {present[0]}")
    table = torch.ones(int(max(max(class_weight), int(labels.max()))) + 1, dtype=torch.float32)
    for k, v in class_weight.items():
        table[int(k)] = float(v)
    return table[labels.cpu()]


def split_validation(x, y, sw, fraction: float):
    """Keras's validation_split: the last ``fraction`` of the samples (before shuffling)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), received {fraction}")
    x, y, sw = to_tensors(x), to_tensors(y), to_tensors(sw)
    n = num_samples(x)
    cut = int(n * (1.0 - fraction))
    if cut <= 0 or cut >= n:
        raise ValueError(f"validation_split={fraction} leaves no samples on one side ({n} samples)")

    def head(v):
        return v[:cut]

    def tail(v):
        return v[cut:]

    parts = []
    for fn in (head, tail):
        parts.append(tuple(None if v is None else map_structure(fn, v) for v in (x, y, sw)))
    return parts


def detach(x):
    """``x`` (nested tensors) without autograd history."""
    return map_structure(lambda t: t.detach() if isinstance(t, torch.Tensor) else t, x)


def to_device(x, device):
    if device is None:
        return x
    return map_structure(lambda t: t.to(device, non_blocking=True) if isinstance(t, torch.Tensor) else t, x)


def to_numpy(x):
    def conv(t):
        if not isinstance(t, torch.Tensor):
            return t
        t = t.detach()
        if t.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
            t = t.float()
        return t.cpu().numpy()

    return map_structure(conv, x)


def concat_batches(batches):
    """Concatenate a list of output structures along the batch axis."""
    first = batches[0]
    leaves = [flatten(b) for b in batches]
    cat = [np.concatenate([lv[i] for lv in leaves], axis=0) for i in range(len(leaves[0]))]
    return pack_as(first, cat)
