"""The vocabulary engine behind ``StringLookup``, ``IntegerLookup`` and ``TextVectorization``.

A vocabulary maps tokens to indices: first the mask index (``0``, only with a ``mask_token`` and
``output_mode="int"``), then ``num_oov_indices`` out-of-vocabulary indices, then the tokens in
order. ``adapt`` counts tokens and keeps the most frequent ones, ties broken by the token itself,
highest first (Keras's order). Encodings: ``int`` (indices), ``one_hot`` (per element),
``multi_hot`` / ``count`` / ``tf_idf`` (per sample, over the last axis).
"""

from __future__ import annotations

import collections
import os

import numpy as np
import torch

from rnnkit import config as _config
from rnnkit.layers.preprocessing._hashing import fingerprint64, siphash24

__all__ = ["Vocabulary", "OUTPUT_MODES"]

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _listify(x):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return list(x) if isinstance(x, tuple) else x


class Vocabulary:
    """Vocabulary state and lookups (a plain object; the layers hold one)."""

    def __init__(self, owner, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype,
                 invert=False, output_mode="int", pad_to_max_tokens=False, oov_method="floormod", salt=None):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"If pad_to_max_tokens is True, must set `max_tokens`. Received: max_tokens={max_tokens}")
        if not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError(
                f"`num_oov_indices` must be greater than or equal to 0. Received: num_oov_indices={num_oov_indices}"
            )
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(
                f"The `oov_method` argument of {owner} must be one of 'floormod', 'farmhash'. "
                f"Received: oov_method={oov_method!r}"
            )
        if salt is not None:
            if vocabulary_dtype != "string" and oov_method != "farmhash":
                raise ValueError(f"`salt` can only be used when `oov_method='farmhash'`. Received: oov_method={oov_method}")
            if isinstance(salt, tuple | list) and len(salt) == 2:
                salt = [int(s) for s in salt]
            elif isinstance(salt, int) and not isinstance(salt, bool):
                salt = [salt, salt]
            else:
                raise ValueError(
                    f"The `salt` argument of {owner} can only be a tuple of 2 integers, or a single integer. "
                    f"Received: salt={salt}."
                )
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"The `output_mode` argument of {owner} must be one of {', '.join(map(repr, OUTPUT_MODES))}. "
                f"Received: output_mode={output_mode!r}"
            )
        if invert and output_mode != "int":
            raise ValueError(f"`output_mode` must be `'int'` when `invert` is true. Received: output_mode={output_mode}")
        self.owner = owner
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.dtype = vocabulary_dtype  # "string" or "int64"
        self.invert, self.output_mode = invert, output_mode
        self.pad_to_max_tokens, self.oov_method, self.salt = pad_to_max_tokens, oov_method, salt
        self.tokens: list = []
        self.index: dict = {}
        self.idf = None  # np.float32 (vocabulary_size or max_tokens,) for tf_idf
        self.frozen_size = None
        self.reset_state()

    # ------------------------------------------------------------------ indices
    @property
    def oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    @property
    def token_start(self) -> int:
        return self.oov_start + self.num_oov_indices

    def size(self) -> int:
        return self.token_start + len(self.tokens)

    def _key(self, token):
        return str(token) if self.dtype == "string" else int(token)

    def get_vocabulary(self, include_special_tokens=True) -> list:
        vocab = [self.oov_token] * self.token_start + list(self.tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self.token_start :]

    def _set_tokens(self, tokens):
        self.tokens = list(tokens)
        self.index = {t: self.token_start + i for i, t in enumerate(self.tokens)}
        self._record_size()

    def _record_size(self):
        if self.output_mode != "int" and not self.pad_to_max_tokens:
            new = self.size()
            if self.frozen_size is not None and self.frozen_size != new and self._called:
                raise RuntimeError(
                    f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, the vocabulary size "
                    f"cannot be changed after the layer is called. Old vocab size is {self.frozen_size}, new vocab "
                    f"size is {new}"
                )
        self.frozen_size = self.size()

    # ------------------------------------------------------------------ set / read vocabulary
    def read_file(self, path) -> list:
        if not os.path.isfile(path):
            raise ValueError(f"Vocabulary file {path} does not exist.")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        try:
            return [self._key(line) for line in lines]
        except ValueError as e:
            raise ValueError(f"Vocabulary file {path}: every line must be an integer token ({e})") from None

    def set_vocabulary(self, vocabulary, idf_weights=None):
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError(
                f"`idf_weights` should only be set if output_mode is `'tf_idf'`. Received: "
                f"output_mode={self.output_mode} and idf_weights={idf_weights}"
            )
        if isinstance(vocabulary, str | os.PathLike):
            if self.output_mode == "tf_idf":
                raise ValueError("output_mode `'tf_idf'` does not support loading a vocabulary from file.")
            self._set_tokens(self.read_file(os.fspath(vocabulary)))
            return
        vocabulary = _listify(vocabulary)
        if not isinstance(vocabulary, list):
            raise TypeError(f"vocabulary must be a list, array or file path, received {type(vocabulary).__name__}")
        try:
            vocabulary = [self._key(t) for t in vocabulary]
        except (TypeError, ValueError) as e:
            raise ValueError(f"{self.owner}: vocabulary entries must be {self.dtype} tokens ({e})") from None
        if not vocabulary:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        special = [self.mask_token] * self.oov_start + [self.oov_token] * self.num_oov_indices
        found_special = vocabulary[: self.token_start] == [
            None if s is None else self._key(s) for s in special
        ]
        tokens = vocabulary[self.token_start :] if found_special else vocabulary
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(
                "The passed vocabulary has at least one repeated term. Please uniquify your dataset. "
                f"The repeated terms are: {repeated}"
            )
        if self.mask_token is not None and self._key(self.mask_token) in tokens:
            raise ValueError(
                "Found reserved mask token at unexpected location in `vocabulary`. Note that passed `vocabulary` "
                "does not need to include the OOV and mask tokens. Either remove all mask and OOV tokens, or "
                f"include them only at the start of the vocabulary in precisely this order: {special}. Received: "
                f"mask_token={self.mask_token} at vocabulary index {tokens.index(self._key(self.mask_token))}"
            )
        if self.oov_token is not None and self.invert and self._key(self.oov_token) in tokens:
            raise ValueError(
                "Found reserved OOV token at unexpected location in `vocabulary`. Note that passed `vocabulary` "
                "does not need to include the OOV and mask tokens. Either remove all mask and OOV tokens, or "
                f"include them only at the start of the vocabulary in precisely this order: {special}. Received: "
                f"oov_token={self.oov_token} at vocabulary index {tokens.index(self._key(self.oov_token))}"
            )
        if self.max_tokens is not None and self.token_start + len(tokens) > self.max_tokens:
            raise ValueError(
                "Attempted to set a vocabulary larger than the maximum vocab size. Received vocabulary size is "
                f"{self.token_start + len(tokens)}; `max_tokens` is {self.max_tokens}."
            )
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            idf = np.asarray(_listify(idf_weights), dtype=np.float64)
            if idf.ndim != 1:
                raise ValueError(f"TF-IDF data must be a 1-index array. Received: idf_weights of shape {idf.shape}")
            if len(idf) != len(vocabulary):
                raise ValueError(
                    f"`idf_weights` must be the same length as vocabulary. len(idf_weights) is {len(idf)}; "
                    f"len(vocabulary) is {len(vocabulary)}"
                )
            front, front_value = (0, 0.0) if found_special else (self.token_start, float(np.average(idf)))
            back = self.max_tokens - front - len(idf) if self.pad_to_max_tokens and self.max_tokens else 0
            self.idf = np.pad(idf, (front, back), constant_values=(front_value, 0.0)).astype(_config.floatx())

    # ------------------------------------------------------------------ adapt
    def reset_state(self):
        self.counts = collections.Counter()
        self.doc_counts = collections.Counter()
        self.num_documents = 0
        self._called = getattr(self, "_called", False)

    def update_state(self, docs):
        """Count the tokens of ``docs``, a list of documents (each a list of tokens)."""
        for doc in docs:
            doc = [self._key(t) for t in doc]
            self.counts.update(doc)
            if self.output_mode == "tf_idf":
                self.doc_counts.update(set(doc))
        self.num_documents += len(docs)

    def finalize_state(self):
        counts = self.counts
        if not counts:
            self._record_size()
            return
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(self._key(special), None)
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens:
            ranked = ranked[: self.max_tokens - self.token_start]
        tokens = [t for t, _ in ranked]
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            df = np.array([self.doc_counts[t] for t in tokens], dtype=np.float64)
            idf = np.log(1.0 + self.num_documents / (1.0 + df))
            idf = np.pad(idf, (self.token_start, 0), constant_values=float(np.mean(idf)) if len(idf) else 0.0)
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.pad(idf, (0, self.max_tokens - len(idf)))
            self.idf = idf.astype(_config.floatx())
        self.reset_state()

    # ------------------------------------------------------------------ lookups
    def _hash_bucket(self, token) -> int:
        data = str(token).encode("utf-8")
        if self.salt is not None:
            return siphash24(tuple(self.salt), data) % self.num_oov_indices
        return fingerprint64(data) % self.num_oov_indices

    def _oov_index(self, token) -> int:
        if self.num_oov_indices == 1:
            return self.oov_start
        if self.dtype != "string" and self.oov_method != "farmhash":
            return self.oov_start + int(token) % self.num_oov_indices  # Python's % is floormod
        return self.oov_start + self._hash_bucket(token)

    def lookup(self, tokens: np.ndarray) -> np.ndarray:
        """Token array -> int64 index array of the same shape (mask -> 0, or -1 to drop)."""
        self._called = True
        mask_value = 0 if self.output_mode == "int" else -1
        mask = None if self.mask_token is None else self._key(self.mask_token)
        out = np.empty(tokens.shape, dtype=np.int64)
        flat, missing = out.reshape(-1), []
        index = self.index
        for i, t in enumerate(tokens.reshape(-1).tolist()):
            t = self._key(t)
            if mask is not None and t == mask:
                flat[i] = mask_value
                continue
            j = index.get(t)
            if j is None:
                if self.num_oov_indices == 0:
                    missing.append(t)
                    continue
                j = self._oov_index(t)
            flat[i] = j
        if missing:
            raise ValueError(
                f"When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values {missing[:10]}, "
                "consider setting `num_oov_indices=1`."
            )
        return out

    def invert_lookup(self, indices: np.ndarray) -> np.ndarray:
        """Index array -> token array (object dtype): mask for 0, the OOV token for unknown indices."""
        self._called = True
        out = np.empty(indices.shape, dtype=object)
        flat, start, n = out.reshape(-1), self.token_start, len(self.tokens)
        for i, j in enumerate(indices.reshape(-1).tolist()):
            j = int(j)
            if self.mask_token is not None and j == 0:
                flat[i] = self.mask_token
            elif start <= j < start + n:
                flat[i] = self.tokens[j - start]
            else:
                flat[i] = self.oov_token
        return out

    def depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self.frozen_size

    def check_known_size(self):
        if self.output_mode == "int" or self.pad_to_max_tokens:
            return
        if self.frozen_size is None:
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, you must set the "
                "layer's vocabulary before calling it. Either pass a `vocabulary` argument to the layer, or call "
                "`adapt` with some sample data."
            )

    def encode(self, rows) -> torch.Tensor:
        """Per-sample encoding of index rows (a 2-D array, or a list of 1-D arrays) -> (B, depth)."""
        depth = self.depth()
        dtype = _config.torch_dtype(_config.floatx())
        out = np.zeros((len(rows), depth), dtype=np.float64)
        for r, row in enumerate(rows):
            row = np.asarray(row, dtype=np.int64).reshape(-1)
            row = row[(row >= 0) & (row < depth)]
            if self.output_mode == "multi_hot":
                out[r, row] = 1.0
            else:
                np.add.at(out[r], row, 1.0)
        if self.output_mode == "tf_idf":
            out = out * self.idf_vector(depth)
        return torch.from_numpy(out).to(dtype)

    def idf_vector(self, depth):
        if self.idf is None:
            raise ValueError("When `output_mode` is `'tf_idf'`, `idf_weights` must be provided.")
        idf = np.zeros(depth, dtype=np.float64)
        k = min(depth, len(self.idf))
        idf[:k] = self.idf[:k]
        return idf

    def one_hot(self, indices: np.ndarray) -> torch.Tensor:
        depth = self.depth()
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices.reshape(indices.shape[:-1])
        flat = indices.reshape(-1)
        out = np.zeros((flat.size, depth), dtype=np.float64)
        ok = (flat >= 0) & (flat < depth)
        out[np.nonzero(ok)[0], flat[ok]] = 1.0
        return torch.from_numpy(out.reshape(indices.shape + (depth,))).to(_config.torch_dtype(_config.floatx()))


def encode_dense(vocab: Vocabulary, indices: np.ndarray) -> torch.Tensor:
    """Keras's dense encoding of an index array of any rank for ``vocab.output_mode``."""
    mode = vocab.output_mode
    if mode == "int":
        return torch.from_numpy(indices)
    if mode == "one_hot":
        return vocab.one_hot(indices if indices.ndim else indices.reshape(1))
    if indices.ndim == 0:
        indices = indices.reshape(1)
    if indices.ndim > 2:
        raise ValueError(
            f"When output_mode is not `'int'`, maximum supported output rank is 2. Received output_mode {mode} "
            f"and input shape {indices.shape}, which would result in output rank {indices.ndim}."
        )
    if indices.ndim == 1:
        return vocab.encode([indices])[0]
    return vocab.encode(list(indices))


def output_shape(vocab: Vocabulary, input_shape):
    """``compute_output_shape`` of a lookup (Keras's rules)."""
    if vocab.output_mode == "int":
        return tuple(input_shape)
    depth = vocab.max_tokens if vocab.pad_to_max_tokens else vocab.frozen_size
    shape = tuple(input_shape)
    if vocab.output_mode == "one_hot":
        if len(shape) > 1 and shape[-1] == 1:
            return shape[:-1] + (depth,)
        return shape + (depth,)
    return shape[:-1] + (depth,)

