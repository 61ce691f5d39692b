"""``RNN._fast_call``: the short path for ``layer(x)`` on fused configurations gives exactly what
the general call path gives, and steps aside whenever something needs the general path."""

from __future__ import annotations

import pytest
import torch

from rnnkit import layers


def _general(layer, x, **kw):
    return layer(x, mask=None, **kw)  # any keyword but ``training`` takes the general path


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
@pytest.mark.parametrize("seq", [False, True])
def test_fast_call_equals_general_path(cls, seq):
    torch.manual_seed(0)
    layer = cls(5, return_sequences=seq)
    x = torch.randn(3, 7, 4, requires_grad=True)
    layer(x)
    assert layer._fast_call(x, None) is not None  # the fast path is taken
    fast = layer(x)
    general = _general(layer, x)
    torch.testing.assert_close(fast, general, rtol=0, atol=0)
    g1 = torch.autograd.grad(fast.sum(), [x, *layer.parameters()])
    g2 = torch.autograd.grad(general.sum(), [x, *layer.parameters()])
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_fast_call_dropout_draws_like_the_general_path():
    """Two layers with the same seed and weights draw the same dropout masks (Keras's rule),
    one through the fast path, one through the general path."""
    a, b = layers.LSTM(4, dropout=0.5, seed=3), layers.LSTM(4, dropout=0.5, seed=3)
    x = torch.randn(2, 6, 3)
    a(x), b(x)
    b.set_weights(a.get_weights())
    for _ in range(2):  # the seed generators advance alike
        torch.testing.assert_close(a(x, training=True), _general(b, x, training=True), rtol=0, atol=0)
    assert not torch.equal(a(x, training=True), a(x, training=False))  # dropout really applied


def test_fast_call_steps_aside():
    layer = layers.LSTM(4, return_sequences=True)
    x = torch.randn(2, 6, 3)
    layer(x)
    # an attached mask is honoured (the general path reads it)
    xm = x.clone()
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[0, 3:] = False
    xm._keras_mask = mask
    assert layer._fast_call(xm, None) is None
    torch.testing.assert_close(layer(xm), layer(x, mask=mask))
    # other dtypes are cast by the general path
    assert layer._fast_call(x.double(), None) is None
    assert layer(x.double()).dtype == torch.float32
    # forward hooks see the call
    seen = []
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    layer(x)
    handle.remove()
    assert seen == [(2, 6, 4)]
    # states, statefulness, reversed inputs
    for kw in ({"return_state": True}, {"go_backwards": True}, {"stateful": True}):
        other = layers.LSTM(4, **kw)
        other(x)
        assert other._fast_call(x, None) is None
    # a mask with holes is not the fused kernel's: the loop runs, through the general path
    assert layers.LSTM(4, activation="relu")(x).shape == (2, 4)


def test_fast_call_wrong_feature_size_gets_the_general_error():
    layer = layers.GRU(3)
    layer(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="per-step feature shape"):
        layer(torch.randn(2, 5, 6))


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_cpu_weights_are_stored_in_the_kernels_layout(cls):
    """kernel (X, G) keeps Keras's shape but is stored transposed, so kernel.t() (PyTorch's
    weight) is contiguous; gradients come back in the same layout; numbers equal the loop's."""
    torch.manual_seed(0)
    layer = cls(4, return_sequences=True)
    x = torch.randn(2, 5, 3)
    layer(x)
    cell = layer.cell
    for w, shape in ((cell.kernel, (3, cell.kernel.shape[1])), (cell.recurrent_kernel, (4, cell.kernel.shape[1]))):
        assert tuple(w.shape) == shape and w.t().is_contiguous() and not w.is_contiguous()
    out = layer(x)
    out.sum().backward()
    assert cell.kernel.grad.stride() == cell.kernel.stride()
    loop = cls(4, return_sequences=True, activation="relu")  # a configuration the loop runs
    loop(x)
    assert loop.cell.kernel.t().is_contiguous()
    reference = cls(4, return_sequences=True, use_cudnn=False)
    reference(x)
    reference.set_weights(layer.get_weights())
    torch.testing.assert_close(reference(x), out, rtol=1e-6, atol=1e-6)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in reference.get_weights()]


class _UserCell(layers.Layer):
    """A user-written cell; ``seen`` logs the training context each eager call ran under."""

    def __init__(self, units=4, **kw):
        super().__init__(**kw)
        self.units, self.state_size, self.seen = units, [units], []

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, x, states):
        from rnnkit.layers.layer import training_context

        self.seen.append(training_context())
        h = torch.tanh(x @ self.kernel + states[0] @ self.recurrent_kernel)
        return h, [h]


@pytest.mark.parametrize("seq", [False, True])
def test_jit_fast_call_equals_general_path(aot, seq):
    torch.manual_seed(0)
    layer = layers.RNN(_UserCell(), jit_compile=True, return_sequences=seq)
    x = torch.randn(3, 9, 2, requires_grad=True)
    layer(x)
    assert layer._fast_call(x, None) is not None  # the fast path is taken
    fast, general = layer(x), _general(layer, x)
    torch.testing.assert_close(fast, general, rtol=0, atol=0)
    g1 = torch.autograd.grad(fast.sum(), [x, *layer.parameters()])
    g2 = torch.autograd.grad(general.sum(), [x, *layer.parameters()])
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert layer._compiled_loop().program_calls >= 3  # (both paths ran the compiled programs)


def test_jit_fast_call_runs_the_cell_under_the_layers_training_scope(aot):
    """``jit_compile="auto"`` runs a signature's first call eagerly: the cell sees the training
    flag the general call would set, through the fast path too."""
    cell = _UserCell()
    layer = layers.RNN(cell, jit_compile="auto")
    x = torch.randn(2, 5, 3)
    layer(x)  # builds (the general path)
    for training in (True, False):
        cell.seen.clear()
        assert layer._fast_call(x, training) is not None
        assert cell.seen and set(cell.seen) == {training}


def test_jit_fast_call_steps_aside(aot):
    x = torch.randn(2, 6, 3)
    for kw in ({"return_state": True}, {"go_backwards": True}, {"stateful": True}, {"time_major": True}):
        layer = layers.RNN(_UserCell(), jit_compile=True, **kw)
        xs = x.transpose(0, 1) if kw.get("time_major") else x
        layer(xs)
        assert layer._fast_call(xs, None) is None
    layer = layers.RNN(_UserCell(), jit_compile=True)
    layer(x)
    xm = x.clone()
    xm._keras_mask = torch.ones(2, 6, dtype=torch.bool)
    assert layer._fast_call(xm, None) is None  # an attached mask: the general path reads it
    assert layer._fast_call(x.double(), None) is None  # another dtype: the general path casts it
    with pytest.raises(ValueError, match="feature"):  # the general path's error for a wrong size
        layer._fast_call(torch.randn(2, 6, 5), None)
