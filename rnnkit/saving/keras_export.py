"""Write real Keras 3 files: ``.keras`` model archives and ``.weights.h5`` weight files.

A ``.keras`` file is a zip of three members, as Keras 3.15 writes them:

- ``metadata.json``: ``{"keras_version", "date_saved"}`` (plus ``"saved_by": "rnnkit <version>"``);
- ``config.json``: the model in Keras's serialized form (:func:`rnnkit.saving.model_to_config`)
  with ``compile_config`` (optimizer, loss, metrics) when the model is compiled;
- ``model.weights.h5``: every variable at Keras's path, ``layers/<key>/vars/<i>``, sub-layers
  below under Keras's attribute names (``layers/lstm/cell/vars/0``,
  ``layers/bidirectional/forward_layer/cell/vars/1``), each ``vars`` group tagged with the
  layer's name; ``<key>`` is the snake-case class name numbered per class in layer order.

Keras 3 opens such a file with ``keras.saving.load_model`` and predicts what rnnkit predicts.
A compiled model's file carries the compile config and, for Adam / AdamW / SGD / plain RMSprop,
the optimizer's state in Keras's ``optimizer/vars`` layout (see
:mod:`rnnkit.saving.keras_optimizer`), so Keras (or rnnkit) reloads it compiled and trains on.
Other optimizers start afresh there; the native ``.rnnkit`` format keeps every optimizer's state.

Models that use what only rnnkit has (``time_major=True``, rnnkit's research cells, custom
layers written with torch code) still save, and rnnkit reads them back; Keras cannot rebuild
them, and :func:`save_keras_model` says so in a warning that names them.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import warnings
import zipfile

from rnnkit.saving.atomic import atomic_write

__all__ = ["KERAS_VERSION", "keras_model_config", "save_keras_model", "save_keras_weights"]

KERAS_VERSION = "3.15.1"  # the Keras release whose file layout this writer follows

# Config keys only rnnkit understands; written only when set, and Keras refuses them.
_RNNKIT_ONLY_KEYS = ("time_major", "use_cudnn", "jit_compile")


def _rnnkit_version() -> str:
    import rnnkit

    return str(getattr(rnnkit, "__version__", "unknown"))


# --------------------------------------------------------------------------- config
def _not_for_keras(config, where="model", found=None) -> list[str]:
    """What in a Keras-shaped config dict Keras 3 cannot rebuild (class names / options)."""
    found = [] if found is None else found
    if isinstance(config, dict):
        cls, module = config.get("class_name"), config.get("module")
        inner = config.get("config")
        if isinstance(cls, str) and isinstance(inner, dict):
            if isinstance(module, str) and not module.startswith("keras"):
                found.append(f"{cls} (an rnnkit or user class, module {module!r})")
            where = f"{cls} {inner.get('name', '')!r}".strip()
            for key in _RNNKIT_ONLY_KEYS:
                if key in inner:
                    found.append(f"{where}: option {key}={inner[key]!r}")
        for v in config.values():
            _not_for_keras(v, where, found)
    elif isinstance(config, list):
        for v in config:
            _not_for_keras(v, where, found)
    return found


def keras_model_config(model) -> dict:
    """The ``config.json`` dict of ``model``'s ``.keras`` file (Keras 3's model dict).

    >>> from rnnkit.models import Sequential, Input
    >>> from rnnkit.layers import GRU
    >>> cfg = keras_model_config(Sequential([Input(shape=(None, 3)), GRU(2)]))
    >>> cfg["class_name"], cfg["build_config"]
    ('Sequential', {'input_shape': [None, None, 3]})
    """
    from rnnkit.saving.model_config import model_to_config
    from rnnkit.saving.native import _compile_config

    config = dict(model_to_config(model))
    if config.get("class_name") == "Functional":
        config.setdefault("build_config", {"input_shape": None})
    compile_config = _compile_config(model)
    config["compile_config"] = compile_config if compile_config is not None else {}
    return config


# --------------------------------------------------------------------------- weights (h5)
def _h5py():
    from rnnkit.saving.keras_import import _h5py as get

    return get()


def _numpy(weight):
    import torch

    t = weight.detach().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: Keras casts on assignment
        t = t.float()
    return t.numpy()


def write_keras_h5(model, fileobj, layers=None, include_optimizer=False) -> int:
    """Write ``model``'s variables into ``fileobj`` in Keras 3's h5 layout; returns the count.

    With ``include_optimizer``, a compiled model's optimizer state goes to ``optimizer/vars``
    where Keras's layout can hold it.
    """
    from rnnkit.saving.keras_import import keras_h5_groups
    from rnnkit.saving.keras_optimizer import keras_optimizer_arrays

    h5py = _h5py()
    count = 0
    with h5py.File(fileobj, "w") as h5:
        for path, module, params in keras_h5_groups(model, layers):
            group = h5.require_group(path) if path else h5
            vars_group = group.require_group("vars")
            name = getattr(module, "name", None)
            if isinstance(name, str):
                vars_group.attrs["name"] = name
            for i, p in enumerate(params):
                vars_group.create_dataset(str(i), data=_numpy(p))
                count += 1
        arrays = keras_optimizer_arrays(model) if include_optimizer else None
        if arrays is not None:
            opt_group = h5.create_group("optimizer").create_group("vars")
            opt_group.attrs["name"] = str(model.optimizer.name)
            for i, arr in enumerate(arrays):
                opt_group.create_dataset(str(i), data=arr)
    return count


def save_keras_weights(model, path) -> None:
    """Write ``model``'s weights to a Keras 3 ``.weights.h5`` file (atomically).

    Keras's ``model.load_weights(path)`` reads it into the same architecture built in Keras.

    >>> import os, tempfile
    >>> from rnnkit.models import Sequential, Input
    >>> from rnnkit.layers import LSTM
    >>> model = Sequential([Input(shape=(None, 3)), LSTM(2)])
    >>> save_keras_weights(model, os.path.join(tempfile.mkdtemp(), "m.weights.h5"))
    """
    with atomic_write(os.fspath(path), "w+b") as f:
        write_keras_h5(model, f)


# --------------------------------------------------------------------------- archive
def save_keras_model(model, path, include_optimizer: bool = True) -> str:
    """Write ``model`` as a Keras 3 ``.keras`` archive that Keras 3.15 loads (atomically).

    Args:
        model: a Sequential or functional model (or a subclassed one with ``get_config``).
        path: the file to write; any previous file is replaced only once the new one is complete.
        include_optimizer: write the optimizer's state too, where Keras's layout holds it.

    Returns:
        ``"keras"``, the format written.

    >>> import os, tempfile, numpy as np
    >>> from rnnkit.models import Sequential, Input, load_model
    >>> from rnnkit.layers import LSTM, Dense
    >>> model = Sequential([Input(shape=(None, 3)), LSTM(4), Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
    >>> save_keras_model(model, path)
    'keras'
    >>> x = np.ones((2, 5, 3), "float32")
    >>> bool(np.allclose(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0)))
    True
    """
    path = os.fspath(path)
    config = keras_model_config(model)
    try:
        config_bytes = json.dumps(config).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ValueError(f"the model config of {model.name!r} is not JSON-serialisable: {e}") from e
    foreign = _not_for_keras(config)
    if foreign:
        warnings.warn(
            f"{path!r}: Keras 3 cannot rebuild this model, which uses what only rnnkit has: "
            f"{'; '.join(foreign[:6])}{' ...' if len(foreign) > 6 else ''}. rnnkit loads the "
            "file; for Keras, save a model without these.",
            stacklevel=3,
        )
    weights = io.BytesIO()
    write_keras_h5(model, weights, include_optimizer=include_optimizer)
    metadata = {
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "saved_by": f"rnnkit {_rnnkit_version()}",
    }
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", json.dumps(metadata))
            zf.writestr("config.json", config_bytes)
            zf.writestr("model.weights.h5", weights.getvalue())
    return "keras"
