"""What every ``rnnkit.ops`` function shares: Keras's conversions of arguments to tensors, and the
recording of calls on symbolic tensors as graph nodes (Keras operation nodes where Keras has one)."""

from __future__ import annotations

import builtins
import functools
import inspect

import numpy as np
import torch

from rnnkit import config as _config
from rnnkit.layers.keras_ops import KerasOp
from rnnkit.layers.symbolic import KerasTensor, record_function

#: the public names, in the order the modules define them
_PUBLIC: list[str] = []


# --------------------------------------------------------------------------- conversion
def _floatx() -> torch.dtype:
    return _config.torch_dtype(None)


def _dtype(dtype) -> torch.dtype:
    try:
        return _config.torch_dtype(dtype)
    except Exception as e:  # noqa: BLE001  (a message of rnnkit's own)
        raise ValueError(f"rnnkit.ops: unknown dtype {dtype!r}") from e


def _t(x, dtype=None) -> torch.Tensor:
    """``x`` as a torch tensor, Keras's way: Python floats -> floatx, ints -> int32."""
    if isinstance(x, torch.Tensor):
        return x if dtype is None else x.to(_dtype(dtype))
    if isinstance(x, bool | np.bool_):
        out = torch.tensor(bool(x))
    elif isinstance(x, int):
        out = torch.tensor(x, dtype=torch.int32)
    elif isinstance(x, float):
        out = torch.tensor(x, dtype=_floatx())
    elif isinstance(x, np.ndarray | np.generic):
        a = np.asarray(x)
        if a.dtype == object or a.dtype.kind in "USO":
            raise TypeError(f"rnnkit.ops: expected numbers, received an array of dtype {a.dtype}")
        out = torch.as_tensor(np.ascontiguousarray(a))
    elif isinstance(x, list | tuple):
        if builtins.any(isinstance(e, torch.Tensor) for e in x):
            out = torch.stack([_t(e) for e in x])
        else:
            a = np.asarray(x)
            if a.dtype.kind == "f":
                a = a.astype(_config.standardize_dtype(_floatx()))
            elif a.dtype.kind in "iu":
                a = a.astype("int32")
            elif a.dtype.kind != "b":
                raise TypeError(f"rnnkit.ops: expected numbers, received {x!r}")
            out = torch.as_tensor(a)
    elif hasattr(x, "__array__"):
        out = torch.as_tensor(np.asarray(x))
    else:
        raise TypeError(f"rnnkit.ops: expected a tensor, array or number, received {type(x).__name__}")
    return out if dtype is None else out.to(_dtype(dtype))


def _num(x):
    """A Python number stays one (torch's weak type promotion, as Keras's); others become tensors."""
    if isinstance(x, bool | int | float) and not isinstance(x, np.generic):
        return x
    return _t(x)


def _float(x: torch.Tensor) -> torch.Tensor:
    """Ints and bools as floatx (Keras's result type of mean, sqrt, exp, ... of integers)."""
    return x if x.is_floating_point() or x.is_complex() else x.to(_floatx())


def _axes(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, list | tuple):
        return tuple(int(a) for a in axis)
    return (int(axis),)


def _common(xs) -> list:
    """Tensors of ``xs`` in their promoted dtype (as NumPy's concatenation / einsum promote)."""
    ts = [_t(x) for x in xs]
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = torch.promote_types(dt, t.dtype)
    return [t.to(dt) for t in ts]


# --------------------------------------------------------------------------- symbolic calls
def _has_symbolic(x) -> bool:
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, list | tuple):
        return builtins.any(_has_symbolic(e) for e in x)
    if isinstance(x, dict):
        return builtins.any(_has_symbolic(e) for e in x.values())
    return False


_AXIS_KEEP = ("axis", "keepdims")
#: functions whose symbolic calls become Keras operation nodes (Keras class name, the function's
#: arguments that are the node's config); a model made of these writes to .keras files
_KERAS_NODES = {
    **{n: (n.capitalize(), _AXIS_KEEP) for n in ("mean", "sum", "max", "min", "var", "std", "prod",
                                                    "any", "all", "logsumexp", "argmax", "argmin")},
    "expand_dims": ("ExpandDims", ("axis",)), "squeeze": ("Squeeze", ("axis",)),
    "reshape": ("Reshape", ("newshape",)), "transpose": ("Transpose", ("axes",)),
    "concatenate": ("Concatenate", ("axis",)), "stack": ("Stack", ("axis",)),
    "cast": ("Cast", ("dtype",)), "softmax": ("Softmax", ("axis",)),
    "log_softmax": ("LogSoftmax", ("axis",)), "clip": ("Clip", ("x_min", "x_max")),
    "tile": ("Tile", ("repeats",)), "flip": ("Flip", ("axis",)), "gelu": ("Gelu", ("approximate",)),
    **{n: (k, ()) for n, k in (
        ("add", "Add"), ("subtract", "Subtract"), ("multiply", "Multiply"), ("divide", "Divide"),
        ("power", "Power"), ("maximum", "Maximum"), ("minimum", "Minimum"), ("matmul", "Matmul"),
        ("dot", "Dot"), ("equal", "Equal"), ("not_equal", "NotEqual"), ("less", "Less"),
        ("less_equal", "LessEqual"), ("greater", "Greater"), ("greater_equal", "GreaterEqual"),
        ("logical_and", "LogicalAnd"), ("logical_or", "LogicalOr"), ("logical_not", "LogicalNot"),
        ("floor_divide", "FloorDivide"), ("mod", "Mod"), ("where", "Where"), ("exp", "Exp"),
        ("log", "Log"), ("log1p", "Log1p"), ("expm1", "Expm1"), ("sqrt", "Sqrt"), ("rsqrt", "Rsqrt"),
        ("sin", "Sin"), ("cos", "Cos"), ("tanh", "Tanh"), ("erf", "Erf"), ("sigmoid", "Sigmoid"),
        ("relu", "Relu"), ("silu", "Silu"), ("softplus", "Softplus"), ("abs", "Absolute"),
        ("absolute", "Absolute"), ("negative", "Negative"), ("square", "Square"), ("sign", "Sign"),
        ("floor", "Floor"), ("ceil", "Ceil"), ("reciprocal", "Reciprocal"))},
    "zeros_like": ("ZerosLike", ("dtype",)), "ones_like": ("OnesLike", ("dtype",)),
}


class _OpsNode(KerasOp):
    """A Keras operation node made by an ``rnnkit.ops`` call on symbolic tensors: written to
    files as Keras writes the node, computed by the ``rnnkit.ops`` function itself."""

    def __init__(self, fn, op, params):
        super().__init__(op, **params)
        self._ops_fn = fn

    def call(self, *args, **kwargs):
        kwargs.pop("mask", None)
        kwargs.pop("training", None)
        return self._ops_fn(*args, **self.params, **kwargs)


def _json_param(v):
    """A node's config value as JSON (tuples as lists, dtypes by name)."""
    if isinstance(v, torch.dtype | np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        return _config.standardize_dtype(v)
    if isinstance(v, tuple):
        return [_json_param(e) for e in v]
    return v


def _symbolic(fn, args, kwargs):
    node = _KERAS_NODES.get(fn.__name__)
    if node is not None:
        op, names = node
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.apply_defaults()
        params = {k: _json_param(bound.arguments[k]) for k in names}
        call = [v for k, v in bound.arguments.items() if k not in names]
        if builtins.all(not _has_symbolic(v) for k, v in bound.arguments.items() if k in names):
            return _OpsNode(fn, op, params)(*call)
    return record_function(fn, args, kwargs)


def _describe(x) -> str:
    """An argument as an error message names it: tensors and arrays by shape and dtype."""
    if isinstance(x, torch.Tensor | np.ndarray):
        return f"{type(x).__name__}(shape={tuple(x.shape)}, dtype={_config.standardize_dtype(x.dtype)})"
    if isinstance(x, list | tuple):
        inner = ", ".join(_describe(e) for e in x[:4]) + (", ..." if len(x) > 4 else "")
        return f"[{inner}]" if isinstance(x, list) else f"({inner})"
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _op(fn):
    """Register ``fn`` as public; on symbolic tensors, record it as a graph node. An error torch
    raises inside (mismatched shapes, an axis out of range) comes out as a ``ValueError`` naming
    the function and what it received."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _has_symbolic(args) or _has_symbolic(kwargs):
            return _symbolic(fn, args, kwargs)
        try:
            return fn(*args, **kwargs)
        except (RuntimeError, IndexError) as e:
            received = ", ".join([*(_describe(a) for a in args), *(f"{k}={_describe(v)}" for k, v in kwargs.items())])
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"rnnkit.ops.{fn.__name__}: {first}; received {received}") from e

    _PUBLIC.append(fn.__name__)
    return wrapper
