"""Optimizer state in Keras 3's layout: the ``optimizer/vars/<i>`` group of ``model.weights.h5``.

Keras lists an optimizer's variables as ``iterations``, ``learning_rate`` and then its slots,
one per trainable variable of the model (in ``model.trainable_variables`` order), created
per variable and interleaved when a method has several: Adam writes ``momentum, velocity`` for
the first weight, then for the second, ... (AMSGrad's ``velocity_hat`` list follows them all).

rnnkit's optimizers run ``torch.optim``; their per-parameter state holds the same quantities
under torch's names, mapped here in both directions:

========================  =======================================  ===========================
rnnkit / Keras optimizer  Keras slots (per weight)                 torch state
========================  =======================================  ===========================
Adam, AdamW               momentum, velocity (+ velocity_hat)      exp_avg, exp_avg_sq (+ max)
SGD (momentum > 0)        momentum = -learning_rate * buffer       momentum_buffer
SGD (no momentum)         none                                     none
RMSprop (plain)           velocity                                 square_avg
========================  =======================================  ===========================

Other optimizers, schedules as learning rates, and RMSprop with momentum or ``centered`` are
not mapped: their files carry the compile config only, and Keras starts their state afresh.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["keras_optimizer_arrays", "load_keras_optimizer_arrays"]


def _kind(opt) -> str | None:
    name = type(opt).__name__
    if not isinstance(getattr(opt, "_learning_rate", None), float):
        return None
    if name in ("Adam", "AdamW"):
        return name
    if name == "SGD":
        return "SGD"
    if name == "RMSprop" and not getattr(opt, "momentum", 0) and not getattr(opt, "centered", False):
        return "RMSprop"
    return None


def _slots(opt, kind) -> list[list[str]]:
    """Keras's slot lists, in the order Keras creates them; each entry names the torch key."""
    if kind in ("Adam", "AdamW"):
        lists = [["exp_avg", "exp_avg_sq"]]
        if getattr(opt, "amsgrad", False):
            lists.append(["max_exp_avg_sq"])
        return lists
    if kind == "SGD":
        return [["momentum_buffer"]] if opt.momentum else []
    return [["square_avg"]]  # RMSprop


def _trainable(model) -> list[torch.nn.Parameter]:
    return list(model.trainable_weights)


def keras_optimizer_arrays(model) -> list[np.ndarray] | None:
    """``model.optimizer``'s state as Keras 3 lists its variables, or ``None`` when not mapped.

    >>> from rnnkit.models import Sequential, Input
    >>> from rnnkit.layers import Dense
    >>> model = Sequential([Input(shape=(3,)), Dense(2)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> [a.shape for a in keras_optimizer_arrays(model)]
    [(), (), (3, 2), (3, 2), (2,), (2,)]
    """
    opt = getattr(model, "optimizer", None)
    kind = None if opt is None else _kind(opt)
    if kind is None:
        return None
    state = {} if opt.torch_optimizer is None else opt.torch_optimizer.state
    lr = opt._learning_rate
    weights = _trainable(model)
    out = [np.asarray(opt.iterations, dtype="int32"), np.asarray(opt.learning_rate, dtype="float32")]
    for keys in _slots(opt, kind):
        for w in weights:
            per = state.get(w, {})
            for key in keys:
                value = per.get(key)
                arr = np.zeros(tuple(w.shape), "float32") if value is None else value.detach().cpu().float().numpy()
                if kind == "SGD":  # Keras keeps the velocity (-lr * buffer) itself
                    arr = -lr * arr
                out.append(arr.astype("float32"))
    return out


def load_keras_optimizer_arrays(model, arrays: list[np.ndarray]) -> bool:
    """Set ``model.optimizer``'s state from Keras's optimizer variables; False if not mapped.

    The optimizer is built over the model's trainable weights (as ``fit`` builds it) and each
    weight's torch state is filled in; counts and shapes must match or nothing is changed.
    """
    opt = getattr(model, "optimizer", None)
    kind = None if opt is None else _kind(opt)
    if kind is None:
        return False
    weights = _trainable(model)
    slots = _slots(opt, kind)
    per_weight = sum(len(k) for k in slots)
    if len(arrays) != 2 + per_weight * len(weights):
        return False
    values = iter(arrays[2:])
    table: dict[int, dict[str, np.ndarray]] = {id(w): {} for w in weights}
    for keys in slots:
        for w in weights:
            for key in keys:
                arr = np.asarray(next(values))
                if tuple(arr.shape) != tuple(w.shape):
                    return False
                table[id(w)][key] = arr
    opt.build([p for p in model.parameters() if p.requires_grad])
    step = int(np.asarray(arrays[0]))
    lr = opt._learning_rate
    for w in weights:
        state = {}
        for key, arr in table[id(w)].items():
            t = torch.as_tensor(np.ascontiguousarray(arr), dtype=w.dtype, device=w.device)
            state[key] = -t / lr if kind == "SGD" and lr else t
        if kind != "SGD":
            state["step"] = torch.tensor(float(step))
        if state:
            opt.torch_optimizer.state[w] = state
    opt.iterations = step
    return True
