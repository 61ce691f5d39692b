"""Hostile and damaged model files (issue 11): each is refused with rnnkit's FileFormatError,
in bounded time and memory; compile-time checks of losses and metrics; how files are written."""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit.models import Input, Sequential
from rnnkit.saving import FileFormatError, load_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def bounded(seconds=10.0, megabytes=200):
    """The block must finish within ``seconds`` and allocate (Python-side) < ``megabytes``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.0f} MB"


def _model():
    model = Sequential([Input(shape=(None, 3)), L.LSTM(4), L.Dense(2)], name="small")
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("hardening") / "small.rnnkit"
    _model().save(path)
    return path


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members: dict) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data if isinstance(data, bytes) else data.encode())
    return str(path)


def _with_config(saved, tmp_path, edit, name="edited.rnnkit"):
    members = _members(saved)
    config = json.loads(members["config.json"])
    out = edit(config)
    members["config.json"] = json.dumps(config if out is None else out)
    return _write(tmp_path / name, members)


def _layer_cfg(config, class_name):
    return next(d for d in config["config"]["layers"] if d["class_name"] == class_name)


def _raw_zip(entries) -> bytes:
    """A zip built by hand from ``(name, method, stored bytes, crc32, uncompressed size)``."""
    out, central = bytearray(), bytearray()
    for name, method, data, crc, usize in entries:
        offset, n = len(out), name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data),
                           usize, len(n), 0) + n + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc,
                               len(data), usize, len(n), 0, 0, 0, 0, 0, offset) + n
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                       start, 0)
    return bytes(out)


def _bomb_member(prefix: bytes, zero_chunks: int, chunk=1 << 24):
    """A deflate stream of ``prefix`` + ``zero_chunks`` x 16 MiB of zeros, built in O(output)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(b"\0" * chunk) + c.flush(zlib.Z_FULL_FLUSH)  # the same after each reset
    data = head + block * zero_chunks + c.flush(zlib.Z_FINISH)
    crc, zeros = zlib.crc32(prefix), b"\0" * chunk
    for _ in range(zero_chunks):
        crc = zlib.crc32(zeros, crc)
    return data, crc, len(prefix) + zero_chunks * chunk


@pytest.fixture(scope="module")
def bomb(saved, tmp_path_factory):
    """The small model with a weight member that inflates to 3 GiB (valid zip, correct CRC)."""
    members = _members(saved)
    data, crc, usize = _bomb_member(members["model.safetensors"], 192)
    entries = [(n, 0, b, zlib.crc32(b), len(b)) for n, b in members.items()
               if n != "model.safetensors"]
    entries.append(("model.safetensors", 8, data, crc, usize))
    path = tmp_path_factory.mktemp("bomb") / "bomb.rnnkit"
    path.write_bytes(_raw_zip(entries))
    assert usize > 3 * 2**30 and path.stat().st_size < 20 * 2**20
    return path


# --------------------------------------------------------------------------- size caps
def test_zip_bomb_refused_before_inflating(bomb):
    with zipfile.ZipFile(bomb) as zf:  # it is a genuine bomb: a plain reader inflates 3 GiB
        assert zf.getinfo("model.safetensors").file_size > 3 * 2**30
    with bounded(), pytest.raises(FileFormatError, match="bomb|inflate"):
        load_model(bomb)


def test_member_declaring_more_than_its_header_is_refused(saved, tmp_path):
    # Stored (no compression), so the ratio guard does not apply: the safetensors header
    # describes fewer bytes than the member declares.
    members = _members(saved)
    members["model.safetensors"] += b"\0" * (70 * 2**20)
    path = _write(tmp_path / "padded.rnnkit", members)
    with bounded(megabytes=60), pytest.raises(FileFormatError, match="header describes"):
        load_model(path)


def test_archive_larger_than_memory_is_refused(bomb, monkeypatch):
    monkeypatch.setenv("RNNKIT_MAX_LOAD_BYTES", str(2**30))
    monkeypatch.setattr("rnnkit.saving.archive.BOMB_FLOOR_BYTES", 2**40)  # ratio guard off
    with bounded(), pytest.raises(FileFormatError, match="more than this machine's memory"):
        load_model(bomb)


@pytest.mark.parametrize("units", [6000, 10**12])
def test_config_declaring_huge_layer_beside_small_weights(saved, tmp_path, units):
    def edit(config):
        _layer_cfg(config, "LSTM")["config"]["units"] = units

    path = _with_config(saved, tmp_path, edit)
    with bounded(), pytest.raises(FileFormatError, match="does not fit the weights") as err:
        load_model(path)
    assert "lstm" in str(err.value)


def _billion_features(saved, tmp_path):
    def edit(config):
        _layer_cfg(config, "InputLayer")["config"]["batch_shape"] = [None, None, 10**9]

    return _with_config(saved, tmp_path, edit, name="billion.rnnkit")


def test_input_layer_with_a_billion_features(saved, tmp_path):
    # (run in the address-space-limited subprocess below too: a regression here would try to
    # allocate 24 GB of example inputs)
    path = _billion_features(saved, tmp_path)
    with pytest.raises(FileFormatError, match="values per sample"):
        _load_limited(path)


def _load_limited(path):
    script = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
        from rnnkit.saving import FileFormatError, load_model
        try:
            load_model(sys.argv[1])
        except FileFormatError as e:
            print("FileFormatError:", e)
            sys.exit(3)
    """)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", script, str(path)], env=env,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode == 3:
        raise FileFormatError(proc.stdout.strip())
    raise AssertionError(f"status {proc.returncode}: {proc.stderr[-2000:]}")


def test_hostile_files_bounded_in_process_memory(saved, bomb, tmp_path):
    """Resident memory (torch allocations included) of a fresh process loading each file."""
    paths = [str(bomb), _billion_features(saved, tmp_path)]
    for units in (6000, 10**12):
        paths.append(_with_config(saved, tmp_path, lambda c, u=units: _layer_cfg(
            c, "LSTM")["config"].__setitem__("units", u), name=f"u{units}.rnnkit"))
    script = textwrap.dedent("""
        import json, resource, sys, time
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # protect the machine
        from rnnkit.saving import FileFormatError, load_model
        load_model(sys.argv[1])  # warm up: imports and a normal load
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = []
        for p in sys.argv[2:]:
            t = time.perf_counter()
            try:
                load_model(p)
                kind = "loaded"
            except FileFormatError:
                kind = "FileFormatError"
            grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
            out.append([kind, time.perf_counter() - t, grew / 1024])
        print(json.dumps(out))
    """)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", script, str(saved), *paths], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for path, (kind, seconds, grew_mb) in zip(paths, json.loads(proc.stdout.splitlines()[-1])):
        assert kind == "FileFormatError", path
        assert seconds < 10, (path, seconds)
        assert grew_mb < 200, (path, grew_mb)


# --------------------------------------------------------------------------- nesting
@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_config_json(saved, tmp_path, depth):
    members = _members(saved)
    members["config.json"] = "[" * depth + "]" * depth
    path = _write(tmp_path / "deep.rnnkit", members)
    with bounded(), pytest.raises(FileFormatError, match="nested"):
        load_model(path)


def test_240_nested_sequentials(saved, tmp_path):
    members = _members(saved)
    config = json.loads(members["config.json"])
    inner = json.dumps(_layer_cfg(config, "Dense"))
    for i in range(240):
        inner = ('{"module": "keras", "class_name": "Sequential", "registered_name": null, '
                 f'"config": {{"name": "s{i}", "layers": [{inner}]}}}}')
    text = json.dumps(config).replace(json.dumps(_layer_cfg(config, "Dense")), inner)
    members["config.json"] = text
    path = _write(tmp_path / "nested.rnnkit", members)
    with bounded(), pytest.raises(FileFormatError, match="nested"):
        load_model(path)


def test_nesting_within_the_limit_still_loads_or_is_refused_cleanly(saved, tmp_path):
    members = _members(saved)
    config = json.loads(members["config.json"])
    dense = _layer_cfg(config, "Dense")
    inner = dense
    for i in range(12):
        inner = {"module": "keras", "class_name": "Sequential", "registered_name": None,
                 "config": {"name": f"s{i}", "layers": [inner]}}
    config["config"]["layers"][-1] = inner
    members["config.json"] = json.dumps(config)
    path = _write(tmp_path / "nested12.rnnkit", members)
    try:
        model = load_model(path)
    except FileFormatError:
        return
    out = model.predict(np.ones((1, 2, 3), "float32"), verbose=0)
    assert out.shape == (1, 2) and np.isfinite(out).all()


# --------------------------------------------------------------------------- bad configs
def test_abstract_layer_class_in_config(saved, tmp_path):
    def edit(config):
        d = _layer_cfg(config, "Dense")
        d["class_name"] = "Layer"
        d["config"] = {"name": "abstract"}

    path = _with_config(saved, tmp_path, edit)
    with pytest.raises(FileFormatError, match="cannot be built"):
        load_model(path)


@pytest.mark.parametrize("where", ["Dense", "LSTM", "InputLayer"])
def test_negative_dimension_in_config(saved, tmp_path, where):
    def edit(config):
        d = _layer_cfg(config, where)
        if where == "InputLayer":
            d["config"]["batch_shape"] = [None, None, -3]
        else:
            d["config"]["units"] = -3

    path = _with_config(saved, tmp_path, edit)
    with pytest.raises(FileFormatError, match="negative|-3"):
        load_model(path)


def test_unknown_loss_in_compile_config_refused_at_load(saved, tmp_path):
    def edit(config):
        config["compile_config"]["loss"] = "eval"

    path = _with_config(saved, tmp_path, edit)
    with pytest.raises(FileFormatError, match="Unknown loss 'eval'"):
        load_model(path)
    assert load_model(path, compile=False).compiled is False  # the model itself is fine


def test_nan_weights_refused(saved, tmp_path):
    from safetensors.torch import load, save

    members = _members(saved)
    tensors = load(members["model.safetensors"])
    key = sorted(tensors)[0]
    tensors[key][0, 0] = float("nan")
    members["model.safetensors"] = save(tensors)
    path = _write(tmp_path / "nan.rnnkit", members)
    with pytest.raises(FileFormatError, match="NaN"):
        load_model(path)


def test_json_infinity_refused(saved, tmp_path):
    members = _members(saved)
    members["config.json"] = members["config.json"].decode().replace('"units": 4', '"units": Infinity')
    path = _write(tmp_path / "inf.rnnkit", members)
    with pytest.raises(FileFormatError, match="JSON"):
        load_model(path)


# --------------------------------------------------------------------------- compile checks
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loss": "nope"}, "Unknown loss 'nope'"),
        ({"loss": "mse", "metrics": ["nope"]}, "Unknown metric 'nope'"),
        ({"loss": {"dense": "nope"}}, "Unknown loss 'nope'"),
        ({"loss": "mse", "metrics": [3]}, "cannot interpret the metric 3"),
    ],
)
def test_compile_refuses_unknown_names(kwargs, match):
    model = Sequential([Input(shape=(None, 3)), L.LSTM(4), L.Dense(2)])
    with pytest.raises(ValueError, match=match):
        model.compile(optimizer="adam", **kwargs)


def test_compile_accepts_known_names():
    model = Sequential([Input(shape=(None, 3)), L.LSTM(4), L.Dense(2)])
    model.compile("adam", loss="ce", metrics=["acc", "mae", "AUC"])
    model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


# --------------------------------------------------------------------------- writing files
@pytest.fixture
def umask022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_saved_files_get_the_umask_mode(tmp_path, umask022):
    from rnnkit.callbacks import ModelCheckpoint

    model = _model()
    model.save(tmp_path / "m.rnnkit")
    model.save_weights(tmp_path / "w.safetensors")
    model.save_weights(tmp_path / "w.weights.h5")
    x, y = np.ones((4, 2, 3), "float32"), np.zeros((4, 2), "float32")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "ck.rnnkit"))])
    for name in ("m.rnnkit", "w.safetensors", "w.weights.h5", "ck.rnnkit"):
        assert _mode(tmp_path / name) == 0o644, name
    os.umask(0o077)
    model.save(tmp_path / "private.rnnkit")
    assert _mode(tmp_path / "private.rnnkit") == 0o600
    os.chmod(tmp_path / "m.rnnkit", 0o640)  # replacing a file keeps its mode
    model.save(tmp_path / "m.rnnkit")
    assert _mode(tmp_path / "m.rnnkit") == 0o640
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_save_to_empty_path_or_directory_names_the_target(tmp_path, monkeypatch):
    model = _model()
    monkeypatch.chdir(tmp_path / "..")
    before = set(os.listdir(tmp_path / ".."))
    with pytest.raises(ValueError, match="received the path ''"):
        model.save("")
    with pytest.raises(IsADirectoryError) as err:
        model.save(str(tmp_path))
    assert err.value.filename == str(tmp_path)
    assert set(os.listdir(tmp_path / "..")) == before  # no temporary file left anywhere


def test_save_into_unwritable_place_names_the_target(tmp_path, monkeypatch):
    model = _model()
    target = "/proc/rnnkit-hardening/m.rnnkit"  # read-only even for root
    with pytest.raises(OSError) as err:
        model.save(target)
    assert err.value.filename == target and ".tmp-" not in str(err.value)

    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(kwargs["dir"], ".tmp-x"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as err:
        model.save(tmp_path / "m.rnnkit")
    assert err.value.filename == str(tmp_path / "m.rnnkit")


def test_temporary_file_is_created_beside_the_target(tmp_path, monkeypatch):
    import tempfile

    seen = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        seen.append(kwargs["dir"])
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    monkeypatch.chdir(tmp_path)
    _model().save("rel.rnnkit")
    assert seen == [str(tmp_path)]
