"""``fit`` under ``torchrun``: two CPU processes (gloo) against one process, same global batch and seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "ddp_train.py")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    single, multi = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("ddp")
    subprocess.run([sys.executable, SCRIPT, str(single)], check=True, env=_env(), timeout=120)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
              SCRIPT, str(multi)]
    proc = subprocess.run(launch, env=_env(), timeout=180, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return single, multi


def _load(d, rank):
    with open(d / f"rank{rank}.json") as f:
        info = json.load(f)
    with np.load(d / f"rank{rank}.npz") as z:
        weights = [z[k] for k in z.files]
    return info, weights


def test_both_ranks_end_with_identical_weights_equal_to_one_process(runs):
    single, multi = runs
    _, w_single = _load(single, 0)
    _, w0 = _load(multi, 0)
    _, w1 = _load(multi, 1)
    assert len(w0) == len(w1) == len(w_single) == 5
    for a, b, c in zip(w0, w1, w_single):
        np.testing.assert_array_equal(a, b)  # DDP keeps the replicas bit-identical
        np.testing.assert_allclose(a, c, rtol=0, atol=1e-5)


def test_every_rank_logs_the_single_process_history_evaluate_and_predict(runs):
    single, multi = runs
    ref, _ = _load(single, 0)
    for rank in (0, 1):
        info, _ = _load(multi, rank)
        assert info["history"].keys() == ref["history"].keys()
        for k in ref["history"]:
            np.testing.assert_allclose(info["history"][k], ref["history"][k], rtol=0, atol=1e-5)
        for k in ref["evaluate"]:
            np.testing.assert_allclose(info["evaluate"][k], ref["evaluate"][k], rtol=0, atol=1e-5)
        # predict gathers every rank's slice back in order: 13 rows, batch 4 -> slices of 2+2, 2+2, 2+2, 1+0
        np.testing.assert_allclose(np.array(info["predict"]), np.array(ref["predict"]), rtol=0, atol=1e-5)


def test_only_rank_zero_writes_files(runs):
    _, multi = runs
    rank0 = (multi / "writes_rank0.txt").read_text().split("\n")
    rank1 = (multi / "writes_rank1.txt").read_text()
    assert rank1 == ""
    assert sum(line.startswith("save ") for line in rank0) == 2  # ModelCheckpoint, once per epoch
    assert sum(line.startswith("csv ") for line in rank0) == 1
    assert (multi / "ckpt.rnnkit").exists()
    lines = (multi / "history.csv").read_text().strip().split("\n")
    assert len(lines) == 3  # header + two epochs, written once


def test_early_stopping_stops_at_the_same_epoch_on_every_rank(runs):
    single, multi = runs
    ref, _ = _load(single, 0)
    epochs = [_load(multi, r)[0]["early_stopping_epochs"] for r in (0, 1)]
    assert epochs[0] == epochs[1] == ref["early_stopping_epochs"]
    assert ref["early_stopping_epochs"] < 8  # it did stop early


def test_bfloat16_autocast_under_ddp(runs):
    single, multi = runs
    ref = _load(single, 0)[0]["bf16_history"]["loss"][0]
    ws = []
    for rank in (0, 1):
        info, _ = _load(multi, rank)
        np.testing.assert_allclose(info["bf16_history"]["loss"][0], ref, rtol=2e-2)
        with np.load(multi / f"rank{rank}_bf16.npz") as z:
            ws.append([z[k] for k in z.files])
    with np.load(single / "rank0_bf16.npz") as z:
        w_single = [z[k] for k in z.files]
    for a, b, c in zip(ws[0], ws[1], w_single):
        assert a.dtype == np.float32  # weights stay float32 under autocast
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=0, atol=2e-2)  # bfloat16 rounding differs per shard


def test_dataloader_and_generator_inputs_are_sharded_like_arrays(runs):
    single, multi = runs
    ref = _load(single, 0)[0]
    with np.load(single / "rank0_loader.npz") as z:
        w_single = [z[k] for k in z.files]
    for rank in (0, 1):
        info, _ = _load(multi, rank)
        for key in ("loader_history", "generator_history"):
            for k in ref[key]:
                np.testing.assert_allclose(info[key][k], ref[key][k], rtol=0, atol=1e-5)
        with np.load(multi / f"rank{rank}_loader.npz") as z:
            for a, c in zip([z[k] for k in z.files], w_single):
                np.testing.assert_allclose(a, c, rtol=0, atol=1e-5)
