"""``ConvLSTMCell``: one convolutional LSTM step (Shi et al., 2015), of rank 1, 2 or 3.

The layers ``ConvLSTM1D`` / ``ConvLSTM2D`` / ``ConvLSTM3D`` (``rnnkit/layers/conv_lstm.py``) run
it over time. The cell splits its step as the built-in dense cells do: ``project_inputs`` (the
input convolution, for one step or all steps at once) and ``step`` (the recurrent convolution
and the gates, on channels-first tensors); ``call`` is their composition in Keras's layout.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit import config as _config
from rnnkit.layers import _conv_utils as U
from rnnkit.layers.cells.base import DropoutRNNCell
from rnnkit.layers.cells.lstm import _UnitForgetBias
from rnnkit.layers.conv import keras_kernel_to_torch
from rnnkit.layers.layer import Layer
from rnnkit.random import SeedGenerator

__all__ = ["ConvLSTM1DCell", "ConvLSTM2DCell", "ConvLSTM3DCell", "ConvLSTMCell"]

_GATES = 4  # i, f, c, o along the kernels' last axis (Keras's order)
_TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _conv(x, weight, bias=None, strides=None, padding="valid", dilation=None, groups=1):
    """Channels-first convolution of ``x`` ``(N, C, *S)`` with a torch-layout ``weight``.

    ``"same"`` pads as Keras / TensorFlow do (the extra element of an odd total at the end);
    symmetric padding is left to the convolution itself (no padded copy per step).
    """
    rank = x.dim() - 2
    strides = strides or (1,) * rank
    dilation = dilation or (1,) * rank
    pad = 0
    if padding == "same":
        pads = [U.same_padding(n, k, s, d) for n, k, s, d in zip(x.shape[2:], weight.shape[2:], strides, dilation)]
        if all(a == b for a, b in pads):
            pad = tuple(a for a, _ in pads)
        else:
            x = U.pad_spatial(x, pads)
    return _TORCH_CONV[rank](x, weight, bias, stride=strides, padding=pad, dilation=dilation, groups=groups)


def _ser(module, obj):
    return None if obj is None else module.serialize(obj)


def _rate(name, value):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a float in [0, 1], received {value}")
    return value


def _spatial_names(rank):
    return {1: "steps", 2: "rows, cols", 3: "dim1, dim2, dim3"}[rank]


class ConvLSTMCell(DropoutRNNCell, Layer):
    """One ConvLSTM step: an LSTM whose input and recurrent products are convolutions.

    .. math::
        z &= W * x_t + U * h_{t-1} + b \\\\
        i, f, o &= \\sigma_r(z_i), \\sigma_r(z_f), \\sigma_r(z_o) \\\\
        c_t &= f \\odot c_{t-1} + i \\odot \\mathrm{activation}(z_c) \\\\
        h_t &= o \\odot \\mathrm{activation}(c_t)

    ``W *`` uses ``strides`` / ``padding`` / ``dilation_rate``; ``U *`` always has stride 1 and
    ``"same"`` padding, so the states keep the input convolution's output size.

    Weights (Keras's layout): ``kernel`` ``(*kernel_size, in_channels, 4 * filters)``,
    ``recurrent_kernel`` ``(*kernel_size, filters, 4 * filters)``, ``bias`` ``(4 * filters,)``,
    gate blocks i, f, c, o. States ``[h, c]``, each ``(batch, *new_spatial, filters)``
    (channels_last) or ``(batch, filters, *new_spatial)``; the output is ``h``.

    Args:
        rank: 1, 2 or 3 (spatial axes of a step).
        filters: output channels (> 0).
        kernel_size: int or tuple of ``rank`` ints.
        strides: int or tuple (default 1); ``> 1`` excludes ``dilation_rate > 1``.
        padding: ``"valid"`` (default) or ``"same"``.
        data_format: ``"channels_last"`` (default, from ``rnnkit.config.image_data_format()``)
            or ``"channels_first"``.
        dilation_rate: int or tuple (default 1).
        activation: default ``"tanh"``; recurrent_activation: default ``"sigmoid"``.
        use_bias: default True. unit_forget_bias: forget-gate bias starts at one (default True).
        kernel_initializer / recurrent_initializer / bias_initializer: defaults
            ``"glorot_uniform"`` / ``"orthogonal"`` / ``"zeros"``; ``*_regularizer``,
            ``*_constraint``: default None.
        dropout / recurrent_dropout: fraction dropped from the inputs / the previous ``h``, one
            mask per gate, drawn once per sequence (default 0).
        seed: seed of the dropout masks.

    >>> import torch
    >>> cell = ConvLSTMCell(2, filters=3, kernel_size=3, padding="same")
    >>> x = torch.zeros(4, 5, 5, 2)
    >>> h, (h2, c) = cell(x, [torch.zeros(4, 5, 5, 3), torch.zeros(4, 5, 5, 3)])
    >>> h.shape, [tuple(w.shape) for w in cell.weights]
    (torch.Size([4, 5, 5, 3]), [(3, 3, 2, 12), (3, 3, 3, 12), (12,)])
    """

    _fixed_rank = None  # set by ConvLSTM1DCell / 2D / 3D

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
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
        super().__init__(**kwargs)
        if rank not in (1, 2, 3):
            raise ValueError(
                f"Rank {rank} convolutions are not currently implemented. Received: rank={rank} "
                f"(expected 1, 2 or 3)"
            )
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(
                f"{type(self).__name__}: filters must be a positive integer, received {filters!r}"
            )
        self.rank = rank
        self.filters = filters
        name = type(self).__name__
        self.kernel_size = U.int_tuple(name, "kernel_size", kernel_size, rank)
        self.strides = U.int_tuple(name, "strides", strides, rank)
        self.padding = U.padding_mode(name, padding)
        self.data_format = U.data_format(
            name, _config.image_data_format() if data_format is None else data_format
        )
        self.dilation_rate = U.int_tuple(name, "dilation_rate", dilation_rate, rank)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "Specifying `strides > 1` is not compatible with `dilation_rate > 1`. Please "
                f"provide `strides=1` or `dilation_rate=1`. Received: strides={self.strides} "
                f"and dilation_rate={self.dilation_rate}"
            )
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _rate("dropout", dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        # dropout masks are drawn from here (the same seed gives the same masks, as in Keras)
        self.seed_generator = SeedGenerator(seed)
        self.bias = None
        self.spatial_dims = None
        self.input_dim = None

    # ---------------------------------------------------------------- shapes
    def _split(self, shape):
        """``(channels, spatial)`` of a step shape ``(batch, ...)``."""
        if self.data_format == "channels_first":
            return shape[1], tuple(shape[2:])
        return shape[-1], tuple(shape[1:-1])

    def _out_spatial(self, spatial):
        return tuple(
            U.output_length(n, k, s, self.padding, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def _layout(self, channels, spatial):
        return (channels, *spatial) if self.data_format == "channels_first" else (*spatial, channels)

    @property
    def state_size(self):
        """``[h_shape, c_shape]`` without the batch axis (None before the cell is built)."""
        if self.spatial_dims is None:
            return None
        shape = self._layout(self.filters, self._out_spatial(self.spatial_dims))
        return [shape, shape]

    @property
    def output_size(self):
        sizes = self.state_size
        return None if sizes is None else sizes[0]

    def compute_output_shape(self, inputs_shape, states_shape=None):
        """Step shape ``(batch, ...)`` -> ``(h_shape, [h_shape, c_shape])``, with the batch axis."""
        _, spatial = self._split(tuple(inputs_shape))
        out = (inputs_shape[0], *self._layout(self.filters, self._out_spatial(spatial)))
        return out, [out, out]

    # ---------------------------------------------------------------- build
    def build(self, input_shape, states_shape=None):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self.name}: a rank-{self.rank} ConvLSTM cell expects steps of rank "
                f"{self.rank + 2} (batch, {_spatial_names(self.rank)}, channels), received "
                f"shape {input_shape}"
            )
        channels, spatial = self._split(input_shape)
        if None in spatial:
            raise ValueError(
                f"{self.name}: ConvLSTM layers only support static input shapes for the spatial "
                f"axes, received input_shape={input_shape}"
            )
        if channels is None:
            raise ValueError(
                f"{self.name}: the channel axis of the inputs must be known, received "
                f"input_shape={input_shape}"
            )
        out = self._out_spatial(spatial)
        if min(out) <= 0:
            raise ValueError(
                f"{self.name}: kernel_size {self.kernel_size} (dilation {self.dilation_rate}) is "
                f"larger than the spatial input {spatial} with padding='valid'"
            )
        self.spatial_dims = spatial
        self.input_dim = int(channels)
        g = _GATES * self.filters
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, self.input_dim, g),
            initializer=self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(*self.kernel_size, self.filters, g),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            init = (
                _UnitForgetBias(self.bias_initializer, self.filters)
                if self.unit_forget_bias
                else self.bias_initializer
            )
            self.bias = self.add_weight(
                shape=(g,),
                initializer=init,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    # ---------------------------------------------------------------- computation
    def _check_step(self, x, what):
        want = self._layout(self.input_dim, self.spatial_dims)
        if tuple(x.shape[-(self.rank + 1):]) != want or x.dim() < self.rank + 2:
            raise ValueError(
                f"{self.name}: {what} must have per-step shape {want} (batch first), received "
                f"{tuple(x.shape)}"
            )

    def to_torch_layout(self, t: torch.Tensor, lead: int = 1) -> torch.Tensor:
        """A Keras-layout tensor ``(*lead, ...)`` as channels-first (no-op for channels_first)."""
        return t.movedim(-1, lead) if self.data_format == "channels_last" else t

    def to_keras_layout(self, t: torch.Tensor, lead: int = 1) -> torch.Tensor:
        """The inverse of :meth:`to_torch_layout`."""
        return t.movedim(lead, -1) if self.data_format == "channels_last" else t

    def project_inputs(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        """Input convolution (+ bias) of one step or of a whole sequence at once.

        ``inputs``: one step ``(B, ...)`` or a sequence ``(B, T, ...)`` in Keras's layout.
        Returns channels-first ``(B, 4 * filters, *new_spatial)`` or
        ``(B, T, 4 * filters, *new_spatial)``: all ``B * T`` frames go through one convolution.
        """
        seq = inputs.dim() == self.rank + 3
        lead = 2 if seq else 1
        x = self.to_torch_layout(inputs, lead)  # (B, [T,] C, *S)
        B, T = x.shape[0], (x.shape[1] if seq else 1)
        frames = x.reshape(B * T, *x.shape[lead:])  # (B*T, C, *S)
        weight = keras_kernel_to_torch(self.kernel)  # (4F, C, *k)
        groups = 1
        if training and 0.0 < self.dropout < 1.0:
            # one mask per gate: stack the four masked copies on the channel axis and run a
            # grouped convolution (group g sees copy g and produces gate g's block)
            masks = self.get_dropout_mask(frames.new_ones((_GATES, B, *frames.shape[1:])))
            masks = masks.transpose(0, 1)  # (B, 4, C, *S)
            xs = x.unsqueeze(lead) * (masks.unsqueeze(1) if seq else masks)  # (B, [T,] 4, C, *S)
            frames = xs.reshape(B * T, _GATES * frames.shape[1], *frames.shape[2:])
            groups = _GATES
        out = _conv(frames, weight, self.bias, self.strides, self.padding, self.dilation_rate, groups)
        return out.reshape(B, T, *out.shape[1:]) if seq else out

    def step(self, x_proj, states, training: bool = False):
        """The recurrent part of a step on channels-first tensors.

        ``x_proj`` ``(B, 4F, *S)`` from :meth:`project_inputs`; ``states`` ``[h, c]``, each
        ``(B, F, *S)``. Returns ``(h, [h, c])`` channels-first.
        """
        h_prev, c_prev = states[0], states[1]
        weight = keras_kernel_to_torch(self.recurrent_kernel)  # (4F, F, *k)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            B = h_prev.shape[0]
            masks = self.get_recurrent_dropout_mask(h_prev.new_ones((_GATES, *h_prev.shape)))
            hs = h_prev.unsqueeze(1) * masks.transpose(0, 1)  # (B, 4, F, *S)
            z = x_proj + _conv(hs.reshape(B, -1, *h_prev.shape[2:]), weight, padding="same", groups=_GATES)
        else:
            z = x_proj + _conv(h_prev, weight, padding="same")
        z_i, z_f, z_c, z_o = z.chunk(_GATES, dim=1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def call(self, inputs, states, training=False):
        """One step in Keras's layout: ``inputs`` ``(B, ...)``, ``states`` ``[h, c]``."""
        if not isinstance(states, list | tuple) or len(states) != 2:
            raise ValueError(
                f"{self.name}: a ConvLSTM cell expects states [h, c] (2 tensors), received "
                f"{type(states).__name__}"
                + (f" of length {len(states)}" if isinstance(states, list | tuple) else "")
            )
        self._check_step(inputs, "inputs")
        states = [
            s if isinstance(s, torch.Tensor) else torch.as_tensor(np.asarray(s), dtype=inputs.dtype, device=inputs.device)
            for s in states
        ]
        want = self.state_size[0]
        for k, s in enumerate(states):
            if tuple(s.shape[1:]) != tuple(want) or s.shape[0] != inputs.shape[0]:
                raise ValueError(
                    f"{self.name}: state {k} must have shape {(inputs.shape[0], *want)}, received "
                    f"{tuple(s.shape)}"
                )
        xp = self.project_inputs(inputs, bool(training))
        h, (_, c) = self.step(xp, [self.to_torch_layout(s) for s in states], bool(training))
        h, c = self.to_keras_layout(h), self.to_keras_layout(c)
        return h, [h, c]

    def get_initial_state(self, batch_size=None):
        """Zero ``[h, c]`` in Keras's layout, ``(batch_size, *state_shape)`` each."""
        device = self.kernel.device if self.built else None
        return [
            torch.zeros((batch_size, *shape), dtype=self.dtype, device=device)
            for shape in self.state_size
        ]

    # ---------------------------------------------------------------- config
    def get_config(self):
        cfg = {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
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
        if self._fixed_rank is None:
            cfg = {"rank": self.rank, **cfg}  # Keras's cell omits it and cannot be rebuilt
        return {**super().get_config(), **cfg}


class ConvLSTM1DCell(ConvLSTMCell):
    """``ConvLSTMCell(rank=1, ...)``: one ConvLSTM1D step, for ``RNN(cell)``.

    Takes :class:`ConvLSTMCell`'s arguments except ``rank``; steps ``(batch, steps, channels)``.

    >>> import torch
    >>> from rnnkit.layers import RNN
    >>> RNN(ConvLSTM1DCell(2, 3))(torch.zeros(4, 5, 7, 3)).shape
    torch.Size([4, 5, 2])
    """

    _fixed_rank = 1

    def __init__(self, filters, kernel_size, **kwargs):
        kwargs.pop("rank", None)
        super().__init__(1, filters, kernel_size, **kwargs)


class ConvLSTM2DCell(ConvLSTMCell):
    """``ConvLSTMCell(rank=2, ...)``: one ConvLSTM2D step, for ``RNN(cell)``.

    Takes :class:`ConvLSTMCell`'s arguments except ``rank``; steps ``(batch, rows, cols, channels)``.

    >>> ConvLSTM2DCell(2, (3, 3)).kernel_size
    (3, 3)
    """

    _fixed_rank = 2

    def __init__(self, filters, kernel_size, **kwargs):
        kwargs.pop("rank", None)
        super().__init__(2, filters, kernel_size, **kwargs)


class ConvLSTM3DCell(ConvLSTMCell):
    """``ConvLSTMCell(rank=3, ...)``: one ConvLSTM3D step, for ``RNN(cell)``.

    Takes :class:`ConvLSTMCell`'s arguments except ``rank``; steps
    ``(batch, dim1, dim2, dim3, channels)``.

    >>> ConvLSTM3DCell(2, 3).kernel_size
    (3, 3, 3)
    """

    _fixed_rank = 3

    def __init__(self, filters, kernel_size, **kwargs):
        kwargs.pop("rank", None)
        super().__init__(3, filters, kernel_size, **kwargs)
