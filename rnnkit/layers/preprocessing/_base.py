"""What the text preprocessing layers share: string inputs, symbolic calls and adapt() data.

Torch has no string tensors, so these layers take Python strings, (nested) lists and numpy
``str`` / ``bytes`` / object arrays, and return torch tensors. Calling one on a symbolic
``Input`` records a graph node whose output shape comes from ``compute_output_shape`` (a string
input cannot be stood in for by a dummy tensor).
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.layers.layer import Layer

__all__ = ["PreprocessingLayer", "to_string_array", "iterate_adapt_batches"]


def _decode(v, encoding):
    if isinstance(v, bytes | np.bytes_):
        return bytes(v).decode(encoding)
    if isinstance(v, str):
        return str(v)
    raise TypeError(f"expected strings, received an element of type {type(v).__name__}: {v!r:.60}")


def to_string_array(x, encoding="utf-8", what="inputs") -> np.ndarray:
    """``x`` (str, bytes, nested lists, numpy array) as a numpy object array of Python ``str``."""
    if isinstance(x, torch.Tensor):
        raise TypeError(
            f"{what}: expected strings (a str, a list of str or a numpy string array), received a torch "
            f"tensor of dtype {x.dtype}; torch has no string tensors"
        )
    if isinstance(x, np.ndarray) and x.dtype.kind in ("U", "S", "O"):
        arr = x
    elif isinstance(x, str | bytes):
        arr = np.array(x, dtype=object)
    else:
        try:
            arr = np.array(x, dtype=object)
        except ValueError as e:
            raise ValueError(f"{what}: nested lists of strings must be rectangular ({e})") from None
        if arr.dtype == object and arr.ndim and any(isinstance(v, list | tuple) for v in arr.flat):
            raise ValueError(f"{what}: nested lists of strings must be rectangular, received {x!r:.100}")
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in ("U", "S", "O"):
        raise TypeError(f"{what}: expected strings, received {type(x).__name__} of dtype {getattr(arr, 'dtype', '?')}")
    out = np.empty(arr.shape, dtype=object)
    try:
        flat = [_decode(v, encoding) for v in arr.reshape(-1)]
    except TypeError as e:
        raise TypeError(f"{what}: {e}") from None
    out.reshape(-1)[:] = flat if flat else []
    return out


def _is_xy_pair(batch) -> bool:
    return (
        isinstance(batch, tuple | list)
        and len(batch) in (2, 3)
        and all(isinstance(b, np.ndarray | torch.Tensor | list) or b is None for b in batch)
        and isinstance(batch[0], np.ndarray | torch.Tensor)
    )


def iterate_adapt_batches(data, steps=None):
    """``(is_single_array, batches)`` for ``adapt(data)``, as Keras reads its ``data``.

    Lists, tuples, arrays and tensors are one array of samples; any other iterable (a generator,
    a ``BatchedData``, a DataLoader, a ``PyDataset``) yields batches, of which ``(x, y[, w])``
    pairs contribute ``x``. ``steps`` caps the number of batches.
    """
    if isinstance(data, list | tuple | np.ndarray | torch.Tensor | str | bytes):
        if steps is not None:
            raise ValueError("adapt(steps=...) is only supported for datasets and iterables of batches, not arrays")
        return True, [data]
    from rnnkit.utils.py_dataset import PyDataset

    if isinstance(data, PyDataset):
        source = (data[i] for i in range(len(data)))
    elif hasattr(data, "__iter__"):
        source = iter(data)
    else:
        raise TypeError(
            f"adapt() expects a list, a numpy array, a tensor or an iterable of batches, received {type(data).__name__}"
        )

    def gen():
        for i, batch in enumerate(source):
            if steps is not None and i >= steps:
                return
            yield batch[0] if _is_xy_pair(batch) else batch

    return False, gen()


class PreprocessingLayer(Layer):
    """A weightless layer that takes strings / numpy data and returns torch tensors."""

    def __call__(self, *args, **kwargs):
        from rnnkit.layers import symbolic

        if not args:
            if "inputs" not in kwargs:
                raise TypeError(f"{self.name}: expected the inputs as the first argument")
            args = (kwargs.pop("inputs"),)
        if symbolic.any_symbolic(args, {}):
            return self._symbolic_call(args[0])
        self.built = True
        return self.call(args[0])

    def _symbolic_call(self, x):
        from rnnkit.layers.layer import unique_name
        from rnnkit.layers.symbolic import KerasTensor, Node

        if not isinstance(x, KerasTensor):
            raise TypeError(f"{self.name} expects one input tensor, received {type(x).__name__}")
        self.built = True
        shape = self.compute_output_shape(tuple(x.shape))
        out = KerasTensor(shape, self._output_dtype(), name=unique_name(f"{self.name}/out"), index=0)
        node = Node(self, (x,), {}, out)
        out.node = node
        return out

    def _output_dtype(self) -> str:
        return "int64"

    def build(self, input_shape=None):
        self.built = True
