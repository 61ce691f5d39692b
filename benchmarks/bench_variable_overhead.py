"""Does the Keras Variable API on weights cost anything? Side by side, in one process, as ratios.

rnnkit's weights are :class:`rnnkit.variables.Variable` (a ``torch.nn.Parameter`` subclass with
Keras's ``assign`` / ``numpy`` / ``path`` ...). This script times a training step (forward +
backward + SGD) of the same layer twice, interleaved: once with its Variables, once with the very
same tensors re-registered as plain ``torch.nn.Parameter`` s. A ratio of 1.00 means no overhead.
Cases: LSTM (fused kernel), RNN(LSTMCell) forced onto the generic loop (many small ops per step,
where per-op overhead would show most), and a user-written cell.

    python benchmarks/bench_variable_overhead.py [--repeats 40] [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import rnnkit
from rnnkit import layers as L


class UserCell(L.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        h = torch.tanh(inputs @ self.kernel + states[0] @ self.recurrent_kernel)
        return h, [h]


def _plain(layer):
    """The same layer, its Variables swapped for plain Parameters sharing their storage."""
    for m in layer.modules():
        for name, p in list(m._parameters.items()):
            if p is not None:
                m._parameters[name] = nn.Parameter(p.data, requires_grad=p.requires_grad)
    return layer


def _step_fn(layer, x):
    opt = torch.optim.SGD(layer.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        layer(x, training=True).sum().backward()
        opt.step()

    return step


def _time(fn, n):
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a busy machine)")
    ap.add_argument("--quick", action="store_true", help="small batch, fewer repeats")
    args = ap.parse_args()
    B, T, F, U = (16, 14, 16, 32) if args.quick else (64, 28, 28, 64)
    repeats = 10 if args.quick else args.repeats
    torch.set_num_threads(args.threads)
    x = torch.randn(B, T, F)
    cases = {
        "LSTM (fused)": lambda: L.LSTM(U),
        "RNN(LSTMCell), generic loop": lambda: L.RNN(L.LSTMCell(U), use_cudnn=False),
        "RNN(user cell)": lambda: L.RNN(UserCell(U)),
    }
    print(f"torch {torch.__version__}, rnnkit {rnnkit.__version__}, (B, T, F, U) = {(B, T, F, U)}")
    print("| layer | Variable ms / step | Parameter ms / step | ratio |")
    print("|---|---|---|---|")
    for name, make in cases.items():
        torch.manual_seed(0)
        ours = make()
        ours(x)
        theirs = make()
        theirs(x)
        theirs.set_weights(ours.get_weights())
        _plain(theirs)
        assert type(next(theirs.parameters())) is nn.Parameter
        assert isinstance(next(ours.parameters()), rnnkit.Variable)
        a, b = _step_fn(ours, x), _step_fn(theirs, x)
        a(), b()  # warm up
        ta, tb = [], []
        for i in range(repeats):  # interleaved, alternating order, so machine load hits both alike
            order = ((a, ta), (b, tb)) if i % 2 else ((b, tb), (a, ta))
            for fn, out in order:
                out.append(_time(fn, 1))
        ma, mb = statistics.median(ta), statistics.median(tb)
        print(f"| {name} | {ma * 1e3:.2f} | {mb * 1e3:.2f} | {ma / mb:.2f} |")


if __name__ == "__main__":
    main()
