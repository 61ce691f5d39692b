"""TF1 compatibility: ``rnnkit.compat.v1.nn`` mirrors ``tf.compat.v1.nn``'s recurrent API.

Swap ``import tensorflow as tf`` for ``import rnnkit.compat.v1 as tf`` and TF1 code such as
``tf.nn.rnn_cell.LSTMCell(...)`` with ``tf.nn.dynamic_rnn(...)`` runs on PyTorch.
``variable_scope`` is a no-op context manager (variables belong to the cell objects) and
``float32`` / ``float64`` are the torch dtypes.

>>> import torch
>>> import rnnkit.compat.v1 as tf
>>> with tf.variable_scope("rnn"):
...     cell = tf.nn.rnn_cell.LSTMCell(3, use_peepholes=True)
...     out, state = tf.nn.dynamic_rnn(cell, torch.ones(2, 4, 5), dtype=tf.float32)
>>> out.shape
torch.Size([2, 4, 3])
"""

import contextlib

import torch

from rnnkit.compat.v1 import nn, rnn_cell

float16, float32, float64 = torch.float16, torch.float32, torch.float64


@contextlib.contextmanager
def variable_scope(name_or_scope=None, default_name=None, reuse=None, **kwargs):
    """No-op stand-in for TF1's ``variable_scope`` (rnnkit cells own their variables).

    >>> with variable_scope("encoder", reuse=True):
    ...     pass
    """
    yield name_or_scope or default_name


__all__ = ["float16", "float32", "float64", "nn", "rnn_cell", "variable_scope"]
