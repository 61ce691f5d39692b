"""rnnkit layers: the ``Layer`` base, recurrent cells and layers, wrappers and plain layers."""

from rnnkit.layers.cells import (
    AbstractRNNCell,
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    StackedRNNCells,
)
from rnnkit.layers.layer import InputSpec, Layer
from rnnkit.layers.recurrent import GRU, LSTM, SimpleRNN
from rnnkit.layers.rnn import RNN
from rnnkit.layers.serialization import deserialize, serialize
from rnnkit.layers.wrappers import Bidirectional, TimeDistributed

try:  # plain layers (being written in parallel)
    from rnnkit.layers.core import (  # noqa: F401
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
    from rnnkit.layers.merging import (  # noqa: F401
        Add,
        Average,
        Concatenate,
        Maximum,
        Minimum,
        Multiply,
        Subtract,
    )
    from rnnkit.layers.normalization import BatchNormalization, LayerNormalization  # noqa: F401
except ImportError:  # pragma: no cover
    pass

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
    "InputSpec",
    "LSTM",
    "LSTMCell",
    "Layer",
    "LayerNormalization",
    "Masking",
    "Maximum",
    "Minimum",
    "Multiply",
    "RNN",
    "ReLU",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "Subtract",
    "TimeDistributed",
    "deserialize",
    "serialize",
]
