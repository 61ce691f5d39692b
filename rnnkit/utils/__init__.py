"""Utilities: sequence padding, random seeding and Keras's data helpers.

>>> from rnnkit.utils import pad_sequences
>>> pad_sequences([[1], [2, 3]]).tolist()
[[0, 1], [2, 3]]
"""

from rnnkit.utils.batched import BatchedData
from rnnkit.utils.numerical import normalize, to_categorical
from rnnkit.utils.py_dataset import PyDataset, Sequence
from rnnkit.utils.seeds import set_random_seed
from rnnkit.utils.sequence import pad_sequences
from rnnkit.utils.split import split_dataset
from rnnkit.utils.text_dataset import text_dataset_from_directory
from rnnkit.utils.timeseries import TimeseriesGenerator, timeseries_dataset_from_array

__all__ = [
    "BatchedData",
    "PyDataset",
    "Sequence",
    "TimeseriesGenerator",
    "normalize",
    "pad_sequences",
    "set_random_seed",
    "split_dataset",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
    "to_categorical",
]
