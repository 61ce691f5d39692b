"""Data preprocessing helpers, laid out as in Keras (``rnnkit.preprocessing.sequence``).

>>> from rnnkit.preprocessing import sequence
>>> sequence.pad_sequences([[5]], maxlen=3).tolist()
[[0, 0, 5]]
"""

from rnnkit.preprocessing import sequence
from rnnkit.preprocessing.sequence import TimeseriesGenerator, pad_sequences
from rnnkit.utils.text_dataset import text_dataset_from_directory
from rnnkit.utils.timeseries import timeseries_dataset_from_array

__all__ = [
    "TimeseriesGenerator",
    "pad_sequences",
    "sequence",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
]
