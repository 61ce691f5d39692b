"""``rnnkit.backend``: the Keras 2 backend (``from keras import backend as K``) that tf.keras cells use.

tf.keras programs write their cells with ``K.dot(inputs, self.kernel)``, ``K.bias_add(h,
self.bias)``, ``K.concatenate([...])``, ``K.rnn(step, inputs, states)``; after
``from rnnkit import backend as K`` the same lines run on torch tensors with Keras 2's semantics
(``tf_keras.backend`` 2.21: its argument defaults, e.g. ``concatenate(axis=-1)``,
``argmax(axis=-1)`` as int64, ``sqrt`` of negative numbers as 0, ``hard_sigmoid`` as
``clip(0.2 x + 0.5, 0, 1)``). tests/test_backend.py compares each function with numbers that
``tf_keras`` computed (scripts/make_backend_fixtures.py). Keras 3's own ``keras.backend``
names (``floatx``, ``epsilon``, ``image_data_format``, ``clear_session``, ``is_keras_tensor``)
are here too.

>>> import torch
>>> from rnnkit import backend as K
>>> h = K.bias_add(K.dot(torch.ones(2, 3), torch.ones(3, 4)), torch.arange(4.0))
>>> K.int_shape(h), h[0].tolist()
((2, 4), [3.0, 4.0, 5.0, 6.0])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit import config as _config
from rnnkit import ops as _ops
from rnnkit.layers.symbolic import KerasTensor
from rnnkit.runners.loop import run_loop
from rnnkit.variables import Variable

_EPSILON = 1e-7
_t = _ops._base._t


# --------------------------------------------------------------------------- configuration
def floatx() -> str:
    return _config.floatx()


def set_floatx(value) -> None:
    _config.set_floatx(value)


def epsilon() -> float:
    """The fuzz factor (1e-7 unless :func:`set_epsilon` changed it)."""
    return _EPSILON


def set_epsilon(value) -> None:
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    return _config.image_data_format()


def clear_session() -> None:
    """Keras's reset of its global state: here, the layer-name counters (torch keeps no graph)."""
    from rnnkit.layers import layer

    layer._NAME_COUNTS.clear()


def learning_phase() -> int:
    """0: rnnkit passes ``training`` explicitly (the layers' ``call(..., training=)``)."""
    return 0


def is_keras_tensor(x) -> bool:
    return isinstance(x, KerasTensor)


# --------------------------------------------------------------------------- tensors and variables
def variable(value, dtype=None, name=None, constraint=None):
    """A trainable :class:`rnnkit.Variable` holding ``value``."""
    return Variable(_t(value, dtype or floatx()).clone())


def constant(value, dtype=None, shape=None, name=None):
    t = _t(value, dtype or floatx())
    return t.expand(tuple(shape)).clone() if shape is not None else t


def cast(x, dtype):
    return _t(x).to(_config.torch_dtype(dtype))


def dtype(x) -> str:
    return _config.standardize_dtype(_t(x).dtype)


def int_shape(x) -> tuple:
    return tuple(x.shape) if isinstance(x, KerasTensor) else tuple(int(s) for s in _t(x).shape)


def shape(x):
    """The shape as an int32 tensor (Keras 2's dynamic shape)."""
    return torch.tensor(int_shape(x), dtype=torch.int32)


def ndim(x) -> int:
    return len(int_shape(x))


def count_params(x) -> int:
    return int(_t(x).numel())


def get_value(x):
    return _ops.convert_to_numpy(x)


eval = get_value  # noqa: A001  (Keras 2's name)


def batch_get_value(tensors) -> list:
    return [get_value(t) for t in tensors]


def set_value(x, value) -> None:
    with torch.no_grad():
        x.copy_(_t(value).to(x.dtype))


def batch_set_value(tuples) -> None:
    for x, value in tuples:
        set_value(x, value)


def zeros(shape, dtype=None, name=None):
    return torch.zeros(tuple(shape), dtype=_config.torch_dtype(dtype))


def ones(shape, dtype=None, name=None):
    return torch.ones(tuple(shape), dtype=_config.torch_dtype(dtype))


def eye(size, dtype=None, name=None):
    return torch.eye(int(size), dtype=_config.torch_dtype(dtype))


def zeros_like(x, dtype=None, name=None):
    return torch.zeros_like(_t(x), dtype=None if dtype is None else _config.torch_dtype(dtype))


def ones_like(x, dtype=None, name=None):
    return torch.ones_like(_t(x), dtype=None if dtype is None else _config.torch_dtype(dtype))


# --------------------------------------------------------------------------- linear algebra
def dot(x, y):
    """Keras 2's ``dot``: ``matmul`` for 2-D, else a sum over the last axis of ``x`` and the
    second-to-last of ``y`` (shape ``x.shape[:-1] + y.shape[:-2] + y.shape[-1:]``)."""
    a, b = _t(x), _t(y)
    if a.ndim <= 2 and b.ndim <= 2:
        return torch.matmul(a, b)
    return torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 2 if b.ndim > 1 else 0]))


def batch_dot(x, y, axes=None):
    """Keras 2's ``batch_dot``: per batch entry, a dot over ``axes`` (default: the last of ``x``
    and the second-to-last of ``y``, or the last for a 2-D ``y``); a 2-D result of one value per
    entry is ``(batch, 1)``."""
    a, b = _t(x), _t(y)
    if axes is None:
        axes = (a.ndim - 1, b.ndim - 1 if b.ndim == 2 else b.ndim - 2)
    elif isinstance(axes, int):
        axes = (axes, axes)
    ax, ay = axes[0] % a.ndim, axes[1] % b.ndim
    if ax == 0 or ay == 0:
        raise ValueError(f"rnnkit.backend.batch_dot: cannot sum over the batch axis, received axes={axes}")
    a2 = torch.movedim(a, ax, -1)
    b2 = torch.movedim(b, ay, 1)
    rest_a, rest_b = a2.shape[1:-1], b2.shape[2:]
    out = torch.bmm(a2.reshape(a.shape[0], -1, a2.shape[-1]), b2.reshape(b.shape[0], b2.shape[1], -1))
    out = out.reshape(a.shape[0], *rest_a, *rest_b)
    return out.unsqueeze(-1) if out.ndim == 1 else out


def bias_add(x, bias, data_format=None):
    t, b = _t(x), _t(bias)
    if (data_format or image_data_format()) == "channels_first" and t.ndim > 2:
        return t + b.reshape(1, -1, *([1] * (t.ndim - 2))) if b.ndim == 1 else t + b
    return t + b


def transpose(x):
    t = _t(x)
    return t.permute(*range(t.ndim - 1, -1, -1))


def permute_dimensions(x, pattern):
    return _t(x).permute(*pattern)


def l2_normalize(x, axis=None):
    t = _t(x)
    dims = tuple(range(t.ndim)) if axis is None else axis
    return t * torch.rsqrt(torch.clamp((t * t).sum(dim=dims, keepdim=True), min=1e-12))


# --------------------------------------------------------------------------- shapes
def concatenate(tensors, axis=-1):
    return _ops.concatenate(tensors, axis=axis)


def stack(x, axis=0):
    return _ops.stack(x, axis=axis)


def reshape(x, shape):
    return _ops.reshape(x, shape)


def expand_dims(x, axis=-1):
    return _t(x).unsqueeze(axis)


def squeeze(x, axis):
    return _t(x).squeeze(axis)


def flatten(x):
    return _t(x).reshape(-1)


def batch_flatten(x):
    t = _t(x)
    return t.reshape(t.shape[0], -1)


def repeat_elements(x, rep, axis):
    return torch.repeat_interleave(_t(x), int(rep), dim=int(axis))


def repeat(x, n):
    """``(batch, dim)`` -> ``(batch, n, dim)``."""
    return _t(x).unsqueeze(1).expand(-1, int(n), -1).clone()


def tile(x, n):
    return _ops.tile(x, n)


def gather(reference, indices):
    return _t(reference)[_t(indices).to(torch.int64)]


def one_hot(indices, num_classes):
    return F.one_hot(_t(indices).to(torch.int64), int(num_classes)).to(_config.torch_dtype(None))


# --------------------------------------------------------------------------- reductions
def _reducer(name):
    op = getattr(_ops, name)

    def fn(x, axis=None, keepdims=False):
        return op(x, axis=axis, keepdims=keepdims)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{name}`` over ``axis`` (None: all), as ``rnnkit.ops.{name}``."
    return fn


sum = _reducer("sum")  # noqa: A001
mean = _reducer("mean")
max = _reducer("max")  # noqa: A001
min = _reducer("min")  # noqa: A001
prod = _reducer("prod")
std = _reducer("std")
var = _reducer("var")
any = _reducer("any")  # noqa: A001
all = _reducer("all")  # noqa: A001
logsumexp = _reducer("logsumexp")


def argmax(x, axis=-1):
    return torch.argmax(_t(x), dim=axis)


def argmin(x, axis=-1):
    return torch.argmin(_t(x), dim=axis)


def cumsum(x, axis=0):
    return torch.cumsum(_t(x), dim=axis)


def cumprod(x, axis=0):
    return torch.cumprod(_t(x), dim=axis)


# --------------------------------------------------------------------------- element-wise
def square(x):
    return torch.square(_t(x))


def sqrt(x):
    """``sqrt`` with negative inputs read as 0 (Keras 2 clips them)."""
    t = _ops._base._float(_t(x))
    return torch.sqrt(torch.clamp(t, min=0.0))


def pow(x, a):  # noqa: A001  (Keras 2's name)
    return torch.pow(_t(x), a)


def clip(x, min_value, max_value):
    """``x`` clipped to ``[min_value, max_value]`` (a ``max_value`` below ``min_value`` is raised to it)."""
    if min_value is not None and max_value is not None and max_value < min_value:
        max_value = min_value
    return torch.clamp(_t(x), min_value, max_value)


def hard_sigmoid(x):
    """Keras 2's: ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3's ``hard_sigmoid`` is ``relu6(x + 3) / 6``)."""
    return torch.clamp(0.2 * _t(x) + 0.5, 0.0, 1.0)


def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    from rnnkit.activations import relu as _relu

    return _relu(_t(x), negative_slope=alpha, max_value=max_value, threshold=threshold)


def elu(x, alpha=1.0):
    return F.elu(_t(x), alpha=alpha)


def softmax(x, axis=-1):
    return torch.softmax(_t(x), dim=axis)


def switch(condition, then_expression, else_expression):
    """``then_expression`` where ``condition`` holds, else ``else_expression`` (callables are called;
    a Python bool picks one)."""
    if isinstance(condition, bool):
        chosen = then_expression if condition else else_expression
        return chosen() if callable(chosen) else chosen
    a = then_expression() if callable(then_expression) else then_expression
    b = else_expression() if callable(else_expression) else else_expression
    c = _t(condition).to(torch.bool)
    a, b = _t(a), _t(b)
    while c.ndim < a.ndim:
        c = c.unsqueeze(-1)
    return torch.where(c, a, b)


def in_train_phase(x, alt, training=None):
    """``x`` when ``training``, else ``alt`` (callables are called)."""
    chosen = x if training else alt
    return chosen() if callable(chosen) else chosen


def in_test_phase(x, alt, training=None):
    return in_train_phase(alt, x, training=training)


def _simple(name, fn):
    def f(x):
        return fn(_t(x))

    f.__name__ = f.__qualname__ = name
    return f


for _name, _fn in (
    ("abs", torch.abs), ("exp", torch.exp), ("log", torch.log), ("sign", torch.sign),
    ("round", torch.round), ("cos", torch.cos), ("sin", torch.sin), ("sigmoid", torch.sigmoid),
    ("tanh", torch.tanh), ("softplus", F.softplus), ("softsign", F.softsign),
):
    globals()[_name] = _simple(_name, _fn)
maximum, minimum = _ops.maximum, _ops.minimum
equal, not_equal, greater, greater_equal, less, less_equal = (
    _ops.equal, _ops.not_equal, _ops.greater, _ops.greater_equal, _ops.less, _ops.less_equal)
categorical_crossentropy = _ops.categorical_crossentropy
sparse_categorical_crossentropy = _ops.sparse_categorical_crossentropy
binary_crossentropy = _ops.binary_crossentropy


def arange(start, stop=None, step=1, dtype="int32"):
    return _ops.arange(start, stop, step, dtype=dtype)


# --------------------------------------------------------------------------- randomness
def _generator(seed):
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    u = torch.rand(tuple(shape), dtype=_config.torch_dtype(dtype), generator=_generator(seed))
    return minval + (maxval - minval) * u


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    n = torch.randn(tuple(shape), dtype=_config.torch_dtype(dtype), generator=_generator(seed))
    return mean + stddev * n


def dropout(x, level, noise_shape=None, seed=None):
    """Zero each entry with probability ``level``, scale the rest by ``1 / (1 - level)``."""
    t = _t(x)
    if not 0.0 <= level < 1.0:
        raise ValueError(f"rnnkit.backend.dropout: level must be in [0, 1), received {level!r}")
    shp = tuple(t.shape) if noise_shape is None else tuple(t.shape[i] if s is None else s
                                                          for i, s in enumerate(noise_shape))
    keep = torch.rand(shp, generator=_generator(seed)) >= level
    return t * keep.to(t.dtype) / (1.0 - level)


# --------------------------------------------------------------------------- the loop
def rnn(step_function, inputs, initial_states, go_backwards=False, mask=None, constants=None,
        unroll=False, input_length=None, time_major=False, zero_output_for_mask=False,
        return_all_outputs=True):
    """Keras 2's ``K.rnn``: ``step_function(input_t, states) -> (output_t, new_states)`` over the
    time axis (axis 1, or 0 with ``time_major``), Keras's masking included (a masked step keeps
    the states and repeats the previous output, or zeros with ``zero_output_for_mask``).

    Returns ``(last_output, outputs, new_states)``; ``outputs`` in processing order (reversed
    time with ``go_backwards``), only the last step when ``return_all_outputs`` is False.
    """
    x = _t(inputs) if not isinstance(inputs, list | tuple | dict) else inputs
    if time_major:
        x = _ops.swapaxes(x, 0, 1) if isinstance(x, torch.Tensor) else x
    m = None if mask is None else _t(mask).to(torch.bool)
    if m is not None:
        if m.ndim == 3:
            m = m[..., 0]
        if time_major:
            m = m.t()
    if go_backwards:
        x = torch.flip(x, [1])
        m = None if m is None else torch.flip(m, [1])
    extra = list(constants or [])
    states = [_t(s) for s in initial_states]

    def step(x_t, s):
        out, new = step_function(x_t, list(s) + extra)
        new = list(new) if isinstance(new, list | tuple) else [new]
        return out, new

    last, outputs, states = run_loop(step, x, states, m, zero_output_for_mask, True)
    if not return_all_outputs:
        outputs = last.unsqueeze(1)
    if time_major:
        outputs = outputs.transpose(0, 1)
    return last, outputs, states


__all__ = sorted(n for n, v in list(globals().items())
                 if not n.startswith("_") and callable(v) and getattr(v, "__module__", "").startswith("rnnkit")
                 and n not in {"KerasTensor", "Variable", "run_loop"})
