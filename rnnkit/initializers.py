"""Weight initializers with Keras 3's classes, names, formulas and config keys.

An initializer is called as ``init(shape, dtype=None)`` and returns a new torch tensor
(``dtype`` defaults to :func:`rnnkit.config.floatx`). Random initializers with ``seed=None`` draw
from torch's global generator (so ``torch.manual_seed`` makes them repeatable); with an integer
``seed`` every call returns the same values, as Keras's integer-seeded initializers do.

>>> w = get("glorot_uniform")((4, 3))
>>> tuple(w.shape), w.dtype
((4, 3), torch.float32)
"""

from __future__ import annotations

import math

import torch

from rnnkit.config import torch_dtype
from rnnkit.saving.object_registry import (
    deserialize_keras_object,
    get_registered_object,
    serialize_keras_object,
)

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomUniform",
    "RandomNormal",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Orthogonal",
    "Identity",
    "compute_fans",
    "get",
    "serialize",
    "deserialize",
]

_MODULE = "keras.initializers"


def _check_shape(shape) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"initializer expected a shape tuple of ints, received {shape!r}")
    out = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise ValueError(
                f"initializer expected a shape of non-negative ints, received {tuple(shape)!r}"
            )
        out.append(int(d))
    return tuple(out)


def compute_fans(shape) -> tuple[int, int]:
    """Keras's ``(fan_in, fan_out)`` of a weight shape.

    >>> compute_fans((3, 4)), compute_fans((5, 3, 4))
    ((3, 4), (15, 20))
    """
    shape = _check_shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _check_seed(seed):
    if isinstance(seed, dict):  # a serialized keras.random.SeedGenerator
        seed = (seed.get("config") or {}).get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"initializer seed must be an int or None, received seed={seed!r}")
    return seed


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config``.

    >>> class Halves(Initializer):
    ...     def __call__(self, shape, dtype=None):
    ...         return torch.full(shape, 0.5, dtype=torch_dtype(dtype))
    >>> Halves()((2,)).tolist()
    [0.5, 0.5]
    """

    def __call__(self, shape, dtype=None):
        """Return a new tensor of ``shape`` and ``dtype``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def get_config(self) -> dict:
        """The constructor arguments as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild an initializer from :meth:`get_config`'s dict."""
        return cls(**config)

    def clone(self):
        """A new initializer with the same config."""
        return type(self).from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros.

    >>> Zeros()((2, 2)).sum().item()
    0.0
    """

    def __call__(self, shape, dtype=None):
        """Return a zero tensor."""
        return torch.zeros(_check_shape(shape), dtype=torch_dtype(dtype))


class Ones(Initializer):
    """All ones.

    >>> Ones()((2, 3)).sum().item()
    6.0
    """

    def __call__(self, shape, dtype=None):
        """Return a tensor of ones."""
        return torch.ones(_check_shape(shape), dtype=torch_dtype(dtype))


class Constant(Initializer):
    """Every entry equal to ``value`` (a scalar, or an array broadcast to the shape).

    >>> Constant(3.0)((2,)).tolist()
    [3.0, 3.0]
    """

    def __init__(self, value=0.0):
        if isinstance(value, dict) and value.get("class_name") in ("__numpy__", "__tensor__"):
            value = value["config"]["value"]  # Keras's serialized array
        if isinstance(value, torch.Tensor):
            value = value.tolist()
        if hasattr(value, "tolist") and not isinstance(value, (int, float)):
            value = value.tolist()  # numpy arrays and scalars
        if not isinstance(value, (int, float, list, tuple)) or isinstance(value, bool):
            raise TypeError(f"Constant expected a number or array value, received {value!r}")
        self.value = value

    def __call__(self, shape, dtype=None):
        """Return ``value`` broadcast to ``shape``."""
        shape = _check_shape(shape)
        dtype = torch_dtype(dtype)
        return torch.as_tensor(self.value, dtype=dtype).expand(shape).clone()

    def get_config(self):
        """``{"value": value}``."""
        return {"value": self.value}


class _Random(Initializer):
    """Shared seed handling of the random initializers."""

    def __init__(self, seed=None):
        self.seed = _check_seed(seed)

    def _generator(self):
        if self.seed is None:
            return None
        return torch.Generator().manual_seed(self.seed)

    @staticmethod
    def _draw_dtype(shape, dtype):
        shape = _check_shape(shape)
        dtype = torch_dtype(dtype)
        if not dtype.is_floating_point:
            raise ValueError(f"random initializers need a float dtype, received dtype={dtype}")
        work = torch.float64 if dtype == torch.float64 else torch.float32
        return shape, dtype, work

    def _uniform(self, shape, low, high, work):
        out = torch.empty(shape, dtype=work)
        return out.uniform_(low, high, generator=self._generator())

    def _normal(self, shape, mean, std, work):
        out = torch.empty(shape, dtype=work)
        return out.normal_(mean, std, generator=self._generator())

    def _truncated(self, shape, mean, std, work):
        out = torch.empty(shape, dtype=work)
        torch.nn.init.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, generator=self._generator())
        return out * std + mean

    def get_config(self):
        """``{"seed": seed}`` plus the subclass's arguments."""
        return {"seed": self.seed}


class RandomUniform(_Random):
    """Uniform values in ``[minval, maxval)``.

    >>> w = RandomUniform(-1.0, 1.0, seed=1)((100,))
    >>> bool(w.min() >= -1.0 and w.max() < 1.0)
    True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        if not minval <= maxval:
            raise ValueError(
                f"RandomUniform expected minval <= maxval, received {minval}, {maxval}"
            )
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        """Draw a uniform tensor."""
        shape, dtype, work = self._draw_dtype(shape, dtype)
        return self._uniform(shape, self.minval, self.maxval, work).to(dtype)

    def get_config(self):
        """``{"seed", "minval", "maxval"}``."""
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class RandomNormal(_Random):
    """Normal values with ``mean`` and ``stddev``.

    >>> tuple(RandomNormal(stddev=1.0, seed=0)((3, 2)).shape)
    (3, 2)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        """Draw a normal tensor."""
        shape, dtype, work = self._draw_dtype(shape, dtype)
        return self._normal(shape, self.mean, self.stddev, work).to(dtype)

    def get_config(self):
        """``{"seed", "mean", "stddev"}``."""
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """Normal values redrawn beyond two ``stddev`` of ``mean`` (all lie within that band).

    >>> w = TruncatedNormal(stddev=1.0, seed=0)((1000,))
    >>> bool(w.abs().max() <= 2.0)
    True
    """

    def __call__(self, shape, dtype=None):
        """Draw a truncated-normal tensor."""
        shape, dtype, work = self._draw_dtype(shape, dtype)
        return self._truncated(shape, self.mean, self.stddev, work).to(dtype)


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


class VarianceScaling(_Random):
    """Random values whose variance is ``scale / n``, ``n`` set by ``mode`` from the fans.

    ``"truncated_normal"`` uses ``stddev = sqrt(scale / n) / 0.8796...`` before truncation at two
    stddev; ``"untruncated_normal"`` uses ``sqrt(scale / n)``; ``"uniform"`` uses the limit
    ``sqrt(3 * scale / n)``. ``input_axes`` / ``output_axes`` (written by newer Keras) name the
    axes whose sizes multiply into fan_in / fan_out; ``None`` uses :func:`compute_fans`.

    >>> w = VarianceScaling(2.0, "fan_in", "uniform", seed=0)((50, 10))
    >>> bool(w.abs().max() <= (3 * 2.0 / 50) ** 0.5)
    True
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        super().__init__(seed)
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0.0:
            raise ValueError(f"VarianceScaling expected a positive scale, received scale={scale!r}")
        if mode not in _MODES:
            raise ValueError(f"VarianceScaling expected mode in {_MODES}, received mode={mode!r}")
        dist = str(distribution).lower()
        if dist == "normal":
            dist = "truncated_normal"
        if dist not in _DISTRIBUTIONS:
            raise ValueError(
                f"VarianceScaling expected distribution in {_DISTRIBUTIONS}, "
                f"received distribution={distribution!r}"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, dist
        self.input_axes = None if input_axes is None else tuple(input_axes)
        self.output_axes = None if output_axes is None else tuple(output_axes)

    def _fans(self, shape):
        fan_in, fan_out = compute_fans(shape)
        if self.input_axes is not None:
            fan_in = math.prod(shape[a] for a in self.input_axes)
        if self.output_axes is not None:
            fan_out = math.prod(shape[a] for a in self.output_axes)
        return fan_in, fan_out

    def __call__(self, shape, dtype=None):
        """Draw a tensor scaled to the fans of ``shape``."""
        shape, dtype, work = self._draw_dtype(shape, dtype)
        fan_in, fan_out = self._fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            out = self._truncated(shape, 0.0, math.sqrt(scale) / 0.87962566103423978, work)
        elif self.distribution == "untruncated_normal":
            out = self._normal(shape, 0.0, math.sqrt(scale), work)
        else:
            limit = math.sqrt(3.0 * scale)
            out = self._uniform(shape, -limit, limit, work)
        return out.to(dtype)

    def get_config(self):
        """``{"seed", "scale", "mode", "distribution"}`` (and the axes when set)."""
        config = {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
        }
        return {**config, **self._axes_config()}

    def _axes_config(self):
        out = {}
        if self.input_axes is not None:
            out["input_axes"] = list(self.input_axes)
        if self.output_axes is not None:
            out["output_axes"] = list(self.output_axes)
        return out


def _preset(name, scale, mode, distribution, doc):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(
            self, scale, mode, distribution, seed, input_axes=input_axes, output_axes=output_axes
        )

    def get_config(self):
        return {"seed": self.seed, **self._axes_config()}

    get_config.__doc__ = """``{"seed": seed}`` (and the axes when set)."""
    return type(
        name,
        (VarianceScaling,),
        {"__init__": __init__, "get_config": get_config, "__doc__": doc, "__module__": __name__},
    )


GlorotUniform = _preset(
    "GlorotUniform", 1.0, "fan_avg", "uniform",
    """Glorot (Xavier) uniform: limit ``sqrt(6 / (fan_in + fan_out))``.

    >>> tuple(GlorotUniform(seed=0)((4, 6)).shape)
    (4, 6)
    """,
)  # fmt: skip
GlorotNormal = _preset(
    "GlorotNormal", 1.0, "fan_avg", "truncated_normal",
    """Glorot (Xavier) truncated normal: stddev ``sqrt(2 / (fan_in + fan_out))``.

    >>> tuple(GlorotNormal(seed=0)((4, 6)).shape)
    (4, 6)
    """,
)  # fmt: skip
HeUniform = _preset(
    "HeUniform", 2.0, "fan_in", "uniform",
    """He uniform: limit ``sqrt(6 / fan_in)``.

    >>> tuple(HeUniform(seed=0)((4, 6)).shape)
    (4, 6)
    """,
)  # fmt: skip
HeNormal = _preset(
    "HeNormal", 2.0, "fan_in", "truncated_normal",
    """He truncated normal: stddev ``sqrt(2 / fan_in)``.

    >>> tuple(HeNormal(seed=0)((4, 6)).shape)
    (4, 6)
    """,
)  # fmt: skip
LecunUniform = _preset(
    "LecunUniform", 1.0, "fan_in", "uniform",
    """LeCun uniform: limit ``sqrt(3 / fan_in)``.

    >>> tuple(LecunUniform(seed=0)((4, 6)).shape)
    (4, 6)
    """,
)  # fmt: skip
LecunNormal = _preset(
    "LecunNormal", 1.0, "fan_in", "truncated_normal",
    """LeCun truncated normal: stddev ``sqrt(1 / fan_in)``.

    >>> tuple(LecunNormal(seed=0)((4, 6)).shape)
    (4, 6)
    """,
)  # fmt: skip


class Orthogonal(_Random):
    """A (semi-)orthogonal matrix times ``gain``, reshaped to the requested (>= 2-D) shape.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; a normal matrix of the taller
    orientation is QR-factorised, ``q`` is multiplied by the signs of ``diag(r)`` and transposed
    back when the shape is wide.

    >>> q = Orthogonal(seed=0)((3, 3), dtype="float64")
    >>> torch.allclose(q.T @ q, torch.eye(3, dtype=torch.float64))
    True
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        """Draw an orthogonal tensor."""
        shape, dtype, _ = self._draw_dtype(shape, dtype)
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal needs a shape of at least two dimensions, received shape={shape}"
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._normal((max(rows, cols), min(rows, cols)), 0.0, 1.0, torch.float64)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).to(dtype)

    def get_config(self):
        """``{"seed", "gain"}``."""
        return {**super().get_config(), "gain": self.gain}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; rectangular allowed).

    >>> Identity(2.0)((2, 3)).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        """Return ``gain * eye``."""
        shape = _check_shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape, received shape={shape}")
        return self.gain * torch.eye(*shape, dtype=torch_dtype(dtype))

    def get_config(self):
        """``{"gain": gain}``."""
        return {"gain": self.gain}


_CLASSES = (
    Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, LecunNormal,
    LecunUniform, Ones, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
    VarianceScaling, Zeros,
)  # fmt: skip
_SNAKE = {
    "Constant": "constant", "GlorotNormal": "glorot_normal", "GlorotUniform": "glorot_uniform",
    "HeNormal": "he_normal", "HeUniform": "he_uniform", "Identity": "identity",
    "LecunNormal": "lecun_normal", "LecunUniform": "lecun_uniform", "Ones": "ones",
    "Orthogonal": "orthogonal", "RandomNormal": "random_normal",
    "RandomUniform": "random_uniform", "TruncatedNormal": "truncated_normal",
    "VarianceScaling": "variance_scaling", "Zeros": "zeros",
}  # fmt: skip
_BY_NAME: dict[str, type] = {c.__name__: c for c in _CLASSES}
_BY_NAME.update({_SNAKE[c.__name__]: c for c in _CLASSES})
_BY_NAME.update(
    {
        "uniform": RandomUniform,
        "normal": RandomNormal,
        "zero": Zeros,
        "one": Ones,
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
    }
)


def serialize(initializer) -> dict:
    """Keras's dict form ``{"module", "class_name", "config", "registered_name"}``.

    >>> serialize(Zeros())["class_name"]
    'Zeros'
    """
    if not hasattr(initializer, "get_config"):
        raise TypeError(
            f"serialize expected an initializer with get_config(), received {initializer!r}"
        )
    return serialize_keras_object(initializer, _MODULE)


def deserialize(config, custom_objects=None):
    """Build an initializer from Keras's dict form (or a name).

    >>> deserialize({"class_name": "Orthogonal", "config": {"seed": None, "gain": 1.0}})
    Orthogonal(seed=None, gain=1.0)
    """
    return deserialize_keras_object(config, _BY_NAME, custom_objects, "initializer")


def get(identifier):
    """Turn ``None``, a name, a Keras dict, a class or an instance/callable into an initializer.

    >>> get("he_normal"), get(None)
    (HeNormal(seed=None), None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            if get_registered_object(identifier) is None:
                raise ValueError(
                    f"Unknown initializer {identifier!r}; expected one of {sorted(_BY_NAME)}"
                )
        obj = deserialize({"class_name": identifier, "config": {}})
    elif isinstance(identifier, dict):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if isinstance(obj, type):
        obj = obj()
    if callable(obj):
        return obj
    raise ValueError(
        f"Could not interpret initializer {identifier!r}: expected a name from "
        f"{sorted(_BY_NAME)}, a dict, or a callable"
    )
