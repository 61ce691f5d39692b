"""MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28 pixels.

The data come from Keras's canonical copy, ``mnist.npz``, downloaded once into the cache
(``$RNNKIT_HOME/datasets``, default ``~/.rnnkit/datasets``) and checked against its
published sha256. Offline, put ``mnist.npz`` in a directory and point the environment
variable ``RNNKIT_DATASETS_DIR`` (or ``data_dir=``) at it.
"""

from __future__ import annotations

import zipfile

import numpy as np

from rnnkit.datasets._download import get_file

__all__ = ["load_data"]

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path: str = "mnist.npz", *, data_dir=None, verify: bool = True):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``.

    Args:
        path: file name of the data in the cache or ``data_dir`` (or an absolute path).
        data_dir: optional directory holding ``path``, searched before
            ``$RNNKIT_DATASETS_DIR`` and the cache.
        verify: check the sha256 of a file already on disk (a download is always checked).

    Returns:
        ``x_train``: uint8 array ``(60000, 28, 28)``, grey levels 0-255; ``y_train``: uint8
        array ``(60000,)`` of digits 0-9; ``x_test`` ``(10000, 28, 28)``, ``y_test``
        ``(10000,)`` likewise.

    Raises:
        DatasetUnavailableError: no local copy and no network.
        ChecksumError: the file found or downloaded is not the published one.

    Usually just ``(x_train, y_train), (x_test, y_test) = load_data()``. With a local file
    in the same format (here a tiny stand-in, so its checksum is not checked):

    >>> import os, tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> img = np.zeros((2, 28, 28), np.uint8)
    >>> np.savez(os.path.join(d, "mnist.npz"), x_train=img, y_train=np.array([3, 1], np.uint8),
    ...          x_test=img[:1], y_test=np.array([7], np.uint8))
    >>> (x_train, y_train), (x_test, y_test) = load_data(data_dir=d, verify=False)
    >>> x_train.shape, y_test.tolist()
    ((2, 28, 28), [7])
    """
    file = get_file(path, ORIGIN, file_hash=FILE_HASH, data_dir=data_dir, verify=verify)
    try:
        with np.load(file, allow_pickle=False) as f:
            missing = [k for k in _KEYS if k not in f.files]
            if missing:
                raise ValueError(
                    f"{file} must hold the arrays {list(_KEYS)}; missing {missing}, "
                    f"found {sorted(f.files)}"
                )
            x_train, y_train, x_test, y_test = (f[k] for k in _KEYS)
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{file} is not a readable .npz file: {e}") from e
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(x) != len(y):
            raise ValueError(
                f"{file}: x_{split} has {len(x)} images but y_{split} has {len(y)} labels"
            )
    return (x_train, y_train), (x_test, y_test)
