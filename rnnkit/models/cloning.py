"""``clone_model``: a new model with the same architecture and freshly initialised weights."""

from __future__ import annotations

__all__ = ["clone_model"]


def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A copy of ``model``'s architecture with new weights (Keras's ``keras.models.clone_model``).

    The clone is rebuilt from ``model.get_config()`` (Sequential, functional and subclassed
    models, custom layers and cells included: their constructor arguments are recorded
    automatically when they have no ``get_config``); its weights are newly initialised, as in
    Keras. Copy them with ``clone.set_weights(model.get_weights())``.

    Args:
        model: the model (or a single layer) to clone.
        input_tensors, clone_function: Keras's options for rewiring a clone; not supported here.

    >>> import rnnkit
    >>> m = rnnkit.Sequential([rnnkit.Input(shape=(5, 3)), rnnkit.layers.LSTM(4)])
    >>> c = clone_model(m)
    >>> c is not m, [w.shape for w in c.get_weights()] == [w.shape for w in m.get_weights()]
    (True, True)
    """
    if input_tensors is not None or clone_function is not None or kwargs:
        given = [k for k, v in {"input_tensors": input_tensors, "clone_function": clone_function, **kwargs}.items()
                 if v is not None]
        raise NotImplementedError(
            f"clone_model: {given} are not supported; rnnkit clones a model from its config only"
        )
    config = model.get_config()
    return type(model).from_config(config)
