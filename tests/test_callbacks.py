"""Callbacks driven by hand with a fake model, and the Progbar output."""

import csv
import os

import numpy as np
import pytest

from rnnkit import callbacks
from rnnkit.callbacks import Progbar


class FakeOptimizer:
    def __init__(self, lr=0.1):
        self.learning_rate = lr


class FakeModel:
    """The model interface callbacks rely on."""

    def __init__(self):
        self.stop_training = False
        self.weights = [np.array([0.0])]
        self.optimizer = FakeOptimizer()
        self.fail = False
        self.saves = 0

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def _write(self, path, kind):
        self.saves += 1
        with open(path, "w") as f:
            f.write(f"{kind} {self.saves}")
            if self.fail:
                f.write(" partial")
                raise OSError("disk full")

    def save(self, filepath):
        self._write(filepath, "model")

    def save_weights(self, filepath):
        self._write(filepath, "weights")


def _fit(cb, values, key="val_loss", model=None, weights_follow=True):
    """Drive epoch hooks; the model's weight equals the epoch index."""
    model = model or FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        cb.on_epoch_begin(epoch)
        if weights_follow:
            model.weights = [np.array([float(epoch)])]
        cb.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    cb.on_train_end()
    return model, epochs


def test_early_stopping_patience():
    es = callbacks.EarlyStopping(patience=2)
    model, epochs = _fit(es, [1.0, 0.9, 0.95, 0.92, 0.5])
    assert model.stop_training and epochs == 4 and es.stopped_epoch == 3
    assert es.best == 0.9


def test_early_stopping_min_delta_and_max_mode():
    es = callbacks.EarlyStopping(monitor="val_acc", min_delta=0.1, patience=1)
    model, epochs = _fit(es, [0.5, 0.55, 0.58, 0.9], key="val_acc")  # auto -> max
    assert model.stop_training and epochs == 2  # +0.05 is not an improvement
    es = callbacks.EarlyStopping(monitor="score", mode="max", patience=0)
    model, epochs = _fit(es, [1.0, 2.0, 1.5], key="score")
    assert epochs == 3 and es.best == 2.0
    with pytest.raises(ValueError, match="mode"):
        callbacks.EarlyStopping(mode="lowest")


def test_early_stopping_baseline():
    # Improvements that do not beat the baseline do not reset the wait (Keras 3).
    es = callbacks.EarlyStopping(patience=2, baseline=0.5)
    model, epochs = _fit(es, [0.9, 0.8, 0.85, 0.7])
    assert model.stop_training and epochs == 3
    es = callbacks.EarlyStopping(patience=2)
    model, epochs = _fit(es, [0.9, 0.8, 0.85, 0.7])
    assert not model.stop_training and epochs == 4


def test_early_stopping_start_from_epoch():
    es = callbacks.EarlyStopping(patience=0, start_from_epoch=2)
    model, epochs = _fit(es, [0.1, 0.2, 0.3, 0.4])
    assert epochs == 4 and es.best == 0.3  # epochs 0, 1 ignored; stops at epoch 3


def test_early_stopping_restores_best_weights(capsys):
    es = callbacks.EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    model, _ = _fit(es, [1.0, 0.2, 0.5, 0.6])
    assert model.weights[0][0] == 1.0  # weights of epoch 1
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out and "best epoch: 2" in out
    # Keras 3 also restores when training ends without stopping early.
    es = callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    model, epochs = _fit(es, [1.0, 0.2, 0.5])
    assert epochs == 3 and not model.stop_training and model.weights[0][0] == 1.0


def test_missing_monitor_warns_with_available_keys():
    es = callbacks.EarlyStopping(monitor="val_loss")
    es.set_model(FakeModel())
    with pytest.warns(UserWarning, match="Available metrics are: loss,acc"):
        es.on_epoch_end(0, {"loss": 1.0, "acc": 0.5})


def test_model_checkpoint_formats_and_saves_best_only(tmp_path, capsys):
    path = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.keras")
    cb = callbacks.ModelCheckpoint(path, save_best_only=True, verbose=1)
    _fit(cb, [0.5, 0.7, 0.25])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01-0.50.keras", "ckpt-03-0.25.keras"]
    out = capsys.readouterr().out
    assert "val_loss did not improve from 0.50000" in out
    assert "val_loss improved from 0.50000 to 0.25000" in out


def test_model_checkpoint_weights_only_every_epoch(tmp_path):
    path = str(tmp_path / "w.weights.h5")
    cb = callbacks.ModelCheckpoint(path, save_weights_only=True)
    model, _ = _fit(cb, [0.5, 0.7])
    assert open(path).read() == "weights 2"
    assert os.listdir(tmp_path) == ["w.weights.h5"]


def test_model_checkpoint_initial_threshold_and_save_freq(tmp_path):
    path = str(tmp_path / "m-{epoch}-{batch}.keras")
    cb = callbacks.ModelCheckpoint(path, save_freq=2)
    cb.set_model(FakeModel())
    cb.on_epoch_begin(0)
    for batch in range(5):
        cb.on_train_batch_end(batch, {"loss": 1.0})
    cb.on_epoch_end(0, {"loss": 1.0})
    assert sorted(os.listdir(tmp_path)) == ["m-1-2.keras", "m-1-4.keras"]
    cb = callbacks.ModelCheckpoint(
        str(tmp_path / "best.keras"), save_best_only=True, initial_value_threshold=0.3
    )
    _fit(cb, [0.5, 0.4])
    assert not os.path.exists(tmp_path / "best.keras")
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint("x.keras", save_freq="batch")


def test_model_checkpoint_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "model.keras"
    cb = callbacks.ModelCheckpoint(str(path))
    model = FakeModel()
    cb.set_model(model)
    cb.on_epoch_end(0, {"val_loss": 1.0})
    assert path.read_text() == "model 1"
    model.fail = True
    with pytest.raises(OSError, match="disk full"):
        cb.on_epoch_end(1, {"val_loss": 0.5})
    assert path.read_text() == "model 1"
    assert os.listdir(tmp_path) == ["model.keras"]  # no temporary left behind


def test_model_checkpoint_bad_format_field(tmp_path):
    cb = callbacks.ModelCheckpoint(str(tmp_path / "{nope}.keras"))
    cb.set_model(FakeModel())
    with pytest.raises(KeyError, match="nope"):
        cb.on_epoch_end(0, {"val_loss": 1.0})


def _read_csv(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_logger_contents(tmp_path):
    path = tmp_path / "log.csv"
    cb = callbacks.CSVLogger(str(path), separator=";")
    cb.on_train_begin()
    cb.on_epoch_end(0, {"val_loss": 0.5, "loss": 1.0, "acc": 0.25})
    cb.on_epoch_end(1, {"val_loss": 0.4, "loss": 0.75, "acc": 0.5})
    cb.on_train_end()
    assert _read_csv(path, ";") == [
        ["epoch", "acc", "loss", "val_loss"],
        ["0", "0.25", "1.0", "0.5"],
        ["1", "0.5", "0.75", "0.4"],
    ]


def test_csv_logger_adds_val_columns_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    cb = callbacks.CSVLogger(str(path))
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 1.0})
    cb.on_train_end()
    assert _read_csv(path) == [["epoch", "loss", "val_loss"], ["0", "1.0", "NA"]]
    cb = callbacks.CSVLogger(str(path), append=True)
    cb.on_train_begin()
    cb.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.6})
    cb.on_train_end()
    assert _read_csv(path) == [
        ["epoch", "loss", "val_loss"],
        ["0", "1.0", "NA"],
        ["1", "0.5", "0.6"],
    ]
    callbacks.CSVLogger(str(path)).on_train_begin()  # append=False truncates
    assert path.read_text() == ""


def test_reduce_lr_on_plateau():
    model = FakeModel()
    cb = callbacks.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.02)
    cb.set_model(model)
    cb.on_train_begin()
    lrs = []
    for epoch, loss in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": loss}
        cb.on_epoch_end(epoch, logs)
        lrs.append(model.optimizer.learning_rate)
        assert "learning_rate" in logs
    # reduce at epoch 1, cooldown epoch 2, reduce at 3, cooldown 4, reduce to min_lr at 5
    # (as in Keras, the cooldown counter is decremented before it is checked)
    assert lrs == pytest.approx([0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02])
    with pytest.raises(ValueError, match="factor"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_min_delta():
    model = FakeModel()
    cb = callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=0.1)
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 1.0})
    cb.on_epoch_end(1, {"loss": 0.95})  # not enough of an improvement
    assert model.optimizer.learning_rate == pytest.approx(0.01)


def test_learning_rate_scheduler_both_signatures(capsys):
    model = FakeModel()
    cb = callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1), verbose=1)
    cb.set_model(model)
    cb.on_epoch_begin(1)
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    assert "LearningRateScheduler setting learning rate to 0.05" in capsys.readouterr().out

    def halve(epoch, lr):
        return lr * 0.5

    cb = callbacks.LearningRateScheduler(halve)
    cb.set_model(model)
    cb.on_epoch_begin(2)
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    logs = {}
    cb.on_epoch_end(2, logs)
    assert logs["learning_rate"] == pytest.approx(0.025)
    cb = callbacks.LearningRateScheduler(lambda epoch: "fast")
    cb.set_model(model)
    with pytest.raises(ValueError, match="float"):
        cb.on_epoch_begin(0)


def test_terminate_on_nan():
    model = FakeModel()
    cb = callbacks.TerminateOnNaN()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    cb.on_train_batch_end(1, {"loss": np.float32("inf")})
    assert model.stop_training


def test_lambda_callback_and_callback_list():
    calls = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_batch_end=lambda batch, logs: calls.append(("batch", batch)),
        on_test_end=lambda logs: calls.append("test_end"),
    )
    model = FakeModel()
    cbs = callbacks.CallbackList([cb], model=model, add_history=True, verbose=0, epochs=2, steps=2)
    assert cb.model is model and cb.params["epochs"] == 2
    cbs.on_train_begin()
    for epoch in range(2):
        cbs.on_epoch_begin(epoch)
        for batch in range(2):
            cbs.on_train_batch_begin(batch)
            cbs.on_train_batch_end(batch, {"loss": np.float64(0.5)})
        cbs.on_test_begin()
        cbs.on_test_end({"loss": 0.1})
        cbs.on_epoch_end(epoch, {"loss": np.float32(1.0 / (epoch + 1))})
    cbs.on_train_end()
    assert calls[0] == "train_begin" and ("batch", 1) in calls and "test_end" in calls
    assert calls[-1] == ("epoch_end", 1, 0.5)
    assert type(calls[-1][2]) is float
    assert model.history is cbs.history
    assert cbs.history.history == {"loss": [1.0, 0.5]} and cbs.history.epoch == [0, 1]
    with pytest.raises(TypeError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_finish=print)
    with pytest.raises(TypeError, match="Callback"):
        callbacks.CallbackList([print])


def test_legacy_on_batch_end_alias():
    seen = []

    class Legacy(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)

    callbacks.CallbackList([Legacy()]).on_train_batch_end(7, {})
    assert seen == [7]


def test_progbar_verbose_0(capsys):
    bar = Progbar(3, verbose=0)
    for i in range(1, 4):
        bar.update(i, [("loss", 1.0)])
    assert capsys.readouterr().out == ""


def test_progbar_verbose_1_live_bar(capsys):
    bar = Progbar(50, verbose=1, non_tty_interval=0)
    for i in range(1, 13):
        bar.update(i, [("loss", 0.5), ("accuracy", 0.9)])
    out = capsys.readouterr().out
    assert "12/50" in out and "ETA" in out and "loss: 0.5000 - accuracy: 0.9000" in out


def test_progbar_verbose_1(capsys):
    bar = Progbar(50, verbose=1)
    for i in range(1, 13):
        bar.update(i, [("loss", 0.5), ("accuracy", 0.9)])
    out = capsys.readouterr().out
    assert out.count("\r") <= 2  # not a TTY: tqdm throttles redraws, no flooding
    for i in range(13, 51):
        bar.update(i, [("loss", 0.5), ("accuracy", 0.9)])
    out = capsys.readouterr().out
    assert "50/50" in out and "loss: 0.5000 - accuracy: 0.9000" in out
    assert out.endswith("\n") and "/step" in out
    assert out.count("\n") == 1


def test_progbar_running_average_and_unknown_target(capsys):
    bar = Progbar(None, verbose=1, stateful_metrics=["acc"])
    bar.update(1, {"loss": 1.0, "acc": 0.1})
    bar.update(3, {"loss": 4.0, "acc": 0.7}, finalize=False)
    bar.update(3, {"val_loss": 2.0}, finalize=True)
    out = capsys.readouterr().out
    # loss averaged over steps: (1*1 + 4*2) / 3 = 3; acc is stateful
    assert "3/3" in out and "loss: 3.0000" in out and "acc: 0.7000" in out
    assert "val_loss: 2.0000" in out


def test_progbar_verbose_2(capsys):
    bar = Progbar(4, verbose=2)
    for i in range(1, 4):
        bar.update(i, [("loss", float(i))])
    assert capsys.readouterr().out == ""
    bar.update(4, [("loss", 4.0), ("val_loss", 0.123)])
    out = capsys.readouterr().out
    assert out.startswith("4/4 - ") and out.count("\n") == 1
    assert "loss: 4.0000 - val_loss: 0.1230" in out


def test_progbar_logger(capsys):
    logger = callbacks.ProgbarLogger()
    cbs = callbacks.CallbackList([logger], verbose=1, epochs=2, steps=3)
    cbs.on_train_begin()
    for epoch in range(2):
        cbs.on_epoch_begin(epoch)
        for batch in range(3):
            cbs.on_train_batch_end(batch, {"loss": 0.25})
        cbs.on_epoch_end(epoch, {"loss": 0.25, "val_loss": 0.5})
    cbs.on_train_end()
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "3/3" in out and "loss: 0.2500 - val_loss: 0.5000" in out
    assert out.index("Epoch 1/2") < out.index("3/3") < out.index("Epoch 2/2")


def test_progbar_rejects_bad_input():
    with pytest.raises(ValueError, match="verbose"):
        Progbar(3, verbose=3)
    with pytest.raises(ValueError, match="target"):
        Progbar(-1)
