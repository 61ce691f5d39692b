"""Whole models to and from Keras 3's model-config dict (``config.json`` of a ``.keras`` file).

``model_to_config(model)`` writes a Sequential or functional model as Keras writes it
(``{"module", "class_name", "config": {"name", "layers", ...}, "registered_name"}``; functional
layers carry ``inbound_nodes`` whose arguments name their source tensors with
``{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, index]}}``).
``model_from_config(config)`` rebuilds the model only through ``Input``, layer calls and
``Model(...)`` / ``Sequential(...)``; layer classes are looked up in rnnkit's tables, the
registry and ``custom_objects``: nothing named by the dict is imported or evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rnnkit.layers.layer import flatten
from rnnkit.layers.serialization import deserialize, serialize
from rnnkit.saving.object_registry import get_registered_name, get_registered_object

__all__ = ["model_to_config", "model_from_config", "keras_snake_case"]

_TENSOR = "__keras_tensor__"
_FUNCTIONAL_NAMES = ("Functional", "Model")


class ModelConfigError(ValueError):
    """A model config that cannot be turned into a model (names the problem)."""


def keras_snake_case(name: str) -> str:
    """Keras's ``to_snake_case`` of a class name (used for paths in weight files).

    >>> keras_snake_case("SimpleRNN"), keras_snake_case("LSTMCell"), keras_snake_case("ReLU")
    ('simple_rnn', 'lstm_cell', 're_lu')
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# --------------------------------------------------------------------------- model -> config
def _models():
    from rnnkit.models.model import Model
    from rnnkit.models.sequential import Sequential

    return Model, Sequential


def _find_graph(model):
    from rnnkit.models.functional import Graph

    for value in vars(model).values():
        if isinstance(value, Graph):
            return value
    graph = getattr(model, "graph", None) or getattr(model, "_graph", None)
    return graph if isinstance(graph, Graph) else None


def _dtype_policy(name: str) -> dict:
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": name},
        "registered_name": None,
    }


def _is_graph_model(layer) -> bool:
    Model, Sequential = _models()
    return isinstance(layer, Sequential) or (
        isinstance(layer, Model) and _find_graph(layer) is not None
    )


def _serialize_layer(layer) -> dict:
    """A layer's dict; nested Sequential / functional models are written as whole models."""
    from rnnkit.layers.keras_ops import KerasOp

    if isinstance(layer, KerasOp):  # a Keras operation node, written back as Keras wrote it
        return layer.keras_dict()
    if _is_graph_model(layer):
        return model_to_config(layer)
    return serialize(layer)


def _deserialize_layer(d: dict, custom_objects, where: str = "layer"):
    from rnnkit.layers import keras_ops

    if keras_ops.is_keras_op_dict(d):
        return keras_ops.op_from_dict(d, where)
    if (
        d.get("class_name") in ("Sequential", "Functional", "Model")
        and d.get("registered_name") in (None, "Sequential", "Functional", "Model")
        and isinstance(d.get("config"), dict)
        and "layers" in d["config"]
    ):
        return _build(d, custom_objects)[0]
    return deserialize(d, custom_objects=custom_objects)


def _input_layer_dict(tensor) -> dict:
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {
            "batch_shape": list(tensor.shape),
            "dtype": tensor.dtype,
            "sparse": False,
            "ragged": False,
            "name": tensor.name,
            "optional": False,
        },
        "registered_name": None,
    }


def _sequential_input(model):
    """The Sequential model's input KerasTensor (or None when it has none yet)."""
    graph = _find_graph(model)
    if graph is not None and graph.inputs:
        return graph.inputs[0]
    for attr in ("_input_tensor", "_input", "input"):
        try:
            value = getattr(model, attr, None)
        except (AttributeError, ValueError, TypeError):
            value = None
        if hasattr(value, "shape") and hasattr(value, "node"):
            return value
    return None


def _model_layers(model) -> list:
    layers = getattr(model, "layers", None)
    if layers is None:
        raise ModelConfigError(f"{type(model).__name__} has no .layers; cannot write its config")
    return list(layers)


def _sequential_config(model) -> dict:
    layers = []
    inp = _sequential_input(model)
    if inp is not None:
        layers.append(_input_layer_dict(inp))
    for layer in _model_layers(model):
        layers.append(_serialize_layer(layer))
    cfg = {
        "name": model.name,
        "trainable": bool(getattr(model, "trainable", True)),
        "dtype": _dtype_policy(getattr(model, "_dtype_name", None) or _floatx()),
        "layers": layers,
    }
    if inp is not None:
        cfg["build_input_shape"] = list(inp.shape)
    return cfg


def _floatx():
    from rnnkit import config as _config

    return _config.floatx()


def _functional_config(model, graph) -> dict:
    from rnnkit.layers.symbolic import KerasTensor

    history: dict[int, list] = {}
    for given, own in zip(getattr(graph, "_given_inputs", graph.inputs), graph.inputs):
        history[id(given)] = history[id(own)] = [own.name, 0, 0]
    layer_nodes: dict[int, list] = {}
    names: dict[str, object] = {t.name: t for t in graph.inputs}
    for node in graph.nodes:
        layer = node.layer
        other = names.get(layer.name)
        if other is not None and other is not layer:
            raise ModelConfigError(
                f"The model holds two layers (or an input and a layer) named {layer.name!r}; "
                "layer names must be unique to save a functional model"
            )
        names[layer.name] = layer
        nodes = layer_nodes.setdefault(id(layer), [])
        for i, t in enumerate(flatten(node.outputs)):
            history[id(t)] = [layer.name, len(nodes), i]
        nodes.append(node)

    def encode(value, where):
        if isinstance(value, KerasTensor):
            if id(value) not in history:
                raise ModelConfigError(f"{where}: a symbolic tensor that is not part of the model")
            return {
                "class_name": _TENSOR,
                "config": {
                    "shape": list(value.shape),
                    "dtype": value.dtype,
                    "keras_history": list(history[id(value)]),
                },
            }
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, slice):
            return {
                "class_name": "__slice__",
                "config": {"start": value.start, "stop": value.stop, "step": value.step},
            }
        if value is Ellipsis:
            return {"class_name": "__ellipsis__", "config": {}}
        if isinstance(value, list | tuple):
            return [encode(v, where) for v in value]
        if isinstance(value, Mapping):
            return {str(k): encode(v, where) for k, v in value.items()}
        raise ModelConfigError(
            f"{where}: cannot save a call argument of type {type(value).__name__} "
            "(expected symbolic tensors, numbers, strings, None or lists/dicts of them)"
        )

    # Keras writes the layers in ``model.layers`` order, InputLayers among them.
    input_of = {id(t.node.layer): t for t in graph.inputs if t.node is not None}
    operations = getattr(graph, "operations", None) or graph.layers
    layers = []
    for layer in operations:
        if id(layer) in input_of:
            t = input_of[id(layer)]
            layers.append({**_input_layer_dict(t), "name": t.name, "inbound_nodes": []})
            continue
        d = _serialize_layer(layer)
        d["name"] = layer.name
        d["inbound_nodes"] = [
            {
                "args": encode(list(n.args), f"layer {layer.name!r}"),
                "kwargs": encode(dict(n.kwargs), f"layer {layer.name!r}"),
            }
            for n in layer_nodes[id(layer)]
        ]
        layers.append(d)

    def refs(structure, tensors):
        triples = [list(history[id(t)]) for t in tensors]
        if isinstance(structure, list | tuple):
            return triples
        return triples[0]

    return {
        "name": model.name,
        "trainable": bool(getattr(model, "trainable", True)),
        "layers": layers,
        "input_layers": refs(graph.input_structure, graph.inputs),
        "output_layers": refs(graph.output_structure, graph.outputs),
    }


def model_to_config(model) -> dict:
    """A Sequential or functional model as Keras 3's serialized model dict.

    >>> from rnnkit.models import Sequential, Input
    >>> from rnnkit.layers import LSTM, Dense
    >>> model = Sequential([Input(shape=(None, 3)), LSTM(4), Dense(2)], name="m")
    >>> cfg = model_to_config(model)
    >>> cfg["class_name"], [d["class_name"] for d in cfg["config"]["layers"]]
    ('Sequential', ['InputLayer', 'LSTM', 'Dense'])
    """
    Model, Sequential = _models()
    if isinstance(model, Sequential):
        class_name, config = "Sequential", _sequential_config(model)
        registered = None if type(model) is Sequential else get_registered_name(type(model))
    elif isinstance(model, Model) and _find_graph(model) is not None:
        class_name, config = "Functional", _functional_config(model, _find_graph(model))
        registered = "Functional" if type(model) is Model else get_registered_name(type(model))
    elif hasattr(model, "get_config"):  # a subclassed model with its own config
        cls = type(model)
        class_name, config = cls.__name__, model.get_config()
        registered = get_registered_name(cls)
        if not isinstance(config, dict):
            raise ModelConfigError(
                f"{cls.__name__}.get_config() must return a dict, received {type(config).__name__}"
            )
    else:
        raise ModelConfigError(
            f"Cannot write the config of a {type(model).__name__}: expected a Sequential, a "
            "functional Model or a model with get_config()"
        )
    module = {None: "keras", "Functional": "keras.src.models.functional"}
    out = {
        "module": module[registered] if registered in module else type(model).__module__,
        "class_name": class_name,
        "config": config,
        "registered_name": registered,
    }
    if class_name == "Sequential" and config.get("build_input_shape") is not None:
        out["build_config"] = {"input_shape": config["build_input_shape"]}
    return out


# --------------------------------------------------------------------------- config -> model
_PLAIN_VALUES = ("__slice__", "__ellipsis__", "__numpy__", "__tensor__", "__bytes__", "__lambda__")


def _plain_value(value: dict, where: str):
    """A call argument Keras wrote as a special dict: slices, Ellipsis, arrays, bytes."""
    kind, cfg = value.get("class_name"), value.get("config") or {}
    if kind == "__lambda__":
        raise ModelConfigError(
            f"{where}: a call argument is a Python lambda stored as bytecode in the file; "
            "loading never runs code from a file, so this graph cannot be rebuilt"
        )
    if kind == "__slice__":
        parts = [cfg.get(k) for k in ("start", "stop", "step")]
        if not all(p is None or isinstance(p, int) for p in parts):
            raise ModelConfigError(f"{where}: a slice with non-integer bounds {parts!r}")
        return slice(*parts)
    if kind == "__ellipsis__":
        return Ellipsis
    if kind == "__bytes__":
        return str(cfg.get("value", "")).encode("utf-8")
    import torch  # "__numpy__" / "__tensor__": a constant array written as nested lists

    from rnnkit.layers.keras_ops import _dtype

    return torch.as_tensor(cfg.get("value"), dtype=_dtype(cfg.get("dtype"), where))


def _input_from_dict(d: dict, Input):
    cfg = d.get("config") or {}
    shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
    if shape is None and cfg.get("shape") is not None:
        shape = [cfg.get("batch_size"), *cfg["shape"]]
    shape = _checked_batch_shape(shape, f"InputLayer {cfg.get('name')!r}")
    dtype = cfg.get("dtype")
    if isinstance(dtype, dict):  # a DTypePolicy dict
        dtype = (dtype.get("config") or {}).get("name")
    return Input(batch_shape=tuple(shape), dtype=dtype, name=cfg.get("name"))


# Values per sample an input of a config may declare: symbolic calls build example tensors of
# that size, so a config asking for 10**9 features must fail before anything is allocated.
MAX_INPUT_VALUES = 1 << 24


def _checked_batch_shape(shape, where):
    if not isinstance(shape, list | tuple) or not shape:
        raise ModelConfigError(f"{where}: expected 'batch_shape' as a list, received {shape!r:.200}")
    for d in shape:
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 0):
            raise ModelConfigError(
                f"{where}: batch_shape entries must be None or integers >= 0, received {shape!r:.200}"
            )
    known = [d for d in shape[1:] if d is not None]
    per_sample = 1
    for d in known:
        per_sample *= d
    if per_sample > MAX_INPUT_VALUES:
        raise ModelConfigError(
            f"{where}: batch_shape {list(shape)} declares {per_sample} values per sample, more "
            f"than the {MAX_INPUT_VALUES} a model config may declare"
        )
    return tuple(shape)


def _check_layer_dict(d, where):
    if not isinstance(d, dict) or not isinstance(d.get("class_name"), str):
        raise ModelConfigError(
            f"{where}: expected a layer dict with a string 'class_name', received {d!r:.200}"
        )


def _sequential_from_config(config: dict, custom_objects, name_hint=None):
    from rnnkit.layers.input_layer import Input

    _, Sequential = _models()
    layer_dicts = config.get("layers")
    if not isinstance(layer_dicts, list):
        raise ModelConfigError(
            f"Sequential config: expected 'layers' as a list, received {type(layer_dicts).__name__}"
        )
    inp, layers = None, []
    for i, d in enumerate(layer_dicts):
        _check_layer_dict(d, f"Sequential layer {i}")
        if d["class_name"] == "InputLayer":
            if layers or inp is not None:
                raise ModelConfigError("Sequential config: an InputLayer must come first")
            inp = _input_from_dict(d, Input)
            continue
        where = f"layer {(d.get('config') or {}).get('name', i)!r}"
        layers.append(_deserialize_layer(d, custom_objects, where))
    if inp is None and config.get("build_input_shape") is not None:
        inp = Input(batch_shape=_checked_batch_shape(config["build_input_shape"], "build_input_shape"))
    model = Sequential(([inp] if inp is not None else []) + layers, name=config.get("name"))
    return model, layers


def _functional_from_config(config: dict, custom_objects, cls=None):
    from rnnkit.layers.input_layer import Input

    Model, _ = _models()
    layer_dicts = config.get("layers")
    if not isinstance(layer_dicts, list):
        raise ModelConfigError(
            f"Functional config: expected 'layers' as a list, received {type(layer_dicts).__name__}"
        )
    tensors: dict[str, list] = {}  # layer name -> per node: flat output tensors
    layers: dict[str, object] = {}
    ordered = []
    pending = []  # (layer name, node dict) still to call, in order
    for i, d in enumerate(layer_dicts):
        _check_layer_dict(d, f"Functional layer {i}")
        name = d.get("name") or (d.get("config") or {}).get("name")
        if not isinstance(name, str):
            raise ModelConfigError(f"Functional layer {i} ({d['class_name']}) has no name")
        if name in layers or name in tensors:
            raise ModelConfigError(f"Functional config: duplicate layer name {name!r}")
        if d["class_name"] == "InputLayer":
            tensors[name] = [[_input_from_dict(d, Input)]]
            layers[name] = None
            continue
        layer = _deserialize_layer(d, custom_objects, f"layer {name!r}")
        layers[name] = layer
        ordered.append(layer)
        tensors[name] = []
        nodes = d.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ModelConfigError(f"layer {name!r}: expected 'inbound_nodes' as a list")
        for node in nodes:
            pending.append((name, node))

    class _NotReady(Exception):
        pass

    def lookup(history, where):
        if not (isinstance(history, list | tuple) and len(history) == 3):
            raise ModelConfigError(
                f"{where}: expected keras_history [layer_name, node_index, tensor_index], "
                f"received {history!r}"
            )
        lname, node_i, tensor_i = history
        if lname not in tensors:
            raise ModelConfigError(f"{where}: refers to unknown layer {lname!r}")
        if not isinstance(node_i, int) or not isinstance(tensor_i, int):
            raise ModelConfigError(f"{where}: keras_history indices must be ints: {history!r}")
        calls = tensors[lname]
        if node_i >= len(calls):
            raise _NotReady
        outs = calls[node_i]
        if not 0 <= tensor_i < len(outs):
            raise ModelConfigError(
                f"{where}: layer {lname!r} node {node_i} has {len(outs)} output(s), "
                f"tensor index {tensor_i} requested"
            )
        return outs[tensor_i]

    def decode(value, where):
        if isinstance(value, dict):
            if value.get("class_name") == _TENSOR:
                return lookup((value.get("config") or {}).get("keras_history"), where)
            if value.get("class_name") in _PLAIN_VALUES:
                return _plain_value(value, where)
            return {k: decode(v, where) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v, where) for v in value]
        return value

    def call_node(name, node):
        where = f"layer {name!r}"
        if isinstance(node, dict):
            args = decode(list(node.get("args") or []), where)
            kwargs = decode(dict(node.get("kwargs") or {}), where)
        elif isinstance(node, list):  # Keras 2 style [[layer, node, tensor, kwargs], ...]
            args_list, kwargs = [], {}
            for entry in node:
                if not (isinstance(entry, list) and len(entry) >= 3):
                    raise ModelConfigError(f"{where}: malformed inbound node entry {entry!r}")
                args_list.append(lookup(entry[:3], where))
                if len(entry) > 3 and isinstance(entry[3], dict):
                    kwargs.update(decode(entry[3], where))
            args = [args_list[0] if len(args_list) == 1 else args_list]
        else:
            raise ModelConfigError(f"{where}: malformed inbound node {node!r:.200}")
        # The symbolic call's recorded mode must not pin training at run time.
        kwargs.pop("training", None)
        kwargs = {k: v for k, v in kwargs.items() if not (k == "mask" and v is None)}
        out = layers[name](*args, **kwargs)
        tensors[name].append(flatten(out))

    while pending:
        progressed, remaining = False, []
        for name, node in pending:
            try:
                call_node(name, node)
                progressed = True
            except _NotReady:
                remaining.append((name, node))
        if not progressed:
            names = sorted({n for n, _ in remaining})
            raise ModelConfigError(
                f"Functional config: cannot connect layers {names}: their inputs are never produced"
            )
        pending = remaining

    def refs(spec, what):
        # a leaf is [layer_name, node_index, tensor_index]; lists / dicts nest (Keras writes the
        # model's output structure, e.g. a stacked RNN's per-cell state lists)
        if spec is None:
            raise ModelConfigError(f"Functional config: missing {what!r}")
        single = isinstance(spec, list | tuple) and len(spec) == 3 and isinstance(spec[0], str)
        if isinstance(spec, dict):
            return {k: refs(v, what) for k, v in spec.items()}
        if single:
            return lookup(spec, what)
        if not isinstance(spec, list | tuple):
            raise ModelConfigError(f"Functional config: malformed {what!r}: {spec!r:.200}")
        return [refs(s, what) for s in spec]

    try:
        inputs = refs(config.get("input_layers"), "input_layers")
        outputs = refs(config.get("output_layers"), "output_layers")
    except _NotReady:
        raise ModelConfigError(
            "Functional config: input_layers / output_layers refer to a layer call that the "
            "config never makes"
        ) from None
    builder = cls if cls is not None else Model
    model = builder(inputs=inputs, outputs=outputs, name=config.get("name"))
    return model, ordered


def _build(config, custom_objects=None):
    """``(model, layers in the config's order)`` from a Keras model dict."""
    if not isinstance(config, dict):
        raise ModelConfigError(
            f"Expected a model config dict, received {type(config).__name__}"
        )
    if "layers" in config and "class_name" not in config:  # a bare ``get_config()`` dict
        kind = "Functional" if "input_layers" in config else "Sequential"
        config = {"class_name": kind, "config": config, "registered_name": None}
    class_name = config.get("class_name")
    inner = config.get("config")
    if not isinstance(class_name, str) or not isinstance(inner, dict):
        raise ModelConfigError(
            "Expected a model config with a string 'class_name' and a dict 'config', received "
            f"keys {sorted(config)}"
        )
    registered = config.get("registered_name")
    Model, Sequential = _models()
    if class_name == "Sequential" and registered in (None, "Sequential"):
        return _sequential_from_config(inner, custom_objects)
    if class_name in _FUNCTIONAL_NAMES and registered in (None, "Functional", "Model"):
        return _functional_from_config(inner, custom_objects)
    cls = None
    for key in (registered, class_name):
        if isinstance(key, str):
            cls = get_registered_object(key, custom_objects)
            if cls is not None:
                break
    if not isinstance(cls, type):
        raise ModelConfigError(
            f"Unknown model class {class_name!r} (registered_name {registered!r}). Pass it in "
            "custom_objects={...} or decorate it with "
            "@rnnkit.saving.register_keras_serializable()."
        )
    if issubclass(cls, Sequential):
        model, layers = _sequential_from_config(inner, custom_objects)
        return model, layers
    if issubclass(cls, Model) and "layers" in inner and "input_layers" in inner:
        return _functional_from_config(inner, custom_objects, cls=cls)
    try:
        model = cls.from_config(inner)
    except TypeError as e:
        raise ModelConfigError(f"Could not rebuild {class_name!r} from its config: {e}") from e
    build = config.get("build_config") or {}
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if shape is not None and hasattr(model, "build") and not getattr(model, "built", False):
        model.build(tuple(shape))
    layers = list(getattr(model, "layers", []) or [])
    return model, layers


def model_from_config(config: dict, custom_objects: dict | None = None):
    """Rebuild a model from Keras 3's model dict (as :func:`model_to_config` or Keras write it).

    The bare inner dict (``{"name", "layers", ...}``, what Keras's ``model.get_config()``
    returns) is accepted too. Unknown class names raise ``ValueError`` naming the class.

    >>> from rnnkit.models import Sequential, Input
    >>> from rnnkit.layers import GRU
    >>> cfg = model_to_config(Sequential([Input(shape=(None, 3)), GRU(4)], name="m"))
    >>> model = model_from_config(cfg)
    >>> model.name, [type(layer).__name__ for layer in model.layers]
    ('m', ['GRU'])
    """
    return _build(config, custom_objects)[0]


def _register_with_models():
    """Give ``rnnkit.models`` the saving functions it delegates to (saving sits above models)."""
    from rnnkit.models import model as _model
    from rnnkit.saving import export, native

    def late(module, name):  # looked up at call time, so a patched function is the one called
        def call(*args, **kwargs):
            return getattr(module, name)(*args, **kwargs)

        call.__name__ = name
        return call

    _model.register_saving(
        model_to_config=model_to_config,
        model_from_config=model_from_config,
        save_model=late(native, "save_model"),
        load_model=late(native, "load_model"),
        save_weights=late(native, "save_weights"),
        load_weights=late(native, "load_weights"),
        export_model=late(export, "export_model"),
    )


_register_with_models()
