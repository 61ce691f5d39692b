"""Data preprocessing helpers, laid out as in Keras (``rnnkit.preprocessing.sequence``).

>>> from rnnkit.preprocessing import sequence
>>> sequence.pad_sequences([[5]], maxlen=3).tolist()
[[0, 0, 5]]
"""

from rnnkit.preprocessing import sequence
from rnnkit.preprocessing.sequence import pad_sequences

__all__ = ["pad_sequences", "sequence"]
