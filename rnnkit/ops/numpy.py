"""``keras.ops.numpy``'s functions (NumPy's names and arguments) on torch tensors."""

from __future__ import annotations

import builtins

import torch

from rnnkit import config as _config
from rnnkit.layers.symbolic import KerasTensor
from rnnkit.ops._base import _PUBLIC, _axes, _common, _dtype, _float, _floatx, _num, _op, _t

_START = len(_PUBLIC)


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
arcsin = _unary("arcsin", torch.asin)
arccos = _unary("arccos", torch.acos)
arctanh = _unary("arctanh", torch.atanh)
arcsinh = _unary("arcsinh", torch.asinh)
log2 = _unary("log2", torch.log2)
log10 = _unary("log10", torch.log10)
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
logical_xor = _binary("logical_xor", lambda a, b: torch.logical_xor(*_both(a, b)))


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
    return torch.einsum(subscripts, *_common(operands))


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


# --------------------------------------------------------------------------- more of NumPy
def ndim(x) -> int:
    """The number of axes."""
    return len(x.shape) if isinstance(x, KerasTensor) else _t(x).ndim


def size(x) -> int:
    """The number of elements."""
    return int(_t(x).numel())


def dtype(x) -> str:
    """The dtype's name (``"float32"``, ...)."""
    if isinstance(x, KerasTensor):
        return x.dtype
    return _config.standardize_dtype(_t(x).dtype)


_PUBLIC += ["ndim", "size", "dtype"]


@_op
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (NumPy's; scalar ends only)."""
    if axis != 0 or retstep:
        raise ValueError("rnnkit.ops.linspace: only axis=0 and retstep=False are supported")
    n = int(num)
    dt = _dtype(dtype) if dtype is not None else _floatx()
    if endpoint:
        return torch.linspace(float(start), float(stop), n, dtype=torch.float64).to(dt)
    step = (float(stop) - float(start)) / n
    return (float(start) + step * torch.arange(n, dtype=torch.float64)).to(dt)


@_op
def broadcast_to(x, shape):
    return torch.broadcast_to(_t(x), tuple(shape))


@_op
def hstack(xs):
    ts = _common(xs)
    return torch.cat(ts, dim=0 if ts[0].ndim == 1 else 1)


@_op
def vstack(xs):
    ts = [t if t.ndim > 1 else t.reshape(1, -1) for t in _common(xs)]
    return torch.cat(ts, dim=0)


@_op
def append(x1, x2, axis=None):
    a, b = _common([x1, x2])
    if axis is None:
        return torch.cat([a.reshape(-1), b.reshape(-1)])
    return torch.cat([a, b], dim=int(axis))


@_op
def diff(a, n=1, axis=-1):
    return torch.diff(_t(a), n=int(n), dim=int(axis))


@_op
def roll(x, shift, axis=None):
    t = _t(x)
    if axis is None:
        return torch.roll(t.reshape(-1), shift).reshape(t.shape)
    return torch.roll(t, shift, dims=axis)


@_op
def tril(x, k=0):
    return torch.tril(_t(x), diagonal=int(k))


@_op
def triu(x, k=0):
    return torch.triu(_t(x), diagonal=int(k))


@_op
def diag(x, k=0):
    return torch.diag(_t(x), diagonal=int(k))


@_op
def trace(x, offset=0, axis1=0, axis2=1):
    return torch.diagonal(_t(x), offset=int(offset), dim1=int(axis1), dim2=int(axis2)).sum(-1)


@_op
def count_nonzero(x, axis=None):
    t = _t(x)
    return torch.count_nonzero(t, dim=_axes(axis, t.ndim)).to(torch.int32)


@_op
def average(x, axis=None, weights=None):
    """The (weighted) mean over ``axis`` (None: all)."""
    t = _float(_t(x))
    if weights is None:
        return mean(t, axis=axis)
    w = _t(weights).to(t.dtype)
    if axis is None:
        return (t * w).sum() / w.sum()
    axis = int(axis) % t.ndim
    if w.ndim == 1:
        w = w.reshape([-1 if i == axis else 1 for i in range(t.ndim)])
    return (t * w).sum(axis) / w.expand_as(t).sum(axis)


@_op
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    a, b = _common([x1, x2])
    return torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


@_op
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return torch.nan_to_num(_t(x), nan=nan, posinf=posinf, neginf=neginf)


@_op
def nonzero(x):
    return tuple(i.to(torch.int32) for i in torch.nonzero(_t(x), as_tuple=True))


@_op
def meshgrid(*x, indexing="xy"):
    return list(torch.meshgrid(*[_t(e) for e in x], indexing=indexing))


__all__ = _PUBLIC[_START:]
