"""Sequence helpers: pad a batch of variable-length sequences into one array."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["pad_sequences"]

_SIDES = ("pre", "post")


def pad_sequences(
    sequences,
    maxlen=None,
    dtype="int32",
    padding="pre",
    truncating="pre",
    value=0.0,
):
    """Pad (or cut) a list of sequences to one length and stack them into a numpy array.

    Behaves like Keras's ``pad_sequences``: every sequence becomes exactly ``maxlen``
    steps long (default: the length of the longest one). Shorter sequences are filled
    with ``value`` before (``padding="pre"``) or after (``"post"``) their data; longer
    ones lose steps at the start (``truncating="pre"``) or at the end (``"post"``).
    Empty sequences give a row of ``value``. When the steps are themselves vectors
    (e.g. a list of ``(T_i, D)`` arrays) the result has shape ``(N, maxlen, D)``.

    Args:
        sequences: a list (or other sized iterable) of sequences; each is a list or
            array whose first axis is time.
        maxlen: int or ``None``; the output length. ``None`` means the longest sequence.
        dtype: numpy dtype of the output, e.g. ``"int32"`` or ``"float32"``.
        padding: ``"pre"`` or ``"post"``: where the fill values go.
        truncating: ``"pre"`` or ``"post"``: which end of a long sequence is cut.
        value: the fill value.

    Returns:
        A numpy array of shape ``(len(sequences), maxlen) + step_shape``.

    Unlike Keras, an empty list of sequences gives an empty ``(0, maxlen or 0)`` array
    instead of an error, and ``padding``/``truncating`` are checked even when no
    sequence needs them.

    >>> pad_sequences([[1, 2, 3], [4], []])
    array([[1, 2, 3],
           [0, 0, 4],
           [0, 0, 0]], dtype=int32)
    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2, padding="post", truncating="post")
    array([[1, 2],
           [4, 0]], dtype=int32)
    >>> pad_sequences([[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0]]], dtype="float32").shape
    (2, 2, 2)
    """
    if padding not in _SIDES:
        raise ValueError(f"padding must be 'pre' or 'post', received {padding!r}")
    if truncating not in _SIDES:
        raise ValueError(f"truncating must be 'pre' or 'post', received {truncating!r}")
    if maxlen is not None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral):
            raise ValueError(
                f"maxlen must be None or a non-negative int, received {maxlen!r} "
                f"(of type {type(maxlen).__name__})"
            )
        if maxlen < 0:
            raise ValueError(f"maxlen must be None or a non-negative int, received {maxlen}")
        maxlen = int(maxlen)
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(
            "sequences must be a list (or other sized iterable) of sequences, "
            f"received {type(sequences).__name__}"
        )
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise ValueError(f"dtype must be a numpy dtype such as 'int32', received {dtype!r}") from e
    if isinstance(value, str) and dtype.kind not in ("U", "S", "O"):
        raise ValueError(
            f"value is the string {value!r} but dtype is {dtype.name}; pass dtype=object or a "
            "string dtype to pad with strings"
        )

    lengths = []
    step_shape = None
    for i, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
            raise ValueError(
                "sequences must be a list of sequences (lists or arrays); the item at "
                f"position {i} is {type(seq).__name__}: {seq!r}"
            )
        lengths.append(len(seq))
        if step_shape is None and len(seq):
            step_shape = np.asarray(seq).shape[1:]
    if step_shape is None:
        step_shape = ()
    if maxlen is None:
        maxlen = max(lengths, default=0)

    out = np.full((len(lengths), maxlen) + tuple(step_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != step_shape:
            raise ValueError(
                f"every step must have shape {step_shape} (taken from the first non-empty "
                f"sequence), but the sequence at position {i} has steps of shape {kept.shape[1:]}"
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept) :] = kept
    return out
