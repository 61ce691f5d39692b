"""Ready-made data sets: ``mnist``, ``imdb`` (Keras's copies) and ``uea`` (UEA/UCR archive).

Downloads go to ``$RNNKIT_HOME/datasets`` (default ``~/.rnnkit/datasets``); a directory
named by ``$RNNKIT_DATASETS_DIR`` is searched first, for machines without a network.
``uea.load_data("JapaneseVowels")`` needs no download: it ships with rnnkit.

>>> from rnnkit.datasets import uea
>>> train, test = uea.load_data("JapaneseVowels")
>>> len(train.y), len(test.y)
(270, 370)
"""

from rnnkit.datasets import imdb, mnist, uea
from rnnkit.datasets._download import ChecksumError, DatasetUnavailableError

__all__ = ["ChecksumError", "DatasetUnavailableError", "imdb", "mnist", "uea"]
