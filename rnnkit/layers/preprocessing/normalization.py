"""``Normalization``: shift and scale features by a mean and variance, given or learnt by ``adapt()``."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from rnnkit.layers.layer import Layer

__all__ = ["Normalization"]

_EPSILON = 1e-7  # Keras's backend.epsilon()


def _extract(batch):
    if isinstance(batch, tuple | list) and batch and hasattr(batch[0], "shape"):
        return batch[0]
    return batch


class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` per position of the kept ``axis`` (Keras's ``Normalization``).

    ``mean`` and ``variance`` are given, or computed over a dataset by :meth:`adapt`; the
    denominator is floored at 1e-7. ``invert=True`` computes ``mean + x * sqrt(variance)``.

    Args:
        axis: the axis (int, tuple, or None for one scalar mean) that keeps separate statistics;
            default -1 (the features). Every other axis is averaged over.
        mean, variance: given statistics (scalars, or arrays broadcast from the right onto the
            kept axes); both or neither.
        invert: undo the normalisation.

    Weights after adapt (non-trainable, Keras's order): ``mean``, ``variance`` (kept-axes shape)
    and ``count`` (int64 scalar); none when ``mean`` / ``variance`` are given.

    >>> import numpy as np
    >>> layer = Normalization()
    >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> layer(np.array([[1.0, 20.0]])).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis, self.invert = axis, bool(invert)
        self.input_mean, self.input_variance = mean, variance
        self.supports_masking = True
        if (mean is not None) != (variance is not None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean} and variance={variance}"
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    "When setting values directly, `mean` and `variance` must have the same shape. Received: mean "
                    f"shape {np.shape(mean)} and variance shape {np.shape(variance)}"
                )
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(
                    f"The rank of `mean` must be less than or equal to the number of axes ({len(self.axis)}). "
                    f"Received: mean shape {np.shape(mean)} for axis {self.axis}"
                )
        self.mean = self.variance = None
        self._norm_shape = None

    def build(self, input_shape):
        if input_shape is None:
            return
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                f"All `axis` values must be in the range [-ndim, ndim). Received inputs with ndim={ndim}, "
                f"while axis={self.axis}"
            )
        keep = tuple(sorted(a % ndim for a in self.axis))
        for d in keep:
            if input_shape[d] is None:
                raise ValueError(
                    f"All `axis` values to be kept must have a known shape. Received axis={self.axis}, "
                    f"inputs.shape={input_shape}, with unknown axis at index {d}"
                )
        self._keep_axis = keep
        self._reduce_axis = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = [input_shape[d] if d in keep else 1 for d in range(ndim)]
        self._stats_shape = tuple(input_shape[d] for d in keep)
        self._build_input_shape = input_shape
        if self.input_mean is None:
            if not hasattr(self, "adapt_mean"):
                self.adapt_mean = self.add_weight(shape=self._stats_shape, initializer="zeros", trainable=False,
                                                  name="mean")
                self.adapt_variance = self.add_weight(shape=self._stats_shape, initializer="ones", trainable=False,
                                                      name="variance")
                self.count = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False,
                                             name="count")
        else:
            mean = torch.as_tensor(np.asarray(self.input_mean, dtype=np.float64))
            var = torch.as_tensor(np.asarray(self.input_variance, dtype=np.float64))
            if mean.dim():
                expanded = [1] * ndim
                for i in range(1, mean.dim() + 1):
                    expanded[keep[-i]] = mean.shape[-i]
                mean, var = mean.reshape(expanded), var.reshape(expanded)
            self._given = (mean.expand(self._broadcast_shape).to(self.dtype).clone(),
                           var.expand(self._broadcast_shape).to(self.dtype).clone())
        self.built = True
        self.finalize_state()

    def finalize_state(self):
        """Refresh ``mean`` / ``variance`` (broadcastable to the input) from the weights."""
        if not self.built or not hasattr(self, "_broadcast_shape"):
            return
        if self.input_mean is not None:
            self.mean, self.variance = self._given
        else:
            self.mean = self.adapt_mean.detach().reshape(self._broadcast_shape)
            self.variance = self.adapt_variance.detach().reshape(self._broadcast_shape)

    def adapt(self, data):
        """Compute the mean and variance of ``data`` per kept position.

        ``data``: a numpy array, a tensor, or an iterable of batches (a list of arrays, a
        generator, a ``BatchedData``, a ``PyDataset``; ``(x, y[, w])`` batches contribute ``x``).
        Batches are combined exactly (the statistics equal those of the concatenated data).
        """
        if isinstance(data, np.ndarray | torch.Tensor):
            first, batches, single = data, None, True
        else:
            from rnnkit.utils.py_dataset import PyDataset

            if isinstance(data, PyDataset):
                it = (data[i] for i in range(len(data)))
            elif hasattr(data, "__iter__"):
                it = iter(data)  # a list of batches, a generator, a dataset
            else:
                raise TypeError(
                    f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray`, tensors, `PyDataset`, "
                    "and iterables of batches (e.g. list, generator)."
                )
            first = next(it, None)
            if first is None:
                raise ValueError(
                    "adapt() received an empty iterable (no batches). Expected at least one batch. Pass a non-empty "
                    "iterable of arrays or tensors, e.g. layer.adapt([x]) or layer.adapt(list_of_batches)."
                )
            first = _extract(first)
            if getattr(first, "shape", None) is None:
                raise TypeError(
                    "adapt() expects an iterable that yields arrays or tensors with a `.shape` attribute (e.g. numpy "
                    f"arrays or backend tensors). Got an element of type {type(first).__name__}."
                )
            batches, single = itertools.chain([first], (_extract(b) for b in it)), False
        shape = tuple(first.shape)
        if not self.built:
            self.build(shape)
        else:
            for d in self._keep_axis:
                if shape[d] != self._build_input_shape[d]:
                    raise ValueError(
                        f"The layer was built with input_shape={self._build_input_shape}, but adapt() is being "
                        f"called with data with an incompatible shape, data.shape={shape}"
                    )
        if self.input_mean is not None:
            raise ValueError(f"{self.name}: adapt() cannot change a mean and variance given to the constructor")
        if single:
            x = torch.as_tensor(np.asarray(data) if isinstance(data, np.ndarray) else data).double()
            mean = x.mean(dim=self._reduce_axis) if self._reduce_axis else x
            var = x.var(dim=self._reduce_axis, unbiased=False) if self._reduce_axis else torch.zeros_like(x)
            total = math.prod(x.shape[d] for d in self._reduce_axis)
        else:
            mean = var = torch.zeros(self._stats_shape, dtype=torch.float64)
            total = 0
            for batch in batches:
                x = torch.as_tensor(np.asarray(batch) if not isinstance(batch, torch.Tensor) else batch).double()
                for d in self._keep_axis:
                    if x.shape[d] != self._build_input_shape[d]:
                        raise ValueError(
                            f"adapt() yielded a batch with incompatible shape. Expected {self._build_input_shape}, "
                            f"got {tuple(x.shape)}."
                        )
                b_mean = x.mean(dim=self._reduce_axis) if self._reduce_axis else x
                b_var = x.var(dim=self._reduce_axis, unbiased=False) if self._reduce_axis else torch.zeros_like(x)
                n = math.prod(x.shape[d] for d in self._reduce_axis) if self._reduce_axis else 1
                total += n
                w = n / total
                new_mean = mean * (1 - w) + b_mean * w
                var = (var + (mean - new_mean) ** 2) * (1 - w) + (b_var + (b_mean - new_mean) ** 2) * w
                mean = new_mean
        with torch.no_grad():
            self.adapt_mean.copy_(mean.to(self.adapt_mean.dtype))
            self.adapt_variance.copy_(var.to(self.adapt_variance.dtype))
            self.count.fill_(int(total))
        self.finalize_state()

    def call(self, inputs):
        if self.mean is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
        if not x.is_floating_point() or x.dtype != self.dtype:
            x = x.to(self.dtype)
        if self.input_mean is None:  # read the weights each call (they may have moved or been loaded)
            mean = self.adapt_mean.detach().reshape(self._broadcast_shape)
            var = self.adapt_variance.detach().reshape(self._broadcast_shape)
        else:
            mean, var = self.mean, self.variance
        mean = mean.to(device=x.device, dtype=x.dtype)
        scale = torch.clamp(torch.sqrt(var.to(device=x.device, dtype=x.dtype)), min=_EPSILON)
        return mean + x * scale if self.invert else (x - mean) / scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": list(self.axis),
            "invert": self.invert,
            "mean": np.array(self.input_mean).tolist(),
            "variance": np.array(self.input_variance).tolist(),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("mean", "variance"):
            if config.get(key) is None:
                config[key] = None
        return cls(**config)

    def set_weights(self, weights):
        super().set_weights(weights)
        self.finalize_state()

    def build_from_config(self, build_config):
        if build_config and build_config.get("input_shape") is not None and not self.built:
            self.build(tuple(build_config["input_shape"]))
