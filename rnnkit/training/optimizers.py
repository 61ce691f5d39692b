"""Keras-shaped optimizers (Keras module ``keras.optimizers``) driving ``torch.optim``.

Each :class:`Optimizer` keeps Keras 3's names, arguments, defaults and configs, and creates the
matching ``torch.optim`` optimizer lazily in :meth:`Optimizer.build` once parameters are known.
All parameter updates are done by ``torch.optim``; this layer adds Keras's gradient clipping,
Keras's (decoupled) weight decay, learning-rate schedules, the ``iterations`` counter, configs
and a pickle-free state format.

Where the math differs from Keras (the torch update rule is used as is):

* ``Adam``/``AdamW``/``Nadam``/``Adamax``/``RMSprop``/``Adagrad``: ``epsilon`` is passed as
  torch's ``eps``. Keras's Adam adds epsilon to ``sqrt(v)`` *before* bias correction
  (torch: after), so Keras's epsilon is effectively ``epsilon / sqrt(1 - beta_2**t)`` in torch
  terms; Keras's RMSprop and Adagrad put epsilon *inside* the square root (torch: outside);
  Keras's Adamax adds epsilon after the infinity-norm max (torch: inside the max). With
  ``epsilon=1e-7`` the updates agree to within ~1e-7 relative unless gradients are tiny.
* ``SGD``/``RMSprop`` momentum: Keras accumulates ``lr * grad`` in the velocity, torch
  accumulates ``grad`` and multiplies by the current lr, so the two agree exactly while the
  learning rate is constant and differ slightly right after it changes.
* ``Nadam``: torch's ``momentum_decay=0.004`` is Keras's fixed 0.004 momentum schedule; same
  math. ``Adadelta`` and ``Adagrad``'s ``initial_accumulator_value`` map one to one.
* ``weight_decay`` is Keras's decoupled decay ``w -= lr * weight_decay * w`` before the update
  for every optimizer (not torch's L2 term): torch's ``AdamW``/``Adam(decoupled_weight_decay)``
  /``NAdam(decoupled_weight_decay)`` do exactly this; for the others it is applied here.
* ``clipnorm``/``global_clipnorm`` use ``torch.nn.utils.clip_grad_norm_``, whose divisor is
  ``norm + 1e-6`` (Keras: ``norm``). As in Keras 3, only one clipping applies: ``clipnorm``,
  else ``global_clipnorm``, else ``clipvalue``.
"""

from __future__ import annotations

import copy
import inspect
import numbers

import torch

from rnnkit.saving.object_registry import deserialize_keras_object, serialize_keras_object
from rnnkit.training import schedules as schedules_module
from rnnkit.training.schedules import LearningRateSchedule

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "get",
    "serialize",
    "deserialize",
    "flatten_state",
    "unflatten_state",
]

_MODULE = "keras.optimizers"
_IGNORED_CONFIG_KEYS = ("is_legacy_optimizer", "jit_compile")


def _opt_number(name, value, *, low=0.0, high=None):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a number or None, received {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"Argument `{name}` must be {bounds}, received {name}={value!r}")
    return float(value)


_STATE_FORMAT = "rnnkit.optimizer_state.v1"


def flatten_state(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer ``state_dict()`` into ``(tensors, meta)`` without pickle.

    ``tensors`` maps ``"/"``-joined paths (e.g. ``"torch/state/0/exp_avg"``) to tensors, ready
    for safetensors. ``meta`` is JSON-able: ``{"format": "rnnkit.optimizer_state.v1",
    "state": ...}`` where ``state`` is the state dict with each tensor replaced by
    ``{"__tensor__": path}``, each tuple by ``{"__tuple__": [...]}`` and each int-keyed dict
    (torch's per-parameter ``state``) by ``{"__intkeys__": {"0": ...}}``.

    >>> tensors, meta = flatten_state({"iterations": 2, "torch": {"state": {0: {"m": torch.ones(2)}}}})
    >>> list(tensors), meta["state"]["torch"]["state"]
    (['torch/state/0/m'], {'__intkeys__': {'0': {'m': {'__tensor__': 'torch/state/0/m'}}}})
    >>> unflatten_state(tensors, meta)["torch"]["state"][0]["m"]
    tensor([1., 1.])
    """
    tensors: dict[str, torch.Tensor] = {}

    def encode(value, path):
        where = "/".join(path) or "<root>"
        if isinstance(value, torch.Tensor):
            tensors[where] = value.detach().contiguous()
            return {"__tensor__": where}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, tuple):
            return {"__tuple__": [encode(v, [*path, str(i)]) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [encode(v, [*path, str(i)]) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {k: encode(v, [*path, k]) for k, v in value.items()}
            if all(isinstance(k, int) and not isinstance(k, bool) for k in value):
                return {
                    "__intkeys__": {str(k): encode(v, [*path, str(k)]) for k, v in value.items()}
                }
            raise TypeError(f"Optimizer state dict at {where!r} mixes key types: {list(value)}")
        if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
            return value.item()
        raise TypeError(
            f"Optimizer state at {where!r} holds a {type(value).__name__}; expected tensors, "
            "numbers, strings, None, lists, tuples or dicts"
        )

    return tensors, {"format": _STATE_FORMAT, "state": encode(state, [])}


def unflatten_state(tensors: dict, meta: dict) -> dict:
    """Inverse of :func:`flatten_state`: the state dict to pass to ``load_state_dict``."""
    if not isinstance(meta, dict) or meta.get("format") != _STATE_FORMAT:
        raise ValueError(
            f"Expected optimizer-state meta with format {_STATE_FORMAT!r}, received "
            f"{meta.get('format') if isinstance(meta, dict) else type(meta).__name__!r}"
        )

    def decode(value):
        if isinstance(value, list):
            return [decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"__tensor__"}:
            key = value["__tensor__"]
            if key not in tensors:
                raise ValueError(f"Optimizer state refers to tensor {key!r}, missing from tensors")
            return tensors[key]
        if set(value) == {"__tuple__"}:
            return tuple(decode(v) for v in value["__tuple__"])
        if set(value) == {"__intkeys__"}:
            return {int(k): decode(v) for k, v in value["__intkeys__"].items()}
        return {k: decode(v) for k, v in value.items()}

    return decode(meta["state"])


class Optimizer:
    """Base class: a Keras optimizer whose updates are done by a lazily built ``torch.optim``.

    Subclasses set ``_torch_class`` and implement ``_torch_kwargs()`` / ``_hyper_config()``.
    Use :meth:`build` (or :meth:`apply_gradients`), then ``loss.backward()`` and :meth:`step`.

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = SGD(learning_rate=0.1)
    >>> opt.build([w])
    >>> (w ** 2).sum().backward()
    >>> opt.step()
    >>> w.data, opt.iterations
    (tensor([0.8000]), 1)
    """

    _torch_class: type[torch.optim.Optimizer] | None = None
    _torch_decouples_weight_decay = False

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        if "lr" in kwargs:  # tutorial-era spelling
            lr = kwargs.pop("lr")
            default = self._default_learning_rate()
            if learning_rate is not default:
                raise ValueError(
                    "Pass the learning rate once: received both learning_rate="
                    f"{learning_rate!r} and its alias lr={lr!r}"
                )
            learning_rate = lr
        self.decay = _opt_number("decay", kwargs.pop("decay", None) or 0.0)  # Keras 2 decay
        for key in _IGNORED_CONFIG_KEYS:
            kwargs.pop(key, None)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized by {type(self).__name__}: {kwargs}")
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(
                "Only one of `clipnorm` and `global_clipnorm` can be set. Received: "
                f"clipnorm={clipnorm}, global_clipnorm={global_clipnorm}"
            )
        if use_ema or gradient_accumulation_steps or loss_scale_factor is not None:
            raise NotImplementedError(
                "rnnkit optimizers do not support use_ema, gradient_accumulation_steps or "
                f"loss_scale_factor; received use_ema={use_ema!r}, gradient_accumulation_steps="
                f"{gradient_accumulation_steps!r}, loss_scale_factor={loss_scale_factor!r}"
            )
        self.name = name or type(self).__name__.lower()
        self.weight_decay = _opt_number("weight_decay", weight_decay)
        self.clipnorm = _opt_number("clipnorm", clipnorm)
        self.clipvalue = _opt_number("clipvalue", clipvalue)
        self.global_clipnorm = _opt_number("global_clipnorm", global_clipnorm)
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self._iterations = 0
        self._torch_optimizer: torch.optim.Optimizer | None = None
        self._pending_state: dict | None = None
        self._learning_rate = None
        self.learning_rate = learning_rate

    @classmethod
    def _default_learning_rate(cls):
        try:
            param = inspect.signature(cls.__init__).parameters.get("learning_rate")
        except (TypeError, ValueError):
            return None
        return None if param is None else param.default

    # ----------------------------------------------------------------- learning rate
    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            value = lr(self._iterations)
        elif callable(lr):
            value = lr()
        else:
            value = lr
        value = float(value)
        if self.decay:
            value = value / (1.0 + self.decay * self._iterations)
        return value

    def _sync_learning_rate(self):
        if self._torch_optimizer is not None:
            lr = self._current_learning_rate()
            for group in self._torch_optimizer.param_groups:
                group["lr"] = lr

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule is evaluated at ``iterations``)."""
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or (
            callable(value) and not isinstance(value, torch.Tensor)
        ):
            self._learning_rate = value
        else:
            if isinstance(self._learning_rate, LearningRateSchedule):
                raise TypeError(
                    "This optimizer was created with a LearningRateSchedule as its learning "
                    "rate, so the learning rate cannot be set to a number; create the optimizer "
                    f"with a float learning_rate instead (received {value!r})"
                )
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    "learning_rate must be a float, a LearningRateSchedule or a callable, "
                    f"received {type(value).__name__}: {value!r}"
                ) from None
            if isinstance(value, bool) or not number >= 0:
                raise ValueError(f"learning_rate must be a number >= 0, received {value!r}")
            self._learning_rate = number
        self._sync_learning_rate()

    lr = learning_rate

    @property
    def iterations(self) -> int:
        """Number of steps taken so far (Keras's ``optimizer.iterations``)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"iterations must be an int >= 0, received {value!r}")
        self._iterations = int(value)
        self._sync_learning_rate()

    # ----------------------------------------------------------------- building
    @property
    def built(self) -> bool:
        return self._torch_optimizer is not None

    @property
    def torch_optimizer(self) -> torch.optim.Optimizer | None:
        """The underlying ``torch.optim`` optimizer (``None`` until :meth:`build`)."""
        return self._torch_optimizer

    def _torch_kwargs(self) -> dict:
        return {}

    def _hyper_config(self) -> dict:
        return {}

    def build(self, params) -> None:
        """Create the torch optimizer over ``params`` (tensors, param-group dicts or a Module).

        Calling it again once built does nothing. The optimizer's learning rate is written to
        every param group (a per-group ``"lr"`` is overridden).
        """
        if self._torch_optimizer is not None:
            return
        if isinstance(params, torch.nn.Module):
            params = [p for p in params.parameters() if p.requires_grad]
        elif isinstance(params, torch.Tensor):
            params = [params]
        params = list(params)
        if not params:
            raise ValueError("Optimizer.build expected a non-empty list of parameters, received []")
        kwargs = self._torch_kwargs()
        kwargs["lr"] = self._current_learning_rate()
        self._torch_optimizer = self._torch_class(params, **kwargs)
        if self._pending_state is not None:
            pending, self._pending_state = self._pending_state, None
            self._torch_optimizer.load_state_dict(pending)
        self._sync_learning_rate()

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self._torch_optimizer.param_groups for p in g["params"]]

    # ----------------------------------------------------------------- stepping
    def _clip_gradients(self, params):
        if self.clipnorm:
            for p in params:
                torch.nn.utils.clip_grad_norm_([p], self.clipnorm)
        elif self.global_clipnorm:
            torch.nn.utils.clip_grad_norm_(params, self.global_clipnorm)
        elif self.clipvalue:
            torch.nn.utils.clip_grad_value_(params, self.clipvalue)

    def step(self) -> None:
        """Clip the built parameters' ``.grad``, run the torch step, advance ``iterations``."""
        if self._torch_optimizer is None:
            raise RuntimeError(
                f"{type(self).__name__} is not built: call build(params) or apply_gradients() "
                "before step()"
            )
        self._sync_learning_rate()
        with_grad = [p for p in self._params() if p.grad is not None]
        self._clip_gradients(with_grad)
        if self.weight_decay and not self._torch_decouples_weight_decay:
            factor = 1.0 - self._current_learning_rate() * self.weight_decay
            with torch.no_grad():
                for p in with_grad:
                    p.mul_(factor)
        self._torch_optimizer.step()
        self._iterations += 1
        self._sync_learning_rate()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of the built parameters."""
        if self._torch_optimizer is not None:
            self._torch_optimizer.zero_grad(set_to_none=set_to_none)

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras-style update from ``[(grad, param), ...]``; builds over the params if needed.

        Only the given parameters are updated; ``None`` gradients are skipped.
        """
        pairs = []
        for item in grads_and_vars:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(
                    f"apply_gradients expected (gradient, parameter) pairs, got {item!r}"
                )
            grad, param = item
            if not isinstance(param, torch.Tensor):
                raise TypeError(f"Expected a torch Parameter, received {type(param).__name__}")
            if grad is not None:
                grad = torch.as_tensor(grad, dtype=param.dtype, device=param.device)
                if grad.shape != param.shape:
                    raise ValueError(
                        f"Gradient shape {tuple(grad.shape)} does not match parameter shape "
                        f"{tuple(param.shape)}"
                    )
            pairs.append((grad, param))
        if not pairs:
            return
        self.build([p for _, p in pairs])
        known = {id(p) for p in self._params()}
        unknown = [tuple(p.shape) for _, p in pairs if id(p) not in known]
        if unknown:
            raise ValueError(
                f"apply_gradients received parameters (shapes {unknown}) that this optimizer "
                "was not built with"
            )
        for p in self._params():
            p.grad = None
        for grad, param in pairs:
            param.grad = None if grad is None else grad.detach().clone()
        self.step()

    def apply(self, grads, trainable_variables) -> None:
        """Keras 3 ``optimizer.apply(grads, trainable_variables)``."""
        self.apply_gradients(zip(grads, trainable_variables))

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """``{"iterations": int, "learning_rate": float | None, "torch": dict | None}``.

        ``torch`` is a deep copy of ``torch_optimizer.state_dict()`` (``None`` before build);
        ``learning_rate`` is ``None`` when a schedule or callable drives it.
        """
        lr = self._learning_rate
        return {
            "iterations": self._iterations,
            "learning_rate": lr if isinstance(lr, float) else None,
            "torch": None
            if self._torch_optimizer is None
            else copy.deepcopy(self._torch_optimizer.state_dict()),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (before build it is applied at build time)."""
        if not isinstance(state, dict) or not {"iterations", "torch"} <= set(state):
            raise ValueError(
                "Expected an optimizer state dict with keys 'iterations' and 'torch', received "
                f"{sorted(state) if isinstance(state, dict) else type(state).__name__}"
            )
        self._iterations = int(state["iterations"])
        lr = state.get("learning_rate")
        if lr is not None and not callable(self._learning_rate):
            self._learning_rate = float(lr)
        if state["torch"] is not None:
            if self._torch_optimizer is None:
                self._pending_state = state["torch"]
            else:
                self._torch_optimizer.load_state_dict(state["torch"])
        self._sync_learning_rate()

    def flatten_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """:meth:`state_dict` as ``(tensors, meta)`` for safetensors + JSON; see ``flatten_state``."""
        return flatten_state(self.state_dict())

    unflatten_state = staticmethod(unflatten_state)

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules_module.serialize(lr)
        elif callable(lr):
            lr = serialize_keras_object(lr)
        config = {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": False,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
        }
        if self.decay:
            config["decay"] = self.decay
        config.update(self._hyper_config())
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_module.deserialize(
                config["learning_rate"], custom_objects=custom_objects
            )
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate:g}>"


def _betas(beta_1, beta_2):
    return _opt_number("beta_1", beta_1, high=1.0), _opt_number("beta_2", beta_2, high=1.0)


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, run by ``torch.optim.SGD``.

    >>> opt = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    >>> opt.build([torch.nn.Parameter(torch.zeros(2))])
    >>> opt.torch_optimizer.defaults["momentum"], opt.get_config()["nesterov"]
    (0.9, True)
    """

    _torch_class = torch.optim.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = _opt_number("momentum", momentum, high=1.0)
        self.nesterov = bool(nesterov)

    def _torch_kwargs(self):
        # torch refuses nesterov without momentum; Keras then just does plain SGD.
        return {"momentum": self.momentum, "nesterov": self.nesterov and self.momentum > 0}

    def _hyper_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (optionally AMSGrad), run by ``torch.optim.Adam``.

    >>> opt = Adam(learning_rate=0.01)
    >>> opt.build([torch.nn.Parameter(torch.zeros(2))])
    >>> opt.torch_optimizer.defaults["betas"], opt.torch_optimizer.defaults["eps"]
    ((0.9, 0.999), 1e-07)
    """

    _torch_class = torch.optim.Adam
    _torch_decouples_weight_decay = True

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        name="adam",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2 = _betas(beta_1, beta_2)
        self.epsilon = _opt_number("epsilon", epsilon)
        self.amsgrad = bool(amsgrad)

    def _torch_kwargs(self):
        kwargs = {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "amsgrad": self.amsgrad}
        if self.weight_decay:
            kwargs.update(weight_decay=self.weight_decay, decoupled_weight_decay=True)
        return kwargs

    def _hyper_config(self):
        return {
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay, run by ``torch.optim.AdamW``.

    >>> AdamW().get_config()["weight_decay"]
    0.004
    """

    _torch_class = torch.optim.AdamW

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        name="adamw",
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("AdamW requires a float `weight_decay`, received weight_decay=None")
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            name=name,
            weight_decay=weight_decay,
            **kwargs,
        )

    def _torch_kwargs(self):
        return {
            "betas": (self.beta_1, self.beta_2),
            "eps": self.epsilon,
            "amsgrad": self.amsgrad,
            "weight_decay": self.weight_decay,
        }


class RMSprop(Optimizer):
    """RMSprop (``rho`` is torch's ``alpha``), optionally centered, run by ``torch.optim.RMSprop``.

    >>> opt = RMSprop(rho=0.8, centered=True)
    >>> opt.build([torch.nn.Parameter(torch.zeros(2))])
    >>> opt.torch_optimizer.defaults["alpha"], opt.torch_optimizer.defaults["centered"]
    (0.8, True)
    """

    _torch_class = torch.optim.RMSprop

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        name="rmsprop",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = _opt_number("rho", rho, high=1.0)
        self.momentum = _opt_number("momentum", momentum)
        self.epsilon = _opt_number("epsilon", epsilon)
        self.centered = bool(centered)

    def _torch_kwargs(self):
        return {
            "alpha": self.rho,
            "eps": self.epsilon,
            "momentum": self.momentum,
            "centered": self.centered,
        }

    def _hyper_config(self):
        return {
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """Adagrad with Keras's initial accumulator 0.1, run by ``torch.optim.Adagrad``.

    >>> opt = Adagrad()
    >>> opt.build([torch.nn.Parameter(torch.zeros(2))])
    >>> opt.torch_optimizer.defaults["initial_accumulator_value"]
    0.1
    """

    _torch_class = torch.optim.Adagrad

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        name="adagrad",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = _opt_number(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = _opt_number("epsilon", epsilon)

    def _torch_kwargs(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "eps": self.epsilon}

    def _hyper_config(self):
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class Adadelta(Optimizer):
    """Adadelta (same update as Keras), run by ``torch.optim.Adadelta``.

    >>> Adadelta().get_config()["rho"]
    0.95
    """

    _torch_class = torch.optim.Adadelta

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name="adadelta", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = _opt_number("rho", rho, high=1.0)
        self.epsilon = _opt_number("epsilon", epsilon)

    def _torch_kwargs(self):
        return {"rho": self.rho, "eps": self.epsilon}

    def _hyper_config(self):
        return {"rho": self.rho, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm), run by ``torch.optim.Adamax``.

    >>> Adamax().get_config()["beta_2"]
    0.999
    """

    _torch_class = torch.optim.Adamax

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="adamax", **kwargs
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2 = _betas(beta_1, beta_2)
        self.epsilon = _opt_number("epsilon", epsilon)

    def _torch_kwargs(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}

    def _hyper_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Nesterov Adam with Keras's 0.004 momentum schedule, run by ``torch.optim.NAdam``.

    >>> opt = Nadam()
    >>> opt.build([torch.nn.Parameter(torch.zeros(2))])
    >>> opt.torch_optimizer.defaults["momentum_decay"]
    0.004
    """

    _torch_class = torch.optim.NAdam
    _torch_decouples_weight_decay = True

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="nadam", **kwargs
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2 = _betas(beta_1, beta_2)
        self.epsilon = _opt_number("epsilon", epsilon)

    _hyper_config = Adamax._hyper_config

    def _torch_kwargs(self):
        kwargs = {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "momentum_decay": 0.004}
        if self.weight_decay:
            kwargs.update(weight_decay=self.weight_decay, decoupled_weight_decay=True)
        return kwargs


_CLASSES = (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam)
_OBJECTS = {cls.__name__: cls for cls in (Optimizer, *_CLASSES)}
_OBJECTS.update({cls.__name__.lower(): cls for cls in _CLASSES})


def serialize(optimizer) -> dict:
    """An optimizer in Keras's dict form.

    >>> serialize(Adam())["class_name"]
    'Adam'
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"Expected an rnnkit Optimizer, received {type(optimizer).__name__}")
    return serialize_keras_object(optimizer, module=_MODULE)


def deserialize(config, custom_objects=None) -> Optimizer:
    """Rebuild an optimizer from Keras's dict form (class names are matched case-insensitively).

    >>> deserialize({"class_name": "RMSprop", "config": {"learning_rate": 0.01}}).learning_rate
    0.01
    """
    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        name = config["class_name"]
        if name not in _OBJECTS and name.lower() in _OBJECTS:
            config = {**config, "class_name": name.lower()}
    return deserialize_keras_object(
        config,
        module_objects=_OBJECTS,
        custom_objects=custom_objects,
        printable_module_name="optimizer",
    )


def get(identifier) -> Optimizer | None:
    """An optimizer from a name ("adam", "SGD"...), a Keras dict, or an instance.

    >>> get("adam").get_config()["epsilon"]
    1e-07
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(
        "Could not interpret optimizer identifier: expected a name such as 'adam', a config "
        f"dict or an Optimizer instance, received {type(identifier).__name__}: {identifier!r}"
    )
