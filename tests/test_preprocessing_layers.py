"""rnnkit's text preprocessing layers: Keras's tokenization and vocabulary rules, models, saving, errors."""

import importlib.util
import json
import os
import re

import numpy as np
import pytest
import torch

import rnnkit as keras
from rnnkit import layers
from rnnkit.layers.preprocessing._hashing import fingerprint64, siphash24
from rnnkit.saving import register_keras_serializable

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _keras_strip_regex():
    """The punctuation regex of the installed Keras's TextVectorization, read from its source."""
    spec = importlib.util.find_spec("keras")
    if spec is None:
        pytest.skip("keras is not installed")
    path = os.path.join(os.path.dirname(spec.origin), "src", "layers", "preprocessing", "text_vectorization.py")
    with open(path) as f:
        src = f.read()
    m = re.search(r"regex_replace\(\s*inputs,\s*r'(.*?)',", src, re.S)
    assert m, "Keras's strip-punctuation regex not found in its source"
    return m.group(1)


TRICKY = [
    "Hello, World!. This is just a nice test!",
    "C'est l'été: ÉCOLE, naïve café — «quotes» ‘curly’ …",
    "tabs\tand\nnewlines\r\nand\x0bvertical\x0cfeeds",
    "non\u00a0breaking\u2003em space and\u3000ideographic",
    "under_score hy-phen sl/ash back\\slash [brackets] {braces} (parens) <angle> #hash $ % & * + = ? @ ^ ` | ~",
    "Straße ΣΊΣΥΦΟΣ ДОМ 123.45 $6,789",
    "  leading and trailing  ",
    "",
]


def test_default_standardize_equals_keras_regex_and_ascii_lowercase():
    regex = re.compile(_keras_strip_regex())
    layer = layers.TextVectorization(split=None)
    layer.adapt(TRICKY)
    ascii_lower = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    expected = {regex.sub("", s.translate(ascii_lower)) for s in TRICKY} - {""}
    assert set(layer.get_vocabulary(include_special_tokens=False)) == expected
    # TensorFlow lower-cases ASCII only: "ÉCOLE" keeps its É, "ДОМ" stays upper case
    assert any("Écol" in v for v in expected) and any("ДОМ" in v for v in expected)


def test_whitespace_split_is_ascii_whitespace_only():
    layer = layers.TextVectorization(standardize=None)
    layer.adapt(["a\tb\nc\r\nd\x0be\x0cf  g", "x\u00a0y z\u2003w"])
    vocab = layer.get_vocabulary(include_special_tokens=False)
    assert set(vocab) == {"a", "b", "c", "d", "e", "f", "g", "x\u00a0y", "z\u2003w"}


def test_adapt_order_count_then_token_descending():
    layer = layers.TextVectorization()
    layer.adapt(["b a c", "c b", "e d d e"])  # counts: b 2, c 2, d 2, e 2, a 1
    assert layer.get_vocabulary() == ["", "[UNK]", "e", "d", "c", "b", "a"]
    lookup = layers.StringLookup()
    lookup.adapt(np.array([["z", "y"], ["y", "z"], ["x", "Z"]]))
    assert lookup.get_vocabulary() == ["[UNK]", "z", "y", "x", "Z"]  # "z" > "y" > ... > "Z" (code points)
    ints = layers.IntegerLookup(max_tokens=4)
    ints.adapt([7, 7, 3, 3, 9, 9, 1])
    assert ints.get_vocabulary() == [-1, 9, 7, 3]  # max_tokens keeps the 3 most frequent, ties high first


def test_ngrams_follow_tf_strings_ngrams_order():
    layer = layers.TextVectorization(ngrams=3, standardize=None)
    layer.adapt(["a b c d"])
    got = layer.get_vocabulary(include_special_tokens=False)
    assert sorted(got) == sorted(["a", "b", "c", "d", "a b", "b c", "c d", "a b c", "b c d"])
    vec = layers.TextVectorization(ngrams=(1, 2), vocabulary=["a", "b", "a b"], standardize=None)
    assert vec(["a b"]).tolist() == [[2, 3, 4]]  # unigrams first, then bigrams


def test_output_sequence_length_pads_and_truncates():
    layer = layers.TextVectorization(vocabulary=["a", "b", "c"], output_sequence_length=3)
    assert layer(["a b c a b", "c", ""]).tolist() == [[2, 3, 4], [4, 0, 0], [0, 0, 0]]
    free = layers.TextVectorization(vocabulary=["a", "b"])
    assert free(["a", "b a b"]).tolist() == [[2, 0, 0], [3, 2, 3]]  # padded to the longest
    assert free("a b").tolist() == [2, 3]  # one string in, one sequence out
    assert free(np.array([b"a", b"b"])).tolist() == [[2], [3]]  # bytes are decoded


def test_tf_idf_after_adapt_uses_keras_formula():
    layer = layers.TextVectorization(output_mode="tf_idf")
    docs = ["a a b", "b c", "c c c d"]
    layer.adapt(docs)
    vocab = layer.get_vocabulary()
    df = {t: sum(t in d.split() for d in docs) for t in vocab[1:]}
    idf = {t: np.log(1 + 3 / (1 + df[t])) for t in vocab[1:]}
    oov = np.mean(list(idf.values()))
    np.testing.assert_allclose(layer.idf_weights, [oov] + [idf[t] for t in vocab[1:]], rtol=1e-6)
    out = layer(["a a d z"]).numpy()[0]
    expected = np.zeros(len(vocab))
    expected[0] = oov
    expected[vocab.index("a")] = 2 * idf["a"]
    expected[vocab.index("d")] = idf["d"]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_string_lookup_mask_oov_invert_round_trip():
    layer = layers.StringLookup(vocabulary=["a", "b"], mask_token="", num_oov_indices=2)
    assert layer.get_vocabulary() == ["", "[UNK]", "[UNK]", "a", "b"]
    ids = layer([["a", "", "zz"], ["b", "a", "q"]])
    assert ids[:, :2].tolist() == [[3, 0], [4, 3]] and all(0 < int(i) < 3 for i in ids[:, 2])
    inv = layers.StringLookup(vocabulary=layer.get_vocabulary(), mask_token="", num_oov_indices=2, invert=True)
    assert inv(ids) == [["a", "", "[UNK]"], ["b", "a", "[UNK]"]]
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(["a", "b"])
    with pytest.raises(ValueError, match="repeated"):
        layers.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="Cannot adapt"):
        layers.StringLookup(vocabulary=["a"]).adapt(["a"])


def test_farmhash_and_siphash_match_references():
    with open(os.path.join(FIXTURES, "hashing", "fingerprint64.json")) as f:
        cases = json.load(f)["cases"]
    for text, value in cases:
        assert fingerprint64(text.encode()) == int(value), text
    # SipHash-2-4 reference vector (Aumasson & Bernstein, appendix A): key 00..0f, message 00..0e
    key = (int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little"))
    assert siphash24(key, bytes(range(15))) == 0xA129CA6149BE45E5


def test_string_first_layer_in_sequential_and_functional_models(tmp_path):
    keras.utils.set_random_seed(0)
    texts = np.array(["good great fun", "bad awful", "great good", "awful boring bad"] * 6)
    y = np.array([1, 0, 1, 0] * 6, "float32")
    vec = layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vec.adapt(texts)
    seq = keras.Sequential([layers.Input(shape=(1,), dtype="string"), vec, layers.Embedding(20, 8),
                            layers.GRU(4), layers.Dense(1, activation="sigmoid")])
    seq.compile("adam", "binary_crossentropy")
    h = seq.fit(texts, y, epochs=4, batch_size=8, validation_split=0.25, verbose=0).history
    assert h["loss"][-1] < h["loss"][0] and "val_loss" in h
    inp = keras.Input(shape=(1,), dtype="string")
    out = layers.Dense(1)(layers.LSTM(3)(layers.Embedding(20, 4)(vec(inp))))
    fn = keras.Model(inp, out)
    fn.compile("sgd", "mse")
    fn.fit(texts[:, None], y, epochs=1, verbose=0)
    path = str(tmp_path / "m.rnnkit")
    fn.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(texts, verbose=0), fn.predict(texts, verbose=0), rtol=1e-6)
    loaded_vec = next(m for m in loaded.modules() if isinstance(m, layers.TextVectorization))
    assert loaded_vec.get_vocabulary() == vec.get_vocabulary()


def test_lookup_layers_save_and_load_adapted_vocabulary(tmp_path):
    ids = layers.IntegerLookup(output_mode="multi_hot", name="ids")
    ids.adapt([5, 5, 9, 1])
    model = keras.Sequential([layers.Input(shape=(3,), dtype="int64"), ids, layers.Dense(2)])
    path = str(tmp_path / "ids.rnnkit")
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.array([[5, 9, 2], [1, 1, 1]])
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_layer("ids").get_vocabulary() == [-1, 5, 9, 1]


@register_keras_serializable(package="test_prep")
def _dash_to_space(x):
    return np.char.replace(x, "-", " ")


def test_callable_standardize_config_round_trip():
    layer = layers.TextVectorization(standardize=_dash_to_space, vocabulary=["a", "b"])
    config = layer.get_config()
    assert config["standardize"]["config"] == "test_prep>_dash_to_space"
    again = layers.TextVectorization.from_config(json.loads(json.dumps(config)))
    assert again(["a-b"]).tolist() == [[2, 3]]
    with pytest.raises(ValueError, match="file path in a config is refused"):
        layers.StringLookup.from_config({"vocabulary": "/etc/passwd"})


def test_bad_inputs_raise_clear_errors():
    vec = layers.TextVectorization(vocabulary=["a"])
    with pytest.raises(TypeError, match="torch has no string tensors"):
        vec(torch.ones(2, 1))
    with pytest.raises(ValueError, match="rectangular"):
        vec([["a"], ["a", "b"]])
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        vec(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="expected strings"):
        vec([1, 2])
    with pytest.raises(RuntimeError, match="set the layer's vocabulary"):
        layers.StringLookup(output_mode="multi_hot")(["a"])
    with pytest.raises(TypeError, match="integer"):
        layers.IntegerLookup(vocabulary=[1])(np.array([1.5]))
    with pytest.raises(ValueError, match="build"):
        layers.Normalization(axis=-1).call(np.ones((2, 2)))


def test_normalization_float64_numbers_and_invert():
    x = np.random.RandomState(0).randn(50, 3, 4) * 3 + 1
    norm = layers.Normalization(axis=(1, 2), dtype="float64")
    norm.adapt(x)
    mean, var = x.mean(axis=0), x.var(axis=0)
    np.testing.assert_allclose(norm(x).numpy(), (x - mean) / np.sqrt(var), rtol=1e-10, atol=1e-14)
    assert [w.shape for w in norm.get_weights()] == [(3, 4), (3, 4), ()] and int(norm.get_weights()[2]) == 50
    inv = layers.Normalization(axis=(1, 2), mean=mean, variance=var, invert=True, dtype="float64")
    np.testing.assert_allclose(inv(norm(x)).numpy(), x, rtol=1e-10)
    scalar = layers.Normalization(axis=None, dtype="float64")
    scalar.adapt([x[:20], x[20:]])
    np.testing.assert_allclose(scalar(x).numpy(), (x - x.mean()) / x.std(), rtol=1e-10)
