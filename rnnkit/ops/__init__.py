"""``rnnkit.ops``: the Keras 3 ``keras.ops`` functions RNN programs use, on torch tensors.

A Keras 3 program writes its own cells and glue with ``from keras import ops``
(``ops.matmul(inputs, self.kernel)``, ``ops.split(z, 4, axis=-1)``, ``ops.convert_to_numpy(...)``);
after ``import rnnkit as keras`` the same lines run here, on torch tensors, with Keras's
semantics (NumPy-style arguments: ``axis``, ``keepdims``, ``indices_or_sections``; indices and
``arange`` of ints are ``int32``; Python floats become ``floatx()``). Each function takes
torch tensors, rnnkit ``Variable`` s, NumPy arrays and Python numbers, and returns torch tensors
(``convert_to_numpy`` excepted), differentiable wherever torch is.

Called on a symbolic tensor (``rnnkit.Input(...)`` and what layers make of it), a function
records a node in the functional graph, as Keras does, so ``ops.expand_dims(inputs, -1)``
between layers builds a model. Most become the Keras operation node Keras itself writes
(``ExpandDims``, ``Mean``, ``Concatenate``, arithmetic, ... ``rnnkit.ops._base._KERAS_NODES``), so the model
saves to a ``.keras`` file that Keras 3 loads; the others (``split``, ``pad``, ``take``, control
flow, ...) run, train and save their weights, and saving the architecture says it cannot.
Operators on symbolic tensors (``x[:, -1]``, ``x * 2``, ``-x``, ``x > 0``) make Keras nodes too.

Where Keras 3.15's torch backend departs from NumPy, the reference its docs name, rnnkit
follows NumPy (tested): ``pad(mode="symmetric")``, ``take`` of negative indices with
``axis=None`` and weighted ``average`` (1-D weights along an axis; ``axis=None``).

This is the subset of ``keras.ops`` (Keras 3.15) found in recurrent programs, not all of it; a
name that is missing raises ``AttributeError`` naming this module. Control flow (``cond``,
``fori_loop``, ``while_loop``, ``scan``) runs eagerly in Python.

>>> import torch
>>> from rnnkit import ops
>>> z = ops.matmul(torch.ones(2, 3), torch.ones(3, 8))
>>> i, f, g, o = ops.split(z, 4, axis=-1)
>>> tuple(i.shape), ops.convert_to_numpy(ops.sum(g)).item()
((2, 2), 12.0)
"""

from __future__ import annotations

from rnnkit.ops import core, manipulation, nn, numpy
from rnnkit.ops.core import *  # noqa: F403
from rnnkit.ops.manipulation import *  # noqa: F403
from rnnkit.ops.nn import *  # noqa: F403
from rnnkit.ops.numpy import *  # noqa: F403

__all__ = sorted([*core.__all__, *numpy.__all__, *manipulation.__all__, *nn.__all__])


def __getattr__(name):
    raise AttributeError(
        f"rnnkit.ops has no {name!r}: it holds the subset of keras.ops that recurrent programs use "
        f"(see rnnkit.ops.__all__); use the torch function instead"
    )
