"""Read Keras 3 ``.keras`` model files and ``.weights.h5`` weight files.

A ``.keras`` file is a zip holding ``config.json`` (the model config), ``metadata.json`` and
``model.weights.h5``. In the HDF5 file each layer's own variables sit at
``layers/<key>/vars/<i>`` (trainable ones first, in creation order) and the variables of the
layers it holds sit below under the attribute name: ``layers/lstm/cell/vars/0``,
``layers/bidirectional/forward_layer/cell/vars/1``, ``layers/time_distributed/layer/vars/0``,
lists as ``.../cells/lstm_cell_1/...``. ``<key>`` is the snake-case class name, numbered per
class in the order of the model's layers (``dense``, ``dense_1``...).

Weights are matched by that structure, not by name guessing: rnnkit's layers hold their
sub-layers under Keras's attribute names and list variables in Keras's order. Counts and shapes
are checked; a mismatch names the layer, the path and both shapes. Reading never imports,
unpickles or evaluates anything named by the file.

Functional graphs may hold Keras operation nodes (``NotEqual`` / ``Any`` for masks, ``Cast``,
``GetItem``, arithmetic, comparisons); they become :class:`rnnkit.layers.keras_ops.KerasOp`
layers, from a fixed table. A ``Lambda`` whose function was stored as bytecode is refused
(rnnkit runs no code from a file, whatever ``safe_mode`` says).

One deliberate difference: Keras 3.15 drops the mask of ``Masking`` / ``Embedding(mask_zero=True)``
when the next RNN layer is also called with ``initial_state=`` (its file records no ``mask=`` for
that call, and Keras runs through the padding; tf.keras applied the mask). rnnkit applies the
mask there, so such a model predicts what the unpadded sequences give, and differs from Keras 3
on padded inputs.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile

import numpy as np
import torch
from torch import nn

from rnnkit.saving import model_config as _mc
from rnnkit.saving.native import (
    FileFormatError,
    _budget_for,
    _build_model,
    _read_json_member,
    _read_member,
    _read_zip,
)

__all__ = [
    "load_keras_model",
    "load_keras_weights",
    "keras_h5_groups",
    "keras_weight_paths",
    "model_weight_paths",
]

_H5_HINT = "reading Keras .keras / .h5 files needs h5py: pip install rnnkit[h5]"


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(_H5_HINT) from e
    return h5py


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _is_model_with_layers(module) -> bool:
    from rnnkit.models.model import Model
    from rnnkit.models.sequential import Sequential

    return isinstance(module, Sequential) or (
        isinstance(module, Model) and getattr(module, "_graph", None) is not None
    )


def _own_params(module) -> list:
    from rnnkit.layers.layer import Layer

    if isinstance(module, Layer):
        own = module._own_weights()
        seen = {id(p) for p in own}
        own += [p for p in module._parameters.values() if p is not None and id(p) not in seen]
    else:
        own = [p for p in module._parameters.values() if p is not None]
    # Keras stores a layer's trainable variables first, then the non-trainable ones.
    return sorted(own, key=lambda p: not getattr(p, "_rnnkit_trainable", p.requires_grad))


def _is_keras_op(module) -> bool:
    from rnnkit.layers.keras_ops import KerasOp

    return isinstance(module, KerasOp)


def _container_paths(items, prefix, out, visited):
    used: dict[str, int] = {}
    for child in items:
        if _is_keras_op(child):  # Keras operation nodes are not layers: no entry in the file
            continue
        key = _mc.keras_snake_case(type(child).__name__)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        _walk(child, _join(prefix, key), out, visited)


def _walk(module, prefix, out, visited):
    """Append ``(group path, module, own weights)`` for ``module`` and what it holds."""
    if id(module) in visited:
        return
    visited.add(id(module))
    if not isinstance(module, nn.Module):  # e.g. an InputLayer that holds no weights
        out.append((prefix, module, []))
        return
    out.append((prefix, module, _own_params(module)))
    if _is_model_with_layers(module):
        _container_paths(module.layers, _join(prefix, "layers"), out, visited)
        return
    for name, child in module._modules.items():
        if child is None:
            continue
        if isinstance(child, nn.ModuleList | nn.Sequential):
            _container_paths(list(child), _join(prefix, name), out, visited)
        elif isinstance(child, nn.ModuleDict):
            _container_paths(list(child.values()), _join(prefix, name), out, visited)
        else:
            _walk(child, _join(prefix, name), out, visited)


def _pairs(entries) -> list[tuple[str, torch.nn.Parameter]]:
    return [
        (_join(prefix, f"vars/{i}"), p) for prefix, _, params in entries for i, p in enumerate(params)
    ]


def keras_weight_paths(layer, prefix: str = "") -> list[tuple[str, torch.nn.Parameter]]:
    """``(path, weight)`` pairs of ``layer`` in Keras's weight-file layout under ``prefix``.

    >>> from rnnkit.layers import Bidirectional, LSTM
    >>> layer = Bidirectional(LSTM(2))
    >>> layer.build((None, 4, 3))
    >>> [p for p, _ in keras_weight_paths(layer, "layers/bidirectional")][:2]
    ['layers/bidirectional/forward_layer/cell/vars/0', 'layers/bidirectional/forward_layer/cell/vars/1']
    """
    out: list = []
    _walk(layer, prefix, out, set())
    return _pairs(out)


def keras_h5_groups(model, layers=None) -> list[tuple[str, object, list]]:
    """Every group Keras writes for ``model``: ``(path, module, own weights)``, the model first.

    The path of the model itself is ``""`` (the file's root ``vars`` group); its layers follow
    under ``layers/<key>``, ``<key>`` numbered per class in ``layers`` order (default
    ``model.layers``), and their sub-layers under Keras's attribute names.
    """
    if layers is None and not _is_model_with_layers(model):
        out: list = []
        _walk(model, "", out, set())
        return out
    out = [("", model, _own_params(model))]
    visited = {id(model)}
    _container_paths(list(model.layers if layers is None else layers), "layers", out, visited)
    return out


def model_weight_paths(model, layers=None) -> list[tuple[str, torch.nn.Parameter]]:
    """``(path, weight)`` pairs of a whole model, as Keras lays them out in ``model.weights.h5``.

    ``layers`` (default ``model.layers``) gives the order that numbers the per-class keys.
    """
    return _pairs(keras_h5_groups(model, layers))


# --------------------------------------------------------------------------- h5 reading
def _layer_keys_by_name(h5) -> dict[str, str]:
    """``{layer name: group key}`` from the ``name`` attributes Keras writes on ``vars`` groups."""
    out: dict[str, str] = {}
    group = h5.get("layers")
    if group is None:
        return out
    for key in group:
        vars_group = group[key].get("vars") if hasattr(group[key], "get") else None
        name = None if vars_group is None else vars_group.attrs.get("name")
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        if isinstance(name, str):
            out[name] = key
    return out


_MAX_H5_OBJECTS = 200_000


def _all_datasets(h5, where: str = "weight file") -> dict[str, object]:
    h5py = _h5py()
    found: dict[str, object] = {}
    seen = [0]

    def visit(name, obj):
        seen[0] += 1
        if seen[0] > _MAX_H5_OBJECTS:
            return True  # stops the walk
        if isinstance(obj, h5py.Dataset):
            found[name] = obj
        return None

    h5.visititems(visit)
    if seen[0] > _MAX_H5_OBJECTS:
        raise FileFormatError(
            f"{where}: the HDF5 weights hold more than {_MAX_H5_OBJECTS} groups and datasets"
        )
    return found


def _assign_from_h5(h5, pairs, where: str) -> None:
    datasets = _all_datasets(h5, where)
    wanted = {path for path, _ in pairs}
    values = []
    for path, param in pairs:
        ds = datasets.get(path)
        if ds is None:
            layer_prefix = "/".join(path.split("/")[:2])
            near = sorted(k for k in datasets if k.startswith(layer_prefix + "/"))
            raise FileFormatError(
                f"{where}: the weight file has no variable {path!r} for a weight of shape "
                f"{tuple(param.shape)}; variables under {layer_prefix!r}: {near or 'none'}"
            )
        if ds.dtype.kind not in "fiub":
            raise FileFormatError(
                f"{where}: variable {path!r} has dtype {ds.dtype}, expected a numeric array"
            )
        if tuple(ds.shape) != tuple(param.shape):
            raise FileFormatError(
                f"{where}: variable {path!r} has shape {tuple(ds.shape)}, the model's weight "
                f"has shape {tuple(param.shape)}"
            )
        values.append(np.asarray(ds[()]))
        if values[-1].dtype.kind == "f" and not np.isfinite(values[-1]).all():
            raise FileFormatError(f"{where}: variable {path!r} holds NaN or infinite values")
    extra = sorted(k for k in datasets if k not in wanted and not k.startswith("optimizer/"))
    extra = [k for k in extra if k.startswith("layers/") or "/vars/" in k or k.startswith("vars/")]
    if extra:
        raise FileFormatError(
            f"{where}: the weight file holds {len(extra)} variable(s) the model has no weight "
            f"for: {extra[:8]}{' ...' if len(extra) > 8 else ''} (the model has {len(pairs)} "
            f"weights, the file {len(pairs) + len(extra)})"
        )
    with torch.no_grad():
        for (_, param), value in zip(pairs, values):
            # (reshape: np.ascontiguousarray turns a 0-d array, e.g. Attention's scale, into (1,))
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)).reshape(value.shape).to(param.dtype))


def _pairs_for(model, h5, layers=None):
    if layers is None and not _is_model_with_layers(model):
        return keras_weight_paths(model, "")
    layers = [m for m in (model.layers if layers is None else layers) if not _is_keras_op(m)]
    by_name = _layer_keys_by_name(h5)
    names = [getattr(layer, "name", None) for layer in layers]
    if names and all(n in by_name for n in names) and len(set(by_name[n] for n in names)) == len(names):
        out: list = []
        visited = {id(model)}
        for layer, n in zip(layers, names):
            _walk(layer, f"layers/{by_name[n]}", out, visited)
        return _pairs(out)
    return model_weight_paths(model, layers)


def _load_h5_bytes(data: bytes, model, where: str, layers=None) -> None:
    h5py = _h5py()
    try:
        h5 = h5py.File(io.BytesIO(data), "r")
    except Exception as e:  # noqa: BLE001 - h5py raises OSError, ValueError, KeyError...
        raise FileFormatError(f"{where}: not a readable HDF5 weight file ({e})") from e
    with h5:
        _assign_from_h5(h5, _pairs_for(model, h5, layers), where)


def load_keras_weights(model, path) -> None:
    """Load a Keras 3 ``.weights.h5`` file (``model.save_weights`` in Keras) into ``model``.

    ``model`` must have the same architecture as the Keras model that wrote the file.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FileFormatError(f"cannot read weight file {path!r}: {e}") from e
    _load_h5_bytes(data, model, f"weight file {path!r}")


# --------------------------------------------------------------------------- .keras reading
def _compile_from_config(model, compile_config, custom_objects, where):
    from rnnkit.training import optimizers

    opt = compile_config.get("optimizer")
    loss = compile_config.get("loss")
    metrics = compile_config.get("metrics")
    try:
        if isinstance(opt, dict):
            opt = optimizers.deserialize(opt, custom_objects=custom_objects)
        if isinstance(loss, dict) or (
            isinstance(loss, list) and any(isinstance(v, dict) for v in loss)
        ):
            loss = _deserialize_loss(loss, custom_objects)
        if isinstance(metrics, list):
            metrics = [m for m in metrics if isinstance(m, str | list)] or None
        elif not isinstance(metrics, dict | str):
            metrics = None
        model.compile(
            optimizer=opt if opt is not None else "rmsprop",
            loss=loss,
            metrics=metrics,
            loss_weights=compile_config.get("loss_weights"),
        )
    except (ValueError, TypeError) as e:
        warnings.warn(
            f"{where}: the model was loaded but could not be compiled from its saved compile "
            f"config ({e}); call model.compile(...) yourself.",
            stacklevel=3,
        )
        return False
    return True


def _deserialize_loss(loss, custom_objects):
    from rnnkit import losses

    des = getattr(losses, "deserialize", None)
    if des is None:
        raise ValueError("rnnkit.losses has no deserialize()")
    if isinstance(loss, list):
        return [des(v, custom_objects=custom_objects) if isinstance(v, dict) else v for v in loss]
    return des(loss, custom_objects=custom_objects)


def _load_keras_zip(zf: zipfile.ZipFile, where: str, custom_objects=None, compile=False):
    config = _read_json_member(zf, "config.json", where)
    names = set(zf.namelist())
    if "model.weights.h5" not in names:
        raise FileFormatError(
            f"{where}: the Keras archive has no 'model.weights.h5' (members: {sorted(names)})"
        )
    if "metadata.json" in names:
        _read_json_member(zf, "metadata.json", where)
    h5py = _h5py()
    data = _read_member(zf, "model.weights.h5", where)  # bounded: see rnnkit.saving.archive
    try:
        h5 = h5py.File(io.BytesIO(data), "r")
    except Exception as e:  # noqa: BLE001 - h5py raises OSError, ValueError, KeyError...
        raise FileFormatError(f"{where}: 'model.weights.h5' is not a readable HDF5 file ({e})") from e
    with h5:
        try:
            # The layers are built for the weights the file holds (checked before allocating).
            shapes = [("", ds.shape) for ds in _all_datasets(h5, where).values()]
            model, layers = _build_model(
                config, custom_objects, where, with_layers=True, budget=_budget_for(shapes)
            )
            _assign_from_h5(h5, _pairs_for(model, h5, layers), where)
        except FileFormatError:
            raise
        except Exception as e:  # noqa: BLE001 - a damaged dataset: OSError, KeyError...
            raise FileFormatError(f"{where}: 'model.weights.h5' is damaged ({e})") from e
    compile_config = config.get("compile_config") if isinstance(config, dict) else None
    if compile and isinstance(compile_config, dict) and compile_config:
        if _compile_from_config(model, compile_config, custom_objects, where):
            _restore_optimizer(model, data, where)
    return model


def _restore_optimizer(model, data: bytes, where: str) -> None:
    """Keras's ``optimizer/vars`` into the compiled model's optimizer, where the layout maps."""
    from rnnkit.saving.keras_optimizer import load_keras_optimizer_arrays

    h5py = _h5py()
    with h5py.File(io.BytesIO(data), "r") as h5:
        group = h5.get("optimizer/vars")
        if not isinstance(group, h5py.Group) or not len(group):
            return
        keys = sorted((k for k in group if k.isdigit()), key=int)
        if keys != [str(i) for i in range(len(keys))] or not all(
            isinstance(group[k], h5py.Dataset) and group[k].dtype.kind in "fiu" for k in keys
        ):
            raise FileFormatError(f"{where}: 'optimizer/vars' holds malformed entries: {sorted(group)[:8]}")
        arrays = [np.asarray(group[k][()]) for k in keys]
    if not load_keras_optimizer_arrays(model, arrays):
        warnings.warn(
            f"{where}: the file's optimizer state ({len(arrays)} variables of Keras's "
            f"{type(model.optimizer).__name__}) does not map onto rnnkit's optimizer; the model is "
            "compiled with a fresh optimizer state.",
            stacklevel=4,
        )


def load_keras_model(path, custom_objects: dict | None = None, compile: bool = False):
    """Load a Keras 3 ``.keras`` file as an rnnkit model that predicts what Keras predicts.

    Args:
        path: the ``.keras`` zip written by Keras 3's ``model.save``.
        custom_objects: ``{name: class}`` for custom layers / cells not registered with
            :func:`rnnkit.saving.register_keras_serializable`.
        compile: also compile the model from the saved ``compile_config`` (if any).

    Raises:
        FileFormatError: the file is not a zip, a member is missing or damaged, or the weights
            do not fit the model (the message names the layer and shapes).
    """
    where = f"Keras file {os.fspath(path)!r}"
    with _read_zip(path, where) as zf:
        return _load_keras_zip(zf, where, custom_objects=custom_objects, compile=compile)

