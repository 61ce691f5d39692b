"""rnnkit's data utilities against real Keras's numpy-only parts and against their documented rules."""

import math
import os

import numpy as np
import pytest
import torch

import rnnkit as keras
from rnnkit import layers
from rnnkit.utils import (
    PyDataset,
    TimeseriesGenerator,
    normalize,
    split_dataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
    to_categorical,
)
from rnnkit.utils.split import _sizes

kdu = pytest.importorskip("keras.src.utils.dataset_utils")
knu = pytest.importorskip("keras.src.utils.numerical_utils")


# ---------------------------------------------------------------- timeseries_dataset_from_array
def _reference_windows(n, seq_len, stride, rate, start, end, with_targets):
    """The documented rule, step by step: window k starts at start + k * stride."""
    end = n if end is None else end
    out = []
    s = start
    while s + (seq_len - 1) * rate < end and (not with_targets or s - start < n - start):
        out.append((list(range(s, s + seq_len * rate, rate)), s))
        s += stride
    return out


@pytest.mark.parametrize("seq_len, stride, rate, start, end", [
    (9, 1, 1, None, None), (5, 3, 2, None, None), (4, 2, 3, 10, 90), (10, 7, 1, 5, None), (3, 1, 1, None, 40),
])
def test_timeseries_windows_follow_the_rule(seq_len, stride, rate, start, end):
    data = np.arange(100) * 10
    targets = np.arange(100) * 2
    ds = timeseries_dataset_from_array(data, targets, seq_len, sequence_stride=stride, sampling_rate=rate,
                                       batch_size=7, start_index=start, end_index=end)
    got = [(x.tolist(), int(y)) for xb, yb in ds for x, y in zip(xb, yb)]
    ref = _reference_windows(100, seq_len, stride, rate, start or 0, end, True)
    assert got == [([data[i] for i in idx], targets[s]) for idx, s in ref]
    assert len(ds) == math.ceil(len(ref) / 7)


def test_timeseries_targets_are_counted_from_start_index():
    # Keras: targets[i] (of the slice starting at start_index) belongs to the window starting at i.
    data = np.arange(30)
    ds = timeseries_dataset_from_array(data, data * 100, sequence_length=3, start_index=5, batch_size=None)
    first_x, first_y = next(iter(ds))
    assert first_x.tolist() == [5, 6, 7] and int(first_y) == 500


def test_timeseries_shuffle_same_windows_new_order_each_pass_seeded():
    data = np.arange(60)
    ds = timeseries_dataset_from_array(data, None, 4, batch_size=8, shuffle=True, seed=7)
    a = torch.cat(list(ds)).tolist()
    b = torch.cat(list(ds)).tolist()
    assert sorted(a) == sorted(b) == [list(range(i, i + 4)) for i in range(57)]
    assert a != b  # reshuffled on the second pass
    again = timeseries_dataset_from_array(data, None, 4, batch_size=8, shuffle=True, seed=7)
    assert torch.cat(list(again)).tolist() == a


def test_timeseries_take_and_numpy_iterator():
    ds = timeseries_dataset_from_array(np.arange(20.0), np.arange(20.0), 5, batch_size=4)
    assert len(ds.take(2)) == 2 and len(list(ds.take(2))) == 2 and len(list(ds.take(-1))) == len(ds)
    for inputs, targets in ds.take(1):  # the tf.data idiom of the tutorials
        assert tuple(inputs.shape) == (4, 5) and tuple(targets.shape) == (4,)
    x, y = next(ds.as_numpy_iterator())
    assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    with pytest.raises(ValueError, match="take"):
        ds.take(1.5)


def test_timeseries_dataset_in_fit_evaluate_predict_and_dataloader():
    keras.utils.set_random_seed(0)
    series = np.sin(np.arange(300) / 8.0).astype("float32")[:, None]
    train = timeseries_dataset_from_array(series[:-10], series[10:], sequence_length=10, batch_size=32)
    model = keras.Sequential([layers.Input(shape=(10, 1)), layers.LSTM(8), layers.Dense(1)])
    model.compile("adam", "mse")
    hist = model.fit(train, epochs=3, validation_data=train, verbose=0).history
    assert hist["loss"][-1] < hist["loss"][0] and "val_loss" in hist
    assert np.isfinite(model.evaluate(train, verbose=0))
    inputs_only = timeseries_dataset_from_array(series, None, sequence_length=10, batch_size=64)
    assert model.predict(inputs_only, verbose=0).shape == (291, 1)
    loader = torch.utils.data.DataLoader(train, batch_size=None)
    assert sum(len(x) for x, _ in loader) == 281


def test_timeseries_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sequence_length"):
        timeseries_dataset_from_array(np.arange(10), None, 0)
    with pytest.raises(ValueError, match="batch_size"):
        timeseries_dataset_from_array(np.arange(10), None, 2, batch_size=0)
    with pytest.raises(ValueError, match="sequence_stride"):
        timeseries_dataset_from_array(np.arange(10), None, 2, sequence_stride=2.5)


# ---------------------------------------------------------------- TimeseriesGenerator (Keras 2)
def test_timeseries_generator_keras2_windows():
    data = np.array([[i] for i in range(50)])
    targets = np.array([[i] for i in range(50)])
    gen = TimeseriesGenerator(data, targets, length=10, sampling_rate=2, batch_size=2)
    assert len(gen) == 20
    np.testing.assert_array_equal(gen[0][0], [[[0], [2], [4], [6], [8]], [[1], [3], [5], [7], [9]]])
    np.testing.assert_array_equal(gen[0][1], [[10], [11]])
    np.testing.assert_array_equal(gen[1][0], [[[2], [4], [6], [8], [10]], [[3], [5], [7], [9], [11]]])
    np.testing.assert_array_equal(gen[1][1], [[12], [13]])
    rev = TimeseriesGenerator(data, targets, length=10, sampling_rate=2, reverse=True, batch_size=2)
    np.testing.assert_array_equal(rev[0][0][0], [[8], [6], [4], [2], [0]])
    part = TimeseriesGenerator(data, targets, length=10, sampling_rate=2, start_index=10, end_index=30, batch_size=2)
    assert len(part) == 6  # rows 20..30
    np.testing.assert_array_equal(part[0][0][:, :, 0], [[10, 12, 14, 16, 18], [11, 13, 15, 17, 19]])
    np.testing.assert_array_equal(part[5][1], [[30]])
    strided = TimeseriesGenerator(data, targets, length=10, stride=3, batch_size=2)
    np.testing.assert_array_equal(strided[0][1], [[10], [13]])
    assert len(strided) == (49 - 10 + 6) // 6
    shuffled = TimeseriesGenerator(data, targets, length=10, shuffle=True, batch_size=4)
    x, y = shuffled[0]
    np.testing.assert_array_equal(x[:, -1, 0] + 1, y[:, 0])  # each target follows its window


def test_timeseries_generator_errors_and_fit():
    with pytest.raises(ValueError, match="same length"):
        TimeseriesGenerator(np.arange(10), np.arange(9), length=2)
    with pytest.raises(ValueError, match="start_index\\+length"):
        TimeseriesGenerator(np.arange(10), np.arange(10), length=20)
    gen = TimeseriesGenerator(np.random.rand(40, 2).astype("float32"), np.random.rand(40, 1).astype("float32"),
                              length=5, batch_size=8)
    model = keras.Sequential([layers.Input(shape=(5, 2)), layers.GRU(4), layers.Dense(1)])
    model.compile("sgd", "mse")
    assert len(model.fit(gen, epochs=2, verbose=0).history["loss"]) == 2
    assert model.predict(gen, verbose=0).shape == (35, 1)
    assert gen.get_config()["length"] == 5


# ---------------------------------------------------------------- PyDataset / Sequence in fit
class Counting(PyDataset):
    def __init__(self, n_batches=4, **kwargs):
        super().__init__(**kwargs)
        self.n, self.epoch_ends, self.epoch_begins, self.seen = n_batches, 0, 0, []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.seen.append(i)
        x = np.full((3, 2), float(i), dtype="float32")
        return x, x.sum(1, keepdims=True)

    def on_epoch_begin(self):
        self.epoch_begins += 1

    def on_epoch_end(self):
        self.epoch_ends += 1


def test_pydataset_epoch_hooks_and_shuffle_in_fit():
    model = keras.Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    ds = Counting()
    model.fit(ds, epochs=3, shuffle=False, verbose=0)
    assert (ds.epoch_begins, ds.epoch_ends) == (3, 3)
    assert ds.seen == [0, 1, 2, 3] * 3
    ds = Counting(n_batches=12)
    keras.utils.set_random_seed(3)
    model.fit(ds, epochs=2, verbose=0)  # fit's default shuffle=True shuffles the batch order
    first, second = ds.seen[:12], ds.seen[12:]
    assert sorted(first) == sorted(second) == list(range(12)) and (first != list(range(12)) or second != first)
    ds = Counting()
    model.evaluate(ds, verbose=0)
    model.predict(ds, verbose=0)
    assert ds.epoch_ends == 2 and ds.seen == [0, 1, 2, 3] * 2  # no shuffling outside fit


def test_keras2_style_sequence_without_base_class_and_endless_dataset():
    class Keras2Sequence:  # old tutorials subclass keras.utils.Sequence; duck typing is enough
        def __init__(self):
            self.ends = 0

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.ones((4, 3), "float32") * i, np.ones((4, 1), "float32")

        def on_epoch_end(self):
            self.ends += 1

    class Endless(PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, i):
            return np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")

    model = keras.Sequential([layers.Input(shape=(3,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    seq = Keras2Sequence()
    model.fit(seq, epochs=2, verbose=0)
    assert seq.ends == 2
    hist = model.fit(Endless(), epochs=2, steps_per_epoch=5, verbose=0).history
    assert len(hist["loss"]) == 2
    with pytest.raises(ValueError, match="y must not be given"):
        model.fit(seq, np.zeros(2), verbose=0)


def test_pydataset_class_weight_in_fit_matches_sample_weight():
    x = np.random.rand(8, 2).astype("float32")
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1], "float32")[:, None]

    class DS(PyDataset):
        def __init__(self, with_weights):
            super().__init__()
            self.w = with_weights

        def __len__(self):
            return 2

        def __getitem__(self, i):
            s = slice(4 * i, 4 * i + 4)
            return (x[s], y[s], np.where(y[s][:, 0] > 0, 3.0, 1.0).astype("float32")) if self.w else (x[s], y[s])

    losses = []
    for ds, cw in ((DS(False), {0: 1.0, 1: 3.0}), (DS(True), None)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([layers.Input(shape=(2,)), layers.Dense(1, activation="sigmoid")])
        model.compile("sgd", "binary_crossentropy")
        losses.append(model.fit(ds, epochs=2, shuffle=False, class_weight=cw, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


# ---------------------------------------------------------------- to_categorical / normalize / split
@pytest.mark.parametrize("labels", [[0, 2, 1], [[1], [3], [0]], np.array([[0, 1], [2, 2]]), [4]])
def test_to_categorical_equals_keras(labels):
    np.testing.assert_array_equal(to_categorical(labels), knu.to_categorical(np.array(labels)))
    np.testing.assert_array_equal(to_categorical(labels, 6), knu.to_categorical(np.array(labels), 6))
    assert to_categorical(labels).dtype == knu.to_categorical(np.array(labels)).dtype


def test_to_categorical_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        to_categorical([0, 1], num_classes=0)
    assert to_categorical([1, 0], num_classes=2, dtype="float32").dtype == np.float32


@pytest.mark.parametrize("order, axis", [(1, -1), (2, -1), (2, 1), (3, 1)])
def test_normalize_equals_keras_numpy_path(order, axis):
    x = np.random.RandomState(0).randn(4, 5)
    x[1] = 0.0
    np.testing.assert_allclose(normalize(x, axis=axis, order=order), knu.normalize(x, axis=axis, order=order))


def test_normalize_axis_0_and_tensors():
    # Keras 3.15's numpy path turns axis=0 into -1 (``axis or -1``) and fails to broadcast; the
    # intended result is the column norms.
    x = np.random.RandomState(1).randn(4, 5)
    np.testing.assert_allclose(normalize(x, axis=0), x / np.linalg.norm(x, axis=0, keepdims=True))
    t = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(t).numpy(), [[0.6, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize("left, right", [
    (0.2, 0.8), (0.3, None), (None, 0.25), (10, None), (None, 7), (10, 20), (0.5, 0.5), (0.0, 0.3),
    (0.7, 0.4), (100, None), (0, 0), (-1, None), (1.5, None), ("a", None), (60, 60),
])
def test_split_sizes_equal_keras(left, right):
    total = 100
    try:
        expected = kdu._rescale_dataset_split_sizes(left, right, total)
    except (ValueError, TypeError) as e:
        with pytest.raises(type(e)):
            _sizes(left, right, total)
        return
    assert _sizes(left, right, total) == expected


def test_split_dataset_order_and_seeded_shuffle():
    x, y = np.arange(20.0), np.arange(20) * 2
    left, right = split_dataset((x, y), left_size=5)
    assert [int(s[0]) for s in left] == list(range(5)) and [int(s[0]) for s in right] == list(range(5, 20))
    a = split_dataset((x, y), left_size=0.5, shuffle=True, seed=1)
    b = split_dataset((x, y), left_size=0.5, shuffle=True, seed=1)
    assert [int(s[0]) for s in a[0]] == [int(s[0]) for s in b[0]] != list(range(10))
    assert all(int(s[1]) == 2 * int(s[0]) for s in a[1])
    with pytest.raises(TypeError, match="dataset"):
        split_dataset("abc", left_size=0.5)
    with pytest.raises(ValueError, match="At least one of the `left_size` or `right_size`"):
        split_dataset((x, y))  # Keras's split_dataset checks this before sizing
    with pytest.raises(ValueError, match="preferred_backend"):
        split_dataset((x, y), left_size=0.5, preferred_backend="tensorflow")


# ---------------------------------------------------------------- text_dataset_from_directory
def _make_text_tree(root, per_class=(7, 5, 4)):
    for c, n in zip(("b_class", "a_class", "c_class"), per_class):
        os.makedirs(os.path.join(root, c, "nested"))
        for i in range(n):
            sub = "nested" if i % 3 == 0 else ""
            with open(os.path.join(root, c, sub, f"doc_{i}.txt"), "w") as f:
                f.write(f"{c} {i}")
        with open(os.path.join(root, c, "ignored.md"), "w") as f:
            f.write("not a text file")


@pytest.mark.parametrize("shuffle, subset", [(False, None), (True, None), (True, "training"), (True, "validation")])
def test_text_dataset_files_labels_and_split_equal_keras(tmp_path, shuffle, subset):
    root = str(tmp_path)
    _make_text_tree(root)
    split = 0.25 if subset else None
    paths, labels, names = kdu.index_directory(root, "inferred", formats=(".txt",), shuffle=shuffle, seed=1337,
                                               verbose=False)
    paths, labels = kdu.get_training_or_validation_split(paths, labels, split, subset)
    ds = text_dataset_from_directory(root, batch_size=4, shuffle=shuffle, seed=1337, validation_split=split,
                                     subset=subset, verbose=False)
    assert ds.class_names == names == ["a_class", "b_class", "c_class"]
    assert [os.path.normpath(p) for p in ds.file_paths] == [os.path.normpath(p) for p in paths]
    assert ds.labels.tolist() == list(labels)
    if not shuffle:
        texts, got = [], []
        for t, lab in ds:
            texts += list(t)
            got += lab.tolist()
        expected = [open(p).read() for p in paths]
        assert texts == expected and got == list(labels)


def test_text_dataset_reshuffles_each_pass_and_trains(tmp_path):
    root = str(tmp_path)
    _make_text_tree(root)
    ds = text_dataset_from_directory(root, batch_size=5, seed=3, label_mode="categorical", verbose=False)
    first = [t for b, _ in ds for t in b]
    second = [t for b, _ in ds for t in b]
    assert sorted(first) == sorted(second) and first != second
    vec = layers.TextVectorization(output_sequence_length=3)
    vec.adapt(ds)  # (texts, labels) batches: the texts are read
    vocab = vec.get_vocabulary()  # "_" is punctuation: "a_class" -> "aclass"
    assert {"aclass", "bclass", "cclass", "0", "6"} <= set(vocab) and "a_class" not in vocab
    model = keras.Sequential([layers.Input(shape=(1,), dtype="string"), vec, layers.Embedding(20, 4),
                              layers.LSTM(3), layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    assert np.isfinite(model.fit(ds, epochs=1, verbose=0).history["loss"][0])
    assert model.predict(ds, verbose=0).shape == (16, 3)
