"""Public optimizer API (``keras.optimizers``): see :mod:`rnnkit.training.optimizers`.

Learning-rate schedules live in ``rnnkit.optimizers.schedules`` (importable as a module too).

>>> import torch
>>> w = torch.nn.Parameter(torch.tensor([2.0]))
>>> opt = get("sgd")
>>> opt.learning_rate = schedules.ExponentialDecay(0.5, decay_steps=1, decay_rate=0.5)
>>> opt.apply_gradients([(torch.tensor([1.0]), w)])
>>> w.data, opt.learning_rate
(tensor([1.5000]), 0.25)
"""

import sys as _sys

from rnnkit.training import schedules
from rnnkit.training.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Nadam,
    Optimizer,
    RMSprop,
    deserialize,
    flatten_state,
    get,
    serialize,
    unflatten_state,
)
from rnnkit.training.schedules import LearningRateSchedule

# ``import rnnkit.optimizers.schedules`` / ``from rnnkit.optimizers.schedules import ...``
_sys.modules.setdefault(__name__ + ".schedules", schedules)

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "LearningRateSchedule",
    "get",
    "serialize",
    "deserialize",
    "flatten_state",
    "unflatten_state",
    "schedules",
]
