"""``keras.ops.numpy``'s array manipulation: reshaping, joining, splitting, padding, indexing."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit.ops._base import _PUBLIC, _axes, _common, _op, _t

_START = len(_PUBLIC)


# --------------------------------------------------------------------------- shapes
@_op
def reshape(x, newshape):
    shp = (int(newshape),) if isinstance(newshape, int) else tuple(-1 if s is None else int(s) for s in newshape)
    return _t(x).reshape(shp)


@_op
def transpose(x, axes=None):
    t = _t(x)
    return t.permute(*(range(t.ndim - 1, -1, -1) if axes is None else axes))


@_op
def expand_dims(x, axis):
    t = _t(x)
    axes = _axes(axis, None)
    out_ndim = t.ndim + len(axes)
    for a in sorted(a % out_ndim for a in axes):
        t = t.unsqueeze(a)
    return t


@_op
def squeeze(x, axis=None):
    t = _t(x)
    if axis is None:
        return t.squeeze()
    for a in sorted((a % t.ndim for a in _axes(axis, t.ndim)), reverse=True):
        if t.shape[a] != 1:
            raise ValueError(f"rnnkit.ops.squeeze: axis {a} has size {t.shape[a]}, expected 1 (shape {tuple(t.shape)})")
        t = t.squeeze(a)
    return t


@_op
def concatenate(xs, axis=0):
    return torch.cat(_common(xs), dim=int(axis))


@_op
def stack(x, axis=0):
    return torch.stack(_common(x), dim=int(axis))


@_op
def split(x, indices_or_sections, axis=0):
    """NumPy's ``split``: ``n`` equal parts (``n`` must divide the axis) or parts at the given indices."""
    t = _t(x)
    axis = int(axis)
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        size = t.shape[axis]
        if n <= 0 or size % n:
            raise ValueError(f"rnnkit.ops.split: {n} equal parts of an axis of size {size} are not "
                             f"possible (give indices for unequal parts)")
        return list(torch.tensor_split(t, n, dim=axis))
    return list(torch.tensor_split(t, [int(i) for i in indices_or_sections], dim=axis))


@_op
def tile(x, repeats):
    t = _t(x)
    reps = (int(repeats),) if isinstance(repeats, int) else tuple(int(r) for r in repeats)
    return t.tile(reps)


@_op
def repeat(x, repeats, axis=None):
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    r = repeats if isinstance(repeats, int) else _t(repeats).to(torch.int64)
    return torch.repeat_interleave(t, r, dim=int(axis))


@_op
def flip(x, axis=None):
    t = _t(x)
    return torch.flip(t, dims=tuple(range(t.ndim)) if axis is None else _axes(axis, t.ndim))


@_op
def swapaxes(x, axis1, axis2):
    return torch.swapaxes(_t(x), int(axis1), int(axis2))


@_op
def moveaxis(x, source, destination):
    return torch.movedim(_t(x), source, destination)


@_op
def ravel(x):
    return _t(x).reshape(-1)


@_op
def pad(x, pad_width, mode="constant", constant_values=None):
    """NumPy's ``pad``: ``pad_width`` per axis ``(before, after)`` (``"constant"``, ``"reflect"``,
    ``"symmetric"`` as NumPy's modes)."""
    t = _t(x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                         np.full((1, 2), int(pad_width)), (t.ndim, 2))
    if mode == "constant":
        flat = [int(v) for pair in pw[::-1] for v in pair]
        return F.pad(t, flat, value=0 if constant_values is None else constant_values)
    if mode not in ("reflect", "symmetric"):
        raise ValueError(f"rnnkit.ops.pad: mode must be 'constant', 'reflect' or 'symmetric', received {mode!r}")
    if constant_values is not None:
        raise ValueError("rnnkit.ops.pad: constant_values is only for mode='constant'")
    out = t
    for axis, (before, after) in enumerate(pw):
        parts = []
        n = out.shape[axis]
        shift = 1 if mode == "reflect" else 0
        if before:
            parts.append(out.narrow(axis, shift, int(before)).flip(axis))
        parts.append(out)
        if after:
            parts.append(out.narrow(axis, n - int(after) - shift, int(after)).flip(axis))
        out = torch.cat(parts, dim=axis)
    return out


@_op
def take(x, indices, axis=None):
    t = _t(x)
    idx = _t(indices).to(torch.int64)
    if axis is None:
        t, axis = t.reshape(-1), 0
    axis = int(axis) % t.ndim
    n = t.shape[axis]
    idx = torch.where(idx < 0, idx + n, idx)
    flat = t.index_select(axis, idx.reshape(-1))
    return flat.reshape(*t.shape[:axis], *idx.shape, *t.shape[axis + 1:])


@_op
def take_along_axis(x, indices, axis=None):
    t = _t(x)
    idx = _t(indices).to(torch.int64)
    if axis is None:
        t, axis = t.reshape(-1), 0
    n = t.shape[int(axis)]
    idx = torch.where(idx < 0, idx + n, idx)
    return torch.take_along_dim(t, idx, dim=int(axis))


__all__ = _PUBLIC[_START:]
