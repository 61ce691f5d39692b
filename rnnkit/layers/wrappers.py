"""Wrappers: ``Wrapper`` (the base), ``Bidirectional`` (an RNN both ways) and ``TimeDistributed``."""

from __future__ import annotations

import copy

import numpy as np
import torch

from rnnkit.layers.layer import Layer, flatten, to_tensor
from rnnkit.layers.serialization import deserialize, serialize

__all__ = ["Wrapper", "Bidirectional", "TimeDistributed"]


class Wrapper(Layer):
    """Base class of layers that wrap another layer (Keras's ``layers.Wrapper``).

    Holds the wrapped layer as ``self.layer``, builds it with the wrapper's input shape unless a
    subclass's ``build`` does otherwise, and serializes it under the config key ``"layer"``.

    Args:
        layer: the wrapped layer (a ``torch.nn.Module``; an rnnkit ``Layer`` to be serializable).

    >>> import torch
    >>> from rnnkit.layers import Dense
    >>> class Twice(Wrapper):
    ...     def call(self, x):
    ...         return self.layer(self.layer(x))
    >>> Twice(Dense(3))(torch.zeros(2, 3)).shape
    torch.Size([2, 3])
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, torch.nn.Module):
            raise ValueError(
                f"{type(self).__name__} expects a layer to wrap, received {type(layer).__name__}"
            )
        super().__init__(**kwargs)
        self._set_wrapped(layer)

    def _set_wrapped(self, layer):
        self.layer = layer

    def build(self, input_shape=None):
        inner = self.layer
        if isinstance(inner, Layer) and not inner.built:
            inner.build(input_shape)
            inner.built = True
        self.built = True

    def call(self, inputs, *args, **kwargs):
        return self.layer(inputs, *args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config)

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _rename(name: str, prefix: str) -> str:
    for p in ("forward_", "backward_"):
        if name.startswith(p):
            name = name[len(p) :]
    return prefix + name


class Bidirectional(Wrapper):
    """Run a recurrent layer forwards and a copy of it backwards, and merge the two outputs.

    Args:
        layer: an ``RNN`` / ``LSTM`` / ``GRU`` / ``SimpleRNN`` layer (becomes the forward layer).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or ``None`` (return
            both outputs as a list).
        backward_layer: optional layer for the backward direction (must have
            ``go_backwards=True``); by default a fresh copy of ``layer`` built from its config.
        jit_compile: None (keep each layer's own setting) or False / True / "auto", set on both
            directions (see ``RNN``).

    Call: ``inputs`` ``(B, T, F)``, ``initial_state`` (forward states followed by backward
    states), ``mask``, ``training``. With ``return_state`` the result is the output followed by
    the forward and then the backward states. The backward output sequence is flipped back so
    that step t of both directions line up.

    >>> import torch
    >>> from rnnkit.layers import LSTM
    >>> Bidirectional(LSTM(4, return_sequences=True))(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 5, 8])
    """

    supports_masking = True

    def __init__(
        self, layer, merge_mode="concat", weights=None, backward_layer=None, jit_compile=None, **kwargs
    ):
        if not isinstance(layer, Layer) or not hasattr(layer, "return_sequences"):
            raise ValueError(
                f"Bidirectional expects a recurrent layer (RNN, LSTM, GRU, SimpleRNN), received "
                f"{type(layer).__name__}"
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Invalid merge_mode {merge_mode!r}; expected one of {list(_MERGE_MODES)}"
            )
        super().__init__(layer, **kwargs)
        self.merge_mode = merge_mode
        forward = layer
        forward.name = _rename(layer.name, "forward_")
        if backward_layer is None:
            backward = self._copy_backward(layer)
            if hasattr(layer, "jit_compile"):  # a runtime setting, not part of the config
                backward.jit_compile = layer.jit_compile
                backward.__dict__["_jit_compile_explicit"] = layer.__dict__.get("_jit_compile_explicit")
        else:
            if not isinstance(backward_layer, Layer) or not hasattr(backward_layer, "go_backwards"):
                raise ValueError(
                    f"backward_layer must be a recurrent layer, received {type(backward_layer).__name__}"
                )
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(
                    "backward_layer.go_backwards must be the opposite of layer.go_backwards, "
                    f"both are {layer.go_backwards}"
                )
            for attr in ("return_sequences", "return_state", "stateful"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(
                        f"forward and backward layers must agree on {attr}: "
                        f"{getattr(layer, attr)} vs {getattr(backward_layer, attr)}"
                    )
            backward = backward_layer
        self.forward_layer = forward
        self.backward_layer = backward
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        for sub in (forward, backward):
            sub.zero_output_for_mask = sub.return_sequences
            if jit_compile is not None and hasattr(sub, "jit_compile"):
                from rnnkit.runners.compiled import check_jit_compile

                sub.jit_compile = check_jit_compile(jit_compile, self.name)
                sub.__dict__["_jit_compile_explicit"] = True
        if weights is not None:
            self._initial_weights = weights

    def _set_wrapped(self, layer):
        pass  # the wrapped layer is ``forward_layer`` (registered once, under that name)

    @property
    def layer(self):
        """The wrapped (forward) layer."""
        return self.forward_layer

    @staticmethod
    def _copy_backward(layer):
        try:
            cfg = serialize(layer)
            cfg.pop("build_config", None)
            cfg["config"]["name"] = _rename(layer.name, "backward_")
            cfg["config"]["go_backwards"] = not layer.go_backwards
            return deserialize(cfg)
        except (ValueError, TypeError, NotImplementedError):
            # An unregistered custom cell: copy the object and re-draw its weights.
            backward = copy.deepcopy(layer)
            backward.name = _rename(layer.name, "backward_")
            backward.go_backwards = not layer.go_backwards
            if backward.built:
                for m in backward.modules():
                    if isinstance(m, Layer):
                        m.built = False
                        for n in list(m._weight_order):
                            m._parameters.pop(n, None)
                        m._weight_order = []
                backward.built = False
            return backward

    def build(self, input_shape):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(input_shape)
                sub.built = True
        self._build_input_shape = list(input_shape)
        self.built = True
        if getattr(self, "_initial_weights", None) is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    @property
    def states(self):
        f, b = self.forward_layer.states, self.backward_layer.states
        return None if f is None else f + b

    def reset_states(self, states=None):
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
        else:
            half = len(states) // 2
            self.forward_layer.reset_states(states[:half])
            self.backward_layer.reset_states(states[half:])

    reset_state = reset_states

    def call(self, inputs, initial_state=None, mask=None, training=None):
        fw_state = bw_state = None
        if initial_state is not None:
            states = flatten(list(initial_state) if isinstance(initial_state, list | tuple) else [initial_state])
            if len(states) % 2:
                raise ValueError(
                    f"{self.name}: initial_state must hold the forward states then the backward "
                    f"states (an even number of tensors), received {len(states)}"
                )
            half = len(states) // 2
            fw_state, bw_state = states[:half], states[half:]
        kw = {"mask": mask, "training": training}
        y = self.forward_layer(inputs, initial_state=fw_state, **kw)
        y_rev = self.backward_layer(inputs, initial_state=bw_state, **kw)
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            time_axis = 0 if getattr(self.forward_layer, "time_major", False) else 1
            y_rev = y_rev.flip(time_axis)
        if self.merge_mode == "concat":
            output = torch.cat([y, y_rev], dim=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if self.return_state:
            if self.merge_mode is None:
                return (*output, *states)
            return (output, *states)
        return output

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        """Output shape(s) without computing: the merged output's, then forward and backward states'.

        >>> from rnnkit.layers import LSTM
        >>> Bidirectional(LSTM(4, return_state=True)).compute_output_shape((2, 5, 3))
        ((2, 8), (2, 4), (2, 4), (2, 4), (2, 4))
        """
        fwd = self.forward_layer.compute_output_shape(sequences_shape)
        bwd = self.backward_layer.compute_output_shape(sequences_shape)
        if self.return_state:
            fwd, fwd_states = fwd[0], list(fwd[1:])
            bwd, bwd_states = bwd[0], list(bwd[1:])
        fwd, bwd = tuple(fwd), tuple(bwd)
        if self.merge_mode == "concat":
            last = None if fwd[-1] is None or bwd[-1] is None else fwd[-1] + bwd[-1]
            outputs = [(*fwd[:-1], last)]
        elif self.merge_mode is None:
            outputs = [fwd, bwd]
        else:
            outputs = [fwd]
        if self.return_state:
            return tuple(outputs + fwd_states + bwd_states)
        return outputs if self.merge_mode is None else outputs[0]

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, list | tuple):
            mask = mask[0]
        out = mask if self.return_sequences else None
        outs = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            n = len(self.forward_layer._state_structure()) * 2
            return outs + [None] * n
        return outs if self.merge_mode is None else out

    def get_config(self):
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": serialize(self.forward_layer),
            "backward_layer": serialize(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize(config.pop("layer"), custom_objects=custom_objects)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize(backward, custom_objects=custom_objects)
        return cls(layer, backward_layer=backward, **config)


class TimeDistributed(Wrapper):
    """Apply a layer to every time step: ``(B, T, ...) -> layer(B*T, ...) -> (B, T, ...)``.

    A mask ``(B, T)`` (or ``(B, T, ...)``) is checked against the inputs' first two axes and,
    when the wrapped layer's ``call`` takes ``mask``, passed to it flattened the same way.

    >>> import torch
    >>> from rnnkit.layers import Dense
    >>> TimeDistributed(Dense(3))(torch.zeros(2, 5, 4)).shape
    torch.Size([2, 5, 3])
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, torch.nn.Module):
            raise ValueError(f"TimeDistributed expects a layer, received {type(layer).__name__}")
        super().__init__(layer, **kwargs)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError(
                f"{self.name}: expected inputs of rank >= 3 (batch, time, ...), received shape "
                f"{input_shape}"
            )
        if isinstance(self.layer, Layer) and not self.layer.built:
            self.layer.build((input_shape[0], *input_shape[2:]))
            self.layer.built = True
        self._build_input_shape = list(input_shape)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if inputs.dim() < 3:
            raise ValueError(
                f"{self.name}: expected inputs of rank >= 3 (batch, time, ...), received shape "
                f"{tuple(inputs.shape)}"
            )
        B, T = inputs.shape[:2]
        if mask is not None:
            mask = self._check_mask(mask, inputs)
        flat = inputs.reshape(B * T, *inputs.shape[2:])
        kw = {}
        if isinstance(self.layer, Layer):
            takes_training, takes_mask = self.layer._signature_flags()
            if takes_training:
                kw["training"] = training
            if takes_mask and mask is not None:
                kw["mask"] = mask.reshape(B * T, *mask.shape[2:])
        y = self.layer(flat, **kw)
        return y.reshape(B, T, *y.shape[1:])

    def _check_mask(self, mask, inputs):
        if not isinstance(mask, torch.Tensor):
            mask = to_tensor(np.asarray(mask))
        if mask.dim() < 2 or tuple(mask.shape[:2]) != tuple(inputs.shape[:2]):
            raise ValueError(
                f"The `mask` passed to the `TimeDistributed` layer has a shape "
                f"{tuple(mask.shape)} that does not match the inputs' (batch_size, timesteps) = "
                f"{tuple(inputs.shape[:2])}; expected a mask of shape (batch_size, timesteps) or "
                f"(batch_size, timesteps, ...)"
            )
        return mask.to(device=inputs.device)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        """``(B, T) + layer.compute_output_shape((B,) + input_shape[2:])[1:]``.

        >>> from rnnkit.layers import Dense
        >>> TimeDistributed(Dense(3)).compute_output_shape((2, 5, 4))
        (2, 5, 3)
        """
        input_shape = tuple(input_shape)
        inner = getattr(self.layer, "compute_output_shape", None)
        if inner is None:
            raise NotImplementedError(
                f"{self.name}: the wrapped {type(self.layer).__name__} has no compute_output_shape"
            )
        step = tuple(inner((input_shape[0], *input_shape[2:])))
        return (input_shape[0], input_shape[1], *step[1:])
