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
    torch.manual_seed(0)
    h, U4, dz = torch.randn(B, U), torch.randn(U, 4 * U), torch.randn(B, 4 * U)
    out, out2 = torch.empty(B, 4 * U), torch.empty(B, U)
    # the gates of all T steps in one compiled kernel call: the kernel's own cost per step,
    # without the per-call overhead of torch.compile (reported per time step below)
    z, c = torch.randn(T, B, 4 * U), torch.randn(T, B, U)
    compiled_gates = torch.compile(gates, dynamic=False)
    x, y = torch.randn(B, T, F), torch.randn(B, U)
    user = layers.RNN(UserLSTMCell(U), jit_compile=True)
    user.build(tuple(x.shape))
    n = 200
    return {
        "product h @ U (64x64 @ 64x256)": (lambda: torch.mm(h, U4, out=out), n, 1),
        "product dz @ U.T (64x256 @ 256x64)": (lambda: torch.mm(dz, U4.t(), out=out2), n, 1),
        "product h.T @ dz (64x64 @ 64x256)": (lambda: torch.mm(h.t(), dz, out=out), n, 1),
        "pointwise LSTM gates, one step (Inductor; 28 steps per call / 28)": (lambda: compiled_gates(z, c), n, T),
        "training step torch.nn.LSTM": (make_step(TorchRNN(torch.nn.LSTM, F, U), x, y), 5, 1),
        "training step RNN(user cell), jit_compile": (make_step(user, x, y), 5, 1),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9, help="alternating repeats per piece (default 9)")
    args = p.parse_args(argv)
    fns = pieces()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn, _, _ in fns.values():  # compile and warm up on both thread counts
            for threads in (1, 2):
                torch.set_num_threads(threads)
                fn(), fn()
    times = {(k, t): [] for k in fns for t in (1, 2)}
    for _ in range(args.repeats):
        for k, (fn, n, per) in fns.items():
            for threads in (1, 2):
                torch.set_num_threads(threads)
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
