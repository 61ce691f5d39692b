"""Public callback API (``keras.callbacks``): see :mod:`rnnkit.training.callbacks`.

>>> history = History()
>>> cbs = CallbackList([history], verbose=0, epochs=1)
>>> cbs.on_train_begin(); cbs.on_epoch_end(0, {"loss": 0.25})
>>> history.history
{'loss': [0.25]}
"""

from rnnkit.training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
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
    "Progbar",
]
