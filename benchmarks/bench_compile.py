"""Cold compile of ``jit_compile=True``: first on a machine, and first for a model on a machine that has compiled before.

Besides its cache of compiled kernels (``TORCHINDUCTOR_CACHE_DIR``), Inductor relies on two
things that belong to the machine, not to a model:

- a precompiled header of its C++ kernel prelude, built the first time anything compiles on a
  machine for a torch version and compiler, kept under
  ``tempfile.gettempdir()/torchinductor_<user>/precompiled_headers`` whatever
  ``TORCHINDUCTOR_CACHE_DIR`` says;
- its check of the CPU's vector instruction sets, which compiles probe libraries into the kernel
  cache (so it runs again with every empty one) and loads them in child processes (every
  process). rnnkit records the answer once per machine in ``$RNNKIT_HOME`` and, when there is
  no record, probes only the widest set (:mod:`rnnkit.runners.vec_isa`), while it builds the
  header in the background for the set it expects (:mod:`rnnkit.runners.cpp_header`).

``bench_lstm.py`` empties the kernel cache only, in a process that may have compiled before. This
script times, each in a fresh process and with an empty kernel cache, per shape:

- **first on this machine**: ``TMPDIR`` (so the header) and ``RNNKIT_HOME`` fresh, empty
  directories;
- **header built, no record**: the same ``TMPDIR`` again (its header built), a fresh
  ``RNNKIT_HOME`` (Inductor's instruction-set probe runs);
- **header built, record**: the same ``TMPDIR`` and the first run's ``RNNKIT_HOME``: what a
  new model costs on a machine that has compiled before.

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
from rnnkit.runners import vec_isa
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
loop = m._compiled_loop()
assert loop.program_calls >= 1, (
    f"the compiled programs did not run (program_reason: {{loop.program_reason}}; "
    f"hoist_reason: {{loop.hoist_reason}}; disabled: {{loop._disabled}})"
)
print(json.dumps({{"compile_s": first - statistics.median(steady), "isa": vec_isa.state()["source"]}}))
"""


def run_child(shape, tmpdir, home):
    env = dict(os.environ, TMPDIR=tmpdir, RNNKIT_HOME=home)
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)
    code = CHILD.format(bench_dir=os.path.dirname(os.path.abspath(__file__)), shape=tuple(shape))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the timing process failed for {shape}:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["compile_s"], result["isa"]


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
    columns = ("first on this machine", "header built, no record", "header built, record")
    for shape in args.shapes:
        times = {c: [] for c in columns}
        for _ in range(args.repeats):
            tmp = tempfile.mkdtemp(prefix="rnnkit-bench-compile-")
            try:
                homes = [os.path.join(tmp, "home-a"), os.path.join(tmp, "home-b"), os.path.join(tmp, "home-a")]
                expect = ["probed", "probed", "record"]  # (how rnnkit found the instruction sets)
                for column, home, isa in zip(columns, homes, expect):
                    seconds, seen = run_child(shape, tmp, home)
                    if seen != isa and not seen.startswith("skipped"):  # (off x86-64 Linux: no record)
                        raise RuntimeError(f"{column}: the instruction sets came from {seen!r}, expected {isa!r}")
                    times[column].append(seconds)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        rows.append((shape, times))
        print(f"{shape}: " + ", ".join(f"{c} {[round(t, 1) for t in times[c]]}" for c in columns), flush=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"{stamp}; {platform.machine()}, {os.cpu_count()} cores; cold compile of RNN(user LSTM cell, "
             f"jit_compile=True), each in a fresh process with an empty kernel cache; median (range) of "
             f"{args.repeats}", "",
             "| (B, T, F, U) | " + " | ".join(f"{c}, s" for c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for shape, times in rows:
        cells = [f"{statistics.median(t):.1f} ({min(t):.1f}-{max(t):.1f})" for t in times.values()]
        lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print("\n" + text)
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, "bench_compile_cpu.md")
    with open(path, "w") as f:
        f.write(text + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
