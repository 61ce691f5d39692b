"""``TextVectorization``: strings -> token indices (or multi-hot / count / tf-idf vectors), no TensorFlow."""

from __future__ import annotations

import os
import re

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
    output_shape,
)
from rnnkit.layers.preprocessing.lookup import vocabulary_file_asset

__all__ = ["TextVectorization"]

# Keras's standardisation works on bytes as TensorFlow does: lower-casing touches only A-Z, and
# "punctuation" is exactly the 32 ASCII punctuation characters (Python's string.punctuation).
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_PUNCTUATION = str.maketrans("", "", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# TensorFlow's whitespace split: runs of ASCII whitespace (space, \t, \n, \v, \f, \r) only.
_ASCII_SPACE = re.compile("[ \t\n\v\f\r]+")
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")


def _serialize_fn(fn):
    from rnnkit.saving.object_registry import get_registered_name

    return {"module": getattr(fn, "__module__", None), "class_name": "function",
            "config": get_registered_name(fn), "registered_name": "function"}


def _deserialize_fn(value, what):
    if value is None or isinstance(value, str):
        return value
    from rnnkit.saving.object_registry import get_registered_object

    name = value.get("config") if isinstance(value, dict) else None
    fn = get_registered_object(name) if isinstance(name, str) else None
    if fn is None:
        raise ValueError(
            f"TextVectorization.from_config: unknown {what} function {name!r}; register it with "
            "@rnnkit.saving.register_keras_serializable() or pass it in custom_objects"
        )
    return fn


def _ngrams(tokens, widths):
    out = []
    for w in widths:
        out.extend(" ".join(tokens[i : i + w]) for i in range(len(tokens) - w + 1))
    return out


class TextVectorization(PreprocessingLayer):
    """Turn strings into token indices (or per-text vectors): standardize, split, n-grams, look up.

    The steps, as Keras: ``standardize`` (default: ASCII lower-casing and removal of ASCII
    punctuation), ``split`` (default: on runs of ASCII whitespace), ``ngrams``, then a vocabulary
    lookup with index 0 for padding (``""``) and 1 for out-of-vocabulary (``"[UNK]"``).

    Args:
        max_tokens: largest vocabulary (padding and OOV included); None = no limit.
        standardize: ``"lower_and_strip_punctuation"``, ``"lower"``, ``"strip_punctuation"``,
            None, or a callable taking a numpy ``str`` array (``dtype.kind == "U"``) and returning
            an array of the same shape.
        split: ``"whitespace"``, ``"character"``, None (each string is one token), or a callable
            taking a 1-D numpy ``str`` array and returning one list of tokens per string.
        ngrams: None, an int ``n`` (all widths 1..n) or a tuple of widths, joined by ``" "``.
        output_mode: ``"int"`` (int64 ``(batch, length)``, 0-padded to the longest text or to
            ``output_sequence_length``), ``"multi_hot"``, ``"count"``, ``"tf_idf"`` (float
            ``(batch, depth)``); ``"one_hot"`` as Keras's lookup.
        output_sequence_length: pad or cut ``int`` outputs to this many steps.
        pad_to_max_tokens: vector outputs have depth ``max_tokens``.
        vocabulary: list of tokens or a text file (one token a line).
        idf_weights: tf-idf weights for ``vocabulary``.
        sparse, ragged: only False (those outputs need TensorFlow).
        encoding: of ``bytes`` inputs (default ``"utf-8"``).

    Input: strings of shape ``(batch,)`` or ``(batch, 1)`` (Python lists or numpy arrays), or one
    string. It can be a model's first layer: ``Input(shape=(1,), dtype="string")`` then
    ``model.fit(np.array(["some text", ...]), y)``.

    >>> layer = TextVectorization(output_sequence_length=4)
    >>> layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'baz', 'bar', 'foo', 'boom', 'bada']
    >>> layer([["Foo, qux bar!"], ["qux baz"]])
    tensor([[4, 1, 3, 0],
            [1, 2, 0, 0]])
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace",
                 ngrams=None, output_mode="int", output_sequence_length=None, pad_to_max_tokens=False,
                 vocabulary=None, idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None,
                 **kwargs):
        if sparse:
            raise ValueError("`sparse=True` can only be used with the TensorFlow backend.")
        if ragged:
            raise ValueError("`ragged=True` can only be used with the TensorFlow backend.")
        if not (standardize is None or callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(
                f"The `standardize` argument of TextVectorization must be one of {_STANDARDIZE}, None or a "
                f"callable. Received: standardize={standardize!r}"
            )
        if not (split is None or callable(split) or split in _SPLIT):
            raise ValueError(
                f"The `split` argument of TextVectorization must be one of {_SPLIT}, None or a callable. "
                f"Received: split={split!r}"
            )
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool))
                or isinstance(ngrams, tuple) and all(isinstance(i, int) for i in ngrams)):
            raise ValueError(f"`ngrams` must be None, an integer, or a tuple of integers. Received: ngrams={ngrams}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(output_sequence_length, int)):
            raise ValueError(
                "`output_sequence_length` must be either None or an integer when `output_mode` is 'int'. "
                f"Received: output_sequence_length={output_sequence_length}"
            )
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(
                "`output_sequence_length` must not be set if `output_mode` is not 'int'. "
                f"Received output_sequence_length={output_sequence_length}."
            )
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(
                "`idf_weights` should only be set if `output_mode` is `'tf_idf'`. Received: "
                f"idf_weights={idf_weights} and output_mode={output_mode}"
            )
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        frozen = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        unknown = set(kwargs) - {"trainable"}
        if unknown:
            raise ValueError(f"Unrecognized keyword argument(s): {sorted(unknown)}")
        super().__init__(name=name, **kwargs)
        self._standardize, self._split = standardize, split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode, self._output_sequence_length = output_mode, output_sequence_length
        self._encoding = encoding
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._vocab = Vocabulary("TextVectorization", max_tokens, 1, "", "[UNK]", "string",
                                 output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens)
        self._vocab.frozen_size = frozen
        self.input_vocabulary = None if isinstance(vocabulary, str | os.PathLike) else _listify(vocabulary)
        self.input_idf_weights = _listify(idf_weights)
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError(
                "When specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` argument "
                "must also be provided."
            )
        if vocabulary is not None:
            self._vocab.set_vocabulary(vocabulary, idf_weights)

    # ------------------------------------------------------------------ text -> tokens
    def _standardized(self, arr: np.ndarray) -> np.ndarray:
        std = self._standardize
        if callable(std):
            result = np.asarray(std(arr.astype(str) if arr.size else np.empty(arr.shape, dtype="U1")))
            return to_string_array(result, self._encoding, what=f"{self.name}: the standardize callable's output")
        if std is None:
            return arr
        out = np.empty(arr.shape, dtype=object)
        flat = out.reshape(-1)
        for i, s in enumerate(arr.reshape(-1).tolist()):
            if std in ("lower", "lower_and_strip_punctuation"):
                s = s.translate(_ASCII_LOWER)
            if std in ("strip_punctuation", "lower_and_strip_punctuation"):
                s = s.translate(_PUNCTUATION)
            flat[i] = s
        return out

    def _documents(self, inputs):
        """``(token lists, scalar_input)``: one list of tokens (n-grams included) per text."""
        arr = self._standardized(to_string_array(inputs, self._encoding, what=self.name))
        scalar = arr.ndim == 0
        if scalar:
            arr = arr.reshape(1)
        if self._split is None:
            rows = arr.reshape(-1, 1) if arr.ndim == 1 else arr.reshape(-1, arr.shape[-1])
            docs = [list(r) for r in rows.tolist()]
        else:
            if arr.ndim > 1:
                if arr.shape[-1] != 1:
                    raise ValueError(
                        "When using `TextVectorization` to tokenize strings, the input rank must be 1 or the last "
                        f"shape dimension must be 1. Received: inputs.shape={arr.shape} with rank={arr.ndim}"
                    )
                arr = arr.reshape(arr.shape[:-1])
            if arr.ndim > 1:
                raise ValueError(f"TextVectorization expects texts of shape (batch,) or (batch, 1), received {arr.shape}")
            texts = arr.tolist()
            if self._split == "whitespace":
                docs = [[t for t in _ASCII_SPACE.split(s) if t] for s in texts]
            elif self._split == "character":
                docs = [list(s) for s in texts]
            else:
                result = self._split(np.array(texts, dtype=str) if texts else np.empty(0, dtype="U1"))
                docs = [[str(t) for t in (d.tolist() if isinstance(d, np.ndarray) else d)] for d in result]
                if len(docs) != len(texts):
                    raise ValueError(
                        f"{self.name}: the split callable returned {len(docs)} token lists for {len(texts)} texts"
                    )
        if self._ngrams is not None:
            docs = [_ngrams(d, self._ngrams) for d in docs]
        return docs, scalar

    # ------------------------------------------------------------------ adapt / vocabulary
    def adapt(self, data, batch_size=None, steps=None):
        """Build the vocabulary from texts: tokens by count, ties broken by the token, highest first.

        ``data``: a list / numpy array of strings, or an iterable of batches of strings (a
        generator, a ``BatchedData`` such as :func:`rnnkit.utils.text_dataset_from_directory`'s,
        whose ``(texts, labels)`` batches contribute the texts). ``steps`` caps the batches read.
        """
        if self._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer '{self.name}' after setting a static vocabulary via `vocabulary` argument "
                "or `set_vocabulary()` method."
            )
        self._vocab.reset_state()
        _, batches = iterate_adapt_batches(data, steps)
        for batch in batches:
            self.update_state(batch)
        self._vocab.finalize_state()

    def update_state(self, data):
        docs, _ = self._documents(data)
        self._vocab.update_state(docs)

    def finalize_state(self):
        self._vocab.finalize_state()

    def reset_state(self):
        self._vocab.reset_state()

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary in index order; ``""`` (padding) and ``"[UNK]"`` lead it unless excluded."""
        return self._vocab.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        """Number of indices, padding and OOV included."""
        return self._vocab.size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replace the vocabulary (a list / array of tokens, or a text file path; ``idf_weights`` for tf_idf)."""
        self._vocab.set_vocabulary(vocabulary, idf_weights)

    @property
    def idf_weights(self):
        """The tf-idf weights per index (a float numpy array), or None."""
        return None if self._vocab.idf is None else self._vocab.idf.copy()

    # ------------------------------------------------------------------ call
    def call(self, inputs):
        docs, scalar = self._documents(inputs)
        v = self._vocab
        if self._output_mode != "int":
            v.check_known_size()
            rows = [v.lookup(np.array(d, dtype=object)) for d in docs]
            if self._output_mode == "one_hot":  # (batch, longest text, depth); padding rows are zeros
                width = max((len(r) for r in rows), default=0)
                padded = np.full((len(rows), width), -1, dtype=np.int64)
                for i, r in enumerate(rows):
                    padded[i, : len(r)] = r
                out = v.one_hot(padded) if width != 1 else v.one_hot(padded[..., None])
                return out[0] if scalar else out
            out = v.encode(rows)
            return out[0] if scalar else out
        length = self._output_sequence_length
        width = max((len(d) for d in docs), default=0) if length is None else length
        out = np.zeros((len(docs), width), dtype=np.int64)
        for i, d in enumerate(docs):
            ids = v.lookup(np.array(d[:width], dtype=object))
            out[i, : len(ids)] = ids
        t = torch.from_numpy(out)
        return t[0] if scalar else t

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0] if input_shape else None, self._output_sequence_length)
        shape = tuple(input_shape)
        if self._split is None:
            if len(shape) <= 1:
                shape = shape + (1,)
        else:
            shape = shape + (None,)
        return output_shape(self._vocab, shape)

    def _output_dtype(self):
        return "int64" if self._output_mode == "int" else "float32"

    # ------------------------------------------------------------------ config / saving
    def get_config(self):
        config = super().get_config()
        config.update({
            "max_tokens": self._vocab.max_tokens,
            "standardize": _serialize_fn(self._standardize) if callable(self._standardize) else self._standardize,
            "split": _serialize_fn(self._split) if callable(self._split) else self._split,
            "ngrams": self._ngrams_arg,
            "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": self._vocab.pad_to_max_tokens,
            "sparse": False,
            "ragged": False,
            "vocabulary": self.input_vocabulary,
            "idf_weights": self.input_idf_weights,
            "encoding": self._encoding,
            "vocabulary_size": self.vocabulary_size(),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["standardize"] = _deserialize_fn(config.get("standardize"), "standardize")
        config["split"] = _deserialize_fn(config.get("split"), "split")
        if isinstance(config.get("vocabulary"), str):
            raise ValueError(
                "TextVectorization.from_config: a vocabulary file path in a config is refused (loading must not "
                "read files outside the model); pass the tokens as a list"
            )
        return cls(**config)

    def save_assets(self, dir_path):
        """Write ``vocabulary.txt`` (Keras's asset) unless the vocabulary is in the config."""
        if self.input_vocabulary is None:
            vocabulary_file_asset(self, dir_path)

    def load_assets(self, dir_path):
        """Read the vocabulary written by :meth:`save_assets`."""
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, "vocabulary.txt")
        if not os.path.isfile(path):
            return
        values = self._vocab.read_file(path)
        idf = None
        if self._output_mode == "tf_idf":
            if self._vocab.idf is None:
                raise ValueError(f"{self.name}: the saved tf_idf layer has no idf_weights")
            idf = self._vocab.idf[: len(values)]
        self._vocab.set_vocabulary(values, idf)

    def save_own_variables(self, store):
        """Keras's variables: ``store["idf_weights"]`` in tf_idf mode."""
        if self._output_mode == "tf_idf" and self._vocab.idf is not None:
            store["idf_weights"] = np.asarray(self._vocab.idf)

    def load_own_variables(self, store):
        if self._output_mode == "tf_idf" and "idf_weights" in store:
            self._vocab.idf = np.asarray(store["idf_weights"], dtype=np.float32)
