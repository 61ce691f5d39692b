"""The ``rnnkit`` command and the UEA reader under hostile or failing conditions (issue 11)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest
import torch

from rnnkit import cli
from rnnkit.cli import main
from rnnkit.datasets import uea
from rnnkit.datasets._download import DatasetUnavailableError
from tests.test_cli import TINY, _write_ts

_GET_FILE = uea.get_file  # the real one (the offline fixture replaces it)


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    d = tmp_path_factory.mktemp("uea")
    rng = np.random.default_rng(0)
    _write_ts(d / f"{TINY}_TRAIN.ts", rng, 8)
    _write_ts(d / f"{TINY}_TEST.ts", rng, 4)
    home = tmp_path_factory.mktemp("home")

    def no_download(fname, origin, **kwargs):
        raise DatasetUnavailableError(f"could not download {origin} (no network in the tests)")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNKIT_DATASETS_DIR", str(d))
        mp.setenv("RNNKIT_HOME", str(home))
        mp.setattr(uea, "get_file", no_download)
        yield d


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _train(out_dir, epochs="1", units="3"):
    return _run(["train", "--dataset", TINY, "--epochs", epochs, "--units", units,
                 "--validation-split", "0", "--verbose", "0", "--output-dir", str(out_dir)])


def _snapshot(out_dir):
    return {n: (out_dir / n).read_bytes() for n in sorted(os.listdir(out_dir))}


def _no_traceback(code, err):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error:"), err


# --------------------------------------------------------------------------- atomic outputs
def test_failed_save_keeps_the_previous_run(offline, tmp_path, monkeypatch):
    code, _, err = _train(tmp_path)
    assert code == 0, err
    before = _snapshot(tmp_path)
    assert set(before) == set(cli.OUTPUT_FILES)

    from rnnkit.models.model import Model

    def broken_save(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Model, "save", broken_save)
    code, _, err = _train(tmp_path, epochs="2")
    _no_traceback(code, err)
    assert "No space left" in err
    assert _snapshot(tmp_path) == before  # nothing lost, nothing mixed


def test_interrupted_training_keeps_the_previous_run(offline, tmp_path, monkeypatch):
    assert _train(tmp_path)[0] == 0
    before = _snapshot(tmp_path)
    from rnnkit.models.model import Model

    real_fit = Model.fit

    def interrupted_fit(self, *a, **k):
        k["callbacks"] = list(k.get("callbacks") or []) + [_Interrupt()]
        return real_fit(self, *a, **k)

    monkeypatch.setattr(Model, "fit", interrupted_fit)
    code, _, err = _train(tmp_path, epochs="3")
    assert code == 130 and "interrupted" in err
    assert _snapshot(tmp_path) == before


class _Interrupt:
    """A callback that presses Ctrl-C after the first epoch (imported lazily below)."""

    def __new__(cls):
        from rnnkit.callbacks import Callback

        class Interrupt(Callback):
            def on_epoch_end(self, epoch, logs=None):
                raise KeyboardInterrupt

        return Interrupt()


def test_failure_while_moving_outputs_in_restores_the_previous_run(offline, tmp_path,
                                                                   monkeypatch):
    assert _train(tmp_path)[0] == 0
    before = _snapshot(tmp_path)
    real_replace, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 6:  # four old files put aside, then the second new file fails
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(cli.os, "replace", flaky)
    code, _, err = _train(tmp_path, epochs="2")
    monkeypatch.setattr(cli.os, "replace", real_replace)
    _no_traceback(code, err)
    assert "previous outputs are kept" in err
    assert _snapshot(tmp_path) == before


def test_retraining_replaces_the_outputs_as_a_set(offline, tmp_path):
    assert _train(tmp_path)[0] == 0
    assert _train(tmp_path, epochs="2", units="4")[0] == 0
    run = json.loads((tmp_path / cli.RUN_FILE).read_text())
    assert run["epochs"] == 2 and run["units"] == 4
    rows = (tmp_path / cli.HISTORY_FILE).read_text().strip().splitlines()
    assert len(rows) == 1 + 2  # header + the new run's two epochs, not the old run's
    from rnnkit.models import load_model

    lstm = load_model(tmp_path / cli.MODEL_FILE).layers[1]
    assert lstm.forward_layer.units == 4
    assert sorted(os.listdir(tmp_path)) == sorted(cli.OUTPUT_FILES)  # no staging folders left


# --------------------------------------------------------------------------- no tracebacks
def test_user_errors_are_one_line(offline, tmp_path, monkeypatch):
    deep = tmp_path / "deep.rnnkit"
    with zipfile.ZipFile(deep, "w") as zf:
        zf.writestr("config.json", "[" * 100_000 + "]" * 100_000)
        zf.writestr("model.safetensors", b"\0" * 8)
    _no_traceback(*_run(["summary", str(deep)])[::2])
    _no_traceback(*_run(["predict", str(deep)])[::2])

    def odd_failure(name, progress=True):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(cli, "load_dataset", odd_failure)
    code, _, err = _run(["train", "--dataset", TINY, "--output-dir", str(tmp_path / "o")])
    _no_traceback(code, err)
    assert "RNNKIT_DEBUG" in err


def test_top_level_help_says_where_every_option_is(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    commands = [a for a in cli.build_parser()._subparsers._group_actions[0].choices]
    assert len(commands) >= 4
    for command in commands:
        assert f"rnnkit {command} --help" in out


# --------------------------------------------------------------------------- UEA files
def _bomb_zip(path, name, size=128 << 20):
    """``<name>.zip`` holding a ``<name>_TRAIN.ts`` of ``size`` bytes (repeated lines)."""
    header = b"@problemName X\n@classLabel true a b\n@data\n"
    line = b"1,2,3,4,5,6,7,8:a\n"
    chunk = line * ((1 << 20) // len(line))
    n = (size - len(header)) // len(chunk)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    data = head + block * n + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(header)
    for _ in range(n):
        crc = zlib.crc32(chunk, crc)
    from tests.test_hardening import _raw_zip

    small = b"@classLabel true a b\n@data\n1:a\n2:b\n"
    path.write_bytes(_raw_zip([
        (f"{name}_TRAIN.ts", 8, data, crc, len(header) + n * len(chunk)),
        (f"{name}_TEST.ts", 0, small, zlib.crc32(small), len(small)),
    ]))


def test_uea_zip_bomb_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RNNKIT_DATASETS_DIR", raising=False)
    monkeypatch.setattr(uea, "get_file", _GET_FILE)  # finds Bomb.zip in path=, no download
    _bomb_zip(tmp_path / "Bomb.zip", "Bomb")
    assert (tmp_path / "Bomb.zip").stat().st_size < 2 << 20
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match="zip bomb"):
            uea.load_data("Bomb", path=tmp_path, progress=False)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.perf_counter() - start < 10 and peak < 200 << 20
    assert not any(p.suffix == ".ts" for p in (tmp_path / "home").rglob("*"))  # nothing extracted


def test_uea_all_missing_values():
    text = "@classLabel true a b\n@data\n?,?:?,?:a\n?:?:b\n"
    with pytest.raises(ValueError, match=r"every value is missing \('\?'\)"):
        uea.read_ts(io.StringIO(text))
    with pytest.warns(UserWarning, match=r"dimension\(s\) \[1\] hold only missing values"):
        uea.read_ts(io.StringIO("@classLabel true a b\n@data\n1,2:?,?:a\n3:?:b\n"))


def test_uea_values_beyond_float32():
    text = "@classLabel true a b\n@data\n1,1e39:a\n2:b\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw numpy overflow warning on the way
        with pytest.raises(ValueError, match=r"line 3: value 1e\+39 is outside the float32 range"):
            uea.read_ts(io.StringIO(text))


# --------------------------------------------------------------------------- benchmark scripts
@pytest.mark.parametrize("script", sorted(
    f for f in os.listdir(os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    if f.startswith("bench_") and f.endswith(".py")))
def test_benchmark_options_have_help_text(script, monkeypatch):
    """Every option of a benchmark script's --help says what it does."""
    import argparse
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", script)
    spec = importlib.util.spec_from_file_location(script[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seen = []
    real_parse = argparse.ArgumentParser.parse_args

    def capture(self, *a, **k):
        seen.extend(act for act in self._actions if act.dest != "help")
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    import inspect

    with pytest.raises(SystemExit):
        module.main([]) if inspect.signature(module.main).parameters else module.main()
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", real_parse)
    assert seen, f"{script} defines no options"
    for action in seen:
        assert action.help and action.help.strip(), f"{script}: {action.option_strings} has no help"


@pytest.mark.parametrize("argv, message", [
    (["--device", "foo"], "expected a torch device such as cpu or cuda, received 'foo'"),
    (["--shapes", "64,28"], "a shape is four positive integers B,T,F,U; received '64,28'"),
] + ([] if torch.cuda.is_available() else [
    (["--device", "cuda"], "this torch sees no CUDA device"),
]))
def test_benchmark_argument_errors_are_one_line(argv, message, capsys):
    """bench_lstm.py refuses a bad device or shape with its own one-line error, before any work."""
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_lstm.py")
    spec = importlib.util.spec_from_file_location("bench_lstm_args", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exc:
        module.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
