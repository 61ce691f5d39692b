"""Sliding windows over a time series: ``timeseries_dataset_from_array`` and Keras 2's ``TimeseriesGenerator``."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from rnnkit.utils.batched import BatchedData, as_index_array
from rnnkit.utils.py_dataset import PyDataset

__all__ = ["timeseries_dataset_from_array", "TimeseriesDataset", "TimeseriesGenerator"]


def _check_int(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an int, received {name}={value!r}")
    return int(value)


class TimeseriesDataset(BatchedData):
    """Batches of windows over ``data`` (and the matching ``targets``); see :func:`timeseries_dataset_from_array`."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size, shuffle, seed):
        super().__init__()
        self.data, self.targets, self.starts = data, targets, starts
        self.sequence_length, self.sampling_rate = sequence_length, sampling_rate
        self.batch_size, self.shuffle = batch_size, shuffle
        self._rng = np.random.RandomState(seed) if shuffle else None
        self._offsets = np.arange(sequence_length) * sampling_rate  # (T,)

    def __len__(self):
        n = len(self.starts)
        return n if self.batch_size is None else math.ceil(n / self.batch_size)

    def _windows(self, starts):
        idx = starts[:, None] + self._offsets[None, :]  # (B, T) indices into data
        x = torch.from_numpy(np.ascontiguousarray(self.data[idx]))
        if self.targets is None:
            return x
        return x, torch.from_numpy(np.ascontiguousarray(self.targets[starts]))

    def _batches(self):
        starts = self.starts
        if self.shuffle:
            starts = self._rng.permutation(starts)  # a new order on every pass, as tf.data reshuffles
        if self.batch_size is None:
            for s in starts:
                out = self._windows(np.array([s]))
                yield tuple(t[0] for t in out) if isinstance(out, tuple) else out[0]
            return
        for i in range(0, len(starts), self.batch_size):
            yield self._windows(starts[i : i + self.batch_size])


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
):
    """Batches of sliding windows over a time series (Keras's function of the same name).

    Window ``k`` starts at ``start_index + k * sequence_stride`` and takes ``sequence_length`` steps
    ``sampling_rate`` apart: ``data[s], data[s + r], ..., data[s + (sequence_length - 1) * r]``.
    Only windows that end before ``end_index`` are made; ``targets[i]`` (counted from ``start_index``)
    is the target of the window that starts at ``i``.

    Args:
        data: array or tensor of consecutive steps, time on axis 0: ``(N, ...)``.
        targets: array of the same length as ``data`` (or shorter), or ``None`` for inputs only.
        sequence_length: steps per window.
        sequence_stride: steps between the starts of two consecutive windows (default 1).
        sampling_rate: steps between two steps of a window (default 1).
        batch_size: windows per batch (default 128; the last batch may be smaller). ``None``
            yields single windows without a batch axis.
        shuffle: draw the windows in a random order (a new order on every pass).
        seed: int seed of that order (passes repeat from run to run with the same seed).
        start_index, end_index: only ``data[start_index:end_index]`` is used.

    Returns:
        A :class:`TimeseriesDataset` (a ``torch.utils.data.IterableDataset`` with ``len``,
        ``take(n)`` and ``as_numpy_iterator()``) yielding torch tensors ``(windows, targets)`` with
        ``windows`` of shape ``(batch, sequence_length, ...)``, or ``windows`` alone when
        ``targets`` is ``None``; ``fit`` / ``evaluate`` / ``predict`` take it as ``x``.

    The first window order under ``shuffle=True`` is not Keras's (that one comes from tf.data's
    shuffle buffer); which windows exist, their contents and their targets are.

    tf.data idiom -> rnnkit: ``for batch in dataset.take(1): inputs, targets = batch`` works as is;
    ``inputs, targets = next(iter(dataset))`` is the plain-Python spelling.

    >>> import numpy as np
    >>> ds = timeseries_dataset_from_array(np.arange(10), np.arange(10) * 2, sequence_length=3,
    ...                                    sequence_stride=2, batch_size=2)
    >>> len(ds)
    2
    >>> for inputs, targets in ds.take(1):
    ...     print(inputs.tolist(), targets.tolist())
    [[0, 1, 2], [2, 3, 4]] [0, 4]
    """
    n = len(data)
    sequence_length = _check_int("sequence_length", sequence_length)
    sequence_stride = _check_int("sequence_stride", sequence_stride)
    sampling_rate = _check_int("sampling_rate", sampling_rate)
    start_index = _check_int("start_index", start_index, allow_none=True)
    end_index = _check_int("end_index", end_index, allow_none=True)
    if batch_size is not None:
        batch_size = _check_int("batch_size", batch_size)
        if batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive int or None, received batch_size={batch_size}")
    if sequence_length <= 0:
        raise ValueError(f"`sequence_length` must be higher than 0, received sequence_length={sequence_length}")
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= n:
            raise ValueError(
                f"`start_index` must be lower than the length of the data. Received: "
                f"start_index={start_index}, for data of length {n}"
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                f"`end_index` must be higher than `start_index`. Received: start_index={start_index}, "
                f"and end_index={end_index}"
            )
        if end_index >= n:
            raise ValueError(
                f"`end_index` must be lower than the length of the data. Received: "
                f"end_index={end_index}, for data of length {n}"
            )
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    if sampling_rate <= 0:
        raise ValueError(f"`sampling_rate` must be higher than 0. Received: sampling_rate={sampling_rate}")
    if sampling_rate >= n:
        raise ValueError(
            f"`sampling_rate` must be lower than the length of the data. Received: "
            f"sampling_rate={sampling_rate}, for data of length {n}"
        )
    if sequence_stride <= 0:
        raise ValueError(f"`sequence_stride` must be higher than 0. Received: sequence_stride={sequence_stride}")
    if sequence_stride >= n:
        raise ValueError(
            f"`sequence_stride` must be lower than the length of the data. Received: "
            f"sequence_stride={sequence_stride}, for data of length {n}"
        )
    if end_index is not None and end_index < 0:
        raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    start = start_index or 0
    end = n if end_index is None else end_index
    arr = as_index_array(data)[start:end]
    tgt = None
    num = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        tgt = as_index_array(targets)[start:end]
        num = min(num, len(as_index_array(targets)))
    starts = np.arange(0, max(num, 0), sequence_stride, dtype=np.int64)
    if shuffle and seed is None:
        seed = int(np.random.randint(1_000_000))
    return TimeseriesDataset(arr, tgt, starts, sequence_length, sampling_rate, batch_size, bool(shuffle), seed)


class TimeseriesGenerator(PyDataset):
    """Keras 2's ``TimeseriesGenerator``: a :class:`~rnnkit.utils.Sequence` of window batches.

    Sample ``j`` of batch ``i`` ends just before row ``start_index + length + (i * batch_size + j)
    * stride``, takes ``data[row - length:row:sampling_rate]`` and has target ``targets[row]``.

    Args:
        data: array of consecutive steps, time on axis 0.
        targets: array of the same length as ``data``.
        length: steps of history per sample (before sampling).
        sampling_rate: keep every ``sampling_rate``-th step of the history (default 1).
        stride: steps between two consecutive samples (default 1).
        start_index, end_index: rows before ``start_index`` are only used as history, rows after
            ``end_index`` (default ``len(data) - 1``) are not used.
        shuffle: draw random rows for each batch instead of consecutive ones (numpy's global RNG).
        reverse: reverse the steps of each sample.
        batch_size: samples per batch (default 128).

    ``len(gen)`` batches; ``gen[i]`` is ``(samples (B, length // sampling_rate, ...), targets)``
    as numpy arrays. ``fit(gen)`` takes it as Keras 2's ``fit_generator`` did.

    >>> import numpy as np
    >>> gen = TimeseriesGenerator(np.arange(10), np.arange(10), length=3, batch_size=2)
    >>> len(gen)
    4
    >>> x, y = gen[0]
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [1, 2, 3]], [3, 4])
    """

    def __init__(
        self,
        data,
        targets,
        length,
        sampling_rate=1,
        stride=1,
        start_index=0,
        end_index=None,
        shuffle=False,
        reverse=False,
        batch_size=128,
    ):
        super().__init__()
        if len(data) != len(targets):
            raise ValueError(
                "Data and targets have to be of same length. "
                f"Data length is {len(data)} while target length is {len(targets)}"
            )
        for name, value in (("length", length), ("sampling_rate", sampling_rate), ("stride", stride),
                            ("batch_size", batch_size)):
            if _check_int(name, value) <= 0:
                raise ValueError(f"`{name}` must be a positive int, received {name}={value}")
        self.data, self.targets = data, targets
        self.length, self.sampling_rate, self.stride = int(length), int(sampling_rate), int(stride)
        self.start_index = _check_int("start_index", start_index) + self.length
        if end_index is None:
            end_index = len(data) - 1
        self.end_index = _check_int("end_index", end_index)
        self.shuffle, self.reverse, self.batch_size = shuffle, reverse, int(batch_size)
        if self.start_index > self.end_index:
            raise ValueError(
                f"`start_index+length={self.start_index} > end_index={self.end_index}` is disallowed, "
                "as no part of the sequence would be left to be used as current step."
            )

    def __len__(self):
        span = self.batch_size * self.stride
        return (self.end_index - self.start_index + span) // span

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"TimeseriesGenerator index {index} is out of range [0, {len(self)})")
        if self.shuffle:
            rows = np.random.randint(self.start_index, self.end_index + 1, size=self.batch_size)
        else:
            i = self.start_index + self.batch_size * self.stride * index
            rows = np.arange(i, min(i + self.batch_size * self.stride, self.end_index + 1), self.stride)
        samples = np.array([self.data[row - self.length : row : self.sampling_rate] for row in rows])
        targets = np.array([self.targets[row] for row in rows])
        if self.reverse:
            return samples[:, ::-1, ...], targets
        return samples, targets

    def get_config(self):
        """The generator's arguments (data and targets as lists), as Keras 2's ``get_config``."""
        data, targets = np.asarray(self.data), np.asarray(self.targets)
        return {
            "data": data.tolist(),
            "targets": targets.tolist(),
            "length": self.length,
            "sampling_rate": self.sampling_rate,
            "stride": self.stride,
            "start_index": self.start_index - self.length,
            "end_index": self.end_index,
            "shuffle": self.shuffle,
            "reverse": self.reverse,
            "batch_size": self.batch_size,
        }
