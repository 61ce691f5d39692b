"""Models: ``Sequential``, functional ``Model(inputs, outputs)``, subclassed models; loading."""

from rnnkit.models.cloning import clone_model
from rnnkit.models.model import Model
from rnnkit.models.sequential import Sequential
from rnnkit.models.symbolic import Input, KerasTensor


def load_model(filepath, custom_objects=None, compile=True):
    """Load a model saved by ``model.save`` or a Keras 3 ``.keras`` file."""
    from rnnkit.saving import native

    return native.load_model(filepath, custom_objects=custom_objects, compile=compile)


__all__ = ["Input", "KerasTensor", "Model", "Sequential", "clone_model", "load_model"]
