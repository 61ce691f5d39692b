"""Losses on torch tensors with Keras 3's names, formulas and reductions.

Loss *functions* (``mean_squared_error``, ``binary_crossentropy``, ...) return one value per
sample: they reduce the last axis (the class / feature axis) like Keras, so ``(B, T, C)``
inputs give ``(B, T)`` losses. Loss *classes* (``MeanSquaredError``, ...) call a function, then
weight the values by ``sample_weight`` (and an optional boolean ``mask``) and reduce them to one
scalar as set by ``reduction``. Probabilities are clipped to ``[1e-7, 1 - 1e-7]``, as Keras does;
``from_logits=True`` uses torch's numerically stable ``log_softmax`` / ``*_with_logits``.

:func:`get` follows ``keras.losses.get``: function names (``"mse"``) give the function, class
names give an instance. :func:`resolve_loss` is what ``compile`` needs: always a :class:`Loss`.

>>> import torch
>>> y_true, y_pred = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]])
>>> round(get("mse")(y_true, y_pred).item(), 4)
0.25
>>> round(get("MeanSquaredError")(y_true, y_pred).item(), 4)
0.25
"""

from __future__ import annotations

import math
import re
import warnings

import torch
import torch.nn.functional as F

from rnnkit import config as _config
from rnnkit.saving.object_registry import (
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    serialize_keras_object,
)

__all__ = [
    "EPSILON", "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh",
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "KLDivergence", "Poisson", "Hinge", "SquaredHinge",
    "CategoricalHinge", "CosineSimilarity", "mean_squared_error", "mse", "mean_absolute_error",
    "mae", "mean_absolute_percentage_error", "mape", "mean_squared_logarithmic_error", "msle",
    "huber", "log_cosh", "binary_crossentropy", "binary_focal_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "kld",
    "poisson", "hinge", "squared_hinge", "categorical_hinge", "cosine_similarity",
    "squeeze_or_expand_to_same_rank", "reduce_weighted_values", "is_binary_or_sparse_categorical",
    "get", "resolve_loss", "serialize", "deserialize",
]

EPSILON = 1e-7  # Keras's backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none")


# --------------------------------------------------------------------------- tensor helpers
def _to_tensor(x, dtype=None, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dtype, device=device)
    return torch.as_tensor(x, dtype=dtype, device=device)


def _float_pair(y_true, y_pred):
    """``y_pred`` as a float tensor (``floatx`` if it was not float); ``y_true`` cast to match."""
    y_pred = _to_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(_config.torch_dtype(None))
    return _to_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device), y_pred


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Make ranks equal when they differ by one and the longer tensor ends in a size-1 axis.

    A rank-1 partner is expanded (``(B,)`` -> ``(B, 1)``); otherwise the size-1 axis is squeezed.

    >>> a, b = squeeze_or_expand_to_same_rank(torch.zeros(4), torch.zeros(4, 1))
    >>> tuple(a.shape), tuple(b.shape)
    ((4, 1), (4, 1))
    """
    r1, r2 = x1.dim(), x2.dim()
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _matched(y_true, y_pred, fn_name: str):
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_float_pair(y_true, y_pred))
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn_name} expected y_true and y_pred of the same shape (a trailing axis of size 1 "
            f"may differ), received y_true.shape={tuple(y_true.shape)} and "
            f"y_pred.shape={tuple(y_pred.shape)}"
        )
    return y_true, y_pred


def _check_axis(axis):
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"axis must be an int, received axis={axis!r}")


# --------------------------------------------------------------------------- loss functions
def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _matched(y_true, y_pred, "mean_squared_error")
    return F.mse_loss(y_pred, y_true, reduction="none").mean(dim=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _matched(y_true, y_pred, "mean_absolute_error")
    return F.l1_loss(y_pred, y_true, reduction="none").mean(dim=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)), axis=-1)``."""
    y_true, y_pred = _matched(y_true, y_pred, "mean_absolute_percentage_error")
    diff = torch.abs((y_true - y_pred) / y_true.abs().clamp_min(EPSILON))
    return 100.0 * diff.mean(dim=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)``."""
    y_true, y_pred = _matched(y_true, y_pred, "mean_squared_logarithmic_error")
    return torch.square(
        torch.log1p(y_pred.clamp_min(EPSILON)) - torch.log1p(y_true.clamp_min(EPSILON))
    ).mean(dim=-1)


def huber(y_true, y_pred, delta=1.0):
    """Mean over the last axis of ``0.5 x^2`` (``|x| <= delta``) or ``delta (|x| - delta / 2)``."""
    y_true, y_pred = _matched(y_true, y_pred, "huber")
    return F.huber_loss(y_pred, y_true, reduction="none", delta=float(delta)).mean(dim=-1)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed stably."""
    y_true, y_pred = _matched(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Elementwise binary crossentropy, averaged over ``axis``.

    Without ``from_logits`` the probabilities are clipped to ``[eps, 1 - eps]`` first (Keras's
    torch backend); ``label_smoothing`` moves targets towards 0.5: ``y (1 - s) + s / 2``.
    """
    _check_axis(axis)
    y_true, y_pred = _matched(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        try:
            bce = F.binary_cross_entropy(
                y_pred.clamp(EPSILON, 1.0 - EPSILON), y_true, reduction="none"
            )
        except RuntimeError as e:
            if not ("between 0 and 1" in str(e) or "target" in str(e)):
                raise
            low, high = float(y_true.min()), float(y_true.max())
            raise ValueError(
                "binary_crossentropy expects labels (y_true) in [0, 1], received values from "
                f"{low:g} to {high:g} (for integer class ids use "
                "sparse_categorical_crossentropy)"
            ) from None
    return bce.mean(dim=axis)


def binary_focal_crossentropy(
    y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
    label_smoothing=0.0, axis=-1,
):
    """Binary crossentropy scaled by ``(1 - p_t) ** gamma`` (and ``alpha``), mean over ``axis``."""
    _check_axis(axis)
    y_true, y_pred = _matched(y_true, y_pred, "binary_focal_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    bce = F.binary_cross_entropy(y_pred.clamp(EPSILON, 1.0 - EPSILON), y_true, reduction="none")
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = torch.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return focal.mean(dim=axis)


def _log_probs(y_pred, from_logits, axis):
    if from_logits:
        return F.log_softmax(y_pred, dim=axis)
    y_pred = y_pred / y_pred.sum(dim=axis, keepdim=True)
    return torch.log(y_pred.clamp(EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y_true * log(p), axis)`` for one-hot (or soft) targets.

    Probabilities are renormalised to sum to one over ``axis`` and clipped; label smoothing
    gives ``y (1 - s) + s / num_classes``.
    """
    _check_axis(axis)
    y_true, y_pred = _matched(y_true, y_pred, "categorical_crossentropy")
    if y_pred.dim() == 0:
        raise ValueError("categorical_crossentropy expected y_pred with a class axis, got a scalar")
    if y_pred.shape[axis] == 1:
        warnings.warn(
            f"categorical_crossentropy expects num_classes > 1, received y_pred.shape="
            f"{tuple(y_pred.shape)}; consider binary_crossentropy for two classes.",
            stacklevel=2,
        )
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    return -(y_true * _log_probs(y_pred, from_logits, axis)).sum(dim=axis)


def _sparse_targets(y_true, y_pred, fn_name: str, axis: int = -1):
    """Integer targets shaped like ``y_pred`` without its class axis (a trailing 1 is dropped)."""
    if y_pred.dim() == 0:
        raise ValueError(f"{fn_name} expected y_pred with a class axis, received a scalar")
    axis = axis % y_pred.dim()
    y_true = _to_tensor(y_true, device=y_pred.device)
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    expected = tuple(s for i, s in enumerate(y_pred.shape) if i != axis)
    if tuple(y_true.shape) != expected:
        raise ValueError(
            f"{fn_name} expected integer y_true of shape {expected} (or with a trailing 1) for "
            f"y_pred.shape={tuple(y_pred.shape)}, received y_true.shape={tuple(y_true.shape)}"
        )
    return y_true.long(), axis


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Categorical crossentropy with integer targets, e.g. ``(B,)`` or ``(B, 1)`` or ``(B, T)``.

    Positions whose target equals ``ignore_class`` get a loss of 0 (the loss classes also leave
    them out of the mean).
    """
    _check_axis(axis)
    y_pred = _to_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(_config.torch_dtype(None))
    labels, axis = _sparse_targets(y_true, y_pred, "sparse_categorical_crossentropy", axis)
    valid = None
    if ignore_class is not None:
        valid = labels != int(ignore_class)
        labels = torch.where(valid, labels, torch.zeros_like(labels))
        y_pred = torch.where(valid.unsqueeze(axis), y_pred, torch.ones_like(y_pred))
    num_classes = y_pred.shape[axis]
    if labels.numel() and bool(((labels < 0) | (labels >= num_classes)).any()):
        raise ValueError(
            f"sparse_categorical_crossentropy expected class ids in [0, {num_classes}), received "
            f"values from {int(labels.min())} to {int(labels.max())}"
        )
    if from_logits and y_pred.dim() == 2 and axis in (-1, 1):  # one fused kernel
        loss = F.cross_entropy(y_pred, labels, reduction="none")
    else:
        log_prob = _log_probs(y_pred, from_logits, axis)
        loss = -log_prob.gather(axis, labels.unsqueeze(axis)).squeeze(axis)
    if valid is not None:
        loss = torch.where(valid, loss, torch.zeros_like(loss))
    return loss


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` with both clipped to ``[eps, 1]``."""
    y_true, y_pred = _matched(y_true, y_pred, "kl_divergence")
    y_true, y_pred = y_true.clamp(EPSILON, 1.0), y_pred.clamp(EPSILON, 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(dim=-1)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``."""
    y_true, y_pred = _matched(y_true, y_pred, "poisson")
    out = F.poisson_nll_loss(y_pred, y_true, log_input=False, eps=EPSILON, reduction="none")
    return out.mean(dim=-1)


def _hinge_labels(y_true):
    """Binary 0/1 labels become -1/1 (as Keras does); other labels are left alone."""
    if bool(((y_true == 0) | (y_true == 1)).all()):
        return 2.0 * y_true - 1.0
    return y_true


def hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels are mapped to -1/1."""
    y_true, y_pred = _matched(y_true, y_pred, "hinge")
    return torch.clamp_min(1.0 - _hinge_labels(y_true) * y_pred, 0.0).mean(dim=-1)


def squared_hinge(y_true, y_pred):
    """``mean(square(max(1 - y_true * y_pred, 0)), axis=-1)``; 0/1 labels become -1/1."""
    y_true, y_pred = _matched(y_true, y_pred, "squared_hinge")
    return torch.square(torch.clamp_min(1.0 - _hinge_labels(y_true) * y_pred, 0.0)).mean(dim=-1)


def categorical_hinge(y_true, y_pred):
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` over the last axis."""
    y_true, y_pred = _matched(y_true, y_pred, "categorical_hinge")
    pos = (y_true * y_pred).sum(dim=-1)
    neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return torch.clamp_min(neg - pos + 1.0, 0.0)


def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: -1 means same direction."""
    _check_axis(axis)
    y_true, y_pred = _matched(y_true, y_pred, "cosine_similarity")
    y_true = F.normalize(y_true, p=2.0, dim=axis, eps=1e-6)
    y_pred = F.normalize(y_pred, p=2.0, dim=axis, eps=1e-6)
    return -(y_true * y_pred).sum(dim=axis)


mse = mean_squared_error
mae = mean_absolute_error
mape = mean_absolute_percentage_error
msle = mean_squared_logarithmic_error
kld = kl_divergence


# --------------------------------------------------------------------------- reduction
def _standardize_reduction(reduction):
    if reduction is None:
        return "none"
    if reduction == "auto":  # Keras 2 spelling of the default
        return "sum_over_batch_size"
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS} or None, received {reduction!r}")
    return reduction


def _align(weights, values, what: str):
    """Return ``values`` (maybe squeezed) and ``weights`` broadcast to exactly its shape."""
    w = _to_tensor(weights, dtype=values.dtype, device=values.device)
    shape_in = tuple(w.shape)
    values, w = squeeze_or_expand_to_same_rank(values, w)
    if w.dim() < values.dim():  # (B,) weights on (B, T) losses: weight whole samples
        w = w.reshape(tuple(w.shape) + (1,) * (values.dim() - w.dim()))
    try:
        ok = torch.broadcast_shapes(w.shape, values.shape) == values.shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{what} of shape {shape_in} cannot be broadcast to the per-sample losses of shape "
            f"{tuple(values.shape)}"
        )
    return values, w.expand(values.shape)


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Weight per-sample ``values`` by ``sample_weight`` and ``mask``, then reduce them.

    ``sum_over_batch_size``/``mean``: ``sum(values * w) / values.numel()``; with a mask, only
    unmasked entries count (``sum(values * w * mask) / mask.sum()``). ``sum``: the plain sum.
    ``mean_with_sample_weight``: divided by the sum of the weights. ``none``: weighted values.

    >>> reduce_weighted_values(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0])).item()
    0.5
    """
    reduction = _standardize_reduction(reduction)
    values = _to_tensor(values)
    weights = None
    if mask is not None:
        values, m = _align(mask, values, "mask")
        m = m.to(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            valid = m.sum()
            m = m * torch.where(valid > 0, m.numel() / valid.clamp_min(1e-30), 0.0)
        weights = m
    if sample_weight is not None:
        values, w = _align(sample_weight, values, "sample_weight")
        weights = w if weights is None else w * weights.reshape(values.shape)
    if weights is not None:
        values = values * weights
    if reduction == "none" or values.dim() == 0:
        return values
    loss = values.sum()
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and weights is not None:
        total = weights.sum()
        return torch.where(total != 0, loss / torch.where(total != 0, total, 1.0), 0.0)
    return loss / max(values.numel(), 1)


# --------------------------------------------------------------------------- classes
def _snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class Loss:
    """Base class of losses: ``loss(y_true, y_pred, sample_weight=None)`` gives a scalar tensor.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample losses; ``__call__`` weights
    and reduces them (see :func:`reduce_weighted_values`). ``reduction`` is one of
    ``"sum_over_batch_size"`` (default), ``"sum"``, ``"mean"``, ``"mean_with_sample_weight"`` or
    ``"none"``. ``__call__`` also takes ``mask``, a boolean tensor of the per-sample loss shape.

    >>> class Squares(Loss):
    ...     def call(self, y_true, y_pred):
    ...         return ((y_pred - y_true) ** 2).mean(dim=-1)
    >>> Squares()(torch.zeros(2, 2), torch.ones(2, 2), sample_weight=torch.tensor([1.0, 0.0]))
    tensor(0.5000)
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        self.dtype = _config.standardize_dtype(dtype)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def compute_mask(self, y_true, y_pred):
        """Boolean mask of the per-sample losses to keep, or ``None`` (all)."""
        return None

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        y_pred = _to_tensor(y_pred)
        if self.dtype is not None:
            y_pred = y_pred.to(_config.torch_dtype(self.dtype))
        elif not y_pred.is_floating_point():
            y_pred = y_pred.to(_config.torch_dtype(None))
        y_true = _to_tensor(y_true, device=y_pred.device)
        losses = self.call(y_true, y_pred)
        own = self.compute_mask(y_true, y_pred)
        if own is not None:
            own = own.reshape(losses.shape)
            mask = own if mask is None else own & _to_tensor(mask, device=own.device).bool()
        return reduce_weighted_values(losses, sample_weight, mask, self.reduction)

    def get_config(self) -> dict:
        config = {"name": self.name, "reduction": self.reduction}
        if self.dtype is not None:
            config["dtype"] = self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


def _function_name(fn) -> str:
    name = get_registered_name(fn)
    if name == "<lambda>":
        raise ValueError("a lambda cannot be serialized by name; use a named (registered) function")
    return name


def _resolve_function(spec, custom_objects=None):
    if callable(spec):
        return spec
    if isinstance(spec, dict):
        return deserialize(spec, custom_objects)
    fn = get_registered_object(spec, custom_objects, _FUNCTIONS)
    if fn is None:
        raise ValueError(f"Unknown loss function {spec!r}; known: {sorted(_FUNCTIONS)}")
    return fn


class LossFunctionWrapper(Loss):
    """Turn a per-sample function ``fn(y_true, y_pred, **kwargs)`` into a reducing :class:`Loss`.

    >>> def abs_err(y_true, y_pred):
    ...     return (y_pred - y_true).abs().mean(dim=-1)
    >>> loss = LossFunctionWrapper(abs_err, reduction="sum")
    >>> loss.name, round(loss(torch.zeros(3, 1), torch.ones(3, 1)).item(), 4)
    ('abs_err', 3.0)
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper expected a callable fn, received {fn!r}")
        super().__init__(
            name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype
        )
        self.fn = fn
        self._fn_kwargs = kwargs

    def __getattr__(self, item):  # expose from_logits, label_smoothing, axis, delta, ...
        kwargs = self.__dict__.get("_fn_kwargs", {})
        if item in kwargs:
            return kwargs[item]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {item!r}")

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(self._fn_kwargs)
        if type(self) is LossFunctionWrapper:
            config["fn"] = _function_name(self.fn)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if cls is LossFunctionWrapper:
            return cls(_resolve_function(config.pop("fn")), **config)
        config.pop("fn", None)
        return cls(**config)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors over the last axis, reduced over the batch.

    >>> import torch
    >>> round(MeanSquaredError()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                          torch.tensor([[1., 1.], [1., 0.]])).item(), 4)
    0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction, name, dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors over the last axis, reduced over the batch.

    >>> import torch
    >>> round(MeanAbsoluteError()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                           torch.tensor([[1., 1.], [1., 0.]])).item(), 4)
    0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction, name, dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """100 times the mean absolute relative error (denominator at least 1e-7).

    >>> import torch
    >>> MeanAbsolutePercentageError()(torch.tensor([[2., 4.]]), torch.tensor([[1., 5.]])).item()
    37.5
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None
    ):
        super().__init__(mean_absolute_percentage_error, reduction, name, dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared difference of ``log(1 + y)`` between targets and predictions.

    >>> import torch
    >>> round(MeanSquaredLogarithmicError()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                                     torch.tensor([[1., 1.], [1., 0.]])).item(), 4)
    0.2402
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None
    ):
        super().__init__(mean_squared_logarithmic_error, reduction, name, dtype)


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for errors up to ``delta``, linear beyond.

    >>> import torch
    >>> round(Huber()(torch.tensor([[0., 1.], [0., 0.]]),
    ...               torch.tensor([[0.6, 0.4], [0.4, 0.6]])).item(), 4)
    0.155
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, reduction, name, dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """Mean logarithm of the hyperbolic cosine of the prediction error.

    >>> import torch
    >>> round(LogCosh()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                 torch.tensor([[1., 1.], [0., 0.]])).item(), 4)
    0.1084
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction, name, dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy between 0/1 targets and probabilities (or logits).

    >>> import torch
    >>> round(BinaryCrossentropy()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                            torch.tensor([[0.6, 0.4], [0.4, 0.6]])).item(), 4)
    0.8149
    """

    def __init__(
        self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
        name="binary_crossentropy", dtype=None,
    ):
        super().__init__(
            binary_crossentropy, reduction, name, dtype, from_logits=from_logits,
            label_smoothing=label_smoothing, axis=axis,
        )


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Binary crossentropy that down-weights easy examples by ``(1 - p_t) ** gamma``.

    >>> import torch
    >>> round(BinaryFocalCrossentropy()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                                 torch.tensor([[0.6, 0.4], [0.4, 0.6]])).item(), 4)
    0.2678
    """

    def __init__(
        self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
        label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
        name="binary_focal_crossentropy", dtype=None,
    ):
        super().__init__(
            binary_focal_crossentropy, reduction, name, dtype,
            apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
            from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
        )


class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy between one-hot targets and class probabilities (or logits).

    >>> import torch
    >>> y_true = torch.tensor([[0., 1., 0.], [0., 0., 1.]])
    >>> y_pred = torch.tensor([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]])
    >>> round(CategoricalCrossentropy()(y_true, y_pred).item(), 3)
    1.177
    """

    def __init__(
        self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
        name="categorical_crossentropy", dtype=None,
    ):
        super().__init__(
            categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
            label_smoothing=label_smoothing, axis=axis,
        )


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy between integer class targets and class probabilities (or logits).

    Targets equal to ``ignore_class`` are left out of the loss and of its mean.

    >>> import torch
    >>> y_pred = torch.tensor([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]])
    >>> round(SparseCategoricalCrossentropy()(torch.tensor([1, 2]), y_pred).item(), 3)
    1.177
    """

    def __init__(
        self, from_logits=False, ignore_class=None, axis=-1, reduction="sum_over_batch_size",
        name="sparse_categorical_crossentropy", dtype=None,
    ):
        super().__init__(
            sparse_categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
            ignore_class=ignore_class, axis=axis,
        )

    def compute_mask(self, y_true, y_pred):
        if self.ignore_class is None:
            return None
        if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
            y_true = y_true.squeeze(-1)
        return y_true != self.ignore_class


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))`` over the last axis.

    >>> import torch
    >>> round(KLDivergence()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                      torch.tensor([[0.6, 0.4], [0.4, 0.6]])).item(), 3)
    0.458
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction, name, dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss ``mean(y_pred - y_true * log(y_pred + eps))`` over the last axis.

    >>> import torch
    >>> round(Poisson()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                 torch.tensor([[1., 1.], [0., 0.]])).item(), 4)
    0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction, name, dtype)


class Hinge(LossFunctionWrapper):
    """Hinge loss ``mean(max(1 - y_true * y_pred, 0))``; 0/1 targets are mapped to -1/1.

    >>> import torch
    >>> round(Hinge()(torch.tensor([[0., 1.], [0., 0.]]),
    ...               torch.tensor([[0.6, 0.4], [0.4, 0.6]])).item(), 4)
    1.3
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction, name, dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss ``mean(max(1 - y_true * y_pred, 0) ** 2)``.

    >>> import torch
    >>> round(SquaredHinge()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                      torch.tensor([[0.6, 0.4], [0.4, 0.6]])).item(), 4)
    1.86
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction, name, dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss ``max(neg - pos + 1, 0)`` for one-hot targets.

    >>> import torch
    >>> round(CategoricalHinge()(torch.tensor([[0., 1.], [0., 0.]]),
    ...                          torch.tensor([[0.6, 0.4], [0.4, 0.6]])).item(), 4)
    1.4
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction, name, dtype)


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity along ``axis`` (-1: same direction, 1: opposite).

    >>> import torch
    >>> round(CosineSimilarity()(torch.tensor([[0., 1.], [1., 1.]]),
    ...                          torch.tensor([[1., 0.], [1., 1.]])).item(), 4)
    -0.5
    """

    def __init__(
        self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None
    ):
        super().__init__(cosine_similarity, reduction, name, dtype, axis=axis)


# --------------------------------------------------------------------------- lookup
_FUNCTIONS = {
    f.__name__: f
    for f in (
        mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_logarithmic_error, huber, log_cosh, binary_crossentropy,
        binary_focal_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy,
        kl_divergence, poisson, hinge, squared_hinge, categorical_hinge, cosine_similarity,
    )
}
_CLASSES = {
    c.__name__: c
    for c in (
        Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError,
        MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Huber, LogCosh,
        BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
        SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge,
        CategoricalHinge, CosineSimilarity,
    )
}
_ALIASES = {
    "mse": mean_squared_error, "MSE": mean_squared_error, "mae": mean_absolute_error,
    "MAE": mean_absolute_error, "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error, "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error, "kld": kl_divergence, "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence, "logcosh": log_cosh, "bce": binary_crossentropy,
    "BCE": binary_crossentropy, "huber_loss": huber,
}
ALL_OBJECTS = {**_CLASSES, **_FUNCTIONS, **_ALIASES}


def serialize(loss):
    """Keras's dict form of a :class:`Loss` or of a (built-in or registered) loss function."""
    if loss is None:
        return None
    if isinstance(loss, Loss):
        return serialize_keras_object(loss, "keras.losses")
    if callable(loss):
        name = _function_name(loss)
        return {
            "module": "keras.losses",
            "class_name": "function",
            "config": name,
            "registered_name": name,
        }
    raise ValueError(f"serialize expected a Loss or a loss function, received {loss!r}")


def deserialize(config, custom_objects=None):
    """Inverse of :func:`serialize` (also accepts a bare name)."""
    if isinstance(config, dict) and config.get("class_name") == "function":
        name = config.get("config") or config.get("registered_name")
        return _resolve_function(name, custom_objects)
    return deserialize_keras_object(config, ALL_OBJECTS, custom_objects, "loss")


def get(identifier):
    """A loss from ``None``, a name, Keras's dict form, a callable or a :class:`Loss`.

    As in Keras, function names (``"mse"``, ``"binary_crossentropy"``) return the per-sample
    function and class names (``"MeanSquaredError"``) return an instance.

    >>> get("mse").__name__, type(get("MeanSquaredError")).__name__
    ('mean_squared_error', 'MeanSquaredError')
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS.get(identifier) or get_registered_object(identifier)
        if obj is None:
            raise ValueError(f"Unknown loss {identifier!r}; expected one of {sorted(ALL_OBJECTS)}")
    else:
        obj = identifier
    if isinstance(obj, type):
        obj = obj()
    if not callable(obj):
        raise ValueError(
            f"Could not interpret loss identifier {identifier!r}: expected None, a string, a "
            f"dict, a callable or a Loss, received {type(identifier).__name__}"
        )
    return obj


def is_binary_or_sparse_categorical(y_true_shape, y_pred_shape):
    """Keras 3's test: ``(is_binary, is_sparse_categorical)`` from target and output shapes.

    Binary: the output's last axis is 1. Sparse: the target has fewer axes than the output, or its
    last axis is 1 while the output's is larger.

    >>> is_binary_or_sparse_categorical((8,), (8, 5))
    (False, True)
    """
    t, p = tuple(y_true_shape), tuple(y_pred_shape)
    if not t or not p:
        raise ValueError(f"expected shapes with a last axis, received {t} and {p}")
    is_binary = p[-1] == 1
    is_sparse = len(t) < len(p) or (t[-1] == 1 and p[-1] is not None and p[-1] > 1)
    return is_binary, is_sparse


def resolve_loss(identifier, y_true_shape=None, y_pred_shape=None):
    """The :class:`Loss` that ``compile(loss=identifier)`` uses (Keras's ``get_loss``).

    Plain functions are wrapped in :class:`LossFunctionWrapper` named after the string (or the
    function); ``"crossentropy"``/``"ce"`` pick binary, sparse or categorical crossentropy from
    the target/output shapes. ``None`` gives ``None``.

    >>> resolve_loss("mse").name, resolve_loss("ce", (4, 1), (4, 3)).fn.__name__
    ('mse', 'sparse_categorical_crossentropy')
    """
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        if y_true_shape is None or y_pred_shape is None:
            raise ValueError(
                f"loss {identifier!r} needs y_true_shape and y_pred_shape, received "
                f"{y_true_shape} and {y_pred_shape}"
            )
        is_binary, is_sparse = is_binary_or_sparse_categorical(y_true_shape, y_pred_shape)
        obj = (
            binary_crossentropy
            if is_binary
            else sparse_categorical_crossentropy
            if is_sparse
            else categorical_crossentropy
        )
    else:
        obj = get(identifier)
    if isinstance(obj, Loss):
        return obj
    name = identifier if isinstance(identifier, str) else getattr(obj, "__name__", None)
    return LossFunctionWrapper(obj, name=name)
