"""``RNN``: the layer that owns the time loop around any cell."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from rnnkit.layers.cells.base import cell_state_specs, initial_states_for
from rnnkit.layers.cells.builtin import BuiltinCell
from rnnkit.layers.cells.stacked import StackedRNNCells
from rnnkit.layers.layer import (
    Layer,
    _TrainingScope,
    flatten,
    map_structure,
    pack_as,
    to_tensor,
    training_context,
)
from rnnkit.layers.rnn_steps import _GenericStep, _hoistable, _HoistedStep, _StackedStep, fused_spec
from rnnkit.runners import fused as fused_runner
from rnnkit.runners.compiled import CompiledLoop, check_jit_compile
from rnnkit.runners.loop import run_loop

__all__ = ["RNN", "fused_spec"]


def _check_cell(cell):
    missing = [a for a in ("call", "state_size") if not hasattr(type(cell), a) and not hasattr(cell, a)]
    if isinstance(cell, Layer) and type(cell).call is Layer.call and "call" not in missing:
        missing.insert(0, "call")
    if missing:
        raise ValueError(
            f"An RNN cell needs a call(inputs, states) method and a state_size attribute; "
            f"{type(cell).__name__} lacks {missing}"
        )


def _module_hooks_active() -> bool:
    """Whether global ``torch.nn.Module`` hooks are registered (they must see every call)."""
    m = torch.nn.modules.module
    return bool(
        m._global_forward_hooks or m._global_forward_pre_hooks or m._global_backward_hooks
        or m._global_backward_pre_hooks or torch._C._get_tracing_state()
    )


class RNN(Layer):
    """Run a cell over the time axis of a sequence (Keras's ``RNN`` layer).

    Args:
        cell: a cell (``call(x_t, states) -> (out, new_states)`` and ``state_size``) or a list
            of cells (stacked with :class:`StackedRNNCells`).
        return_sequences: return the whole output sequence ``(B, T, ...)`` instead of the last
            output ``(B, ...)``.
        return_state: also return the final states: the output, then one entry per state
            (``out, h, c`` for an LSTM cell); for stacked cells one entry per cell, each that
            cell's states as Keras gives them (``out, [h1, c1], [h2, c2]`` for two LSTM cells).
        go_backwards: process the sequence backwards and return the reversed sequence.
        stateful: keep the final states (``layer.states``) as the next call's initial states;
            ``reset_states()`` zeroes them.
        unroll: run the generic step loop even when a fused kernel could run the cell.
        zero_output_for_mask: masked steps output zeros instead of repeating the last output.
        time_major: inputs and outputs are ``(T, B, ...)``.

    A built-in ``SimpleRNNCell`` / ``LSTMCell`` / ``GRUCell`` with a fused-compatible
    configuration runs on PyTorch's fused kernel, exactly as ``SimpleRNN`` / ``LSTM`` / ``GRU``
    do (same numbers); any other cell runs in the generic loop. ``use_cudnn=False`` forces the
    loop.

    ``jit_compile`` (False | True | "auto"; None, the default, is False unless
    ``model.compile(jit_compile=...)`` sets it): run the generic loop (custom cells, and the built-in
    cells' non-fused configurations) through the compiled runner
    (:mod:`rnnkit.runners.compiled`: a user cell's input-only work, such as ``x_t @ kernel``, runs
    once over the whole sequence and the recurrent rest as Inductor-compiled 4-step programs; cells
    that cannot be split run as torch.compile'd chunks; CUDA graphs on a GPU) with the eager loop's
    numbers. True compiles on the first call; "auto" compiles an input
    signature when it is seen a second time, so no call is slower than eager by more than the
    compile time. Configurations that run on the fused kernel stay on it. Fallbacks warn once.

    Call arguments: ``inputs`` ``(B, T, F)`` (or a nested structure of such tensors; bool and
    integer arrays are cast to the layer's float dtype, as Keras does), ``initial_state`` (list
    of tensors; for stacked cells one list per cell, or all states flat), ``mask`` ``(B, T)``
    bool, ``training``, ``constants``.

    >>> import torch
    >>> from rnnkit.layers import LSTMCell
    >>> layer = RNN(LSTMCell(4), return_sequences=True, return_state=True)
    >>> seq, h, c = layer(torch.zeros(2, 5, 3))
    >>> seq.shape, h.shape, c.shape
    (torch.Size([2, 5, 4]), torch.Size([2, 4]), torch.Size([2, 4]))
    """

    supports_masking = True
    _fused_kind_name = None  # set by SimpleRNN / LSTM / GRU

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        time_major=False,
        use_cudnn="auto",
        jit_compile=None,
        **kwargs,
    ):
        kwargs.pop("input_length", None)
        super().__init__(**kwargs)
        self.jit_compile = check_jit_compile(jit_compile, self.name)
        self.__dict__["_jit_compile_explicit"] = jit_compile is not None
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"use_cudnn must be 'auto', True or False, received {use_cudnn!r}")
        self._use_cudnn = use_cudnn
        if isinstance(cell, list | tuple):
            cell = StackedRNNCells(list(cell))
        _check_cell(cell)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.time_major = bool(time_major)
        self._states = None
        self._specs = None
        self._feature_shapes = None
        self._cell_kwargs = None
        self._force_loop = False

    @property
    def use_cudnn(self):
        """"auto" (fused kernel when possible), True (must be fused) or False (never)."""
        return self._use_cudnn

    @use_cudnn.setter
    def use_cudnn(self, value):
        self._use_cudnn = value

    # ---------------------------------------------------------------- inputs
    def _convert_input(self, t):
        """Arrays to tensors; bool / integer sequences cast to the layer's float dtype (as Keras)."""
        if isinstance(t, np.ndarray) and t.dtype.kind in "OUSV":
            raise TypeError(
                f"{self.name}: expected numeric sequences (float, int or bool), received a numpy "
                f"array of dtype {t.dtype} (text needs a TextVectorization / Embedding first)"
            )
        if isinstance(t, str | bytes):
            raise TypeError(f"{self.name}: expected a tensor or array of sequences, received {type(t).__name__}")
        if not isinstance(t, torch.Tensor):
            t = to_tensor(t)
        if isinstance(t, torch.Tensor) and not (t.is_floating_point() or t.is_complex()):
            mask = getattr(t, "_keras_mask", None)
            t = t.to(self.dtype)
            if mask is not None:
                t._keras_mask = mask
            return t
        return super()._convert_input(t)

    # ---------------------------------------------------------------- build
    def _seq_axis(self):
        return 0 if self.time_major else 1

    def build(self, input_shape):
        leaves = flatten(input_shape) if _is_nested_shape(input_shape) else [input_shape]
        shapes = [tuple(s) for s in (input_shape if _is_nested_shape(input_shape) else [input_shape])]
        if isinstance(self.cell, BuiltinCell) and (len(shapes) != 1 or len(shapes[0]) != 3):
            raise ValueError(
                f"{self.name}: expected one input tensor of rank 3 (batch, time, features), "
                f"received shape(s) {shapes}"
            )
        for s in shapes:
            if len(s) < 3:
                raise ValueError(
                    f"{self.name}: expected inputs of rank >= 3 (batch, time, features), "
                    f"received shape {s}"
                )
        del leaves
        ax = self._seq_axis()
        if self.unroll and any(s[ax] is None for s in shapes):
            raise ValueError(
                f"{self.name}: unroll=True needs a known number of time steps, received input "
                f"shape {shapes[0]} with an unknown time axis"
            )
        step_shapes = [tuple(d for i, d in enumerate(s) if i != ax) for s in shapes]
        self._feature_shapes = [s[1:] for s in step_shapes]
        step = step_shapes if _is_nested_shape(input_shape) else step_shapes[0]
        if getattr(self, "_constants_shapes", None):  # Keras 2: build([step_shape, *constants])
            step = [step, *self._constants_shapes]
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step)
            self.cell.built = True
        self._build_input_shape = list(shapes[0]) if len(shapes) == 1 else [list(s) for s in shapes]
        self.built = True

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and (not kwargs or kwargs.keys() == {"training"}):
            out = self._fast_call(args[0], kwargs.get("training"))
            if out is not None:
                return out
        constants = kwargs.get("constants")
        if constants is not None:
            fn = self.cell.call if hasattr(self.cell, "call") else self.cell
            params = inspect.signature(fn).parameters
            if "constants" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
                raise ValueError(
                    f"{self.name}: constants were given but {type(self.cell).__name__}.call does "
                    f"not accept a 'constants' argument"
                )
            if not self.built:
                self._constants_shapes = [tuple(c.shape) for c in flatten(constants)]
        return super().__call__(*args, **kwargs)

    def _fast_call(self, x, training):
        """``layer(x)`` for the common fused case and for ``jit_compile``, without the general
        call machinery.

        Taken only when the result is the same as the general path's: a built layer on a plain
        tensor of its dtype (and, fused, of its feature size), no mask (none attached either),
        states, hooks, regularizer, statefulness, time-major or reversed input, on a
        configuration that runs on the fused kernel or with ``jit_compile``
        (:meth:`_fast_jit_call`). Returns None otherwise (the general path then runs). On the
        small benchmark shape the general path's bookkeeping cost a few percent of a training step.
        """
        if (
            type(x) is not torch.Tensor
            or not self.built
            or self._fast_blocked
            or x.dim() != 3
            or x.dtype != self.dtype
            or getattr(x, "_keras_mask", None) is not None
            or self._forward_hooks
            or self._forward_pre_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
            or getattr(self, "_compiled_call_impl", None) is not None
            or _module_hooks_active()
        ):
            return None
        if x.shape[1] == 0 or x.shape[0] == 0:
            return None
        if training is None:
            training = training_context()
            if training is None:
                training = self.training
        training = bool(training)
        if self.jit_compile:
            return self._fast_jit_call(x, training)
        cell = self.cell
        if not isinstance(cell, BuiltinCell) or x.shape[2] != cell.input_dim:
            return None
        plan = self._fused_plan(x, None, training, None)
        if plan is None:
            return None
        if self._activity_losses:
            self.__dict__["_activity_losses"] = []
        B = x.shape[0]
        states = [x.new_zeros((B, *spec)) for spec in self._state_specs()]
        if training and cell.dropout > 0:
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        last, outputs, _ = self._run_fused(plan, x, states, None, training)
        return outputs if self.return_sequences else last

    def _fast_jit_call(self, x, training):
        """``layer(x)`` with ``jit_compile``: :meth:`call` itself on one plain input, under the
        layer's training scope as the general call sets it, without the general call's
        bookkeeping (input conversion, mask lookup, the module-call machinery): 0.95x the
        training step at (64, 28, 28, 64) on two threads (an in-process A/B of 21 repeats). Any
        configuration, cell or input the general path treats differently never comes here (see
        :meth:`_fast_call`)."""
        if self._activity_losses:
            self.__dict__["_activity_losses"] = []
        with _TrainingScope(training):
            return self.call(x, training=training)

    @property
    def _fast_blocked(self):
        """Configurations the fast call never takes (checked per call: attributes can change)."""
        return bool(
            self.stateful or self.return_state or self.time_major or self.go_backwards
            or self.activity_regularizer is not None
        )

    # ---------------------------------------------------------------- states
    @property
    def states(self):
        """The kept states of a stateful layer, or None before the first call.

        A list of tensors; for stacked cells one entry per cell, as ``return_state`` gives them.
        """
        return None if self._states is None else self._structure_states(self._states)

    @states.setter
    def states(self, value):
        self._states = None if value is None else [torch.as_tensor(v) for v in flatten(value)]

    def reset_states(self, states=None):
        """Zero the kept states (or set them to ``states``)."""
        if not self.stateful:
            raise AttributeError(f"{self.name}: reset_states() needs a stateful layer (stateful=True)")
        if states is not None:
            states = [torch.as_tensor(s, dtype=self.dtype) for s in flatten(list(states) if isinstance(states, list | tuple) else [states])]
            self._check_states(states, states[0].shape[0], "reset_states")
            self._states = [s.detach() for s in states]
        elif self._states is not None:
            self._states = [torch.zeros_like(s) for s in self._states]

    reset_state = reset_states

    def get_initial_state(self, batch_size):
        return initial_states_for(self.cell, batch_size, self.dtype, self._device())

    def _device(self):
        for p in self.parameters():
            return p.device
        return None

    def _state_specs(self):
        if not self.built:
            return cell_state_specs(self.cell)
        if self._specs is None:
            self._specs = cell_state_specs(self.cell)
        return self._specs

    def _check_states(self, states, batch, what):
        specs = self._state_specs()
        if len(states) != len(specs):
            raise ValueError(
                f"{self.name}: {what} expects {len(specs)} state tensor(s) of shapes "
                f"{[(batch, *s) for s in specs]}, received {len(states)}"
            )
        for i, (s, spec) in enumerate(zip(states, specs)):
            if tuple(s.shape) != (batch, *spec):
                raise ValueError(
                    f"{self.name}: {what} state {i} must have shape {(batch, *spec)}, "
                    f"received {tuple(s.shape)}"
                )

    # ---------------------------------------------------------------- call
    def call(self, sequences, initial_state=None, mask=None, training=False, constants=None):
        leaves = [sequences] if isinstance(sequences, torch.Tensor) else flatten(sequences)
        self._validate_inputs(leaves)
        if self.time_major:
            sequences = map_structure(lambda t: t.transpose(0, 1), sequences)
            leaves = flatten(sequences)
        B, T = leaves[0].shape[:2]
        if any(leaf.shape[:2] != leaves[0].shape[:2] for leaf in leaves):
            raise ValueError(
                f"{self.name}: nested inputs must share batch and time axes, received "
                f"{[tuple(leaf.shape) for leaf in leaves]}"
            )
        if T == 0:
            raise ValueError(f"{self.name}: expected at least one time step, received {tuple(leaves[0].shape)}")
        if mask is not None:
            mask = self._standardize_mask(mask, B, T)
        states = self._initial_states(initial_state, B, leaves[0])
        if self.go_backwards:
            sequences = map_structure(lambda t: t.flip(1), sequences)
            if mask is not None:
                mask = mask.flip(1)
        self._reset_dropout_masks()
        last, outputs, final = self._run(sequences, states, mask, bool(training), constants)
        if self.stateful:
            self._states = [s.detach() for s in final]
        output = outputs if self.return_sequences else last
        if self.time_major and self.return_sequences:
            output = map_structure(lambda t: t.transpose(0, 1), output)
        if self.return_state:
            return (output, *self._structure_states(final))
        return output

    def _reset_dropout_masks(self):
        """New dropout masks for this call (each cell draws them once per sequence)."""
        cells = self.__dict__.get("_dropout_cells")
        if cells is None:
            all_cells = [self.cell, *getattr(self.cell, "cells", [])]
            cells = self.__dict__["_dropout_cells"] = [c for c in all_cells if hasattr(c, "reset_dropout_mask")]
        for c in cells:
            c.reset_dropout_mask()
            c.reset_recurrent_dropout_mask()

    def _state_structure(self):
        """What ``return_state`` gives after the output: one entry per state, or per stacked cell.

        For a stacked cell, each cell's entry is a bare tensor when the cell keeps a single state
        given as an int ``state_size`` and has no ``get_initial_state`` of its own, else a list
        (Keras's rule: the structure of the cell's initial state).
        """
        cached = self.__dict__.get("_state_struct")
        if cached is not None:
            return cached
        cell = self.cell
        if isinstance(cell, StackedRNNCells):
            struct = []
            for c, n in zip(cell.cells, cell.state_counts()):
                bare = n == 1 and isinstance(c.state_size, int) and getattr(c, "get_initial_state", None) is None
                struct.append(None if bare else [None] * n)
        else:
            struct = [None] * len(self._state_specs())
        if self.built:
            self.__dict__["_state_struct"] = struct
        return struct

    def _structure_states(self, flat):
        if not isinstance(self.cell, StackedRNNCells):
            return list(flat)
        return pack_as(self._state_structure(), list(flat))

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        """The output shape(s) for an input of ``sequences_shape`` (no computation).

        ``(B, units)`` or ``(B, T, units)`` with ``return_sequences``; with ``return_state`` a
        tuple: the output shape, then the states' shapes structured as :meth:`call` returns them.

        >>> from rnnkit.layers import LSTM
        >>> LSTM(4, return_sequences=True, return_state=True).compute_output_shape((2, 5, 3))
        ((2, 5, 4), (2, 4), (2, 4))
        """
        if _is_nested_shape(sequences_shape) and len(sequences_shape) > 1:
            raise NotImplementedError(f"{self.name}: nested inputs: the output shapes come from running the cell")
        shape = tuple(sequences_shape[0] if _is_nested_shape(sequences_shape) else sequences_shape)
        if self.time_major:
            T, B = shape[0], shape[1]
        else:
            B, T = shape[0], shape[1] if len(shape) > 1 else None
        out = self._output_feature_shape()
        output_shape = ((T, B) if self.time_major else (B, T)) + out if self.return_sequences else (B, *out)
        if not self.return_state:
            return output_shape
        specs = iter(cell_state_specs(self.cell))
        shapes = [(B, *spec) for spec in specs]
        return (output_shape, *self._structure_states(shapes))

    def _output_feature_shape(self) -> tuple:
        size = getattr(self.cell, "output_size", None)
        if size is None:
            size = cell_state_specs(self.cell)[0]
        if isinstance(size, int):
            return (size,)
        if hasattr(size, "as_list"):
            size = size.as_list()
        if not all(isinstance(d, int) for d in size):  # nested outputs (a list of shapes)
            raise NotImplementedError(
                f"{self.name}: the cell's output_size {size!r} describes nested outputs; their "
                f"shapes come from running the cell"
            )
        return tuple(size)

    def compute_output_spec(self, inputs, initial_state=None, mask=None, training=None, **kwargs):
        """Symbolic outputs (``KerasTensor``) for symbolic ``inputs``, from :meth:`compute_output_shape`."""
        first = inputs[0] if isinstance(inputs, list | tuple) else inputs
        shapes = self.compute_output_shape(tuple(first.shape))
        dtype = self.compute_dtype
        KT = type(first)

        def make(s):
            return KT(s, dtype)

        if self.return_state:
            return tuple(_map_shape(make, s) for s in shapes)
        return make(shapes)

    def _validate_inputs(self, leaves):
        if isinstance(self.cell, BuiltinCell) and (
            len(leaves) != 1 or (isinstance(leaves[0], torch.Tensor) and leaves[0].dim() != 3)
        ):
            raise ValueError(
                f"{self.name}: expected one input tensor of rank 3 (batch, time, features), "
                f"received shape(s) {[tuple(getattr(v, 'shape', ())) for v in leaves]}"
            )
        for leaf in leaves:
            if not isinstance(leaf, torch.Tensor):
                raise TypeError(f"{self.name}: expected tensor inputs, received {type(leaf).__name__}")
            if leaf.dim() < 3:
                raise ValueError(
                    f"{self.name}: expected inputs of rank >= 3 (batch, time, features), "
                    f"received shape {tuple(leaf.shape)}"
                )
            if not (leaf.is_floating_point() or leaf.is_complex()):
                raise TypeError(
                    f"{self.name}: expected floating-point inputs, received {leaf.dtype} "
                    f"(integer sequences usually need an Embedding layer first)"
                )
        if self._feature_shapes is not None:
            got = [tuple(leaf.shape[2:]) for leaf in leaves]
            want = [tuple(s) for s in self._feature_shapes]
            if len(got) != len(want) or any(
                len(g) != len(w) or any(wd is not None and wd != gd for wd, gd in zip(w, g))
                for g, w in zip(got, want)
            ):
                raise ValueError(
                    f"{self.name}: was built for per-step feature shape(s) {want}, received "
                    f"{got}"
                )

    def _standardize_mask(self, mask, B, T):
        if isinstance(mask, list | tuple):
            mask = next((m for m in flatten(mask) if m is not None), None)
            if mask is None:
                return None
        mask = torch.as_tensor(mask)
        if self.time_major and mask.dim() == 2 and tuple(mask.shape) == (T, B):
            mask = mask.transpose(0, 1)
        if mask.dim() == 3 and mask.shape[-1] == 1:
            mask = mask.squeeze(-1)
        if tuple(mask.shape) != (B, T):
            raise ValueError(
                f"{self.name}: mask must have shape (batch, time) = {(B, T)}, received "
                f"{tuple(mask.shape)}"
            )
        return mask.to(torch.bool)

    def _initial_states(self, initial_state, B, like):
        if initial_state is not None:
            states = flatten(list(initial_state) if isinstance(initial_state, list | tuple) else [initial_state])
            states = [torch.as_tensor(s) for s in states]
            self._check_states(states, B, "initial_state")
            return [s.to(dtype=like.dtype, device=like.device) for s in states]
        if self.stateful:
            if self._states is None:
                self._states = [s.detach() for s in self.get_initial_state(B)]
            elif self._states[0].shape[0] != B:
                raise ValueError(
                    f"{self.name}: a stateful layer keeps states for batch size "
                    f"{self._states[0].shape[0]}, received a batch of {B} (call reset_states() "
                    f"with new states, or keep the batch size fixed)"
                )
            return [s.to(device=like.device) for s in self._states]
        states = initial_states_for(self.cell, B, like.dtype, like.device, inputs=like)
        self._check_states(states, B, "get_initial_state()")
        return states

    # ---------------------------------------------------------------- runners
    def _run(self, x, states, mask, training, constants):
        plan = self._fused_plan(x, mask, training, constants)
        if plan is not None:
            return self._run_fused(plan, x, states, mask, training)
        step = self._step_fn(x, training, constants)
        inputs = step.hoisted if step.hoisted is not None else x
        if self.jit_compile:
            cells = self.__dict__.get("_dropout_cells") or []
            probe = training and any(
                getattr(c, "dropout", 0) > 0 or getattr(c, "recurrent_dropout", 0) > 0 for c in cells
            )
            needs_grad = torch.is_grad_enabled() and (
                any(p.requires_grad for p in self.parameters())
                or any(t.requires_grad for t in flatten(inputs) + list(states))
            )
            return self._compiled_loop().run(
                step, inputs, states, mask, self.zero_output_for_mask, self.return_sequences,
                training, probe=probe, needs_grad=needs_grad,
                cell=self.cell if isinstance(step, _GenericStep) else None,
            )
        return run_loop(step, inputs, states, mask, self.zero_output_for_mask, self.return_sequences)

    def _run_fused(self, plan, x, states, mask, training):
        """The fused kernel for a plan of :meth:`_fused_plan` (input dropout applied here)."""
        kind, layout = plan
        cell = self.cell
        if training and cell.dropout > 0:
            x = x * cell.get_dropout_mask(x[:, 0]).unsqueeze(1)
        params, has_b = fused_runner.torch_params(kind, cell)
        return fused_runner.run_fused(
            kind, x, states, params, has_b, layout, mask, self.zero_output_for_mask,
            self.return_sequences, training,
        )

    def _compiled_loop(self):
        """This layer's :class:`~rnnkit.runners.compiled.CompiledLoop` (made on first use)."""
        loop = self.__dict__.get("_compiled")
        if loop is None or loop.mode != self.jit_compile:
            loop = self.__dict__["_compiled"] = CompiledLoop(self.jit_compile, self.name)
        return loop

    def _fused_kind(self):
        """The fused kernel this layer's configuration maps to, or None."""
        if self._use_cudnn is False:
            return None
        c = self.cell
        key = (
            type(c),
            getattr(c, "activation", None),
            getattr(c, "recurrent_activation", None),
            getattr(c, "recurrent_dropout", None),
            getattr(c, "reset_after", None),
            self.unroll,
        )
        cached = self.__dict__.get("_fused_cache")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_fused_cache"] = (key, fused_spec(c, self.unroll)[0])
        return cached[1]

    def _fused_plan(self, x, mask, training, constants):
        kind = None if self._force_loop else self._fused_kind()
        if kind is None or constants is not None or not isinstance(x, torch.Tensor):
            return None
        if training and self.cell.recurrent_dropout > 0:
            return None
        if x.dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            return None
        layout = fused_runner.mask_layout(mask)
        if layout is None:
            return None
        return kind, layout

    def _step_fn(self, x, training, constants):
        cell = self.cell
        extra = {}
        if constants is not None:
            extra["constants"] = list(constants) if isinstance(constants, list | tuple) else [constants]
        if _hoistable(cell) and not extra:
            return _HoistedStep(cell, x, training)
        if isinstance(cell, StackedRNNCells) and not extra:
            return _StackedStep(cell, x, training)
        return _GenericStep(cell, training, extra)

    # ---------------------------------------------------------------- masks / config
    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, list | tuple):
            mask = mask[0]
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self._state_structure())
        return out

    def get_config(self):
        from rnnkit.layers.serialization import serialize

        cfg = {
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }
        if self.time_major:
            cfg["time_major"] = True
        if self._use_cudnn != "auto" and type(self) is RNN:
            cfg["use_cudnn"] = self._use_cudnn
        if type(self) is RNN or self._fused_kind_name is None:
            cfg["cell"] = serialize(self.cell)
        return {**super().get_config(), **cfg}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from rnnkit.layers.serialization import deserialize

        config = dict(config)
        cell = deserialize(config.pop("cell"), custom_objects=custom_objects)
        return cls(cell, **config)


def _map_shape(fn, s):
    """Apply ``fn`` to each shape tuple in a (possibly nested) structure of shapes."""
    if isinstance(s, list):
        return [_map_shape(fn, v) for v in s]
    return fn(s)


def _is_nested_shape(shape) -> bool:
    return isinstance(shape, list | tuple) and bool(shape) and isinstance(shape[0], list | tuple | torch.Size)
