"""Convolution layers with Keras 3's arguments, weight layout and configs.

Weights keep Keras's layout (``kernel`` ``(*kernel_size, in // groups, filters)``, separable
``depthwise_kernel`` ``(*kernel_size, in, depth_multiplier)`` and ``pointwise_kernel``
``(1, ..., in * depth_multiplier, filters)``), so ``get_weights`` / ``set_weights`` exchange
arrays with Keras unchanged. The math is ``torch.nn.functional.conv{1,2,3}d``; the one place
that maps Keras's kernel layout to PyTorch's ``(filters, in // groups, *kernel_size)`` is
:func:`keras_kernel_to_torch`. Padding ``"same"`` is Keras's (TensorFlow's) asymmetric padding,
``"causal"`` (Conv1D only) pads ``dilation_rate * (kernel_size - 1)`` steps on the left.
Convolutions neither consume nor pass a Keras mask (as in Keras).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit.layers import _conv_utils as U
from rnnkit.layers.core import serialize_or_none
from rnnkit.layers.layer import Layer

__all__ = [
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "SeparableConv1D",
    "SeparableConv2D",
    "keras_kernel_to_torch",
]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def keras_kernel_to_torch(kernel: torch.Tensor) -> torch.Tensor:
    """Keras kernel ``(*kernel_size, in, out)`` -> PyTorch weight ``(out, in, *kernel_size)``.

    A view (no copy). Grouped and depthwise kernels use the same map: PyTorch and Keras both put
    output channel ``o`` in group ``o // (out // groups)``.

    >>> keras_kernel_to_torch(torch.zeros(3, 4, 5)).shape
    torch.Size([5, 4, 3])
    """
    rank = kernel.dim() - 2
    return kernel.permute(rank + 1, rank, *range(rank))


def _conv_nd(x, kernel, bias, strides, padding, dilation, groups):
    """Channels-first convolution with Keras's padding modes; ``kernel`` in Keras layout."""
    size = x.shape[2:]
    ks = kernel.shape[:-2]
    if padding == "same":
        pads = [U.same_padding(n, k, s, d) for n, k, s, d in zip(size, ks, strides, dilation)]
    elif padding == "causal":
        pads = [((ks[0] - 1) * dilation[0], 0)]
    else:
        pads = [(0, 0)] * len(size)
    x = U.pad_spatial(x, pads)
    return _CONV[len(size)](
        x, keras_kernel_to_torch(kernel), bias, stride=strides, dilation=dilation, groups=groups
    )


def _check_input(layer, inputs, channels):
    U.check_rank(layer, inputs, layer.rank + 2, layer._shape_words)
    axis = -1 if layer.data_format == "channels_last" else 1
    if inputs.shape[axis] != channels:
        raise ValueError(
            f"{layer.name}: expected {channels} input channels on axis {axis}, received inputs "
            f"of shape {tuple(inputs.shape)}"
        )
    spatial = inputs.shape[1:-1] if axis == -1 else inputs.shape[2:]
    if layer.padding == "valid":
        for n, k, d in zip(spatial, layer.kernel_size, layer.dilation_rate):
            if n < (k - 1) * d + 1:
                raise ValueError(
                    f"{layer.name}: inputs of shape {tuple(inputs.shape)} are shorter than the "
                    f"dilated kernel ({layer.kernel_size}, dilation {layer.dilation_rate}) with "
                    "padding='valid'"
                )


class _Conv(Layer):
    """Shared N-d convolution: ``activation(conv(inputs, kernel) + bias)``."""

    rank = 1
    _shape_words = ""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls, n = type(self).__name__, self.rank
        if lora_rank:
            raise NotImplementedError(f"{cls}: LoRA (lora_rank={lora_rank!r}) is not supported")
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{cls}: filters must be a positive int, received {filters!r}")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{cls}: groups must be a positive int, received {groups!r}")
        if filters % groups:
            raise ValueError(
                f"{cls}: filters ({filters}) must be divisible by groups ({groups})"
            )
        self.filters, self.groups = filters, groups
        self.kernel_size = U.int_tuple(cls, "kernel_size", kernel_size, n)
        self.strides = U.int_tuple(cls, "strides", strides, n)
        self.dilation_rate = U.int_tuple(cls, "dilation_rate", dilation_rate, n)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{cls}: strides > 1 is not supported together with dilation_rate > 1 (as in "
                f"Keras), received strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self.padding = U.padding_mode(cls, padding, allow_causal=n == 1)
        self.data_format = U.data_format(cls, data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None

    def _channels(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self.name}: expected inputs of rank {self.rank + 2} {self._shape_words}, "
                f"received input_shape={tuple(input_shape)}"
            )
        c = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        if c is None:
            raise ValueError(f"{self.name}: the channel axis must be known, got {input_shape}")
        return int(c)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        if channels % self.groups:
            raise ValueError(
                f"{self.name}: the {channels} input channels must be divisible by "
                f"groups={self.groups}"
            )
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, channels // self.groups, self.filters),
            initializer=self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.filters,),
                initializer=self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs):
        _check_input(self, inputs, self.kernel.shape[-2] * self.groups)
        x = U.to_channels_first(inputs, self.data_format)  # (B, C, *spatial)
        y = _conv_nd(
            x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate, self.groups
        )
        return self.activation(U.to_channels_last(y, self.data_format))

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        spatial = shape[1:-1] if self.data_format == "channels_last" else shape[2:]
        out = tuple(
            U.output_length(n, k, s, self.padding, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )
        if self.data_format == "channels_last":
            return (shape[0], *out, self.filters)
        return (shape[0], self.filters, *out)

    def get_config(self):
        cfg = {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_or_none(regularizers, self.kernel_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
            "kernel_constraint": serialize_or_none(constraints, self.kernel_constraint),
            "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
        }
        return {**super().get_config(), **cfg}


class Conv1D(_Conv):
    """1-D convolution over time: ``(B, steps, C)`` -> ``(B, new_steps, filters)``.

    ``output = activation(conv1d(inputs, kernel) + bias)``.

    Args:
        filters: positive int, number of output channels.
        kernel_size: int (or 1-tuple), window length.
        strides: int, step of the window (default 1; > 1 excludes ``dilation_rate`` > 1).
        padding: ``"valid"`` (default), ``"same"`` (output length ``ceil(steps / strides)``) or
            ``"causal"`` (left-padded: output ``t`` sees only inputs ``<= t``).
        data_format: ``"channels_last"`` (default, ``(B, steps, C)``) or ``"channels_first"``
            (``(B, C, steps)``).
        dilation_rate: int, spacing of the kernel taps (default 1).
        groups: positive int dividing ``C`` and ``filters``: grouped convolution (default 1).
        activation: activation name or callable (default None: linear).
        use_bias: add ``bias`` of shape ``(filters,)`` (default True).
        kernel_initializer: for ``kernel`` ``(kernel_size, C // groups, filters)``
            (default ``"glorot_uniform"``); bias_initializer (default ``"zeros"``).
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint: optional.

    >>> import torch
    >>> layer = Conv1D(4, 3, padding="causal")
    >>> layer(torch.zeros(2, 10, 5)).shape
    torch.Size([2, 10, 4])
    >>> [w.shape for w in layer.get_weights()]
    [(3, 5, 4), (4,)]
    """

    rank = 1
    _shape_words = "(batch, steps, channels) / (batch, channels, steps)"


class Conv2D(_Conv):
    """2-D convolution: ``(B, H, W, C)`` -> ``(B, H', W', filters)`` (channels_last).

    Same arguments as :class:`Conv1D` with 2-tuples (``kernel_size``, ``strides``,
    ``dilation_rate``); ``padding`` is ``"valid"`` or ``"same"``; ``kernel`` has shape
    ``(kh, kw, C // groups, filters)``.

    >>> import torch
    >>> layer = Conv2D(2, (3, 3), padding="same", data_format="channels_first")
    >>> layer(torch.zeros(1, 4, 8, 8)).shape
    torch.Size([1, 2, 8, 8])
    """

    rank = 2
    _shape_words = "(batch, rows, cols, channels) / (batch, channels, rows, cols)"


class Conv3D(_Conv):
    """3-D convolution: ``(B, D, H, W, C)`` -> ``(B, D', H', W', filters)`` (channels_last).

    Same arguments as :class:`Conv2D` with 3-tuples; ``kernel`` ``(kd, kh, kw, C // groups,
    filters)``.

    >>> import torch
    >>> Conv3D(2, 3)(torch.zeros(1, 4, 5, 6, 3)).shape
    torch.Size([1, 2, 3, 4, 2])
    """

    rank = 3
    _shape_words = "(batch, d1, d2, d3, channels) / (batch, channels, d1, d2, d3)"


class _SeparableConv(Layer):
    """Depthwise convolution (one filter bank per input channel) then a 1x1 convolution."""

    rank = 1
    _shape_words = ""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls, n = type(self).__name__, self.rank
        for arg, value in (("filters", filters), ("depth_multiplier", depth_multiplier)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{cls}: {arg} must be a positive int, received {value!r}")
        self.filters, self.depth_multiplier = filters, depth_multiplier
        self.kernel_size = U.int_tuple(cls, "kernel_size", kernel_size, n)
        self.strides = U.int_tuple(cls, "strides", strides, n)
        self.dilation_rate = U.int_tuple(cls, "dilation_rate", dilation_rate, n)
        self.padding = U.padding_mode(cls, padding)
        self.data_format = U.data_format(cls, data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.groups = 1
        for part in ("depthwise", "pointwise", "bias"):
            init = locals()[f"{part}_initializer"]
            setattr(self, f"{part}_initializer", initializers.get(init))
            setattr(self, f"{part}_regularizer", regularizers.get(locals()[f"{part}_regularizer"]))
            setattr(self, f"{part}_constraint", constraints.get(locals()[f"{part}_constraint"]))
        self.bias = None

    _channels = _Conv._channels
    compute_output_shape = _Conv.compute_output_shape

    def build(self, input_shape):
        c = self._channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            shape=(*self.kernel_size, c, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            name="depthwise_kernel",
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            shape=(*(1,) * self.rank, c * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer,
            name="pointwise_kernel",
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.filters,),
                initializer=self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs):
        c = self.depthwise_kernel.shape[-2]
        _check_input(self, inputs, c)
        x = U.to_channels_first(inputs, self.data_format)
        # depthwise: (*k, C, M) -> (*k, 1, C * M), channel c * M + m in group c (Keras and torch)
        depthwise = self.depthwise_kernel.reshape(*self.kernel_size, 1, c * self.depth_multiplier)
        y = _conv_nd(x, depthwise, None, self.strides, self.padding, self.dilation_rate, c)
        ones = (1,) * self.rank
        y = _conv_nd(y, self.pointwise_kernel, self.bias, ones, "valid", ones, 1)
        return self.activation(U.to_channels_last(y, self.data_format))

    def get_config(self):
        cfg = {
            "depth_multiplier": self.depth_multiplier,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        for kind, module in (
            ("initializer", initializers),
            ("regularizer", regularizers),
            ("constraint", constraints),
        ):
            for part in ("depthwise", "pointwise", "bias"):
                value = getattr(self, f"{part}_{kind}")
                cfg[f"{part}_{kind}"] = (
                    module.serialize(value) if kind == "initializer" else serialize_or_none(module, value)
                )
            if kind == "regularizer":
                cfg["activity_regularizer"] = serialize_or_none(regularizers, self.activity_regularizer)
        return {**super().get_config(), **cfg}


class SeparableConv1D(_SeparableConv):
    """Depthwise-separable 1-D convolution: a per-channel convolution, then a 1x1 one.

    ``depthwise = conv1d(inputs, depthwise_kernel, groups=C)`` (``C * depth_multiplier``
    channels), ``output = activation(conv1d(depthwise, pointwise_kernel) + bias)``.

    Args:
        filters: positive int, output channels.
        kernel_size, strides, dilation_rate: ints as in :class:`Conv1D`.
        padding: ``"valid"`` (default) or ``"same"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        depth_multiplier: depthwise channels per input channel (default 1).
        activation, use_bias: as in :class:`Conv1D`.
        depthwise_initializer, pointwise_initializer (default ``"glorot_uniform"``),
            bias_initializer (default ``"zeros"``); matching ``*_regularizer`` /
            ``*_constraint`` and activity_regularizer: optional.

    Weights: ``depthwise_kernel`` ``(kernel_size, C, depth_multiplier)``, ``pointwise_kernel``
    ``(1, C * depth_multiplier, filters)``, ``bias`` ``(filters,)``.

    >>> import torch
    >>> layer = SeparableConv1D(4, 3, depth_multiplier=2)
    >>> layer(torch.zeros(2, 10, 3)).shape
    torch.Size([2, 8, 4])
    >>> [w.shape for w in layer.get_weights()]
    [(3, 3, 2), (1, 6, 4), (4,)]
    """

    rank = 1
    _shape_words = "(batch, steps, channels) / (batch, channels, steps)"


class SeparableConv2D(_SeparableConv):
    """Depthwise-separable 2-D convolution (as :class:`SeparableConv1D` with 2-tuples).

    >>> import torch
    >>> SeparableConv2D(4, 3)(torch.zeros(1, 6, 6, 2)).shape
    torch.Size([1, 4, 4, 4])
    """

    rank = 2
    _shape_words = "(batch, rows, cols, channels) / (batch, channels, rows, cols)"
