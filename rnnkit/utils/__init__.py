"""Utilities: sequence padding and random seeding.

>>> from rnnkit.utils import pad_sequences
>>> pad_sequences([[1], [2, 3]]).tolist()
[[0, 1], [2, 3]]
"""

from rnnkit.utils.seeds import set_random_seed
from rnnkit.utils.sequence import pad_sequences

__all__ = ["pad_sequences", "set_random_seed"]
