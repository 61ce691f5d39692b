"""Label and array helpers: ``to_categorical`` and ``normalize`` (numpy in, numpy out; tensors stay tensors)."""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["to_categorical", "normalize"]


def to_categorical(x, num_classes=None, dtype=None):
    """One-hot encode integer class labels (Keras's ``to_categorical``).

    A trailing axis of size 1 is dropped first, so labels of shape ``(N, 1)`` give ``(N, C)``.

    Args:
        x: integer labels (array-like or torch tensor) of any shape, values in ``[0, num_classes)``.
        num_classes: ``C``; default ``max(x) + 1``.
        dtype: output dtype (Keras 2's argument). Default: float64 for numpy input (Keras 3), the
            default float dtype for a torch tensor.

    Returns:
        ``x.shape (+ C)``: a numpy array, or a torch tensor when ``x`` is one.

    >>> to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes <= 0
    ):
        raise ValueError(f"num_classes must be a positive int or None, received {num_classes!r}")
    if isinstance(x, torch.Tensor):
        labels = x
        if labels.dim() > 1 and labels.shape[-1] == 1:
            labels = labels.reshape(labels.shape[:-1])
        labels = labels.long()
        n = int(num_classes) if num_classes is not None else int(labels.max()) + 1 if labels.numel() else 0
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n):
            raise ValueError(f"to_categorical: labels must be in [0, {n}), received values in "
                             f"[{int(labels.min())}, {int(labels.max())}]")
        out_dtype = torch.get_default_dtype() if dtype is None else getattr(torch, str(np.dtype(dtype)))
        return torch.nn.functional.one_hot(labels, n).to(out_dtype)
    try:
        labels = np.array(x, dtype="int64")
    except (TypeError, ValueError) as e:
        raise ValueError(f"to_categorical expects integer class labels, received {x!r:.100}") from e
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    n = int(num_classes) if num_classes is not None else (int(flat.max()) + 1 if flat.size else 0)
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        raise ValueError(
            f"to_categorical: labels must be in [0, {n}), received values in [{flat.min()}, {flat.max()}]"
        )
    out = np.zeros((flat.size, n), dtype="float64" if dtype is None else dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(tuple(shape) + (n,))


def normalize(x, axis=-1, order=2):
    """Divide ``x`` by its ``order``-norm along ``axis`` (Keras's ``normalize``).

    Args:
        x: numpy array or torch tensor.
        axis: the axis of the norm (default -1).
        order: the norm's order (2 for Euclidean).

    Returns:
        The normalised copy: numpy for numpy input (zero norms divide by 1), a torch tensor for a
        tensor (norms floored at ``1e-7``, as Keras's backend path).

    >>> normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    """
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, received {order!r}")
    if isinstance(x, torch.Tensor):
        t = x if x.is_floating_point() else x.to(torch.get_default_dtype())
        if t.dim() == 0:
            t = t.reshape(1)
        norm = torch.linalg.vector_norm(t, ord=order, dim=axis, keepdim=True)
        return t / torch.clamp(norm, min=1e-7)
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis if axis is not None else -1)
