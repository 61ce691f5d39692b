"""Normalization layers with Keras 3's weights, update rules and configs.

``BatchNormalization`` keeps Keras's four weights in Keras's order (``gamma``, ``beta``,
``moving_mean``, ``moving_variance``; the last two non-trainable) and updates the moving
statistics in training with ``moving = moving * momentum + batch_stat * (1 - momentum)``.
``LayerNormalization`` normalises each sample over ``axis`` with ``gamma`` then ``beta``.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from rnnkit import constraints, initializers, regularizers
from rnnkit.layers.core import serialize_or_none
from rnnkit.layers.layer import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]

_MASK_EPSILON = 1e-7  # Keras's backend.epsilon(), added to the masked count


def _compute_dtype(x: torch.Tensor) -> torch.Tensor:
    """Keras upcasts half-precision inputs to float32 for the statistics."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _norm_axis(axis: int, ndim: int, layer: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{layer}: axis {axis} is out of bounds for inputs of rank {ndim}")
    return axis % ndim


class BatchNormalization(Layer):
    """Normalises each feature with batch statistics in training and moving ones in inference.

    ``output = (inputs - mean) / sqrt(var + epsilon) * gamma + beta``, where ``mean``/``var``
    are taken over every axis but ``axis``: the batch's (biased variance) when called with
    ``training=True`` on a trainable layer, else ``moving_mean``/``moving_variance``. Each
    training call also updates ``moving = moving * momentum + batch_stat * (1 - momentum)``
    (outside autograd). With a Keras mask of the inputs' shape minus the last axis (e.g.
    ``(B, T)`` for inputs ``(B, T, F)``) the batch statistics use the unmasked positions only:
    ``mean = sum(m * x) / (sum(m) + 1e-7)``, ``var = sum(m * (x - mean)^2) / (sum(m) + 1e-7)``.
    As in Keras, ``trainable=False`` makes the layer run in inference mode.

    Args:
        axis: int, the feature axis kept (default -1).
        momentum: float, moving-average momentum (default 0.99).
        epsilon: float added to the variance (default 1e-3).
        center: learn the offset ``beta`` (default True).
        scale: learn the factor ``gamma`` (default True).
        beta_initializer, gamma_initializer: defaults ``"zeros"``, ``"ones"``.
        moving_mean_initializer, moving_variance_initializer: defaults ``"zeros"``, ``"ones"``.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: optional.
        synchronized: accepted for Keras configs; one process has nothing to synchronise.
        renorm, renorm_clipping, renorm_momentum: Keras arguments; batch renormalization is
            not supported (``renorm=True`` raises NotImplementedError).
    All weights have shape ``(inputs.shape[axis],)``.

    >>> import torch
    >>> bn = BatchNormalization(dtype="float64")
    >>> x = torch.tensor([[0.0, 2.0], [2.0, 6.0]], dtype=torch.float64)
    >>> bn(x, training=True).tolist()
    [[-0.9995..., -0.9998...], [0.9995..., 0.9998...]]
    >>> bn.moving_mean.tolist()  # 0 * 0.99 + [1, 4] * 0.01
    [0.01, 0.04]
    >>> [w.shape for w in bn.get_weights()]
    [(2,), (2,), (2,), (2,)]
    """

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"BatchNormalization: axis must be an int, received {axis!r}")
        if renorm:
            raise NotImplementedError("BatchNormalization: renorm=True is not supported")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.renorm = False
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.synchronized = bool(synchronized)
        self.gamma = None
        self.beta = None

    def build(self, input_shape):
        ndim = len(input_shape)
        axis = _norm_axis(self.axis, ndim, self.name)
        if input_shape[axis] is None:
            raise ValueError(
                f"{self.name}: axis {self.axis} of input_shape {tuple(input_shape)} must be known"
            )
        shape = (input_shape[axis],)
        if self.scale:
            self.gamma = self.add_weight(
                shape=shape,
                initializer=self.gamma_initializer,
                name="gamma",
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.beta = self.add_weight(
                shape=shape,
                initializer=self.beta_initializer,
                name="beta",
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.moving_mean = self.add_weight(
            shape=shape,
            initializer=self.moving_mean_initializer,
            name="moving_mean",
            trainable=False,
        )
        self.moving_variance = self.add_weight(
            shape=shape,
            initializer=self.moving_variance_initializer,
            name="moving_variance",
            trainable=False,
        )
        self.built = True

    def _moments(self, x, mask, dims):
        if mask is None:
            var, mean = torch.var_mean(x, dim=dims, correction=0)
            return mean, var
        w = mask.to(x.dtype).unsqueeze(-1)
        if torch.broadcast_shapes(w.shape, x.shape) != x.shape:
            raise ValueError(
                f"{self.name}: mask of shape {tuple(mask.shape)} does not match inputs of shape "
                f"{tuple(x.shape)} (expected the inputs' shape without the last axis)"
            )
        w = w.expand_as(x)
        count = w.sum(dim=dims, keepdim=True) + _MASK_EPSILON
        mean = (w * x).sum(dim=dims, keepdim=True) / count
        var = (w * (x - mean).square()).sum(dim=dims, keepdim=True) / count
        return mean.reshape(-1), var.reshape(-1)

    def call(self, inputs, training=None, mask=None):
        ndim = inputs.dim()
        axis = _norm_axis(self.axis, ndim, self.name)
        channels = self.moving_mean.shape[0]
        if inputs.shape[axis] != channels:
            raise ValueError(
                f"{self.name}: expected {channels} features on axis {self.axis}, received "
                f"inputs of shape {tuple(inputs.shape)}"
            )
        if mask is not None and mask.dim() != ndim - 1:
            raise ValueError(
                f"{self.name}: the mask must have one axis less than the inputs, received "
                f"mask.shape={tuple(mask.shape)}, inputs.shape={tuple(inputs.shape)}"
            )
        x = _compute_dtype(inputs)
        dims = [d for d in range(ndim) if d != axis]
        if training and self.trainable:
            mean, var = self._moments(x, mask, dims)
            m = self.momentum
            with torch.no_grad():
                for moving, stat in ((self.moving_mean, mean), (self.moving_variance, var)):
                    new = moving.to(stat.dtype) * m + stat.detach() * (1.0 - m)
                    moving.copy_(new.to(moving.dtype))
        else:
            mean = self.moving_mean.detach().to(x.dtype).clone()
            var = self.moving_variance.detach().to(x.dtype).clone()
        shape = [1] * ndim
        shape[axis] = channels
        inv = torch.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            inv = inv * self.gamma.to(x.dtype)
        offset = -mean * inv
        if self.beta is not None:
            offset = offset + self.beta.to(x.dtype)
        out = x * inv.reshape(shape) + offset.reshape(shape)
        return out.to(inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        cfg = {
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": serialize_or_none(regularizers, self.beta_regularizer),
            "gamma_regularizer": serialize_or_none(regularizers, self.gamma_regularizer),
            "beta_constraint": serialize_or_none(constraints, self.beta_constraint),
            "gamma_constraint": serialize_or_none(constraints, self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }
        return {**super().get_config(), **cfg}


class LayerNormalization(Layer):
    """Normalises each sample over ``axis``: ``(x - mean) / sqrt(var + epsilon) * gamma + beta``.

    ``mean`` and the biased ``var`` are taken over the axes in ``axis`` for every sample. With
    ``rms_scaling=True`` the output is ``x / sqrt(var + epsilon) * gamma`` (no centring and no
    ``beta``; like Keras, this divides by the variance, not the root mean square). Masks pass
    through unchanged.

    Args:
        axis: int or list of ints, the normalised axes (default -1).
        epsilon: float added to the variance (default 1e-3).
        center: learn ``beta`` (default True).
        scale: learn ``gamma`` (default True).
        rms_scaling: see above (default False).
        beta_initializer, gamma_initializer: defaults ``"zeros"``, ``"ones"``.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: optional.
    ``gamma``/``beta`` have the shape of the normalised axes, e.g. ``(F,)`` for ``axis=-1``.

    >>> import torch
    >>> ln = LayerNormalization(epsilon=0.0)
    >>> ln(torch.tensor([[1.0, 3.0]])).tolist()
    [[-1.0, 1.0]]
    >>> [w.shape for w in ln.get_weights()]
    [(2,), (2,)]
    """

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        rms_scaling=False,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (
            isinstance(axis, list | tuple)
            and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis)
            and axis
        ):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(
                f"LayerNormalization: axis must be an int or a list/tuple of ints, received {axis!r}"
            )
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = None
        self.beta = None

    def _axes(self, ndim: int) -> list[int]:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        return [_norm_axis(a, ndim, self.name) for a in axes]

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(
                f"{self.name}: axes {self.axis} of input_shape {tuple(input_shape)} must be known"
            )
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                shape=shape,
                initializer=self.gamma_initializer,
                name="gamma",
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                shape=shape,
                initializer=self.beta_initializer,
                name="beta",
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.built = True

    def call(self, inputs):
        ndim = inputs.dim()
        axes = self._axes(ndim)
        x = _compute_dtype(inputs)
        gamma = None if self.gamma is None else self.gamma.to(x.dtype)
        beta = None if self.beta is None else self.beta.to(x.dtype)
        expected = tuple(inputs.shape[a] for a in axes)
        params = self.gamma if self.gamma is not None else self.beta
        if params is not None and tuple(params.shape) != expected:
            raise ValueError(
                f"{self.name}: built for sizes {tuple(params.shape)} on axes {self.axis}, "
                f"received inputs of shape {tuple(inputs.shape)}"
            )
        if not self.rms_scaling and axes == list(range(ndim - len(axes), ndim)):
            out = F.layer_norm(x, expected, gamma, beta, self.epsilon)  # trailing axes
            return out.to(inputs.dtype)
        bshape = [1] * ndim
        for a in axes:
            bshape[a] = inputs.shape[a]
        var, mean = torch.var_mean(x, dim=axes, keepdim=True, correction=0)
        inv = torch.rsqrt(var + self.epsilon)
        if gamma is not None:
            inv = inv * gamma.reshape(bshape)
        if self.rms_scaling:
            return (x * inv).to(inputs.dtype)
        out = x * inv - mean * inv
        if beta is not None:
            out = out + beta.reshape(bshape)
        return out.to(inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        cfg = {
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": serialize_or_none(regularizers, self.beta_regularizer),
            "gamma_regularizer": serialize_or_none(regularizers, self.gamma_regularizer),
            "beta_constraint": serialize_or_none(constraints, self.beta_constraint),
            "gamma_constraint": serialize_or_none(constraints, self.gamma_constraint),
        }
        return {**super().get_config(), **cfg}
