"""Training a model: compile (optimizers, losses, metrics), callbacks, progress output,
seeds and precision, and the errors users get for wrong inputs."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import torch

import rnnkit
import rnnkit as keras
from rnnkit import callbacks, layers


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(42)


def _patterns(n=384, steps=8, noise=0.3, seed=0):
    """Which of 3 patterns (rising, falling, a sine bump) a noisy sequence follows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    t = np.linspace(0, 1, steps)
    base = np.stack([2 * t - 1, 1 - 2 * t, np.sin(2 * np.pi * t)])
    x = (base[y] + noise * rng.normal(size=(n, steps))).astype("float32")[..., None]
    return x, y


def _lstm_classifier(units=16, classes=3):
    return keras.Sequential(
        [keras.Input((None, 1)), layers.LSTM(units), layers.Dense(classes, activation="softmax")]
    )


def _regression_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None].astype("float32") / 4
    return x, y


def _small_regressor():
    return keras.Sequential([keras.Input((None, 3)), layers.SimpleRNN(4), layers.Dense(1)])


# =========================================================================== callbacks
class Recorder(callbacks.Callback):
    """A custom callback that records every hook it sees."""

    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, sorted(logs)))

    def on_test_begin(self, logs=None):
        self.events.append(("test_begin",))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))


def test_lstm_classifier_with_every_callback(tmp_path):
    x, y = _patterns()
    model = _lstm_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    counts = {"batches": 0, "epochs": 0, "train_begin": 0}
    scheduled = []

    def schedule(epoch, lr):
        scheduled.append((epoch, lr))
        return lr if epoch < 3 else lr * 0.95

    ckpt_path = str(tmp_path / "best.keras")
    csv_path = str(tmp_path / "log.csv")
    recorder = Recorder()
    early = callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    ckpt = callbacks.ModelCheckpoint(ckpt_path, monitor="val_accuracy", save_best_only=True)
    # min_delta=10: no epoch counts as an improvement -> a reduction after every epoch
    plateau = callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.7, patience=1, min_delta=10.0, min_lr=0.003
    )
    cbs = [
        early,
        ckpt,
        callbacks.CSVLogger(csv_path),
        plateau,
        callbacks.LearningRateScheduler(schedule),
        callbacks.TerminateOnNaN(),
        callbacks.LambdaCallback(
            on_train_begin=lambda logs: counts.__setitem__(
                "train_begin", counts["train_begin"] + 1
            ),
            on_train_batch_end=lambda batch, logs: counts.__setitem__(
                "batches", counts["batches"] + 1
            ),
            on_epoch_end=lambda epoch, logs: counts.__setitem__("epochs", counts["epochs"] + 1),
        ),
        recorder,
    ]
    epochs = 12
    history = model.fit(
        x, y, epochs=epochs, batch_size=32, validation_split=0.25, callbacks=cbs, verbose=0
    )
    h = history.history
    n_epochs = len(h["loss"])
    steps = int(np.ceil(288 / 32))  # 384 * 0.75 training samples

    # accuracy
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9, h
    assert max(h["val_accuracy"]) > 0.9

    # History / validation_split
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(h)
    assert history.epoch == list(range(n_epochs))
    assert model.history is history

    # LambdaCallback
    assert counts == {"batches": steps * n_epochs, "epochs": n_epochs, "train_begin": 1}

    # custom Callback subclass: hooks in order, with the model attached
    kinds = [e[0] for e in recorder.events]
    assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
    assert kinds.count("epoch_begin") == kinds.count("epoch_end") == n_epochs
    assert kinds.count("batch_end") == steps * n_epochs
    assert kinds.count("test_begin") == 0  # validation inside fit is not a test run
    first_batch = next(e for e in recorder.events if e[0] == "batch_end")
    assert first_batch[2] == ["accuracy", "loss"]
    epoch_logs = [e[2] for e in recorder.events if e[0] == "epoch_end"]
    assert all("val_loss" in logs for logs in epoch_logs)
    assert recorder.model is model

    # LearningRateScheduler: called every epoch with the current rate, decays from epoch 3
    assert [e for e, _ in scheduled] == list(range(n_epochs))
    assert scheduled[0][1] == pytest.approx(0.01)
    assert scheduled[3][1] == pytest.approx(0.01 * 0.7**2)  # two plateau reductions so far
    # ReduceLROnPlateau: epoch 0 improves on +inf; after that x0.7 every epoch down to min_lr.
    # The logged rate is the one after the epoch's reduction (the scheduler, listed after the
    # plateau callback, writes it), and the scheduler (x0.95) acts on top of it from epoch 3.
    lrs = h["learning_rate"]
    assert lrs[:3] == pytest.approx([0.01, 0.01 * 0.7, 0.01 * 0.7**2])
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] < 0.003
    assert float(model.optimizer.learning_rate) == pytest.approx(lrs[-1])

    # CSVLogger: a header and one row per epoch
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n_epochs
    assert [int(r["epoch"]) for r in rows] == list(range(n_epochs))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    np.testing.assert_allclose([float(r["loss"]) for r in rows], h["loss"], rtol=1e-6)

    # ModelCheckpoint(save_best_only): a file holding the best val_accuracy model
    assert os.path.exists(ckpt_path)
    assert ckpt.best == pytest.approx(max(h["val_accuracy"]))

    # EarlyStopping(restore_best_weights): weights are those of the best val_loss epoch
    best_epoch = int(np.argmin(h["val_loss"]))
    assert early.best == pytest.approx(h["val_loss"][best_epoch])
    val_x, val_y = x[288:], y[288:]
    restored_val_loss = model.evaluate(val_x, val_y, verbose=0)[0]
    assert restored_val_loss == pytest.approx(h["val_loss"][best_epoch], rel=1e-4, abs=1e-5)


def test_model_checkpoint_reloads_best_model(tmp_path):
    x, y = _patterns(n=192)
    model = _lstm_classifier(units=8)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    path = str(tmp_path / "best.keras")
    ckpt = callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    history = model.fit(x, y, epochs=3, validation_split=0.25, callbacks=[ckpt], verbose=0)
    best = min(history.history["val_loss"])
    loaded = keras.load_model(path)
    loaded.compile(loss="sparse_categorical_crossentropy")
    assert loaded.evaluate(x[144:], y[144:], verbose=0) == pytest.approx(best, rel=1e-4)


def test_model_checkpoint_weights_only(tmp_path):
    x, y = _patterns(n=96)
    model = _lstm_classifier(units=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    path = str(tmp_path / "epoch{epoch}.weights.safetensors")
    model.fit(
        x,
        y,
        epochs=2,
        callbacks=[callbacks.ModelCheckpoint(path, save_weights_only=True)],
        verbose=0,
    )
    assert sorted(os.listdir(tmp_path)) == [
        "epoch1.weights.safetensors",
        "epoch2.weights.safetensors",
    ]
    other = _lstm_classifier(units=4)
    other.load_weights(str(tmp_path / "epoch2.weights.safetensors"))
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_terminate_on_nan_stops_training():
    x, y = _regression_data()
    x[5:, 0, 0] = np.nan
    model = _small_regressor()
    model.compile(optimizer="sgd", loss="mse")
    seen = []
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=3,
        shuffle=False,
        callbacks=[
            callbacks.TerminateOnNaN(),
            callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch)),
        ],
        verbose=0,
    )
    assert seen == [0, 1]  # batch 1 (samples 4..7) holds the first NaN
    assert len(history.history["loss"]) == 1


def test_early_stopping_stops_early():
    x, y = _regression_data()
    model = _small_regressor()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # nothing ever improves
    es = callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1e-4)
    history = model.fit(x, y, epochs=20, callbacks=[es], shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 2
    assert es.stopped_epoch == 1


def test_lambda_callback_with_any_parameter_names():
    x, y = _regression_data(n=16)
    model = _small_regressor()
    model.compile(optimizer="sgd", loss="mse")
    seen = []
    model.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        callbacks=[
            callbacks.LambdaCallback(
                on_epoch_end=lambda e, log: seen.append((e, round(log["loss"], 6))),
                on_train_begin=lambda log: seen.append("begin"),
            )
        ],
    )
    assert seen[0] == "begin" and [s[0] for s in seen[1:]] == [0, 1]


# =========================================================================== compile
def test_optimizer_names_and_defaults():
    adam = keras.optimizers.Adam()
    assert adam.get_config()["epsilon"] == 1e-7
    assert adam.get_config()["learning_rate"] == pytest.approx(0.001)
    assert keras.optimizers.SGD().learning_rate == pytest.approx(0.01)
    assert keras.optimizers.RMSprop().learning_rate == pytest.approx(0.001)
    assert keras.optimizers.SGD(lr=0.5).learning_rate == pytest.approx(0.5)
    assert keras.optimizers.Adam(0.003).learning_rate == pytest.approx(0.003)
    for name, cls in [
        ("sgd", keras.optimizers.SGD),
        ("adam", keras.optimizers.Adam),
        ("rmsprop", keras.optimizers.RMSprop),
        ("adagrad", keras.optimizers.Adagrad),
        ("adamw", keras.optimizers.AdamW),
        ("nadam", keras.optimizers.Nadam),
        ("adamax", keras.optimizers.Adamax),
        ("adadelta", keras.optimizers.Adadelta),
    ]:
        model = _small_regressor()
        model.compile(optimizer=name, loss="mse")
        assert type(model.optimizer) is cls, name
    model = _small_regressor()
    model.compile(loss="mse")
    assert type(model.optimizer) is keras.optimizers.RMSprop  # Keras's default


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad", "nadam", "adamw"])
def test_every_optimizer_trains(optimizer):
    x, y = _regression_data()
    model = _small_regressor()
    model.compile(optimizer=optimizer, loss="mse")
    w0 = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert model.optimizer.iterations == 4
    assert any(not np.array_equal(a, b) for a, b in zip(w0, model.get_weights()))


def test_compile_with_objects_and_strings_agree():
    x, y = _regression_data()
    results = []
    for opt, loss in [("sgd", "mse"), (keras.optimizers.SGD(), keras.losses.MeanSquaredError())]:
        keras.utils.set_random_seed(3)
        model = _small_regressor()
        model.compile(
            optimizer=opt, loss=loss, metrics=["mae", keras.metrics.RootMeanSquaredError()]
        )
        h = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
        results.append(h)
        assert {"loss", "mae", "root_mean_squared_error"} <= set(h)
    np.testing.assert_allclose(results[0]["loss"], results[1]["loss"], rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs", [{"clipnorm": 1e-3}, {"clipvalue": 1e-4}, {"global_clipnorm": 1e-3}]
)
def test_gradient_clipping_in_training(kwargs):
    x, y = _regression_data()
    y = y * 100  # huge gradients
    model = _small_regressor()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0, **kwargs), loss="mse")
    w0 = model.get_weights()
    model.train_on_batch(x, y)
    deltas = [np.abs(a - b) for a, b in zip(model.get_weights(), w0)]
    if "clipvalue" in kwargs:
        assert max(d.max() for d in deltas) <= 1e-4 * (1 + 1e-3)
    elif "clipnorm" in kwargs:
        assert all(np.sqrt((d**2).sum()) <= 1e-3 * (1 + 1e-3) for d in deltas)
    else:
        assert np.sqrt(sum((d**2).sum() for d in deltas)) <= 1e-3 * (1 + 1e-3)
    assert max(d.max() for d in deltas) > 0


def test_learning_rate_schedule_in_training():
    x, y = _regression_data()
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=1, decay_rate=0.5, staircase=True
    )
    model = _small_regressor()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert model.optimizer.iterations == 4
    assert model.optimizer.learning_rate == pytest.approx(0.1 * 0.5**4)
    with pytest.raises(TypeError):
        model.optimizer.learning_rate = 0.3  # a schedule cannot be overwritten with a number


def _targets_for(loss, rng, n):
    if loss in ("sparse_categorical_crossentropy",):
        return rng.integers(0, 3, n), "softmax"
    if loss in ("categorical_crossentropy", "kl_divergence", "kld", "categorical_hinge"):
        return np.eye(3, dtype="float32")[rng.integers(0, 3, n)], "softmax"
    if loss in ("binary_crossentropy", "bce", "binary_focal_crossentropy"):
        return rng.integers(0, 2, (n, 3)).astype("float32"), "sigmoid"
    if loss in ("hinge", "squared_hinge"):
        return rng.choice([-1.0, 1.0], (n, 3)).astype("float32"), "tanh"
    if loss in ("poisson", "msle", "mean_squared_logarithmic_error", "mape"):
        return rng.random((n, 3)).astype("float32") + 0.5, "softplus"
    return rng.normal(size=(n, 3)).astype("float32"), None


LOSSES = [
    "mse", "mae", "mape", "msle", "mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber", "log_cosh",
    "logcosh", "binary_crossentropy", "bce", "binary_focal_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "kld",
    "poisson", "hinge", "squared_hinge", "categorical_hinge", "cosine_similarity",
    "MeanSquaredError", "Huber", "CategoricalCrossentropy",
]  # fmt: skip


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_string_works_in_fit(loss):
    rng = np.random.default_rng(0)
    n = 32
    y, activation = _targets_for(loss, rng, n)
    if loss == "CategoricalCrossentropy":
        y, activation = np.eye(3, dtype="float32")[rng.integers(0, 3, n)], "softmax"
    x = rng.normal(size=(n, 4, 2)).astype("float32")
    model = keras.Sequential(
        [keras.Input((4, 2)), layers.GRU(5), layers.Dense(3, activation=activation)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    w0 = model.get_weights()
    h = model.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert len(h["loss"]) == 2 and np.isfinite(h["loss"]).all(), h
    assert any(not np.array_equal(a, b) for a, b in zip(w0, model.get_weights()))
    # the string named the right loss: evaluate == that loss on the predictions
    fn = keras.losses.get(loss)
    pred = torch.from_numpy(model.predict(x, verbose=0))
    expected = float(torch.as_tensor(fn(torch.as_tensor(y), pred)).float().mean())
    assert model.evaluate(x, y, batch_size=n, verbose=0) == pytest.approx(
        expected, rel=1e-4, abs=1e-6
    )


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("binary", "BinaryAccuracy"),
        ("sparse", "SparseCategoricalAccuracy"),
        ("categorical", "CategoricalAccuracy"),
    ],
)
def test_accuracy_is_resolved_as_keras_does(kind, expected):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3, 2)).astype("float32")
    if kind == "binary":
        y = rng.integers(0, 2, (40, 1)).astype("float32")
        head, loss = layers.Dense(1, activation="sigmoid"), "binary_crossentropy"
    elif kind == "sparse":
        y = rng.integers(0, 4, 40)
        head, loss = layers.Dense(4, activation="softmax"), "sparse_categorical_crossentropy"
    else:
        y = np.eye(4, dtype="float32")[rng.integers(0, 4, 40)]
        head, loss = layers.Dense(4, activation="softmax"), "categorical_crossentropy"
    model = keras.Sequential([keras.Input((3, 2)), layers.LSTM(4), head])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    h = model.fit(x, y, batch_size=40, epochs=1, verbose=0).history
    acc_metric = next(m for m in model.metrics if m.name == "accuracy")
    assert type(acc_metric).__name__ == expected
    # evaluate's accuracy is that kind of accuracy of the predictions
    pred = model.predict(x, verbose=0)
    if kind == "binary":
        value = np.mean((pred > 0.5) == (y > 0.5))
    elif kind == "sparse":
        value = np.mean(pred.argmax(-1) == y)
    else:
        value = np.mean(pred.argmax(-1) == y.argmax(-1))
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(value)
    assert 0.0 <= h["accuracy"][0] <= 1.0


def test_auc_precision_recall_in_fit_logs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4, 1)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("float32")[:, None]
    model = keras.Sequential(
        [keras.Input((4, 1)), layers.SimpleRNN(4), layers.Dense(1, activation="sigmoid")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(), "precision", keras.metrics.Recall()],
    )
    h = model.fit(x, y, batch_size=16, epochs=4, validation_data=(x, y), verbose=0).history
    for key in ("auc", "precision", "recall", "val_auc", "val_precision", "val_recall"):
        assert key in h, sorted(h)
        assert all(0.0 <= v <= 1.0 for v in h[key])
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "accuracy", "auc", "precision", "recall"}
    assert result["auc"] == pytest.approx(h["val_auc"][-1])


def test_regularisation_losses_are_added_to_the_training_loss():
    x, y = _regression_data(n=16)
    reg = keras.Sequential(
        [
            keras.Input((None, 3)),
            layers.SimpleRNN(4, kernel_regularizer=keras.regularizers.L2(0.1)),
            layers.Dense(1, kernel_regularizer=keras.regularizers.L1(0.05)),
        ]
    )
    plain = keras.Sequential([keras.Input((None, 3)), layers.SimpleRNN(4), layers.Dense(1)])
    plain.set_weights(reg.get_weights())
    for m in (reg, plain):
        m.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    assert len(reg.losses) == 2 and plain.losses == []
    penalty = float(sum(r.detach() for r in reg.losses))
    rnn_kernel, dense_kernel = reg.layers[0].weights[0].detach(), reg.layers[1].weights[0].detach()
    expected = 0.1 * float((rnn_kernel**2).sum()) + 0.05 * float(dense_kernel.abs().sum())
    assert penalty == pytest.approx(expected, rel=1e-5)

    test_reg, test_plain = reg.test_on_batch(x, y), plain.test_on_batch(x, y)
    assert test_reg == pytest.approx(test_plain + penalty, rel=1e-5)
    # train_on_batch reports the loss of the step (before the update), penalty included
    train_reg, train_plain = reg.train_on_batch(x, y), plain.train_on_batch(x, y)
    assert train_reg == pytest.approx(test_plain + penalty, rel=1e-5)
    assert train_plain == pytest.approx(test_plain, rel=1e-5)
    # the penalty also shrinks the weights: the two models have diverged
    assert not np.allclose(reg.get_weights()[0], plain.get_weights()[0])


def test_regularizer_given_by_name():
    model = keras.Sequential(
        [keras.Input((None, 3)), layers.LSTM(2, recurrent_regularizer="l2"), layers.Dense(1)]
    )
    assert len(model.losses) == 1
    kernel = model.layers[0].weights[1].detach()
    assert float(model.losses[0].detach()) == pytest.approx(
        0.01 * float((kernel**2).sum()), rel=1e-5
    )


def test_regularizer_lowercase_aliases():
    assert isinstance(keras.regularizers.l2(0.1), keras.regularizers.L2)
    assert isinstance(keras.regularizers.l1(0.1), keras.regularizers.L1)
    assert isinstance(keras.regularizers.l1_l2(l1=0.1, l2=0.1), keras.regularizers.L1L2)


def _two_output_model():
    inp = keras.Input((None, 2), name="seq")
    h = layers.LSTM(6)(inp)
    a = layers.Dense(1, name="a")(h)
    b = layers.Dense(3, activation="softmax", name="b")(h)
    return keras.Model(inp, [a, b])


def test_loss_weights_for_two_outputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5, 2)).astype("float32")
    ya = rng.normal(size=(24, 1)).astype("float32")
    yb = rng.integers(0, 3, 24)
    model = _two_output_model()
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"])
    base = model.evaluate(x, [ya, yb], verbose=0, return_dict=True)
    pa, pb = model.predict(x, verbose=0)
    la = float(np.mean((pa - ya) ** 2))
    lb = float(np.mean(-np.log(pb[np.arange(24), yb])))
    assert base["loss"] == pytest.approx(la + lb, rel=1e-4)
    # each output's own (unweighted) loss is logged too, as "<output>_loss"
    assert base["a_loss"] == pytest.approx(la, rel=1e-4)
    assert base["b_loss"] == pytest.approx(lb, rel=1e-4)
    for weights in ([2.0, 0.5], {"a": 2.0, "b": 0.5}):
        model.compile(
            optimizer="sgd",
            loss={"a": "mse", "b": "sparse_categorical_crossentropy"},
            loss_weights=weights,
        )
        res = model.evaluate(x, [ya, yb], verbose=0, return_dict=True)
        assert res["loss"] == pytest.approx(2 * la + 0.5 * lb, rel=1e-4)
    model.compile(
        optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.0]
    )
    res = model.evaluate(x, [ya, yb], verbose=0, return_dict=True)
    assert res["loss"] == pytest.approx(la, rel=1e-4)
    h = model.fit(x, [ya, yb], epochs=1, verbose=0).history
    assert np.isfinite(h["loss"][0])


# =========================================================================== verbose output
def _fit_output(capsys, verbose, epochs=2, **fit_kwargs):
    x, y = _patterns(n=64)
    model = _lstm_classifier(units=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    capsys.readouterr()
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=verbose, **fit_kwargs)
    return capsys.readouterr()


def test_verbose_1_progress_bar(capsys):
    out = _fit_output(capsys, 1).out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "4/4" in out
    assert "loss:" in out and "accuracy:" in out


def test_verbose_2_one_line_per_epoch(capsys):
    out = _fit_output(capsys, 2, epochs=3, validation_data=_patterns(n=16, seed=1)).out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    step_lines = [ln for ln in lines if ln.startswith("4/4")]
    assert len(step_lines) == 3, out
    assert all("loss:" in ln and "accuracy:" in ln and "val_loss:" in ln for ln in step_lines)
    assert [ln for ln in lines if ln.startswith("Epoch")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]


def test_verbose_0_is_silent(capsys):
    captured = _fit_output(capsys, 0)
    assert captured.out == "" and captured.err == ""


def test_evaluate_and_predict_verbose(capsys):
    x, y = _patterns(n=40)
    model = _lstm_classifier(units=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    capsys.readouterr()
    model.evaluate(x, y, batch_size=10, verbose=2)
    out = capsys.readouterr().out
    assert "4/4" in out and "loss:" in out and "accuracy:" in out
    model.predict(x, batch_size=10, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""


# =========================================================================== seeds / devices
def _seeded_run(seed):
    keras.utils.set_random_seed(seed)
    x, y = _patterns(n=64)
    model = keras.Sequential(
        [keras.Input((None, 1)), layers.LSTM(4, dropout=0.2), layers.Dropout(0.3), layers.Dense(3)]
    )
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)  # shuffled, with dropout
    return model.get_weights()


def test_set_random_seed_makes_runs_identical():
    a, b, c = _seeded_run(7), _seeded_run(7), _seeded_run(8)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c))


def _cpu_bf16_lstm_kernel_works() -> bool:
    """Whether this CPU's fused LSTM kernel (oneDNN) runs under bfloat16 autocast."""
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(1, 2, batch_first=True)(torch.zeros(1, 2, 1))
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize(
    "rnn",
    [
        layers.LSTM,
        layers.GRU,
        layers.SimpleRNN,
    ],
    ids=["LSTM", "GRU", "SimpleRNN"],
)
def test_mixed_precision_bfloat16_on_cpu(rnn):
    x, y = _patterns(n=64)
    model = keras.Sequential(
        [keras.Input((None, 1)), rnn(8), layers.Dense(3, activation="softmax")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        mixed_precision="bfloat16",
    )
    h = model.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    assert np.isfinite(h["loss"]).all()
    assert h["loss"][-1] < h["loss"][0]
    assert all(w.dtype == np.float32 for w in model.get_weights())  # weights stay float32
    loss, acc = model.evaluate(x, y, verbose=0)
    assert np.isfinite(loss) and 0 <= acc <= 1


def test_mixed_precision_bfloat16_predict():
    x, _ = _patterns(n=16)
    model = keras.Sequential([keras.Input((None, 1)), layers.GRU(4), layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse", mixed_precision="bfloat16")
    out = model.predict(x, verbose=0)
    assert out.shape == (16, 3) and np.isfinite(out).all()
    assert model.predict_on_batch(x[:2]).shape == (2, 3)


def test_mixed_precision_unknown_policy():
    model = _small_regressor()
    with pytest.raises(ValueError, match="mixed_precision"):
        model.compile(loss="mse", mixed_precision="float8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_on_cuda():
    x, y = _patterns(n=128)
    model = _lstm_classifier(units=8).to("cuda")
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    h = model.fit(x, y, batch_size=32, epochs=3, validation_split=0.25, verbose=0).history
    assert h["loss"][-1] < h["loss"][0]
    assert all(p.device.type == "cuda" for p in model.parameters())
    pred = model.predict(x, verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (128, 3)
    assert isinstance(model.evaluate(x, y, verbose=0), list)
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", mixed_precision="float16"
    )
    assert np.isfinite(model.fit(x, y, epochs=1, verbose=0).history["loss"][0])


# =========================================================================== errors
def test_error_x_and_y_of_different_lengths():
    x, y = _regression_data(n=20)
    model = _small_regressor()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"same number of samples.*20.*19"):
        model.fit(x, y[:19], verbose=0)


def test_error_loss_does_not_fit_the_output_shape():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3, 2)), layers.LSTM(4), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"\(8, 3\)|\(8, 2\)|shape"):
        model.fit(x, rng.normal(size=(8, 3)).astype("float32"), verbose=0)


def test_error_fit_before_compile():
    x, y = _regression_data(n=8)
    model = _small_regressor()
    for call in (
        lambda: model.fit(x, y, verbose=0),
        lambda: model.evaluate(x, y, verbose=0),
        lambda: model.train_on_batch(x, y),
    ):
        with pytest.raises(RuntimeError, match="compile"):
            call()
    assert model.predict(x, verbose=0).shape == (8, 1)  # predict needs no compile


def test_error_wrong_number_of_input_arrays():
    a, b = keras.Input((4,)), keras.Input((2,))
    out = layers.Dense(1)(layers.Concatenate()([a, b]))
    model = keras.Model([a, b], out)
    model.compile(optimizer="sgd", loss="mse")
    x1, x2, y = (
        np.zeros((6, 4), "float32"),
        np.zeros((6, 2), "float32"),
        np.zeros((6, 1), "float32"),
    )
    with pytest.raises(ValueError, match=r"expects 2 input\(s\).*received 3"):
        model.fit([x1, x2, x2], y, verbose=0)
    with pytest.raises(ValueError, match=r"expects 2 input"):
        model.predict(x1, verbose=0)


def test_error_wrong_number_of_target_arrays():
    model = _two_output_model()
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((4, 3, 2), "float32")
    with pytest.raises(ValueError, match=r"2 output\(s\).*1 array"):
        model.fit(x, [np.zeros((4, 1), "float32")], verbose=0)


def test_error_compile_without_loss_then_fit():
    x, y = _regression_data(n=8)
    model = _small_regressor()
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="loss"):
        model.fit(x, y, verbose=0)


def test_error_unknown_optimizer_and_loss_names():
    model = _small_regressor()
    with pytest.raises(ValueError):
        model.compile(optimizer="no_such_optimizer", loss="mse")
    x, y = _regression_data(n=8)
    with pytest.raises(ValueError, match="no_such_loss"):
        model.compile(optimizer="sgd", loss="no_such_loss")
        model.fit(x, y, verbose=0)


def test_rnnkit_namespace_exports():
    assert rnnkit.Input is keras.models.Input
    assert rnnkit.callbacks.History is callbacks.History
    assert isinstance(rnnkit.__version__, str)


def test_calling_the_model_after_fit_is_inference():
    """After fit / train_on_batch, model(x) runs without dropout (Keras's default), like predict."""
    keras.utils.set_random_seed(0)
    x = np.random.rand(16, 6, 3).astype("float32")
    model = keras.Sequential([keras.Input((6, 3)), layers.LSTM(8), layers.Dropout(0.5), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((16, 2)), epochs=1, verbose=0)
    first, second = model(x).detach().numpy(), model(x).detach().numpy()
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, model.predict(x, verbose=0), rtol=1e-6)
    model.train_on_batch(x, np.zeros((16, 2)))
    np.testing.assert_array_equal(model(x).detach().numpy(), model(x).detach().numpy())
