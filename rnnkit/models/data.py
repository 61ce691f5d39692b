"""Turning what users pass to ``fit`` / ``evaluate`` / ``predict`` into batches of tensors.

Accepted: numpy arrays or torch tensors (also lists / tuples / dicts of them for several inputs
or outputs), a ``torch.utils.data.Dataset`` or ``DataLoader``, a Keras-style ``Sequence`` /
``PyDataset`` (:class:`SequenceBatches`), or any iterable of ``(x, y[, sample_weight])`` batches.
Numpy arrays of strings stay numpy arrays (torch has no string tensors): a ``TextVectorization``
or ``StringLookup`` first layer turns them into tensors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from rnnkit.layers.layer import flatten, map_structure, pack_as

__all__ = [
    "is_array_like",
    "is_string_array",
    "is_xy_tuple",
    "to_tensors",
    "num_samples",
    "ArrayBatches",
    "IterableBatches",
    "SequenceBatches",
    "is_sequence",
    "unpack",
]


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


def is_string_array(v) -> bool:
    """A numpy array of text (``str`` / ``bytes`` dtype, or objects that are all strings)."""
    if not isinstance(v, np.ndarray):
        return False
    if v.dtype.kind in ("U", "S"):
        return True
    return v.dtype == object and v.size > 0 and all(isinstance(e, str | bytes) for e in v.flat)


def is_xy_tuple(data) -> bool:
    """``(x, y[, sample_weight])`` arrays, as opposed to a list of batch tuples."""
    if not isinstance(data, tuple | list) or len(data) not in (2, 3) or not is_array_like(data[0]):
        return False
    return not (isinstance(data, list) and all(isinstance(b, tuple) for b in data))


def to_tensors(x):
    """numpy leaves -> torch tensors (no copy when possible); string arrays stay numpy."""

    def conv(v):
        if isinstance(v, np.ndarray):
            if is_string_array(v):
                return v
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

            np_idx = idx.numpy() if isinstance(idx, torch.Tensor) else idx

            def take(v, idx=idx, np_idx=np_idx):
                return v[np_idx] if isinstance(v, np.ndarray) else v[idx]

            yield (
                map_structure(take, self.x),
                None if self.y is None else map_structure(take, self.y),
                None if self.sw is None else map_structure(take, self.sw),
            )


def is_sequence(x) -> bool:
    """A Keras-style ``Sequence`` / ``PyDataset``: batches by index, with ``on_epoch_end``."""
    from rnnkit.utils.py_dataset import PyDataset

    if isinstance(x, PyDataset):
        return True
    if isinstance(x, list | tuple | dict | np.ndarray | torch.Tensor | torch.utils.data.Dataset):
        return False
    return all(hasattr(x, a) for a in ("__getitem__", "__len__", "on_epoch_end"))


class SequenceBatches:
    """Epochs over a ``Sequence`` / ``PyDataset``, with Keras's calls and batch standardisation.

    One pass (``iter``) calls ``on_epoch_begin()``, yields ``(x, y, sample_weight)`` for every
    batch index (shuffled with Python's ``random`` when ``shuffle``; endless when ``num_batches``
    is ``None``), then calls ``on_epoch_end()``. ``class_weight`` adds per-sample weights.
    ``workers > 1`` on the dataset prepares batches in that many threads, in order.
    """

    def __init__(self, data, shuffle=False, class_weight=None):
        self.data, self.shuffle, self.class_weight = data, bool(shuffle), class_weight

    def _num_batches(self):
        n = getattr(self.data, "num_batches", None) if hasattr(type(self.data), "num_batches") else len(self.data)
        return None if n is None else int(n)

    def __len__(self):
        n = self._num_batches()
        if n is None:
            raise TypeError("an endless PyDataset (num_batches=None) has no length")
        return n

    def on_epoch_begin(self):
        if hasattr(self.data, "on_epoch_begin"):
            self.data.on_epoch_begin()

    def on_epoch_end(self):
        if hasattr(self.data, "on_epoch_end"):
            self.data.on_epoch_end()

    def _standardize(self, batch):
        if isinstance(batch, dict):
            return to_tensors(batch)  # a dict batch is the inputs, as in Keras
        if isinstance(batch, np.ndarray | torch.Tensor):
            batch = (batch,)
        if isinstance(batch, list):
            batch = tuple(batch)
        if not isinstance(batch, tuple) or len(batch) not in (1, 2, 3):
            raise ValueError(
                "PyDataset.__getitem__() must return a tuple or a dict. If a tuple, it must be ordered either "
                f"(input,) or (inputs, targets) or (inputs, targets, sample_weights). Received: "
                f"{str(batch)[:100]}... of type {type(batch)}"
            )
        batch = tuple(to_tensors(v) for v in batch)
        if self.class_weight is not None:
            if len(batch) == 3:
                raise ValueError("You cannot specify `class_weight` and `sample_weight` at the same time.")
            if len(batch) == 2:
                batch = batch + (class_weights_to_sample_weights(batch[1], self.class_weight),)
        return batch

    def _indices(self):
        import itertools
        import random

        n = self._num_batches()
        if n is None:
            return itertools.count()
        order = list(range(n))
        if self.shuffle:
            random.shuffle(order)
        return order

    def batches(self):
        """The standardised batch tuples of one pass (no epoch callbacks)."""
        workers = int(getattr(self.data, "workers", 1) or 1)
        indices = self._indices()
        if workers <= 1:
            for i in indices:
                yield self._standardize(self.data[i])
            return
        yield from self._threaded(indices, workers)

    def _threaded(self, indices, workers):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        ahead = max(int(getattr(self.data, "max_queue_size", 10) or 1), workers)
        it = iter(indices)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending = deque()
            try:
                for _ in range(ahead):
                    pending.append(pool.submit(self.data.__getitem__, next(it)))
            except StopIteration:
                pass
            while pending:
                batch = pending.popleft().result()  # re-raises the dataset's own exception
                try:
                    pending.append(pool.submit(self.data.__getitem__, next(it)))
                except StopIteration:
                    pass
                yield self._standardize(batch)
            for f in pending:
                f.cancel()

    def __iter__(self):
        self.on_epoch_begin()
        for batch in self.batches():
            yield unpack(batch)
        self.on_epoch_end()


class IterableBatches:
    """A DataLoader, Dataset or any re-iterable of batches; ``steps`` caps an epoch."""

    def __init__(self, data, steps=None, batch_size=None):
        if is_sequence(data):
            data = SequenceBatches(data)
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
                yield batch if isinstance(self.data, ArrayBatches | SequenceBatches) else unpack_tensors(batch)
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
            yield batch if isinstance(self.data, ArrayBatches | SequenceBatches) else unpack_tensors(batch)


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
