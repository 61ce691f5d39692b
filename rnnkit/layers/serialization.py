"""Layers to and from Keras's serialized dict form.

``deserialize({"module": "keras.layers", "class_name": "LSTM", "config": {...},
"build_config": {...}})`` returns a built rnnkit layer; ``serialize(layer)`` gives that form back.
Only names rnnkit provides (or that the user registered / passed in ``custom_objects``) can be
built, plus custom layer classes this process has itself serialized (so an in-memory round trip
of a custom cell, as ``clone`` or ``RNN.from_config`` do, needs no registration; Keras finds
such classes by importing their module). Nothing named by the dict is imported or evaluated.
"""

from __future__ import annotations

import contextlib
import threading
import weakref

from rnnkit.saving.object_registry import get_registered_name, get_registered_object

__all__ = ["serialize", "deserialize"]

# (module, class name) -> class, for the custom layer classes serialize() has seen in this process.
_SERIALIZED_CLASSES: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_FILE = threading.local()


@contextlib.contextmanager
def names_only():
    """While loading a file: only built-in, registered and ``custom_objects`` classes are found."""
    depth = getattr(_FILE, "depth", 0)
    _FILE.depth = depth + 1
    try:
        yield
    finally:
        _FILE.depth = depth


def _layer_classes() -> dict:
    import rnnkit.layers as L
    from rnnkit.layers.layer import Layer

    out = {}
    for name in getattr(L, "__all__", dir(L)):
        obj = getattr(L, name, None)
        if isinstance(obj, type) and issubclass(obj, Layer):
            out[name] = obj
    return out


def serialize(layer) -> dict:
    """``layer`` as Keras's dict: module, class_name, config, registered_name, build_config.

    >>> from rnnkit.layers import LSTM
    >>> d = serialize(LSTM(3, name="enc"))
    >>> d["class_name"], d["config"]["units"], d["config"]["name"]
    ('LSTM', 3, 'enc')
    """
    cls = type(layer)
    registered = get_registered_name(cls)
    builtin = _layer_classes().get(cls.__name__) is cls
    if not builtin:
        _SERIALIZED_CLASSES[(cls.__module__, cls.__name__)] = cls
    out = {
        "module": "keras.layers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": layer.get_config(),
        "registered_name": None if builtin else registered,
    }
    build = layer.get_build_config() if hasattr(layer, "get_build_config") else None
    if build:
        out["build_config"] = build
    return out


def deserialize(config: dict, custom_objects: dict | None = None):
    """Build a layer from Keras's serialized dict (nested cells and layers included).

    ``build_config`` (``input_shape`` or ``shapes_dict``), when present, builds the layer so its
    weights exist and can be set right away.

    >>> layer = deserialize({"class_name": "GRU", "config": {"units": 2},
    ...                      "build_config": {"input_shape": [None, 5, 3]}})
    >>> [tuple(w.shape) for w in layer.weights]
    [(3, 6), (2, 6), (2, 6)]
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"deserialize expects a dict with 'class_name' and 'config', received {config!r:.200}"
        )
    class_name = config["class_name"]
    cls = None
    for key in (config.get("registered_name"), class_name):
        if key:
            cls = get_registered_object(key, custom_objects, _layer_classes())
            if cls is not None:
                break
    if cls is None and not getattr(_FILE, "depth", 0):
        cls = _SERIALIZED_CLASSES.get((config.get("module"), class_name))
    if cls is None:
        raise ValueError(
            f"Unknown layer {class_name!r} (registered_name {config.get('registered_name')!r}). "
            f"Pass it in custom_objects or decorate it with "
            f"@rnnkit.saving.register_keras_serializable()."
        )
    inner = dict(config.get("config") or {})
    try:
        import inspect

        takes_custom = "custom_objects" in inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        takes_custom = False
    layer = cls.from_config(inner, custom_objects=custom_objects) if takes_custom else cls.from_config(inner)
    build = config.get("build_config")
    if build and hasattr(layer, "build_from_config"):
        layer.build_from_config(build)
    return layer
