"""Convolutional LSTM layers (Shi et al., 2015): ``ConvLSTM1D`` / ``ConvLSTM2D`` / ``ConvLSTM3D``.

The cell (:class:`~rnnkit.layers.cells.conv_lstm.ConvLSTMCell`) computes one step; the layer
(:class:`ConvLSTM`, an ``RNN``) owns the loop. As the built-in dense cells hoist their input
projection, the layer convolves the inputs of all time steps at once (one convolution over
``B * T`` frames) and the loop runs only the recurrent convolution. Inside the loop the states
are channels-first (PyTorch's convolution layout); the states, outputs and weights a user sees
are in Keras's layout.
"""

from __future__ import annotations

import torch

from rnnkit import regularizers
from rnnkit.layers.cells.conv_lstm import ConvLSTMCell, _ser, _spatial_names
from rnnkit.layers.rnn import RNN
from rnnkit.runners.loop import run_loop

__all__ = ["ConvLSTM", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

_CELL_ARGS = (
    "filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
    "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
    "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
    "recurrent_dropout", "seed",
)


class ConvLSTM(RNN):
    """An ``RNN`` around a :class:`ConvLSTMCell` of any rank (base of ConvLSTM1D/2D/3D).

    Takes every :class:`ConvLSTMCell` argument (``rank`` first) and ``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful`` (and the other ``RNN`` arguments).

    Inputs ``(batch, time, *spatial, channels)`` (channels_last) or
    ``(batch, time, channels, *spatial)``; call arguments ``mask`` ``(batch, time)``,
    ``initial_state`` ``[h, c]``, ``training``. Output ``(batch, [time,] *new_spatial, filters)``
    (or channels-first), then ``h, c`` with ``return_state``.

    >>> import torch
    >>> layer = ConvLSTM(1, filters=2, kernel_size=3, return_sequences=True)
    >>> layer(torch.zeros(4, 6, 8, 3)).shape
    torch.Size([4, 6, 6, 2])
    """

    _rank = None  # ConvLSTM1D / 2D / 3D fix it

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        **kwargs,
    ):
        cell_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in _CELL_ARGS}
        cell = ConvLSTMCell(
            rank, filters, kernel_size, name="conv_lstm_cell", dtype=kwargs.get("dtype"), **cell_kw
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )

    # ---------------------------------------------------------------- checks / shapes
    def _expect(self, shape):
        r = self.cell.rank
        if len(shape) != r + 3:
            layout = (
                f"(batch, time, channels, {_spatial_names(r)})"
                if self.cell.data_format == "channels_first"
                else f"(batch, time, {_spatial_names(r)}, channels)"
            )
            raise ValueError(
                f"{self.name}: expected inputs of rank {r + 3} {layout}, received shape "
                f"{tuple(shape)}"
            )

    def build(self, input_shape):
        self._expect(tuple(input_shape))
        super().build(input_shape)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        """Output shape(s) for ``sequences_shape`` ``(batch, time, ...)``."""
        sequences_shape = tuple(sequences_shape)
        self._expect(sequences_shape)
        batch, steps = sequences_shape[:2]
        state = self.cell.compute_output_shape((batch, *sequences_shape[2:]))[0]
        out = (batch, steps, *state[1:]) if self.return_sequences else state
        return (out, state, state) if self.return_state else out

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if not isinstance(sequences, torch.Tensor):
            raise TypeError(f"{self.name}: expected a tensor input, received {type(sequences).__name__}")
        self._expect(sequences.shape)
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def _run(self, x, states, mask, training, constants):
        # the input convolution for all steps at once; the loop runs only the recurrent one
        cell = self.cell
        xp = cell.project_inputs(x, training)  # (B, T, 4F, *S) channels-first
        states = [cell.to_torch_layout(s) for s in states]

        def step(xp_t, st):
            return cell.step(xp_t, st, training)

        last, seq, final = run_loop(
            step, xp, states, mask, self.zero_output_for_mask, self.return_sequences
        )
        seq = None if seq is None else cell.to_keras_layout(seq, lead=2)
        return cell.to_keras_layout(last), seq, [cell.to_keras_layout(s) for s in final]

    # ---------------------------------------------------------------- config
    def get_config(self):
        base = super().get_config()
        base.pop("cell", None)
        cell_cfg = self.cell.get_config()
        for k in ("name", "trainable", "dtype"):
            cell_cfg.pop(k, None)
        if self._rank is not None:
            cell_cfg.pop("rank", None)
        reg = self.activity_regularizer
        return {**base, **cell_cfg, "activity_regularizer": _ser(regularizers, reg)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"``self.cell.{name}``")


for _n in (*_CELL_ARGS, "rank"):
    setattr(ConvLSTM, _n, _cell_property(_n))


class ConvLSTM1D(ConvLSTM):
    """1D convolutional LSTM (Keras's ``ConvLSTM1D``).

    Takes the cell's arguments (``filters``, ``kernel_size``, ``strides``, ``padding``,
    ``data_format``, ``dilation_rate``, activations, initializers, regularizers, constraints,
    ``unit_forget_bias``, ``dropout``, ``recurrent_dropout``, ``seed``) and ``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``.

    Inputs ``(batch, time, steps, channels)`` (channels_last) or ``(batch, time, channels,
    steps)``. Weights ``kernel`` ``(k, channels, 4 * filters)``, ``recurrent_kernel``
    ``(k, filters, 4 * filters)``, ``bias`` ``(4 * filters,)``; gates i, f, c, o.

    >>> import torch
    >>> ConvLSTM1D(2, 3, padding="same")(torch.zeros(4, 5, 7, 3)).shape
    torch.Size([4, 7, 2])
    """

    _rank = 1

    def __init__(self, filters, kernel_size, **kwargs):
        kwargs.pop("rank", None)
        super().__init__(1, filters, kernel_size, **kwargs)


class ConvLSTM2D(ConvLSTM):
    """2D convolutional LSTM (Keras's ``ConvLSTM2D``).

    Takes the cell's arguments (``filters``, ``kernel_size``, ``strides``, ``padding``,
    ``data_format``, ``dilation_rate``, activations, initializers, regularizers, constraints,
    ``unit_forget_bias``, ``dropout``, ``recurrent_dropout``, ``seed``) and ``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``.

    Inputs ``(batch, time, rows, cols, channels)`` (channels_last) or ``(batch, time, channels,
    rows, cols)``. Weights ``kernel`` ``(kr, kc, channels, 4 * filters)``, ``recurrent_kernel``
    ``(kr, kc, filters, 4 * filters)``, ``bias`` ``(4 * filters,)``; gates i, f, c, o.

    >>> import torch
    >>> out, h, c = ConvLSTM2D(2, 3, return_state=True)(torch.zeros(4, 5, 6, 6, 1))
    >>> out.shape, c.shape
    (torch.Size([4, 4, 4, 2]), torch.Size([4, 4, 4, 2]))
    """

    _rank = 2

    def __init__(self, filters, kernel_size, **kwargs):
        kwargs.pop("rank", None)
        super().__init__(2, filters, kernel_size, **kwargs)


class ConvLSTM3D(ConvLSTM):
    """3D convolutional LSTM (Keras's ``ConvLSTM3D``).

    Takes the cell's arguments (``filters``, ``kernel_size``, ``strides``, ``padding``,
    ``data_format``, ``dilation_rate``, activations, initializers, regularizers, constraints,
    ``unit_forget_bias``, ``dropout``, ``recurrent_dropout``, ``seed``) and ``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``.

    Inputs ``(batch, time, dim1, dim2, dim3, channels)`` (channels_last) or ``(batch, time,
    channels, dim1, dim2, dim3)``. Weights ``kernel`` ``(k1, k2, k3, channels, 4 * filters)``,
    ``recurrent_kernel`` ``(k1, k2, k3, filters, 4 * filters)``, ``bias`` ``(4 * filters,)``.

    >>> import torch
    >>> ConvLSTM3D(2, 3, return_sequences=True)(torch.zeros(1, 2, 4, 4, 4, 1)).shape
    torch.Size([1, 2, 2, 2, 2, 2])
    """

    _rank = 3

    def __init__(self, filters, kernel_size, **kwargs):
        kwargs.pop("rank", None)
        super().__init__(3, filters, kernel_size, **kwargs)
