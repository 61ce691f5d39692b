"""The Keras operations that functional ``.keras`` files record as graph nodes.

Keras 3 writes every ``keras.ops`` call made on symbolic tensors into a functional model's
config as a node of its own: ``{"module": "keras.src.ops.numpy", "class_name": "NotEqual",
"config": {"name": "not_equal"}, ...}``. Masks are the everyday source: ``Masking`` and
``Embedding(mask_zero=True)`` compute theirs with ``NotEqual`` / ``Any`` and the next layer
receives the result as its ``mask=`` argument. Slicing (``x[:, -1]`` is ``GetItem``), ``Cast``,
arithmetic and comparisons appear the same way.

:class:`KerasOp` is the rnnkit layer behind such a node (loaded from a file, or recorded by
``rnnkit.ops`` and operators on symbolic tensors). It runs one entry of a fixed table of
pure tensor functions, chosen by the node's ``class_name``; its parameters are plain JSON values
from the node's config. Nothing named by a file is imported, looked up as an attribute or
evaluated: an operation outside the table is refused with an error naming the node.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.layers.layer import Layer, _snake, unique_name

__all__ = ["KerasOp", "UnsupportedOpError", "is_keras_op_dict", "op_from_dict", "supported_ops"]

_NUMPY, _CORE, _NN, _MATH, _LINALG = (
    "keras.src.ops.numpy",
    "keras.src.ops.core",
    "keras.src.ops.nn",
    "keras.src.ops.math",
    "keras.src.ops.linalg",
)

# Cast targets: names only (never getattr on a name read from a file).
_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


class UnsupportedOpError(ValueError):
    """A graph node that rnnkit will not rebuild (unknown operation, or one that would run code)."""


def _dtype(name, where):
    if name is None:
        return None
    if isinstance(name, dict):  # a DTypePolicy dict
        name = (name.get("config") or {}).get("name")
    if name not in _DTYPES:
        raise UnsupportedOpError(f"{where}: unsupported dtype {name!r} (known: {sorted(_DTYPES)})")
    return _DTYPES[name]


def _t(x, like=None):
    """``x`` as a tensor (Python numbers and lists become tensors on ``like``'s device)."""
    if isinstance(x, torch.Tensor):
        return x
    device = like.device if isinstance(like, torch.Tensor) else None
    if isinstance(x, float) and isinstance(like, torch.Tensor) and like.is_floating_point():
        return torch.tensor(x, dtype=like.dtype, device=device)
    return torch.as_tensor(x, device=device)


def _first_tensor(args):
    return next((a for a in args if isinstance(a, torch.Tensor)), None)


def _dims(axis, ndim):
    """Keras/numpy ``axis`` (None, int or list) as a tuple of dims (None: all)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        return (axis,)
    return tuple(axis)


def _binary(fn):
    def run(p, a, b):
        like = a if isinstance(a, torch.Tensor) else b
        return fn(_t(a, like), _t(b, like))

    return run


def _unary(fn):
    return lambda p, x: fn(_t(x))


def _float(x):
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def _reduce(fn, float_only=False):
    def run(p, x):
        x = _t(x)
        if float_only:
            x = _float(x)
        dims = _dims(p.get("axis"), x.dim())
        return fn(x, dims, bool(p.get("keepdims", False)))

    return run


def _prod(x, dims, keep):
    for d in sorted((d % x.dim() for d in dims), reverse=True):
        x = torch.prod(x, dim=d, keepdim=keep)
    return x


def _max_min(fn, bound):
    def run(p, x):
        x = _t(x)
        out = fn(x, dim=_dims(p.get("axis"), x.dim()), keepdim=bool(p.get("keepdims", False)))
        if p.get("initial") is not None:
            out = bound(out, _t(p["initial"], out))
        return out

    return run


def _getitem(p, x, key):
    def fix(k):
        if isinstance(k, list):
            return torch.as_tensor(k, device=x.device)
        return k

    if isinstance(key, list):  # a tuple key, serialized as a list
        key = tuple(fix(k) for k in key)
    return x[key]


def _take(p, x, indices):
    idx = _t(indices, x).to(device=x.device, dtype=torch.long)
    axis = p.get("axis")
    if axis is None:
        return x.reshape(-1)[idx]
    axis = axis % x.dim()
    return x[(slice(None),) * axis + (idx,)]


def _dot(p, a, b):
    a, b = _t(a, b), _t(b, a)
    if a.dim() == 0 or b.dim() == 0:
        return a * b
    return torch.tensordot(a, b, dims=([-1], [0 if b.dim() == 1 else -2]))


def _pad(p, x, constant_values=None):
    if p.get("mode", "constant") != "constant":
        raise UnsupportedOpError(f"Pad: only mode='constant' is supported, received {p.get('mode')!r}")
    widths = p["pad_width"]
    flat = [int(v) for pair in reversed(widths) for v in pair]
    return F.pad(x, flat, value=0 if constant_values is None else constant_values)


def _where(p, cond, x1=None, x2=None):
    if x1 is None or x2 is None:
        raise UnsupportedOpError("Where: only the three-argument form where(cond, x1, x2) is supported")
    like = x1 if isinstance(x1, torch.Tensor) else x2
    return torch.where(_t(cond).bool(), _t(x1, like), _t(x2, like))


def _like(fill):
    def run(p, x):
        return fill(x, dtype=_dtype(p.get("dtype"), "OnesLike/ZerosLike") or x.dtype)

    return run


# class name -> (Keras module, function(params, *args, **kwargs))
_OPS = {
    # masks, casts and indexing
    "NotEqual": (_NUMPY, _binary(torch.ne)),
    "Equal": (_NUMPY, _binary(torch.eq)),
    "Less": (_NUMPY, _binary(torch.lt)),
    "LessEqual": (_NUMPY, _binary(torch.le)),
    "Greater": (_NUMPY, _binary(torch.gt)),
    "GreaterEqual": (_NUMPY, _binary(torch.ge)),
    "LogicalAnd": (_NUMPY, _binary(lambda a, b: torch.logical_and(a, b))),
    "LogicalOr": (_NUMPY, _binary(lambda a, b: torch.logical_or(a, b))),
    "LogicalXor": (_NUMPY, _binary(lambda a, b: torch.logical_xor(a, b))),
    "LogicalNot": (_NUMPY, _unary(torch.logical_not)),
    "Any": (_NUMPY, _reduce(lambda x, d, k: torch.any(x.bool(), dim=d, keepdim=k))),
    "All": (_NUMPY, _reduce(lambda x, d, k: torch.all(x.bool(), dim=d, keepdim=k))),
    "Cast": (_CORE, lambda p, x: _t(x).to(_dtype(p.get("dtype"), "Cast"))),
    "GetItem": (_NUMPY, _getitem),
    "Take": (_NUMPY, _take),
    # arithmetic
    "Add": (_NUMPY, _binary(torch.add)),
    "Subtract": (_NUMPY, _binary(torch.sub)),
    "Multiply": (_NUMPY, _binary(torch.mul)),
    "Divide": (_NUMPY, _binary(torch.true_divide)),
    "TrueDivide": (_NUMPY, _binary(torch.true_divide)),
    "FloorDivide": (_NUMPY, _binary(torch.floor_divide)),
    "Mod": (_NUMPY, _binary(torch.remainder)),
    "Power": (_NUMPY, _binary(torch.pow)),
    "Maximum": (_NUMPY, _binary(torch.maximum)),
    "Minimum": (_NUMPY, _binary(torch.minimum)),
    "Matmul": (_NUMPY, _binary(torch.matmul)),
    "Dot": (_NUMPY, _dot),
    "Einsum": (_NUMPY, lambda p, *xs: torch.einsum(p["subscripts"], *[_t(x) for x in xs])),
    "Negative": (_NUMPY, _unary(torch.neg)),
    "Absolute": (_NUMPY, _unary(torch.abs)),
    "Abs": (_NUMPY, _unary(torch.abs)),
    "Sign": (_NUMPY, _unary(torch.sign)),
    "Square": (_NUMPY, _unary(torch.square)),
    "Sqrt": (_NUMPY, _unary(lambda x: torch.sqrt(_float(x)))),
    "Reciprocal": (_NUMPY, _unary(lambda x: torch.reciprocal(_float(x)))),
    "Exp": (_NUMPY, _unary(torch.exp)),
    "Expm1": (_NUMPY, _unary(torch.expm1)),
    "Log": (_NUMPY, _unary(torch.log)),
    "Log1p": (_NUMPY, _unary(torch.log1p)),
    "Sin": (_NUMPY, _unary(torch.sin)),
    "Cos": (_NUMPY, _unary(torch.cos)),
    "Tanh": (_NUMPY, _unary(torch.tanh)),
    "Floor": (_NUMPY, _unary(torch.floor)),
    "Ceil": (_NUMPY, _unary(torch.ceil)),
    "Round": (_NUMPY, lambda p, x: torch.round(_t(x), decimals=int(p.get("decimals", 0)))),
    "Clip": (_NUMPY, lambda p, x: torch.clamp(_t(x), p.get("x_min"), p.get("x_max"))),
    "Erf": (_MATH, _unary(torch.erf)),
    "Rsqrt": (_MATH, _unary(lambda x: torch.rsqrt(_float(x)))),
    # reductions
    "Sum": (_NUMPY, _reduce(lambda x, d, k: torch.sum(x, dim=d, keepdim=k))),
    "Mean": (_NUMPY, _reduce(lambda x, d, k: torch.mean(x, dim=d, keepdim=k), float_only=True)),
    "Var": (_NUMPY, _reduce(lambda x, d, k: torch.var(x, dim=d, keepdim=k, correction=0), True)),
    "Std": (_NUMPY, _reduce(lambda x, d, k: torch.std(x, dim=d, keepdim=k, correction=0), True)),
    "Prod": (_NUMPY, _reduce(_prod)),
    "Max": (_NUMPY, _max_min(torch.amax, torch.maximum)),
    "Min": (_NUMPY, _max_min(torch.amin, torch.minimum)),
    "Logsumexp": (_MATH, _reduce(lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k), True)),
    "Argmax": (_NUMPY, lambda p, x: _arg(torch.argmax, p, x)),
    "Argmin": (_NUMPY, lambda p, x: _arg(torch.argmin, p, x)),
    "Cumsum": (_NUMPY, lambda p, x: _cum(torch.cumsum, p, x)),
    "Cumprod": (_NUMPY, lambda p, x: _cum(torch.cumprod, p, x)),
    "Norm": (_LINALG, lambda p, x: _norm(p, x)),
    # shapes
    "Reshape": (_NUMPY, lambda p, x: torch.reshape(_t(x), tuple(p["newshape"]))),
    "Transpose": (_NUMPY, lambda p, x: _transpose(p, x)),
    "ExpandDims": (_NUMPY, lambda p, x: _expand_dims(p, x)),
    "Squeeze": (_NUMPY, lambda p, x: _squeeze(p, x)),
    "Concatenate": (_NUMPY, lambda p, xs: torch.cat([_t(x) for x in xs], dim=int(p.get("axis", 0)))),
    "Stack": (_NUMPY, lambda p, xs: torch.stack([_t(x) for x in xs], dim=int(p.get("axis", 0)))),
    "Tile": (_NUMPY, lambda p, x: torch.tile(_t(x), tuple(_as_list(p["repeats"])))),
    "Repeat": (_NUMPY, lambda p, x: _repeat(p, x)),
    "Flip": (_NUMPY, lambda p, x: torch.flip(_t(x), dims=_dims(p.get("axis"), _t(x).dim()))),
    "Pad": (_NUMPY, _pad),
    "Where": (_NUMPY, _where),
    "OnesLike": (_NUMPY, _like(torch.ones_like)),
    "ZerosLike": (_NUMPY, _like(torch.zeros_like)),
    # activations
    "Sigmoid": (_NN, _unary(torch.sigmoid)),
    "Relu": (_NN, _unary(torch.relu)),
    "Silu": (_NN, _unary(F.silu)),
    "Softplus": (_NN, _unary(F.softplus)),
    "Gelu": (_NN, lambda p, x: F.gelu(_t(x), approximate="tanh" if p.get("approximate", True) else "none")),
    "Softmax": (_NN, lambda p, x: torch.softmax(_t(x), dim=int(p.get("axis", -1)))),
    "LogSoftmax": (_NN, lambda p, x: torch.log_softmax(_t(x), dim=int(p.get("axis", -1)))),
}


def _as_list(v):
    return [v] if isinstance(v, int) else list(v)


def _arg(fn, p, x):
    x = _t(x)
    axis = p.get("axis")
    if axis is None:
        out = fn(x.reshape(-1))
    else:
        out = fn(x, dim=int(axis), keepdim=bool(p.get("keepdims", False)))
    return out.to(torch.int32)


def _cum(fn, p, x):
    x = _t(x)
    if p.get("axis") is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = int(p["axis"])
    dtype = _dtype(p.get("dtype"), "Cumsum")
    return fn(x, dim=axis, dtype=dtype)


def _norm(p, x):
    x = _float(_t(x))
    axis = p.get("axis")
    dim = None if axis is None else (axis if isinstance(axis, int) else tuple(axis))
    return torch.linalg.norm(x, ord=p.get("ord"), dim=dim, keepdim=bool(p.get("keepdims", False)))


def _transpose(p, x):
    x = _t(x)
    axes = p.get("axes")
    return x.permute(*(range(x.dim() - 1, -1, -1) if axes is None else axes))


def _expand_dims(p, x):
    x = _t(x)
    axes = _as_list(p["axis"])
    ndim = x.dim() + len(axes)
    for a in sorted(a % ndim for a in axes):
        x = x.unsqueeze(a)
    return x


def _squeeze(p, x):
    x = _t(x)
    axis = p.get("axis")
    if axis is None:
        return x.squeeze()
    return x.squeeze(_dims(axis, x.dim()))


def _repeat(p, x):
    x = _t(x)
    axis = p.get("axis")
    if axis is None:
        return torch.repeat_interleave(x.reshape(-1), p["repeats"])
    return torch.repeat_interleave(x, _t(p["repeats"], x) if isinstance(p["repeats"], list) else p["repeats"], dim=int(axis))


def supported_ops() -> list[str]:
    """The Keras operation class names rnnkit rebuilds from ``.keras`` files.

    >>> {"NotEqual", "Any", "Cast", "GetItem"} <= set(supported_ops())
    True
    """
    return sorted(_OPS)


class KerasOp(Layer):
    """One Keras operation node of a functional graph (``NotEqual``, ``Any``, ``GetItem``, ...).

    Args:
        op: the Keras class name of the operation, one of :func:`supported_ops`.
        name: the node's name (default: the snake-case op name, numbered).
        **params: the operation's own config values (``axis``, ``keepdims``, ``dtype``...).

    Inputs are what the Keras node passed: tensors, Python numbers, slices and lists. The layer
    has no weights and passes no mask on (a Keras operation does not either).

    >>> import torch
    >>> mask = KerasOp("Any", axis=-1, keepdims=False)(KerasOp("NotEqual")(torch.ones(2, 3, 4), 0.0))
    >>> mask.shape, mask.dtype
    (torch.Size([2, 3]), torch.bool)
    >>> KerasOp("GetItem")(torch.arange(6.0).reshape(2, 3), [slice(None), -1]).tolist()
    [2.0, 5.0]
    """

    _keras_operation = True  # an operation, not a layer: Keras's model.layers leaves it out

    def __init__(self, op: str, name: str | None = None, **params):
        if op not in _OPS:
            raise UnsupportedOpError(
                f"Keras operation {op!r} is not among those rnnkit rebuilds: {supported_ops()}"
            )
        self.op = op
        self.params = dict(params)
        super().__init__(name=name or _default_name(op))

    def _convert_input(self, t):
        return t  # operations keep their inputs' dtypes (no cast to the layer's float dtype)

    def call(self, *args, **kwargs):
        kwargs.pop("mask", None)
        kwargs.pop("training", None)
        return _OPS[self.op][1](self.params, *args, **kwargs)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return {"name": self.name, **self.params}

    def keras_dict(self) -> dict:
        """The node's layer entry as Keras writes it (module, class_name, config, registered_name)."""
        return {
            "module": _OPS[self.op][0],
            "class_name": self.op,
            "config": self.get_config(),
            "registered_name": self.op,
        }


def _default_name(op: str) -> str:
    return unique_name(_snake(op))


def is_keras_op_dict(d) -> bool:
    """Whether a layer entry of a functional config is a Keras operation node."""
    return isinstance(d, dict) and str(d.get("module") or "").startswith("keras.src.ops")


def op_from_dict(d: dict, where: str) -> KerasOp:
    """The :class:`KerasOp` of a Keras operation node's dict; unknown operations are refused."""
    name = d.get("class_name")
    cfg = dict(d.get("config") or {})
    if name not in _OPS:
        raise UnsupportedOpError(
            f"{where}: the file's graph has a Keras operation node {name!r} (module "
            f"{d.get('module')!r}) that rnnkit does not implement. rnnkit rebuilds only these "
            f"operations, from a fixed table (it never imports code named by a file): "
            f"{', '.join(supported_ops())}"
        )
    return KerasOp(name, **cfg)
