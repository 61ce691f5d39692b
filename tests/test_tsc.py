"""``rnnkit train`` as a time-series classifier: the recipe (rnnkit.tsc), honest reports, warnings."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from rnnkit import tsc
from rnnkit.cli import main
from rnnkit.datasets import uea

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _write_ts(path, x, y, classes):
    lines = [f"@problemName {path.stem.split('_')[0]}", "@timeStamps false", "@univariate true",
             "@equalLength true", f"@seriesLength {x.shape[1]}",
             f"@classLabel true {' '.join(classes)}", "@data"]
    for row, label in zip(x, y):
        lines.append(",".join(f"{v:.5f}" for v in row) + f":{classes[label]}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def datasets_dir(tmp_path, monkeypatch):
    """Two synthetic equal-length univariate sets: Learnable (a clear signal) and Shuffled (the same
    series with labels shuffled: nothing to learn)."""
    rng = np.random.default_rng(0)
    n, T = 80, 24
    y = np.repeat([0, 1], n // 2)
    t = np.linspace(0, 1, T)
    x = np.where(y[:, None] == 0, np.sin(6 * t), np.cos(6 * t)) + 0.1 * rng.standard_normal((n, T))
    y_shuffled = rng.permutation(y)
    for name, labels in (("Learnable", y), ("Shuffled", y_shuffled)):
        _write_ts(tmp_path / f"{name}_TRAIN.ts", x[::2], labels[::2], ("a", "b"))
        _write_ts(tmp_path / f"{name}_TEST.ts", x[1::2], labels[1::2], ("a", "b"))
    monkeypatch.setenv("RNNKIT_DATASETS_DIR", str(tmp_path))
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    return tmp_path


def test_bundled_archive_sets_load_offline():
    shapes = {}
    for name in ("ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand", "OSULeaf",
                 "PickupGestureWiimoteZ"):
        train, test = uea.load_data(name, progress=False)
        shapes[name] = (train.x.shape, test.x.shape, train.num_classes)
    assert shapes["BasicMotions"] == ((40, 100, 6), (40, 100, 6), 4)  # multivariate
    assert shapes["ItalyPowerDemand"] == ((67, 24, 1), (1029, 24, 1), 2)  # short
    assert shapes["OSULeaf"][0][1] == 427 and shapes["PickupGestureWiimoteZ"][2] == 10


@pytest.mark.parametrize("kind", ["lstm-fcn", "gru-fcn"])
def test_fcn_models_train_and_predict(kind):
    model = tsc.build_classifier(kind, 16, 2, 3, units=4, filters=(4, 8, 4))
    names = [type(layer).__name__ for layer in model.layers]
    assert {"Permute", "Conv1D", "BatchNormalization", "GlobalAveragePooling1D", "Concatenate"} <= set(names)
    assert ("LSTM" if kind == "lstm-fcn" else "GRU") in names
    from rnnkit import losses, optimizers

    model.compile(optimizer=optimizers.Adam(0.01), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    y = np.arange(24) % 3
    x = (y[:, None, None] + 0.3 * rng.normal(size=(24, 16, 2))).astype("float32")  # easy classes
    h = model.fit(x, y, epochs=20, verbose=0)
    assert np.mean(h.history["loss"][-3:]) < h.history["loss"][0]
    assert model.predict(x, verbose=0).shape == (24, 3)


def test_class_weights_only_for_imbalanced_sets():
    assert tsc.balanced_class_weights(np.array([0, 1, 2] * 5), 3) is None
    w = tsc.balanced_class_weights(np.array([0] * 9 + [1] * 3), 2)
    assert w == pytest.approx({0: 12 / 18, 1: 12 / 6})


def test_report_and_warnings():
    r = tsc.classification_report(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]), 2)
    assert r["accuracy"] == 0.75 and r["majority_baseline"] == 0.75 and r["balanced_accuracy"] == 0.5
    assert "not clearly better" in tsc.diagnose(r, {"loss": [1.0, 0.5]})
    good = tsc.classification_report(np.arange(4) % 2, np.arange(4) % 2, 2)
    assert tsc.diagnose(good, {"loss": [1.0, float("nan")]}).startswith("warning: training diverged")
    assert tsc.diagnose({**good, "cases": 400}, {"loss": [1.0, 0.2]}) is None


def test_warning_fires_on_unlearnable_data(datasets_dir, tmp_path):
    code, out, err = _run(["train", "--dataset", "Shuffled", "--model", "lstm-fcn", "--units", "8",
                           "--epochs", "15", "--output-dir", str(tmp_path / "s"), "--verbose", "0"])
    assert code == 0, err
    assert "warning: test accuracy" in err and "majority class" in err
    run = json.loads((tmp_path / "s" / "run.json").read_text())
    assert run["warning"].startswith("warning: test accuracy")
    assert 0.5 <= run["majority_baseline"] < 0.6  # two shuffled classes of 20 test cases


def test_no_warning_and_full_report_on_learnable_data(datasets_dir, tmp_path):
    code, out, err = _run(["train", "--dataset", "Learnable", "--units", "8", "--epochs", "40",
                           "--output-dir", str(tmp_path / "l"), "--verbose", "0"])
    assert code == 0, err
    assert "warning" not in err
    run = json.loads((tmp_path / "l" / "run.json").read_text())
    assert run["model"] == "lstm-fcn"  # auto: equal-length archive series
    assert run["test_accuracy"] >= 0.9 and run["warning"] is None
    assert np.array(run["confusion_matrix"]).sum() == 40
    for key in ("balanced_accuracy", "majority_baseline", "preprocessing", "lr_schedule",
                "class_weight", "time_budget", "patience"):
        assert key in run
    assert (tmp_path / "l" / "confusion_matrix.png").read_bytes()[:8] == PNG_MAGIC
    assert "balanced accuracy" in out and "confusion matrix" in out


def test_time_budget_stops_training(datasets_dir, tmp_path):
    code, _, err = _run(["train", "--dataset", "Learnable", "--units", "4", "--epochs", "100000",
                         "--time-budget", "2", "--output-dir", str(tmp_path / "b"), "--verbose", "0"])
    assert code == 0, err
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert run["stopped_by_time_budget"] and run["epochs_run"] < 100000


def test_japanese_vowels_defaults_do_not_warn(tmp_path):
    torch.set_num_threads(1)
    code, out, err = _run(["train", "--epochs", "12", "--output-dir", str(tmp_path), "--verbose", "0"])
    assert code == 0, err
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["model"] == "bilstm" and run["warning"] is None and run["test_accuracy"] > 0.9
