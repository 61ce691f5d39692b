"""Compatibility path: the Keras operation nodes now live in :mod:`rnnkit.layers.keras_ops` (the
layers' symbolic tensors record them too, and the layers sit below saving).

>>> from rnnkit.saving.keras_ops import KerasOp
>>> KerasOp.__module__
'rnnkit.layers.keras_ops'
"""

from rnnkit.layers.keras_ops import (
    KerasOp,
    UnsupportedOpError,
    is_keras_op_dict,
    op_from_dict,
    supported_ops,
)

__all__ = ["KerasOp", "UnsupportedOpError", "is_keras_op_dict", "op_from_dict", "supported_ops"]
