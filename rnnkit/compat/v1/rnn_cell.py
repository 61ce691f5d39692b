"""TF1's ``tf.compat.v1.nn.rnn_cell`` cells on PyTorch: same math, variable names and layouts.

Each cell is an rnnkit :class:`~rnnkit.layers.layer.Layer` that builds lazily from the first
input and takes TF1 state structures (``LSTMStateTuple``, a concatenated tensor, or a tuple per
cell for :class:`MultiRNNCell`). Inside ``rnnkit.layers.RNN`` the same cells accept the flat list
of state tensors the layer hands them. Unless ``dtype`` is given, a cell takes the dtype of its
first input (TF1's rule).
"""

from __future__ import annotations

import collections

import torch

from rnnkit import activations, initializers
from rnnkit import config as _config
from rnnkit.layers.layer import Layer, flatten, pack_as
from rnnkit.saving.object_registry import register_keras_serializable

_register = register_keras_serializable(package="rnnkit.compat.v1")

__all__ = [
    "BasicLSTMCell",
    "BasicRNNCell",
    "GRUCell",
    "LSTMCell",
    "LSTMStateTuple",
    "MultiRNNCell",
    "RNNCell",
]


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """The state ``(c, h)`` of an LSTM cell: memory ``c`` and output ``h``, each ``(batch, depth)``.

    >>> import torch
    >>> s = LSTMStateTuple(torch.zeros(2, 3), torch.ones(2, 3))
    >>> s.h.shape, s.dtype
    (torch.Size([2, 3]), torch.float32)
    """

    __slots__ = ()

    @property
    def dtype(self):
        """The common dtype of ``c`` and ``h`` (TypeError if they differ)."""
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"LSTMStateTuple: inconsistent dtypes c={c.dtype}, h={h.dtype}")
        return c.dtype


def _ser(module, obj):
    return None if obj is None else module.serialize(obj)


def _act(activation):
    return activations.tanh if activation is None else activations.get(activation)


def _check_dtype(cell, *states):
    for s in states:
        if s.dtype != cell.dtype:
            raise TypeError(
                f"{cell.name}: the state has dtype {s.dtype} but the cell computes in {cell.dtype} "
                f"(give the cell dtype=..., or build the state with that dtype)"
            )


def _check_input(cell, inputs):
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 2:
        got = tuple(inputs.shape) if hasattr(inputs, "shape") else type(inputs).__name__
        raise ValueError(f"{cell.name}: expected step inputs of shape (batch, depth), received {got}")
    if inputs.shape[-1] != cell.input_depth:
        raise ValueError(
            f"{cell.name}: was built for input depth {cell.input_depth}, received inputs of "
            f"shape {tuple(inputs.shape)}"
        )


class RNNCell(Layer):
    """Base of the TF1 cells: ``state_size``, ``output_size``, ``zero_state`` and dtype inference.

    Subclasses implement ``build(input_shape)`` and ``call(inputs, state)`` returning
    ``(output, new_state)`` with ``new_state`` in the structure of ``state_size``.

    Args:
        name: layer name. dtype: weight dtype (default: the dtype of the first input).
        reuse: accepted for compatibility (variables belong to the cell object).

    >>> import torch
    >>> class Acc(RNNCell):
    ...     state_size = output_size = 2
    ...     def call(self, inputs, state):
    ...         return inputs + state, inputs + state
    >>> out, new = Acc()(torch.ones(3, 2, dtype=torch.float64), torch.zeros(3, 2))
    >>> out.dtype, new.tolist()[0]
    (torch.float64, [1.0, 1.0])
    """

    def __init__(self, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self._dtype_explicit = dtype is not None
        self.reuse = reuse

    @property
    def state_size(self):
        raise NotImplementedError

    @property
    def output_size(self):
        raise NotImplementedError

    def _adopt_dtype(self, dtype) -> None:
        """Take ``dtype`` as the weight dtype if none was given and nothing is built yet."""
        if not self.built and not self._dtype_explicit and dtype.is_floating_point:
            self._dtype_name = _config.standardize_dtype(dtype)

    def __call__(self, inputs, state=None, *args, **kwargs):
        if isinstance(inputs, torch.Tensor):
            self._adopt_dtype(inputs.dtype)
        return super().__call__(inputs, state, *args, **kwargs)

    def zero_state(self, batch_size, dtype=None):
        """Zeros in the structure of ``state_size``, each ``(batch_size, size)``.

        >>> LSTMCell(3, num_proj=2).zero_state(4, "float64").h.shape
        torch.Size([4, 2])
        """
        dtype = self.dtype if dtype is None else _config.torch_dtype(dtype)
        size = self.state_size
        leaves = [torch.zeros(int(batch_size), int(s), dtype=dtype) for s in flatten(size)]
        return leaves[0] if isinstance(size, int) else pack_as(size, leaves)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """Keras's hook (used by ``rnnkit.layers.RNN``): the zero state for the batch."""
        if batch_size is None:
            batch_size = inputs.shape[0]
        if dtype is None and inputs is not None:
            dtype = inputs.dtype
        return self.zero_state(batch_size, dtype)

    def _build_depth(self, input_shape) -> int:
        depth = input_shape[-1]
        if depth is None:
            raise ValueError(f"{self.name}: the input depth must be known, received {input_shape}")
        self.input_depth = int(depth)
        return self.input_depth


@_register
class LSTMCell(RNNCell):
    """TF1's LSTM cell, with optional peepholes, cell clipping and an output projection.

    .. math::
        [i, j, f, o] &= [x_t, h_{t-1}] W + b \\\\
        c_t &= \\sigma(f + b_f + w_f \\odot c_{t-1}) \\odot c_{t-1}
               + \\sigma(i + w_i \\odot c_{t-1}) \\odot act(j) \\\\
        c_t &\\leftarrow \\mathrm{clip}(c_t, \\pm cell\\_clip) \\\\
        m_t &= \\sigma(o + w_o \\odot c_t) \\odot act(c_t) \\\\
        h_t &= \\mathrm{clip}(m_t P, \\pm proj\\_clip)

    (the ``w`` terms only with ``use_peepholes``; ``P`` only with ``num_proj``). ``b_f`` is
    ``forget_bias``, added at run time (not stored in ``bias``).

    Variables, in TF's order: ``kernel`` ``(input_depth + h_depth, 4 * num_units)`` (gate blocks
    i, j, f, o), ``bias`` ``(4 * num_units,)``, ``w_f_diag``, ``w_i_diag``, ``w_o_diag``
    ``(num_units,)``, ``projection/kernel`` ``(num_units, num_proj)``.

    Args:
        num_units: size of ``c``. use_peepholes: default False. cell_clip: float or None.
        initializer: for the kernels and peepholes (default glorot_uniform; bias is zeros).
        num_proj: output size after projection (None: no projection). proj_clip: float or None.
        num_unit_shards, num_proj_shards: deprecated in TF; accepted and ignored.
        forget_bias: default 1.0. state_is_tuple: ``LSTMStateTuple(c, h)`` (default) or the
        concatenation ``[c, h]`` on axis 1. activation: default tanh. reuse, name, dtype: see
        :class:`RNNCell`.

    Call: ``h, new_state = cell(x_t, state)`` with ``x_t`` ``(B, input_depth)``.

    >>> import torch
    >>> cell = LSTMCell(4, use_peepholes=True, num_proj=2)
    >>> h, s = cell(torch.ones(3, 5), cell.zero_state(3, torch.float32))
    >>> h.shape, s.c.shape, [w.shape for w in cell.get_weights()][0]
    (torch.Size([3, 2]), torch.Size([3, 4]), (7, 16))
    """

    def __init__(
        self,
        num_units,
        use_peepholes=False,
        cell_clip=None,
        initializer=None,
        num_proj=None,
        proj_clip=None,
        num_unit_shards=None,
        num_proj_shards=None,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(reuse=reuse, name=name, dtype=dtype, **kwargs)
        for arg, value in (("num_units", num_units), ("num_proj", num_proj)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value <= 0):
                raise ValueError(f"{arg} must be a positive integer, received {value!r}")
        self.num_units = num_units
        self.use_peepholes = bool(use_peepholes)
        self.cell_clip = cell_clip
        self.initializer = initializers.get(initializer)
        self.num_proj = num_proj
        self.proj_clip = proj_clip
        self.num_unit_shards, self.num_proj_shards = num_unit_shards, num_proj_shards
        self.forget_bias = float(forget_bias)
        self.state_is_tuple = bool(state_is_tuple)
        self._activation_arg = activation
        self.activation = _act(activation)

    @property
    def state_size(self):
        h = self.num_proj or self.num_units
        return LSTMStateTuple(self.num_units, h) if self.state_is_tuple else self.num_units + h

    @property
    def output_size(self):
        return self.num_proj or self.num_units

    def build(self, input_shape):
        depth = self._build_depth(input_shape)
        init = self.initializer or "glorot_uniform"
        u, h_depth = self.num_units, self.output_size
        self.kernel = self.add_weight(shape=(depth + h_depth, 4 * u), initializer=init,
                                      name="kernel")
        self.bias = self.add_weight(shape=(4 * u,), initializer="zeros", name="bias")
        if self.use_peepholes:
            for n in ("w_f_diag", "w_i_diag", "w_o_diag"):
                setattr(self, n, self.add_weight(shape=(u,), initializer=init, name=n))
        if self.num_proj is not None:
            self.add_weight(shape=(u, self.num_proj), initializer=init, name="projection/kernel")
        self.built = True

    def _split_state(self, state):
        h_depth = self.output_size
        if isinstance(state, list | tuple) and len(state) == 1 and not self.state_is_tuple:
            state = state[0]
        if self.state_is_tuple:
            if not isinstance(state, list | tuple) or len(state) != 2:
                raise ValueError(
                    f"{self.name}: state_is_tuple=True expects LSTMStateTuple(c, h) (or [c, h]), "
                    f"received {type(state).__name__}"
                )
            c, h = state
        else:
            if not isinstance(state, torch.Tensor):
                raise ValueError(
                    f"{self.name}: state_is_tuple=False expects one tensor [c, h] of width "
                    f"{self.num_units + h_depth}, received {type(state).__name__}"
                )
            c, h = state[:, : self.num_units], state[:, self.num_units :]
        if c.shape[-1] != self.num_units or h.shape[-1] != h_depth:
            raise ValueError(
                f"{self.name}: expected c of width {self.num_units} and h of width {h_depth}, "
                f"received {tuple(c.shape)} and {tuple(h.shape)}"
            )
        _check_dtype(self, c, h)
        return c, h

    def call(self, inputs, state, scope=None):
        _check_input(self, inputs)
        c_prev, h_prev = self._split_state(state)
        z = torch.addmm(self.bias, torch.cat([inputs, h_prev], 1), self.kernel)
        i, j, f, o = z.chunk(4, dim=1)
        f = f + self.forget_bias
        if self.use_peepholes:
            f = f + self.w_f_diag * c_prev
            i = i + self.w_i_diag * c_prev
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * self.activation(j)
        if self.cell_clip is not None:
            c = c.clamp(-self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            o = o + self.w_o_diag * c
        m = torch.sigmoid(o) * self.activation(c)
        if self.num_proj is not None:
            m = m @ self._parameters["projection/kernel"]
            if self.proj_clip is not None:
                m = m.clamp(-self.proj_clip, self.proj_clip)
        new_state = LSTMStateTuple(c, m) if self.state_is_tuple else torch.cat([c, m], 1)
        return m, new_state

    def get_config(self):
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "use_peepholes": self.use_peepholes,
            "cell_clip": self.cell_clip,
            "initializer": _ser(initializers, self.initializer),
            "num_proj": self.num_proj,
            "proj_clip": self.proj_clip,
            "num_unit_shards": self.num_unit_shards,
            "num_proj_shards": self.num_proj_shards,
            "forget_bias": self.forget_bias,
            "state_is_tuple": self.state_is_tuple,
            "activation": _ser(activations, self._activation_arg and self.activation),
        }


@_register
class BasicLSTMCell(LSTMCell):
    """TF1's basic LSTM cell: :class:`LSTMCell` without peepholes, clipping or projection.

    .. math::
        [i, j, f, o] = [x_t, h_{t-1}] W + b, \\quad
        c_t = \\sigma(f + b_f) c_{t-1} + \\sigma(i)\\, act(j), \\quad h_t = \\sigma(o)\\, act(c_t)

    Args: num_units, forget_bias (1.0), state_is_tuple (True), activation (tanh), reuse, name,
    dtype. Variables ``kernel`` ``(input_depth + num_units, 4 * num_units)`` and ``bias``.

    >>> import torch
    >>> cell = BasicLSTMCell(3)
    >>> h, s = cell(torch.ones(2, 4), cell.zero_state(2, torch.float32))
    >>> h.shape
    torch.Size([2, 3])
    """

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None,
                 reuse=None, name=None, dtype=None, **kwargs):
        for k in ("use_peepholes", "cell_clip", "initializer", "num_proj", "proj_clip",
                  "num_unit_shards", "num_proj_shards"):
            kwargs.pop(k, None)  # from get_config of the parent class
        super().__init__(num_units, forget_bias=forget_bias, state_is_tuple=state_is_tuple,
                         activation=activation, reuse=reuse, name=name, dtype=dtype, **kwargs)


@_register
class BasicRNNCell(RNNCell):
    """TF1's basic RNN cell: ``output = new_state = act([x_t, h_{t-1}] W + b)``.

    Variables: ``kernel`` ``(input_depth + num_units, num_units)``, ``bias`` ``(num_units,)``.

    Args: num_units; activation (default tanh); reuse, name, dtype.

    >>> import torch
    >>> cell = BasicRNNCell(3)
    >>> out, h = cell(torch.ones(2, 4), cell.zero_state(2, torch.float32))
    >>> bool((out == h).all()), h.shape
    (True, torch.Size([2, 3]))
    """

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(reuse=reuse, name=name, dtype=dtype, **kwargs)
        self.num_units = int(num_units)
        self._activation_arg = activation
        self.activation = _act(activation)

    @property
    def state_size(self):
        return self.num_units

    @property
    def output_size(self):
        return self.num_units

    def build(self, input_shape):
        depth = self._build_depth(input_shape)
        self.kernel = self.add_weight(shape=(depth + self.num_units, self.num_units),
                                      initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.num_units,), initializer="zeros", name="bias")
        self.built = True

    def _one_state(self, state):
        if isinstance(state, list | tuple) and len(state) == 1:
            state = state[0]
        if not isinstance(state, torch.Tensor) or state.shape[-1] != self.num_units:
            got = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state).__name__
            raise ValueError(f"{self.name}: expected a state (batch, {self.num_units}), received {got}")
        _check_dtype(self, state)
        return state

    def call(self, inputs, state, scope=None):
        _check_input(self, inputs)
        h = self._one_state(state)
        out = self.activation(torch.addmm(self.bias, torch.cat([inputs, h], 1), self.kernel))
        return out, out

    def get_config(self):
        return {**super().get_config(), "num_units": self.num_units,
                "activation": _ser(activations, self._activation_arg and self.activation)}


@_register
class GRUCell(BasicRNNCell):
    """TF1's GRU cell (reset gate applied to the state before the candidate kernel).

    .. math::
        [r, u] &= \\sigma([x_t, h_{t-1}] W_g + b_g) \\\\
        \\tilde h &= act([x_t, r \\odot h_{t-1}] W_c + b_c) \\\\
        h_t &= u \\odot h_{t-1} + (1 - u) \\odot \\tilde h

    Variables, in TF's order: ``gates/kernel`` ``(input_depth + u, 2u)``, ``gates/bias`` ``(2u,)``
    (default 1.0), ``candidate/kernel`` ``(input_depth + u, u)``, ``candidate/bias`` ``(u,)``
    (default zeros).

    Args: num_units; activation (tanh); kernel_initializer (glorot_uniform); bias_initializer
    (None: the defaults above); reuse, name, dtype.

    >>> import torch
    >>> cell = GRUCell(3)
    >>> out, h = cell(torch.ones(2, 4), torch.zeros(2, 3))
    >>> [tuple(w.shape) for w in cell.weights]
    [(7, 6), (6,), (7, 3), (3,)]
    """

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None,
                 bias_initializer=None, name=None, dtype=None, **kwargs):
        super().__init__(num_units, activation=activation, reuse=reuse, name=name, dtype=dtype,
                         **kwargs)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        depth = self._build_depth(input_shape)
        u = self.num_units
        k_init = self.kernel_initializer or "glorot_uniform"
        b_gate = self.bias_initializer or initializers.Constant(1.0)
        b_cand = self.bias_initializer or "zeros"
        self.add_weight(shape=(depth + u, 2 * u), initializer=k_init, name="gates/kernel")
        self.add_weight(shape=(2 * u,), initializer=b_gate, name="gates/bias")
        self.add_weight(shape=(depth + u, u), initializer=k_init, name="candidate/kernel")
        self.add_weight(shape=(u,), initializer=b_cand, name="candidate/bias")
        self.built = True

    def call(self, inputs, state, scope=None):
        _check_input(self, inputs)
        h = self._one_state(state)
        p = self._parameters
        gates = torch.sigmoid(torch.addmm(p["gates/bias"], torch.cat([inputs, h], 1),
                                          p["gates/kernel"]))
        r, u = gates.chunk(2, dim=1)
        cand = self.activation(torch.addmm(p["candidate/bias"], torch.cat([inputs, r * h], 1),
                                           p["candidate/kernel"]))
        new_h = u * h + (1 - u) * cand
        return new_h, new_h

    def get_config(self):
        return {**super().get_config(),
                "kernel_initializer": _ser(initializers, self.kernel_initializer),
                "bias_initializer": _ser(initializers, self.bias_initializer)}


@_register
class MultiRNNCell(RNNCell):
    """TF1's stack of cells: the output of cell k is the input of cell k + 1 within a step.

    ``state_size`` is the tuple of the cells' state sizes (``state_is_tuple=True``) or their sum
    (all cells must then have integer state sizes, states concatenated on axis 1). ``call`` also
    takes the flat list of state tensors that ``rnnkit.layers.RNN`` passes.

    Args: cells (non-empty list of cells); state_is_tuple (default True).

    >>> import torch
    >>> cell = MultiRNNCell([LSTMCell(3), GRUCell(2)])
    >>> out, (s0, s1) = cell(torch.ones(4, 5), cell.zero_state(4, torch.float32))
    >>> out.shape, s0.c.shape, s1.shape
    (torch.Size([4, 2]), torch.Size([4, 3]), torch.Size([4, 2]))
    """

    def __init__(self, cells, state_is_tuple=True, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError("MultiRNNCell expects a non-empty list of cells, received []")
        for c in cells:
            if not hasattr(c, "state_size") or not hasattr(c, "call"):
                raise TypeError(f"MultiRNNCell expects RNN cells, received {c!r}")
        self.state_is_tuple = bool(state_is_tuple)
        if not self.state_is_tuple and not all(isinstance(c.state_size, int) for c in cells):
            raise ValueError(
                "MultiRNNCell(state_is_tuple=False) needs cells with integer state sizes, "
                f"received {[c.state_size for c in cells]}"
            )
        self._cells = cells

    def _sublayers(self):
        return list(self._cells)

    @property
    def state_size(self):
        sizes = tuple(c.state_size for c in self._cells)
        return sizes if self.state_is_tuple else sum(sizes)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def _adopt_dtype(self, dtype):
        super()._adopt_dtype(dtype)
        for c in self._cells:
            if isinstance(c, RNNCell):
                c._adopt_dtype(dtype)

    def zero_state(self, batch_size, dtype=None):
        if self.state_is_tuple:
            return tuple(c.zero_state(batch_size, dtype) for c in self._cells)
        return super().zero_state(batch_size, dtype)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for c in self._cells:
            if isinstance(c, Layer) and not c.built:
                c.build(shape)
                c.built = True
            shape = (*shape[:-1], c.output_size)
        self.built = True

    def _per_cell(self, state):
        sizes = [c.state_size for c in self._cells]
        if not self.state_is_tuple:
            if isinstance(state, list | tuple) and len(state) == 1:
                state = state[0]
            if not isinstance(state, torch.Tensor) or state.shape[-1] != self.state_size:
                got = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state).__name__
                raise ValueError(f"{self.name}: expected one state tensor of width "
                                 f"{self.state_size}, received {got}")
            return list(state.split(sizes, dim=1))
        flat = flatten(list(state)) if isinstance(state, list | tuple) else [state]
        if len(flat) != len(flatten(sizes)):
            raise ValueError(f"{self.name}: expected states structured as {sizes}, received "
                             f"{len(flat)} tensor(s)")
        return list(pack_as(sizes, flat))

    def call(self, inputs, state, scope=None):
        x, new = inputs, []
        for c, s in zip(self._cells, self._per_cell(state)):
            x, ns = c(x, s)
            new.append(ns)
        return x, tuple(new) if self.state_is_tuple else torch.cat(new, 1)

    def get_config(self):
        from rnnkit.layers.serialization import serialize

        return {**super().get_config(), "state_is_tuple": self.state_is_tuple,
                "cells": [serialize(c) for c in self._cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from rnnkit.layers.serialization import deserialize

        config = dict(config)
        cells = [deserialize(c, custom_objects=custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)
