"""Stateful metrics with Keras 3's names and results.

A metric accumulates over batches: ``update_state(y_true, y_pred, sample_weight=None)`` adds a
batch, ``result()`` returns the value so far as a Python ``float`` (a list of floats for
``Precision``/``Recall`` built with a list of thresholds), ``reset_state()`` starts over.
State lives in Python floats or float64 tensors and is updated under ``torch.no_grad()``.

:func:`get` turns ``compile(metrics=[...])`` entries into metrics; :func:`resolve_accuracy`
applies Keras's rule that turns ``"accuracy"`` into a binary, sparse or categorical accuracy.

>>> m = get("mae")
>>> m.update_state([[0.0, 1.0]], [[1.0, 1.0]]); m.update_state([[0.0]], [[0.0]])
>>> m.name, m.result()
('mae', 0.25)
"""

from __future__ import annotations

import torch

from rnnkit import config as _config
from rnnkit.saving.object_registry import (
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    serialize_keras_object,
)
from rnnkit.training import losses as _losses
from rnnkit.training.losses import (
    EPSILON,
    _float_pair,
    _matched,
    _snake,
    _sparse_targets,
    _to_tensor,
    is_binary_or_sparse_categorical,
    squeeze_or_expand_to_same_rank,
)

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "RootMeanSquaredError", "MeanAbsolutePercentageError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "AUC", "Precision", "Recall",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "get", "resolve_accuracy",
    "resolve_metric", "serialize", "deserialize",
]

NEG_INF = -1e10  # Keras's stand-in for "below every threshold"


# --------------------------------------------------------------------------- metric functions
def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` (elementwise), else 0.0."""
    y_true, y_pred = _matched(y_true, y_pred, "accuracy")
    return (y_true == y_pred).to(y_pred.dtype)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``y_pred > threshold`` matches the 0/1 ``y_true`` (elementwise), else 0.0."""
    y_true, y_pred = _matched(y_true, y_pred, "binary_accuracy")
    return (y_true == (y_pred > threshold).to(y_true.dtype)).to(y_pred.dtype)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the argmax of one-hot ``y_true`` equals the argmax of ``y_pred``."""
    y_true, y_pred = _matched(y_true, y_pred, "categorical_accuracy")
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).to(y_pred.dtype)


def _float_pred(y_pred):
    y_pred = _to_tensor(y_pred)
    return y_pred if y_pred.is_floating_point() else y_pred.to(_config.torch_dtype(None))


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer ``y_true`` equals the argmax of ``y_pred`` over its last axis."""
    y_pred = _float_pred(y_pred)
    labels, _ = _sparse_targets(y_true, y_pred, "sparse_categorical_accuracy")
    return (labels == y_pred.argmax(dim=-1)).to(y_pred.dtype)


def _in_top_k(labels, y_pred, k, fn_name):
    num_classes = y_pred.shape[-1]
    if labels.numel() and bool(((labels < 0) | (labels >= num_classes)).any()):
        raise ValueError(f"{fn_name} expected class ids in [0, {num_classes}), received values "
                         f"from {int(labels.min())} to {int(labels.max())}")
    kth = y_pred.topk(min(int(k), num_classes), dim=-1).values[..., -1]
    target = y_pred.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (target >= kth).to(y_pred.dtype)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot target's class is among the ``k`` largest predictions."""
    y_true, y_pred = _matched(y_true, y_pred, "top_k_categorical_accuracy")
    return _in_top_k(y_true.argmax(dim=-1), y_pred, k, "top_k_categorical_accuracy")


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer target is among the ``k`` largest predictions."""
    y_pred = _float_pred(y_pred)
    labels, _ = _sparse_targets(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    return _in_top_k(labels, y_pred, k, "sparse_top_k_categorical_accuracy")


# --------------------------------------------------------------------------- base classes
class Metric:
    """Base class of stateful metrics.

    Subclasses implement ``update_state``, ``result`` (a Python float) and ``reset_state``.
    Calling a metric updates it with one batch and returns the result so far.

    >>> class Count(Metric):
    ...     def __init__(self, name=None, dtype=None):
    ...         super().__init__(name=name, dtype=dtype)
    ...         self.reset_state()
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         self.n += len(y_true)
    ...     def result(self):
    ...         return float(self.n)
    ...     def reset_state(self):
    ...         self.n = 0
    >>> m = Count()
    >>> m([1, 2], [1, 2]), m([3], [3]), m.name
    (2.0, 3.0, 'count')
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = _config.standardize_dtype(dtype) or _config.floatx()

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def reset_state(self):
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state")

    def reset_states(self):
        """Alias of :meth:`reset_state` (the Keras 2 name)."""
        self.reset_state()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _samplewise(values, sample_weight, reduce_fn):
    """Keras's ``reduce_to_samplewise_values``: one value (and weight) per sample."""
    if sample_weight is not None:
        w = _to_tensor(sample_weight, dtype=values.dtype, device=values.device)
        shape_in = tuple(w.shape)
        values, w = squeeze_or_expand_to_same_rank(values, w)
        if values.dim() > w.dim():
            values = reduce_fn(values, dim=tuple(range(w.dim(), values.dim())))
        try:
            w = torch.broadcast_to(w, values.shape)
        except RuntimeError:
            raise ValueError(f"sample_weight of shape {shape_in} cannot be broadcast to the "
                             f"metric values of shape {tuple(values.shape)}") from None
        values = values * w
        if w.dim() > 1:
            w = reduce_fn(w, dim=tuple(range(1, w.dim())))
        sample_weight = w
    if values.dim() > 1:
        values = reduce_fn(values, dim=tuple(range(1, values.dim())))
    return values, sample_weight


class Mean(Metric):
    """Weighted mean of the values passed to ``update_state(values, sample_weight=None)``.

    Values with more than one axis are first averaged per sample (Keras's rule).

    >>> m = Mean()
    >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        with torch.no_grad():
            values = _float_pred(values).detach()
            values, weights = _samplewise(values, sample_weight, torch.mean)
            self.total += float(values.double().sum())
            if weights is not None:
                self.count += float(weights.double().sum())
            else:
                self.count += float(values.shape[0]) if values.dim() else 1.0

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class Sum(Metric):
    """Weighted sum of the values passed to ``update_state(values, sample_weight=None)``.

    >>> m = Sum()
    >>> m.update_state([1.0, 3.0, 5.0, 7.0]); m.update_state([[1.0, 1.0]])
    >>> m.result()
    18.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        with torch.no_grad():
            values = _float_pred(values).detach()
            values, _ = _samplewise(values, sample_weight, torch.sum)
            self.total += float(values.double().sum())

    def result(self) -> float:
        return self.total


def _fn_name(fn) -> str:
    name = get_registered_name(fn)
    if name == "<lambda>":
        raise ValueError("a lambda metric cannot be serialized by name; use a named function")
    return name


class MeanMetricWrapper(Mean):
    """Mean over samples of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    >>> def abs_err(y_true, y_pred):
    ...     return (y_pred - y_true).abs().mean(dim=-1)
    >>> m = MeanMetricWrapper(abs_err)
    >>> m.name, m([[0.0], [1.0]], [[1.0], [1.0]])
    ('abs_err', 0.5)
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"MeanMetricWrapper expected a callable fn, received {fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            y_pred = _to_tensor(y_pred).detach()
            y_true = _to_tensor(y_true, device=y_pred.device).detach()
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
            super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:
            config["fn"] = _fn_name(self._fn)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if cls is MeanMetricWrapper:
            return cls(_resolve_function(config.pop("fn")), **config)
        config.pop("fn", None)
        return cls(**config)


# --------------------------------------------------------------------------- mean metrics
class Accuracy(MeanMetricWrapper):
    """How often predictions equal the targets exactly.

    >>> Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    0.75
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches 0/1 targets.

    >>> BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    0.75
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the prediction matches the argmax of one-hot targets.

    >>> CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    0.5
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the prediction matches integer targets.

    >>> SparseCategoricalAccuracy()([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    0.5
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` largest predictions.

    >>> TopKCategoricalAccuracy(k=1)([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    0.5
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target is among the ``k`` largest predictions.

    >>> SparseTopKCategoricalAccuracy(k=1)([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    0.5
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class MeanSquaredError(MeanMetricWrapper):
    """Mean squared error between targets and predictions.

    >>> MeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    0.25
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean absolute error between targets and predictions.

    >>> MeanAbsoluteError()([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    0.25
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_losses.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean absolute percentage error between targets and predictions.

    >>> MeanAbsolutePercentageError()([[2.0, 4.0]], [[1.0, 5.0]])
    37.5
    """

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(_losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """Square root of the (weighted) mean squared error.

    >>> RootMeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    0.5
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            y_true, y_pred = _matched(y_true, y_pred, "root_mean_squared_error")
            super().update_state(torch.square(y_pred - y_true).detach(), sample_weight)

    def result(self) -> float:
        return super().result() ** 0.5


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary crossentropy (see :func:`rnnkit.losses.binary_crossentropy`).

    >>> round(BinaryCrossentropy()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]), 4)
    0.8149
    """

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0):
        super().__init__(_losses.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical crossentropy (see :func:`rnnkit.losses.categorical_crossentropy`).

    >>> round(CategoricalCrossentropy()([[0, 1, 0], [0, 0, 1]],
    ...                                 [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]), 3)
    1.177
    """

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0, axis=-1):
        super().__init__(_losses.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical crossentropy for integer targets.

    >>> round(SparseCategoricalCrossentropy()([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]), 3)
    1.177
    """

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 axis=-1):
        super().__init__(_losses.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, axis=axis)


# --------------------------------------------------------------------------- confusion metrics
def _flat_inputs(y_true, y_pred, sample_weight, top_k=None, class_id=None):
    """Flattened float64 ``(labels, predictions, weights)`` for confusion-matrix counting."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true.detach(), y_pred.detach())
    if y_true.shape != y_pred.shape:
        raise ValueError(f"expected y_true and y_pred of the same shape, received "
                         f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")
    y_true, y_pred = y_true.double(), y_pred.double()
    w = None
    if sample_weight is not None:
        w = _to_tensor(sample_weight, dtype=torch.float64, device=y_pred.device)
        shape_in = tuple(w.shape)
        _, w = squeeze_or_expand_to_same_rank(y_pred, w)
        if w.dim() < y_pred.dim():
            w = w.reshape(tuple(w.shape) + (1,) * (y_pred.dim() - w.dim()))
        try:
            w = torch.broadcast_to(w, y_pred.shape)
        except RuntimeError:
            raise ValueError(f"sample_weight of shape {shape_in} cannot be broadcast to "
                             f"y_pred of shape {tuple(y_pred.shape)}") from None
    if top_k is not None:
        k = min(int(top_k), y_pred.shape[-1])
        order = torch.sort(y_pred, dim=-1, descending=True, stable=True).indices[..., :k]
        keep = torch.zeros_like(y_pred, dtype=torch.bool).scatter_(-1, order, True)
        y_pred = torch.where(keep, y_pred, torch.full_like(y_pred, NEG_INF))
    if class_id is not None:
        if y_pred.dim() == 0 or not 0 <= class_id < y_pred.shape[-1]:
            raise ValueError(f"class_id={class_id} is out of range for y_pred of shape "
                             f"{tuple(y_pred.shape)}")
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
        w = None if w is None else w[..., class_id]
    w = torch.ones_like(y_pred) if w is None else w
    return y_true.reshape(-1), y_pred.reshape(-1), w.reshape(-1)


def _counts(labels, preds, weights, thresholds):
    """Weighted (tp, fp, tn, fn) per threshold; a prediction is positive if ``> threshold``."""
    pos = preds.unsqueeze(0) > thresholds.unsqueeze(1)
    true = (labels != 0).unsqueeze(0)
    w = weights.unsqueeze(0)
    return ((pos & true) * w).sum(1), ((pos & ~true) * w).sum(1), \
        ((~pos & ~true) * w).sum(1), ((~pos & true) * w).sum(1)


def _divide_no_nan(a, b):
    return torch.where(b != 0, a / torch.where(b != 0, b, 1.0), 0.0)


class _ThresholdMetric(Metric):
    """Shared state of Precision / Recall: weighted confusion counts per threshold."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k, self.class_id = top_k, class_id
        default = 0.5 if top_k is None else NEG_INF
        values = default if thresholds is None else thresholds
        self._single = not isinstance(values, (list, tuple))
        values = [values] if self._single else list(values)
        for t in values:
            if not (t == NEG_INF or 0.0 <= t <= 1.0):
                raise ValueError(f"thresholds must be in [0, 1], received {thresholds!r}")
        self.thresholds = values
        self._thr = torch.tensor(values, dtype=torch.float64)
        self.reset_state()

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives = torch.zeros(n, dtype=torch.float64)
        self.false_positives = torch.zeros(n, dtype=torch.float64)
        self.false_negatives = torch.zeros(n, dtype=torch.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            labels, preds, w = _flat_inputs(y_true, y_pred, sample_weight, self.top_k,
                                            self.class_id)
            tp, fp, _, fn = _counts(labels, preds, w, self._thr.to(preds.device))
            self.true_positives += tp.cpu()
            self.false_positives += fp.cpu()
            self.false_negatives += fn.cpu()

    def _ratio(self, den_extra):
        values = _divide_no_nan(self.true_positives, self.true_positives + den_extra).tolist()
        return values[0] if self._single else values

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_ThresholdMetric):
    """Precision ``tp / (tp + fp)``: a prediction counts as positive when ``> threshold``.

    ``thresholds`` defaults to 0.5 (a list gives a list of results); ``top_k`` keeps only the
    ``k`` largest predictions per sample; ``class_id`` looks at one class of a multi-label output.

    >>> m = Precision()
    >>> round(m([0, 1, 1, 1], [1, 0, 1, 1]), 4)
    0.6667
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision",
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._ratio(self.false_positives)


class Recall(_ThresholdMetric):
    """Recall ``tp / (tp + fn)``: a prediction counts as positive when ``> threshold``.

    Arguments as for :class:`Precision`.

    >>> m = Recall()
    >>> round(m([0, 1, 1, 1], [1, 0, 1, 1]), 4)
    0.6667
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._ratio(self.false_negatives)


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at fixed thresholds.

    Thresholds are ``i / (num_thresholds - 1)`` for the inner points and ``-eps``, ``1 + eps``
    at the ends (or ``thresholds`` given explicitly). ``summation_method="interpolation"``
    (default) uses trapezoids for ROC and Davis & Goadrich's interpolation for PR;
    ``"minoring"``/``"majoring"`` use left/right Riemann sums. Only ``multi_label=False``.

    >>> m = AUC(num_thresholds=3)
    >>> m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    0.75
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name="auc", dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        curve = str(getattr(curve, "value", curve)).upper()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"curve must be 'ROC' or 'PR', received {curve!r}")
        method = str(getattr(summation_method, "value", summation_method)).lower()
        if method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring', received {summation_method!r}")
        if multi_label or label_weights is not None:
            raise NotImplementedError("AUC supports multi_label=False without label_weights only")
        self.curve, self.summation_method = curve, method
        self.multi_label, self.num_labels, self.label_weights = False, num_labels, None
        self.from_logits = bool(from_logits)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            if any(not 0.0 <= t <= 1.0 for t in inner):
                raise ValueError(f"thresholds must be in [0, 1], received {thresholds!r}")
            self.num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError(f"num_thresholds must be > 1, received {num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            n = self.num_thresholds
            inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
        self.thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]
        self._thr = torch.tensor(self.thresholds, dtype=torch.float64)
        self.reset_state()

    def reset_state(self):
        n = self.num_thresholds
        self.true_positives = torch.zeros(n, dtype=torch.float64)
        self.false_positives = torch.zeros(n, dtype=torch.float64)
        self.true_negatives = torch.zeros(n, dtype=torch.float64)
        self.false_negatives = torch.zeros(n, dtype=torch.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            labels, preds, w = _flat_inputs(y_true, y_pred, sample_weight)
            if self.from_logits:
                preds = torch.sigmoid(preds)
            if self._init_from_thresholds:
                tp, fp, tn, fn = _counts(labels, preds, w, self._thr.to(preds.device))
            else:  # evenly spaced thresholds: bucket the predictions (Keras's fast path)
                n = self.num_thresholds
                bucket = (torch.ceil(preds * (n - 1)) - 1).clamp(0, n - 1).long()
                tp = torch.zeros(n, dtype=torch.float64, device=preds.device)
                fp = torch.zeros_like(tp)
                tp.index_add_(0, bucket, labels * w)
                fp.index_add_(0, bucket, (1.0 - labels) * w)
                tp = tp.flip(0).cumsum(0).flip(0)
                fp = fp.flip(0).cumsum(0).flip(0)
                tn, fn = fp[0] - fp, tp[0] - tp
            self.true_positives += tp.cpu()
            self.false_positives += fp.cpu()
            self.true_negatives += tn.cpu()
            self.false_negatives += fn.cpu()

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = torch.where(both, _divide_no_nan(p[:-1], p[1:].clamp_min(0)), torch.ones_like(dp))
        pieces = _divide_no_nan(slope * (dtp + intercept * torch.log(ratio)),
                                (tp[1:] + fn[1:]).clamp_min(0))
        return float(pieces.sum())

    def result(self) -> float:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp = self.true_positives, self.false_positives
        recall = _divide_no_nan(tp, tp + self.false_negatives)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + self.true_negatives), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return float(((x[:-1] - x[1:]) * heights).sum())

    def get_config(self) -> dict:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": False, "num_labels": self.num_labels, "label_weights": None,
                  "from_logits": self.from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


# --------------------------------------------------------------------------- lookup
_CLASSES = {
    c.__name__: c
    for c in (Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy,
              CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
              SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
              RootMeanSquaredError, MeanAbsolutePercentageError, BinaryCrossentropy,
              CategoricalCrossentropy, SparseCategoricalCrossentropy, AUC, Precision, Recall)
}
ALL_OBJECTS = {**_CLASSES, **{_snake(name): cls for name, cls in _CLASSES.items()}}
ALL_OBJECTS.update({
    "acc": Accuracy, "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError, "rmse": RootMeanSquaredError,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
})
_FUNCTIONS = {
    f.__name__: f
    for f in (accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
              top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)
}
# Loss functions usable as metrics by name (e.g. "kld", "hinge"); cosine_similarity is left out
# because the metric of that name has the opposite sign of the loss.
_LOSS_FUNCTIONS = {k: v for k, v in _losses.ALL_OBJECTS.items()
                   if not isinstance(v, type) and k != "cosine_similarity"}


def _resolve_function(spec, custom_objects=None):
    if callable(spec):
        return spec
    if isinstance(spec, dict):
        spec = spec.get("config") if spec.get("class_name") == "function" else spec
    known = {**_LOSS_FUNCTIONS, **_FUNCTIONS}
    fn = get_registered_object(spec, custom_objects, known) if isinstance(spec, str) else None
    if fn is None:
        raise ValueError(f"Unknown metric function {spec!r}; known: {sorted(known)}")
    return fn


def serialize(metric):
    """Keras's dict form of a :class:`Metric`."""
    if not isinstance(metric, Metric):
        raise ValueError(f"serialize expected a Metric, received {metric!r}")
    return serialize_keras_object(metric, "keras.metrics")


def deserialize(config, custom_objects=None):
    """Inverse of :func:`serialize` (also accepts a bare class name)."""
    if isinstance(config, dict) and config.get("class_name") == "function":
        fn = _resolve_function(config, custom_objects)
        return MeanMetricWrapper(fn, name=fn.__name__)
    obj = deserialize_keras_object(config, ALL_OBJECTS, custom_objects, "metric")
    if isinstance(obj, Metric):
        return obj
    if callable(obj):
        return MeanMetricWrapper(obj, name=getattr(obj, "__name__", None))
    raise ValueError(f"{config!r} did not give a metric, received {obj!r}")


def get(identifier):
    """A :class:`Metric` from ``None``, a name, Keras's dict form, a callable or a metric.

    Strings name a metric class (``"AUC"``, ``"auc"``, ``"binary_accuracy"``) or alias
    (``"mse"``, ``"mae"``, ``"mape"``, ``"rmse"``, ``"acc"``) or a loss function
    (``"kld"``, ``"hinge"``); the metric is *named as written*, as Keras's ``compile`` does.
    ``"accuracy"``/``"acc"`` give the generic exact-match :class:`Accuracy` here; ``compile``
    should use :func:`resolve_metric`. A plain function is wrapped in :class:`MeanMetricWrapper`
    named after it.

    >>> get("mse").name, type(get("mse")).__name__, get("mean_squared_error").name
    ('mse', 'MeanSquaredError', 'mean_squared_error')
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        obj = ALL_OBJECTS.get(identifier) or _FUNCTIONS.get(identifier)
        obj = obj or _LOSS_FUNCTIONS.get(identifier) or get_registered_object(identifier)
        if obj is None:
            known = sorted(set(ALL_OBJECTS) | set(_FUNCTIONS) | set(_LOSS_FUNCTIONS))
            raise ValueError(f"Unknown metric {identifier!r}; expected one of {known}")
        obj = obj(name=identifier) if isinstance(obj, type) else obj
        if not isinstance(obj, Metric):
            obj = MeanMetricWrapper(obj, name=identifier)
        return obj
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(
        f"Could not interpret metric identifier {identifier!r}: expected None, a string, a "
        f"dict, a callable or a Metric, received {type(identifier).__name__}"
    )


def _loss_kind(loss):
    """``"binary"``, ``"sparse"``, ``"categorical"`` or ``None`` for a loss identifier."""
    if isinstance(loss, str):
        loss = _losses.ALL_OBJECTS.get(loss, loss)
    if isinstance(loss, _losses.LossFunctionWrapper):
        loss = loss.fn
    elif isinstance(loss, _losses.Loss) or isinstance(loss, type):
        loss = type(loss) if not isinstance(loss, type) else loss
    table = {
        "binary": (_losses.binary_crossentropy, _losses.BinaryCrossentropy,
                   _losses.binary_focal_crossentropy, _losses.BinaryFocalCrossentropy),
        "sparse": (_losses.sparse_categorical_crossentropy, _losses.SparseCategoricalCrossentropy),
        "categorical": (_losses.categorical_crossentropy, _losses.CategoricalCrossentropy),
    }
    for kind, objs in table.items():
        if any(loss is o for o in objs):
            return kind
    return None


def resolve_accuracy(loss=None, y_true_shape=None, y_pred_shape=None, name="accuracy"):
    """The concrete accuracy Keras 3's ``compile`` uses for ``metrics=["accuracy"]``.

    With both shapes known, Keras 3's rule decides (the loss is ignored, as in Keras):
    output last axis 1 -> :class:`BinaryAccuracy`; else target with fewer axes than the output,
    or target last axis 1 -> :class:`SparseCategoricalAccuracy`; else
    :class:`CategoricalAccuracy`. Without shapes the loss decides (binary, sparse or categorical
    crossentropy, as function, class, instance or name); anything else raises ``ValueError``.
    The metric is called ``name`` (pass ``"acc"`` when the user wrote ``"acc"``).

    >>> type(resolve_accuracy(None, (32,), (32, 10))).__name__
    'SparseCategoricalAccuracy'
    >>> m = resolve_accuracy("binary_crossentropy", name="acc")
    >>> type(m).__name__, m.name
    ('BinaryAccuracy', 'acc')
    """
    if y_true_shape is not None and y_pred_shape is not None:
        is_binary, is_sparse = is_binary_or_sparse_categorical(y_true_shape, y_pred_shape)
        kind = "binary" if is_binary else "sparse" if is_sparse else "categorical"
    else:
        kind = _loss_kind(loss)
        if kind is None:
            raise ValueError(
                f"cannot choose an accuracy for loss {loss!r} without shapes: expected "
                f"y_true_shape and y_pred_shape, received {y_true_shape} and {y_pred_shape}"
            )
    cls = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
           "categorical": CategoricalAccuracy}[kind]
    return cls(name=name)


def resolve_metric(identifier, y_true_shape=None, y_pred_shape=None, loss=None):
    """One ``compile(metrics=[...])`` entry as a :class:`Metric` (Keras's ``get_metric``).

    ``"accuracy"``/``"acc"`` (any case) go through :func:`resolve_accuracy`, everything else
    through :func:`get`; ``None`` gives ``None``.

    >>> resolve_metric("acc", (4, 1), (4, 1)).name
    'acc'
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return resolve_accuracy(loss, y_true_shape, y_pred_shape, name=identifier)
    return get(identifier)
