"""pad_sequences (Keras semantics, hand-computed cases) and set_random_seed."""

import random

import numpy as np
import pytest
import torch

from rnnkit.preprocessing import sequence as preprocessing_sequence
from rnnkit.utils import pad_sequences, set_random_seed

SEQS = [[1, 2, 3, 4], [5, 6], [7]]


@pytest.mark.parametrize(
    "padding, truncating, expected",
    [
        ("pre", "pre", [[2, 3, 4], [0, 5, 6], [0, 0, 7]]),
        ("post", "pre", [[2, 3, 4], [5, 6, 0], [7, 0, 0]]),
        ("pre", "post", [[1, 2, 3], [0, 5, 6], [0, 0, 7]]),
        ("post", "post", [[1, 2, 3], [5, 6, 0], [7, 0, 0]]),
    ],
)
def test_padding_truncating_combinations(padding, truncating, expected):
    out = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.int32
    assert out.tolist() == expected


def test_defaults_pad_to_longest_pre():
    assert pad_sequences(SEQS).tolist() == [[1, 2, 3, 4], [0, 0, 5, 6], [0, 0, 0, 7]]


def test_value_and_longer_maxlen():
    out = pad_sequences(SEQS, maxlen=5, value=-1, padding="post")
    assert out.tolist() == [[1, 2, 3, 4, -1], [5, 6, -1, -1, -1], [7, -1, -1, -1, -1]]


def test_float_dtype_keeps_fractions_and_int_dtype_truncates_them():
    seqs = [[0.5, 1.5], [2.25]]
    out = pad_sequences(seqs, dtype="float32", value=0.5)
    assert out.dtype == np.float32
    assert out.tolist() == [[0.5, 1.5], [0.5, 2.25]]
    assert pad_sequences(seqs).tolist() == [[0, 1], [0, 2]]


def test_numpy_inputs_and_numpy_int_maxlen():
    seqs = [np.array([1, 2, 3]), np.array([4])]
    out = pad_sequences(seqs, maxlen=np.int64(2), truncating="post")
    assert out.tolist() == [[1, 2], [0, 4]]


def test_empty_sequences():
    assert pad_sequences([[], [1]]).tolist() == [[0], [1]]
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([[], []], maxlen=2, value=9).tolist() == [[9, 9], [9, 9]]
    empty = pad_sequences([])
    assert empty.shape == (0, 0) and empty.dtype == np.int32
    assert pad_sequences([], maxlen=3).shape == (0, 3)


def test_maxlen_zero():
    out = pad_sequences(SEQS, maxlen=0)
    assert out.shape == (3, 0)


def test_vector_steps_give_3d_output():
    seqs = [
        [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        [[7.0, 8.0]],
        [],
    ]
    out = pad_sequences(seqs, maxlen=2, dtype="float32", padding="post")
    assert out.shape == (3, 2, 2)
    assert out.tolist() == [
        [[3.0, 4.0], [5.0, 6.0]],
        [[7.0, 8.0], [0.0, 0.0]],
        [[0.0, 0.0], [0.0, 0.0]],
    ]
    pre = pad_sequences(seqs, dtype="float32", truncating="post")
    assert pre.shape == (3, 3, 2)
    assert pre[1].tolist() == [[0.0, 0.0], [0.0, 0.0], [7.0, 8.0]]


def test_preprocessing_alias_is_the_same_function():
    assert preprocessing_sequence.pad_sequences is pad_sequences


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"padding": "middle"}, "padding must be 'pre' or 'post', received 'middle'"),
        ({"truncating": "both"}, "truncating must be 'pre' or 'post', received 'both'"),
        ({"maxlen": -1}, "non-negative"),
        ({"maxlen": 2.5}, "received 2.5"),
        ({"maxlen": True}, "received True"),
        ({"value": "x"}, "string 'x'"),
        ({"dtype": "not-a-dtype"}, "dtype"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences(SEQS, **kwargs)


def test_invalid_padding_is_reported_even_for_empty_sequences():
    with pytest.raises(ValueError, match="padding"):
        pad_sequences([[]], padding="left")


def test_non_sequence_inputs():
    with pytest.raises(ValueError, match="received int"):
        pad_sequences(5)
    with pytest.raises(ValueError, match="position 1 is int"):
        pad_sequences([[1], 2])


def test_inconsistent_step_shapes():
    with pytest.raises(ValueError, match="position 1"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])


def _draw():
    return (
        random.random(),
        np.random.rand(3).tolist(),
        torch.rand(3).tolist(),
        torch.randn(2, 2).tolist(),
    )


def test_set_random_seed_repeats():
    set_random_seed(42)
    first = _draw()
    set_random_seed(42)
    assert _draw() == first
    set_random_seed(43)
    assert _draw() != first


def test_set_random_seed_repeats_torch_modules():
    set_random_seed(7)
    a = torch.nn.Linear(4, 3).weight.detach().clone()
    set_random_seed(7)
    b = torch.nn.Linear(4, 3).weight.detach().clone()
    assert torch.equal(a, b)


@pytest.mark.parametrize("seed", [1.5, "1", None, True, -1, 2**32])
def test_set_random_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="set_random_seed expected"):
        set_random_seed(seed)
