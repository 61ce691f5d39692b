"""Shared machinery of the built-in cells (SimpleRNNCell, LSTMCell, GRUCell).

Each built-in cell splits its step in two so the loop can hoist the input projection:
``project_inputs(x)`` works on one step ``(B, F)`` or a whole sequence ``(B, T, F)`` at once
(dropout mask, ``x @ kernel + input bias``), and ``step(x_proj_t, states, training)`` does the
recurrent part. ``call`` is exactly ``step(project_inputs(x))``, so stepping a cell by hand, the
hoisted loop and the fused kernel all compute the same numbers.
"""

from __future__ import annotations

import torch

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit.layers.cells.base import DropoutRNNCell
from rnnkit.layers.layer import Layer

__all__ = ["BuiltinCell"]


def _ser(module, obj):
    """``module.serialize(obj)``, with None kept as None."""
    return None if obj is None else module.serialize(obj)


def _check_rate(name: str, value) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a float in [0, 1], received {value}")
    return value


class BuiltinCell(DropoutRNNCell, Layer):
    """Base of the built-in cells: argument handling, config and the hoisting protocol."""

    _gates = 1  # weight blocks of the kernel (4 for LSTM, 3 for GRU)

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras 2 argument with no effect on the numbers
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"{type(self).__name__}: units must be a positive integer, received {units!r}"
            )
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _check_rate("dropout", dropout)
        self.recurrent_dropout = _check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        from rnnkit.random import SeedGenerator

        # Dropout masks come from here: the same seed gives the same masks (as in Keras, the
        # generator's state is one of the cell's non-trainable variables).
        self.seed_generator = SeedGenerator(seed)
        self.bias = None

    # ---------------------------------------------------------------- contract
    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{self.name}: the last input axis must be known, got {input_shape}")
        g = self._gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, g),
            initializer=self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, g),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                initializer=self._bias_init(),
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_dim = int(input_dim)
        self.built = True
        if self.kernel.device.type == "cpu":
            from rnnkit.runners.fused import relayout_for_cpu

            relayout_for_cpu(self)
        self._maybe_flatten_for_cudnn()

    _cudnn_flattenable = False  # LSTMCell / SimpleRNNCell: Keras and cuDNN gate orders agree

    def _maybe_flatten_for_cudnn(self):
        if self._cudnn_flattenable and self.built and self.kernel.is_cuda:
            from rnnkit.runners.fused import flatten_for_cudnn

            flatten_for_cudnn(self)

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        self.__dict__.pop("_cudnn_flat", None)  # moved or cast: the old buffer is gone
        self._maybe_flatten_for_cudnn()
        return out

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def _input_bias(self):
        return self.bias

    # ---------------------------------------------------------------- computation
    def project_inputs(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        """``dropout(x) @ kernel + input bias`` for one step ``(B, F)`` or a sequence ``(B, T, F)``."""
        if training and self.dropout > 0:
            step = inputs if inputs.dim() == 2 else inputs[:, 0]
            mask = self.get_dropout_mask(step)
            inputs = inputs * (mask if inputs.dim() == 2 else mask.unsqueeze(1))
        b = self._input_bias()
        if b is not None:
            return torch.addmm(b, inputs, self.kernel) if inputs.dim() == 2 else (
                torch.matmul(inputs, self.kernel) + b
            )
        return torch.matmul(inputs, self.kernel)

    def step(self, x_proj, states, training: bool = False):
        raise NotImplementedError

    def call(self, inputs, states, training=None):
        nested = isinstance(states, list | tuple)
        state_list = list(states) if nested else [states]
        self._check_step(inputs, state_list)
        out, new_states = self.step(self.project_inputs(inputs, bool(training)), state_list, bool(training))
        if not nested and len(new_states) == 1:
            return out, new_states[0]
        return out, new_states

    def _check_step(self, inputs, states):
        """A direct call steps one time step: inputs ``(B, F)``, each state ``(B, size)``."""
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 2:
            shape = tuple(inputs.shape) if hasattr(inputs, "shape") else type(inputs).__name__
            raise ValueError(
                f"{self.name}: {type(self).__name__} computes one time step and expects inputs "
                f"of shape (batch, features), received {shape}; to run over a sequence use "
                f"RNN({type(self).__name__}(...)) or the matching recurrent layer"
            )
        sizes = self.state_size if isinstance(self.state_size, list | tuple) else [self.state_size]
        batch = inputs.shape[0]
        for i, (state, size) in enumerate(zip(states, sizes)):
            shape = tuple(getattr(state, "shape", ()))
            if shape != (batch, int(size)):
                raise ValueError(
                    f"{self.name}: state {i} must have shape (batch, {int(size)}) = "
                    f"({batch}, {int(size)}) for inputs of shape {tuple(inputs.shape)}, "
                    f"received {shape}"
                )

    def _recurrent_mask(self, h, training):
        rate = self.recurrent_dropout
        # As in Keras, LSTM and GRU cells apply recurrent dropout only for 0 < rate < 1 (at 1.0
        # it is off), while SimpleRNN's drops the whole previous output at rate 1.0.
        if training and rate > 0 and (rate < 1 or self._gates == 1):
            return h * self.get_recurrent_dropout_mask(h)
        return h

    def get_initial_state(self, batch_size=None):
        from rnnkit.layers.cells.base import zero_states

        return zero_states(self.state_size, batch_size, self.dtype, self._device())

    def _device(self):
        return self.kernel.device if self.built else None

    # ---------------------------------------------------------------- config
    def get_config(self):
        cfg = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "recurrent_regularizer": _ser(regularizers, self.recurrent_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "recurrent_constraint": _ser(constraints, self.recurrent_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        if self._gates > 1:
            cfg["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return {**super().get_config(), **cfg}


BuiltinCell.call._rnnkit_hoistable = True  # the loop may hoist this call's input projection
