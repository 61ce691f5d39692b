"""Compatibility path: symbolic tensors now live in :mod:`rnnkit.layers.symbolic` (at the layer
base, which ``Layer.__call__`` needs) and ``Input`` / ``InputLayer`` in
:mod:`rnnkit.layers.input_layer`.

>>> from rnnkit.models.symbolic import Input, KerasTensor
>>> isinstance(Input(shape=(3,)), KerasTensor)
True
"""

from rnnkit.layers.input_layer import Input, InputLayer
from rnnkit.layers.symbolic import KerasHistory, KerasTensor, Node, any_symbolic, symbolic_call

__all__ = ["Input", "InputLayer", "KerasHistory", "KerasTensor", "Node", "any_symbolic", "symbolic_call"]
