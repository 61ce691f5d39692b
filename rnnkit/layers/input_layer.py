"""``InputLayer`` and ``Input``: where a functional graph starts."""

from __future__ import annotations

from rnnkit import config as _config
from rnnkit.layers.layer import Layer, unique_name
from rnnkit.layers.symbolic import KerasTensor, Node

__all__ = ["Input", "InputLayer"]


class InputLayer(Layer):
    """The layer that holds a model input (Keras's ``InputLayer``).

    It computes nothing: it owns one symbolic tensor, ``layer.output``, produced by its only node,
    and appears in a functional model's ``layers`` as Keras lists it. Usually made by
    :func:`Input`.

    Args:
        shape: the input shape without the batch axis (``None`` for unknown sizes).
        batch_size: the batch size, if fixed (default None).
        dtype: dtype name of the input (default ``rnnkit.config.floatx()``).
        batch_shape: the full shape with the batch axis, instead of ``shape`` / ``batch_size``.
        name: layer (and tensor) name; default ``input_layer``, numbered.
        sparse, optional: accepted for Keras compatibility (``sparse=True`` is refused).

    >>> layer = InputLayer(shape=(None, 8), name="seq")
    >>> layer.output.shape, layer.output._keras_history.operation is layer
    ((None, None, 8), True)
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        batch_shape=None,
        input_tensor=None,
        optional=False,
        name=None,
        ragged=None,
        **kwargs,
    ):
        # Keras 2 spellings
        if batch_shape is None and kwargs.get("batch_input_shape") is not None:
            batch_shape = kwargs.pop("batch_input_shape")
        if shape is None and kwargs.get("input_shape") is not None:
            shape = kwargs.pop("input_shape")
        kwargs.pop("input_shape", None)
        kwargs.pop("batch_input_shape", None)
        if isinstance(dtype, dict):  # a DTypePolicy dict from a config
            dtype = (dtype.get("config") or {}).get("name")
        if sparse:
            raise ValueError("rnnkit has no sparse tensors: InputLayer(sparse=True) is not supported")
        if input_tensor is not None:
            raise ValueError("InputLayer(input_tensor=...) is not supported; pass shape= or batch_shape=")
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input / InputLayer needs shape= (without the batch axis) or batch_shape=")
            if isinstance(shape, int):
                shape = (shape,)
            try:
                batch_shape = (batch_size, *tuple(shape))
            except TypeError:
                raise TypeError(
                    f"Input shape must be a tuple of ints / None, received {shape!r}"
                ) from None
        batch_shape = tuple(batch_shape)
        for d in batch_shape:
            if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < 0):
                raise ValueError(
                    f"Input shape entries must be non-negative ints or None, received {batch_shape!r}"
                )
        dtype = _config.standardize_dtype(dtype) or _config.floatx()
        super().__init__(name=name or unique_name("input_layer"), dtype=dtype, **kwargs)
        self.batch_shape = batch_shape
        self.sparse = False
        self.optional = bool(optional)
        self.built = True
        tensor = KerasTensor(batch_shape, dtype, name=self.name)
        tensor.node = Node(self, (), {}, tensor, is_input=True)
        self._input_tensor = tensor

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict:
        return {
            "batch_shape": list(self.batch_shape),
            "dtype": self._dtype_name,
            "sparse": False,
            "ragged": False,
            "name": self.name,
            "optional": self.optional,
        }


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, sparse=None, tensor=None, optional=False):
    """A symbolic model input: the output tensor of a new :class:`InputLayer`.

    Args:
        shape: the shape without the batch axis (``None`` = unknown size).
        batch_size: fixed batch size (default None).
        dtype: dtype name (default ``rnnkit.config.floatx()``).
        name: the input's name (also its ``InputLayer``'s).
        batch_shape: full shape with the batch axis, instead of ``shape``.

    >>> x = Input(shape=(None, 8))
    >>> x.shape, type(x._keras_history.operation).__name__
    ((None, None, 8), 'InputLayer')
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        batch_shape=batch_shape,
        input_tensor=tensor,
        optional=optional,
        name=name,
    )
    return layer.output
