"""Core layers with Keras 3's names, defaults, weight layouts and configs.

``Dense`` and ``Embedding`` hold weights (``kernel``/``bias``, ``embeddings``) laid out as in
Keras, so arrays from a Keras model's ``get_weights()`` load with ``set_weights``. The other
layers are weightless: ``Dropout``, ``Masking``, ``ReLU``, ``Activation``, ``Flatten``,
``Reshape`` and ``RepeatVector``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit.layers.layer import Layer, to_tensor

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "Masking",
    "ReLU",
    "RepeatVector",
    "Reshape",
]


def serialize_or_none(module, obj):
    """``module.serialize(obj)``, or None when ``obj`` is None (unset regularizer/constraint)."""
    return None if obj is None else module.serialize(obj)


def _positive_int(layer: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer}: {arg} must be a positive integer, received {value!r}")
    return value


def _no_lora(layer: str, lora_rank, quantization_config) -> None:
    if lora_rank:
        raise NotImplementedError(f"{layer}: LoRA (lora_rank={lora_rank!r}) is not supported")
    if quantization_config is not None:
        raise NotImplementedError(f"{layer}: quantization_config is not supported")


class Dense(Layer):
    """Densely connected layer: ``output = activation(inputs @ kernel + bias)``.

    Applies to the last axis of an input of any rank ``(..., in)`` -> ``(..., units)``; a Keras
    mask passes through unchanged.

    Args:
        units: positive int, size of the last output axis.
        activation: activation name or callable (default None: linear).
        use_bias: add the ``bias`` vector (default True).
        kernel_initializer: for ``kernel`` of shape ``(in, units)`` (default ``"glorot_uniform"``).
        bias_initializer: for ``bias`` of shape ``(units,)`` (default ``"zeros"``).
        kernel_regularizer, bias_regularizer, activity_regularizer: optional regularizers.
        kernel_constraint, bias_constraint: optional constraints.
        lora_rank, lora_alpha, quantization_config: Keras 3 arguments, accepted when unset.

    >>> import torch
    >>> layer = Dense(3, kernel_initializer="ones")
    >>> layer(torch.ones(2, 5, 4)).shape
    torch.Size([2, 5, 3])
    >>> [w.shape for w in layer.get_weights()]
    [(4, 3), (3,)]
    """

    supports_masking = True

    def __init__(
        self,
        units,
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
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _no_lora("Dense", lora_rank, quantization_config)
        self.units = _positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"{self.name}: Dense expects inputs of rank >= 2 with a known last axis, "
                f"received input_shape={tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer=self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                initializer=self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs):
        if not inputs.is_floating_point():
            inputs = inputs.to(self.dtype)
        if inputs.dim() < 1 or inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"{self.name}: expected inputs with last axis {self.kernel.shape[0]}, "
                f"received shape {tuple(inputs.shape)}"
            )
        return self.activation(F.linear(inputs, self.kernel.t(), self.bias))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        cfg = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_or_none(regularizers, self.kernel_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
            "kernel_constraint": serialize_or_none(constraints, self.kernel_constraint),
            "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
        }
        if self.activity_regularizer is not None:
            cfg["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return {**super().get_config(), **cfg}


class Embedding(Layer):
    """Turns integer indices into dense vectors: ``output[..., :] = embeddings[inputs[...]]``.

    Inputs ``(...)`` of indices in ``[0, input_dim)`` (integer tensors, or float tensors holding
    integers, as Keras accepts) give outputs ``(..., output_dim)``. With ``mask_zero=True`` index
    0 is padding and the output mask is ``inputs != 0``.

    Args:
        input_dim: vocabulary size (positive int).
        output_dim: embedding size (positive int).
        embeddings_initializer: for ``embeddings`` of shape ``(input_dim, output_dim)``
            (default ``"uniform"``: RandomUniform(-0.05, 0.05)).
        embeddings_regularizer, activity_regularizer, embeddings_constraint: optional.
        mask_zero: produce a mask from index 0 (default False).
        input_length: Keras 2 argument, accepted and ignored.
        lora_rank, lora_alpha, quantization_config: Keras 3 arguments, accepted when unset.

    >>> import torch
    >>> layer = Embedding(10, 4, mask_zero=True)
    >>> out = layer(torch.tensor([[3, 1, 0]]))
    >>> out.shape, out._keras_mask.tolist()
    (torch.Size([1, 3, 4]), [[True, True, False]])
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        input_length=None,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _no_lora("Embedding", lora_rank, quantization_config)
        self.input_dim = _positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = _positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        self.built = True

    def _convert_input(self, t):
        return to_tensor(t)  # indices: keep the caller's dtype (no cast to the float dtype)

    def call(self, inputs):
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"{self.name}: expected a tensor of indices, received {inputs!r}")
        idx = inputs.long()
        if idx.numel() and not (torch.jit.is_tracing() or torch.compiler.is_compiling()):  # eager check
            lo, hi = int(idx.min()), int(idx.max())
            if lo < 0 or hi >= self.input_dim:
                bad = lo if lo < 0 else hi
                raise IndexError(
                    f"{self.name}: index {bad} is out of range for an Embedding with "
                    f"input_dim={self.input_dim} (valid indices are 0..{self.input_dim - 1})"
                )
        return F.embedding(idx, self.embeddings)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return torch.as_tensor(inputs) != 0

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        cfg = {
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": serialize_or_none(regularizers, self.embeddings_regularizer),
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
            "embeddings_constraint": serialize_or_none(constraints, self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }
        return {**super().get_config(), **cfg}


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to 0 in training and scales the rest by ``1/(1-rate)``.

    ``output = inputs * keep / (1 - rate)`` with ``keep ~ Bernoulli(1 - rate)`` when training,
    ``output = inputs`` otherwise. A Keras mask passes through.

    Args:
        rate: float in ``[0, 1)``, fraction of the units to drop.
        noise_shape: shape of the keep mask broadcast over the inputs, including the batch
            axis; None entries take the input's size (default None: the input's shape).
        seed: int making the masks repeatable (a generator owned by the layer; default None
            uses torch's global generator).

    >>> import torch
    >>> layer = Dropout(0.5, seed=1)
    >>> layer(torch.ones(2, 3)).tolist()  # inference: identity
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    >>> sorted(set(layer(torch.ones(100), training=True).tolist()))
    [0.0, 2.0]
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a float in [0, 1), received {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        from rnnkit.random import SeedGenerator

        self.seed_generator = SeedGenerator(seed)  # a non-trainable variable, as in Keras

    def _noise_shape(self, inputs):
        if self.noise_shape is None:
            return tuple(inputs.shape)
        if len(self.noise_shape) != inputs.dim():
            raise ValueError(
                f"{self.name}: noise_shape {self.noise_shape} must have one entry per input "
                f"axis, received inputs of shape {tuple(inputs.shape)}"
            )
        return tuple(d if s is None else int(s) for s, d in zip(self.noise_shape, inputs.shape))

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if self.seed is None and self.noise_shape is None:
            return F.dropout(inputs, self.rate, training=True)
        from rnnkit.random import keep_mask

        like = torch.empty(self._noise_shape(inputs), dtype=inputs.dtype, device=inputs.device)
        return inputs * keep_mask(like, self.rate, self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        noise = None if self.noise_shape is None else list(self.noise_shape)
        cfg = {"rate": self.rate, "seed": self.seed, "noise_shape": noise}
        return {**super().get_config(), **cfg}


class Masking(Layer):
    """Masks time steps whose features all equal ``mask_value``.

    ``mask = any(inputs != mask_value, axis=-1)``; ``output = inputs * mask[..., None]`` (masked
    steps zeroed) carrying ``mask`` as its Keras mask for the layers downstream.

    Args:
        mask_value: the padding value (default 0.0).

    >>> import torch
    >>> x = torch.tensor([[[1.0, 2.0], [-1.0, -1.0]]])
    >>> out = Masking(mask_value=-1.0)(x)
    >>> out.tolist(), out._keras_mask.tolist()
    ([[[1.0, 2.0], [0.0, 0.0]]], [[True, False]])
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self._build_at_init()

    def compute_mask(self, inputs, mask=None):
        """``any(inputs != mask_value, axis=-1)``; ``inputs`` may be a tensor or a numpy array."""
        if not isinstance(inputs, torch.Tensor):
            inputs = to_tensor(np.asarray(inputs))
        return torch.any(inputs != self.mask_value, dim=-1)

    def call(self, inputs):
        keep = torch.any(inputs != self.mask_value, dim=-1, keepdim=True)
        return inputs * keep.to(inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class ReLU(Layer):
    """Rectified linear unit with Keras's options.

    ``f(x) = min(x, max_value)`` for ``x > threshold``, else ``negative_slope * (x - threshold)``.

    Args:
        max_value: non-negative float cap, or None (default) for no cap.
        negative_slope: non-negative float slope below the threshold (default 0.0).
        threshold: non-negative float threshold (default 0.0).

    >>> import torch
    >>> ReLU(max_value=2.0)(torch.tensor([-1.0, 1.0, 3.0])).tolist()
    [0.0, 1.0, 2.0]
    """

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (
            ("max_value", max_value),
            ("negative_slope", negative_slope),
            ("threshold", threshold),
        ):
            if (value is None and arg != "max_value") or (value is not None and value < 0):
                raise ValueError(f"ReLU: {arg} must be a non-negative float, received {value!r}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs):
        return activations.relu(
            inputs,
            negative_slope=self.negative_slope,
            max_value=self.max_value,
            threshold=self.threshold,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        cfg = {
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }
        return {**super().get_config(), **cfg}


class Activation(Layer):
    """Applies an activation function elementwise: ``output = activation(inputs)``.

    Args:
        activation: an activation name (``"tanh"``, ``"relu"`` ...), Keras dict or callable.

    >>> import torch
    >>> Activation("relu")(torch.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Flatten(Layer):
    """Flattens every axis but the batch axis: ``(B, d1, ..., dn)`` -> ``(B, d1 * ... * dn)``.

    A rank-1 input ``(B,)`` becomes ``(B, 1)``.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``; with the latter a
            rank >= 3 input is moved to channels-last order before flattening (as in Keras).

    >>> import torch
    >>> Flatten()(torch.zeros(2, 3, 4)).shape
    torch.Size([2, 12])
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "Flatten: data_format must be 'channels_last' or 'channels_first', "
                f"received {data_format!r}"
            )
        self.data_format = data_format

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.dim() > 2:
            inputs = inputs.permute(0, *range(2, inputs.dim()), 1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes the non-batch axes: ``(B, ...)`` -> ``(B, *target_shape)``.

    One entry of ``target_shape`` may be -1, inferred from the input size.

    Args:
        target_shape: tuple of ints, the output shape without the batch axis.

    >>> import torch
    >>> Reshape((3, -1))(torch.zeros(2, 12)).shape
    torch.Size([2, 3, 4])
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(
                f"Reshape: target_shape must be a tuple of ints, received {target_shape!r}"
            ) from None
        if sum(d == -1 for d in target) > 1 or any(d == 0 or d < -1 for d in target):
            raise ValueError(
                "Reshape: target_shape must hold positive ints and at most one -1, "
                f"received {target_shape!r}"
            )
        self.target_shape = target

    def _resolve(self, size: int, input_shape):
        known = math.prod(d for d in self.target_shape if d != -1)
        ok = size % known == 0 if -1 in self.target_shape else size == known
        if not ok:
            raise ValueError(
                f"{self.name}: cannot reshape inputs of shape {tuple(input_shape)} "
                f"({size} values per sample) to target_shape {self.target_shape}"
            )
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def call(self, inputs):
        size = math.prod(inputs.shape[1:])
        return inputs.reshape(inputs.shape[0], *self._resolve(size, inputs.shape))

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        if any(d is None for d in rest):
            return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
        return (input_shape[0], *self._resolve(math.prod(rest), input_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class RepeatVector(Layer):
    """Repeats a vector ``n`` times: ``(B, F)`` -> ``(B, n, F)``.

    Args:
        n: positive int, the number of repetitions.

    >>> import torch
    >>> RepeatVector(3)(torch.tensor([[1.0, 2.0]])).tolist()
    [[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]]
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int("RepeatVector", "n", n)

    def call(self, inputs):
        if inputs.dim() != 2:
            raise ValueError(
                f"{self.name}: RepeatVector expects inputs of rank 2 (batch, features), "
                f"received shape {tuple(inputs.shape)}"
            )
        return inputs.unsqueeze(1).repeat(1, self.n, 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
