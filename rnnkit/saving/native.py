"""rnnkit's own model file: one zip, no pickle, written atomically.

Members of the zip:

- ``config.json``: the model config in Keras 3's form (``module``, ``class_name``, ``config``,
  ``registered_name``) plus ``"format": "rnnkit"``, ``"format_version"``, the weight count and
  ``compile_config`` (optimizer config, loss / metric names) when the model was compiled;
- ``metadata.json``: rnnkit version and save date;
- ``model.safetensors``: every weight of ``model.weights`` (non-trainable ones such as
  BatchNormalization's moving statistics included), keyed ``"<index>/<keras path>"``, e.g.
  ``"0003/layers/lstm/cell/vars/0"``;
- ``optimizer.safetensors`` + ``optimizer.json``: the optimizer state
  (``Optimizer.flatten_state()``), when saved with ``include_optimizer=True``;
- ``assets/<layer name>/...``: layer state that is no weight (a lookup's ``vocabulary.txt``,
  tf-idf weights), see :mod:`rnnkit.saving.layer_assets`.

Loading uses only ``json.loads``, ``safetensors.torch.load`` and rnnkit's class registry:
nothing named by a file is imported, unpickled or evaluated.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import warnings
import zipfile

import torch

from rnnkit.saving import archive
from rnnkit.saving.archive import FileFormatError
from rnnkit.saving.atomic import atomic_write

__all__ = [
    "FileFormatError",
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]

FORMAT_NAME = "rnnkit"
FORMAT_VERSION = 1
_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.safetensors"
_OPT_WEIGHTS = "optimizer.safetensors"
_OPT_META = "optimizer.json"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _version() -> str:
    try:
        import rnnkit

        return str(getattr(rnnkit, "__version__", "unknown"))
    except ImportError:  # pragma: no cover
        return "unknown"


# --------------------------------------------------------------------------- reading helpers
# The bounded zip reading lives in rnnkit.saving.archive (shared with the Keras reader); these
# names stay for the modules that import them from here.
_read_zip = archive.open_zip
_read_member = archive.read_member
_read_json_member = archive.read_json_member


def _read_bytes(path, where: str) -> bytes:
    path = os.fspath(path)
    if os.path.isdir(path):
        raise FileFormatError(f"{where}: is a directory, expected a model file")
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file") from None
    except OSError as e:
        raise FileFormatError(f"{where}: cannot be read ({e})") from e
    if size > archive.memory_limit():
        raise FileFormatError(f"{where}: {size} bytes, more than this machine's memory")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FileFormatError(f"{where}: cannot be read ({e})") from e


def _load_safetensors(raw: bytes, where: str, name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    try:
        return load(raw)
    except Exception as e:  # safetensors raises its own SafetensorError
        raise FileFormatError(f"{where}: {name!r} is not a valid safetensors file ({e})") from e


# --------------------------------------------------------------------------- weights
def _weight_keys(model) -> list[tuple[str, torch.nn.Parameter]]:
    from rnnkit.saving.keras_import import model_weight_paths

    try:
        paths = {id(p): path for path, p in model_weight_paths(model)}
    except Exception:  # noqa: BLE001 - paths are only labels; the index is what counts
        paths = {}
    weights = list(model.weights)
    return [(f"{i:04d}/{paths.get(id(w), 'weight')}", w) for i, w in enumerate(weights)]


def _weights_bytes(model) -> tuple[bytes, int]:
    from safetensors.torch import save

    keyed = _weight_keys(model)
    tensors = {k: w.detach().cpu().contiguous().clone() for k, w in keyed}
    meta = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "count": str(len(keyed))}
    return save(tensors, metadata=meta), len(keyed)


_ALLOWED_DTYPES = ("F16", "BF16", "F32", "F64", "F8_E5M2", "F8_E4M3", "I32", "I64", "BOOL")
_DTYPE_NAMES = {
    torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32", torch.float64: "F64",
    torch.int32: "I32", torch.int64: "I64", torch.bool: "BOOL", torch.uint8: "U8",
    torch.int8: "I8", torch.int16: "I16",
}


def _check_entries(model, entries: dict, where: str) -> dict:
    """Check ``{key: (dtype name, shape)}`` against ``model.weights``; ``{index: key}``.

    Called with a safetensors header before the weight data is read.
    """
    weights = list(model.weights)
    indexed = {}
    for key in entries:
        head = key.split("/", 1)[0]
        if not head.isdigit():
            raise FileFormatError(
                f"{where}: unexpected weight key {key!r}; expected '<index>/<path>' keys"
            )
        indexed[int(head)] = key
    if len(indexed) != len(weights) or sorted(indexed) != list(range(len(weights))):
        raise FileFormatError(
            f"{where}: the file holds {len(indexed)} weights, the model has {len(weights)} "
            f"(model weight shapes {[tuple(w.shape) for w in weights][:12]}"
            f"{' ...' if len(weights) > 12 else ''})"
        )
    labels = [k for k, _ in _weight_keys(model)]
    for i, w in enumerate(weights):
        key = indexed[i]
        dtype, shape = entries[key]
        if tuple(shape) != tuple(w.shape):
            raise FileFormatError(
                f"{where}: weight {i} ({key!r}) has shape {tuple(shape)} in the file, the "
                f"model's weight {labels[i]!r} has shape {tuple(w.shape)}"
            )
        if dtype not in _ALLOWED_DTYPES:
            raise FileFormatError(f"{where}: weight {key!r} has unsupported dtype {dtype}")
    return indexed


def _assign_weights(model, tensors: dict, where: str) -> None:
    entries = {
        k: (_DTYPE_NAMES.get(v.dtype, str(v.dtype)), tuple(v.shape)) for k, v in tensors.items()
    }
    indexed = _check_entries(model, entries, where)
    for key in indexed.values():
        value = tensors[key]
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise FileFormatError(f"{where}: weight {key!r} holds NaN or infinite values")
    with torch.no_grad():
        for i, w in enumerate(model.weights):
            w.copy_(tensors[indexed[i]].to(device=w.device, dtype=w.dtype))


def save_weights(model, path) -> None:
    """Write ``model.weights`` to a ``.safetensors`` file, or Keras's ``.weights.h5`` (atomically).

    >>> import os, tempfile
    >>> from rnnkit.models import Sequential, Input
    >>> from rnnkit.layers import LSTM
    >>> model = Sequential([Input(shape=(None, 3)), LSTM(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_weights(model, path)
    >>> load_weights(model, path)
    """
    path = os.fspath(path)
    if path.endswith(".h5"):  # Keras 3's ``.weights.h5`` layout, readable by Keras too
        from rnnkit.saving.keras_export import save_keras_weights

        save_keras_weights(model, path)
        return
    if not path.endswith(".safetensors"):
        raise ValueError(
            f"save_weights writes '.safetensors' (or Keras '.weights.h5') files, received the "
            f"path {path!r}"
        )
    data, _ = _weights_bytes(model)
    with atomic_write(path, "wb") as f:
        f.write(data)


def load_weights(model, path) -> None:
    """Load weights into ``model`` from a ``.safetensors`` file (from :func:`save_weights`),
    an rnnkit model file, a Keras 3 ``.weights.h5`` file or a Keras ``.keras`` file."""
    path = os.fspath(path)
    where = f"weight file {path!r}"
    data = _read_bytes(path, where)
    if data[:8] == _HDF5_MAGIC:
        from rnnkit.saving.keras_import import _load_h5_bytes

        _load_h5_bytes(data, model, where)
        return
    if data[:4] == b"PK\x03\x04":
        with _read_zip(path, where) as zf:
            names = set(zf.namelist())
            if _WEIGHTS in names:
                raw = _read_member(zf, _WEIGHTS, where)
                _assign_weights(model, _load_safetensors(raw, where, _WEIGHTS), where)
            elif "model.weights.h5" in names:
                from rnnkit.saving.keras_import import _load_h5_bytes

                _load_h5_bytes(_read_member(zf, "model.weights.h5", where), model, where)
            else:
                raise FileFormatError(
                    f"{where}: a zip without '{_WEIGHTS}' or 'model.weights.h5' "
                    f"(members: {sorted(names)})"
                )
        return
    _assign_weights(model, _load_safetensors(data, where, os.path.basename(path)), where)


# --------------------------------------------------------------------------- compile config
def _spec_to_json(spec, kind: str):
    """Loss / metric specs as JSON: names stay names, objects with configs become dicts."""
    if spec is None or isinstance(spec, str | int | float | bool):
        return spec
    if isinstance(spec, list | tuple):
        return [_spec_to_json(s, kind) for s in spec]
    if isinstance(spec, dict):
        return {str(k): _spec_to_json(v, kind) for k, v in spec.items()}
    mod = __import__("rnnkit.training." + kind, fromlist=["serialize"])
    try:
        out = mod.serialize(spec)
        json.dumps(out)
        return out
    except Exception:  # noqa: BLE001
        warnings.warn(
            f"The {kind[:-1]} {spec!r} cannot be saved by name or config; it is left out of the "
            "saved compile config.",
            stacklevel=4,
        )
        return None


def _compile_config(model):
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(model, "compiled", False):
        return None
    from rnnkit.training import optimizers

    loss_weights = getattr(model, "_loss_weights", None)
    try:
        json.dumps(loss_weights)
    except TypeError:
        loss_weights = None
    return {
        "optimizer": optimizers.serialize(opt),
        "loss": _spec_to_json(getattr(model, "_loss_spec", None), "losses"),
        "metrics": _spec_to_json(getattr(model, "_metric_spec", None), "metrics"),
        "loss_weights": loss_weights,
    }


def _compile_from_saved(model, cc, custom_objects, where):
    from rnnkit.training import losses, metrics, optimizers

    def decode(spec, module):
        if isinstance(spec, dict) and "class_name" in spec:
            return module.deserialize(spec, custom_objects=custom_objects)
        if isinstance(spec, list):
            return [decode(s, module) for s in spec]
        if isinstance(spec, dict):
            return {k: decode(v, module) for k, v in spec.items()}
        return spec

    try:
        opt = optimizers.deserialize(cc["optimizer"], custom_objects=custom_objects)
        model.compile(
            optimizer=opt,
            loss=decode(cc.get("loss"), losses),
            metrics=decode(cc.get("metrics"), metrics),
            loss_weights=cc.get("loss_weights"),
        )
    except Exception as e:  # noqa: BLE001 - whatever a damaged compile config makes compile raise
        raise FileFormatError(f"{where}: the saved compile config cannot be applied ({e})") from e


# --------------------------------------------------------------------------- save / load
def _write_member(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    zf.writestr(name, data)


def save_model(model, path, include_optimizer: bool = True, format: str | None = None) -> str:
    """Write ``model`` to one file and return which format was written: ``"rnnkit"`` or ``"keras"``.

    - A path ending in ``.keras`` (or ``format="keras"``) gets a real Keras 3 archive
      (``metadata.json``, ``config.json``, ``model.weights.h5``) that Keras 3 loads and that
      predicts the same there; see :mod:`rnnkit.saving.keras_export`. It holds the compile
      config and, for Adam / AdamW / SGD / plain RMSprop, the optimizer's state.
    - Any other path (``.rnnkit`` by convention, or ``format="rnnkit"``) gets rnnkit's native
      zip: config, safetensors weights, compile config and, with ``include_optimizer``, the
      optimizer's state.

    The file is written next to ``path`` and moved into place only once complete, so a failed
    save leaves any previous file intact.

    >>> import os, tempfile, numpy as np
    >>> from rnnkit.models import Sequential, Input
    >>> from rnnkit.layers import GRU, Dense
    >>> model = Sequential([Input(shape=(None, 3)), GRU(4), Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.rnnkit")
    >>> save_model(model, path)
    'rnnkit'
    >>> x = np.ones((2, 5, 3), "float32")
    >>> bool(np.allclose(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0)))
    True
    """
    from rnnkit.saving.model_config import model_to_config

    path = os.fspath(path)
    if format is None:
        format = "keras" if path.endswith(".keras") else FORMAT_NAME
    if format not in ("keras", FORMAT_NAME):
        raise ValueError(f"save_model: format must be 'keras' or 'rnnkit', received {format!r}")
    if format == "keras":
        from rnnkit.saving.keras_export import save_keras_model

        return save_keras_model(model, path, include_optimizer=include_optimizer)
    config = dict(model_to_config(model))
    weights, count = _weights_bytes(model)
    config.update(
        {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "weights": {"file": _WEIGHTS, "count": count},
            "compile_config": _compile_config(model),
        }
    )
    members = []
    opt = getattr(model, "optimizer", None)
    if include_optimizer and config["compile_config"] is not None and opt is not None:
        from safetensors.torch import save

        tensors, meta = opt.flatten_state()
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
        config["optimizer_state"] = {"file": _OPT_WEIGHTS, "meta": _OPT_META}
        members += [(_OPT_WEIGHTS, save(tensors)), (_OPT_META, json.dumps(meta).encode())]
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": _version(),
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }
    try:
        config_bytes = json.dumps(config, indent=1).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ValueError(f"the model config of {model.name!r} is not JSON-serialisable: {e}") from e
    from rnnkit.saving.layer_assets import asset_members

    members = [
        (_METADATA, json.dumps(metadata).encode()),
        (_CONFIG, config_bytes),
        (_WEIGHTS, weights),
        *members,
        *asset_members(model),  # vocabularies of lookup / TextVectorization layers
    ]
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, data in members:
                _write_member(zf, name, data)
    return FORMAT_NAME


def _budget_for(shapes) -> int:
    """Weight values a model built for a file may allocate: the file's, plus a little slack."""
    n = sum(math.prod(shape) for _, shape in shapes)
    return n + n // 100 + 1024


def _build_model(config, custom_objects, where, with_layers=False, budget=None):
    """The model of a config; every error is a FileFormatError naming the file.

    ``budget`` (the number of weight values the file holds): the layers are built for the
    file's weights, each weight checked against what is left *before* it is allocated, so a
    config declaring far more than the file holds fails at once.
    """
    from rnnkit.layers.layer import WeightBudgetError, weight_budget
    from rnnkit.saving import model_config as _mc

    scope = weight_budget(budget, f"the file ({where})") if budget is not None else (
        contextlib.nullcontext()
    )
    try:
        with scope:
            model, layers = _mc._build(config, custom_objects)
    except FileFormatError:
        raise
    except WeightBudgetError as e:
        raise FileFormatError(f"{where}: {e}") from e
    except RecursionError as e:
        raise FileFormatError(f"{where}: the model config is nested too deeply") from e
    except MemoryError as e:
        raise FileFormatError(f"{where}: the model config needs more memory than there is") from e
    except Exception as e:  # noqa: BLE001 - anything a file's config makes a layer raise
        raise FileFormatError(
            f"{where}: the model config cannot be built ({type(e).__name__}: {e})"
        ) from e
    return (model, layers) if with_layers else model


def _load_native(zf, where, custom_objects, compile):
    config = _read_json_member(zf, _CONFIG, where)
    if not isinstance(config, dict):
        raise FileFormatError(f"{where}: {_CONFIG} must hold a JSON object")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FileFormatError(
            f"{where}: format_version {version!r} is not supported (this rnnkit reads up to "
            f"{FORMAT_VERSION})"
        )
    # Only the weight member's header is read before the model's shapes are known.
    entries = archive.safetensors_header(zf, _WEIGHTS, where)
    model = _build_model(config, custom_objects, where, budget=_budget_for(entries.values()))
    _check_entries(model, entries, where)  # every shape matches before the data is read
    raw = _read_member(zf, _WEIGHTS, where)
    tensors = _load_safetensors(raw, where, _WEIGHTS)
    del raw
    _assign_weights(model, tensors, where)
    from rnnkit.saving.layer_assets import restore_assets

    try:
        restore_assets(model, zf, where)
    except (ValueError, TypeError, OSError) as e:
        raise FileFormatError(f"{where}: layer assets cannot be restored ({e})") from e
    cc = config.get("compile_config")
    if compile and isinstance(cc, dict):
        _compile_from_saved(model, cc, custom_objects, where)
        state = config.get("optimizer_state")
        if isinstance(state, dict):
            from rnnkit.training.optimizers import unflatten_state

            opt_tensors = _load_safetensors(_read_member(zf, _OPT_WEIGHTS, where), where, _OPT_WEIGHTS)
            meta = _read_json_member(zf, _OPT_META, where)
            try:
                model.optimizer.load_state_dict(unflatten_state(opt_tensors, meta))
            except Exception as e:  # noqa: BLE001 - a damaged state of any shape
                raise FileFormatError(f"{where}: the optimizer state cannot be restored ({e})") from e
    elif compile and cc is not None:
        raise FileFormatError(f"{where}: compile_config must be a JSON object or null")
    return model


def load_model(path, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True):
    """Load a model file: an rnnkit file (from :func:`save_model`) or a Keras 3 ``.keras`` file.

    Keras files are recognised by their content (a zip with ``model.weights.h5``), whatever
    their name: files written by Keras 3 and by ``model.save("m.keras")`` alike. The operation
    nodes Keras records in functional graphs (mask computations such as ``NotEqual`` / ``Any``,
    ``Cast``, slicing, arithmetic and comparisons) are rebuilt from a fixed table of tensor
    functions (:func:`rnnkit.layers.keras_ops.supported_ops`).

    Args:
        path: the file.
        custom_objects: ``{name: class}`` for custom layers / cells that are not registered
            with :func:`rnnkit.saving.register_keras_serializable`.
        compile: re-compile with the saved optimizer (and its state), loss and metrics.
        safe_mode: accepted for Keras's signature. rnnkit never runs code from a file, with
            either value: a ``Lambda`` whose function was stored as bytecode is refused with an
            error naming the layer (pass the function in ``custom_objects``); named functions
            resolve only through ``custom_objects`` and the registry.

    Nothing named by a file is imported or evaluated: layer and operation classes come from
    rnnkit's tables, the registry and ``custom_objects``.

    Unlike Keras 3.15, a mask from ``Masking`` / ``Embedding(mask_zero=True)`` still reaches an
    RNN layer that is also given ``initial_state=`` (as in tf.keras), so such a model loaded from
    a Keras file predicts the masked result where Keras 3 runs through the padding.

    Raises:
        FileFormatError: the file is not a model file, is truncated or damaged, lacks a member,
            or its weights do not fit its config.
    """
    from rnnkit.layers.serialization import names_only
    where = f"model file {os.fspath(path)!r}"
    # a file names only built-in, registered and custom_objects classes
    with _read_zip(path, where) as zf, names_only():
        names = set(zf.namelist())
        if _WEIGHTS in names:
            return _load_native(zf, where, custom_objects, compile)
        if "model.weights.h5" in names:
            from rnnkit.saving.keras_import import _load_keras_zip

            return _load_keras_zip(zf, where, custom_objects=custom_objects, compile=compile)
        raise FileFormatError(
            f"{where}: a zip archive that is neither an rnnkit model (no {_WEIGHTS!r}) nor a Keras "
            f"3 model (no 'model.weights.h5'); members: {sorted(names)[:10]}"
        )
