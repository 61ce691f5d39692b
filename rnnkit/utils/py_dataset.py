"""``PyDataset`` / ``Sequence``: datasets written as Python classes that return whole batches."""

from __future__ import annotations

import itertools
import warnings

__all__ = ["PyDataset", "Sequence"]


class PyDataset:
    """Base class of batch-indexed datasets (Keras's ``PyDataset``, also spelled ``Sequence``).

    Subclasses implement ``__getitem__(index)`` returning one whole batch, ``x``, ``(x,)``,
    ``(x, y)`` or ``(x, y, sample_weight)`` (or a dict of inputs), and ``__len__`` (batches per
    epoch) or a ``num_batches`` property (``None`` for an endless dataset, then ``fit`` needs
    ``steps_per_epoch``). ``on_epoch_begin()`` / ``on_epoch_end()`` are called around every epoch
    of ``fit`` (and every ``evaluate`` / ``predict`` pass), e.g. to reshuffle.

    ``fit(dataset)`` takes such an object as ``x``; with ``shuffle=True`` (``fit``'s default) the
    batch order is shuffled each epoch, as Keras does. ``workers > 1`` fetches batches in that
    many threads, ahead of use (in order); ``use_multiprocessing=True`` also uses threads (rnnkit
    forks no processes).

    Args:
        workers: threads that prepare batches (default 1: none, batches are made on demand).
        use_multiprocessing: accepted for Keras compatibility; threads are used.
        max_queue_size: batches prepared ahead when ``workers > 1`` (default 10).

    >>> import numpy as np
    >>> class Halves(PyDataset):
    ...     def __init__(self, x, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.x = x
    ...     def __len__(self):
    ...         return 2
    ...     def __getitem__(self, i):
    ...         half = len(self.x) // 2
    ...         return self.x[i * half:(i + 1) * half], self.x[i * half:(i + 1) * half] * 2
    >>> ds = Halves(np.arange(4.0))
    >>> [y.tolist() for _, y in ds]
    [[0.0, 2.0], [4.0, 6.0]]
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _super_called(self):
        if not hasattr(self, "_workers"):
            warnings.warn(
                f"{type(self).__name__} should call super().__init__(**kwargs) in its constructor "
                "(kwargs may hold workers, use_multiprocessing, max_queue_size)",
                stacklevel=3,
            )
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10

    @property
    def workers(self):
        self._super_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._super_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._super_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    @property
    def num_batches(self):
        """Batches per epoch (``len(self)``), or ``None`` for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement __len__ or a num_batches property "
            "(returning None for an endless dataset)"
        )

    def __iter__(self):
        try:
            count = self.num_batches
        except NotImplementedError:
            count = None
        indices = itertools.count() if count is None else range(count)
        for index in indices:
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


Sequence = PyDataset
