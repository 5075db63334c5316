#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA exactness tests, then the speeds, CPU and CUDA side by
# side (trainer bench; eval; the default recipe's training, one run alone and six at once).
# Each part has a time limit and the whole stays inside BUDGET seconds; logs go to OUT (default
# build/gpu). Runs from a checkout without installing it (PYTHONPATH), on whatever torch is there.
#   bench/gpu.sh                    # figures: docs/default-rule.md, "On a GPU"
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu}
BUDGET=${BUDGET:-540}
RUNS=build/gpu-runs
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
part() {   # part NAME SECONDS COMMAND...: run with min(SECONDS, what is left of BUDGET), log to OUT/NAME.txt
    local name=$1 limit=$2; shift 2
    local left=$((BUDGET - SECONDS))
    ((left < limit)) && limit=$left
    if ((limit < 10)); then echo "== $name: skipped, budget spent" | tee -a "$OUT/$name.txt"; return; fi
    echo "== $name (at most ${limit} s)"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$OUT/$name.txt"
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$OUT/$name.txt"
}
train() {  # train DIR SEED: 200 float + 100 QAT iterations of the default recipe, checks every 50
    python3 -m trainer train --device cuda --float-iters 200 --qat-iters 100 --check-every 50 --seed "$2" \
        --out-dir "$1" --quiet --no-eval 2>&1 | grep -E "^trained|error"
}
parallel() {
    for i in 1 2 3 4 5 6; do train "$RUNS/six$i" "$i" | sed "s/^/run $i: /" & done
    wait
}
export -f train parallel; export RUNS
rm -rf "$RUNS"

part env 30 bash -c 'nvidia-smi -L; python3 -c "import torch, numpy; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.get_device_name(0), \"numpy\", numpy.__version__)"; nproc; command -v cc gcc'
# one pytest process with 8 threads: 8 xdist workers of 16 threads each spun against each other (2026-12-04)
part cuda-tests 120 env OMP_NUM_THREADS=8 python3 -m pytest -q -p no:cacheprovider -p no:xdist -rf tests/test_cuda.py
part tests-on-cuda 200 env OMP_NUM_THREADS=8 python3 -m pytest -q -p no:cacheprovider -p no:xdist -rf \
    tests/test_train.py tests/test_gridenv.py tests/test_qat.py tests/test_import.py   # their default device: cuda
part bench 150 python3 -m trainer bench --seconds 3
part train-alone 90 bash -c "time train $RUNS/alone 0"
part train-six 120 bash -c "time parallel"
part eval 60 bash -c "time python3 -m trainer eval --device cuda --json; time python3 -m trainer eval --device cpu --json"
rm -rf "$RUNS"
