"""The time-series classification recipe behind ``rnnkit train``: models, defaults and honest reports.

What the command does with a UEA/UCR data set, and why:

- **Preprocessing**: per-channel z-normalisation fitted on the training split over real steps (as
  the archive's own baselines do); variable-length cases are zero-padded at the end and masked for
  the recurrent branch; missing values (``?``) become the channel mean (0 after normalisation).
- **Validation**: a stratified split of the training cases; early stopping on it restores the
  best weights, and a plateau schedule halves the learning rate.
- **Epochs** come from the data size under a time budget (``--time-budget``): a run stops at the
  budget with the best weights so far. **Class weights** balance imbalanced training sets.
- **Models**: the recurrent classifiers, plus ``lstm-fcn`` / ``gru-fcn`` (Karim et al. 2017, "LSTM
  Fully Convolutional Networks for Time Series Classification"): a recurrent branch over the
  *shuffled* dimensions (each channel is one step whose features are the whole series, as in the
  paper) beside three Conv1D + BatchNormalization + ReLU blocks (128, 256, 128 filters; kernels 8, 5,
  3) with global average pooling, concatenated into a softmax layer.
- **Reporting**: test accuracy, balanced accuracy, the majority-class baseline and a confusion
  matrix, with a one-line warning when the result is not clearly better than the baseline or when
  training diverged.

>>> import numpy as np
>>> r = classification_report(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2)
>>> r["accuracy"], r["balanced_accuracy"], r["majority_baseline"], r["confusion_matrix"]
(0.75, 0.75, 0.5, [[1, 1], [0, 2]])
"""

from __future__ import annotations

import math
import time

import numpy as np

from rnnkit.training.callbacks import Callback

__all__ = [
    "RECURRENT_KINDS",
    "FCN_KINDS",
    "build_classifier",
    "balanced_class_weights",
    "classification_report",
    "diagnose",
    "choose_epochs",
    "TimeBudget",
    "BestSoFar",
    "plot_confusion",
]

RECURRENT_KINDS = ("lstm", "gru", "simple", "bilstm", "stacked")
FCN_KINDS = ("lstm-fcn", "gru-fcn")


def _recurrent(kind, units, return_sequences=False):
    from rnnkit import layers as L

    if kind in ("lstm", "stacked", "lstm-fcn"):
        return L.LSTM(units, return_sequences=return_sequences)
    if kind in ("gru", "gru-fcn"):
        return L.GRU(units, return_sequences=return_sequences)
    if kind == "simple":
        return L.SimpleRNN(units, return_sequences=return_sequences)
    return L.Bidirectional(L.LSTM(units, return_sequences=return_sequences))


def build_classifier(kind, n_steps, n_channels, n_classes, units=64, layers=1, dropout=0.3,
                     name=None, filters=(128, 256, 128), kernels=(8, 5, 3), masking=True):
    """A classifier of ``(batch, n_steps, n_channels)`` series into ``n_classes`` (logits).

    Recurrent kinds: ``Masking`` (if ``masking``: all-zero steps are padding) -> ``layers``
    recurrent layers -> ``Dropout`` -> ``Dense``.
    ``lstm-fcn`` / ``gru-fcn``: the recurrent branch reads the series with its axes swapped
    (``Permute((2, 1))``: ``n_channels`` steps of ``n_steps`` features) and is followed by
    ``Dropout(0.8)`` as in Karim et al.; the convolutional branch is ``Conv1D(f, k, padding="same")``
    -> ``BatchNormalization`` -> ``ReLU`` for each ``(f, k)`` in ``zip(filters, kernels)`` and
    ``GlobalAveragePooling1D``; both are concatenated into ``Dense(n_classes)``.

    >>> model = build_classifier("lstm-fcn", 20, 3, 4, units=8, filters=(4, 4, 4))
    >>> import torch
    >>> model(torch.zeros(2, 20, 3)).shape
    torch.Size([2, 4])
    """
    from rnnkit import layers as L
    from rnnkit.models import Input, Model, Sequential

    if kind in FCN_KINDS:
        if n_steps is None:
            raise ValueError(f"{kind} needs a known series length (the recurrent branch reads it "
                             f"as features)")
        inp = Input(shape=(n_steps, n_channels))
        r = L.Permute((2, 1))(inp)
        r = _recurrent(kind, units)(r)
        r = L.Dropout(0.8)(r)
        c = inp
        for f, k in zip(filters, kernels):
            c = L.Conv1D(f, k, padding="same", kernel_initializer="he_uniform")(c)
            c = L.BatchNormalization()(c)
            c = L.ReLU()(c)
        c = L.GlobalAveragePooling1D()(c)
        out = L.Dense(n_classes)(L.Concatenate()([r, c]))
        return Model(inp, out, name=name or kind.replace("-", "_"))
    if kind not in RECURRENT_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {RECURRENT_KINDS + FCN_KINDS}")
    stack = [Input(shape=(None, n_channels))] + ([L.Masking(mask_value=0.0)] if masking else [])
    for i in range(layers):
        stack.append(_recurrent(kind, units, return_sequences=i < layers - 1))
    if dropout > 0:
        stack.append(L.Dropout(dropout))
    stack.append(L.Dense(n_classes))
    return Sequential(stack, name=name or kind)


def balanced_class_weights(y, n_classes, threshold=1.5):
    """``{class: weight}`` (``n / (k * count)``) when the largest class outnumbers the smallest by
    more than ``threshold``; None for balanced sets.

    >>> balanced_class_weights(np.array([0, 0, 0, 0, 1]), 2)
    {0: 0.625, 1: 2.5}
    >>> balanced_class_weights(np.array([0, 1, 0, 1]), 2) is None
    True
    """
    counts = np.bincount(y, minlength=n_classes)
    present = counts[counts > 0]
    if present.size < 2 or present.max() <= threshold * present.min():
        return None
    n, k = len(y), present.size
    return {int(c): float(n / (k * counts[c])) for c in range(n_classes) if counts[c] > 0}


def choose_epochs(n_train, kind, low=40, high=1500):
    """Epochs for a run: a fixed number of sample presentations, so small data sets get many passes.

    About 40,000 presentations for the convolutional kinds (their archive baselines train for
    hundreds to thousands of epochs on sets of tens of cases) and 10,000 for the recurrent ones,
    between ``low`` and ``high`` epochs. The count is an upper bound: early stopping and the
    time budget (:class:`TimeBudget`) usually end a run first.

    >>> choose_epochs(50, "lstm-fcn"), choose_epochs(243, "bilstm"), choose_epochs(5000, "lstm")
    (800, 41, 40)
    """
    presentations = 40000 if kind in FCN_KINDS else 10000
    return int(min(high, max(low, presentations // max(n_train, 1))))


class TimeBudget(Callback):
    """Stop training when ``seconds`` have passed since ``on_train_begin`` (checked per epoch)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = float(seconds)
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        spent = time.perf_counter() - self.start
        # stop before the next epoch would overrun the budget
        if spent + spent / (epoch + 1) > self.seconds:
            self.stopped = True
            self.model.stop_training = True


class BestSoFar(Callback):
    """Adds ``best_<monitor>`` (the best value so far) to each epoch's logs for the progress line."""

    def __init__(self, monitor="val_accuracy", mode="max"):
        super().__init__()
        self.monitor, self.mode, self.best = monitor, mode, None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.monitor not in logs:
            return
        v = float(logs[self.monitor])
        if self.best is None or (v > self.best if self.mode == "max" else v < self.best):
            self.best = v
        logs[f"best_{self.monitor}"] = self.best


def classification_report(y_true, y_pred, n_classes):
    """Accuracy, balanced accuracy (mean per-class recall), majority baseline, confusion matrix."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    support = cm.sum(1)
    recalls = [cm[c, c] / support[c] for c in range(n_classes) if support[c] > 0]
    n = max(len(y_true), 1)
    return {
        "accuracy": float(np.trace(cm) / n),
        "balanced_accuracy": float(np.mean(recalls)) if recalls else 0.0,
        "majority_baseline": float(support.max() / n) if len(y_true) else 0.0,
        "confusion_matrix": cm.tolist(),
        "cases": int(len(y_true)),
    }


def diagnose(report, history, train_majority_class=None):
    """A one-line warning when the run failed, else None.

    Fires when training diverged (a non-finite loss, or the last training loss above the first)
    or when test accuracy is not clearly above the majority-class baseline: within two standard
    errors of it (binomial, at the baseline's rate) or less than 5 points above it.

    >>> diagnose({"accuracy": 0.52, "majority_baseline": 0.5, "cases": 100}, {"loss": [1.0, 0.9]})[:40]
    'warning: test accuracy 0.5200 is not cle'
    >>> diagnose({"accuracy": 0.97, "majority_baseline": 0.11, "cases": 370}, {"loss": [2.0, 0.1]}) is None
    True
    """
    losses = [float(v) for v in history.get("loss", [])]
    if losses and (not all(math.isfinite(v) for v in losses) or losses[-1] > losses[0] * 1.05):
        last = losses[-1] if losses else float("nan")
        return (f"warning: training diverged (training loss {losses[0]:.4g} at the first epoch, "
                f"{last:.4g} at the last): try a lower --lr")
    acc, base, n = report["accuracy"], report["majority_baseline"], max(report["cases"], 1)
    margin = max(0.05, 2.0 * math.sqrt(max(base * (1.0 - base), 1e-12) / n))
    if acc < base + margin:
        return (f"warning: test accuracy {acc:.4f} is not clearly better than always predicting "
                f"the majority class ({base:.4f}): the model has not learned this data set")
    return None


def plot_confusion(cm, classes, path, title):
    """Write the confusion matrix as a PNG (rows: true class, columns: predicted); None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    cm = np.asarray(cm)
    k = cm.shape[0]
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * k + 2), max(3.5, 0.5 * k + 1.5)))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45 if k > 6 else 0)
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=8)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path
