"""``SimpleRNN``, ``LSTM`` and ``GRU``: an ``RNN`` around a built-in cell, on fused kernels.

When the configuration allows (default activations, no recurrent dropout in training, not
unrolled, masks that are right- or left-padded), the whole sequence runs in one call to
PyTorch's fused RNN kernels (cuDNN on a GPU); otherwise the generic loop runs the same cell with
its input projection hoisted out of the loop. Both give the same numbers.
"""

from __future__ import annotations

from rnnkit.layers.cells.gru import GRUCell
from rnnkit.layers.cells.lstm import LSTMCell
from rnnkit.layers.cells.simple import SimpleRNNCell
from rnnkit.layers.rnn import RNN, fused_spec

__all__ = ["SimpleRNN", "LSTM", "GRU"]

_RNN_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "time_major",
    "jit_compile",
)
_BASE_ARGS = (
    "name",
    "trainable",
    "dtype",
    "input_shape",
    "batch_input_shape",
    "input_dim",
    "batch_size",
    "activity_regularizer",
    "input_length",
)


class _FusedRNN(RNN):
    """Shared constructor / config of the three built-in layers."""

    _cell_class = None

    def __init__(self, units, use_cudnn="auto", **kwargs):
        layer_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in _RNN_ARGS + _BASE_ARGS}
        cell_dtype = layer_kw.get("dtype")
        cell = self._cell_class(units, dtype=cell_dtype, name=f"{self._cell_name}_cell", **kwargs)
        super().__init__(cell, **layer_kw)
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"use_cudnn must be 'auto', True or False, received {use_cudnn!r}")
        self._use_cudnn = use_cudnn
        if use_cudnn is True and self._fused_kind() is None:
            raise ValueError(
                f"{self.name}: use_cudnn=True but this configuration cannot run on the fused "
                f"kernel: {self._fused_blockers()}"
            )

    def _fused_blockers(self) -> list[str]:
        return fused_spec(self.cell, self.unroll)[1]

    def _fused_plan(self, x, mask, training, constants):
        plan = super()._fused_plan(x, mask, training, constants)
        if plan is None and self._use_cudnn is True:
            raise ValueError(
                f"{self.name}: use_cudnn=True but this call cannot run on the fused kernel "
                f"(mask with holes or fully masked rows, nested inputs, constants, or recurrent "
                f"dropout in training)"
            )
        return plan

    def get_config(self):
        base = super().get_config()
        cell_cfg = self.cell.get_config()
        for k in ("name", "trainable", "dtype"):
            cell_cfg.pop(k, None)
        cfg = {**base, **cell_cfg}
        cfg.pop("cell", None)
        if self._use_cudnn != "auto":
            cfg["use_cudnn"] = self._use_cudnn
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"``self.cell.{name}``")


for _n in (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "dropout",
    "recurrent_dropout",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
):
    setattr(_FusedRNN, _n, _cell_property(_n))


class SimpleRNN(_FusedRNN):
    """Fully connected RNN layer (``RNN(SimpleRNNCell(units, ...))``) on a fused kernel.

    Takes every :class:`SimpleRNNCell` argument and every :class:`RNN` argument, plus
    ``use_cudnn`` ("auto": fused when possible; True: raise if not possible; False: never).
    Fused when ``activation`` is tanh or relu and there is no recurrent dropout.

    >>> import torch
    >>> layer = SimpleRNN(4, return_sequences=True)
    >>> layer(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 5, 4])
    """

    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn"
    _fused_kind_name = "rnn"

    @property
    def use_cudnn(self):
        # Keras's SimpleRNN has no use_cudnn attribute (Bidirectional relies on that); rnnkit
        # still accepts the argument and keeps it as ``_use_cudnn``.
        raise AttributeError("SimpleRNN has no attribute 'use_cudnn' (as in Keras)")


class LSTM(_FusedRNN):
    """Long short-term memory layer (``RNN(LSTMCell(units, ...))``) on a fused kernel.

    Fused (``torch._VF.lstm``, cuDNN on a GPU) when activation is tanh, recurrent_activation
    sigmoid, and there is no recurrent dropout; masks may be right- or left-padded.
    Returns ``output`` or, with ``return_state``, ``(output, h, c)``.

    >>> import torch
    >>> out, h, c = LSTM(4, return_state=True)(torch.zeros(2, 5, 3))
    >>> out.shape, c.shape
    (torch.Size([2, 4]), torch.Size([2, 4]))
    """

    _cell_class = LSTMCell
    _cell_name = "lstm"
    _fused_kind_name = "lstm"


class GRU(_FusedRNN):
    """Gated recurrent unit layer (``RNN(GRUCell(units, ...))``) on a fused kernel.

    Fused when activation is tanh, recurrent_activation sigmoid, ``reset_after=True`` (the
    default) and there is no recurrent dropout.

    >>> import torch
    >>> GRU(4)(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 4])
    """

    _cell_class = GRUCell
    _cell_name = "gru"
    _fused_kind_name = "gru"


    @property
    def reset_after(self):
        return self.cell.reset_after
