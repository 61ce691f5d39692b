"""Ported from keras/src/layers/preprocessing/text_vectorization_test.py (Keras 3.15.1).

API translation: ``layers`` -> ``rnnkit.layers``; ``backend.is_tensor`` -> ``torch.is_tensor``;
callables written with ``tf.strings`` are written with Python / numpy string operations (a
``standardize`` callable receives a numpy ``str`` array, as Keras on non-TF backends; a ``split``
callable returns one token list per string); ``model.keras`` files -> rnnkit's native file
(``.keras`` writing is the saving module's). Tests Keras itself skips off TensorFlow
(string Input, string tensors as first layer) run here, since rnnkit takes numpy strings.
Skipped, each with its reason: tf.data / grain pipelines (``Dataset.map(layer)``,
``from_tensor_slices``: no TensorFlow; their lookups are checked on plain batches below),
ragged / sparse outputs (need TensorFlow; rnnkit raises ValueError as Keras on other backends).
"""

import os

import numpy as np
import pytest
import torch

from rnnkit import Sequential, layers, models
from rnnkit.models import load_model
from tests.keras_tests._data_shim import KerasAsserts


def is_tensor(x):
    return torch.is_tensor(x)


class TestTextVectorization(KerasAsserts):
    def test_config(self):
        layer = layers.TextVectorization(output_mode="int", vocabulary=["one", "two"], output_sequence_length=5)
        self.run_class_serialization_test(layer)

    def test_adapt_flow(self):
        max_tokens = 5000
        max_len = 4
        layer = layers.TextVectorization(max_tokens=max_tokens, output_mode="int", output_sequence_length=max_len)
        layer.adapt(["foo bar", "bar baz", "baz bada boom"])
        input_data = [["foo qux bar"], ["qux baz"]]
        output = layer(input_data)
        self.assertTrue(is_tensor(output))
        self.assertAllClose(output, np.array([[4, 1, 3, 0], [1, 2, 0, 0]]))
        self.assertIn("foo", [str(v) for v in layer.get_vocabulary()])

    def test_adapt_with_generator(self):
        def text_gen():
            yield ["hello world", "foo bar"]
            yield ["baz qux", "hello foo"]

        layer = layers.TextVectorization()
        layer.adapt(text_gen())
        vocab = layer.get_vocabulary()
        self.assertIn("hello", [str(v) for v in vocab])
        self.assertIn("foo", [str(v) for v in vocab])

    def test_adapt_with_infinite_generator_and_steps(self):
        def text_gen():
            while True:
                yield ["hello world", "foo bar"]

        layer = layers.TextVectorization()
        layer.adapt(text_gen(), steps=3)
        vocab = layer.get_vocabulary()
        self.assertIn("hello", [str(v) for v in vocab])

    def test_adapt_with_grain_dataset(self):
        # grain's MapDataset.source(...).batch(2) -> a plain iterable of batches
        texts = ["hello world", "foo bar", "baz qux", "hello foo"]
        dataset = [texts[0:2], texts[2:4]]
        layer = layers.TextVectorization()
        layer.adapt(iter(dataset))
        vocab = layer.get_vocabulary()
        self.assertIn("hello", [str(v) for v in vocab])

    def test_fixed_vocabulary(self):
        max_tokens = 5000
        max_len = 4
        layer = layers.TextVectorization(
            max_tokens=max_tokens, output_mode="int", output_sequence_length=max_len, vocabulary=["baz", "bar", "foo"]
        )
        input_data = [["foo qux bar"], ["qux baz"]]
        output = layer(input_data)
        self.assertTrue(is_tensor(output))
        self.assertAllClose(output, np.array([[4, 1, 3, 0], [1, 2, 0, 0]]))

    def test_set_vocabulary(self):
        max_tokens = 5000
        max_len = 4
        layer = layers.TextVectorization(max_tokens=max_tokens, output_mode="int", output_sequence_length=max_len)
        layer.set_vocabulary(["baz", "bar", "foo"])
        input_data = [["foo qux bar"], ["qux baz"]]
        output = layer(input_data)
        self.assertTrue(is_tensor(output))
        self.assertAllClose(output, np.array([[4, 1, 3, 0], [1, 2, 0, 0]]))

    def test_save_load_with_ngrams_flow(self):
        input_data = np.array(["foo bar", "bar baz", "baz bada boom"])
        model = Sequential([layers.Input(dtype="string", shape=(1,)), layers.TextVectorization(ngrams=(1, 2))])
        model.layers[0].adapt(input_data)
        output = model(input_data)
        temp_filepath = os.path.join(self.get_temp_dir(), "model.rnnkit")
        model.save(temp_filepath)
        model = load_model(temp_filepath)
        self.assertAllClose(output, model(input_data))

    def test_save_load_tf_idf_mode(self):
        input_data = np.array(["foo bar", "bar baz", "baz bada boom"])
        model = Sequential(
            [layers.Input(dtype="string", shape=()), layers.TextVectorization(max_tokens=100, output_mode="tf_idf")]
        )
        model.layers[0].adapt(input_data)
        output = model(input_data)
        temp_filepath = os.path.join(self.get_temp_dir(), "model.rnnkit")
        model.save(temp_filepath)
        loaded_model = load_model(temp_filepath)
        self.assertAllClose(output, loaded_model(input_data))

    @pytest.mark.skip(reason="tf.data pipeline (Dataset.from_tensor_slices(...).map(layer)) needs TensorFlow")
    def test_tf_data_compatibility(self):
        pass

    @pytest.mark.parametrize("split", ["whitespace", None], ids=["from_ragged", "from_dense"])
    def test_static_output_sequence_length(self, split):
        # Keras calls the layer inside a tf.data map; here on the same batch directly, and
        # symbolically (where (None, 4) is the static shape).
        max_tokens = 5000
        max_len = 4
        layer = layers.TextVectorization(
            max_tokens=max_tokens, output_mode="int", output_sequence_length=max_len, split=split,
            vocabulary=["baz", "bar", "foo"],
        )
        if split:
            input_data = [["foo qux bar"], ["qux baz"]]
        else:
            input_data = [["foo"], ["baz"]]
        result = layer(layers.Input(shape=(1,), dtype="string"))
        self.assertEqual(result.shape, (None, 4))
        self.assertEqual(tuple(layer(input_data).shape), (2, 4))

    def test_tf_as_first_sequential_layer(self):
        layer = layers.TextVectorization(max_tokens=10, output_mode="int", output_sequence_length=3)
        layer.set_vocabulary(["baz", "bar", "foo"])
        model = models.Sequential([layer, layers.Embedding(5, 4)])
        model(np.array([["foo qux bar"], ["qux baz"]]))

    @pytest.mark.skip(reason="ragged=True needs TensorFlow ragged tensors")
    def test_ragged_tensor(self):
        pass

    @pytest.mark.skip(reason="ragged=True needs TensorFlow ragged tensors")
    def test_ragged_tensor_output_length(self):
        pass

    def test_raises_exception_ragged_tensor(self):
        with self.assertRaises(ValueError):
            _ = layers.TextVectorization(output_mode="int", vocabulary=["baz", "bar", "foo"], ragged=True)

    def test_multi_hot_output(self):
        layer = layers.TextVectorization(output_mode="multi_hot", vocabulary=["foo", "bar", "baz"])
        input_data = [["foo bar"], ["baz foo foo"]]
        output = layer(input_data)
        self.assertAllClose(output, [[0, 1, 1, 0], [0, 1, 0, 1]])

    def test_output_mode_count_output(self):
        layer = layers.TextVectorization(output_mode="count", vocabulary=["foo", "bar", "baz"])
        output = layer(["foo bar", "baz foo foo"])
        self.assertAllClose(output, [[0, 1, 1, 0], [0, 2, 0, 1]])

    def test_output_mode_tf_idf_output(self):
        layer = layers.TextVectorization(
            output_mode="tf_idf", vocabulary=["foo", "bar", "baz"], idf_weights=[0.3, 0.5, 0.2]
        )
        output = layer(["foo bar", "baz foo foo"])
        self.assertAllClose(output, [[0.0, 0.3, 0.5, 0.0], [0.0, 0.6, 0.0, 0.2]])

    def test_lower_and_strip_punctuation_standardization(self):
        layer = layers.TextVectorization(
            standardize="lower_and_strip_punctuation",
            vocabulary=["hello", "world", "this", "is", "nice", "test"],
        )
        output = layer(["Hello, World!. This is just a nice test!"])
        self.assertTrue(is_tensor(output))

        # test output sequence length, taking first batch.
        self.assertEqual(len(output[0]), 8)

        self.assertAllClose(output, [[2, 3, 4, 5, 1, 1, 6, 7]])

    def test_lower_standardization(self):
        layer = layers.TextVectorization(
            standardize="lower", vocabulary=["hello,", "hello", "world", "this", "is", "nice", "test"]
        )
        output = layer(["Hello, World!. This is just a nice test!"])
        self.assertTrue(is_tensor(output))
        self.assertEqual(len(output[0]), 8)
        self.assertAllClose(output, [[2, 1, 5, 6, 1, 1, 7, 1]])

    def test_char_splitting(self):
        layer = layers.TextVectorization(split="character", vocabulary=list("abcde"), output_mode="int")
        output = layer(["abcf"])
        self.assertTrue(is_tensor(output))
        self.assertEqual(len(output[0]), 4)
        self.assertAllClose(output, [[2, 3, 4, 1]])

    def test_custom_splitting(self):
        def custom_split(text):  # tf.strings.split(text, sep="|")
            return [s.split("|") for s in text]

        layer = layers.TextVectorization(split=custom_split, vocabulary=["foo", "bar", "foobar"], output_mode="int")
        output = layer(["foo|bar"])
        self.assertTrue(is_tensor(output))

        # after custom split, the outputted index should be the last
        # token in the vocab.
        self.assertAllClose(output, [[4]])

    def test_strip_punctuation_standardization(self):
        layer = layers.TextVectorization(standardize="strip_punctuation", vocabulary=["Hello", "World", "Test"])
        output = layer(["Hello, World! Test."])
        self.assertTrue(is_tensor(output))
        # Case is preserved, punctuation stripped
        self.assertAllClose(output, [[2, 3, 4]])

    def test_no_standardization(self):
        layer = layers.TextVectorization(standardize=None, vocabulary=["Hello", "world"])
        # "Hello" matches, "hello" does not (case-sensitive)
        output = layer(["Hello hello"])
        self.assertTrue(is_tensor(output))
        self.assertAllClose(output, [[2, 1]])

    def test_custom_standardize_callable(self):
        def custom_standardize(text):  # tf.strings.regex_replace(text, "-", " ")
            return np.char.replace(text, "-", " ")

        layer = layers.TextVectorization(standardize=custom_standardize, split="whitespace", vocabulary=["foo", "bar"])
        output = layer(["foo-bar"])
        self.assertTrue(is_tensor(output))
        self.assertAllClose(output, [[2, 3]])

    def test_python_standardize_callable_non_tf_backend(self):
        # Regression test for https://github.com/keras-team/keras/issues/22626
        seen_types = []
        seen_dtypes = []

        def np_standardize(text):
            seen_types.append(type(text).__name__)
            seen_dtypes.append(text.dtype.kind)
            lowered = np.char.lower(text)
            return np.char.replace(lowered, ",", "")

        layer = layers.TextVectorization(standardize=np_standardize)
        layer.adapt(["Hello, world."])
        self.assertTrue(len(seen_types) > 0)
        for t in seen_types:
            self.assertEqual(t, "ndarray")
        for k in seen_dtypes:
            self.assertEqual(k, "U")
        vocab = layer.get_vocabulary()
        self.assertIn("hello", vocab)
        self.assertIn("world.", vocab)
        output = layer(["Hello, world."])
        self.assertTrue(is_tensor(output))

    def test_no_split(self):
        layer = layers.TextVectorization(split=None, vocabulary=["foo", "bar", "baz"], output_mode="int")
        # Each element is looked up as a whole string (no splitting)
        output = layer([["foo"], ["bar"], ["unknown"]])
        self.assertTrue(is_tensor(output))
        self.assertAllClose(output, [[2], [3], [1]])

    def test_ngrams_integer(self):
        layer = layers.TextVectorization(ngrams=2, output_mode="int")
        layer.adapt(["foo bar baz"])
        vocab = layer.get_vocabulary()
        # ngrams=2 produces unigrams and bigrams
        # Verify bigrams are in the vocabulary
        self.assertIn("foo bar", vocab)
        self.assertIn("bar baz", vocab)

    def test_ngrams_tuple(self):
        layer = layers.TextVectorization(ngrams=(1, 3), output_mode="int")
        layer.adapt(["foo bar baz"])
        vocab = layer.get_vocabulary()
        # Should have unigrams and trigrams but not bigrams
        self.assertIn("foo", vocab)
        self.assertIn("foo bar baz", vocab)
        self.assertNotIn("foo bar", vocab)

    def test_max_tokens(self):
        layer = layers.TextVectorization(output_mode="int", max_tokens=5)
        layer.adapt(["a b c d e f g h i j"])
        vocab = layer.get_vocabulary()
        self.assertEqual(len(vocab), 5)

    def test_pad_to_max_tokens(self):
        layer = layers.TextVectorization(
            output_mode="multi_hot", vocabulary=["foo", "bar"], max_tokens=8, pad_to_max_tokens=True
        )
        output = layer(["foo bar"])
        self.assertEqual(output.shape[-1], 8)

    def test_get_vocabulary(self):
        layer = layers.TextVectorization(output_mode="int", vocabulary=["foo", "bar", "baz"])
        vocab = layer.get_vocabulary()
        self.assertEqual(vocab[0], "")
        self.assertEqual(vocab[1], "[UNK]")
        self.assertIn("foo", vocab)
        self.assertIn("bar", vocab)
        self.assertIn("baz", vocab)

    def test_get_vocabulary_no_special_tokens(self):
        layer = layers.TextVectorization(output_mode="int", vocabulary=["foo", "bar", "baz"])
        vocab = layer.get_vocabulary(include_special_tokens=False)
        self.assertNotIn("", vocab)
        self.assertNotIn("[UNK]", vocab)
        self.assertEqual(len(vocab), 3)

    def test_vocabulary_size(self):
        layer = layers.TextVectorization(output_mode="int", vocabulary=["foo", "bar", "baz"])
        # 3 vocab + mask + OOV = 5
        self.assertEqual(layer.vocabulary_size(), 5)

    def test_vocabulary_from_file(self):
        tmp_dir = self.get_temp_dir()
        vocab_file = os.path.join(tmp_dir, "vocab.txt")
        with open(vocab_file, "w") as f:
            f.write("foo\nbar\nbaz\n")
        layer = layers.TextVectorization(vocabulary=vocab_file, output_mode="int")
        output = layer(["foo bar baz unknown"])
        self.assertAllClose(output, np.array([[2, 3, 4, 1]]))

    def test_one_hot_output(self):
        # Keras skips this off TensorFlow; rnnkit's lookup encodes one_hot per token.
        layer = layers.TextVectorization(output_mode="one_hot", vocabulary=["foo", "bar", "baz"])
        output = layer(["foo bar"])
        self.assertTrue(is_tensor(output))
        # one_hot on a split sentence produces shape (1, num_tokens, vocab_size)
        self.assertEqual(output.shape[-1], 4)

    def test_sparse_output(self):
        # Keras: sparse=True only on TensorFlow; off TensorFlow it raises, as here.
        with self.assertRaisesRegex(ValueError, "TensorFlow backend"):
            layers.TextVectorization(output_mode="multi_hot", vocabulary=["foo", "bar", "baz"], sparse=True)

    def test_adapt_with_tf_dataset(self):
        # tf_data.Dataset.from_tensor_slices([...]).batch(2) -> the same batches as a list iterator
        ds = iter([["foo bar", "bar baz"], ["baz foo"]])
        layer = layers.TextVectorization(output_mode="int")
        layer.adapt(ds)
        vocab = layer.get_vocabulary()
        self.assertIn("foo", vocab)
        self.assertIn("bar", vocab)
        self.assertIn("baz", vocab)

    def test_adapt_with_steps(self):
        ds = iter([["foo bar"], ["bar baz"], ["unique_word"]])  # .batch(1)
        layer = layers.TextVectorization(output_mode="int")
        # Only process first 2 batches, so "unique_word" should not be adapted
        layer.adapt(ds, steps=2)
        vocab = layer.get_vocabulary()
        self.assertIn("bar", vocab)
        self.assertNotIn("unique_word", vocab)

    def test_invalid_ngrams(self):
        with self.assertRaises(ValueError):
            layers.TextVectorization(ngrams="invalid")

    def test_output_sequence_length_with_non_int_mode(self):
        with self.assertRaisesRegex(
            ValueError, "`output_sequence_length` must not be set if `output_mode` is not"
        ):
            layers.TextVectorization(output_mode="multi_hot", output_sequence_length=5)
