#!/usr/bin/env bash
# benchmarks/gpu.sh on a lent GPU machine, in one call, from a folder prepared on the CPU machine.
#
#   python benchmarks/device/prepare.py              # here: .device/ = wheels + data.tar.xz + carry.json
#   bash benchmarks/device/run.sh                    # there: the device tool's run, carry [".device"]
#   SSLBENCH_GPU_DRYRUN=1 OUT=/tmp/out bash benchmarks/device/run.sh   # the same on the CPU (tests/test_gpu_dryrun.py)
#
# The lent machine has its own python3 and torch, no network and no sslbench; it gives back at
# most 8 files (16 MiB each) from $OUT. So, in order, each step stopping the call with exit 2
# and one line when it fails (docs/gpu.md); each runs under a 120 s timeout:
#   1. install: the carried wheels (sslbench with its plugins, soundfile, cffi, pycparser) with
#      `pip install --no-index --no-deps --target $WORK/site`, then PYTHONPATH=$WORK/site;
#   2. verify: sslbench, its plugins' entry points and soundfile import from $WORK/site and
#      nowhere else (never a python3 without sslbench, never another copy of it);
#   3. unpack: the carried data cache into $WORK/data (SSLBENCH_DATA), checked by SHA-256;
#      SSLBENCH_PIP_ARGS=--no-index, so a dataset missing from it fails at once, not on a timeout;
#   4. run: benchmarks/gpu.sh with the time left (it enforces it itself, stage by stage);
#   5. pack (always, even after a failure): results.tar.xz of everything gpu.sh wrote (rows,
#      curves, manifest, report, benchmark JSON, logs; no checkpoints) and of the run folders,
#      plus README.md, stages.tsv, PACKED.txt and this script's log wrapper.log, at most 8
#      files under $OUT (carry.py checks).
#
# Knobs: OUT (required: the folder that comes back), SSLBENCH_DEVICE_CARRY (default .device),
# SSLBENCH_DEVICE_PYTHON (default python3: the machine's own), SSLBENCH_DEVICE_WORK (default
# /tmp/sslbench-device), SSLBENCH_DEVICE_BUDGET (seconds for the whole call, default 565, i.e.
# 9 min 25 s; 300 in a dry run), and gpu.sh's own (SSLBENCH_GPU_DRYRUN, _CONFIG, _MFU_CONFIG).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RESULTS="${OUT:-}"
if [[ -z "$RESULTS" ]]; then
    echo "run.sh: OUT is not set; set it to the folder the results are packed into" >&2
    exit 2
fi
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
BASE_PY="${SSLBENCH_DEVICE_PYTHON:-python3}"
WORK="${SSLBENCH_DEVICE_WORK:-/tmp/sslbench-device}"

# The steps' output goes to the terminal and to wrapper.log; the pack step runs after the
# log is complete, so that it ships whole.
if [[ "${_SSLBENCH_DEVICE_INNER:-0}" != 1 ]]; then
    _SSLBENCH_DEVICE_INNER=1 _SSLBENCH_DEVICE_START="$(date +%s)" bash "${BASH_SOURCE[0]}" "$@" 2>&1 \
        | tee "$RESULTS/wrapper.log"
    rc=${PIPESTATUS[0]}
    echo "== pack"
    "$BASE_PY" benchmarks/device/carry.py pack "$RESULTS" "$WORK/results/gpu" "$WORK/runs" || rc=2
    ls -l "$RESULTS"
    if (( rc == 2 )); then  # a step refused: its one line, again, on stderr
        grep -E '^(run\.sh|carry\.py [a-z]+|gpu\.sh): ' "$RESULTS/wrapper.log" | tail -n 1 >&2
    fi
    exit "$rc"
fi

START="$_SSLBENCH_DEVICE_START"
if [[ "${SSLBENCH_GPU_DRYRUN:-0}" == 1 ]]; then BUDGET="${SSLBENCH_DEVICE_BUDGET:-300}"
else BUDGET="${SSLBENCH_DEVICE_BUDGET:-565}"; fi
PACK_RESERVE=10  # seconds kept for packing after gpu.sh (a few MiB of xz: about 1 s)
CARRY="${SSLBENCH_DEVICE_CARRY:-.device}"
SITE="$WORK/site"
echo "== run.sh: $(date -u +%FT%TZ), budget ${BUDGET}s, carried folder $CARRY, python $BASE_PY"
mkdir -p "$WORK"  # kept between calls on one machine: gpu.sh continues where an earlier call stopped

# 1. Install, for the machine's python, exactly the carried wheels.
if [[ ! -f "$CARRY/carry.json" ]]; then
    echo "run.sh: $CARRY/carry.json is missing: run python benchmarks/device/prepare.py on the CPU machine and" \
         "carry the folder it writes (docs/gpu.md)"
    exit 2
fi
if ! "$BASE_PY" -c 'import sys, json; want = json.load(open(sys.argv[1]))["python_version"]
have = "%d.%d" % sys.version_info[:2]
sys.exit(0 if have == want else print(f"run.sh: the wheels in {sys.argv[1]} are for Python {want}, this python is {have}; "
         "prepare them with --python-version " + have, file=sys.stderr) or 2)' "$CARRY/carry.json"; then
    exit 2
fi
shopt -s nullglob
WHEELS=("$CARRY"/wheels/*.whl)
if (( ${#WHEELS[@]} == 0 )); then
    echo "run.sh: no wheels in $CARRY/wheels; run python benchmarks/device/prepare.py" >&2
    exit 2
fi
t0=$(date +%s)
if ! timeout 120 "$BASE_PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target "$SITE" "${WHEELS[@]}"; then
    echo "run.sh: pip could not install the carried wheels into $SITE (above)" >&2
    exit 2
fi
export PYTHONPATH="$SITE"
echo "== install: ${#WHEELS[@]} wheels into $SITE in $(( $(date +%s) - t0 ))s"

# 2. Never another sslbench than the one just installed.
timeout 120 "$BASE_PY" benchmarks/device/carry.py verify --site "$SITE" || exit 2

# 3. The data cache.
t0=$(date +%s)
timeout 120 "$BASE_PY" benchmarks/device/carry.py unpack "$CARRY" "$WORK/data" || exit 2
export SSLBENCH_DATA="$WORK/data" SSLBENCH_PIP_ARGS="--no-index"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1  # nothing is fetched from a hub: fail at once, not on a timeout
echo "== unpack: $(( $(date +%s) - t0 ))s"

# 4. The grid and the benchmarks, on the time left.
LEFT=$(( BUDGET - ($(date +%s) - START) - PACK_RESERVE ))
echo "== gpu.sh with SSLBENCH_GPU_BUDGET=${LEFT}s"
PY="$BASE_PY" SSLBENCH_GPU_OUT="$WORK/results/gpu" SSLBENCH_GPU_RUNS="$WORK/runs" SSLBENCH_GPU_BUDGET="$LEFT" \
    bash benchmarks/gpu.sh
rc=$?
echo "== run.sh: gpu.sh exit $rc after $(( $(date +%s) - START ))s of ${BUDGET}s"
exit $rc
