"""Models: ``Sequential``, functional ``Model(inputs, outputs)``, subclassed models; loading."""

from rnnkit.layers.input_layer import Input, InputLayer
from rnnkit.layers.symbolic import KerasTensor
from rnnkit.models.cloning import clone_model
from rnnkit.models.model import Model
from rnnkit.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by ``model.save`` or a Keras 3 ``.keras`` file (see
    :func:`rnnkit.saving.load_model`)."""
    from rnnkit.models.model import _saving

    return _saving("load_model")(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


__all__ = ["Input", "InputLayer", "KerasTensor", "Model", "Sequential", "clone_model", "load_model"]
