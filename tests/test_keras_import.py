"""Keras 3 ``.keras`` files: every fixture model loads and predicts what Keras predicted."""

from __future__ import annotations

import glob
import io
import json
import os
import zipfile

import numpy as np
import pytest

from rnnkit.saving import FileFormatError, load_keras_model, load_model
from rnnkit.saving.keras_import import model_weight_paths
from rnnkit.saving.model_config import _build

h5py = pytest.importorskip("h5py")

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras_models")
MODELS = sorted(os.path.basename(p)[: -len(".keras")] for p in glob.glob(os.path.join(HERE, "*.keras")))


def _arrays(name):
    with np.load(os.path.join(HERE, f"{name}.npz")) as z:
        xs = [z[f"x_{i}"] for i in range(len(z.files)) if f"x_{i}" in z.files]
        ys = [z[f"y_{i}"] for i in range(len(z.files)) if f"y_{i}" in z.files]
    return xs, ys


def _predict(model, xs):
    y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return y if isinstance(y, list | tuple) else [y]


def test_all_seven_fixtures_present():
    assert len(MODELS) == 7, MODELS


@pytest.mark.parametrize("name", MODELS)
def test_fixture_predicts_like_keras(name):
    model = load_keras_model(os.path.join(HERE, f"{name}.keras"))
    xs, ys = _arrays(name)
    for got, want in zip(_predict(model, xs), ys):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_load_model_dispatches_keras_files(name):
    model = load_model(os.path.join(HERE, f"{name}.keras"))
    xs, ys = _arrays(name)
    np.testing.assert_allclose(np.asarray(_predict(model, xs)[0]), ys[0], atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_structural_paths_match_keras_layout(name):
    """The snake-case-per-class paths (used when names differ) cover exactly the file's variables."""
    with zipfile.ZipFile(os.path.join(HERE, f"{name}.keras")) as zf:
        config = json.loads(zf.read("config.json"))
        h5 = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    found = []
    h5.visititems(lambda k, o: found.append(k) if isinstance(o, h5py.Dataset) else None)
    model, layers = _build(config)
    paths = [p for p, _ in model_weight_paths(model, layers)]
    assert sorted(paths) == sorted(found)
    assert len(paths) == len(model.weights)


@pytest.mark.parametrize("name", ["encoder_decoder", "masking_gru_timedistributed"])
def test_load_weights_from_keras_weights_h5(tmp_path, name):
    with zipfile.ZipFile(os.path.join(HERE, f"{name}.keras")) as zf:
        config = json.loads(zf.read("config.json"))
        (tmp_path / "m.weights.h5").write_bytes(zf.read("model.weights.h5"))
    model, _ = _build(config)  # fresh random weights
    model.load_weights(str(tmp_path / "m.weights.h5"))
    xs, ys = _arrays(name)
    np.testing.assert_allclose(np.asarray(_predict(model, xs)[0]), ys[0], atol=1e-4, rtol=0)


def _rewrite(src, dst, replace: dict):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in replace:
                if replace[name] is not None:
                    zout.writestr(name, replace[name])
            else:
                zout.writestr(name, zin.read(name))
    for name, data in replace.items():
        if data is not None and name not in zipfile.ZipFile(src).namelist():
            with zipfile.ZipFile(dst, "a") as z:
                z.writestr(name, data)


def test_keras_file_missing_weights_member(tmp_path):
    dst = tmp_path / "bad.keras"
    _rewrite(os.path.join(HERE, "embed_lstm_dense.keras"), dst, {"model.weights.h5": None})
    with pytest.raises(FileFormatError, match="model.weights.h5|neither"):
        load_model(dst)
    with pytest.raises(FileFormatError, match="model.weights.h5"):
        load_keras_model(dst)


def test_keras_file_wrong_shape_names_layer_and_shapes(tmp_path):
    src = os.path.join(HERE, "embed_lstm_dense.keras")
    with zipfile.ZipFile(src) as zf:
        raw = zf.read("model.weights.h5")
    buf = io.BytesIO(raw)
    with h5py.File(buf, "a") as h5:
        del h5["layers/dense/vars/0"]
        h5["layers/dense/vars/0"] = np.zeros((3, 3), "float32")
    dst = tmp_path / "shape.keras"
    _rewrite(src, dst, {"model.weights.h5": buf.getvalue()})
    with pytest.raises(FileFormatError, match=r"layers/dense/vars/0.*\(3, 3\).*\(12, 5\)"):
        load_keras_model(dst)


def test_keras_file_extra_variable_is_reported(tmp_path):
    src = os.path.join(HERE, "embed_lstm_dense.keras")
    with zipfile.ZipFile(src) as zf:
        raw = zf.read("model.weights.h5")
    buf = io.BytesIO(raw)
    with h5py.File(buf, "a") as h5:
        h5["layers/dense/vars/2"] = np.zeros((5,), "float32")
    dst = tmp_path / "extra.keras"
    _rewrite(src, dst, {"model.weights.h5": buf.getvalue()})
    with pytest.raises(FileFormatError, match="no weight for"):
        load_keras_model(dst)


def test_keras_file_unknown_layer_class(tmp_path):
    src = os.path.join(HERE, "embed_lstm_dense.keras")
    with zipfile.ZipFile(src) as zf:
        config = json.loads(zf.read("config.json"))
    config["config"]["layers"][2]["class_name"] = "FancyLSTM"
    dst = tmp_path / "unknown.keras"
    _rewrite(src, dst, {"config.json": json.dumps(config)})
    with pytest.raises(ValueError, match="FancyLSTM.*register_keras_serializable"):
        load_keras_model(dst)


def test_keras_file_damaged_h5(tmp_path):
    dst = tmp_path / "h5.keras"
    _rewrite(os.path.join(HERE, "embed_lstm_dense.keras"), dst, {"model.weights.h5": b"garbage"})
    with pytest.raises(FileFormatError, match="HDF5"):
        load_keras_model(dst)


def test_keras_compile_config_is_applied(tmp_path):
    src = os.path.join(HERE, "embed_lstm_dense.keras")
    with zipfile.ZipFile(src) as zf:
        config = json.loads(zf.read("config.json"))
    adam = {"name": "adam", "learning_rate": 0.002, "weight_decay": None, "clipnorm": None,
            "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
            "ema_overwrite_frequency": None, "loss_scale_factor": None,
            "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
            "epsilon": 1e-07, "amsgrad": False}
    config["compile_config"] = {
        "optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": adam,
                      "registered_name": None},
        "loss": "mse", "loss_weights": None, "metrics": ["mae"], "weighted_metrics": None,
        "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
    }
    dst = tmp_path / "compiled.keras"
    _rewrite(src, dst, {"config.json": json.dumps(config)})
    assert not load_keras_model(dst).compiled
    model = load_model(dst)
    assert model.compiled and abs(model.optimizer.learning_rate - 0.002) < 1e-12
    x = np.random.default_rng(0).integers(1, 60, (4, 9))
    model.train_on_batch(x, np.zeros((4, 5), "float32"))
