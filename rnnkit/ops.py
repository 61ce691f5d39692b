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
(``ExpandDims``, ``Mean``, ``Concatenate``, arithmetic, ... :data:`_KERAS_NODES`), so the model
saves to a ``.keras`` file that Keras 3 loads; the others (``split``, ``pad``, ``take``, control
flow, ...) run, train and save their weights, and saving the architecture says it cannot.
Operators on symbolic tensors (``x[:, -1]``, ``x * 2``, ``-x``, ``x > 0``) make Keras nodes too.

Where Keras 3.15's torch backend departs from NumPy, the reference its docs name, rnnkit
follows NumPy (tested): ``pad(mode="symmetric")`` and ``take`` of negative indices with
``axis=None``.

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

import builtins
import functools
import inspect

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit import config as _config
from rnnkit.layers.symbolic import KerasTensor, record_function
from rnnkit.saving.keras_ops import KerasOp

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
        ("floor", "Floor"), ("ceil", "Ceil"), ("reciprocal", "Reciprocal"),
        ("zeros_like", "ZerosLike"), ("ones_like", "OnesLike"))},
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


def _op(fn):
    """Register ``fn`` as public; on symbolic tensors, record it as a graph node."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _has_symbolic(args) or _has_symbolic(kwargs):
            return _symbolic(fn, args, kwargs)
        return fn(*args, **kwargs)

    _PUBLIC.append(fn.__name__)
    return wrapper


# --------------------------------------------------------------------------- core
@_op
def convert_to_tensor(x, dtype=None, sparse=None):
    """``x`` as a torch tensor (Python floats as floatx, ints as int32; arrays keep their dtype)."""
    return _t(x, dtype)


def convert_to_numpy(x):
    """A NumPy array of ``x`` (detached, on the CPU)."""
    if isinstance(x, KerasTensor):
        raise TypeError("rnnkit.ops.convert_to_numpy: a symbolic tensor has no values yet")
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


_PUBLIC.append("convert_to_numpy")


def is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor."""
    return isinstance(x, torch.Tensor)


_PUBLIC.append("is_tensor")


def shape(x) -> tuple:
    """The shape as a tuple (``None`` for a symbolic tensor's unknown axes)."""
    if isinstance(x, KerasTensor):
        return tuple(x.shape)
    return tuple(int(s) for s in _t(x).shape)


_PUBLIC.append("shape")


@_op
def cast(x, dtype):
    return _t(x).to(_dtype(dtype))


@_op
def stop_gradient(variable):
    return _t(variable).detach()


@_op
def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()`` (eager)."""
    return true_fn() if bool(pred) else false_fn()


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)`` (eager)."""
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (eager; a tuple in, a tuple out)."""
    single = not isinstance(loop_vars, list | tuple)
    state = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while bool(cond(*state)) and (maximum_iterations is None or n < maximum_iterations):
        out = body(*state)
        state = (out,) if single else tuple(out)
        n += 1
    return state[0] if single else state


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns ``(carry, stacked ys)``."""
    if xs is None and length is None:
        raise ValueError("rnnkit.ops.scan: give xs or length")
    n = int(length) if xs is None else int(_first_leaf(xs).shape[0])
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        x = None if xs is None else _index_tree(xs, i)
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, (_stack_tree(ys) if ys and ys[0] is not None else None)


def _first_leaf(t):
    while isinstance(t, list | tuple | dict):
        t = next(iter(t.values())) if isinstance(t, dict) else t[0]
    return _t(t)


def _index_tree(t, i):
    if isinstance(t, dict):
        return {k: _index_tree(v, i) for k, v in t.items()}
    if isinstance(t, list | tuple):
        return type(t)(_index_tree(e, i) for e in t)
    return _t(t)[i]


def _stack_tree(ys):
    y0 = ys[0]
    if isinstance(y0, dict):
        return {k: _stack_tree([y[k] for y in ys]) for k in y0}
    if isinstance(y0, list | tuple):
        return type(y0)(_stack_tree([y[j] for y in ys]) for j in range(len(y0)))
    return torch.stack([_t(y) for y in ys])


_PUBLIC += ["fori_loop", "while_loop", "scan"]


@_op
def slice(inputs, start_indices, shape):  # noqa: A001  (Keras's name)
    """``inputs[start : start + size]`` on each axis."""
    x = _t(inputs)
    idx = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return x[idx]


@_op
def unstack(x, num=None, axis=0):
    return list(_t(x).unbind(int(axis)))


# --------------------------------------------------------------------------- creation
@_op
def zeros(shape, dtype=None):
    return torch.zeros(tuple(shape) if isinstance(shape, list | tuple) else (int(shape),), dtype=_dtype(dtype))


@_op
def ones(shape, dtype=None):
    return torch.ones(tuple(shape) if isinstance(shape, list | tuple) else (int(shape),), dtype=_dtype(dtype))


@_op
def full(shape, fill_value, dtype=None):
    shp = tuple(shape) if isinstance(shape, list | tuple) else (int(shape),)
    return torch.full(shp, fill_value, dtype=_dtype(dtype) if dtype or isinstance(fill_value, float) else _t(fill_value).dtype)


@_op
def zeros_like(x, dtype=None):
    return torch.zeros_like(_t(x), dtype=None if dtype is None else _dtype(dtype))


@_op
def ones_like(x, dtype=None):
    return torch.ones_like(_t(x), dtype=None if dtype is None else _dtype(dtype))


@_op
def full_like(x, fill_value, dtype=None):
    return torch.full_like(_t(x), fill_value, dtype=None if dtype is None else _dtype(dtype))


@_op
def arange(start, stop=None, step=1, dtype=None):
    """As NumPy's; ints give int32, floats floatx (Keras's dtypes)."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        floats = builtins.any(isinstance(v, float) for v in (start, stop, step))
        dtype = _floatx() if floats else torch.int32
    else:
        dtype = _dtype(dtype)
    return torch.arange(start, stop, step, dtype=dtype)


@_op
def eye(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    out = torch.zeros(int(N), int(M), dtype=_dtype(dtype))
    d = out.diagonal(int(k))
    d.fill_(1)
    return out


@_op
def identity(n, dtype=None):
    return torch.eye(int(n), dtype=_dtype(dtype))


# --------------------------------------------------------------------------- elementwise
def _unary(name, torch_fn, to_float=True, doc=None):
    def fn(x):
        t = _t(x)
        return torch_fn(_float(t) if to_float else t)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or (f"Element-wise ``{name}`` (integers give floatx)." if to_float else f"Element-wise ``{name}``.")
    return _op(fn)


def _binary(name, torch_fn):
    def fn(x1, x2):
        a, b = _num(x1), _num(x2)
        if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
            a = _t(a)
        return torch_fn(a, b)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Element-wise ``{name}``, broadcasting as NumPy."
    return _op(fn)


exp = _unary("exp", torch.exp)
log = _unary("log", torch.log)
log1p = _unary("log1p", torch.log1p)
expm1 = _unary("expm1", torch.expm1)
sqrt = _unary("sqrt", torch.sqrt)
rsqrt = _unary("rsqrt", torch.rsqrt)
sin = _unary("sin", torch.sin)
cos = _unary("cos", torch.cos)
tan = _unary("tan", torch.tan)
tanh = _unary("tanh", torch.tanh)
sinh = _unary("sinh", torch.sinh)
cosh = _unary("cosh", torch.cosh)
arctan = _unary("arctan", torch.atan)
erf = _unary("erf", torch.erf)
sigmoid = _unary("sigmoid", torch.sigmoid)
reciprocal = _unary("reciprocal", torch.reciprocal)
abs = _unary("abs", torch.abs, to_float=False)  # noqa: A001
absolute = _unary("absolute", torch.abs, to_float=False)
negative = _unary("negative", torch.neg, to_float=False)
square = _unary("square", torch.square, to_float=False)
sign = _unary("sign", torch.sign, to_float=False)
floor = _unary("floor", torch.floor)
ceil = _unary("ceil", torch.ceil)
isnan = _unary("isnan", torch.isnan, to_float=False)
isinf = _unary("isinf", torch.isinf, to_float=False)
isfinite = _unary("isfinite", torch.isfinite, to_float=False)
logical_not = _unary("logical_not", torch.logical_not, to_float=False)

add = _binary("add", torch.add)
subtract = _binary("subtract", torch.sub)
multiply = _binary("multiply", torch.mul)
maximum = _binary("maximum", lambda a, b: torch.maximum(*_both(a, b)))
minimum = _binary("minimum", lambda a, b: torch.minimum(*_both(a, b)))
equal = _binary("equal", torch.eq)
not_equal = _binary("not_equal", torch.ne)
greater = _binary("greater", torch.gt)
greater_equal = _binary("greater_equal", torch.ge)
less = _binary("less", torch.lt)
less_equal = _binary("less_equal", torch.le)
logical_and = _binary("logical_and", lambda a, b: torch.logical_and(*_both(a, b)))
logical_or = _binary("logical_or", lambda a, b: torch.logical_or(*_both(a, b)))
floor_divide = _binary("floor_divide", lambda a, b: torch.floor_divide(a, b))
mod = _binary("mod", torch.remainder)


def _both(a, b):
    """Two tensors for ops that take no Python numbers (the number takes the tensor's dtype)."""
    if not isinstance(a, torch.Tensor):
        a = torch.tensor(a, dtype=b.dtype if not isinstance(a, float) or b.is_floating_point() else _floatx())
    if not isinstance(b, torch.Tensor):
        b = torch.tensor(b, dtype=a.dtype if not isinstance(b, float) or a.is_floating_point() else _floatx())
    return a, b


@_op
def divide(x1, x2):
    """True division (integers give floatx)."""
    a, b = _num(x1), _num(x2)
    if isinstance(a, torch.Tensor):
        a = _float(a)
    elif isinstance(b, torch.Tensor):
        b = _float(b)
    else:
        a = _t(float(a))
    return torch.div(a, b)


true_divide = divide
_PUBLIC.append("true_divide")


@_op
def power(x1, x2):
    a, b = _num(x1), _num(x2)
    if not isinstance(a, torch.Tensor):
        a = _t(a)
    return torch.pow(a, b)


@_op
def clip(x, x_min, x_max):
    return torch.clamp(_t(x), x_min, x_max)


@_op
def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``; with neither, the indices (a tuple) where it holds."""
    c = _t(condition).to(torch.bool)
    if x1 is None and x2 is None:
        return tuple(i.to(torch.int32) for i in torch.nonzero(c, as_tuple=True))
    if x1 is None or x2 is None:
        raise ValueError("rnnkit.ops.where: give both x1 and x2, or neither")
    a, b = _num(x1), _num(x2)
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        a = _t(a)
    return torch.where(c, a, b)


@_op
def round(x, decimals=0):  # noqa: A001  (Keras's name)
    t = _t(x)
    return torch.round(t, decimals=int(decimals)) if t.is_floating_point() else t


# --------------------------------------------------------------------------- linear algebra
@_op
def matmul(x1, x2):
    a, b = _t(x1), _t(x2)
    a, b = _promote(a, b)
    return torch.matmul(a, b)


def _promote(a, b):
    dt = torch.promote_types(a.dtype, b.dtype)
    return a.to(dt), b.to(dt)


@_op
def dot(x1, x2):
    """NumPy's ``dot``: a product for scalars, ``matmul`` up to 2-D, else a sum over the last axis
    of ``x1`` and the second-to-last of ``x2``."""
    a, b = _promote(_t(x1), _t(x2))
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2 or a.ndim == 1:
        return torch.matmul(a, b) if b.ndim <= 2 else torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 2]))
    return torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 2]))


@_op
def einsum(subscripts, *operands):
    ts = [_t(o) for o in operands]
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = torch.promote_types(dt, t.dtype)
    return torch.einsum(subscripts, *[t.to(dt) for t in ts])


@_op
def tensordot(x1, x2, axes=2):
    a, b = _promote(_t(x1), _t(x2))
    if isinstance(axes, list | tuple):
        axes = [list(ax) if isinstance(ax, list | tuple) else [ax] for ax in axes]
    return torch.tensordot(a, b, dims=axes)


@_op
def outer(x1, x2):
    a, b = _promote(_t(x1), _t(x2))
    return torch.outer(a.reshape(-1), b.reshape(-1))


# --------------------------------------------------------------------------- shapes
@_op
def reshape(x, newshape):
    shp = (int(newshape),) if isinstance(newshape, int) else tuple(-1 if s is None else int(s) for s in newshape)
    return _t(x).reshape(shp)


@_op
def transpose(x, axes=None):
    t = _t(x)
    return t.permute(*(range(t.ndim - 1, -1, -1) if axes is None else axes))


@_op
def expand_dims(x, axis):
    t = _t(x)
    axes = _axes(axis, None)
    out_ndim = t.ndim + len(axes)
    for a in sorted(a % out_ndim for a in axes):
        t = t.unsqueeze(a)
    return t


@_op
def squeeze(x, axis=None):
    t = _t(x)
    if axis is None:
        return t.squeeze()
    for a in sorted((a % t.ndim for a in _axes(axis, t.ndim)), reverse=True):
        if t.shape[a] != 1:
            raise ValueError(f"rnnkit.ops.squeeze: axis {a} has size {t.shape[a]}, expected 1 (shape {tuple(t.shape)})")
        t = t.squeeze(a)
    return t


@_op
def concatenate(xs, axis=0):
    ts = [_t(x) for x in xs]
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = torch.promote_types(dt, t.dtype)
    return torch.cat([t.to(dt) for t in ts], dim=int(axis))


@_op
def stack(x, axis=0):
    ts = [_t(e) for e in x]
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = torch.promote_types(dt, t.dtype)
    return torch.stack([t.to(dt) for t in ts], dim=int(axis))


@_op
def split(x, indices_or_sections, axis=0):
    """NumPy's ``split``: ``n`` equal parts (``n`` must divide the axis) or parts at the given indices."""
    t = _t(x)
    axis = int(axis)
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        size = t.shape[axis]
        if n <= 0 or size % n:
            raise ValueError(f"rnnkit.ops.split: {n} equal parts of an axis of size {size} are not "
                             f"possible (give indices for unequal parts)")
        return list(torch.tensor_split(t, n, dim=axis))
    return list(torch.tensor_split(t, [int(i) for i in indices_or_sections], dim=axis))


@_op
def tile(x, repeats):
    t = _t(x)
    reps = (int(repeats),) if isinstance(repeats, int) else tuple(int(r) for r in repeats)
    return t.tile(reps)


@_op
def repeat(x, repeats, axis=None):
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    r = repeats if isinstance(repeats, int) else _t(repeats).to(torch.int64)
    return torch.repeat_interleave(t, r, dim=int(axis))


@_op
def flip(x, axis=None):
    t = _t(x)
    return torch.flip(t, dims=tuple(range(t.ndim)) if axis is None else _axes(axis, t.ndim))


@_op
def swapaxes(x, axis1, axis2):
    return torch.swapaxes(_t(x), int(axis1), int(axis2))


@_op
def moveaxis(x, source, destination):
    return torch.movedim(_t(x), source, destination)


@_op
def ravel(x):
    return _t(x).reshape(-1)


@_op
def pad(x, pad_width, mode="constant", constant_values=None):
    """NumPy's ``pad``: ``pad_width`` per axis ``(before, after)`` (``"constant"``, ``"reflect"``,
    ``"symmetric"`` as NumPy's modes)."""
    t = _t(x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                         np.full((1, 2), int(pad_width)), (t.ndim, 2))
    if mode == "constant":
        flat = [int(v) for pair in pw[::-1] for v in pair]
        return F.pad(t, flat, value=0 if constant_values is None else constant_values)
    if mode not in ("reflect", "symmetric"):
        raise ValueError(f"rnnkit.ops.pad: mode must be 'constant', 'reflect' or 'symmetric', received {mode!r}")
    if constant_values is not None:
        raise ValueError("rnnkit.ops.pad: constant_values is only for mode='constant'")
    out = t
    for axis, (before, after) in enumerate(pw):
        parts = []
        n = out.shape[axis]
        shift = 1 if mode == "reflect" else 0
        if before:
            parts.append(out.narrow(axis, shift, int(before)).flip(axis))
        parts.append(out)
        if after:
            parts.append(out.narrow(axis, n - int(after) - shift, int(after)).flip(axis))
        out = torch.cat(parts, dim=axis)
    return out


@_op
def take(x, indices, axis=None):
    t = _t(x)
    idx = _t(indices).to(torch.int64)
    if axis is None:
        t, axis = t.reshape(-1), 0
    axis = int(axis) % t.ndim
    n = t.shape[axis]
    idx = torch.where(idx < 0, idx + n, idx)
    flat = t.index_select(axis, idx.reshape(-1))
    return flat.reshape(*t.shape[:axis], *idx.shape, *t.shape[axis + 1:])


@_op
def take_along_axis(x, indices, axis=None):
    t = _t(x)
    idx = _t(indices).to(torch.int64)
    if axis is None:
        t, axis = t.reshape(-1), 0
    n = t.shape[int(axis)]
    idx = torch.where(idx < 0, idx + n, idx)
    return torch.take_along_dim(t, idx, dim=int(axis))


# --------------------------------------------------------------------------- reductions
def _reduce(name, fn, to_float=False):
    def op(x, axis=None, keepdims=False):
        t = _t(x)
        if to_float:
            t = _float(t)
        axes = _axes(axis, t.ndim)
        if axes is None:
            out = fn(t, tuple(range(t.ndim)), keepdims) if t.ndim else t
            return out
        return fn(t, axes, keepdims)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` over ``axis`` (None: all axes), keeping reduced axes with ``keepdims``."
    return _op(op)


def _amax(t, axes, keepdims):
    return torch.amax(t, dim=axes, keepdim=keepdims)


def _amin(t, axes, keepdims):
    return torch.amin(t, dim=axes, keepdim=keepdims)


def _sum(t, axes, keepdims):
    if t.dtype == torch.bool:
        t = t.to(torch.int32)
    return torch.sum(t, dim=axes, keepdim=keepdims, dtype=t.dtype if not t.is_floating_point() else None)


def _prod(t, axes, keepdims):
    out = t
    for a in sorted((a % t.ndim for a in axes), reverse=True):
        out = torch.prod(out, dim=a, keepdim=keepdims)
    return out


mean = _reduce("mean", lambda t, a, k: torch.mean(t, dim=a, keepdim=k), to_float=True)
sum = _reduce("sum", _sum)  # noqa: A001
prod = _reduce("prod", _prod)
max = _reduce("max", _amax)  # noqa: A001
min = _reduce("min", _amin)  # noqa: A001
amax = _reduce("amax", _amax)
amin = _reduce("amin", _amin)
var = _reduce("var", lambda t, a, k: torch.var(t, dim=a, keepdim=k, correction=0), to_float=True)
std = _reduce("std", lambda t, a, k: torch.std(t, dim=a, keepdim=k, correction=0), to_float=True)
any = _reduce("any", lambda t, a, k: torch.amax(t.to(torch.bool), dim=a, keepdim=k))  # noqa: A001
all = _reduce("all", lambda t, a, k: torch.amin(t.to(torch.bool), dim=a, keepdim=k))  # noqa: A001
logsumexp = _reduce("logsumexp", lambda t, a, k: torch.logsumexp(t, dim=a, keepdim=k), to_float=True)


def _arg(name, fn):
    def op(x, axis=None, keepdims=False):
        t = _t(x)
        if axis is None:
            out = fn(t.reshape(-1), 0)
            if keepdims:
                out = out.reshape((1,) * t.ndim)
        else:
            out = fn(t, int(axis), keepdims)
        return out.to(torch.int32)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Indices (int32) of the {name[3:]}ima along ``axis`` (None: of the flattened tensor)."
    return _op(op)


argmax = _arg("argmax", lambda t, a, k=False: torch.argmax(t, dim=a, keepdim=k))
argmin = _arg("argmin", lambda t, a, k=False: torch.argmin(t, dim=a, keepdim=k))


@_op
def cumsum(x, axis=None, dtype=None):
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    if t.dtype == torch.bool:
        t = t.to(torch.int32)
    return torch.cumsum(t, dim=int(axis), dtype=_dtype(dtype) if dtype else t.dtype)


@_op
def cumprod(x, axis=None, dtype=None):
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    return torch.cumprod(t, dim=int(axis), dtype=_dtype(dtype) if dtype else t.dtype)


@_op
def sort(x, axis=-1):
    return torch.sort(_t(x), dim=int(axis)).values


@_op
def argsort(x, axis=-1):
    return torch.argsort(_t(x), dim=int(axis), stable=True).to(torch.int32)


@_op
def top_k(x, k, sorted=True):  # noqa: A002  (Keras's name)
    """``(values, indices)`` of the ``k`` largest entries along the last axis (indices int64, as
    Keras's torch backend gives them)."""
    v, i = torch.topk(_t(x), int(k), dim=-1, sorted=bool(sorted))
    return v, i


@_op
def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (Keras's name)
    """``numpy.linalg.norm`` (vector norms over one axis, Frobenius / ``ord`` over two)."""
    t = _float(_t(x))
    if axis is None and ord is None:
        out = torch.linalg.vector_norm(t)
        return out.reshape((1,) * t.ndim) if keepdims else out
    if axis is None:
        axis = tuple(range(t.ndim)) if t.ndim <= 2 else None
    axes = _axes(axis, t.ndim)
    if len(axes) == 1:
        return torch.linalg.vector_norm(t, ord=2 if ord is None else ord, dim=axes, keepdim=keepdims)
    return torch.linalg.matrix_norm(t, ord="fro" if ord is None else ord, dim=axes, keepdim=keepdims)


# --------------------------------------------------------------------------- nn
relu = _unary("relu", torch.relu)
relu6 = _unary("relu6", F.relu6)
silu = _unary("silu", F.silu)
swish = _unary("swish", F.silu)
softsign = _unary("softsign", F.softsign)
log_sigmoid = _unary("log_sigmoid", F.logsigmoid)
selu = _unary("selu", F.selu)
hard_sigmoid = _unary("hard_sigmoid", lambda t: F.relu6(t + 3.0) / 6.0)
softplus = _unary("softplus", F.softplus)
hard_tanh = _unary("hard_tanh", F.hardtanh)


@_op
def gelu(x, approximate=True):
    """GELU; ``approximate=True`` (Keras's default) is the tanh form."""
    return F.gelu(_float(_t(x)), approximate="tanh" if approximate else "none")


@_op
def elu(x, alpha=1.0):
    return F.elu(_float(_t(x)), alpha=alpha)


@_op
def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(_float(_t(x)), negative_slope=negative_slope)


@_op
def softmax(x, axis=-1):
    t = _float(_t(x))
    if isinstance(axis, list | tuple):
        axes = tuple(a % t.ndim for a in axis)
        return torch.exp(t - torch.logsumexp(t, dim=axes, keepdim=True))
    return torch.softmax(t, dim=int(axis))


@_op
def log_softmax(x, axis=-1):
    return torch.log_softmax(_float(_t(x)), dim=int(axis))


@_op
def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot rows (floatx by default); a negative index gives a row of zeros, as in Keras."""
    idx = _t(x).to(torch.int64)
    n = int(num_classes)
    if idx.numel() and int(idx.max()) >= n:
        raise ValueError(f"rnnkit.ops.one_hot: indices must be below num_classes={n}, received {int(idx.max())}")
    out = F.one_hot(idx.clamp(min=0), n) * (idx >= 0).unsqueeze(-1)
    out = out.to(_dtype(dtype))
    if axis != -1:
        out = torch.movedim(out, -1, int(axis))
    return out


@_op
def multi_hot(inputs, num_classes, axis=-1, dtype=None):
    """Multi-hot rows of the last axis' indices (floatx by default)."""
    return one_hot(inputs, num_classes, axis=-1, dtype=dtype).amax(dim=-2) if axis == -1 else \
        torch.movedim(one_hot(inputs, num_classes, dtype=dtype).amax(dim=-2), -1, int(axis))


@_op
def moments(x, axes, keepdims=False):
    """``(mean, variance)`` over ``axes``."""
    t = _float(_t(x))
    a = _axes(axes, t.ndim)
    return torch.mean(t, dim=a, keepdim=keepdims), torch.var(t, dim=a, keepdim=keepdims, correction=0)


_PUBLIC.sort()
__all__ = list(_PUBLIC)


def __getattr__(name):
    raise AttributeError(
        f"rnnkit.ops has no {name!r}: it holds the subset of keras.ops that recurrent programs use "
        f"(see rnnkit.ops.__all__); use the torch function instead"
    )

