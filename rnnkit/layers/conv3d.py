"""``Conv3D``: Keras's 3D convolution layer on ``torch.nn.functional.conv3d``."""

from __future__ import annotations

import torch

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit.layers.conv_math import (
    conv_nd,
    conv_output_length,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
    to_channels_first,
    to_channels_last,
    torch_conv_weight,
)
from rnnkit.layers.layer import Layer

__all__ = ["Conv3D"]


def _ser(module, obj):
    return None if obj is None else module.serialize(obj)


class Conv3D(Layer):
    """3D convolution (Keras's ``Conv3D``): ``activation(conv(x, kernel) + bias)``.

    Args:
        filters: output channels (> 0, divisible by ``groups``).
        kernel_size: int or tuple of 3 ints.
        strides: int or tuple of 3 (default 1); ``> 1`` excludes ``dilation_rate > 1``.
        padding: ``"valid"`` (default) or ``"same"`` (TensorFlow's placement of odd padding).
        data_format: ``"channels_last"`` (default, ``rnnkit.config.image_data_format()``):
            inputs ``(batch, d1, d2, d3, channels)``; ``"channels_first"``:
            ``(batch, channels, d1, d2, d3)``.
        dilation_rate: int or tuple of 3 (default 1).
        groups: channel groups convolved separately (default 1).
        activation: default None (linear). use_bias: default True.
        kernel_initializer / bias_initializer: ``"glorot_uniform"`` / ``"zeros"``;
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: default None.

    Weights (Keras's layout): ``kernel`` ``(k1, k2, k3, channels // groups, filters)``,
    ``bias`` ``(filters,)``.

    >>> import torch
    >>> Conv3D(4, 3, padding="same")(torch.zeros(2, 5, 6, 6, 1)).shape
    torch.Size([2, 5, 6, 6, 4])
    """

    rank = 3

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
        if lora_rank:
            raise ValueError(f"{self.name}: lora_rank is not supported by rnnkit's Conv3D, received {lora_rank!r}")
        name = type(self).__name__
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{name}: filters must be a positive integer, received {filters!r}")
        if not isinstance(groups, int) or groups <= 0 or filters % groups:
            raise ValueError(
                f"{name}: groups must be a positive integer dividing filters={filters}, "
                f"received groups={groups!r}"
            )
        r = self.rank
        self.filters, self.groups = filters, groups
        self.kernel_size = standardize_tuple(kernel_size, r, "kernel_size")
        self.strides = standardize_tuple(strides, r, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, r, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{name}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None
        self._in_channels = None

    def _channels(self, shape):
        return shape[1] if self.data_format == "channels_first" else shape[-1]

    def _spatial(self, shape):
        return tuple(shape[2:]) if self.data_format == "channels_first" else tuple(shape[1:-1])

    def _expect(self, shape):
        if len(shape) != self.rank + 2:
            layout = "(batch, channels, d1, d2, d3)" if self.data_format == "channels_first" else (
                "(batch, d1, d2, d3, channels)"
            )
            raise ValueError(
                f"{self.name}: expected inputs of rank {self.rank + 2} {layout}, received shape "
                f"{tuple(shape)}"
            )

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape`` (unknown axes stay None)."""
        input_shape = tuple(input_shape)
        self._expect(input_shape)
        spatial = tuple(
            conv_output_length(n, k, s, d, self.padding)
            for n, k, s, d in zip(self._spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate)
        )
        if self.data_format == "channels_first":
            return (input_shape[0], self.filters, *spatial)
        return (input_shape[0], *spatial, self.filters)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._expect(input_shape)
        channels = self._channels(input_shape)
        if channels is None or channels % self.groups:
            raise ValueError(
                f"{self.name}: the channel axis must be known and divisible by groups="
                f"{self.groups}, received input shape {input_shape}"
            )
        out = self.compute_output_shape(input_shape)
        spatial_out = out[2:] if self.data_format == "channels_first" else out[1:-1]
        if any(n is not None and n <= 0 for n in spatial_out):
            raise ValueError(
                f"{self.name}: kernel_size {self.kernel_size} is larger than the input "
                f"{self._spatial(input_shape)} (padding='valid')"
            )
        self._in_channels = int(channels)
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
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"{self.name}: expected a tensor, received {type(inputs).__name__}")
        self._expect(inputs.shape)
        if self._channels(inputs.shape) != self._in_channels:
            raise ValueError(
                f"{self.name}: was built for {self._in_channels} input channels, received input "
                f"shape {tuple(inputs.shape)}"
            )
        cl = self.data_format == "channels_last"
        x = to_channels_first(inputs) if cl else inputs
        y = conv_nd(
            x, torch_conv_weight(self.kernel), self.bias, self.strides, self.padding,
            self.dilation_rate, self.groups,
        )
        y = to_channels_last(y) if cl else y
        return self.activation(y)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
        }
