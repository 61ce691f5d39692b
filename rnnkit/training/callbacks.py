"""Training callbacks with Keras 3 semantics (Keras module ``keras.callbacks``).

The model interface callbacks rely on (anything providing it works, e.g. a small fake in tests):

* ``model.stop_training`` -- bool attribute the training loop checks after each batch/epoch;
* ``model.get_weights()`` -> list of arrays, ``model.set_weights(list)``
  (EarlyStopping with ``restore_best_weights``);
* ``model.save(filepath)`` / ``model.save_weights(filepath)`` (ModelCheckpoint);
* ``model.optimizer.learning_rate`` -- a float that can be read and assigned
  (ReduceLROnPlateau, LearningRateScheduler);
* optionally ``model.metrics`` -- objects with ``name`` and ``_direction`` ("up"/"down") used
  by ``mode="auto"``; otherwise names containing "acc", "auc", "precision", "recall", "f1" or
  "iou" are maximized and everything else minimized;
* ``model.history`` is set to the :class:`History` callback.

Hooks receive ``logs`` dicts of floats; :class:`CallbackList` turns tensor / numpy scalars into
Python floats in place before dispatching. Printing goes to ``sys.stdout``.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import io
import math
import numbers
import os
import shutil
import sys
import tempfile
import warnings

from rnnkit.saving.atomic import atomic_write
from rnnkit.training.progress import Progbar

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "CSVLogger",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "TerminateOnNaN",
    "LambdaCallback",
]

_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end", "on_batch_begin", "on_batch_end",
)  # fmt: skip


def _print(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _scalar(value):
    """Tensor / numpy scalars -> Python float; anything else unchanged."""
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Real):
        return float(value) if not isinstance(value, int) else value
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    if getattr(value, "ndim", None) == 0 or getattr(value, "shape", None) in ((), (1,)):
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    return value


def _monitor_mode(monitor: str, mode: str, model, who: str) -> str:
    """Resolve ``mode`` ("auto"/"min"/"max") for ``monitor`` to "min" or "max"."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who} mode must be 'auto', 'min' or 'max', received mode={mode!r}")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    with contextlib.suppress(Exception):
        for metric in getattr(model, "metrics", None) or ():
            direction = getattr(metric, "_direction", None)
            if getattr(metric, "name", None) == name and direction in ("up", "down"):
                return "max" if direction == "up" else "min"
    if "loss" in name:
        return "min"
    if any(tag in name for tag in ("acc", "auc", "precision", "recall", "f1", "fmeasure", "iou")):
        return "max"
    return "min"


def _missing_monitor(who: str, monitor: str, logs) -> None:
    available = ",".join(logs or {})
    warnings.warn(
        f"{who} is conditioned on metric `{monitor}` which is not available. "
        f"Available metrics are: {available}",
        stacklevel=3,
    )


class Callback:
    """Base class: override any of the ``on_*`` hooks; ``self.model``/``self.params`` are set.

    >>> class Count(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print("epoch", epoch, logs)
    >>> Count().on_epoch_end(0, {"loss": 0.5})
    epoch 0 {'loss': 0.5}
    """

    def __init__(self):
        self.params: dict = {}
        self._model = None

    @property
    def model(self):
        return self._model

    @model.setter
    def model(self, model):
        self._model = model

    def set_model(self, model):
        self._model = model

    def set_params(self, params):
        self.params = params

    def on_batch_begin(self, batch, logs=None):
        """Legacy alias called by :meth:`on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """Legacy alias called by :meth:`on_train_batch_end`."""

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


class History(Callback):
    """Records epoch logs in ``history`` (name -> list) and ``epoch``; sets ``model.history``.

    >>> h = History()
    >>> h.on_train_begin()
    >>> h.on_epoch_end(0, {"loss": 1.0}); h.on_epoch_end(1, {"loss": 0.5})
    >>> h.history, h.epoch
    ({'loss': [1.0, 0.5]}, [0, 1])
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints "Epoch i/n" (when n > 1) and a :class:`Progbar` per epoch, with the epoch logs.

    Reads ``verbose``, ``epochs`` and ``steps`` from ``params``. As in Keras, batch-log values
    are averaged over the epoch's steps unless named in ``stateful_metrics``.

    >>> cb = ProgbarLogger()
    >>> cb.set_params({"verbose": 2, "epochs": 2, "steps": 2})
    >>> cb.on_epoch_begin(0)
    Epoch 1/2
    >>> cb.on_train_batch_end(0, {"loss": 1.0}); cb.on_train_batch_end(1, {"loss": 0.5})
    >>> cb.on_epoch_end(0, {"loss": 0.75, "val_loss": 0.9})
    2/2 - 0s - ...s/step - loss: 0.7500 - val_loss: 0.9000
    """

    def __init__(self, stateful_metrics=None):
        super().__init__()
        self.stateful_metrics = stateful_metrics
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.seen = 0
        self.progbar = None
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs") or 1
        self.target = params.get("steps")

    def _reset(self):
        if self.progbar is not None:
            self.progbar.close()
        self.seen = 0
        self.progbar = None

    def _progbar(self):
        if self.progbar is None:
            self.progbar = Progbar(
                self.target, verbose=self.verbose, stateful_metrics=self.stateful_metrics
            )
        return self.progbar

    def _update(self, batch, logs):
        self.seen = batch + 1
        if self.verbose == 1:
            self._progbar().update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs):
        bar = self._progbar()
        target = self.target if self.target is not None else self.seen
        bar.update(target, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # validation inside fit stays silent

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            _print(f"Epoch {epoch + 1}/{self.epochs}")
        self._progbar()

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()
            self._progbar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        self._reset()
        self._progbar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finalize(None)

    def on_train_end(self, logs=None):
        self._called_in_fit = False


class CallbackList(Callback):
    """Dispatches every hook to a list of callbacks, optionally adding History / ProgbarLogger.

    >>> seen = []
    >>> cbs = CallbackList([LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))],
    ...                    add_history=True, epochs=1, steps=3, verbose=0)
    >>> cbs.on_train_begin(); cbs.on_epoch_end(0, {"loss": 0.1}); cbs.on_train_end()
    >>> seen, cbs.history.history
    ([0], {'loss': [0.1]})
    """

    def __init__(
        self,
        callbacks=None,
        model=None,
        add_history=False,
        add_progbar=False,
        verbose=1,
        epochs=None,
        steps=None,
        **params,
    ):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"CallbackList expected Callback instances, received {type(cb).__name__}"
                )
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self.progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and self.progbar is None:
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        self.set_params({"verbose": verbose, "epochs": epochs, "steps": steps, **params})
        if model is not None:
            self.set_model(model)

    def append(self, callback):
        self.callbacks.append(callback)
        callback.set_params(self.params)
        if self.model is not None:
            callback.set_model(self.model)

    def set_model(self, model):
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def _call(self, hook, *args, logs=None):
        if logs is None:
            logs = {}
        for key, value in logs.items():
            logs[key] = _scalar(value)
        batch_hook = "batch" in hook
        for cb in self.callbacks:
            if batch_hook:
                getattr(cb, hook)(*args, logs=logs)
            else:  # Keras passes epoch / begin / end logs positionally
                getattr(cb, hook)(*args, logs)


def _make_dispatcher(hook, batch_arg):
    if batch_arg:

        def dispatch(self, step, logs=None):
            self._call(hook, step, logs=logs)
    else:

        def dispatch(self, logs=None):
            self._call(hook, logs=logs)

    dispatch.__name__ = hook
    dispatch.__doc__ = f"Call ``{hook}`` on every callback."
    return dispatch


for _hook in _HOOKS:
    _takes_step = "batch" in _hook or "epoch" in _hook
    setattr(CallbackList, _hook, _make_dispatcher(_hook, _takes_step))


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving for ``patience`` epochs.

    Keras 3 behaviour: an epoch counts as an improvement when the value beats the best so far
    by more than ``min_delta``; ``wait`` only resets when it also beats ``baseline`` (if given);
    epochs before ``start_from_epoch`` are ignored; stopping needs ``epoch > 0``. With
    ``restore_best_weights=True`` the best epoch's weights are restored in ``on_train_end``
    whether training stopped early or ran all its epochs (as Keras 3 does).

    >>> class M:
    ...     stop_training = False
    >>> es = EarlyStopping(monitor="loss", patience=1)
    >>> es.set_model(M()); es.on_train_begin()
    >>> for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.7]):
    ...     es.on_epoch_end(epoch, {"loss": loss})
    ...     if es.model.stop_training:
    ...         break
    >>> es.model.stop_training, es.stopped_epoch, es.best
    (True, 2, 0.5)
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                f"EarlyStopping mode must be 'auto', 'min' or 'max', received {mode!r}"
            )
        if not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"EarlyStopping patience must be an int >= 0, received {patience!r}")
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._direction = None
        self.on_train_begin()

    def _better(self, value, reference) -> bool:
        if reference is None:
            return True
        if self._direction == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self._direction is None:
            self._direction = _monitor_mode(self.monitor, self.mode, self.model, "EarlyStopping")
        current = (logs or {}).get(self.monitor)
        if current is None:
            _missing_monitor("Early stopping", self.monitor, logs)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or its weights) every epoch or every ``save_freq`` batches.

    ``filepath`` may hold ``str.format`` fields filled from ``epoch`` (1-based), ``batch`` and
    the logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``. The save goes to a temporary
    file beside the target (same name suffix, so format detection by extension still works)
    which then replaces the target in one ``os.replace``: if ``model.save`` raises, the
    previous checkpoint is left untouched and the error propagates.

    >>> import os, tempfile
    >>> class M:
    ...     def save(self, path):
    ...         open(path, "w").write("model")
    >>> d = tempfile.mkdtemp()
    >>> cb = ModelCheckpoint(os.path.join(d, "m-{epoch:02d}-{val_loss:.2f}.keras"))
    >>> cb.set_model(M())
    >>> cb.on_epoch_end(0, {"val_loss": 0.123})
    >>> os.listdir(d)
    ['m-01-0.12.keras']
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ModelCheckpoint mode must be 'auto', 'min' or 'max', got {mode!r}")
        if save_freq != "epoch" and not (
            isinstance(save_freq, numbers.Integral)
            and not isinstance(save_freq, bool)
            and save_freq > 0
        ):
            raise ValueError(
                f"Unrecognized save_freq: expected 'epoch' or an int > 0, received {save_freq!r}"
            )
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = mode
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self._direction = None
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen_since_last_saving += 1
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _get_file_path(self, epoch, batch, logs):
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in fields:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as e:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {e!r}; '
                f"available fields: {sorted(fields)}"
            ) from e

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if os.path.isdir(filepath):
            raise OSError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is "
                f"an existing directory: {filepath}"
            )
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            self._atomic_save(filepath)
            return
        if self._direction is None:
            self._direction = _monitor_mode(self.monitor, self.mode, self.model, "ModelCheckpoint")
        current = logs.get(self.monitor)
        if current is None:
            _missing_monitor("ModelCheckpoint (save_best_only)", self.monitor, logs)
            return
        better = self.best is None or (
            current < self.best if self._direction == "min" else current > self.best
        )
        if better:
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                _print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self._atomic_save(filepath)
            self.best = current
        elif self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")

    def _atomic_save(self, filepath):
        directory = os.path.dirname(os.path.abspath(filepath))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=".tmp-", suffix="-" + os.path.basename(filepath), dir=directory
        )
        os.close(fd)
        os.remove(tmp)  # the saver creates it (some savers refuse to overwrite)
        save = self.model.save_weights if self.save_weights_only else self.model.save
        try:
            save(tmp)
            if not os.path.exists(tmp):
                raise OSError(f"{save.__qualname__}({tmp!r}) returned without writing that path")
            if os.path.isdir(tmp) and os.path.isdir(filepath):
                old = tmp + ".old"
                os.replace(filepath, old)
                os.replace(tmp, filepath)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, filepath)
        except BaseException:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            elif os.path.exists(tmp):
                os.remove(tmp)
            raise


class CSVLogger(Callback):
    """Stream epoch results to a CSV file: ``epoch`` first, then the sorted log keys.

    As in Keras, if the first epoch has no ``val_*`` keys, ``val_`` columns are added for every
    key (filled with "NA"). The file is rewritten atomically after every epoch, so it is
    always complete. With ``append=True`` existing rows are kept and, when the file already has
    a header starting with ``epoch``, its columns are reused (missing values become "NA").

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> cb = CSVLogger(path)
    >>> cb.on_train_begin()
    >>> cb.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75}); cb.on_train_end()
    >>> print(open(path).read())
    epoch,loss,val_loss
    0,0.5,0.75
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger separator must be one character, received {separator!r}")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self._text = ""

    def on_train_begin(self, logs=None):
        self.keys = None
        self._text = ""
        self._existing_fields = None
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self._text = f.read()
            if self._text and not self._text.endswith("\n"):
                self._text += "\n"  # an interrupted last line stays on its own line
            first = next(csv.reader(io.StringIO(self._text), delimiter=self.sep), None)
            if first and first[0] == "epoch":
                self._existing_fields = first
        else:
            with atomic_write(self.filename, "w") as f:
                f.write("")

    def _row_text(self, row) -> str:
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.sep, lineterminator="\n").writerow(row)
        return buf.getvalue()

    @staticmethod
    def _value(value):
        if isinstance(value, str):
            return value
        if isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) > 0:
            items = value.tolist() if hasattr(value, "tolist") else list(value)
            return f"[{', '.join(map(str, items))}]"
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            if self._existing_fields is not None:
                self.keys = self._existing_fields[1:]
                dropped = sorted(set(logs) - set(self.keys))
                if dropped:
                    warnings.warn(
                        f"CSVLogger is appending to {self.filename!r} whose header has no "
                        f"columns for {dropped}; those values are not logged",
                        stacklevel=2,
                    )
            else:
                self.keys = sorted(logs)
                if self.keys and not any(k.startswith("val_") for k in self.keys):
                    self.keys += ["val_" + k for k in self.keys]
                self._text += self._row_text(["epoch", *self.keys])
        row = [epoch, *(self._value(_scalar(logs.get(k, "NA"))) for k in self.keys)]
        self._text += self._row_text(row)
        with atomic_write(self.filename, "w") as f:
            f.write(self._text)

    def on_train_end(self, logs=None):
        self.keys = None


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    After a reduction, ``cooldown`` epochs pass before waiting starts again; the rate never
    goes below ``min_lr``. Adds ``learning_rate`` to the epoch logs.

    >>> class Opt:
    ...     learning_rate = 1.0
    >>> class M:
    ...     optimizer = Opt()
    >>> cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
    >>> cb.set_model(M()); cb.on_train_begin()
    >>> for epoch, loss in enumerate([1.0, 1.0, 1.0]):
    ...     cb.on_epoch_end(epoch, {"loss": loss})
    >>> M.optimizer.learning_rate
    0.25
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        super().__init__()
        if kwargs:
            raise ValueError(f"ReduceLROnPlateau got unexpected arguments {sorted(kwargs)}")
        if not factor < 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ReduceLROnPlateau mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._reset()

    def _reset(self):
        self._direction = None
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        if self._direction is None:
            self._direction = _monitor_mode(
                self.monitor, self.mode, self.model, "ReduceLROnPlateau"
            )
            self.best = math.inf if self._direction == "min" else -math.inf
        current = logs.get(self.monitor)
        if current is None:
            _missing_monitor("Learning rate reduction", self.monitor, logs)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._direction == "min":
            improved = current < self.best - self.min_delta
        else:
            improved = current > self.best + self.min_delta
        if improved:
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > self.min_lr:
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        _print(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                            f"{new_lr}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start from ``schedule(epoch)`` or ``schedule(epoch, lr)``.

    >>> class Opt:
    ...     learning_rate = 0.1
    >>> class M:
    ...     optimizer = Opt()
    >>> cb = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    >>> cb.set_model(M()); cb.on_epoch_begin(0)
    >>> M.optimizer.learning_rate
    0.05
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler expects a callable, received {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self._two_args = self._takes_two_args(schedule)

    @staticmethod
    def _takes_two_args(fn):
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            return None  # unknown: try (epoch, lr) then (epoch)
        if any(p.kind == p.VAR_POSITIONAL for p in params):
            return True
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return len(positional) >= 2

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = float(optimizer.learning_rate)
        if self._two_args is None:
            try:
                new_lr = self.schedule(epoch, lr)
            except TypeError:
                new_lr = self.schedule(epoch)
        else:
            new_lr = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        new_lr = _scalar(new_lr)
        if isinstance(new_lr, bool) or not isinstance(new_lr, numbers.Real):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {new_lr!r}"
            )
        optimizer.learning_rate = float(new_lr)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new_lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Set ``model.stop_training`` when a batch's ``loss`` is NaN or infinite.

    >>> class M:
    ...     stop_training = False
    >>> cb = TerminateOnNaN(); cb.set_model(M())
    >>> cb.on_train_batch_end(3, {"loss": float("nan")})
    Batch 3: Invalid loss, terminating training
    >>> cb.model.stop_training
    True
    """

    def on_batch_end(self, batch, logs=None):
        loss = _scalar((logs or {}).get("loss"))
        if isinstance(loss, float) and (math.isnan(loss) or math.isinf(loss)):
            _print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback built from plain functions, one per hook (any ``on_*`` hook name is accepted).

    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: print("done", epoch))
    >>> cb.on_epoch_end(4, {})
    done 4
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise TypeError(f"LambdaCallback got an unknown hook {name!r}; known: {_HOOKS}")
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback {name} must be callable, received {fn!r}")
                setattr(self, name, fn)
