"""``text_dataset_from_directory``: a folder of ``.txt`` files (one subfolder per class) as batches."""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from rnnkit.utils.batched import BatchedData

__all__ = ["text_dataset_from_directory", "TextFileDataset"]


class TextFileDataset(BatchedData):
    """Batches of ``(texts, labels)`` read from files; see :func:`text_dataset_from_directory`.

    ``texts`` is a numpy array of Python ``str`` (dtype object), shape ``(batch,)``; ``labels`` a
    torch tensor (int32 ``(batch,)``, float32 ``(batch, 1)`` for binary, float32 ``(batch, C)``
    for categorical). ``class_names`` lists the classes in label order.
    """

    def __init__(self, paths, labels, label_mode, num_classes, batch_size, max_length, shuffle, seed, class_names):
        super().__init__()
        self.file_paths = list(paths)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.label_mode, self.num_classes = label_mode, num_classes
        self.batch_size, self.max_length = batch_size, max_length
        self.shuffle = shuffle
        self._rng = np.random.RandomState(seed) if shuffle else None
        self.class_names = class_names

    def __len__(self):
        n = len(self.file_paths)
        return n if self.batch_size is None else math.ceil(n / self.batch_size)

    def _read(self, path):
        with open(path, encoding="utf-8", errors="replace", newline="") as f:  # bytes as written, as TF
            text = f.read()
        return text if self.max_length is None else text[: self.max_length]

    def _labels(self, idx):
        lab = self.labels[idx]
        if self.label_mode == "binary":
            return torch.from_numpy(lab.astype(np.float32)).reshape(-1, 1)
        if self.label_mode == "categorical":
            return torch.nn.functional.one_hot(torch.from_numpy(lab), self.num_classes).float()
        return torch.from_numpy(lab.astype(np.int32))

    def _batches(self):
        order = np.arange(len(self.file_paths))
        if self.shuffle:
            order = self._rng.permutation(order)  # a new order on every pass
        size = self.batch_size or 1
        for i in range(0, len(order), size):
            idx = order[i : i + size]
            texts = np.empty(len(idx), dtype=object)
            texts[:] = [self._read(self.file_paths[j]) for j in idx]
            labels = None if self.label_mode is None else self._labels(idx)
            if self.batch_size is None:
                yield texts[0] if labels is None else (texts[0], labels[0])
            else:
                yield texts if labels is None else (texts, labels)


def _index(directory, labels, class_names, follow_links):
    """Relative file paths under ``directory`` and their class indices, in Keras's order."""
    if labels == "inferred":
        subdirs = sorted(
            d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
        )
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(
                    "The `class_names` passed did not match the names of the subdirectories of the target "
                    f"directory. Expected: {subdirs} (or a subset of it), but received: class_names={class_names}"
                )
            subdirs = list(class_names)
    else:
        subdirs = [""]
    paths, found = [], []
    for ci, sub in enumerate(subdirs):
        root_dir = os.path.join(directory, sub)
        for root, _, files in sorted(os.walk(root_dir, followlinks=follow_links), key=lambda w: w[0]):
            for name in sorted(files):
                if name.lower().endswith(".txt"):
                    paths.append(os.path.join(root, name))
                    found.append(ci)
    return paths, found, subdirs


def text_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    max_length=None,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    verbose=True,
):
    """Batches of texts (and labels) from a folder of ``.txt`` files (Keras's function of this name).

    With ``labels="inferred"`` every subfolder of ``directory`` is a class (alphanumeric order,
    or ``class_names``' order) and holds that class's files (nested folders included).

    Args:
        directory: the folder.
        labels: ``"inferred"``, ``None`` (texts only), or a list of int labels, one per file in
            sorted path order.
        label_mode: ``"int"`` (int32 ``(B,)``), ``"categorical"`` (float32 ``(B, C)``),
            ``"binary"`` (float32 ``(B, 1)``, exactly 2 classes) or ``None`` (texts only).
        class_names: explicit class order (subfolder names); only with ``labels="inferred"``.
        batch_size: texts per batch (default 32); ``None`` yields single texts.
        max_length: keep at most this many characters of each text.
        shuffle: shuffle the files (default True; a new order on every pass).
        seed: int seed of the shuffle and of the validation split.
        validation_split: fraction in ``(0, 1)`` kept for validation (needs ``subset``).
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns both datasets).
        follow_links: visit subfolders that are symbolic links.
        verbose: print how many files and classes were found.

    Returns:
        A :class:`TextFileDataset` (``(texts, labels)`` batches, texts a numpy array of ``str``),
        or ``[train, validation]`` for ``subset="both"``. ``fit`` / ``evaluate`` accept it; a
        ``TextVectorization`` first layer turns the texts into tensors.

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for c in ("neg", "pos"):
    ...     os.mkdir(os.path.join(root, c))
    ...     with open(os.path.join(root, c, "a.txt"), "w") as f:
    ...         _ = f.write(f"a {c} review")
    >>> ds = text_dataset_from_directory(root, batch_size=2, shuffle=False, verbose=False)
    >>> texts, labels = next(iter(ds))
    >>> list(texts), labels.tolist(), ds.class_names
    (['a neg review', 'a pos review'], [0, 1], ['neg', 'pos'])
    """
    if labels not in ("inferred", None):
        if not isinstance(labels, list | tuple):
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the same size as the number of "
                "text files in the target directory. If you wish to infer the labels from the subdirectory "
                'names in the target directory, pass `labels="inferred"`. If you wish to get a dataset that '
                f"only contains text samples (no labels), pass `labels=None`. Received: labels={labels}"
            )
        if class_names:
            raise ValueError(
                f'You can only pass `class_names` if `labels="inferred"`. Received: labels={labels}, and '
                f"class_names={class_names}"
            )
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError(
            '`label_mode` argument must be one of "int", "categorical", "binary", or None. '
            f"Received: label_mode={label_mode}"
        )
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "If using `validation_split` and shuffling the data, you must provide a `seed` argument, to make "
            "sure that there is no overlap between the training and validation subset."
        )
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0):
        raise ValueError(f"batch_size must be a positive int or None, received {batch_size!r}")
    if not os.path.isdir(directory):
        raise ValueError(f"text_dataset_from_directory: {directory!r} is not a directory")
    if seed is None:
        seed = int(np.random.randint(1_000_000))
    paths, found, subdirs = _index(directory, labels, class_names, follow_links)
    if labels == "inferred":
        labels_arr, names = np.asarray(found, dtype=np.int64), subdirs
    elif labels is None:
        labels_arr, names = None, None
    else:
        if len(labels) != len(paths):
            raise ValueError(
                "Expected the lengths of `labels` to match the number of files in the target directory. "
                f"len(labels) is {len(labels)} while we found {len(paths)} files in directory {directory}."
            )
        labels_arr = np.asarray(labels, dtype=np.int64)
        names = [str(v) for v in sorted(set(labels))]
    if verbose:
        if names is None:
            print(f"Found {len(paths)} files.")
        else:
            print(f"Found {len(paths)} files belonging to {len(names)} classes.")
    if shuffle:  # the file order (and the validation split) are fixed by the seed, as in Keras
        perm = np.random.RandomState(seed).permutation(len(paths))
        paths = [paths[i] for i in perm]
        if labels_arr is not None:
            labels_arr = labels_arr[perm]
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: class_names={names}')
    num_classes = len(names) if names else 0

    def part(which):
        p, lab = paths, labels_arr
        if validation_split:
            n_val = int(validation_split * len(p))
            if which == "training":
                p, lab = p[: len(p) - n_val], None if lab is None else lab[: len(lab) - n_val]
            else:
                p, lab = p[len(p) - n_val :], None if lab is None else lab[len(lab) - n_val :]
            if verbose:
                print(f"Using {len(p)} files for {which}.")
        return p, lab

    def make(which, shuffled):
        p, lab = part(which)
        if not p:
            kind = "" if which is None else f"{which} "
            raise ValueError(f"No {kind}text files found in directory {directory}. Allowed format: .txt")
        return TextFileDataset(p, lab, label_mode, num_classes, batch_size, max_length, shuffled, seed, names)

    if subset == "both":
        return [make("training", shuffle), make("validation", False)]
    if not paths:
        raise ValueError(f"No text files found in directory {directory}. Allowed format: .txt")
    return make(subset, shuffle)
