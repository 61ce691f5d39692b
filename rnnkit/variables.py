"""``Variable``: a layer weight that is a ``torch.nn.Parameter`` and answers Keras's Variable API.

Every weight :meth:`rnnkit.layers.Layer.add_weight` creates is a :class:`Variable`. It is a
``torch.nn.Parameter`` in every respect (``torch.optim``, ``.to()``, ``state_dict``,
``copy.deepcopy``, autograd and the fused kernels see an ordinary Parameter: tensor operations on
it return plain tensors, with no ``__torch_function__`` overhead), and it adds what Keras programs
call on ``layer.weights[i]``: ``assign`` / ``assign_add`` / ``assign_sub`` (in place, outside
autograd), ``value``, ``numpy()``, ``path`` (``"lstm/lstm_cell/kernel"``) and ``trainable``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["Variable"]


class Variable(nn.Parameter):
    """A ``torch.nn.Parameter`` with Keras's Variable methods.

    Args:
        data: the initial tensor.
        requires_grad: as for ``torch.nn.Parameter`` (default True).

    >>> import torch
    >>> v = Variable(torch.zeros(2))
    >>> _ = v.assign([1.0, 2.0]); _ = v.assign_add(torch.ones(2)); _ = v.assign_sub([0.5, 0.5])
    >>> v.numpy().tolist(), v.trainable, isinstance(v, torch.nn.Parameter)
    ([1.5, 2.5], True, True)
    """

    def __new__(cls, data=None, requires_grad=True):
        return super().__new__(cls, data, requires_grad)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(memory_format=torch.preserve_format), self.requires_grad)
        result.__dict__.update(self.__dict__)  # name, path, trainable flag
        memo[id(self)] = result
        return result

    # ------------------------------------------------------------------ Keras's Variable API
    @property
    def path(self) -> str:
        """Where the weight lives: the enclosing layers' names and its own (``"lstm/lstm_cell/kernel"``)."""
        return self.__dict__.get("_rnnkit_path") or self.__dict__.get("_rnnkit_name", "variable")

    @property
    def trainable(self) -> bool:
        """Whether an optimizer should update it (setting False also stops its gradient)."""
        return bool(self.__dict__.get("_rnnkit_trainable", True))

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._rnnkit_trainable = bool(value)
        self.requires_grad_(bool(value) and self.is_floating_point())

    @property
    def value(self) -> torch.Tensor:
        """The tensor itself (as Keras's ``variable.value``; gradients flow through it)."""
        return self

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """A numpy copy of the current value (works on weights that require grad, on any device)."""
        return self.detach().cpu().numpy().copy()

    def __array__(self, dtype=None, copy=None):
        out = self.detach().cpu().numpy()
        return out.astype(dtype, copy=False) if dtype is not None else out

    def _coerce(self, value, what: str) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            t = value.detach()
        else:
            try:
                t = torch.as_tensor(np.asarray(value))
            except (TypeError, ValueError) as e:
                raise TypeError(
                    f"{what}: expected a tensor or array for variable {self.path!r}, received "
                    f"{type(value).__name__}"
                ) from e
        if tuple(t.shape) != tuple(self.shape):
            try:
                t = t.expand(self.shape)  # a scalar (or broadcastable) value fills the variable
            except RuntimeError:
                raise ValueError(
                    f"{what}: variable {self.path!r} has shape {tuple(self.shape)}, received a value "
                    f"of shape {tuple(t.shape)}"
                ) from None
        return t.to(dtype=self.dtype, device=self.device)

    def assign(self, value) -> Variable:
        """Set the value in place (outside autograd); returns the variable."""
        with torch.no_grad():
            self.copy_(self._coerce(value, "assign"))
        return self

    def assign_add(self, value) -> Variable:
        """Add ``value`` in place (outside autograd); returns the variable."""
        with torch.no_grad():
            self.add_(self._coerce(value, "assign_add"))
        return self

    def assign_sub(self, value) -> Variable:
        """Subtract ``value`` in place (outside autograd); returns the variable."""
        with torch.no_grad():
            self.sub_(self._coerce(value, "assign_sub"))
        return self

    def __repr__(self):
        return f"<Variable path={self.path}, shape={tuple(self.shape)}, dtype={self.dtype}, value={self.numpy()}>"
