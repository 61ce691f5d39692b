"""The small dataset protocol rnnkit's data utilities share: iterate, ``len``, ``take``, numpy views.

Keras's data utilities return a ``tf.data.Dataset``; rnnkit's return a
:class:`BatchedData`, a ``torch.utils.data.IterableDataset`` that yields ready batches
(torch tensors, and numpy arrays of ``str`` for text). ``fit`` / ``evaluate`` / ``predict``
accept it directly, and so does ``torch.utils.data.DataLoader(ds, batch_size=None)``.

The tf.data idioms of Keras tutorials map to it as follows:

=====================================================  =============================================
tf.data (Keras)                                        rnnkit
=====================================================  =============================================
``for batch in ds.take(1): inputs, targets = batch``   the same (``take`` exists), or
                                                       ``inputs, targets = next(iter(ds))``
``ds.as_numpy_iterator()``                             the same (numpy leaves, ``str`` arrays stay)
``ds.cardinality()`` / ``len(list(ds))``               ``len(ds)`` (batches per pass)
``inputs.numpy()``                                     ``inputs.numpy()`` (a torch tensor)
``ds.map(fn)`` / ``ds.prefetch(...)``                  write ``fn`` into the loop (``(fn(x), y) for x,
                                                       y in ds``); prefetch is not needed
``ds.unbatch()`` / ``ds.repeat()``                     iterate again: every pass restarts (and
                                                       reshuffles when ``shuffle=True``)
=====================================================  =============================================

>>> import torch
>>> class Squares(BatchedData):
...     def __len__(self):
...         return 2
...     def _batches(self):
...         yield torch.tensor([0, 1]), torch.tensor([0, 1])
...         yield torch.tensor([2]), torch.tensor([4])
>>> ds = Squares()
>>> for inputs, targets in ds.take(1):
...     print(inputs.tolist(), targets.tolist())
[0, 1] [0, 1]
>>> [y.tolist() for _, y in ds.as_numpy_iterator()]
[[0, 1], [4]]
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["BatchedData"]


def _to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, tuple):
        return tuple(_to_numpy(v) for v in x)
    if isinstance(x, list):
        return [_to_numpy(v) for v in x]
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    return x


class BatchedData(torch.utils.data.IterableDataset):
    """Base of rnnkit's batch iterables: subclasses implement ``_batches()`` and ``__len__``.

    Every ``iter()`` starts a fresh pass over the data.
    """

    def _batches(self):
        raise NotImplementedError

    def __iter__(self):
        return iter(self._batches())

    def take(self, count):
        """The first ``count`` batches of a fresh pass (tf.data's ``take``), as a :class:`BatchedData`.

        ``count=-1`` means every batch, as in tf.data.
        """
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < -1:
            raise ValueError(f"take() expects an int >= -1, received {count!r}")
        return _Take(self, int(count))

    def as_numpy_iterator(self):
        """Iterate over the batches with numpy arrays in place of torch tensors."""
        for batch in self:
            yield _to_numpy(batch)


class _Take(BatchedData):
    def __init__(self, source, count):
        super().__init__()
        self.source, self.count = source, count

    def __len__(self):
        n = len(self.source)
        return n if self.count < 0 else min(n, self.count)

    def _batches(self):
        for i, batch in enumerate(self.source):
            if 0 <= self.count <= i:
                return
            yield batch

    def __getattr__(self, name):  # class_names and friends of the source
        if name in ("source", "count"):
            raise AttributeError(name)
        return getattr(self.source, name)


def as_index_array(x):
    """``np.asarray`` for arrays, tensors and lists (tensors go through numpy, no copy on CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
