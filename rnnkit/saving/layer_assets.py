"""Layer state that is not a weight tensor (a lookup's vocabulary, tf-idf weights) in model files.

Keras's layer API for such state is ``save_assets(dir_path)`` / ``load_assets(dir_path)`` (files,
e.g. ``vocabulary.txt``) and ``save_own_variables(store)`` / ``load_own_variables(store)``
(arrays by name). rnnkit's text preprocessing layers implement both; this module packs them into
zip members ``assets/<layer name>/<file>`` and ``assets/<layer name>/variables.npz`` (numpy
arrays, loaded with ``allow_pickle=False``) and restores them after the weights.

>>> from rnnkit.layers import StringLookup
>>> layer = StringLookup(name="lk")
>>> layer.adapt(["a", "b", "b"])
>>> sorted(name for name, _ in asset_members([layer]))
['assets/lk/vocabulary.txt']
"""

from __future__ import annotations

import io
import os
import tempfile

import numpy as np

__all__ = ["asset_layers", "asset_members", "restore_assets"]

_PREFIX = "assets/"
_VARIABLES = "variables.npz"
_MAX_ASSET_BYTES = 512 * 1024 * 1024


def asset_layers(model) -> list:
    """The layers of ``model`` (itself included) that carry assets, in module order."""
    modules = model.modules() if hasattr(model, "modules") else model
    return [m for m in modules if hasattr(m, "save_assets") and hasattr(m, "load_assets")]


def asset_members(model) -> list[tuple[str, bytes]]:
    """``(zip member name, bytes)`` for every asset file and variable store of ``model``'s layers."""
    out, seen = [], set()
    for layer in asset_layers(model):
        name = layer.name
        if name in seen:
            raise ValueError(f"two layers are named {name!r}; layer names must be unique to save their assets")
        seen.add(name)
        with tempfile.TemporaryDirectory() as tmp:
            layer.save_assets(tmp)
            for fname in sorted(os.listdir(tmp)):
                with open(os.path.join(tmp, fname), "rb") as f:
                    out.append((f"{_PREFIX}{name}/{fname}", f.read()))
        store: dict = {}
        if hasattr(layer, "save_own_variables"):
            layer.save_own_variables(store)
        if store:
            buf = io.BytesIO()
            np.savez(buf, **{k: np.asarray(v) for k, v in store.items()})
            out.append((f"{_PREFIX}{name}/{_VARIABLES}", buf.getvalue()))
    return out


def restore_assets(model, zf, where: str) -> None:
    """Give ``model``'s asset layers the files and variables stored for them in the zip ``zf``."""
    names = set(zf.namelist())
    for layer in asset_layers(model):
        prefix = f"{_PREFIX}{layer.name}/"
        mine = sorted(n for n in names if n.startswith(prefix))
        if not mine:
            continue
        var_member = prefix + _VARIABLES
        if var_member in mine and hasattr(layer, "load_own_variables"):
            info = zf.getinfo(var_member)
            if info.file_size > _MAX_ASSET_BYTES:
                raise ValueError(f"{where}: {var_member} is larger than {_MAX_ASSET_BYTES} bytes")
            with np.load(io.BytesIO(zf.read(var_member)), allow_pickle=False) as z:
                layer.load_own_variables({k: z[k] for k in z.files})
        with tempfile.TemporaryDirectory() as tmp:
            for member in mine:
                fname = member[len(prefix) :]
                if member == var_member or not fname or "/" in fname or fname.startswith("."):
                    continue
                info = zf.getinfo(member)
                if info.file_size > _MAX_ASSET_BYTES:
                    raise ValueError(f"{where}: asset {member} is larger than {_MAX_ASSET_BYTES} bytes")
                with open(os.path.join(tmp, fname), "wb") as f:
                    f.write(zf.read(member))
            layer.load_assets(tmp)
