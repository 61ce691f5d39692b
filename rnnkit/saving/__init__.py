"""Saving and loading: the object registry, native files, Keras import."""

from rnnkit.saving.native import (
    FileFormatError,
    load_model,
    load_weights,
    save_model,
    save_weights,
)
from rnnkit.saving.object_registry import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)

_LAZY = {
    "load_keras_model": "rnnkit.saving.keras_import",
    "load_keras_weights": "rnnkit.saving.keras_import",
    "model_to_config": "rnnkit.saving.model_config",
    "model_from_config": "rnnkit.saving.model_config",
}


def __getattr__(name):
    # Imported on first use: these modules need rnnkit.layers, which itself needs this package.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnkit.saving' has no attribute {name!r}")


__all__ = [
    "CustomObjectScope",
    "FileFormatError",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_registered_name",
    "get_registered_object",
    "load_keras_model",
    "load_keras_weights",
    "load_model",
    "load_weights",
    "model_from_config",
    "model_to_config",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
]
