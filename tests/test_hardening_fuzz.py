"""Fuzzing the model readers (issue 11): mutated ``.rnnkit`` and ``.keras`` archives either load a
model that predicts finite numbers or raise FileFormatError -- nothing else, and never hang.

Derandomized (the same examples every run) and bounded (a few dozen examples per format).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit import layers as L
from rnnkit.models import Input, Sequential
from rnnkit.saving import FileFormatError, load_model

pytest.importorskip("h5py")

_DIR = tempfile.mkdtemp(prefix="rnnkit-fuzz-")


def _archive(ext: str) -> bytes:
    model = Sequential([Input(shape=(None, 3)), L.GRU(3, return_sequences=True),
                        L.Bidirectional(L.LSTM(2)), L.Dense(2, activation="softmax")],
                       name="fuzzed")
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    path = os.path.join(_DIR, f"valid{ext}")
    model.save(path)
    with open(path, "rb") as f:
        return f.read()


VALID = {ext: _archive(ext) for ext in (".rnnkit", ".keras")}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.sampled_from([0, 1, -1, 10**12])
    | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.text(max_size=8)
    | st.sampled_from(["Layer", "LSTM", "Dense", "InputLayer", "eval", "float16", "relu"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=6,
)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _paths(node, prefix=()):
    """Every path into a JSON document (dict keys and list indices)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _set(node, path, value):
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@st.composite
def mutated(draw, ext):
    data = VALID[ext]
    kind = draw(st.sampled_from(["bytes", "member", "json", "json", "json"]))
    if kind == "bytes":
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
        if draw(st.booleans()):
            buf = buf[: draw(st.integers(0, len(buf)))]
        return bytes(buf)
    members = _members(data)
    names = sorted(members)
    if kind == "member":
        name = draw(st.sampled_from(names))
        action = draw(st.sampled_from(["drop", "junk", "truncate", "swap"]))
        if action == "drop":
            del members[name]
        elif action == "junk":
            members[name] = draw(st.binary(max_size=64))
        elif action == "truncate":
            members[name] = members[name][: draw(st.integers(0, len(members[name])))]
        else:
            other = draw(st.sampled_from(names))
            members[name], members[other] = members[other], members[name]
        return _zip(members)
    config = json.loads(members["config.json"])
    paths = [p for p in _paths(config) if p]
    for _ in range(draw(st.integers(1, 3))):
        _set(config, draw(st.sampled_from(paths)), draw(json_values))
        paths = [p for p in _paths(config) if p]
    members["config.json"] = json.dumps(config).encode()
    return _zip(members)


def _check(data: bytes, ext: str):
    fd, path = tempfile.mkstemp(suffix=ext, dir=_DIR)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    start = time.perf_counter()
    try:
        model = load_model(path)
    except FileFormatError:
        return
    finally:
        os.remove(path)
        assert time.perf_counter() - start < 20, "load_model took too long"
    shape = [2 if d is None else d for d in model.inputs[0].shape]
    assert 0 < int(np.prod(shape)) < 10**6, shape
    out = model.predict(np.random.default_rng(0).random(shape).astype("float32"), verbose=0)
    assert np.isfinite(np.asarray(out, dtype="float64")).all()


_SETTINGS = settings(derandomize=True, max_examples=25, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("ext", [".rnnkit", ".keras"])
def test_valid_archives_load(ext):
    _check(VALID[ext], ext)


@_SETTINGS
@given(data=mutated(".rnnkit"))
def test_fuzz_rnnkit_archives(data):
    _check(data, ".rnnkit")


@_SETTINGS
@given(data=mutated(".keras"))
def test_fuzz_keras_archives(data):
    _check(data, ".keras")
