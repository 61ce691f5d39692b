"""``rnnkit train --dataset NAME`` with no other flags on UEA/UCR data sets, beside InceptionTime.

    python benchmarks/uea_baselines.py                       # the data sets bundled with rnnkit
    python benchmarks/uea_baselines.py --datasets GunPoint ArrowHead --jobs 2

Each run is the command a user types (a fresh process, default flags, its own output directory);
the table gives test accuracy, the published InceptionTime accuracy (Ismail Fawaz et al. 2020,
"InceptionTime: Finding AlexNet for time series classification", results-InceptionTime-128.csv of
hfawaz/InceptionTime for the UCR sets; Ruiz et al. 2021's multivariate bake-off for BasicMotions),
their ratio, the model the defaults chose and the wall-clock time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

#: Published InceptionTime test accuracy per data set.
INCEPTION_TIME = {
    "ArrowHead": 0.8457,
    "BasicMotions": 1.0,
    "GunPoint": 1.0,
    "ItalyPowerDemand": 0.9650,
    "OSULeaf": 0.9421,
    "PickupGestureWiimoteZ": 0.7600,
}
DEFAULT = ["GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "PickupGestureWiimoteZ",
           "JapaneseVowels"]


def run_one(name: str, out_root: str, threads: int) -> dict:
    out = os.path.join(out_root, name)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rnnkit", "train", "--dataset", name,
                           "--output-dir", out, "--verbose", "0"], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"dataset": name, "error": proc.stderr.strip().splitlines()[-1:]}
    with open(os.path.join(out, "run.json")) as f:
        run = json.load(f)
    run["wall_s"] = wall
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=DEFAULT, help="UEA/UCR names (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (default 1: one per machine is fair)")
    p.add_argument("--threads", type=int, default=2, help="OMP threads per run (default 2)")
    p.add_argument("--output", default=None, help="also write the table to this markdown file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as root:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(lambda n: run_one(n, root, args.threads), args.datasets))
    lines = ["| data set | kind | rnnkit test accuracy | InceptionTime | ratio | model | epochs run | time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if "error" in r:
            lines.append(f"| {r['dataset']} | error: {r['error']} |  |  |  |  |  |  |")
            continue
        ref = INCEPTION_TIME.get(r["dataset"])
        ratio = f"{r['test_accuracy'] / ref:.3f}" if ref else "-"
        kind = f"{len(r['classes'])} classes"
        lines.append(f"| {r['dataset']} | {kind} | {r['test_accuracy']:.4f} | {ref if ref else '-'} | "
                     f"{ratio} | {r['model']} | {r['epochs_run']} | {r['wall_s']:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.output:
        with open(args.output, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
