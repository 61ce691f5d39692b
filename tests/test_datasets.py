"""Data-set loaders on small files in the canonical formats; the network is never used.

The real ``mnist.npz``/``imdb.npz`` cannot be reproduced here, so the tests that need a
file to pass the checksum set the expected hash to that of the small file they wrote
(``monkeypatch`` on the module constant); the real constants are also checked to refuse
those files.
"""

import gzip
import hashlib
import io
import os
import pickle
import urllib.error
import urllib.request
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets import ChecksumError, DatasetUnavailableError, imdb, mnist, uea
from rnnkit.datasets import _download as download

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, a private cache, and no offline directory unless a test sets one."""
    calls = []

    def no_network(request, *args, **kwargs):
        calls.append(getattr(request, "full_url", request))
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RNNKIT_DATASETS_DIR", raising=False)
    return calls


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager with headers."""

    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def serve(monkeypatch, data, urls=None):
    def fake_urlopen(request, *args, **kwargs):
        if urls is not None:
            urls.append(request.full_url)
        return FakeResponse(data)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def object_array(rows):
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out


# ---------------------------------------------------------------------------------------------
# MNIST


def write_mnist(path):
    rng = np.random.RandomState(0)
    x_train = rng.randint(0, 256, size=(5, 28, 28)).astype(np.uint8)
    x_test = rng.randint(0, 256, size=(3, 28, 28)).astype(np.uint8)
    y_train = np.array([5, 0, 4, 1, 9], np.uint8)
    y_test = np.array([7, 2, 1], np.uint8)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return (x_train, y_train), (x_test, y_test)


def test_mnist_loads_from_data_dir(monkeypatch, tmp_path):
    (x_train, y_train), (x_test, y_test) = write_mnist(tmp_path / "mnist.npz")
    monkeypatch.setattr(mnist, "FILE_HASH", sha256(tmp_path / "mnist.npz"))
    (a, b), (c, d) = mnist.load_data(data_dir=tmp_path)
    assert a.shape == (5, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, x_train)
    np.testing.assert_array_equal(b, y_train)
    np.testing.assert_array_equal(c, x_test)
    np.testing.assert_array_equal(d, y_test)


def test_mnist_loads_from_env_dir(monkeypatch, tmp_path):
    write_mnist(tmp_path / "mnist.npz")
    monkeypatch.setattr(mnist, "FILE_HASH", sha256(tmp_path / "mnist.npz"))
    monkeypatch.setenv("RNNKIT_DATASETS_DIR", str(tmp_path))
    (x_train, _), _ = mnist.load_data()
    assert x_train.shape == (5, 28, 28)


def test_mnist_canonical_hash_refuses_other_file(tmp_path):
    write_mnist(tmp_path / "mnist.npz")
    with pytest.raises(ChecksumError) as err:
        mnist.load_data(data_dir=tmp_path)
    msg = str(err.value)
    assert mnist.FILE_HASH in msg and sha256(tmp_path / "mnist.npz") in msg
    assert "expected" in msg and "received" in msg


def test_mnist_missing_key_and_object_arrays_refused(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="missing"):
        mnist.load_data(data_dir=tmp_path, verify=False)
    objs = object_array([[1], [2]])
    np.savez(tmp_path / "mnist.npz", x_train=objs, y_train=objs, x_test=objs, y_test=objs)
    with pytest.raises(ValueError, match="allow_pickle"):
        mnist.load_data(data_dir=tmp_path, verify=False)


def test_mnist_offline_error_names_url_places_and_env_var(offline, tmp_path):
    with pytest.raises(DatasetUnavailableError) as err:
        mnist.load_data(data_dir=tmp_path / "nowhere")
    msg = str(err.value)
    assert mnist.ORIGIN in msg
    assert "RNNKIT_DATASETS_DIR" in msg
    assert str(tmp_path / "nowhere") in msg
    assert str(tmp_path / "home" / "datasets") in msg
    assert offline == [mnist.ORIGIN]  # it tried, and only the canonical URL
    assert isinstance(err.value, OSError)
    leftovers = list((tmp_path / "home" / "datasets").iterdir())
    assert leftovers == []  # no partial file


def test_mnist_download_verifies_and_caches(monkeypatch, tmp_path):
    write_mnist(tmp_path / "src.npz")
    data = (tmp_path / "src.npz").read_bytes()
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(data).hexdigest())
    urls = []
    serve(monkeypatch, data, urls)
    (x_train, _), _ = mnist.load_data()
    assert urls == [mnist.ORIGIN]
    cached = tmp_path / "home" / "datasets" / "mnist.npz"
    assert cached.read_bytes() == data
    assert sorted(p.name for p in cached.parent.iterdir()) == ["mnist.npz"]
    # second call: served from the cache, no download
    mnist.load_data()
    assert urls == [mnist.ORIGIN]


def test_download_checksum_mismatch_leaves_nothing(monkeypatch, tmp_path):
    serve(monkeypatch, b"not the real file")
    with pytest.raises(ChecksumError) as err:
        mnist.load_data()
    msg = str(err.value)
    assert mnist.FILE_HASH in msg
    assert hashlib.sha256(b"not the real file").hexdigest() in msg
    cache = tmp_path / "home" / "datasets"
    assert list(cache.iterdir()) == []


def test_stale_cached_copy_is_downloaded_again(monkeypatch, tmp_path):
    write_mnist(tmp_path / "src.npz")
    data = (tmp_path / "src.npz").read_bytes()
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(data).hexdigest())
    cache = tmp_path / "home" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"truncated")
    with pytest.raises(DatasetUnavailableError, match="wrong sha256 checksum"):
        mnist.load_data()  # network is off: the error says why the cached copy was not used
    serve(monkeypatch, data)
    mnist.load_data()
    assert (cache / "mnist.npz").read_bytes() == data


def test_get_file_hash_algorithms(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    md5 = hashlib.md5(b"abc").hexdigest()
    assert download.get_file("f", "https://x.invalid/f", md5, data_dir=tmp_path)
    assert download.get_file("f", "https://x.invalid/f", md5, "md5", data_dir=tmp_path)
    with pytest.raises(ValueError, match="hash_algorithm"):
        download.get_file("f", "https://x.invalid/f", md5, "sha1", data_dir=tmp_path)
    with pytest.raises(ValueError, match="12 characters"):
        download.get_file("f", "https://x.invalid/f", "abcdef123456", data_dir=tmp_path)


# ---------------------------------------------------------------------------------------------
# IMDB

# label -> raw review (unique labels so that every output row can be identified)
TRAIN = {10: [1, 2, 3], 11: [4, 5], 12: [6], 13: [7, 8, 9, 10]}
TEST = {20: [2, 2], 21: [11], 22: [3, 4, 5]}


@pytest.fixture
def imdb_dir(monkeypatch, tmp_path):
    d = tmp_path / "imdb"
    d.mkdir()
    np.savez(
        d / "imdb.npz",
        x_train=object_array(list(TRAIN.values())),
        y_train=np.array(list(TRAIN), np.int64),
        x_test=object_array(list(TEST.values())),
        y_test=np.array(list(TEST), np.int64),
    )
    monkeypatch.setattr(imdb, "FILE_HASH", sha256(d / "imdb.npz"))
    return d


def by_label(split):
    x, y = split
    assert isinstance(x, np.ndarray) and x.dtype == object and x.ndim == 1
    assert y.dtype.kind == "i" and len(x) == len(y)
    assert all(isinstance(row, list) for row in x)
    return {int(label): row for row, label in zip(x, y)}


def test_imdb_default_semantics(imdb_dir):
    train, test = imdb.load_data(data_dir=imdb_dir)
    # start_char 1 in front, indices + 3; the largest index (14) becomes oov 2, as in Keras
    assert by_label(train) == {
        10: [1, 4, 5, 6],
        11: [1, 7, 8],
        12: [1, 9],
        13: [1, 10, 11, 12, 13],
    }
    assert by_label(test) == {20: [1, 5, 5], 21: [1, 2], 22: [1, 6, 7, 8]}


def test_imdb_shuffle_order_follows_keras(imdb_dir):
    (_, y_train), (_, y_test) = imdb.load_data(data_dir=imdb_dir, seed=113)
    rng = np.random.RandomState(113)  # one generator: train first, then test
    train_order = np.arange(4)
    rng.shuffle(train_order)
    test_order = np.arange(3)
    rng.shuffle(test_order)
    assert y_train.tolist() == np.array(list(TRAIN))[train_order].tolist()
    assert y_test.tolist() == np.array(list(TEST))[test_order].tolist()
    orders = {tuple(imdb.load_data(data_dir=imdb_dir, seed=s)[0][1]) for s in range(6)}
    assert len(orders) > 1


def test_imdb_num_words_and_skip_top(imdb_dir):
    train, test = imdb.load_data(data_dir=imdb_dir, num_words=8, skip_top=5)
    assert by_label(train) == {10: [2, 2, 5, 6], 11: [2, 7, 2], 12: [2, 2], 13: [2] * 5}
    assert by_label(test) == {20: [2, 5, 5], 21: [2, 2], 22: [2, 6, 7, 2]}


def test_imdb_oov_none_drops_words(imdb_dir):
    train, test = imdb.load_data(data_dir=imdb_dir, num_words=8, skip_top=5, oov_char=None)
    assert by_label(train) == {10: [5, 6], 11: [7], 12: [], 13: []}
    assert by_label(test) == {20: [5, 5], 21: [], 22: [6, 7]}


def test_imdb_maxlen_keeps_strictly_shorter(imdb_dir):
    train, test = imdb.load_data(data_dir=imdb_dir, maxlen=4)
    assert by_label(train) == {11: [1, 7, 8], 12: [1, 9]}
    assert by_label(test) == {20: [1, 5, 5], 21: [1, 2]}
    with pytest.raises(ValueError, match="maxlen=2"):
        imdb.load_data(data_dir=imdb_dir, maxlen=2)


def test_imdb_start_char_index_from_oov(imdb_dir):
    train, test = imdb.load_data(
        data_dir=imdb_dir, start_char=7, index_from=1, oov_char=0, num_words=6
    )
    assert by_label(train) == {10: [0, 2, 3, 4], 11: [0, 5, 0], 12: [0, 0], 13: [0] * 5}
    assert by_label(test) == {20: [0, 3, 3], 21: [0, 0], 22: [0, 4, 5, 0]}
    train, _ = imdb.load_data(data_dir=imdb_dir, start_char=None, index_from=0, num_words=100)
    assert by_label(train) == TRAIN


def test_imdb_equal_length_rows_stay_lists(monkeypatch, tmp_path):
    rows = np.empty(2, dtype=object)
    rows[0], rows[1] = [1, 2], [3, 4]
    np.savez(tmp_path / "imdb.npz", x_train=rows, y_train=np.array([0, 1]),
             x_test=rows, y_test=np.array([1, 0]))
    (x_train, _), _ = imdb.load_data(data_dir=tmp_path, verify=False, num_words=100)
    assert x_train.shape == (2,) and x_train.dtype == object


def test_imdb_arguments(imdb_dir):
    with pytest.raises(TypeError, match="unexpected keyword arguments: \\['bogus'\\]"):
        imdb.load_data(data_dir=imdb_dir, bogus=1)
    with pytest.raises(TypeError, match="num_words must be an int or None"):
        imdb.load_data(data_dir=imdb_dir, num_words="10")
    with pytest.warns(DeprecationWarning, match="nb_words"):
        train, _ = imdb.load_data(data_dir=imdb_dir, nb_words=8, skip_top=5)
    assert by_label(train)[10] == [2, 2, 5, 6]


def test_imdb_canonical_hash_refuses_other_file(monkeypatch, imdb_dir):
    monkeypatch.undo()  # back to the real published hash
    with pytest.raises(ChecksumError) as err:
        imdb.load_data(data_dir=imdb_dir)
    assert imdb.FILE_HASH in str(err.value)
    assert sha256(imdb_dir / "imdb.npz") in str(err.value)


def write_hostile_imdb(path):
    """An imdb-shaped file whose object array holds something beyond plain lists."""
    rows = object_array([[1, 2], Fraction(1, 3)])
    np.savez(path, x_train=rows, y_train=np.array([0, 1]), x_test=rows, y_test=np.array([0, 1]))


def test_unverified_files_are_only_restrictedly_unpickled(tmp_path):
    write_hostile_imdb(tmp_path / "imdb.npz")
    with pytest.raises(ValueError, match="refus.*fractions.Fraction"):
        imdb.load_data(data_dir=tmp_path, verify=False)
    # a verified (trusted) file may fall back to numpy's own unpickler
    arrays = download.load_npz(tmp_path / "imdb.npz", ["x_train"], trusted=True)
    assert arrays["x_train"][1] == Fraction(1, 3)


def test_restricted_unpickler_refuses_code(tmp_path):
    payload = pickle.dumps(os.system, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system|nt.system"):
        download._RestrictedUnpickler(io.BytesIO(payload)).load()


def test_imdb_offline_error(offline):
    with pytest.raises(DatasetUnavailableError) as err:
        imdb.load_data()
    assert imdb.ORIGIN in str(err.value) and "RNNKIT_DATASETS_DIR" in str(err.value)
    assert offline == [imdb.ORIGIN]


def test_imdb_download_path(monkeypatch, imdb_dir, tmp_path):
    serve(monkeypatch, (imdb_dir / "imdb.npz").read_bytes())
    train, _ = imdb.load_data()
    assert len(train[0]) == 4
    assert (tmp_path / "home" / "datasets" / "imdb.npz").is_file()


def test_get_word_index_offline_and_md5():
    assert download.hash_file(DATA / "imdb_word_index.json", "md5") == imdb.WORD_INDEX_HASH
    index = imdb.get_word_index(data_dir=DATA)  # verified against the published md5
    assert len(index) == 88584
    assert index["the"] == 1 and index["and"] == 2
    assert sorted(index.values()) == list(range(1, 88585))


def test_get_word_index_refuses_other_file(tmp_path):
    (tmp_path / "imdb_word_index.json").write_text('{"the": 1}')
    with pytest.raises(ChecksumError, match=imdb.WORD_INDEX_HASH):
        imdb.get_word_index(data_dir=tmp_path)
    assert imdb.get_word_index(data_dir=tmp_path, verify=False) == {"the": 1}


# ---------------------------------------------------------------------------------------------
# UEA / UCR .ts files

EQUAL_TS = """\
# a comment line
@problemName Equal
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 3
@classLabel true b a
@data
1.0,2.0,3.0:a
4,5,6:b

-1e1,0.5,7:a
"""

VARIABLE_TRAIN_TS = """\
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true dog cat bird
@data
1,2,3:10,20,30:cat
4,?:40,50:dog
7:70:bird
"""

VARIABLE_TEST_TS = """\
@problemName Toy
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true dog cat bird
@data
1,2,3,4,5:6,7,8,9,10:bird
"""


def test_read_ts_equal_length_univariate():
    split = uea.read_ts(io.StringIO(EQUAL_TS))
    assert split.name == "Equal"
    assert split.x.dtype == np.float32 and split.x.shape == (3, 3, 1)
    assert split.x[:, :, 0].tolist() == [[1, 2, 3], [4, 5, 6], [-10, 0.5, 7]]
    assert split.classes == ("b", "a")  # the order of @classLabel, not sorted
    assert split.y.tolist() == [1, 0, 1] and split.y.dtype == np.int64
    assert split.lengths.tolist() == [3, 3, 3]
    assert split.mask.all()


def test_read_ts_variable_length_multivariate_missing(tmp_path):
    path = tmp_path / "Toy_TRAIN.ts"
    path.write_text(VARIABLE_TRAIN_TS)
    split = uea.read_ts(path)
    assert split.x.shape == (3, 3, 2)
    np.testing.assert_array_equal(split.x[0], [[1, 10], [2, 20], [3, 30]])
    assert split.x[1, 0].tolist() == [4, 40]
    assert np.isnan(split.x[1, 1, 0]) and split.x[1, 1, 1] == 50  # '?' -> NaN
    assert split.x[1, 2].tolist() == [0, 0]  # padding is zero, at the end
    assert split.x[2].tolist() == [[7, 70], [0, 0], [0, 0]]
    assert split.lengths.tolist() == [3, 2, 1]
    assert split.mask.tolist() == [[True] * 3, [True, True, False], [True, False, False]]
    assert split.y.tolist() == [1, 0, 2]
    assert split.num_classes == 3
    x, y = split
    assert x is split.x and y is split.y


def test_load_data_from_path_pads_both_splits_alike(tmp_path):
    (tmp_path / "Toy_TRAIN.ts").write_text(VARIABLE_TRAIN_TS)
    (tmp_path / "Toy_TEST.ts").write_text(VARIABLE_TEST_TS)
    train, test = uea.load_data("Toy", path=tmp_path)
    assert train.x.shape == (3, 5, 2) and test.x.shape == (1, 5, 2)
    assert test.lengths.tolist() == [5] and test.y.tolist() == [2]
    assert test.classes == ("dog", "cat", "bird")
    (x_train, y_train), (x_test, y_test) = uea.load_data("Toy", path=tmp_path)
    assert x_train.shape == (3, 5, 2) and y_test.tolist() == [2]


def test_load_data_from_env_dir_gzipped_in_subfolder(monkeypatch, tmp_path):
    sub = tmp_path / "offline" / "Toy"
    sub.mkdir(parents=True)
    for split, text in (("TRAIN", VARIABLE_TRAIN_TS), ("TEST", VARIABLE_TEST_TS)):
        with gzip.open(sub / f"Toy_{split}.ts.gz", "wt") as f:
            f.write(text)
    monkeypatch.setenv("RNNKIT_DATASETS_DIR", str(tmp_path / "offline"))
    train, test = uea.load_data("Toy")
    assert len(train.y) == 3 and len(test.y) == 1


def test_bundled_japanese_vowels(offline, monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_DATASETS_DIR", str(tmp_path))  # empty: the bundle is used
    train, test = uea.load_data("JapaneseVowels")
    assert offline == []  # no download attempted
    assert train.x.shape == (270, 29, 12) and test.x.shape == (370, 29, 12)
    assert train.x.dtype == np.float32
    assert train.classes == tuple(str(i) for i in range(1, 10))
    assert np.bincount(train.y).tolist() == [30] * 9
    assert np.bincount(test.y, minlength=9).sum() == 370 and set(test.y.tolist()) == set(range(9))
    lengths = np.concatenate([train.lengths, test.lengths])
    assert lengths.min() == 7 and lengths.max() == 29
    assert not np.isnan(train.x).any() and not np.isnan(test.x).any()
    # padded steps are zero, real steps are not all zero
    assert (train.x[~train.mask] == 0).all()
    assert (np.abs(train.x[train.mask]).sum(axis=-1) > 0).all()


def make_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_uea_download_extracts_only_the_two_files(monkeypatch, tmp_path):
    data = make_zip(
        {
            "Toy/Toy_TRAIN.ts": VARIABLE_TRAIN_TS,
            "Toy/Toy_TEST.ts": VARIABLE_TEST_TS,
            "../../evil.ts": "boom",
            "../../Toy_TEST.ts": "boom",
            "Toy/../../../Toy_TRAIN.sh": "boom",
        }
    )
    urls = []
    serve(monkeypatch, data, urls)
    train, test = uea.load_data("Toy", progress=False)
    assert urls == ["https://www.timeseriesclassification.com/aeon-toolkit/Toy.zip"]
    assert train.x.shape == (3, 5, 2)
    home = tmp_path / "home"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "home/datasets/uea/Toy.zip",
        "home/datasets/uea/Toy/Toy_TEST.ts",
        "home/datasets/uea/Toy/Toy_TRAIN.ts",
    ]
    # next time: from the extracted cache, no download
    uea.load_data("Toy")
    assert len(urls) == 1 and (home / "datasets" / "uea" / "Toy").is_dir()


@pytest.mark.parametrize(
    "data, match",
    [
        (make_zip({"Toy_TRAIN.ts": VARIABLE_TRAIN_TS}), "does not contain \\['Toy_TEST.ts'\\]"),
        (b"<html>not found</html>", "not a valid zip"),
    ],
)
def test_uea_bad_download_is_refused_and_removed(monkeypatch, tmp_path, data, match):
    serve(monkeypatch, data)
    with pytest.raises(ValueError, match=match):
        uea.load_data("Toy", progress=False)
    assert not (tmp_path / "home" / "datasets" / "uea" / "Toy.zip").exists()


def test_uea_unknown_offline(offline, tmp_path):
    with pytest.raises(DatasetUnavailableError) as err:
        uea.load_data("NoSuchSet", path=tmp_path)
    msg = str(err.value)
    assert "'NoSuchSet'" in msg and "RNNKIT_DATASETS_DIR" in msg and str(tmp_path) in msg
    assert "NoSuchSet.zip" in msg


@pytest.mark.parametrize("name", ["../etc", "a/b", "", "Toy.zip", 5])
def test_uea_bad_names(name):
    with pytest.raises(ValueError, match="name must be"):
        uea.load_data(name)


@pytest.mark.parametrize(
    "text, match",
    [
        ("@classLabel true a\n@data\n1,2:z\n", "label 'z' is not one of"),
        ("@classLabel true a\n@data\n1:2:a\n1:a\n", "expected 2 dimensions"),
        ("@dimensions 3\n@classLabel true a\n@data\n1:2:a\n", "@dimensions says 3"),
        ("@univariate true\n@classLabel true a\n@data\n1:2:a\n", "@univariate true"),
        ("@equalLength true\n@seriesLength 2\n@classLabel true a\n@data\n1:a\n", "case 0"),
        ("@classLabel true a\n@data\n1,x:a\n", "line 3: a value is not a number"),
        ("@classLabel true a\n1,2:a\n", "expected an @tag"),
        ("@classLabel true a\n", "no @data"),
        ("@classLabel true a\n@data\n", "no cases"),
        ("@timeStamps true\n@classLabel true a\n@data\n(0,1):a\n", "@timeStamps"),
        ("@classLabel true\n@data\n1:a\n", "lists no class labels"),
        ("@classLabel maybe\n@data\n1:a\n", "'true' or 'false'"),
        ("@classLabel false\n@data\n1,2\n", "no labels"),
    ],
)
def test_read_ts_errors(text, match):
    with pytest.raises(ValueError, match=match):
        uea.read_ts(io.StringIO(text))


def test_read_ts_regression_targets():
    split = uea.read_ts(io.StringIO("@classLabel false\n@targetLabel true\n@data\n1,2:0.5\n"))
    assert split.y.dtype == np.float32 and split.y.tolist() == [0.5] and split.classes == ()


def test_corrupt_object_array_is_a_clear_error(tmp_path):
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=object_array([[1], [2, 3]]))
    raw = zipfile.ZipFile(path).read("x_train.npy")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x_train.npy", raw[:-10])
    for trusted in (False, True):
        with pytest.raises(ValueError, match="could not read array 'x_train'"):
            download.load_npz(path, ["x_train"], trusted=trusted)
