"""IMDB movie-review sentiment: 25,000 training and 25,000 test reviews as word-index lists.

Words are indexed by how often they occur in the training set (1 = most frequent), so
"keep the 10,000 most frequent words" is a simple comparison. The data come from Keras's
canonical ``imdb.npz`` (downloaded once into ``$RNNKIT_HOME/datasets``, default
``~/.rnnkit/datasets``; offline, set ``RNNKIT_DATASETS_DIR`` or pass ``data_dir=``).

Security: ``imdb.npz`` stores its reviews as pickled Python lists. rnnkit never unpickles
an unknown file freely: the file's sha256 must match the published one (``verify=True``,
the default), and even then the arrays are first read with a restricted unpickler that
only rebuilds numpy arrays of plain Python values. With ``verify=False`` only the
restricted unpickler is used, so a tampered file cannot run code.
"""

from __future__ import annotations

import json
import numbers
import warnings

import numpy as np

from rnnkit.datasets._download import get_file, load_npz

__all__ = ["get_word_index", "load_data"]

_ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
ORIGIN = _ORIGIN_FOLDER + "imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_ORIGIN = _ORIGIN_FOLDER + "imdb_word_index.json"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # md5
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _check_int(name, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        expected = "an int or None" if allow_none else "an int"
        raise TypeError(f"{name} must be {expected}, received {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, received {value}")
    return int(value)


def _object_array(rows):
    """A 1-D object array whose items are the given lists (even when all have one length)."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out


def _remove_long(maxlen, seqs, labels):
    kept = [i for i, s in enumerate(seqs) if len(s) < maxlen]
    return [seqs[i] for i in kept], labels[kept]


def load_data(
    path="imdb.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
    *,
    data_dir=None,
    verify=True,
    **kwargs,
):
    """Load IMDB reviews as ``((x_train, y_train), (x_test, y_test))``, exactly as Keras does.

    Steps, in Keras's order: the training set is shuffled with
    ``np.random.RandomState(seed)``, then the test set with the *same* generator (Keras 3;
    very old Keras reseeded with ``seed * 2``); every word index is shifted up by
    ``index_from`` and ``start_char`` is put in front; reviews that are not *shorter* than
    ``maxlen`` (counting ``start_char``) are dropped; finally every index ``w`` outside
    ``skip_top <= w < num_words`` becomes ``oov_char`` (or is removed if ``oov_char`` is
    None). The bounds apply to the shifted indices, so ``start_char`` itself counts.
    When ``num_words`` is None (or 0) the bound is the largest index present, so, as in
    Keras, that single largest index is also replaced.

    Args:
        path: file name in the cache or ``data_dir`` (or an absolute path).
        num_words: keep words whose shifted index is below this; None keeps (almost) all.
        skip_top: indices below this become ``oov_char``.
        maxlen: drop reviews of ``maxlen`` or more indices; None (or 0) keeps all.
        seed: seed of the shuffle.
        start_char: index put at the start of every review; None for none.
        oov_char: index replacing cut-out words; None removes them instead.
        index_from: offset added to every word index.
        data_dir: optional directory searched before ``$RNNKIT_DATASETS_DIR`` and the cache.
        verify: check the file's sha256 (see the module notes on pickled data).
        **kwargs: only the old Keras spelling ``nb_words`` (for ``num_words``) is accepted.

    Returns:
        ``x_train``, ``x_test``: 1-D numpy object arrays of Python lists of ints;
        ``y_train``, ``y_test``: int arrays of labels (0 negative, 1 positive).

    A tiny stand-in file in the same format (so its checksum is not checked):

    >>> import os, tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> rows = np.empty(2, dtype=object); rows[0] = [1, 5, 2]; rows[1] = [4]
    >>> np.savez(os.path.join(d, "imdb.npz"), x_train=rows, y_train=np.array([1, 0]),
    ...          x_test=rows[:1], y_test=np.array([1]))
    >>> (x_train, y_train), (x_test, y_test) = load_data(data_dir=d, verify=False, seed=0)
    >>> x_test[0], y_test.tolist()  # [1, 5, 2] + 3; 8 is the largest index: see above
    ([1, 4, 2, 5], [1])
    >>> load_data(data_dir=d, verify=False, num_words=100)[1][0][0]
    [1, 4, 8, 5]
    """
    if "nb_words" in kwargs:
        warnings.warn(
            "nb_words is deprecated; use num_words", DeprecationWarning, stacklevel=2
        )
        num_words = kwargs.pop("nb_words")
    if kwargs:
        raise TypeError(f"load_data got unexpected keyword arguments: {sorted(kwargs)}")
    num_words = _check_int("num_words", num_words, 0, allow_none=True)
    skip_top = _check_int("skip_top", skip_top, 0)
    maxlen = _check_int("maxlen", maxlen, 0, allow_none=True)
    seed = _check_int("seed", seed, 0)
    start_char = _check_int("start_char", start_char, allow_none=True)
    oov_char = _check_int("oov_char", oov_char, allow_none=True)
    index_from = _check_int("index_from", index_from, 0)

    file = get_file(path, ORIGIN, file_hash=FILE_HASH, data_dir=data_dir, verify=verify)
    arrays = load_npz(file, _KEYS, trusted=verify)
    x_train, labels_train = _checked_split(file, arrays, "train")
    x_test, labels_test = _checked_split(file, arrays, "test")

    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]

    prefix = [] if start_char is None else [start_char]
    x_train = [prefix + [int(w) + index_from for w in x] for x in x_train]
    x_test = [prefix + [int(w) + index_from for w in x] for x in x_test]

    if maxlen:
        x_train, labels_train = _remove_long(maxlen, x_train, labels_train)
        x_test, labels_test = _remove_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(
                f"after dropping reviews of maxlen={maxlen} indices or more, no review was "
                f"kept (train: {len(x_train)}, test: {len(x_test)}); increase maxlen"
            )

    xs = x_train + x_test
    if not num_words:
        num_words = max((max(x) for x in xs if x), default=0)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]

    n = len(x_train)
    return (_object_array(xs[:n]), labels_train), (_object_array(xs[n:]), labels_test)


def _checked_split(file, arrays, split):
    x, y = arrays[f"x_{split}"], np.asarray(arrays[f"y_{split}"])
    if x.ndim != 1:
        raise ValueError(
            f"{file}: x_{split} must be a 1-D array of index lists, received shape {x.shape}"
        )
    if y.ndim != 1 or y.dtype.kind not in "iub" or len(y) != len(x):
        raise ValueError(
            f"{file}: y_{split} must be a 1-D int array with one label per review "
            f"({len(x)}), received shape {y.shape} and dtype {y.dtype}"
        )
    return x, y


def get_word_index(path="imdb_word_index.json", *, data_dir=None, verify=True):
    """Return Keras's IMDB word index: a dict mapping each word to its frequency rank (from 1).

    The ranks are the indices in the raw data; add ``index_from`` (3 by default) to
    match what :func:`load_data` returns, and use ``start_char``/``oov_char`` for 1 and 2.

    Args:
        path: file name in the cache or ``data_dir`` (or an absolute path).
        data_dir: optional directory searched before ``$RNNKIT_DATASETS_DIR`` and the cache.
        verify: check the file's md5 against the published one.

    >>> import json, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "imdb_word_index.json"), "w").write('{"the": 1, "and": 2}')
    >>> index = get_word_index(data_dir=d, verify=False)
    >>> {i + 3: w for w, i in index.items()}
    {4: 'the', 5: 'and'}
    """
    file = get_file(
        path, WORD_INDEX_ORIGIN, file_hash=WORD_INDEX_HASH, data_dir=data_dir, verify=verify
    )
    with open(file, encoding="utf-8") as f:
        try:
            index = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{file} is not valid JSON: {e}") from e
    if not isinstance(index, dict):
        raise ValueError(f"{file} must hold a JSON object (word -> index), found {type(index)}")
    return index
