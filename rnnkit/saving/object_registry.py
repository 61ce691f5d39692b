"""Name <-> class registry and Keras's serialized-object dict form.

Keras writes every configurable object as
``{"module": ..., "class_name": ..., "config": {...}, "registered_name": ...}``.
This module turns objects into that form and back. Deserialising only ever *looks up* names in
tables that rnnkit (or the user, through :func:`register_keras_serializable` or
``custom_objects``) filled in: nothing named by a file is imported or evaluated.
"""

from __future__ import annotations

import contextlib
import threading

__all__ = [
    "register_keras_serializable",
    "get_registered_name",
    "get_registered_object",
    "custom_object_scope",
    "CustomObjectScope",
    "serialize_keras_object",
    "deserialize_keras_object",
]

_GLOBAL_CUSTOM_OBJECTS: dict[str, object] = {}
_GLOBAL_CUSTOM_NAMES: dict[object, str] = {}
_SCOPE = threading.local()


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: make a custom layer, cell or function loadable by name.

    >>> @register_keras_serializable(package="demo")
    ... class Foo:
    ...     pass
    >>> get_registered_name(Foo)
    'demo>Foo'
    """

    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """The registered ``package>name`` of ``obj``, or its plain class/function name."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def _scope_stack() -> list[dict]:
    if not hasattr(_SCOPE, "stack"):
        _SCOPE.stack = []
    return _SCOPE.stack


class CustomObjectScope(contextlib.ContextDecorator):
    """``with CustomObjectScope({"MyCell": MyCell}):`` makes those names loadable inside."""

    def __init__(self, *custom_objects: dict):
        merged: dict = {}
        for d in custom_objects:
            merged.update(d or {})
        self.custom_objects = merged

    def __enter__(self):
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scope_stack().pop()
        return False


custom_object_scope = CustomObjectScope


def get_registered_object(name: str, custom_objects: dict | None = None, module_objects=None):
    """Look ``name`` up in custom_objects, open scopes, the registry, then ``module_objects``."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for scope in reversed(_scope_stack()):
        if name in scope:
            return scope[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def serialize_keras_object(obj, module: str | None = None) -> dict:
    """``obj`` (with ``get_config()``) as Keras's dict form."""
    cls = obj if isinstance(obj, type) else type(obj)
    registered = _GLOBAL_CUSTOM_NAMES.get(cls)
    config = obj.get_config() if hasattr(obj, "get_config") else {}
    return {
        "module": module if registered is None else None,
        "class_name": cls.__name__,
        "config": config,
        "registered_name": registered,
    }


def deserialize_keras_object(
    config,
    module_objects: dict,
    custom_objects: dict | None = None,
    printable_module_name: str = "object",
):
    """Build an object from Keras's dict form (or a bare class name string).

    ``module_objects`` maps class names to the classes rnnkit provides for that module. Unknown
    names raise ``ValueError`` naming what was asked for and what is known.
    """
    if isinstance(config, str):
        cls = get_registered_object(config, custom_objects, module_objects)
        if cls is None:
            raise ValueError(
                f"Unknown {printable_module_name} {config!r}; known: {sorted(module_objects)}"
            )
        return cls() if isinstance(cls, type) else cls
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Expected a {printable_module_name} as a dict with 'class_name' and 'config', "
            f"received {config!r}"
        )
    class_name = config["class_name"]
    inner = config.get("config") or {}
    cls = None
    for key in (config.get("registered_name"), class_name):
        if key:
            cls = get_registered_object(key, custom_objects, module_objects)
            if cls is not None:
                break
    if cls is None:
        raise ValueError(
            f"Unknown {printable_module_name} {class_name!r} "
            f"(registered_name {config.get('registered_name')!r}). Pass it in custom_objects or "
            f"decorate it with @rnnkit.saving.register_keras_serializable()."
        )
    if not isinstance(cls, type):  # a function registered under that name
        return cls
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    return cls(**inner)
