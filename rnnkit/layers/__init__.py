"""rnnkit layers: the ``Layer`` base, recurrent cells and layers, wrappers and plain layers."""

from rnnkit.layers.cells import (
    AbstractRNNCell,
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    StackedRNNCells,
)
from rnnkit.layers.cells.research import (
    LayerNormLSTMCell,
    LayerNormSimpleRNNCell,
    PeepholeLSTMCell,
)
from rnnkit.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Masking,
    ReLU,
    RepeatVector,
    Reshape,
)
from rnnkit.layers.input_layer import Input, InputLayer
from rnnkit.layers.layer import InputSpec, Layer
from rnnkit.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from rnnkit.layers.normalization import BatchNormalization, LayerNormalization
from rnnkit.layers.preprocessing import (
    IntegerLookup,
    Normalization,
    StringLookup,
    TextVectorization,
)
from rnnkit.layers.recurrent import GRU, LSTM, SimpleRNN
from rnnkit.layers.rnn import RNN
from rnnkit.layers.serialization import deserialize, serialize
from rnnkit.layers.wrappers import Bidirectional, TimeDistributed, Wrapper

__all__ = [
    "AbstractRNNCell",
    "Activation",
    "Add",
    "Average",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRU",
    "GRUCell",
    "Input",
    "InputLayer",
    "InputSpec",
    "IntegerLookup",
    "LSTM",
    "LSTMCell",
    "Layer",
    "LayerNormLSTMCell",
    "LayerNormSimpleRNNCell",
    "LayerNormalization",
    "Masking",
    "Maximum",
    "Minimum",
    "Multiply",
    "Normalization",
    "PeepholeLSTMCell",
    "RNN",
    "ReLU",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "StringLookup",
    "Subtract",
    "TextVectorization",
    "TimeDistributed",
    "Wrapper",
    "deserialize",
    "serialize",
]
