"""Keras-style home of the sequence helpers (``keras.preprocessing.sequence``).

>>> pad_sequences([[1, 2], [3]], padding="post").tolist()
[[1, 2], [3, 0]]
"""

from rnnkit.utils.sequence import pad_sequences
from rnnkit.utils.timeseries import TimeseriesGenerator

__all__ = ["TimeseriesGenerator", "pad_sequences"]
