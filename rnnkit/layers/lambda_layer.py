"""``Lambda``: wrap a function of tensors as a layer (in code), loadable only by name.

Keras writes a Python ``lambda`` into a config as marshalled bytecode and runs it again on load
when the user passes ``safe_mode=False``. rnnkit never executes code from a file, whatever the
safe mode: bytecode is refused (running it is arbitrary code execution, and it is tied to one
Python version) and rnnkit writes none itself. A *named* function is written as Keras writes it
(``{"class_name": "function", "config": name, ...}``) and resolved on load only through
``custom_objects`` / ``@register_keras_serializable`` (never by importing the module the file
names), in safe mode too (as Keras loads registered functions). For a file that holds a bytecode
lambda, hand the function over: ``custom_objects={"<the layer's name>": fn}``.
"""

from __future__ import annotations

import inspect
import types

from rnnkit.layers.layer import Layer
from rnnkit.saving.object_registry import get_registered_name, get_registered_object

__all__ = ["Lambda"]

_REFUSED = (
    "Lambda layer {name!r}: its {what} is a Python lambda stored as bytecode. rnnkit never "
    "executes code from a file (also with safe_mode=False). Pass the function in "
    "custom_objects={{{name!r}: fn}} (keyed by the layer's name), or define it with a name, "
    "register it with @rnnkit.saving.register_keras_serializable() and save again."
)


def _is_lambda(fn) -> bool:
    return isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>"


def _serialize_fn(fn, layer_name: str, what: str):
    if _is_lambda(fn):
        # Keras's key, without the bytecode: the file says a lambda was here, nothing to run.
        return {"class_name": "__lambda__", "config": {"code": None, "defaults": None,
                                                       "closure": None}}
    if not callable(fn):
        raise ValueError(f"Lambda layer {layer_name!r}: {what} must be callable, received {fn!r}")
    name = getattr(fn, "__name__", type(fn).__name__)
    return {
        "module": getattr(fn, "__module__", None),
        "class_name": "function",
        "config": name,
        "registered_name": get_registered_name(fn),
    }


def _resolve_fn(cfg, layer_name, what, custom_objects):
    if not isinstance(cfg, dict):
        return cfg
    by_layer = (custom_objects or {}).get(layer_name)
    if cfg.get("class_name") == "__lambda__":
        if callable(by_layer) and what == "function":
            return by_layer
        raise ValueError(_REFUSED.format(name=layer_name, what=what))
    if cfg.get("class_name") != "function":
        raise ValueError(
            f"Lambda layer {layer_name!r}: cannot load its {what} from {cfg!r:.200} (expected a "
            "named function)"
        )
    for key in (cfg.get("registered_name"), cfg.get("config")):
        if isinstance(key, str):
            fn = get_registered_object(key, custom_objects)
            if fn is not None:
                return fn
    if callable(by_layer) and what == "function":
        return by_layer
    raise ValueError(
        f"Lambda layer {layer_name!r}: unknown function {cfg.get('config')!r} "
        f"(registered_name {cfg.get('registered_name')!r}). rnnkit does not import it from "
        f"module {cfg.get('module')!r}: pass it in custom_objects or register it with "
        "@rnnkit.saving.register_keras_serializable()."
    )


class Lambda(Layer):
    """Applies ``function(inputs, **arguments)`` as a layer (no weights).

    ``function`` receives torch tensors (and ``mask=`` / ``training=`` when it declares those
    arguments). Saving writes the function by name; see the module docstring for loading.

    Args:
        function: callable of the inputs.
        output_shape: shape without the batch axis, or a callable ``input_shape ->
            output_shape`` (default None: found by running the function).
        mask: output mask: a callable ``(inputs, mask) -> mask`` or a fixed mask; with a mask
            the layer supports masking (default None: the output has no mask).
        arguments: dict of keyword arguments passed to ``function`` (JSON values).

    >>> import torch
    >>> last = Lambda(lambda x: x[:, -1])
    >>> last(torch.arange(6.0).reshape(1, 3, 2)).tolist()
    [[4.0, 5.0]]
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda: function must be callable, received {function!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        if isinstance(output_shape, list) and all(isinstance(d, int | None) for d in output_shape):
            output_shape = tuple(output_shape)
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_mask = "mask" in params
        self._fn_training = "training" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_mask:
            kwargs["mask"] = mask
        if self._fn_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            raise NotImplementedError(
                f"{self.name}: pass output_shape= to Lambda to infer its output shape without "
                "running it"
            )
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = input_shape[0] if isinstance(input_shape, tuple | list) and input_shape else None
        if isinstance(batch, tuple | list):
            batch = batch[0]
        return (batch, *self._output_shape)

    def get_config(self):
        cfg = {"function": _serialize_fn(self.function, self.name, "function")}
        if self._output_shape is not None:
            shape = self._output_shape
            cfg["output_shape"] = (
                _serialize_fn(shape, self.name, "output_shape") if callable(shape) else list(shape)
            )
        if self.mask is not None:
            if not callable(self.mask):
                raise ValueError(f"{self.name}: only a callable Lambda mask can be saved")
            cfg["mask"] = _serialize_fn(self.mask, self.name, "mask")
        cfg["arguments"] = self.arguments
        return {**super().get_config(), **cfg}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        """Rebuild from a config; functions only by name (``safe_mode`` changes nothing)."""
        config = dict(config)
        name = config.get("name", "lambda")
        for what in ("function", "output_shape", "mask"):
            if what in config:
                config[what] = _resolve_fn(config[what], name, what, custom_objects)
        args = config.get("arguments") or {}
        if not isinstance(args, dict) or any(isinstance(v, dict) and "class_name" in v
                                             for v in args.values()):
            raise ValueError(f"Lambda layer {name!r}: arguments must be plain JSON values")
        return cls(**config)
