"""What a second CPU thread buys each piece of a small recurrent training step.

At (B, T, F, U) = (64, 28, 28, 64) a step of an LSTM is, per time step, a few small products
(64x64 @ 64x256 forward; 64x256 @ 256x64 and 64x64 @ 64x256 backward) and pointwise gate
kernels. This times each piece, and whole training steps of ``torch.nn.LSTM`` and of
``RNN(user-written LSTM cell, jit_compile=True)``, on 1 and on 2 threads in one process
(alternating, medians over repeats), and prints the speed-up of 2 threads over 1.

On the CI machine (2-core AMD EPYC VM, MKL) the small products gain nothing from the second
thread while the pointwise kernels and oneDNN's fused LSTM do: that is why the compiled user
cell is further from ``torch.nn.LSTM`` on two threads than on one at this shape (README,
Performance).

Run: ``python benchmarks/bench_threads.py [--repeats 9]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="rnnkit-bench-inductor-"))

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from bench_lstm import TorchRNN, UserLSTMCell, make_step  # noqa: E402

from rnnkit import layers  # noqa: E402


def gates(z, c):
    i, f, g, o = z.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def pieces(B=64, T=28, F=28, U=64):
    """``{name: ({threads: fn}, calls per timing, steps per call)}``. Compiled pieces are built
    once per thread count: Inductor decides how to parallelise a kernel from the thread count
    at compile time (a program compiled on 1 thread stays serial on 2)."""
    torch.manual_seed(0)
    h, U4, dz = torch.randn(B, U), torch.randn(U, 4 * U), torch.randn(B, 4 * U)
    out, out2 = torch.empty(B, 4 * U), torch.empty(B, U)
    z, c = torch.randn(T, B, 4 * U), torch.randn(T, B, U)
    x, y = torch.randn(B, T, F), torch.randn(B, U)

    def same(fn):
        return {1: fn, 2: fn}

    def user_step():
        user = layers.RNN(UserLSTMCell(U), jit_compile=True)
        user.build(tuple(x.shape))
        return make_step(user, x, y)

    n = 200
    return {
        "product h @ U (64x64 @ 64x256)": (same(lambda: torch.mm(h, U4, out=out)), n, 1),
        "product dz @ U.T (64x256 @ 256x64)": (same(lambda: torch.mm(dz, U4.t(), out=out2)), n, 1),
        "product h.T @ dz (64x64 @ 64x256)": (same(lambda: torch.mm(h.t(), dz, out=out)), n, 1),
        "pointwise LSTM gates, one step (Inductor; 28 steps per call / 28)": (
            {t: (lambda f: lambda: f(z, c))(torch.compile(gates, dynamic=False)) for t in (1, 2)}, n, T),
        "training step torch.nn.LSTM": (same(make_step(TorchRNN(torch.nn.LSTM, F, U), x, y)), 5, 1),
        "training step RNN(user cell), jit_compile": ({t: user_step() for t in (1, 2)}, 5, 1),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9, help="alternating repeats per piece (default 9)")
    args = p.parse_args(argv)
    fns = pieces()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for per_threads, _, _ in fns.values():  # compile (on its thread count) and warm up
            for threads in (1, 2):
                torch.set_num_threads(threads)
                per_threads[threads](), per_threads[threads]()
    times = {(k, t): [] for k in fns for t in (1, 2)}
    for _ in range(args.repeats):
        for k, (per_threads, n, per) in fns.items():
            for threads in (1, 2):
                torch.set_num_threads(threads)
                fn = per_threads[threads]
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                times[k, threads].append((time.perf_counter() - t0) / n / per)
    print(f"| piece | 1 thread, us | 2 threads, us | speed-up (median of {args.repeats} repeats) |")
    print("|---|---|---|---|")
    for k in fns:
        one, two = times[k, 1], times[k, 2]
        gain = statistics.median(a / b for a, b in zip(one, two))
        print(f"| {k} | {statistics.median(one) * 1e6:.1f} | {statistics.median(two) * 1e6:.1f} | {gain:.2f}x |")


if __name__ == "__main__":
    main()
