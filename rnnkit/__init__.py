"""rnnkit: Keras's recurrent-neural-network system, rebuilt natively on PyTorch.

``import rnnkit as keras`` and the programs of the Keras RNN tutorials run on PyTorch.
"""

from rnnkit import (
    activations,
    backend,
    callbacks,
    compat,
    config,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    utils,
)
from rnnkit.models import Input, Model, Sequential, load_model
from rnnkit.saving import model_config as _model_config  # noqa: F401  (registers saving with models)
from rnnkit.variables import Variable

__version__ = "0.1.0"

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "Variable",
    "activations",
    "backend",
    "callbacks",
    "compat",
    "config",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "preprocessing",
    "random",
    "regularizers",
    "saving",
    "utils",
]
