"""Focused check of the fused layers: rnnkit ``LSTM`` / ``GRU`` vs ``torch.nn.LSTM`` / ``GRU``.

The full table (``bench_lstm.py``) times nine contenders with few repeats; on a busy machine its
fused-layer ratios swing by 10-30%. This times only the four fused contenders, interleaved, with
many repeats (training step = forward + backward + SGD, as in ``bench_lstm.py``), and prints the
median ratio per shape.

Run: ``python benchmarks/bench_fused.py [--repeats 31] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_lstm import CPU_SHAPES, TorchRNN, make_step, parse_shape  # noqa: E402

from rnnkit import layers  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=31, help="interleaved repeats per shape (default 31)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--shapes", nargs="+", type=parse_shape, default=CPU_SHAPES, metavar="B,T,F,U",
                   help="shapes to time (default: the two CPU shapes of bench_lstm.py)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} repeats")
    for B, T, F, U in args.shapes:
        torch.manual_seed(0)
        x, y = torch.randn(B, T, F), torch.randn(B, U)
        models = {"torch LSTM": TorchRNN(torch.nn.LSTM, F, U), "rnnkit LSTM": layers.LSTM(U),
                  "torch GRU": TorchRNN(torch.nn.GRU, F, U), "rnnkit GRU": layers.GRU(U)}
        fns = {}
        for name, m in models.items():
            m(x[:2])  # build
            fns[name] = make_step(m, x, y)
            fns[name]()
        inner = max(1, int(0.1 / max(1e-4, _once(fns["torch LSTM"]))))  # about 0.1 s per timing
        ts = {k: [] for k in fns}
        for _ in range(args.repeats):
            for k, f in fns.items():
                t0 = time.perf_counter()
                for _ in range(inner):
                    f()
                ts[k].append((time.perf_counter() - t0) / inner)
        lstm = statistics.median(a / b for a, b in zip(ts["rnnkit LSTM"], ts["torch LSTM"]))
        gru = statistics.median(a / b for a, b in zip(ts["rnnkit GRU"], ts["torch GRU"]))
        print(f"({B}, {T}, {F}, {U}): rnnkit LSTM / torch.nn.LSTM = {lstm:.3f}, rnnkit GRU / torch.nn.GRU = {gru:.3f} "
              f"(torch.nn.LSTM {statistics.median(ts['torch LSTM']) * 1e3:.2f} ms / step)", flush=True)


def _once(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
