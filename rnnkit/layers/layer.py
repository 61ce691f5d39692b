"""The Keras ``Layer`` contract on a ``torch.nn.Module``.

A :class:`Layer` builds its weights lazily on the first call (``build(input_shape)``), creates them
with :meth:`Layer.add_weight`, lists them in Keras's order (``weights``, ``get_weights``), round-trips
its constructor arguments (``get_config`` / ``from_config``), collects regularisation losses
(``losses``) and propagates Keras masks (``tensor._keras_mask``) from layer to layer.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import threading
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from rnnkit import config as _config
from rnnkit.nest import flatten, map_structure, pack_as  # noqa: F401  (re-exported)
from rnnkit.variables import Variable

__all__ = ["Layer", "InputSpec"]

_NAME_COUNTS: dict[str, int] = {}
_CTX = threading.local()


class WeightBudgetError(ValueError):
    """A layer asked for more weight values than the file being loaded holds."""


class _Budget:
    def __init__(self, values: int, what: str):
        self.left, self.total, self.what = int(values), int(values), what

    def take(self, shape, layer_name, weight_name):
        n = 1
        for d in shape:
            if d < 0:
                raise WeightBudgetError(
                    f"layer {layer_name!r}: weight {weight_name!r} would have the negative shape "
                    f"{tuple(shape)}"
                )
            n *= d
        if n > self.left:
            raise WeightBudgetError(
                f"layer {layer_name!r}: weight {weight_name!r} of shape {tuple(shape)} needs {n} "
                f"values, but {self.what} holds only {self.total} in all ({self.left} left); "
                "the config does not fit the weights"
            )
        self.left -= n


@contextlib.contextmanager
def weight_budget(values: int, what: str = "the weight file"):
    """Build layers whose weights a file will provide, allocating at most ``values`` values.

    Inside the block ``add_weight`` checks each weight's size *before* allocating (or
    initialising) it: a config declaring ``LSTM(units=10**12)`` beside small weights fails at
    once with :class:`WeightBudgetError`.

    >>> from rnnkit.layers import Dense
    >>> with weight_budget(10):
    ...     Dense(4).build((None, 3))
    Traceback (most recent call last):
    ...
    rnnkit.layers.layer.WeightBudgetError: layer 'dense...': weight 'kernel' of shape (3, 4) needs 12 values, but the weight file holds only 10 in all (10 left); the config does not fit the weights
    """
    previous = getattr(_CTX, "weight_budget", None)
    _CTX.weight_budget = _Budget(values, what)
    try:
        yield _CTX.weight_budget
    finally:
        _CTX.weight_budget = previous

_BASE_KWARGS = {
    "trainable",
    "name",
    "dtype",
    "input_shape",
    "batch_input_shape",
    "input_dim",
    "batch_size",
    "activity_regularizer",
    "autocast",
    "seed",
}


def _snake(name: str) -> str:
    """Keras's default layer name of a class: ``Conv1D`` -> ``conv1d``, ``SimpleRNN`` -> ``simple_rnn``.

    >>> _snake("Conv1D"), _snake("GlobalAveragePooling1D"), _snake("ConvLSTM2D"), _snake("LSTMCell")
    ('conv1d', 'global_average_pooling1d', 'conv_lstm2d', 'lstm_cell')
    """
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s.replace("r_n_n", "rnn").replace("l_s_t_m", "lstm").replace("g_r_u", "gru")


def unique_name(base: str) -> str:
    """Keras-style automatic names: ``lstm``, ``lstm_1``, ``lstm_2`` ..."""
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def training_context():
    """The ``training`` value set by the innermost enclosing call, or None."""
    stack = getattr(_CTX, "training", None)
    return stack[-1] if stack else None


class _TrainingScope:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        if not hasattr(_CTX, "training"):
            _CTX.training = []
        _CTX.training.append(self.value)

    def __exit__(self, *exc):
        _CTX.training.pop()
        return False


def to_tensor(x, dtype: torch.dtype | None = None):
    """numpy arrays / python numbers / lists -> torch tensors; tensors pass through."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray | np.generic):
        if x.dtype.kind in ("U", "S", "O"):  # text (torch has no string tensors): left to the layer
            return x
        # (np.ascontiguousarray turns a 0-d array into shape (1,): keep the scalar's shape)
        t = torch.from_numpy(np.ascontiguousarray(x)).reshape(np.shape(x))
    elif isinstance(x, int | float | bool) or (
        isinstance(x, list | tuple) and x and all(isinstance(v, int | float) for v in x)
    ):
        t = torch.as_tensor(x)
    else:
        return x
    if dtype is not None and t.is_floating_point():
        t = t.to(dtype)
    return t


def _shape_of(x):
    if isinstance(x, torch.Tensor) or hasattr(x, "shape"):
        return tuple(x.shape)
    return x


class InputSpec:
    """What a layer accepts: ``ndim`` / ``min_ndim`` and known axis sizes (``{-1: 4}``)."""

    def __init__(self, dtype=None, shape=None, ndim=None, min_ndim=None, axes=None):
        self.dtype, self.shape, self.ndim, self.min_ndim = dtype, shape, ndim, min_ndim
        self.axes = axes or {}


_AUTO_CONFIG_TYPES = (str, int, float, bool, type(None))
_SIGNATURES: dict = {}


def _plain_values(x) -> bool:
    """Whether ``x`` is built only from str / int / float / bool / None (in lists, tuples, dicts)."""
    if isinstance(x, dict):
        return all(isinstance(k, str) and _plain_values(v) for k, v in x.items())
    if isinstance(x, list | tuple):
        return all(_plain_values(v) for v in x)
    return isinstance(x, _AUTO_CONFIG_TYPES)


def _capture_config(cls, args, kwargs):
    """The constructor arguments of ``cls(*args, **kwargs)`` as a config dict, or None.

    None when they cannot be replayed as ``cls(**config)``: a value that is not plain
    (str / int / float / bool / None, nested in lists / tuples / dicts), positional-only or
    variadic positional arguments, or arguments that do not bind to the signature.
    """
    sig = _SIGNATURES.get(cls)
    if sig is None:
        try:
            sig = inspect.signature(cls.__init__)
        except (TypeError, ValueError):
            sig = False
        _SIGNATURES[cls] = sig
    if sig is False:
        return None
    params = list(sig.parameters.values())[1:]  # without self
    if any(p.kind is p.POSITIONAL_ONLY for p in params):
        return None
    try:
        bound = sig.bind(None, *args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    config = {}
    for name, value in list(bound.arguments.items())[1:]:
        kind = sig.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None
            continue
        if kind is inspect.Parameter.VAR_KEYWORD:
            config.update(value)
            continue
        config[name] = value
    config.pop("name", None)
    if not _plain_values(config):
        return None
    return config


def _scope_stack() -> list:
    if not hasattr(_CTX, "scope"):
        _CTX.scope = []
    return _CTX.scope


def _scoped_build(build):
    """Wrap a ``build`` so weights created inside get paths under the layer's name."""

    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        stack = _scope_stack()
        if stack and stack[-1] is self:  # super().build() inside a build
            return build(self, *args, **kwargs)
        stack.append(self)
        try:
            return build(self, *args, **kwargs)
        finally:
            stack.pop()

    wrapper._rnnkit_scoped = True
    return wrapper


class Layer(nn.Module):
    """Base class of every rnnkit layer: a ``torch.nn.Module`` with Keras's contract.

    Subclasses create weights in ``build(input_shape)`` with :meth:`add_weight` and compute in
    ``call(inputs, ...)``. Calling the layer builds it on first use, converts numpy inputs, passes
    Keras masks along and resolves ``training`` (explicit argument, then the enclosing call, then
    ``module.training``, which starts False as in Keras: call ``.train()`` to switch it on).

    Args:
        trainable: whether the weights are trained.
        name: layer name (default: snake-case class name, numbered).
        dtype: weight dtype: a name, a ``torch.dtype`` or a Keras ``DTypePolicy`` dict
            (default ``rnnkit.config.floatx()``).
        input_shape: tutorial-era spelling of the input shape without the batch axis.

    >>> import torch
    >>> class Scale(Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
    ...     def call(self, x):
    ...         return x * self.w
    >>> layer = Scale()
    >>> layer(torch.ones(2, 3)).shape
    torch.Size([2, 3])
    >>> [w.shape for w in layer.get_weights()]
    [(3,)]
    """

    supports_masking = False
    _inbound_nodes: list = ()  # the graph nodes of this layer's symbolic calls (a list once called)

    def __new__(cls, *args, **kwargs):
        # Keras 3 records plain constructor arguments so that a custom layer without
        # get_config() still round-trips through from_config / clone / save / load.
        obj = super().__new__(cls)
        object.__setattr__(obj, "_auto_config", _capture_config(cls, args, kwargs))
        return obj

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_rnnkit_scoped", False):
            cls.build = _scoped_build(build)

    def _build_at_init(self) -> None:
        """Mark a layer without state as built at construction (when ``build`` is not overridden)."""
        if type(self).build is Layer.build:
            self.built = True

    def __init__(self, **kwargs):
        unknown = set(kwargs) - _BASE_KWARGS
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {sorted(unknown)}; "
                f"accepted base arguments are {sorted(_BASE_KWARGS)}"
            )
        # Keep attributes a subclass set before calling super().__init__() (Keras allows it).
        pre = dict(self.__dict__)
        super().__init__()
        for k, v in pre.items():
            if k not in self.__dict__:
                object.__setattr__(self, k, v)
        self.training = False
        name = kwargs.get("name")
        self.name = name or unique_name(_snake(type(self).__name__))
        self._trainable = bool(kwargs.get("trainable", True))
        self._dtype_name = _config.standardize_dtype(kwargs.get("dtype")) or _config.floatx()
        self.built = False
        self._weight_order: list[str] = []
        self._regularizers: dict[str, object] = {}
        self._constraints: dict[str, object] = {}
        self._activity_losses: list[torch.Tensor] = []
        self._call_has_training = None
        self._call_has_mask = None
        self._training_pos = None
        from rnnkit import regularizers

        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))
        shape = kwargs.get("batch_input_shape")
        if shape is None and kwargs.get("input_shape") is not None:
            shape = (kwargs.get("batch_size"), *tuple(kwargs["input_shape"]))
        elif shape is None and kwargs.get("input_dim") is not None:
            shape = (kwargs.get("batch_size"), kwargs["input_dim"])
        self._batch_input_shape = tuple(shape) if shape is not None else None

    # ------------------------------------------------------------------ attributes
    def __setattr__(self, name, value):
        # ``self.w = self.add_weight(name="v")``: the weight is registered once, under the
        # attribute's name (torch would otherwise register the same Parameter twice).
        if isinstance(value, nn.Parameter) and "_parameters" in self.__dict__:
            params = self._parameters
            old = next((k for k, p in params.items() if p is value), None)
            if old is not None and old != name and name not in params:
                items = [(name if k == old else k, p) for k, p in params.items()]
                params.clear()
                params.update(items)
                if old in self._weight_order:
                    self._weight_order[self._weight_order.index(old)] = name
                for table in (self._regularizers, self._constraints):
                    if old in table:
                        table[name] = table.pop(old)
                self.__dict__.pop(name, None)
                return
        # Keras tracks layers held in lists (e.g. ``self.blocks = [Dense(2), Dense(3)]``).
        if (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(v, nn.Module) for v in value)
            and "_modules" in self.__dict__
            and not isinstance(value, nn.ModuleList)
        ):
            value = nn.ModuleList(value)
        super().__setattr__(name, value)

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype of this layer's weights and computations."""
        cached = self.__dict__.get("_torch_dtype")
        if cached is None or cached[0] != self._dtype_name:
            cached = self.__dict__["_torch_dtype"] = (self._dtype_name, _config.torch_dtype(self._dtype_name))
        return cached[1]

    @property
    def compute_dtype(self) -> str:
        return self._dtype_name

    @property
    def variable_dtype(self) -> str:
        return self._dtype_name

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool):
        self._trainable = bool(value)
        for p in self.parameters():
            if getattr(p, "_rnnkit_trainable", True):
                p.requires_grad_(self._trainable and p.is_floating_point())
        for m in self.modules():
            if isinstance(m, Layer) and m is not self:
                m._trainable = self._trainable

    # ------------------------------------------------------------------ weights
    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable: bool = True,
        name: str | None = None,
        regularizer=None,
        constraint=None,
        **kwargs,
    ) -> nn.Parameter:
        """Create a weight, register it as a parameter and return it (Keras's ``add_weight``).

        ``initializer`` is a name, an initializer object or a callable ``(shape, dtype)``;
        the default is ``glorot_uniform`` for floats and zeros otherwise.
        """
        from rnnkit import constraints, initializers, regularizers

        shape = tuple(int(s) for s in (shape or ()))
        tdtype = _config.torch_dtype(dtype or self._dtype_name)
        if initializer is None:
            initializer = "glorot_uniform" if tdtype.is_floating_point else "zeros"
        init = initializers.get(initializer)
        budget = getattr(_CTX, "weight_budget", None)
        if budget is not None:  # building for a file's weights: checked before allocating
            budget.take(shape, self.name, name or "variable")
        with torch.no_grad():
            value = init(shape, dtype=tdtype)
        value = torch.as_tensor(value, dtype=tdtype).reshape(shape)
        device = getattr(_CTX, "build_device", None) or self._existing_device()
        if device is not None and value.device != device:
            value = value.to(device)
        base = name or "variable"
        pname, i = base, 1
        while pname in self._parameters or (pname in self.__dict__ and pname not in self._weight_order):
            pname, i = f"{base}_{i}", i + 1
        param = Variable(value, requires_grad=trainable and self._trainable and tdtype.is_floating_point)
        param._rnnkit_trainable = bool(trainable)
        param._rnnkit_name = base
        param._rnnkit_path = self._weight_path(base)
        self.register_parameter(pname, param)
        if pname not in self._weight_order:
            self._weight_order.append(pname)
        reg = regularizers.get(regularizer)
        if reg is not None:
            self._regularizers[pname] = reg
        con = constraints.get(constraint)
        if con is not None:
            self._constraints[pname] = con
        return param

    def _weight_path(self, name: str) -> str:
        """``outer/inner/name``: the layers being built around this weight, then its own name."""
        names = [m.name for m in _scope_stack()]
        if not names or _scope_stack()[-1] is not self:
            names.append(self.name)
        return "/".join([*names, name])

    def _existing_device(self):
        """The device of this layer's existing weights (so later weights join them)."""
        for p in self._parameters.values():
            if p is not None:
                return p.device
        return None

    def _own_weights(self) -> list[nn.Parameter]:
        return [self._parameters[n] for n in self._weight_order if self._parameters.get(n) is not None]

    def _sublayers(self) -> list[nn.Module]:
        return [m for m in self._modules.values() if m is not None]

    def _tracked_weights(self) -> list[nn.Parameter]:
        out, seen = [], set()

        def add(p):
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)

        for p in self._own_weights():
            add(p)
        for name, p in self._parameters.items():  # parameters set without add_weight
            if p is not None and name not in self._weight_order:
                add(p)
        for m in self._sublayers():
            for p in _module_weights(m):
                add(p)
        return out

    @property
    def weights(self) -> list[nn.Parameter]:
        """All weights in Keras's order: this layer's (creation order), then its sublayers'."""
        return self._tracked_weights()

    def _tracked_variables(self) -> list[torch.Tensor]:
        """Keras's variable order: own weights, own seed-generator states, then each sublayer's."""
        from rnnkit.random import SeedGenerator

        out, seen = [], set()

        def add(v):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)

        subs = self._sublayers()
        for p in self._own_weights():
            add(p)
        for name, p in self._parameters.items():
            if p is not None and name not in self._weight_order:
                add(p)
        for m in subs:
            if isinstance(m, SeedGenerator):
                add(m.state)
        for m in subs:
            if not isinstance(m, SeedGenerator):
                for v in _module_variables(m):
                    add(v)
        return out

    def _seed_states(self) -> list[torch.Tensor]:
        """The state tensors of this layer's (and its sublayers') seed generators."""
        weights = {id(w) for w in self.weights}
        return [v for v in self._tracked_variables() if id(v) not in weights]

    @property
    def variables(self) -> list[torch.Tensor]:
        """Weights plus seed-generator states (Keras counts both as variables), in Keras's order."""
        return self._tracked_variables()

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        if not self.trainable:
            return []
        return [w for w in self.weights if getattr(w, "_rnnkit_trainable", True) and w.requires_grad]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        train = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in train]

    trainable_variables = trainable_weights

    @property
    def non_trainable_variables(self) -> list[torch.Tensor]:
        """Non-trainable weights plus seed-generator states."""
        return self.non_trainable_weights + self._seed_states()

    def get_weights(self) -> list[np.ndarray]:
        """The weights as numpy arrays, in Keras's order and layout."""
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from arrays in Keras's order and layout (as ``get_weights`` gives)."""
        mine = self.weights
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(
                f"Layer {self.name!r} expects {len(mine)} weights "
                f"(shapes {[tuple(w.shape) for w in mine]}), received {len(weights)}"
            )
        with torch.no_grad():
            for i, (p, v) in enumerate(zip(mine, weights)):
                v = to_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v)
                if tuple(v.shape) != tuple(p.shape):
                    raise ValueError(
                        f"Layer {self.name!r} weight {i} ({getattr(p, '_rnnkit_name', '?')}) has "
                        f"shape {tuple(p.shape)}, received an array of shape {tuple(v.shape)}"
                    )
                p.copy_(v.to(dtype=p.dtype, device=p.device))

    def count_params(self) -> int:
        return int(sum(w.numel() for w in self.weights))

    # ------------------------------------------------------------------ losses / constraints
    @property
    def losses(self) -> list[torch.Tensor]:
        """Regularisation losses of the current weights plus activity losses of the last call."""
        out = []
        for m in self.modules():
            if isinstance(m, Layer):
                for pname, reg in m._regularizers.items():
                    p = m._parameters.get(pname)
                    if p is not None:
                        out.append(reg(p))
                out.extend(m._activity_losses)
        return out

    def add_loss(self, loss) -> None:
        """Add a loss tensor (kept until this layer is called again)."""
        self._activity_losses.append(loss)

    def apply_constraints(self) -> None:
        """Project constrained weights back onto their sets (called after each optimizer step)."""
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, Layer):
                    for pname, con in m._constraints.items():
                        p = m._parameters.get(pname)
                        if p is not None:
                            p.copy_(con(p))

    # ------------------------------------------------------------------ build / call
    def build(self, input_shape) -> None:
        """Create the weights; ``input_shape`` includes the batch axis (may be None)."""
        self.built = True

    def _maybe_build(self, inputs) -> None:
        if self.built:
            return
        shapes = map_structure(_shape_of, inputs)
        device = next((t.device for t in flatten(inputs) if isinstance(t, torch.Tensor)), None)
        previous = getattr(_CTX, "build_device", None)
        _CTX.build_device = device  # weights are created where the first inputs live
        try:
            self.build(shapes)
        finally:
            _CTX.build_device = previous
        self.built = True
        if getattr(self, "_build_input_shape", None) is None:
            self._build_input_shape = map_structure(lambda d: d, list(shapes) if isinstance(shapes, tuple) else shapes)

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement call()")

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output (default: the input mask, if masking is supported)."""
        return mask if self.supports_masking else None

    def _signature_flags(self):
        if self._call_has_training is None:
            params = inspect.signature(self.call).parameters
            var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
            self._call_has_training = "training" in params or var_kw
            self._call_has_mask = "mask" in params or var_kw
            names = [n for n, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            # position of ``training`` among __call__'s positional args (inputs is args[0])
            self._training_pos = names.index("training") if "training" in names else None
        return self._call_has_training, self._call_has_mask

    def __call__(self, *args, **kwargs):
        if _symbolic.any_symbolic(args, kwargs):
            return _symbolic.symbolic_call(self, args, kwargs)
        if not args:
            if "inputs" not in kwargs:
                raise TypeError(f"{self.name}: expected the inputs as the first argument")
            args = (kwargs.pop("inputs"),)
        first = args[0]
        inputs = self._convert_input(first) if isinstance(first, torch.Tensor) else (
            map_structure(self._convert_input, first)
        )
        if inputs is not first:
            args = (inputs, *args[1:])
        has_training, has_mask = self._signature_flags()
        if self._training_pos is not None and len(args) > self._training_pos:
            # ``layer(x, training)`` passed positionally (as tutorial 002 does)
            args, kwargs["training"] = args[: self._training_pos], args[self._training_pos]
        training = kwargs.pop("training", None) if not has_training else kwargs.get("training")
        if training is None:
            training = training_context()
        if training is None:
            training = self.training
        if has_training:
            kwargs["training"] = bool(training)
        in_mask = kwargs.get("mask")
        if in_mask is None:
            if isinstance(inputs, torch.Tensor):
                in_mask = getattr(inputs, "_keras_mask", None)
            else:
                masks = [getattr(t, "_keras_mask", None) for t in flatten(inputs)]
                if any(m is not None for m in masks):
                    in_mask = pack_as(inputs, masks) if isinstance(inputs, list | tuple | dict) else masks[0]
        if has_mask and in_mask is not None and kwargs.get("mask") is None:
            kwargs["mask"] = in_mask
        elif not has_mask:
            kwargs.pop("mask", None)
        if not self.built:
            self._maybe_build(inputs)
        if self._activity_losses:
            self.__dict__["_activity_losses"] = []
        with _TrainingScope(bool(training)):
            outputs = super().__call__(*args, **kwargs)
        if self.activity_regularizer is not None:
            for o in flatten(outputs):
                if isinstance(o, torch.Tensor):
                    self._activity_losses.append(self.activity_regularizer(o) / max(o.shape[0], 1))
        self._set_output_mask(inputs, in_mask, outputs)
        return outputs

    def _convert_input(self, t):
        if not isinstance(t, torch.Tensor):
            t = to_tensor(t)
        if isinstance(t, torch.Tensor) and t.is_complex():
            raise TypeError(
                f"{self.name}: complex inputs are not supported, received a {t.dtype} tensor of "
                f"shape {tuple(t.shape)}; pass the real and imaginary parts as real features "
                "(e.g. torch.view_as_real)"
            )
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            dtype = self.dtype
            if t.dtype != dtype:
                mask = getattr(t, "_keras_mask", None)
                t = t.to(dtype)
                if mask is not None:
                    t._keras_mask = mask
        return t

    def _set_output_mask(self, inputs, in_mask, outputs):
        if not (self.supports_masking or type(self).compute_mask is not Layer.compute_mask):
            return
        out_mask = self.compute_mask(inputs, in_mask)
        if out_mask is None:
            return
        outs = outputs if isinstance(outputs, list | tuple) else [outputs]
        masks = out_mask if isinstance(out_mask, list | tuple) else [out_mask]
        for o, m in zip(outs, masks):
            if isinstance(o, torch.Tensor) and m is not None:
                try:
                    o._keras_mask = m
                except (AttributeError, RuntimeError):
                    pass

    # ------------------------------------------------------------------ graph
    def _node_at(self, node_index: int, what: str):
        nodes = self._inbound_nodes
        if not nodes:
            raise ValueError(
                f"Layer {self.name!r} has never been called on symbolic tensors (rnnkit.Input and "
                f"layer outputs) and thus has no defined {what}"
            )
        if not -len(nodes) <= node_index < len(nodes):
            raise ValueError(
                f"Layer {self.name!r} was called {len(nodes)} time(s) symbolically; asked for the "
                f"{what} of call (node) {node_index}"
            )
        return nodes[node_index]

    def _only_node(self, what: str):
        nodes = self._inbound_nodes
        if len(nodes) > 1:
            raise ValueError(
                f"Layer {self.name!r} has {len(nodes)} inbound nodes (it was called {len(nodes)} "
                f"times), hence the notion of its {what} is ill-defined. Use "
                f"get_{what}_at(node_index) instead"
            )
        return self._node_at(0, what)

    @staticmethod
    def _unwrap(tensors):
        return tensors[0] if len(tensors) == 1 else list(tensors)

    @property
    def input(self):
        """The symbolic input(s) of this layer's only call (a list when there are several)."""
        return self._unwrap(self._only_node("input").input_tensors)

    @property
    def output(self):
        """The symbolic output(s) of this layer's only call (a list when there are several)."""
        return self._unwrap(self._only_node("output").output_tensors)

    def get_input_at(self, node_index: int):
        """The symbolic input(s) of call number ``node_index`` of this layer."""
        return self._unwrap(self._node_at(node_index, "input").input_tensors)

    def get_output_at(self, node_index: int):
        """The symbolic output(s) of call number ``node_index`` of this layer."""
        return self._unwrap(self._node_at(node_index, "output").output_tensors)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """Constructor arguments as a JSON-able dict (Keras's keys).

        A subclass that does not override ``get_config`` gets its plain constructor arguments
        (str / int / float / bool / None, nested in lists / tuples / dicts), recorded
        automatically at construction as Keras 3 does; with other arguments it must define
        ``get_config`` (a ``NotImplementedError`` says so).
        """
        auto = {}
        if type(self).get_config is Layer.get_config and type(self).__init__ is not Layer.__init__:
            auto = self.__dict__.get("_auto_config")
            if auto is None:
                raise NotImplementedError(
                    f"{type(self).__name__} was created with constructor arguments that are not "
                    f"plain values (str / int / float / bool / None, in lists / tuples / dicts), "
                    f"or positional-only / *args arguments, so its config cannot be recorded "
                    f"automatically: define get_config() returning its constructor arguments "
                    f"(and from_config() if they need rebuilding)."
                )
            auto = dict(auto)
            try:
                params = inspect.signature(type(self).__init__).parameters
            except (TypeError, ValueError):
                params = {}
            takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
            for key in ("input_shape", "batch_input_shape", "input_dim", "batch_size"):
                if key not in params:
                    auto.pop(key, None)  # these come back through batch_input_shape below
            if "name" not in params and not takes_kwargs:
                base = {}
                base.update(auto)
                return base
        cfg = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": self._dtype_name},
                "registered_name": None,
            },
        }
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None and "activity_regularizer" not in cfg:
            from rnnkit import regularizers

            cfg["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if auto:
            auto.pop("dtype", None)
            auto.pop("trainable", None)
            auto.pop("activity_regularizer", None)
            cfg = {**auto, **cfg}
        return cfg

    @classmethod
    def from_config(cls, config: dict):
        """Build a layer from :meth:`get_config`'s dict."""
        return cls(**config)

    def get_build_config(self):
        shape = getattr(self, "_build_input_shape", None)
        return None if shape is None else {"input_shape": shape}

    def build_from_config(self, build_config) -> None:
        """Build from Keras's ``build_config`` (``input_shape`` or ``shapes_dict``)."""
        if not build_config:
            return
        shape = build_config.get("input_shape")
        if shape is None and "shapes_dict" in build_config:
            sd = build_config["shapes_dict"]
            shape = sd.get("sequences_shape", sd.get("input_shape"))
            if shape is None:
                shape = next(iter(sd.values()))
        if shape is not None and not self.built:
            self._build_input_shape = shape
            self.build(_to_shape(shape))
            self.built = True

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def _module_weights(m: nn.Module) -> list:
    """Weights of a child module: Keras order for Layers, looking through torch containers."""
    if isinstance(m, Layer):
        return m._tracked_weights()
    if isinstance(m, nn.ModuleList | nn.ModuleDict | nn.Sequential):
        return [p for child in m.children() for p in _module_weights(child)]
    return list(m.parameters())


def _module_variables(m: nn.Module) -> list:
    """Variables of a child module: Keras order for Layers, looking through torch containers."""
    if isinstance(m, Layer):
        return m._tracked_variables()
    if isinstance(m, nn.ModuleList | nn.ModuleDict | nn.Sequential):
        return [v for child in m.children() for v in _module_variables(child)]
    return list(m.parameters())


def _to_shape(shape):
    """JSON shapes -> tuples (nested lists of ints/None stay nested for multi-input layers)."""
    if isinstance(shape, Sequence) and shape and isinstance(shape[0], list | tuple):
        return [_to_shape(s) for s in shape]
    return tuple(shape)


# At the bottom: the symbolic module builds on the names above (Layer.__call__ dispatches to it).
from rnnkit.layers import symbolic as _symbolic  # noqa: E402
