"""``rnnkit.ops`` against ``keras.ops`` (Keras 3.15 on its torch backend, the oracle): values and
dtypes on the same inputs, symbolic calls in functional models, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers, ops

keras = pytest.importorskip("keras")
kops = keras.ops

rng = np.random.default_rng(0)
A = rng.normal(size=(3, 4)).astype("float32")
B = rng.normal(size=(4, 5)).astype("float32")
C = rng.normal(size=(2, 3, 4)).astype("float32")
P = np.abs(A) + 0.1  # positive
INTS = rng.integers(-3, 5, size=(3, 4)).astype("int32")
IDX = np.array([[0, 2], [1, 3], [3, 0]], dtype="int32")
BOOL = A > 0

# (name, positional args, keyword args): each run through rnnkit.ops and keras.ops
CASES = [
    ("add", (A, 2.0), {}), ("add", (INTS, 1), {}), ("add", (INTS, 1.5), {}), ("subtract", (A, A[0]), {}),
    ("multiply", (A, INTS), {}), ("divide", (INTS, 2), {}), ("divide", (A, P), {}), ("power", (P, 2), {}),
    ("floor_divide", (INTS, 2), {}), ("mod", (INTS, 3), {}), ("maximum", (A, 0.0), {}), ("minimum", (INTS, 0), {}),
    ("equal", (INTS, 0), {}), ("not_equal", (A, A), {}), ("greater", (A, 0.1), {}), ("less_equal", (INTS, 1), {}),
    ("logical_and", (BOOL, A < 0.5), {}), ("logical_or", (BOOL, A < -0.5), {}), ("logical_not", (BOOL,), {}),
    ("exp", (A,), {}), ("exp", (INTS,), {}), ("log", (P,), {}), ("sqrt", (P,), {}), ("sqrt", (np.abs(INTS),), {}),
    ("tanh", (A,), {}), ("sigmoid", (A,), {}), ("abs", (INTS,), {}), ("negative", (A,), {}), ("square", (INTS,), {}),
    ("sign", (A,), {}), ("floor", (A,), {}), ("ceil", (A,), {}), ("round", (A * 10,), {}), ("erf", (A,), {}),
    ("log1p", (P,), {}), ("expm1", (A,), {}), ("sin", (A,), {}), ("cos", (A,), {}), ("reciprocal", (P,), {}),
    ("isnan", (A,), {}), ("isfinite", (A,), {}), ("clip", (A, -0.5, 0.5), {}), ("clip", (INTS, 0, 2), {}),
    ("where", (BOOL, A, 0.0), {}), ("where", (BOOL, INTS, -1), {}),
    ("matmul", (A, B), {}), ("matmul", (C, B), {}), ("dot", (A, B), {}), ("dot", (C, B), {}), ("dot", (A[0], A[1]), {}),
    ("einsum", ("bij,jk->bik", C, B), {}), ("tensordot", (C, B), {"axes": 1}), ("outer", (A[0], B[0]), {}),
    ("reshape", (C, (2, -1)), {}), ("transpose", (C,), {}), ("transpose", (C, (0, 2, 1)), {}),
    ("expand_dims", (A, -1), {}), ("expand_dims", (A, 0), {}), ("squeeze", (A[None],), {"axis": 0}),
    ("concatenate", ([A, A],), {"axis": -1}), ("stack", ([A, A],), {"axis": 1}),
    ("tile", (A, (2, 1)), {}), ("repeat", (A, 2), {"axis": 0}), ("repeat", (A, 2), {}), ("flip", (C,), {"axis": 1}),
    ("swapaxes", (C, 0, 2), {}), ("moveaxis", (C, 0, -1), {}), ("ravel", (A,), {}),
    ("pad", (A, ((1, 0), (0, 2))), {}), ("pad", (A, ((1, 1), (2, 1))), {"mode": "reflect"}),
    ("pad", (A, ((0, 1), (1, 0))), {"constant_values": 3.0}),
    ("take", (A, IDX), {"axis": 1}), ("take", (A, np.array([0, 5])), {}),
    ("take_along_axis", (A, np.argsort(A, axis=1)), {"axis": 1}),
    ("mean", (A,), {}), ("mean", (C,), {"axis": (0, 2), "keepdims": True}), ("mean", (INTS,), {"axis": 0}),
    ("sum", (A,), {"axis": 1}), ("sum", (INTS,), {}), ("sum", (BOOL,), {"axis": 0}), ("prod", (P,), {"axis": 0}),
    ("max", (A,), {}), ("max", (C,), {"axis": -1, "keepdims": True}), ("min", (INTS,), {"axis": 1}),
    ("var", (A,), {"axis": 0}), ("std", (C,), {}), ("any", (BOOL,), {"axis": 1}), ("all", (BOOL,), {}),
    ("logsumexp", (A,), {"axis": -1}), ("argmax", (A,), {"axis": -1}), ("argmax", (A,), {}),
    ("argmin", (C,), {"axis": 1, "keepdims": True}), ("cumsum", (A,), {"axis": 1}), ("cumsum", (INTS,), {}),
    ("cumprod", (P,), {"axis": 0}), ("sort", (A,), {}), ("argsort", (A,), {"axis": 0}),
    ("norm", (A,), {}), ("norm", (C,), {"axis": -1}),
    ("relu", (A,), {}), ("relu6", (A * 8,), {}), ("gelu", (A,), {}), ("gelu", (A,), {"approximate": False}),
    ("silu", (A,), {}), ("softplus", (A,), {}), ("elu", (A,), {}), ("selu", (A,), {}), ("leaky_relu", (A,), {}),
    ("hard_sigmoid", (A * 4,), {}), ("log_sigmoid", (A,), {}), ("softsign", (A,), {}),
    ("softmax", (A,), {}), ("softmax", (C,), {"axis": 1}), ("log_softmax", (A,), {}),
    ("one_hot", (np.array([0, 2, -1, 1]), 3), {}), ("one_hot", (IDX, 4), {"axis": 0}),
    ("multi_hot", (IDX, 4), {}), ("moments", (C, (0, 1)), {}),
    ("arange", (5,), {}), ("arange", (0.0, 1.0, 0.25), {}), ("arange", (1, 7, 2), {"dtype": "float32"}),
    ("zeros", ((2, 3),), {}), ("ones", ((2,),), {"dtype": "int32"}), ("full", ((2, 2), 7.0), {}),
    ("zeros_like", (INTS,), {}), ("ones_like", (A,), {"dtype": "int32"}), ("full_like", (A, 2.0), {}),
    ("eye", (3,), {}), ("eye", (3, 4), {"k": 1}), ("identity", (2,), {}),
    ("cast", (A, "int32"), {}), ("cast", (INTS, "float16"), {}), ("convert_to_tensor", ([1.0, 2.0],), {}),
    ("convert_to_tensor", (3,), {}), ("convert_to_tensor", (A.astype("float64"),), {}),
    ("arcsin", (A / 4,), {}), ("arccos", (A / 4,), {}), ("arctanh", (A / 4,), {}), ("arcsinh", (A,), {}),
    ("log2", (P,), {}), ("log10", (P,), {}), ("logical_xor", (BOOL, A < 0.5), {}),
    ("linspace", (0.0, 1.0, 5), {}), ("linspace", (0, 2, 4), {"endpoint": False}),
    ("broadcast_to", (A[0], (3, 4)), {}), ("hstack", ([A, A],), {}), ("vstack", ([A, A[0]],), {}),
    ("append", (A, A), {}), ("append", (A, A), {"axis": 0}), ("diff", (A,), {}), ("diff", (C, 2), {"axis": 1}),
    ("roll", (A, 1), {}), ("roll", (A, -1), {"axis": 1}), ("tril", (A,), {}), ("triu", (A,), {"k": 1}),
    ("diag", (A[0],), {}), ("diag", (A,), {"k": 1}), ("trace", (A,), {}), ("count_nonzero", (INTS,), {"axis": 0}),
    ("count_nonzero", (INTS,), {}), ("average", (A,), {"axis": 1}), ("average", (A,), {"axis": 1, "weights": P[0]}),
    ("isclose", (A, A + 1e-7), {}), ("nan_to_num", (np.array([np.nan, 1.0, np.inf], "float32"),), {}),
    ("categorical_crossentropy", (np.eye(4, dtype="float32")[[0, 1, 3]], np.abs(A) + 0.05), {}),
    ("categorical_crossentropy", (np.eye(4, dtype="float32")[[0, 1, 3]], A), {"from_logits": True}),
    ("sparse_categorical_crossentropy", (np.array([0, 3, 1]), A), {"from_logits": True}),
    ("sparse_categorical_crossentropy", (np.array([0, 3, 1]), np.abs(A) + 0.05), {}),
    ("binary_crossentropy", ((A > 0).astype("float32"), 1 / (1 + np.exp(-A))), {}),
    ("binary_crossentropy", ((A > 0).astype("float32"), A), {"from_logits": True}),
    ("stop_gradient", (torch.as_tensor(A),), {}), ("slice", (C, (0, 1, 1), (2, 2, 3)), {}),
]


def _np(x):
    if isinstance(x, list | tuple):
        return [_np(e) for e in x]
    return kops.convert_to_numpy(x) if not isinstance(x, np.ndarray) else x


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_values_and_dtypes_as_keras_ops(case):
    name, args, kwargs = case
    got = getattr(ops, name)(*args, **kwargs)
    want = getattr(kops, name)(*args, **kwargs)
    got_l = got if isinstance(got, list | tuple) else [got]
    want_l = want if isinstance(want, list | tuple) else [want]
    assert len(got_l) == len(want_l)
    for g, w in zip(got_l, want_l):
        assert isinstance(g, torch.Tensor), type(g)
        w = _np(w)
        g_np = ops.convert_to_numpy(g)
        assert g_np.shape == w.shape, (g_np.shape, w.shape)
        assert g_np.dtype == w.dtype, (g_np.dtype, w.dtype)
        np.testing.assert_allclose(g_np.astype("float64"), w.astype("float64"), rtol=1e-6, atol=1e-6)


def test_symmetric_pad_as_numpy_where_keras_on_torch_differs():
    """Keras 3.15's torch backend pads ``mode="symmetric"`` wrongly (more than one step from the
    edge it repeats the edge value: ``[0, 1, 2, 3]`` padded by 2 reads ``[0, 0, 0, 1, ...]``, NumPy
    ``[1, 0, 0, 1, ...]``); rnnkit follows NumPy, which Keras's docs name as the reference."""
    for mode in ("symmetric", "reflect"):
        got = ops.convert_to_numpy(ops.pad(A, ((1, 1), (2, 1)), mode=mode))
        np.testing.assert_array_equal(got, np.pad(A, ((1, 1), (2, 1)), mode=mode))
    keras_sym = _np(kops.pad(A, ((0, 0), (2, 0)), mode="symmetric"))
    assert not np.array_equal(keras_sym, np.pad(A, ((0, 0), (2, 0)), mode="symmetric"))  # (the bug)


def test_take_wraps_negative_indices_as_numpy_where_keras_on_torch_differs():
    """``take(x, [-1])`` with ``axis=None`` is the last element in NumPy (and in rnnkit); Keras
    3.15's torch backend reads another one there (``[0, 2, 5]`` for ``[0, -1, 5]`` of ``arange(12)``)."""
    x = np.arange(12.0, dtype="float32").reshape(3, 4)
    idx = np.array([0, -1, 5])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.take(x, idx)), np.take(x, idx))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.take(x, np.array([[0, -1]]), axis=1)),
                                  np.take(x, [[0, -1]], axis=1))
    assert not np.array_equal(_np(kops.take(x, idx)), np.take(x, idx))  # (the difference)


def test_weighted_average_as_numpy_where_keras_on_torch_differs():
    """NumPy's ``average``: 1-D weights along any axis, and with ``axis=None`` a single number.
    Keras 3.15's torch backend returns per-row averages for ``axis=None`` with full weights and
    fails on 1-D weights along axis 0; rnnkit follows NumPy."""
    for kw in ({"axis": 0, "weights": P[:, 0]}, {"weights": P}, {"axis": 1, "weights": P}):
        np.testing.assert_allclose(ops.convert_to_numpy(ops.average(A, **kw)), np.average(A, **kw), rtol=1e-5)
    assert np.shape(_np(kops.average(A, weights=P))) != np.shape(np.average(A, weights=P))  # (the difference)


def test_split_unstack_top_k_where_indices():
    z = rng.normal(size=(2, 8)).astype("float32")
    for args in [(z, 4), (z, [1, 5])]:
        got, want = ops.split(*args, axis=-1), kops.split(*args, axis=-1)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(ops.convert_to_numpy(g), _np(w))
    for g, w in zip(ops.unstack(C, axis=1), kops.unstack(torch.as_tensor(C), axis=1)):
        np.testing.assert_array_equal(ops.convert_to_numpy(g), _np(w))
    (gv, gi), (wv, wi) = ops.top_k(A, 2), kops.top_k(A, 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(gv), _np(wv))
    assert ops.convert_to_numpy(gi).dtype == _np(wi).dtype
    np.testing.assert_array_equal(ops.convert_to_numpy(gi), _np(wi))
    for g, w in zip(ops.where(BOOL), kops.where(BOOL)):
        np.testing.assert_array_equal(ops.convert_to_numpy(g), _np(w))
    assert ops.shape(C) == tuple(kops.shape(C)) == (2, 3, 4)
    assert (ops.ndim(C), ops.size(C), ops.dtype(INTS)) == (kops.ndim(C), int(kops.size(C)), kops.dtype(INTS))
    for g, w in zip(ops.nonzero(INTS), kops.nonzero(INTS)):
        np.testing.assert_array_equal(ops.convert_to_numpy(g), _np(w))
    for g, w in zip(ops.meshgrid(A[0], B[0], indexing="ij"), kops.meshgrid(A[0], B[0], indexing="ij")):
        np.testing.assert_array_equal(ops.convert_to_numpy(g), _np(w))


def test_control_flow_as_keras_ops():
    assert int(ops.fori_loop(0, 5, lambda i, v: v + i, 0)) == int(kops.fori_loop(0, 5, lambda i, v: v + i, 0))
    got = ops.while_loop(lambda a, b: a < 10, lambda a, b: (a + 1, b * 2), (0, 1))
    want = kops.while_loop(lambda a, b: a < 10, lambda a, b: (a + 1, b * 2), (0, 1))
    assert [int(v) for v in got] == [int(v) for v in want]

    def step(carry, x):
        carry = carry + x
        return carry, carry * 2

    xs = rng.normal(size=(5, 3)).astype("float32")
    for reverse in (False, True):
        (gc, gy), (wc, wy) = (ops.scan(step, ops.zeros((3,)), xs, reverse=reverse),
                              kops.scan(step, kops.zeros((3,)), xs, reverse=reverse))
        np.testing.assert_allclose(ops.convert_to_numpy(gc), _np(wc), rtol=1e-6)
        np.testing.assert_allclose(ops.convert_to_numpy(gy), _np(wy), rtol=1e-6)
    assert float(ops.cond(True, lambda: 1.0, lambda: 2.0)) == 1.0
    xt = torch.as_tensor(xs)
    for fn in ("map", "vectorized_map"):
        np.testing.assert_allclose(ops.convert_to_numpy(getattr(ops, fn)(lambda r: r * 2 + 1, xt)),
                                   _np(getattr(kops, fn)(lambda r: r * 2 + 1, xt)), rtol=1e-6)
    branches = [lambda v: v + 1, lambda v: v * 10]
    for i in (-1, 0, 1, 5):
        assert float(ops.switch(i, branches, 2.0)) == float(kops.switch(i, branches, 2.0))


class OpsCell(layers.Layer):
    """An LSTM cell in Keras 3 / tf.keras style: ``ops.*`` and Keras 2's ``K.*`` instead of torch."""

    def __init__(self, units, **kw):
        super().__init__(**kw)
        self.units, self.state_size = units, [units, units]

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), name="rk")
        self.bias = self.add_weight(shape=(4 * self.units,), name="b", initializer="uniform")

    def call(self, inputs, states):
        from rnnkit import backend as K

        h, c = states
        z = K.bias_add(ops.matmul(inputs, self.kernel) + K.dot(h, self.recurrent_kernel), self.bias)
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, [h, c]


def test_a_keras3_style_cell_written_with_ops_trains_like_the_torch_one():
    """A user cell in Keras 3 style (``ops.matmul``, ``ops.split``, ``K.bias_add``) gives the
    numbers of the same cell written with torch functions, and its gradients."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3)
    layer = layers.RNN(OpsCell(4))
    out = layer(x)
    k, rk, bias = layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias
    h = c = torch.zeros(2, 4)
    for t in range(6):
        z = x[:, t] @ k + h @ rk + bias
        i, f, g, o = z.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    torch.testing.assert_close(out, h)
    out.sum().backward()
    assert k.grad is not None and float(k.grad.abs().sum()) > 0


def test_ops_on_symbolic_tensors_build_a_functional_model(tmp_path):
    inp = rnnkit.Input((6,))
    x = ops.expand_dims(inp, -1)  # (None, 6, 1): a sequence of scalars
    assert x.shape == (None, 6, 1)
    seq = layers.LSTM(3, return_sequences=True)(x)
    pooled = ops.mean(seq, axis=1)
    both = ops.concatenate([pooled, ops.max(seq, axis=1)], axis=-1)
    assert both.shape == (None, 6)
    am = ops.argmax(both, axis=-1)
    assert am.dtype == "int32" and am.shape == (None,)
    out = layers.Dense(1)(both)
    model = rnnkit.Model(inp, out)
    data = np.random.default_rng(1).normal(size=(8, 6)).astype("float32")
    y = model.predict(data, verbose=0)
    ref = model.layers  # the same computation by hand
    lstm = next(layer for layer in ref if isinstance(layer, layers.LSTM))
    dense = next(layer for layer in ref if isinstance(layer, layers.Dense))
    s = lstm(torch.as_tensor(data)[..., None])
    want = dense(torch.cat([s.mean(1), s.amax(1)], -1))
    np.testing.assert_allclose(y, want.detach().numpy(), rtol=1e-5, atol=1e-6)
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(data, np.zeros((8, 1), "float32"), epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    # ops with a Keras graph node are written as Keras writes them: Keras 3 loads the file
    model.save(tmp_path / "m.keras")
    back = rnnkit.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(back.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(_np(theirs.predict(data, verbose=0)), model.predict(data, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_ops_without_a_keras_node_run_and_refuse_to_save_clearly(tmp_path):
    inp = rnnkit.Input((6, 4))
    a, b = ops.split(inp, 2, axis=-1)  # (no Keras graph node of rnnkit's table for split)
    out = layers.LSTM(2)(ops.pad(a * b, ((0, 0), (1, 0), (0, 0))))
    model = rnnkit.Model(inp, out)
    x = torch.randn(3, 6, 4)
    lstm = model.layers[-1]
    want = lstm(torch.nn.functional.pad(x[..., :2] * x[..., 2:], (0, 0, 1, 0)))
    torch.testing.assert_close(torch.as_tensor(model.predict(x, verbose=0)), want.detach())
    model.save_weights(tmp_path / "m.weights.h5")  # weights save
    with pytest.raises(Exception, match="calls split on symbolic tensors"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_operators_on_symbolic_tensors_as_keras3(tmp_path):
    """``t * 2 + 1``, ``t[:, -1]``, ``-t``, ``abs(t)``, ``t > 0`` between layers build graph nodes
    (Keras 3's KerasTensor operators); ``==`` stays identity, so tensors remain dictionary keys."""
    inp = rnnkit.Input((5, 3))
    seq = layers.SimpleRNN(4, return_sequences=True)(inp * 2.0 + 1.0)
    last = seq[:, -1]
    assert last.shape == (None, 4)
    mixed = abs(-last) / 2.0 - 1.0 + (last > 0)
    out = 1.0 - mixed ** 2
    model = rnnkit.Model(inp, out)
    x = torch.randn(3, 5, 3)
    rnn = next(layer for layer in model.layers if isinstance(layer, layers.SimpleRNN))
    s = rnn(x * 2.0 + 1.0)[:, -1]
    want = 1.0 - (s.abs() / 2.0 - 1.0 + (s > 0)) ** 2
    torch.testing.assert_close(torch.as_tensor(model.predict(x, verbose=0)), want.detach())
    assert (inp == inp) and not (inp == last) and {inp: 1}[inp] == 1
    path = tmp_path / "ops.keras"  # Keras graph nodes (GetItem, Multiply, ...): Keras 3 loads it
    model.save(path)
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(theirs.predict(x.numpy(), verbose=0)), want.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ops.split(torch.zeros(2, 7), 3, axis=-1), "3 equal parts of an axis of size 7"),
        (lambda: ops.squeeze(torch.zeros(2, 3), axis=1), "axis 1 has size 3, expected 1"),
        (lambda: ops.one_hot(torch.tensor([0, 5]), 3), "below num_classes=3, received 5"),
        (lambda: ops.cast(torch.zeros(2), "float7"), "unknown dtype 'float7'"),
        (lambda: ops.add(torch.zeros(2), object()), "expected a tensor, array or number"),
        (lambda: ops.convert_to_tensor(np.array(["a"])), "expected numbers"),
        (lambda: ops.where(torch.ones(2, dtype=torch.bool), torch.zeros(2)), "give both x1 and x2"),
        (lambda: ops.pad(torch.zeros(2, 2), ((1, 1), (1, 1)), mode="wrap"), "mode must be"),
        (lambda: ops.convert_to_numpy(rnnkit.Input((3,))), "symbolic tensor has no values"),
        (lambda: ops.no_such_op, "rnnkit.ops has no 'no_such_op'"),
        # torch's own errors come out naming the op and what it received
        (lambda: ops.matmul(torch.zeros(2, 3), torch.zeros(4, 5)),
         r"rnnkit.ops.matmul: .*received Tensor\(shape=\(2, 3\), dtype=float32\), Tensor\(shape=\(4, 5\)"),
        (lambda: ops.reshape(np.zeros((2, 3)), (4, 2)), r"rnnkit.ops.reshape: .*received ndarray\(shape=\(2, 3\), dtype=float64\), \(4, 2\)"),
        (lambda: ops.concatenate([torch.zeros(2, 3), torch.zeros(3, 3)], axis=1), r"rnnkit.ops.concatenate: .*axis=1"),
        (lambda: ops.mean(torch.zeros(2, 3), axis=4), r"rnnkit.ops.mean: .*axis=4"),
    ],
)
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError, AttributeError), match=match):
        call()


def test_a_cell_written_with_ops_and_K_runs_on_the_compiled_programs(aot):
    """``ops.*`` / ``K.*`` trace like torch functions: such a cell splits and runs as the
    compiled runner's whole-sequence programs (no fallback), with the eager loop's numbers."""
    torch.manual_seed(0)
    x = torch.randn(4, 12, 3)
    eager, comp = layers.RNN(OpsCell(5)), layers.RNN(OpsCell(5), jit_compile=True)
    eager(x)
    comp(x)
    comp.set_weights(eager.get_weights())
    torch.testing.assert_close(comp(x), eager(x), rtol=1e-5, atol=1e-6)
    loop = comp._compiled_loop()
    assert loop.program_calls == 2 and loop.hoist_reason is None and loop.program_reason is None


# every function that records a Keras node, called on a symbolic (None, 4, 6) input `t`
_NODE_CALLS = {
    "mean": lambda t: ops.mean(t, axis=1), "sum": lambda t: ops.sum(t, axis=-1, keepdims=True),
    "max": lambda t: ops.max(t, axis=1), "min": lambda t: ops.min(t, axis=(1, 2)),
    "var": lambda t: ops.var(t, axis=2), "std": lambda t: ops.std(t, axis=1), "prod": lambda t: ops.prod(t, axis=2),
    "any": lambda t: ops.cast(ops.any(t > 0, axis=1), "float32"), "all": lambda t: ops.cast(ops.all(t > -1, axis=2), "float32"),
    "logsumexp": lambda t: ops.logsumexp(t, axis=1), "argmax": lambda t: ops.cast(ops.argmax(t, axis=-1), "float32"),
    "argmin": lambda t: ops.cast(ops.argmin(t, axis=1), "float32"), "expand_dims": lambda t: ops.expand_dims(t, 1),
    "squeeze": lambda t: ops.squeeze(ops.expand_dims(t, -1), axis=-1), "reshape": lambda t: ops.reshape(t, (-1, 24)),
    "transpose": lambda t: ops.transpose(t, (0, 2, 1)), "concatenate": lambda t: ops.concatenate([t, t * 2], axis=-1),
    "stack": lambda t: ops.stack([t, t], axis=1), "cast": lambda t: ops.cast(ops.cast(t * 3, "int32"), "float32"),
    "softmax": lambda t: ops.softmax(t, axis=1), "log_softmax": lambda t: ops.log_softmax(t),
    "clip": lambda t: ops.clip(t, -0.5, 0.5), "tile": lambda t: ops.tile(t, (1, 2, 1)), "flip": lambda t: ops.flip(t, axis=1),
    "gelu": lambda t: ops.gelu(t, approximate=False), "add": lambda t: ops.add(t, 1.5), "subtract": lambda t: ops.subtract(2.0, t),
    "multiply": lambda t: ops.multiply(t, t), "divide": lambda t: ops.divide(t, 3.0), "power": lambda t: ops.power(t, 2),
    "maximum": lambda t: ops.maximum(t, 0.1), "minimum": lambda t: ops.minimum(t, t * 0.5),
    "matmul": lambda t: ops.matmul(t, ops.transpose(t, (0, 2, 1))), "dot": lambda t: ops.dot(t, 2.0),
    "where": lambda t: ops.where(t > 0, t, 0.0), "exp": ops.exp, "log": lambda t: ops.log(ops.abs(t) + 1.0),
    "sqrt": lambda t: ops.sqrt(ops.abs(t)), "tanh": ops.tanh, "sigmoid": ops.sigmoid, "relu": ops.relu,
    "silu": ops.silu, "softplus": ops.softplus, "abs": ops.abs, "negative": ops.negative, "square": ops.square,
    "sign": ops.sign, "floor": ops.floor, "ceil": ops.ceil, "sin": ops.sin, "cos": ops.cos, "erf": ops.erf,
    "zeros_like": lambda t: ops.zeros_like(t) + t, "ones_like": lambda t: ops.ones_like(t) * t,
    "equal": lambda t: ops.cast(ops.equal(ops.floor(t), 0.0), "float32"),
    "logical_and": lambda t: ops.cast(ops.logical_and(t > 0, t < 1), "float32"),
    "floor_divide": lambda t: ops.floor_divide(t, 0.5), "mod": lambda t: ops.mod(t, 0.5),
}


@pytest.mark.parametrize("name", sorted(_NODE_CALLS))
def test_ops_nodes_save_to_files_keras_loads(name, tmp_path):
    """Each ``rnnkit.ops`` function that records a Keras node: the model saves, Keras 3 loads the
    file and predicts what rnnkit predicts, and rnnkit loads it back."""
    from rnnkit.ops._base import _KERAS_NODES

    inp = rnnkit.Input((4, 6))
    out = _NODE_CALLS[name](inp)
    model = rnnkit.Model(inp, out)
    x = np.random.default_rng(3).normal(size=(2, 4, 6)).astype("float32")
    want = model.predict(x, verbose=0)
    from rnnkit.layers.keras_ops import KerasOp

    graph_ops = {m.op for m in model.modules() if isinstance(m, KerasOp)}
    path = tmp_path / "m.keras"
    model.save(path)
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(theirs.predict(x, verbose=0)), want, rtol=1e-5, atol=1e-5)
    back = rnnkit.saving.load_model(path)
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=1e-6, atol=1e-6)
    assert _KERAS_NODES[name][0] in graph_ops, graph_ops  # (a Keras node, not an Operation layer)


def test_every_keras_node_function_is_saved_by_the_round_trip_test():
    from rnnkit.ops._base import _KERAS_NODES

    untested = set(_KERAS_NODES) - set(_NODE_CALLS) - {
        "absolute", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_or",
        "logical_not", "log1p", "expm1", "rsqrt", "reciprocal"}  # (same table rows as tested ones)
    assert not untested, untested
