#!/usr/bin/env bash
# The prepared GPU check for issue 10's GPU line, sized for one `device` run (about 8 minutes):
#   1. the CUDA tests (tests/test_cuda.py: fixtures on cuDNN, the compiled runner with CUDA graphs),
#   2. the benchmark at the four GPU shapes (torch.nn.LSTM / GRU = cuDNN as the baselines).
# Needs only the machine's own python3 with torch (no install: rnnkit runs from the checkout).
# Writes device.txt, tests.log, bench.log, bench_lstm_cuda.md / .png under $OUT (default ./gpu_out).
#   run: bash scripts/gpu_check.sh          (device tool: timeout_s 600)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{ nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } \
  2>&1 | tee "$OUT/device.txt"
echo "== tests $(date -u +%T)"
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/tests.log" | tail -25
echo "== bench $(date -u +%T)"
timeout 330 python3 benchmarks/bench_lstm.py --device cuda --no-keras --no-fit --repeats 5 --out-dir "$OUT" \
  2>&1 | tee "$OUT/bench.log"
echo "== done $(date -u +%T)"
