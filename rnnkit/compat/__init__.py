"""Compatibility layers for code written against older TensorFlow APIs (``rnnkit.compat.v1``)."""

from rnnkit.compat import v1

__all__ = ["v1"]
