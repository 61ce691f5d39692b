"""Preprocessing layers that run without TensorFlow: text vectorization, lookups, normalization.

Text layers take Python strings, lists and numpy string / object arrays (torch has no string
tensors) and return torch tensors, so they can be a model's first layer.

>>> from rnnkit.layers.preprocessing import StringLookup
>>> StringLookup(vocabulary=["x", "y"])(["y"]).tolist()
[2]
"""

from rnnkit.layers.preprocessing.lookup import IntegerLookup, StringLookup
from rnnkit.layers.preprocessing.normalization import Normalization
from rnnkit.layers.preprocessing.text_vectorization import TextVectorization

__all__ = ["IntegerLookup", "Normalization", "StringLookup", "TextVectorization"]
