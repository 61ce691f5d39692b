"""``Sequential``: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from torch import nn

from rnnkit.layers.input_layer import Input
from rnnkit.layers.layer import Layer
from rnnkit.layers.symbolic import KerasTensor
from rnnkit.models.model import Model, _saving

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers (Keras's ``Sequential``).

    Layers come as a list or through :meth:`add`; the input shape comes from an
    :func:`rnnkit.Input` (or ``InputLayer``-like ``KerasTensor``) placed first, from
    ``input_shape=`` on the first layer, from :meth:`build`, or from the first call.

    >>> import torch
    >>> from rnnkit import layers
    >>> model = Sequential([layers.LSTM(8, return_sequences=True), layers.LSTM(4)])
    >>> model(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 4])
    """

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._stack = nn.ModuleList()
        self._input = None
        self._shapes = None
        self._built_nodes = []  # the nodes this model's build recorded on its layers
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list:
        """The layers in order (as in Keras, the input is not among them)."""
        return list(self._stack)

    @property
    def inputs(self):
        """``[input]`` once the input shape is known, else None."""
        return None if self._input is None else [self._input]

    @property
    def outputs(self):
        """``[output]`` (the last layer's symbolic output) once built, else None."""
        return [self._shapes[-1]] if self._shapes else None

    @property
    def input(self):
        """The symbolic input (once the input shape is known)."""
        if self._input is None:
            raise ValueError(f"Sequential model {self.name!r} has no input yet: build it or give it an Input")
        return self._input

    @property
    def output(self):
        """The symbolic output (once built on an input shape)."""
        if not self._shapes:
            raise ValueError(f"Sequential model {self.name!r} has no output yet: build it or give it an Input")
        return self._shapes[-1]

    def add(self, layer):
        """Append a layer (or set the input with an ``rnnkit.Input``)."""
        if isinstance(layer, KerasTensor):
            if self._stack:
                raise ValueError("an Input can only be the first entry of a Sequential model")
            self._input = layer
            return
        if not isinstance(layer, nn.Module):
            raise TypeError(f"Sequential.add expects a layer, received {type(layer).__name__}")
        self._stack.append(layer)
        self.__dict__["_all_layers"] = None
        self.built = False
        self._shapes = None
        if len(self._stack) == 1 and self._input is None and getattr(layer, "_batch_input_shape", None):
            self._input = Input(batch_shape=layer._batch_input_shape)
        if self._input is not None:
            self.build()

    def pop(self):
        """Remove and return the last layer."""
        if not self._stack:
            raise ValueError("pop() on an empty Sequential model")
        layer = self._stack[-1]
        del self._stack[-1]
        self.__dict__["_all_layers"] = None
        self._shapes = None
        if self._input is not None and self._stack:
            self.build()  # as Keras, the remaining stack is rebuilt (and the popped layer's node dropped)
        else:
            self._forget_nodes()
        return layer

    def build(self, input_shape=None):
        """Build every layer for ``input_shape`` (with the batch axis) and record output shapes."""
        if input_shape is not None:
            self._input = Input(batch_shape=tuple(input_shape))
        if self._input is None:
            raise ValueError("Sequential.build needs an input_shape (or an Input as first layer)")
        self._forget_nodes()  # a rebuild (after add / pop) replaces the previous build's nodes
        x = self._input
        shapes = []
        for layer in self._stack:
            x = layer(x)
            shapes.append(x)
            node = next((t.node for t in _leaves(x) if t.node is not None), None)
            if node is not None:
                self._built_nodes.append(node)
        self._shapes = shapes
        self.built = True

    def _forget_nodes(self):
        for node in self._built_nodes:
            nodes = node.layer.__dict__.get("_inbound_nodes", [])
            nodes[:] = [n for n in nodes if n is not node]
        self._built_nodes = []

    def call(self, inputs, training=None, mask=None):
        if not self.built and self._input is None and hasattr(inputs, "shape"):
            self.build((None, *tuple(inputs.shape)[1:]))
        x = inputs
        for layer in self._stack:
            x = layer(x, training=training) if isinstance(layer, Layer) else layer(x)
        return x

    def get_config(self):
        return _saving("model_to_config")(self)["config"]


def _leaves(x):
    if isinstance(x, KerasTensor):
        return [x]
    if isinstance(x, list | tuple):
        return [t for v in x for t in _leaves(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _leaves(v)]
    return []
