"""``keras.ops.nn``'s functions: activations, one-hot encodings, moments."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.ops._base import _PUBLIC, _axes, _dtype, _float, _op, _t
from rnnkit.ops.numpy import _unary

_START = len(_PUBLIC)


# --------------------------------------------------------------------------- nn
relu = _unary("relu", torch.relu)
relu6 = _unary("relu6", F.relu6)
silu = _unary("silu", F.silu)
swish = _unary("swish", F.silu)
softsign = _unary("softsign", F.softsign)
log_sigmoid = _unary("log_sigmoid", F.logsigmoid)
selu = _unary("selu", F.selu)
hard_sigmoid = _unary("hard_sigmoid", lambda t: F.relu6(t + 3.0) / 6.0)
softplus = _unary("softplus", F.softplus)
hard_tanh = _unary("hard_tanh", F.hardtanh)


@_op
def gelu(x, approximate=True):
    """GELU; ``approximate=True`` (Keras's default) is the tanh form."""
    return F.gelu(_float(_t(x)), approximate="tanh" if approximate else "none")


@_op
def elu(x, alpha=1.0):
    return F.elu(_float(_t(x)), alpha=alpha)


@_op
def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(_float(_t(x)), negative_slope=negative_slope)


@_op
def softmax(x, axis=-1):
    t = _float(_t(x))
    if isinstance(axis, list | tuple):
        axes = tuple(a % t.ndim for a in axis)
        return torch.exp(t - torch.logsumexp(t, dim=axes, keepdim=True))
    return torch.softmax(t, dim=int(axis))


@_op
def log_softmax(x, axis=-1):
    return torch.log_softmax(_float(_t(x)), dim=int(axis))


@_op
def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot rows (floatx by default); a negative index gives a row of zeros, as in Keras."""
    idx = _t(x).to(torch.int64)
    n = int(num_classes)
    if idx.numel() and int(idx.max()) >= n:
        raise ValueError(f"rnnkit.ops.one_hot: indices must be below num_classes={n}, received {int(idx.max())}")
    out = F.one_hot(idx.clamp(min=0), n) * (idx >= 0).unsqueeze(-1)
    out = out.to(_dtype(dtype))
    if axis != -1:
        out = torch.movedim(out, -1, int(axis))
    return out


@_op
def multi_hot(inputs, num_classes, axis=-1, dtype=None):
    """Multi-hot rows of the last axis' indices (floatx by default)."""
    return one_hot(inputs, num_classes, axis=-1, dtype=dtype).amax(dim=-2) if axis == -1 else \
        torch.movedim(one_hot(inputs, num_classes, dtype=dtype).amax(dim=-2), -1, int(axis))


@_op
def moments(x, axes, keepdims=False):
    """``(mean, variance)`` over ``axes``."""
    t = _float(_t(x))
    a = _axes(axes, t.ndim)
    return torch.mean(t, dim=a, keepdim=keepdims), torch.var(t, dim=a, keepdim=keepdims, correction=0)


def _probabilities(output, from_logits, axis):
    t = _float(_t(output))
    if from_logits:
        return torch.log_softmax(t, dim=axis)
    t = t / t.sum(dim=axis, keepdim=True)
    eps = 1e-7  # Keras's backend epsilon: probabilities clipped to [eps, 1 - eps]
    return torch.log(t.clamp(eps, 1.0 - eps))


@_op
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(target * log(output))`` along ``axis`` (probabilities renormalised and clipped
    to ``[1e-7, 1 - 1e-7]`` as in Keras, or logits)."""
    logp = _probabilities(output, from_logits, int(axis))
    return -(_t(target).to(logp.dtype) * logp).sum(dim=int(axis))


@_op
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """As :func:`categorical_crossentropy` with integer class indices as the target."""
    logp = _probabilities(output, from_logits, int(axis))
    idx = _t(target).to(torch.int64)
    return -torch.gather(torch.movedim(logp, int(axis), -1), -1, idx.unsqueeze(-1)).squeeze(-1)


@_op
def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary cross-entropy (probabilities clipped to ``[1e-7, 1 - 1e-7]``, or logits)."""
    t, o = _t(target), _float(_t(output))
    t = t.to(o.dtype)
    if from_logits:
        return F.binary_cross_entropy_with_logits(o, t, reduction="none")
    o = o.clamp(1e-7, 1.0 - 1e-7)
    return -(t * torch.log(o) + (1.0 - t) * torch.log(1.0 - o))


__all__ = _PUBLIC[_START:]
