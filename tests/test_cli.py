"""Tests of the ``rnnkit`` command (``rnnkit.cli``): help, a tiny training run, the other
subcommands on its model, and the user errors (status 2, ``rnnkit: error: ...``)."""

import contextlib
import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnnkit import cli
from rnnkit.cli import main
from rnnkit.datasets import uea
from rnnkit.datasets._download import DatasetUnavailableError

TINY = "TinySeq"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write_ts(path, rng, n_per_class, classes=("a", "b", "c"), dims=2):
    """A small variable-length multivariate ``.ts`` file whose classes are easy to tell apart."""
    lines = ["@problemName TinySeq", "@timeStamps false", "@univariate false",
             f"@dimensions {dims}", "@equalLength false",
             f"@classLabel true {' '.join(classes)}", "@data"]
    for k, label in enumerate(classes):
        for _ in range(n_per_class):
            length = int(rng.integers(3, 7))
            series = [k + 0.1 * rng.standard_normal(length) + d for d in range(dims)]
            lines.append(":".join(",".join(f"{v:.4f}" for v in s) for s in series) + f":{label}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A directory holding TinySeq_TRAIN.ts / TinySeq_TEST.ts, used as RNNKIT_DATASETS_DIR."""
    d = tmp_path_factory.mktemp("uea")
    rng = np.random.default_rng(0)
    _write_ts(d / f"{TINY}_TRAIN.ts", rng, 8)
    _write_ts(d / f"{TINY}_TEST.ts", rng, 4)
    return d


@pytest.fixture(scope="module")
def offline(tiny_dir, tmp_path_factory):
    """Environment with the tiny data set and an empty cache; downloads fail at once."""
    home = tmp_path_factory.mktemp("home")

    def no_download(fname, origin, **kwargs):
        raise DatasetUnavailableError(f"could not download {origin} (no network in the tests)")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNKIT_DATASETS_DIR", str(tiny_dir))
        mp.setenv("RNNKIT_HOME", str(home))
        mp.setattr(uea, "get_file", no_download)
        yield


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(offline, tmp_path_factory):
    """One tiny training run (2 epochs, early stopping on) shared by the tests below."""
    out_dir = tmp_path_factory.mktemp("run")
    code, out, err = _run(["train", "--dataset", TINY, "--epochs", "2", "--units", "4",
                           "--batch-size", "8", "--validation-split", "0.25", "--patience", "3",
                           "--verbose", "0", "--output-dir", str(out_dir)])
    assert code == 0, err
    return out_dir, out


# ----------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", [None, "train", "evaluate", "predict", "summary"])
def test_help(command, capsys):
    argv = ["--help"] if command is None else [command, "--help"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "usage: rnnkit" in text and "examples:" in text
    if command == "train":
        for option in ("--dataset", "--model", "--units", "--layers", "--epochs", "--batch-size",
                       "--lr", "--seed", "--output-dir", "--validation-split", "--verbose",
                       "--patience", "JapaneseVowels", "bilstm", "RNNKIT_DATASETS_DIR"):
            assert option in text
    if command in ("evaluate", "predict"):
        assert "MODEL" in text and "--dataset" in text
    if command == "predict":
        assert "--output" in text and "--limit" in text


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "rnnkit", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert "train" in result.stdout and "evaluate" in result.stdout


def test_train_defaults():
    args = cli.build_parser().parse_args(["train"])
    assert args.dataset == "JapaneseVowels" and args.model == "auto"
    assert (args.units, args.batch_size, args.lr, args.seed) == (64, None, None, 0)
    assert args.epochs is None and args.time_budget == cli.DEFAULT_TIME_BUDGET


# ----------------------------------------------------------------------------- train & co
def test_train_writes_outputs(trained):
    out_dir, out = trained
    model_path = out_dir / cli.MODEL_FILE
    assert model_path.is_file()
    with open(out_dir / cli.HISTORY_FILE, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    assert all(np.isfinite(float(v)) for r in rows[1:] for v in r)
    png = out_dir / cli.CURVE_FILE
    assert png.read_bytes()[:8] == PNG_MAGIC
    run = json.loads((out_dir / cli.RUN_FILE).read_text())
    assert run["dataset"] == TINY and run["classes"] == ["a", "b", "c"]
    assert f"model:          {model_path}" in out
    assert str(png) in out and str(out_dir / cli.HISTORY_FILE) in out
    assert f"test accuracy: {run['test_accuracy']:.4f}" in out


def test_evaluate(trained):
    out_dir, train_out = trained
    code, out, err = _run(["evaluate", str(out_dir / cli.MODEL_FILE), "--dataset", TINY])
    assert code == 0, err
    assert "test loss:" in out
    # the same preprocessing as in training: the same accuracy
    acc_line = [ln for ln in train_out.splitlines() if ln.startswith("test accuracy:")][0]
    assert acc_line in out
    # --dataset defaults to the run.json next to the model
    code, out2, _ = _run(["evaluate", str(out_dir / cli.MODEL_FILE), "--batch-size", "5"])
    assert code == 0 and acc_line in out2


def test_predict(trained, tmp_path):
    model = str(out_dir_model(trained))
    code, out, err = _run(["predict", model, "--dataset", TINY, "--limit", "5"])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split("\t") == ["index", "class_id", "class_name", "true_id", "true_name"]
    assert len(lines) == 6
    for line in lines[1:]:
        _, cid, cname, _, _ = line.split("\t")
        assert cname == ("a", "b", "c")[int(cid)]
    target = tmp_path / "predictions.csv"
    code, out, err = _run(["predict", model, "--dataset", TINY, "--output", str(target)])
    assert code == 0, err
    with open(target, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["index", "class_id", "class_name"] and len(rows) == 1 + 12
    assert "wrote 12 predictions" in out


def out_dir_model(trained):
    """The model file of the shared run."""
    return trained[0] / cli.MODEL_FILE


def test_summary(trained):
    code, out, err = _run(["summary", str(out_dir_model(trained))])
    assert code == 0, err
    assert "Masking" in out and "Bidirectional" in out and "Dense" in out


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple", "stacked"])
def test_train_model_kinds(kind, offline, tmp_path):
    code, out, err = _run(["train", "--dataset", TINY, "--model", kind, "--epochs", "1",
                           "--units", "3", "--validation-split", "0", "--verbose", "0",
                           "--output-dir", str(tmp_path)])
    assert code == 0, err
    with open(tmp_path / cli.HISTORY_FILE) as f:
        assert f.readline().startswith("epoch,accuracy,loss")
    code, out, _ = _run(["summary", str(tmp_path / cli.MODEL_FILE)])
    layer = {"gru": "GRU", "simple": "SimpleRNN"}.get(kind, "LSTM")
    assert out.count(f"({layer})") == (2 if kind == "stacked" else 1)


def test_train_japanese_vowels_alias(offline, tmp_path):
    code, out, err = _run(["train", "--dataset", "japanese_vowels", "--model", "gru",
                           "--epochs", "1", "--units", "4", "--verbose", "0",
                           "--output-dir", str(tmp_path)])
    assert code == 0, err
    assert json.loads((tmp_path / cli.RUN_FILE).read_text())["dataset"] == "JapaneseVowels"


def test_uea_preprocessing_keeps_padding_zero():
    train, test = uea.load_data("JapaneseVowels")
    x_train, x_test = cli._standardise_uea(train, test)
    real = x_train[train.mask]
    assert np.allclose(real.mean(0), 0, atol=1e-4) and np.allclose(real.std(0), 1, atol=1e-3)
    for x, split in ((x_train, train), (x_test, test)):
        assert np.all(x[~split.mask] == 0)
        assert np.all(np.any(x != 0, axis=-1) == split.mask)  # what Masking(0.0) will see


def test_stratified_split_keeps_every_class():
    y = np.repeat(np.arange(9), 30)  # sorted by class, like JapaneseVowels
    tr, va = cli.stratified_split(y, 0.1, seed=0)
    assert len(va) == 27 and len(tr) == 243 and set(y[va]) == set(range(9))
    assert not set(tr) & set(va)


# ----------------------------------------------------------------------------- errors
def test_unknown_dataset(offline, tmp_path):
    code, out, err = _run(["train", "--dataset", "NoSuchSet", "--output-dir", str(tmp_path / "o")])
    assert code == 2
    assert err.startswith("rnnkit: error: unknown or unavailable data set 'NoSuchSet'")
    assert "JapaneseVowels" in err and "RNNKIT_DATASETS_DIR" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_invalid_dataset_name(capsys):
    assert main(["train", "--dataset", "../etc"]) == 2
    assert "rnnkit: error: invalid data set name" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0"], "argument --epochs: must be a positive integer"),
        (["train", "--epochs", "two"], "argument --epochs: expected a positive integer"),
        (["train", "--units", "-3"], "argument --units"),
        (["train", "--lr", "0"], "argument --lr"),
        (["train", "--validation-split", "1.5"], "argument --validation-split"),
        (["train", "--model", "transformer"], "argument --model: invalid choice"),
        (["train", "--verbose", "3"], "argument --verbose"),
        (["predict", "m.rnnkit", "--limit", "0"], "argument --limit"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"rnnkit: error: {message}" in err


@pytest.mark.parametrize("command", ["evaluate", "predict", "summary"])
def test_missing_model_file(command, tmp_path, capsys):
    argv = [command, str(tmp_path / "nope.rnnkit")] + ([] if command == "summary"
                                                      else ["--dataset", TINY])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: model file") and "not found" in err


def test_not_a_model_file(tmp_path, capsys):
    bad = tmp_path / "notes.rnnkit"
    bad.write_text("not a model")
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and "not a valid zip" in err
    assert main(["summary", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_evaluate_needs_dataset_without_run_json(trained, tmp_path, capsys):
    lone = tmp_path / "lone.rnnkit"
    lone.write_bytes(out_dir_model(trained).read_bytes())
    assert main(["evaluate", str(lone)]) == 2
    assert "--dataset is required" in capsys.readouterr().err


def test_output_dir_is_a_file(offline, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["train", "--dataset", TINY, "--epochs", "1", "--output-dir", str(f)]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_wrong_dataset_for_model(trained, capsys):
    # the tiny model has 2 input features and 3 classes; JapaneseVowels has 12 and 9
    code = main(["evaluate", str(out_dir_model(trained)), "--dataset", "JapaneseVowels"])
    assert code == 2
    assert capsys.readouterr().err.startswith("rnnkit: error: ")


def test_main_module_exists():
    assert os.path.isfile(os.path.join(os.path.dirname(cli.__file__), "__main__.py"))
