"""Metrics: hand-made batches, accumulation, AUC against numpy, Keras's documented numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import losses, metrics

RNG = np.random.default_rng(1)


def test_accuracies_on_small_batches():
    assert metrics.Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]]) == 0.75
    assert metrics.BinaryAccuracy()([1, 1, 0, 0], [0.98, 1.0, 0.0, 0.6]) == 0.75
    assert metrics.BinaryAccuracy(threshold=0.7)([[1], [1], [0], [0]], [[0.6], [1], [0], [0.6]]) \
        == 0.75
    y, p = [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    assert metrics.CategoricalAccuracy()(y, p) == 0.5
    assert metrics.SparseCategoricalAccuracy()([2, 1], p) == 0.5
    assert metrics.SparseCategoricalAccuracy()([[2.0], [1.0]], p) == 0.5
    assert metrics.TopKCategoricalAccuracy(k=1)(y, p) == 0.5
    assert metrics.TopKCategoricalAccuracy(k=2)(y, p) == 1.0
    assert metrics.SparseTopKCategoricalAccuracy(k=1)([2, 1], p) == 0.5
    assert metrics.SparseTopKCategoricalAccuracy(k=2)([[2], [1]], p) == 1.0
    assert metrics.SparseTopKCategoricalAccuracy()([0, 1], p) == 1.0  # k >= num_classes


def test_sparse_accuracy_sequences_and_weights():
    labels = torch.tensor([[0, 1, 2], [2, 2, 2]])
    p = torch.nn.functional.one_hot(torch.tensor([[0, 1, 0], [2, 0, 0]]), 3).float()
    m = metrics.SparseCategoricalAccuracy()
    assert m(labels, p) == pytest.approx(3 / 6)
    m.reset_state()
    w = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # timestep weights, as from a mask
    assert m(labels, p, sample_weight=w) == pytest.approx(3 / 3)
    m.reset_state()
    assert m(labels, p, sample_weight=torch.tensor([1.0, 0.0])) == pytest.approx(2 / 3)


def test_accumulation_and_reset():
    m = metrics.BinaryAccuracy()
    m.update_state([[1], [0]], [[0.9], [0.2]])
    m.update_state([[1], [1]], [[0.1], [0.2]])
    assert m.result() == 0.5
    m.update_state([[1]], [[0.7]], sample_weight=[2.0])
    assert m.result() == pytest.approx(4 / 6)
    m.reset_state()
    assert m.result() == 0.0
    m.update_state([[1]], [[0.7]])
    m.reset_states()
    assert m.result() == 0.0
    mean = metrics.Mean()
    mean.update_state([1.0, 2.0])
    mean.update_state(torch.tensor(6.0))
    assert mean.result() == 3.0
    s = metrics.Sum()
    s.update_state([[1.0, 2.0], [3.0, 4.0]], sample_weight=[1.0, 0.5])
    assert s.result() == 6.5


def test_regression_metrics():
    y, p = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))
    w = RNG.uniform(size=6)
    per = ((y - p) ** 2).mean(-1)
    assert metrics.MeanSquaredError()(y, p) == pytest.approx(per.mean())
    assert metrics.MeanSquaredError()(y, p, sample_weight=w) == pytest.approx(
        (per * w).sum() / w.sum())
    assert metrics.RootMeanSquaredError()(y, p) == pytest.approx(np.sqrt(((y - p) ** 2).mean()))
    assert metrics.RootMeanSquaredError()(y, p, sample_weight=w) == pytest.approx(
        np.sqrt((per * w).sum() / w.sum()))
    assert metrics.MeanAbsoluteError()(y, p) == pytest.approx(np.abs(y - p).mean())
    assert metrics.MeanAbsolutePercentageError()(y, p) == pytest.approx(
        100 * np.abs((y - p) / np.abs(y)).mean())


def test_crossentropy_metrics_are_means_of_the_losses():
    y, p = [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]
    assert metrics.BinaryCrossentropy()(y, p) == pytest.approx(0.81492, abs=1e-4)
    y3, p3 = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    assert metrics.CategoricalCrossentropy()(y3, p3) == pytest.approx(1.177, abs=1e-3)
    assert metrics.SparseCategoricalCrossentropy()([1, 2], p3) == pytest.approx(1.177, abs=1e-3)
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    m = metrics.SparseCategoricalCrossentropy(from_logits=True)
    assert m([0], logits) == pytest.approx(-torch.log_softmax(logits, -1)[0, 0].item(), rel=1e-6)


def numpy_roc_auc(y, p, thresholds):
    pos = p[None, :] > thresholds[:, None]
    tp = (pos & (y == 1)).sum(1)
    fp = (pos & (y == 0)).sum(1)
    tpr, fpr = tp / (y == 1).sum(), fp / (y == 0).sum()
    return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


def test_auc_against_numpy_trapezoid():
    y = RNG.integers(0, 2, size=2000)
    p = np.clip(0.3 * y + RNG.uniform(size=2000) * 0.7, 0, 1)
    m = metrics.AUC()
    for part in np.array_split(np.arange(2000), 3):
        m.update_state(y[part], p[part])
    thresholds = np.array([-1e-7] + [i / 199 for i in range(1, 199)] + [1 + 1e-7])
    assert m.result() == pytest.approx(numpy_roc_auc(y, p, thresholds), abs=1e-6)
    exact = (p[y == 1][:, None] > p[y == 0][None, :]).mean()  # Mann-Whitney
    assert m.result() == pytest.approx(exact, abs=1e-2)
    # explicit thresholds take the direct counting path and agree
    explicit = metrics.AUC(thresholds=list(thresholds[1:-1]))
    assert explicit(y, p) == pytest.approx(m.result(), abs=1e-9)
    logits = metrics.AUC(from_logits=True)
    assert logits(y, np.log(p + 1e-9) - np.log1p(-p + 1e-9)) == pytest.approx(m.result(), abs=5e-3)


def test_auc_keras_examples_and_pr():
    m = metrics.AUC(num_thresholds=3)
    assert m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]) == pytest.approx(0.75)
    assert metrics.AUC()([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]) == pytest.approx(0.75)
    assert metrics.AUC(num_thresholds=3)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9],
                                         sample_weight=[1, 0, 0, 1]) == pytest.approx(1.0)
    pr = metrics.AUC(curve="PR")([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert 0.5 < pr < 1.0
    y, p = [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]
    assert metrics.AUC(curve="pr", summation_method="majoring")(y, p) == pytest.approx(1.0)
    # as in Keras, precision is 0 where nothing is predicted positive, so minoring loses that part
    assert metrics.AUC(curve="PR", summation_method="minoring")(y, p) == pytest.approx(0.5)
    assert metrics.AUC(curve="PR")(y, p) == pytest.approx(1.0, abs=1e-2)
    assert metrics.AUC().result() == 0.0


def test_precision_recall_keras_examples():
    m = metrics.Precision()
    assert m([0, 1, 1, 1], [1, 0, 1, 1]) == pytest.approx(2 / 3)
    m.reset_state()
    assert m([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0]) == 1.0
    assert metrics.Precision(top_k=2)([0, 0, 1, 1], [1, 1, 1, 1]) == 0.0
    assert metrics.Precision(top_k=4)([0, 0, 1, 1], [1, 1, 1, 1]) == 0.5
    r = metrics.Recall()
    assert r([0, 1, 1, 1], [1, 0, 1, 1]) == pytest.approx(2 / 3)
    r.reset_state()
    assert r([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0]) == 1.0
    multi = metrics.Recall(thresholds=[0.3, 0.7])
    assert multi([1, 1, 0], [0.5, 0.9, 0.8]) == [1.0, 0.5]
    cls = metrics.Precision(class_id=1)
    assert cls([[0, 1], [1, 0], [0, 1]], [[0.2, 0.9], [0.1, 0.8], [0.9, 0.3]]) == 0.5


def test_resolve_accuracy_decisions():
    kinds = {
        ((32, 1), (32, 1)): metrics.BinaryAccuracy,
        ((32,), (32, 1)): metrics.BinaryAccuracy,
        ((32,), (32, 10)): metrics.SparseCategoricalAccuracy,
        ((32, 1), (32, 10)): metrics.SparseCategoricalAccuracy,
        ((8, 20), (8, 20, 5)): metrics.SparseCategoricalAccuracy,
        ((32, 10), (32, 10)): metrics.CategoricalAccuracy,
        ((8, 20, 5), (8, 20, 5)): metrics.CategoricalAccuracy,
        ((None, 4), (None, 4)): metrics.CategoricalAccuracy,
    }
    for (ts, ps), cls in kinds.items():
        m = metrics.resolve_accuracy(None, ts, ps)
        assert type(m) is cls and m.name == "accuracy", (ts, ps)
    # Keras 3 decides from shapes only, even when the loss says otherwise
    assert type(metrics.resolve_accuracy("binary_crossentropy", (4, 3), (4, 3))) is \
        metrics.CategoricalAccuracy
    by_loss = {
        "binary_crossentropy": metrics.BinaryAccuracy,
        losses.BinaryCrossentropy(from_logits=True): metrics.BinaryAccuracy,
        losses.binary_crossentropy: metrics.BinaryAccuracy,
        "SparseCategoricalCrossentropy": metrics.SparseCategoricalAccuracy,
        losses.resolve_loss("sparse_categorical_crossentropy"): metrics.SparseCategoricalAccuracy,
        losses.CategoricalCrossentropy: metrics.CategoricalAccuracy,
    }
    for loss, cls in by_loss.items():
        assert type(metrics.resolve_accuracy(loss)) is cls, loss
    m = metrics.resolve_metric("acc", (4,), (4, 3))
    assert type(m) is metrics.SparseCategoricalAccuracy and m.name == "acc"
    assert metrics.resolve_metric("Accuracy", (4, 1), (4, 1)).name == "Accuracy"
    assert metrics.resolve_metric(None) is None
    with pytest.raises(ValueError, match="without shapes"):
        metrics.resolve_accuracy("mse")


def test_get_names_and_round_trips():
    assert metrics.get(None) is None
    cases = {"mse": metrics.MeanSquaredError, "mae": metrics.MeanAbsoluteError,
             "mape": metrics.MeanAbsolutePercentageError, "rmse": metrics.RootMeanSquaredError,
             "auc": metrics.AUC, "AUC": metrics.AUC, "precision": metrics.Precision,
             "recall": metrics.Recall, "binary_accuracy": metrics.BinaryAccuracy,
             "sparse_top_k_categorical_accuracy": metrics.SparseTopKCategoricalAccuracy,
             "binary_crossentropy": metrics.BinaryCrossentropy, "accuracy": metrics.Accuracy,
             "acc": metrics.Accuracy, "RootMeanSquaredError": metrics.RootMeanSquaredError}
    for name, cls in cases.items():
        m = metrics.get(name)
        assert type(m) is cls and m.name == name
    kld = metrics.get("kld")
    assert isinstance(kld, metrics.MeanMetricWrapper) and kld.name == "kld"
    inst = metrics.BinaryAccuracy(threshold=0.3, name="ba")
    assert metrics.get(inst) is inst
    for m in (inst, metrics.AUC(num_thresholds=50, curve="PR"), metrics.Precision(thresholds=[0.2]),
              metrics.TopKCategoricalAccuracy(k=3), metrics.RootMeanSquaredError(),
              metrics.SparseCategoricalCrossentropy(from_logits=True)):
        cfg = metrics.serialize(m)
        assert cfg["module"] == "keras.metrics" and cfg["class_name"] == type(m).__name__
        back = metrics.get(cfg)
        assert type(back) is type(m) and back.get_config() == m.get_config()
    keras_cfg = {"module": "keras.metrics", "class_name": "AUC", "registered_name": None,
                 "config": {"name": "auc", "dtype": "float32", "num_thresholds": 200,
                            "curve": "ROC", "summation_method": "interpolation",
                            "multi_label": False, "num_labels": None, "label_weights": None,
                            "from_logits": False}}
    assert metrics.deserialize(keras_cfg).num_thresholds == 200


def test_custom_function_metric():
    def within_half(y_true, y_pred):
        return ((y_true - y_pred).abs() < 0.5).double().mean(dim=-1)

    m = metrics.get(within_half)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "within_half"
    assert m([[0.0], [1.0]], [[0.2], [0.2]]) == 0.5
    with pytest.raises(ValueError, match="lambda"):
        metrics.serialize(metrics.get(lambda a, b: a))


def test_clear_errors():
    with pytest.raises(ValueError, match="Unknown metric 'nope'"):
        metrics.get("nope")
    with pytest.raises(ValueError, match="Could not interpret"):
        metrics.get(1.5)
    with pytest.raises(ValueError, match=r"y_true.shape=\(3,\)"):
        metrics.SparseCategoricalAccuracy()([0, 1, 2], torch.ones(4, 3))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        metrics.CategoricalAccuracy()(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="thresholds"):
        metrics.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="sample_weight of shape"):
        metrics.Mean()([1.0, 2.0, 3.0], sample_weight=[1.0, 2.0])


def test_metrics_do_not_track_gradients():
    p = torch.tensor([[0.2, 0.8]], requires_grad=True)
    m = metrics.CategoricalCrossentropy()
    assert isinstance(m([[0.0, 1.0]], p), float)
    assert p.grad is None
