"""Data-parallel scaling of ``fit``: samples/s with 1 process and with N under torchrun (gloo on CPU).

    python benchmarks/bench_ddp.py --nproc 2 --samples 4096 --epochs 3

Runs the same training script (an LSTM classifier on synthetic sequences, global batch
``--batch-size``) once alone and once under ``torchrun --nproc_per_node=N``, each process with
``--threads`` torch threads, and prints samples/s of the epochs after the first (the first holds
process-group setup and warm-up) and the ratio. On a machine with fewer cores than
``N * threads`` the processes compete for cores and the ratio says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

WORKER = r'''
import json, os, sys, time
import numpy as np, torch
import rnnkit
from rnnkit import layers, callbacks
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
rng = np.random.default_rng(0)
x = rng.normal(size=(args["samples"], args["steps"], args["features"])).astype("float32")
y = (x[:, :, 0].sum(1) > 0).astype("int64")
rnnkit.utils.set_random_seed(0)
model = rnnkit.Sequential([rnnkit.Input(shape=(args["steps"], args["features"])), layers.LSTM(args["units"]), layers.Dense(2)])
model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
times = []
class Clock(callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.t)
model.fit(x, y, batch_size=args["batch_size"], epochs=args["epochs"], verbose=0, callbacks=[Clock()])
if int(os.environ.get("RANK", "0")) == 0:
    with open(args["out"], "w") as f:
        json.dump(times, f)
'''


def run(nproc: int, args) -> float:
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "worker.py")
        with open(script, "w") as f:
            f.write(WORKER)
        cfg = dict(vars(args), out=os.path.join(d, "times.json"))
        cfg.pop("nproc")
        launch = [sys.executable] if nproc == 1 else [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        subprocess.run([*launch, script, json.dumps(cfg)], check=True, env=env)
        with open(cfg["out"]) as f:
            times = json.load(f)
    steady = times[1:] or times
    return args.samples * len(steady) / sum(steady)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nproc", type=int, default=2, help="processes of the data-parallel run (default 2)")
    p.add_argument("--samples", type=int, default=4096, help="training samples (default 4096)")
    p.add_argument("--steps", type=int, default=28, help="time steps per sequence (default 28)")
    p.add_argument("--features", type=int, default=28, help="features per step (default 28)")
    p.add_argument("--units", type=int, default=64, help="LSTM units (default 64)")
    p.add_argument("--batch-size", type=int, default=128, help="global batch size (default 128)")
    p.add_argument("--epochs", type=int, default=3, help="epochs; the first is not timed (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    args = p.parse_args()
    one = run(1, args)
    many = run(args.nproc, args)
    print(f"| processes | samples/s | speed-up |\n|---|---|---|\n| 1 | {one:.0f} | 1.00 |\n"
          f"| {args.nproc} | {many:.0f} | {many / one:.2f} |")


if __name__ == "__main__":
    main()
