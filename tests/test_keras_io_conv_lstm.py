"""keras-io's "Next-Frame Video Prediction with Convolutional LSTMs" (examples/vision/conv_lstm.py).

A small version of the program, changed only in its imports (``import rnnkit as keras``), in
the data (synthetic moving squares with Moving MNIST's layout and dtype, ``(frames, samples,
rows, cols)`` uint8, instead of the download) and in its sizes (frames, samples, image size,
filters, epochs). The plotting and GIF cells, which only display results, are left out; the
frame-by-frame prediction loop is kept.
"""

from __future__ import annotations

import numpy as np

import rnnkit as keras
from rnnkit import layers

FRAMES, SAMPLES, SIZE, FILTERS = 8, 20, 12, 6


def _moving_squares(frames, samples, size, seed=0):
    """Bright 3x3 squares bouncing around a dark frame: ``(frames, samples, size, size)`` uint8."""
    rng = np.random.default_rng(seed)
    data = np.zeros((frames, samples, size, size), dtype=np.uint8)
    for s in range(samples):
        pos = rng.integers(0, size - 3, 2).astype(float)
        vel = rng.choice([-1.0, 1.0], 2)
        for t in range(frames):
            r, c = int(pos[0]), int(pos[1])
            data[t, s, r : r + 3, c : c + 3] = 255
            pos += vel
            for a in range(2):
                if not 0 <= pos[a] <= size - 3:
                    vel[a] = -vel[a]
                    pos[a] += 2 * vel[a]
    return data


def test_next_frame_prediction_program_trains_and_predicts():
    np.random.seed(0)
    keras.utils.set_random_seed(0)

    # --- the program (examples/vision/conv_lstm.py), download replaced by synthetic data ---
    dataset = _moving_squares(FRAMES, SAMPLES, SIZE)

    # Swap the axes representing the number of frames and number of data samples.
    dataset = np.swapaxes(dataset, 0, 1)
    # We'll pick out 1000 of the 10000 total examples and use those.
    dataset = dataset[:SAMPLES, ...]
    # Add a channel dimension since the images are grayscale.
    dataset = np.expand_dims(dataset, axis=-1)

    # Split into train and validation sets using indexing to optimize memory.
    indexes = np.arange(dataset.shape[0])
    np.random.shuffle(indexes)
    train_index = indexes[: int(0.9 * dataset.shape[0])]
    val_index = indexes[int(0.9 * dataset.shape[0]) :]
    train_dataset = dataset[train_index]
    val_dataset = dataset[val_index]

    # Normalize the data to the 0-1 range.
    train_dataset = train_dataset / 255
    val_dataset = val_dataset / 255

    # We'll define a helper function to shift the frames, where
    # `x` is frames 0 to n - 1, and `y` is frames 1 to n.
    def create_shifted_frames(data):
        x = data[:, 0 : data.shape[1] - 1, :, :]
        y = data[:, 1 : data.shape[1], :, :]
        return x, y

    # Apply the processing function to the datasets.
    x_train, y_train = create_shifted_frames(train_dataset)
    x_val, y_val = create_shifted_frames(val_dataset)

    # Construct the input layer with no definite frame size.
    inp = layers.Input(shape=(None, *x_train.shape[2:]))

    # We will construct 3 `ConvLSTM2D` layers with batch normalization,
    # followed by a `Conv3D` layer for the spatiotemporal outputs.
    x = layers.ConvLSTM2D(
        filters=FILTERS,
        kernel_size=(5, 5),
        padding="same",
        return_sequences=True,
        activation="relu",
    )(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ConvLSTM2D(
        filters=FILTERS,
        kernel_size=(3, 3),
        padding="same",
        return_sequences=True,
        activation="relu",
    )(x)
    x = layers.BatchNormalization()(x)
    x = layers.ConvLSTM2D(
        filters=FILTERS,
        kernel_size=(1, 1),
        padding="same",
        return_sequences=True,
        activation="relu",
    )(x)
    x = layers.Conv3D(
        filters=1, kernel_size=(3, 3, 3), activation="sigmoid", padding="same"
    )(x)

    # Next, we will build the complete model and compile it.
    model = keras.models.Model(inp, x)
    model.compile(
        loss=keras.losses.binary_crossentropy, optimizer=keras.optimizers.Adam(),
    )

    # Define some callbacks to improve training.
    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10)
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=5)

    # Define modifiable training hyperparameters.
    epochs = 4
    batch_size = 5

    # Fit the model to the training data.
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_val, y_val),
        callbacks=[early_stopping, reduce_lr],
        verbose=0,
    )

    # Select a random example from the validation dataset.
    example = val_dataset[np.random.choice(range(len(val_dataset)), size=1)[0]]

    # Pick the first/last frames from the example.
    frames = example[: FRAMES // 2, ...]

    # Predict a new set of frames.
    for _ in range(FRAMES // 2):
        # Extract the model's prediction and post-process it.
        new_prediction = model.predict(np.expand_dims(frames, axis=0), verbose=0)
        new_prediction = np.squeeze(new_prediction, axis=0)
        predicted_frame = np.expand_dims(new_prediction[-1, ...], axis=0)

        # Extend the set of prediction frames.
        frames = np.concatenate((frames, predicted_frame), axis=0)
    # --- end of the program ---

    losses = history.history["loss"]
    assert len(losses) == epochs and all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses
    assert len(history.history["val_loss"]) == epochs
    assert frames.shape == (FRAMES, SIZE, SIZE, 1)
    new = frames[FRAMES // 2 :]
    assert np.all((new > 0) & (new < 1))  # sigmoid outputs fed back in as frames
    assert [type(layer).__name__ for layer in model.layers].count("ConvLSTM2D") == 3
