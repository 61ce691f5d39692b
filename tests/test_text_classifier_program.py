"""A small version of keras-io's ``examples/nlp/text_classification_from_scratch.py`` on rnnkit.

Changed only as the port needs: ``import rnnkit as keras``; the IMDB download is replaced by
synthetic reviews of the same layout (``train/{pos,neg}``, ``test/{pos,neg}`` folders of ``.txt``
files with ``<br />`` tags) written into a temp folder; sizes are small (a few seconds); the
``tf.strings`` standardization is written with numpy string functions (rnnkit hands a numpy
``str`` array to a standardize callable); ``ds.map(fn)`` / ``.cache()`` become a Python list of
mapped batches; ``text_batch.numpy()[i]`` is ``text_batch[i]`` (a numpy array of str already).
The model is the example's (Embedding, Dropout, two strided ``Conv1D``, ``GlobalMaxPooling1D``,
Dense, Dropout, sigmoid Dense), with smaller sizes; a second test runs the same program with a
``Bidirectional(LSTM)`` in place of the convolutions (the LSTM variant of this classifier).
"""

import os
import re
import string

import numpy as np

import rnnkit as keras
from rnnkit import layers

POSITIVE = ["great", "wonderful", "loved", "brilliant", "superb", "moving", "fun", "best"]
NEGATIVE = ["awful", "boring", "hated", "terrible", "dull", "worst", "waste", "bad"]
FILLER = ["the", "movie", "film", "plot", "actors", "was", "and", "a", "story", "it", "i", "this"]


def _write_reviews(root, n_per_class, rng):
    for label, words in (("pos", POSITIVE), ("neg", NEGATIVE)):
        os.makedirs(os.path.join(root, label))
        for i in range(n_per_class):
            tokens = list(rng.choice(FILLER, size=rng.integers(8, 20)))
            for _ in range(rng.integers(1, 4)):
                tokens.insert(int(rng.integers(0, len(tokens))), str(rng.choice(words)).capitalize() + "!")
            text = " ".join(tokens[: len(tokens) // 2]) + " <br /><br />" + " ".join(tokens[len(tokens) // 2 :])
            with open(os.path.join(root, label, f"{i}_{label}.txt"), "w") as f:
                f.write(text + ".")


def _conv_block(x):
    # Conv1D + global max pooling
    x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
    return layers.GlobalMaxPooling1D()(x)


def _lstm_block(x):
    return layers.Bidirectional(layers.LSTM(16))(x)


def test_text_classification_from_scratch(tmp_path):
    _run_program(tmp_path, _conv_block)


def test_text_classification_from_scratch_lstm_variant(tmp_path):
    _run_program(tmp_path, _lstm_block)


def _run_program(tmp_path, block):
    keras.utils.set_random_seed(1337)
    rng = np.random.default_rng(0)
    dataset_dir = tmp_path / "aclImdb"
    _write_reviews(str(dataset_dir / "train"), 400, rng)
    _write_reviews(str(dataset_dir / "test"), 30, rng)

    batch_size = 32
    train_dir = os.path.join(dataset_dir, "train")
    test_dir = os.path.join(dataset_dir, "test")

    raw_train_ds = keras.utils.text_dataset_from_directory(
        train_dir, batch_size=batch_size, validation_split=0.2, subset="training", seed=1337,
        class_names=["pos", "neg"],
    )
    raw_val_ds = keras.utils.text_dataset_from_directory(
        train_dir, batch_size=batch_size, validation_split=0.2, subset="validation", seed=1337,
        class_names=["pos", "neg"],
    )
    raw_test_ds = keras.utils.text_dataset_from_directory(test_dir, batch_size=batch_size)

    print(f"Number of batches in raw_train_ds: {len(raw_train_ds)}")
    print(f"Number of batches in raw_val_ds: {len(raw_val_ds)}")
    print(f"Number of batches in raw_test_ds: {len(raw_test_ds)}")
    assert (len(raw_train_ds), len(raw_val_ds), len(raw_test_ds)) == (20, 5, 2)  # 640 / 160 / 60 files

    for text_batch, label_batch in raw_train_ds.take(1):
        for i in range(5):
            print(text_batch[i])
            print(label_batch.numpy()[i])
    assert "<br />" in text_batch[0]

    def custom_standardization(input_data):
        lowercase = np.char.lower(input_data)
        stripped_html = np.char.replace(lowercase, "<br />", " ")
        strip_punctuation = np.vectorize(lambda s: re.sub(f"[{re.escape(string.punctuation)}]", "", s), otypes=[str])
        return strip_punctuation(stripped_html)

    # Model constants.
    max_features = 200
    embedding_dim = 64
    sequence_length = 40

    vectorize_layer = keras.layers.TextVectorization(
        standardize=custom_standardization,
        max_tokens=max_features,
        output_mode="int",
        output_sequence_length=sequence_length,
    )

    # Let's make a text-only dataset (no labels):
    text_ds = (x for x, y in raw_train_ds)
    # Let's call `adapt`:
    vectorize_layer.adapt(text_ds)
    vocab = vectorize_layer.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"] and "br" not in vocab and "great" in vocab

    def vectorize_text(text, label):
        text = np.expand_dims(text, -1)
        return vectorize_layer(text), label

    # Vectorize the data.
    train_ds = [vectorize_text(x, y) for x, y in raw_train_ds]
    val_ds = [vectorize_text(x, y) for x, y in raw_val_ds]
    test_ds = [vectorize_text(x, y) for x, y in raw_test_ds]

    # A integer input for vocab indices.
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)
    x = block(x)
    # We add a vanilla hidden layer:
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, predictions)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    epochs = 3
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0)
    loss = history.history["loss"]
    print(loss, history.history["val_loss"])
    assert loss[2] < loss[1] < loss[0], loss  # decreasing every epoch

    model.evaluate(test_ds, verbose=0)

    # A string input
    inputs = keras.Input(shape=(1,), dtype="string")
    # Turn strings into vocab indices
    indices = vectorize_layer(inputs)
    # Turn vocab indices into predictions
    outputs = model(indices)

    # Our end to end model
    end_to_end_model = keras.Model(inputs, outputs)
    end_to_end_model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    # Test it with `raw_test_ds`, which yields raw strings
    raw_results = end_to_end_model.evaluate(raw_test_ds, verbose=0)
    vec_results = model.evaluate(test_ds, verbose=0)
    np.testing.assert_allclose(raw_results, vec_results, rtol=1e-5)
