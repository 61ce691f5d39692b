"""Recurrent cells: one time step each."""

from rnnkit.layers.cells.base import AbstractRNNCell, DropoutRNNCell
from rnnkit.layers.cells.gru import GRUCell
from rnnkit.layers.cells.lstm import LSTMCell
from rnnkit.layers.cells.simple import SimpleRNNCell
from rnnkit.layers.cells.stacked import StackedRNNCells

__all__ = [
    "AbstractRNNCell",
    "DropoutRNNCell",
    "GRUCell",
    "LSTMCell",
    "SimpleRNNCell",
    "StackedRNNCells",
]
