"""Cold compile of ``jit_compile=True``: first on a machine, and first for a model once Inductor's header is built.

Inductor keeps two things on disk: its cache of compiled kernels (``TORCHINDUCTOR_CACHE_DIR``)
and a precompiled header of its C++ kernel prelude, built the first time anything is compiled
on a machine for a torch version and compiler, and kept under
``tempfile.gettempdir()/torchinductor_<user>/precompiled_headers`` whatever
``TORCHINDUCTOR_CACHE_DIR`` says. ``bench_lstm.py`` empties the first only, so its "cold
compile" column is a new model's first compile on a machine that has compiled before. This
script times both, each in a fresh process, per shape:

- **first on this machine**: ``TMPDIR`` (so both the kernel cache and the header) a fresh,
  empty directory;
- **header built**: the same ``TMPDIR`` again (its header now built), a fresh kernel cache.

The compile time is the first training step (forward + backward + SGD) of
``RNN(user-written LSTM cell, jit_compile=True)`` minus a steady step, as in ``bench_lstm.py``.

Run: ``python benchmarks/bench_compile.py [--repeats 2] [--shapes 64,28,28,64 64,100,128,256]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_lstm import parse_shape  # noqa: E402  (the same B,T,F,U parsing and message)

CHILD = """
import json, os, statistics, sys, time, warnings
sys.path.insert(0, {bench_dir!r})
import bench_lstm  # (points TORCHINDUCTOR_CACHE_DIR at a fresh directory under TMPDIR)
import torch
from rnnkit import layers
B, T, F, U = {shape!r}
torch.manual_seed(0)
x, y = torch.randn(B, T, F), torch.randn(B, U)
m = layers.RNN(bench_lstm.UserLSTMCell(U), jit_compile=True)
m.build(tuple(x.shape))
step = bench_lstm.make_step(m, x, y)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
steady = []
for _ in range(3):
    t0 = time.perf_counter()
    step()
    steady.append(time.perf_counter() - t0)
assert m._compiled_loop().program_calls >= 1, "the compiled programs did not run"
print(json.dumps({{"compile_s": first - statistics.median(steady)}}))
"""


def run_child(shape, tmpdir):
    env = dict(os.environ, TMPDIR=tmpdir)
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)
    code = CHILD.format(bench_dir=os.path.dirname(os.path.abspath(__file__)), shape=tuple(shape))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the timing process failed for {shape}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["compile_s"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2, help="fresh-machine / header-built pairs per shape")
    p.add_argument("--shapes", nargs="+", type=parse_shape, default=[(64, 28, 28, 64), (64, 100, 128, 256)],
                   metavar="B,T,F,U", help="shapes to compile for (default: the two CPU shapes of bench_lstm.py)")
    p.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "results"),
                   help="where to write the markdown table (default benchmarks/results)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats: expected a positive integer, received {args.repeats}")
    rows = []
    for shape in args.shapes:
        fresh, built = [], []
        for _ in range(args.repeats):
            tmp = tempfile.mkdtemp(prefix="rnnkit-bench-compile-")
            try:
                fresh.append(run_child(shape, tmp))
                built.append(run_child(shape, tmp))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        rows.append((shape, fresh, built))
        print(f"{shape}: first on this machine {fresh}, header built {built}", flush=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"{stamp}; {platform.machine()}, {os.cpu_count()} cores; cold compile of RNN(user LSTM cell, "
             f"jit_compile=True), each in a fresh process; median (range) of {args.repeats}", "",
             "| (B, T, F, U) | first on this machine, s | header built, s |", "|---|---|---|"]
    for shape, fresh, built in rows:
        lines.append(f"| {shape} | {statistics.median(fresh):.1f} ({min(fresh):.1f}-{max(fresh):.1f}) | "
                     f"{statistics.median(built):.1f} ({min(built):.1f}-{max(built):.1f}) |")
    text = "\n".join(lines)
    print("\n" + text)
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, "bench_compile_cpu.md")
    with open(path, "w") as f:
        f.write(text + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
