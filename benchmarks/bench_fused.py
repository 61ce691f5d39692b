"""Focused check of the fused layers: rnnkit ``LSTM`` / ``GRU`` vs ``torch.nn.LSTM`` / ``GRU``
(or, with ``--user-cell``, ``RNN(user-written LSTM cell, jit_compile=True)`` vs ``torch.nn.LSTM``).

The full table (``bench_lstm.py``) times nine contenders with few repeats; on a busy machine its
ratios swing by 10-30%. This times only the few contenders compared, interleaved, with many
repeats (training step = forward + backward + SGD, as in ``bench_lstm.py``), and prints the
median ratio per shape with its quartiles.

Run: ``python benchmarks/bench_fused.py [--repeats 31] [--threads 2] [--user-cell]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_lstm import CPU_SHAPES, TorchRNN, UserLSTMCell, make_step, parse_shape  # noqa: E402

from rnnkit import layers  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=31, help="interleaved repeats per shape (default 31)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--shapes", nargs="+", type=parse_shape, default=CPU_SHAPES, metavar="B,T,F,U",
                   help="shapes to time (default: the two CPU shapes of bench_lstm.py)")
    p.add_argument("--user-cell", action="store_true",
                   help="time RNN(user-written LSTM cell, jit_compile=True) against torch.nn.LSTM instead")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} repeats")
    for B, T, F, U in args.shapes:
        torch.manual_seed(0)
        x, y = torch.randn(B, T, F), torch.randn(B, U)
        if args.user_cell:
            models = {"torch LSTM": TorchRNN(torch.nn.LSTM, F, U),
                      "rnnkit RNN(user cell), jit_compile": layers.RNN(UserLSTMCell(U), jit_compile=True)}
            pairs = [("rnnkit RNN(user cell), jit_compile", "torch LSTM")]
        else:
            models = {"torch LSTM": TorchRNN(torch.nn.LSTM, F, U), "rnnkit LSTM": layers.LSTM(U),
                      "torch GRU": TorchRNN(torch.nn.GRU, F, U), "rnnkit GRU": layers.GRU(U)}
            pairs = [("rnnkit LSTM", "torch LSTM"), ("rnnkit GRU", "torch GRU")]
        fns = {}
        for name, m in models.items():
            m(x[:2])  # build
            fns[name] = make_step(m, x, y)
            fns[name]()  # (compiles, for jit_compile)
            fns[name]()
        inner = max(1, int(0.1 / max(1e-4, _once(fns["torch LSTM"]))))  # about 0.1 s per timing
        ts = {k: [] for k in fns}
        for _ in range(args.repeats):
            for k, f in fns.items():
                t0 = time.perf_counter()
                for _ in range(inner):
                    f()
                ts[k].append((time.perf_counter() - t0) / inner)
        parts = []
        for a, b in pairs:
            r = sorted(t_a / t_b for t_a, t_b in zip(ts[a], ts[b]))
            q1, q3 = r[len(r) // 4], r[(3 * len(r)) // 4]
            parts.append(f"{a} / {b.replace('torch ', 'torch.nn.')} = {statistics.median(r):.3f} (quartiles {q1:.3f}-{q3:.3f})")
        print(f"({B}, {T}, {F}, {U}): " + ", ".join(parts) +
              f" (torch.nn.LSTM {statistics.median(ts['torch LSTM']) * 1e3:.2f} ms / step)", flush=True)


def _once(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
