"""Cold start: ``import rnnkit`` + the first training step of a small LSTM vs the same in plain torch.

Each measurement is a fresh Python process (nothing imported, nothing cached in memory), timed
from the first import to the end of the first optimizer step; the two programs alternate, and
the script reports the median of each, the ratio, the per-repeat ratios' spread, and which
heavy modules (``torch._dynamo``, ``torch._inductor``) each program ended up importing.

Run: ``python benchmarks/bench_cold_start.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

# The two programs do the same work: a (32, 20, 8) batch through LSTM(16) + Dense(1), MSE loss,
# one Adam step. Each prints the elapsed seconds and the heavy modules it imported.
_COMMON_END = """
elapsed = time.perf_counter() - t0
heavy = [m for m in ("torch._dynamo", "torch._inductor") if m in sys.modules]
print(json.dumps({"seconds": elapsed, "heavy": heavy}))
"""

PLAIN_TORCH = """
import json, sys, time
t0 = time.perf_counter()
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 16, batch_first=True)
        self.head = torch.nn.Linear(16, 1)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])

x, y = torch.randn(32, 20, 8), torch.randn(32, 1)
net = Net()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
opt.zero_grad()
loss = torch.nn.functional.mse_loss(net(x), y)
loss.backward()
opt.step()
""" + _COMMON_END

RNNKIT = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import rnnkit
from rnnkit import layers

x = np.random.randn(32, 20, 8).astype("float32")
y = np.random.randn(32, 1).astype("float32")
model = rnnkit.Sequential([layers.Input((20, 8)), layers.LSTM(16), layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.train_on_batch(x, y)
""" + _COMMON_END


def run_once(code: str) -> dict:
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="fresh processes per program (default 7)")
    args = p.parse_args(argv)
    plain, kit, heavy = [], [], {}
    for _ in range(args.repeats):  # alternate, so load changes hit both alike
        a = run_once(PLAIN_TORCH)
        b = run_once(RNNKIT)
        plain.append(a["seconds"])
        kit.append(b["seconds"])
        heavy = {"plain torch": a["heavy"], "rnnkit": b["heavy"]}
    ratios = [b / a for a, b in zip(plain, kit)]
    print(f"fresh processes: {args.repeats} per program, alternating")
    print("| program | median s | min s | max s | heavy modules imported |")
    print("|---|---|---|---|---|")
    for name, ts in (("plain torch", plain), ("rnnkit", kit)):
        print(
            f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f} | {max(ts):.2f} | "
            f"{', '.join(heavy[name]) or 'none'} |"
        )
    print(
        f"\nratio rnnkit / plain torch: median {statistics.median(ratios):.2f} "
        f"(per-repeat {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
