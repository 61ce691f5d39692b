"""``StringLookup`` and ``IntegerLookup``: map tokens to indices (or back), without TensorFlow."""

from __future__ import annotations

import os

import numpy as np
import torch

from rnnkit.layers.preprocessing._base import (
    PreprocessingLayer,
    iterate_adapt_batches,
    to_string_array,
)
from rnnkit.layers.preprocessing.index_lookup import (
    Vocabulary,
    _listify,
    encode_dense,
    output_shape,
)

__all__ = ["StringLookup", "IntegerLookup"]

_LAYER_KWARGS = ("name", "trainable")


def _mode_alias(mode):
    return {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(mode, mode)


def vocabulary_file_asset(layer, dir_path):
    """Keras's asset: the whole vocabulary (special tokens included), one token a line."""
    with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(str(w) for w in layer.get_vocabulary(include_special_tokens=True)))


class IndexLookup(PreprocessingLayer):
    """Shared base of :class:`StringLookup` and :class:`IntegerLookup` (see those)."""

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, **kwargs):
        owner = type(self).__name__
        output_mode = _mode_alias(output_mode)
        if sparse:
            raise ValueError("`sparse=True` can only be used with the TensorFlow backend.")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(
                "`idf_weights` should only be set if `output_mode` is `'tf_idf'`. Received: "
                f"idf_weights={idf_weights} and output_mode={output_mode}"
            )
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        frozen = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        unknown = set(kwargs) - set(_LAYER_KWARGS)
        if unknown:
            raise ValueError(f"Unrecognized keyword argument(s): {sorted(unknown)}")
        super().__init__(**kwargs)
        self._vocab = Vocabulary(owner, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype,
                                 invert, output_mode, pad_to_max_tokens, oov_method, salt)
        self._vocab.frozen_size = frozen
        self.sparse = False
        self.input_vocabulary = None if isinstance(vocabulary, str | os.PathLike) else _listify(vocabulary)
        self.input_idf_weights = _listify(idf_weights)
        self._has_input_vocabulary = bool(has_input_vocabulary)
        if output_mode == "tf_idf" and self._has_input_vocabulary and idf_weights is None and vocabulary is not None:
            raise ValueError(
                "When specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` argument "
                "must also be provided."
            )
        if vocabulary is not None:
            self._vocab.set_vocabulary(vocabulary, idf_weights)

    # Keras's attribute names
    invert = property(lambda self: self._vocab.invert)
    max_tokens = property(lambda self: self._vocab.max_tokens)
    num_oov_indices = property(lambda self: self._vocab.num_oov_indices)
    mask_token = property(lambda self: self._vocab.mask_token)
    oov_token = property(lambda self: self._vocab.oov_token)
    output_mode = property(lambda self: self._vocab.output_mode)
    pad_to_max_tokens = property(lambda self: self._vocab.pad_to_max_tokens)
    vocabulary_dtype = property(lambda self: self._vocab.dtype)

    # ------------------------------------------------------------------ vocabulary
    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary in index order (with the mask / OOV tokens unless ``include_special_tokens=False``)."""
        return self._vocab.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        """Number of indices: the tokens plus the mask and OOV indices."""
        return self._vocab.size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replace the vocabulary: a list / array of tokens or a text file path, one token a line.

        ``idf_weights`` (same length as ``vocabulary``) is required for ``output_mode="tf_idf"``.
        The mask and OOV tokens may lead the list, in their index order, or be left out.
        """
        self._vocab.set_vocabulary(vocabulary, idf_weights)

    @property
    def idf_weights(self):
        """The tf-idf weights per index (a float numpy array), or None."""
        return None if self._vocab.idf is None else self._vocab.idf.copy()

    # ------------------------------------------------------------------ adapt
    def _docs(self, x, single):
        arr = self._as_tokens(x)
        if single:
            if arr.ndim == 0:
                arr = arr.reshape(1, 1)
            elif arr.ndim == 1:
                arr = arr.reshape(-1, 1)  # every element its own document
        elif arr.ndim <= 1:
            arr = arr.reshape(1, -1)  # one batch-less sample: one document
        return [row.reshape(-1).tolist() for row in arr]

    def adapt(self, data, steps=None):
        """Build the vocabulary from ``data``: tokens by count, ties broken by the token, highest first.

        ``data``: a list / numpy array of tokens, or an iterable of batches (a generator, a
        ``BatchedData``, a ``PyDataset``; ``(x, y)`` batches contribute ``x``). ``steps`` caps
        the batches read. With ``max_tokens`` the most frequent tokens are kept.
        """
        if self._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer '{self.name}' after setting a static vocabulary via `vocabulary` argument "
                "or `set_vocabulary()` method."
            )
        self._vocab.reset_state()
        single, batches = iterate_adapt_batches(data, steps)
        for batch in batches:
            self._vocab.update_state(self._docs(batch, single))
        self._vocab.finalize_state()

    def update_state(self, data):
        self._vocab.update_state(self._docs(data, False))

    def finalize_state(self):
        self._vocab.finalize_state()

    def reset_state(self):
        self._vocab.reset_state()

    # ------------------------------------------------------------------ call
    def _as_tokens(self, x) -> np.ndarray:
        raise NotImplementedError

    def _as_indices(self, x) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        arr = np.asarray(x)
        if arr.dtype.kind not in ("i", "u"):
            raise TypeError(f"{self.name} with invert=True expects integer indices, received dtype {arr.dtype}")
        return arr.astype(np.int64)

    def call(self, inputs):
        if self._vocab.invert:
            return self._invert_output(self._vocab.invert_lookup(self._as_indices(inputs)))
        self._vocab.check_known_size()
        return encode_dense(self._vocab, self._vocab.lookup(self._as_tokens(inputs)))

    def compute_output_shape(self, input_shape):
        return output_shape(self._vocab, input_shape)

    def _output_dtype(self):
        return "int64" if self._vocab.output_mode == "int" else "float32"

    # ------------------------------------------------------------------ config / saving
    def get_config(self):
        v = self._vocab
        config = super().get_config()
        config.update({
            "invert": v.invert,
            "max_tokens": v.max_tokens,
            "num_oov_indices": v.num_oov_indices,
            "oov_token": v.oov_token,
            "mask_token": v.mask_token,
            "output_mode": v.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": v.pad_to_max_tokens,
            "vocabulary_dtype": v.dtype,
            "idf_weights": self.input_idf_weights,
            "vocabulary": self.input_vocabulary,
            "vocabulary_size": v.frozen_size,
            "oov_method": v.oov_method,
            "salt": v.salt,
        })
        return config

    @classmethod
    def from_config(cls, config):
        if isinstance(config.get("vocabulary"), str):
            raise ValueError(
                f"{cls.__name__}.from_config: a vocabulary file path in a config is refused (loading must not read "
                "files outside the model); pass the tokens as a list, or call set_vocabulary(path) yourself"
            )
        return cls(**config)

    def save_assets(self, dir_path):
        """Write ``vocabulary.txt`` (Keras's asset) unless the vocabulary is in the config."""
        if self.input_vocabulary is None:
            vocabulary_file_asset(self, dir_path)

    def load_assets(self, dir_path):
        """Read the vocabulary written by :meth:`save_assets` (idf weights from :meth:`load_own_variables`)."""
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, "vocabulary.txt")
        if not os.path.isfile(path):
            return
        values = self._vocab.read_file(path)
        idf = None
        if self._vocab.output_mode == "tf_idf":
            if self._vocab.idf is None:
                raise ValueError(f"{self.name}: the saved tf_idf layer has no idf_weights")
            idf = self._vocab.idf[: len(values)]
        if values:
            self._vocab.set_vocabulary(values, idf)

    def save_own_variables(self, store):
        """Keras's variables of a lookup: ``store["idf_weights"]`` in tf_idf mode."""
        if self._vocab.output_mode == "tf_idf" and self._vocab.idf is not None:
            store["idf_weights"] = np.asarray(self._vocab.idf)

    def load_own_variables(self, store):
        if self._vocab.output_mode == "tf_idf" and "idf_weights" in store:
            self._vocab.idf = np.asarray(store["idf_weights"], dtype=np.float32)


class StringLookup(IndexLookup):
    """Map strings to integer indices (or, with ``invert=True``, indices back to strings).

    Index layout: ``0`` is the mask (only when ``mask_token`` is set and ``output_mode="int"``),
    then ``num_oov_indices`` OOV indices (unknown strings are hashed among them, FarmHash as
    TensorFlow, or SipHash with ``salt``), then the vocabulary.

    Args:
        max_tokens: largest vocabulary size (including the mask / OOV indices); None = no limit.
        num_oov_indices: OOV indices (default 1; 0 makes unknown strings an error).
        mask_token: string mapped to index 0 (default None: no mask).
        oov_token: string returned for OOV indices by ``invert=True`` (default ``"[UNK]"``).
        vocabulary: list / array of strings, or a text file path (one token a line).
        idf_weights: tf-idf weights, one per vocabulary entry (``output_mode="tf_idf"``).
        invert: map indices to strings (returns nested Python lists of ``str``, as Keras on torch).
        output_mode: ``"int"`` (int64 ``(...)``), ``"one_hot"`` (``(..., depth)``), ``"multi_hot"``,
            ``"count"``, ``"tf_idf"`` (``(batch, depth)``, over the last axis); float outputs.
        pad_to_max_tokens: encodings have depth ``max_tokens`` instead of the vocabulary size.
        sparse: only False (sparse outputs need TensorFlow).
        encoding: of ``bytes`` inputs (default ``"utf-8"``).
        salt: int or two ints: SipHash key for OOV buckets.

    Input: a string, a (nested) list of strings or a numpy string / object array.

    >>> layer = StringLookup(vocabulary=["a", "b", "c"])
    >>> layer(["b", "c", "d"])
    tensor([2, 3, 0])
    >>> StringLookup(vocabulary=["a", "b", "c"], invert=True)([1, 2, 0])
    ['a', 'b', '[UNK]']
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        kwargs.pop("vocabulary_dtype", None)
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary_dtype="string", vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, salt=salt, name=name, **kwargs)

    def _as_tokens(self, x):
        return to_string_array(x, self.encoding, what=self.name)

    def _invert_output(self, tokens):
        return tokens.tolist()

    def _output_dtype(self):
        return "string" if self._vocab.invert else super()._output_dtype()

    def get_config(self):
        config = super().get_config()
        del config["vocabulary_dtype"]
        config["encoding"] = self.encoding
        return config


class IntegerLookup(IndexLookup):
    """Map integer tokens (e.g. raw ids) to contiguous indices (or back, with ``invert=True``).

    Index layout as :class:`StringLookup`; unknown integers go to OOV index
    ``floormod(value, num_oov_indices)`` (or FarmHash of their decimal string with
    ``oov_method="farmhash"``, as TensorFlow).

    Args:
        max_tokens, num_oov_indices, vocabulary, idf_weights, invert, output_mode, pad_to_max_tokens,
            sparse, salt: as :class:`StringLookup`.
        mask_token: integer mapped to index 0 (default None).
        oov_token: integer returned for OOV indices by ``invert=True`` (default -1).
        vocabulary_dtype: only ``"int64"``.
        oov_method: ``"floormod"`` (default) or ``"farmhash"``.

    Input: ints, (nested) lists, numpy arrays or torch tensors of integers; output a torch tensor.

    >>> layer = IntegerLookup(vocabulary=[12, 36, 1138, 42])
    >>> layer([12, 1138, 42, 7])
    tensor([1, 3, 4, 0])
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(
                f"If `max_tokens` is set for `IntegerLookup`, it must be greater than 1. Received: max_tokens={max_tokens}"
            )
        if num_oov_indices < 0:
            raise ValueError(
                "The value of `num_oov_indices` argument for `IntegerLookup` must >= 0. Received: "
                f"num_oov_indices={num_oov_indices}"
            )
        if vocabulary_dtype != "int64":
            raise ValueError(
                f"Only `vocabulary_dtype='int64'` is supported at this time. Received: vocabulary_dtype={vocabulary_dtype}"
            )
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary_dtype="int64", vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt, name=name,
                         **kwargs)

    def _as_tokens(self, x):
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        arr = np.asarray(x)
        if arr.dtype.kind not in ("i", "u", "b") and arr.size:
            raise TypeError(f"{self.name} expects integer tokens, received an array of dtype {arr.dtype}")
        return arr.astype(np.int64)

    def _invert_output(self, tokens):
        return torch.from_numpy(tokens.astype(np.int64))

    def get_config(self):
        config = super().get_config()
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
