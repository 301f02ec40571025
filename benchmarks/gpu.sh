#!/usr/bin/env bash
# The whole grid and the GPU benchmarks on one GPU, in one call, inside a hard time limit.
#
#   bash benchmarks/gpu.sh                                  # on a GPU machine, from anywhere
#   SSLBENCH_GPU_BUDGET=300 bash benchmarks/gpu.sh          # a shorter call; run it again to continue
#   SSLBENCH_GPU_DRYRUN=1 bash benchmarks/gpu.sh            # every stage on the CPU, tiny sizes, ~1 minute
#
# Stages, in order (docs/gpu.md explains each): env (GPU, driver, bf16, free memory; stops
# with exit 2 when one is missing), data (the configs' datasets in the cache), estimate (the
# generated time estimate of the grid), mfu (benchmarks/gpu-mfu.toml: BERT-small mlm-nsp and
# a ResNet-18 SimCLR cell against the bf16 peak), eval (linear probe and kNN on the GPU
# against scikit-learn on the CPU, benchmarks/bench_eval.py), text (tokens/s against
# transformers' Trainer, benchmarks/bench_text.py), grid (benchmarks/full.toml with --resume,
# on all the time the capped stages before it left), report (rows, curves, manifest,
# LEADERBOARD.md, leaderboard.csv, report.html), summary (benchmarks.json and README.md, the
# table generated from it; always runs). On a lent machine without sslbench installed,
# benchmarks/device/run.sh installs it from carried wheels and runs this script.
#
# Every stage runs under `timeout`, capped by what is left of the total budget
# (SSLBENCH_GPU_BUDGET seconds, default 540; 60 in a dry run); a stage that no longer fits is
# skipped and says so in stages.tsv and the README. A stage that finished is not repeated by
# the next call (markers in $RUNS/.done/; SSLBENCH_GPU_FRESH=1 forgets them), and the grid
# resumes from its checkpoints, so calling the script again continues where it stopped.
#
# Knobs (environment): SSLBENCH_GPU_OUT (default results/gpu), SSLBENCH_GPU_RUNS (run folders
# with checkpoints, default runs/gpu), SSLBENCH_GPU_CONFIG, SSLBENCH_GPU_MFU_CONFIG,
# SSLBENCH_GPU_MIN_FREE_GIB (default 20), PY (python with sslbench installed; default
# .venv/bin/python, else python3; exit 2 when it cannot import sslbench and its plugins).
# The data cache is $SSLBENCH_DATA (default ~/.cache/sslbench); a machine without network
# needs it filled beforehand (docs/datasets.md; benchmarks/device/run.sh unpacks a carried one).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DRY="${SSLBENCH_GPU_DRYRUN:-0}"
PY="${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
# Plugins are found only through entry points: a python that cannot import sslbench, or that
# imports a copy without its dist-info, would run nothing. Say so and stop; never guess another.
if ! "$PY" -c 'import sys, sslbench, importlib.metadata as m
sys.exit(0 if {"image", "text", "audio", "recsys", "eval"} <= {e.name for e in m.entry_points(group="sslbench")} else 1)' \
        >/dev/null 2>&1; then
    echo "gpu.sh: $PY cannot import sslbench with its built-in plugins registered; install it (pip install -e .)" \
         "or set PY= to a python that has it (on a lent GPU machine: bash benchmarks/device/run.sh)" >&2
    exit 2
fi
OUT="${SSLBENCH_GPU_OUT:-results/gpu}"
RUNS="${SSLBENCH_GPU_RUNS:-runs/gpu}"
if [[ "$DRY" == 1 ]]; then
    DEVICE=cpu
    BUDGET="${SSLBENCH_GPU_BUDGET:-60}"
    CONFIG="${SSLBENCH_GPU_CONFIG:-benchmarks/gpu-dryrun.toml}"
    MFU_CONFIG="${SSLBENCH_GPU_MFU_CONFIG:-$CONFIG}"
    EVAL_SIZE="300,100"; ROUNDS=1
    CAP_DATA=60; CAP_REPORT=60; CAP_MFU=60; CAP_EVAL=60; CAP_TEXT=60; GRID_RESERVE=10  # generous: a loaded CI machine is slow
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
else
    DEVICE=cuda
    BUDGET="${SSLBENCH_GPU_BUDGET:-540}"
    CONFIG="${SSLBENCH_GPU_CONFIG:-benchmarks/full.toml}"
    MFU_CONFIG="${SSLBENCH_GPU_MFU_CONFIG:-benchmarks/gpu-mfu.toml}"
    EVAL_SIZE="10000,2000"; ROUNDS=2
    CAP_DATA=60; CAP_REPORT=20; CAP_MFU=60; CAP_EVAL=60; CAP_TEXT=45; GRID_RESERVE=20  # docs/gpu.md: the call plan
fi
SUMMARY_RESERVE=8  # seconds kept for the summary, which always runs
START=$(date +%s)
[[ "${SSLBENCH_GPU_FRESH:-0}" == 1 ]] && rm -rf "$RUNS/.done"
mkdir -p "$RUNS/.done" "$OUT/bench" "$OUT/logs" "$RUNS"
printf 'stage\tstatus\tseconds\tlimit\tnote\n' > "$OUT/stages.tsv"

left() { echo $(( BUDGET - SUMMARY_RESERVE - ($(date +%s) - START) )); }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$OUT/stages.tsv"; echo "== $1: $2 ${5:-}"; }

# stage NAME CAP RESERVE CMD...: run CMD under timeout, at most CAP seconds and what is left of
# the budget after RESERVE seconds kept for later stages; log to $OUT/logs/NAME.log.
stage() {
    local name=$1 cap=$2 reserve=$3 limit t0 rc
    shift 3
    if [[ -e "$RUNS/.done/$name" ]]; then
        record "$name" done-before 0 0 "finished in an earlier call (SSLBENCH_GPU_FRESH=1 repeats it)"
        return 0
    fi
    limit=$(( $(left) - reserve ))
    (( cap > 0 && limit > cap )) && limit=$cap
    if (( limit < 5 )); then
        record "$name" skipped 0 "$limit" "budget spent: ${BUDGET}s in all; run the script again to continue"
        return 0
    fi
    echo "== $name (limit ${limit}s)"
    t0=$(date +%s)
    timeout --kill-after=5 "$limit" "$@" > "$OUT/logs/$name.log" 2>&1
    rc=$?
    local took=$(( $(date +%s) - t0 )) status=ok note=""
    if (( rc == 124 || rc == 137 )); then status=timeout; note="stopped at its limit; run the script again to continue"
    elif (( rc != 0 )); then status=failed; note="exit $rc: see logs/$name.log"
    else touch "$RUNS/.done/$name"; fi
    record "$name" "$status" "$took" "$limit" "$note"
    tail -n 2 "$OUT/logs/$name.log"
    return 0
}

# 1. The environment: the GPU, driver, bf16, free memory. Without them nothing is measured.
timeout 60 "$PY" - "$OUT/env.json" "$DEVICE" "${SSLBENCH_GPU_MIN_FREE_GIB:-20}" <<'EOF' || exit 2
import json, os, platform, subprocess, sys, torch
from sslbench.run.hardware import bf16_peak_flops
path, device, min_free = sys.argv[1], sys.argv[2], float(sys.argv[3])
env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
       "nproc": os.cpu_count(), "device_kind": device, "dry_run": device == "cpu"}
try:
    env["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                   capture_output=True, text=True, timeout=20).stdout.strip() or None
except (OSError, subprocess.SubprocessError):
    env["driver"] = None
problems = []
if device == "cuda":
    if not torch.cuda.is_available():
        problems.append("no CUDA device visible to torch")
    else:
        dev = torch.device("cuda")
        free, total = torch.cuda.mem_get_info(dev)
        env |= {"device": torch.cuda.get_device_name(dev), "bf16": torch.cuda.is_bf16_supported(),
                "free_gib": round(free / 2**30, 1), "total_gib": round(total / 2**30, 1),
                "bf16_peak_tflops": (bf16_peak_flops(dev) or 0) / 1e12 or None}
        if not env["bf16"]:
            problems.append("the GPU does not support bf16 (the runner trains under bf16 autocast)")
        if env["free_gib"] < min_free:
            problems.append(f"{env['free_gib']} GiB free on the GPU, below SSLBENCH_GPU_MIN_FREE_GIB={min_free:g}")
else:
    env |= {"device": "cpu", "bf16": None, "free_gib": None, "total_gib": None, "bf16_peak_tflops": None}
env["problems"] = problems
open(path, "w").write(json.dumps(env, indent=2) + "\n")
print(json.dumps(env))
for p in problems:
    print(f"gpu.sh: {p}; nothing measured (SSLBENCH_GPU_DRYRUN=1 tries the script on the CPU)", file=sys.stderr)
sys.exit(2 if problems else 0)
EOF
ENV_NOTE=$("$PY" -c 'import json, sys; e = json.load(open(sys.argv[1]))
print(e["device"], "| bf16", e["bf16"], "| free GiB", e["free_gib"])' "$OUT/env.json")
record env ok 0 0 "$ENV_NOTE"

# 2. The datasets of both configs in the cache (quick when they are there already).
DATASETS=$(timeout 30 "$PY" - "$CONFIG" "$MFU_CONFIG" <<'EOF'
import sys, tomllib
names = {}
for path in sys.argv[1:]:
    raw = tomllib.load(open(path, "rb"))
    grids = raw.get("grid", [])
    for g in grids if isinstance(grids, list) else [grids]:
        names.update(dict.fromkeys(g.get("datasets", [])))
print(" ".join(names))
EOF
)
stage data "$CAP_DATA" 0 "$PY" -m sslbench data prepare $DATASETS

# 3. The time estimate of the grid (full.toml only: the dry run's tiny config has no measured cells).
if [[ "$DRY" == 1 ]]; then
    record estimate skipped 0 0 "dry run: results/gpu/ESTIMATE.md holds full.toml's"
else
    stage estimate 30 0 "$PY" benchmarks/estimate_full.py "$CONFIG" --write "$OUT/ESTIMATE.md" --limit 1e9
fi

# 4. MFU of BERT-small mlm-nsp and of the image cell (rows carry cost.mfu).
stage mfu "$CAP_MFU" 0 "$PY" -m sslbench run "$MFU_CONFIG" --device "$DEVICE" --out "$RUNS/mfu" --resume
[[ -s "$RUNS/mfu/rows.jsonl" ]] && cp "$RUNS/mfu/rows.jsonl" "$OUT/mfu-rows.jsonl"
[[ -s "$RUNS/mfu/curves.jsonl" ]] && cp "$RUNS/mfu/curves.jsonl" "$OUT/mfu-curves.jsonl"

# 5. Evaluators: torch on the device vs scikit-learn on the CPU, same features.
stage eval "$CAP_EVAL" 0 env SSLBENCH_BENCH_OUT="$OUT/bench" SSLBENCH_BENCH_DEVICE="$DEVICE" \
    SSLBENCH_BENCH_ROUNDS="$ROUNDS" \
    SSLBENCH_BENCH_EVAL_SIZE="$EVAL_SIZE" "$PY" -m pytest benchmarks/bench_eval.py --benchmark-only -q -s \
    -p no:cacheprovider --benchmark-json "$OUT/bench/pytest-benchmark-eval.json"

# 6. Text training throughput against transformers' Trainer (needs 20 Newsgroups in the cache).
if [[ "$DRY" == 1 ]]; then
    record text skipped 0 0 "dry run: bench_text.py needs 20newsgroups in the data cache"
else
    stage text "$CAP_TEXT" 0 env SSLBENCH_BENCH_OUT="$OUT/bench" SSLBENCH_BENCH_DEVICE="$DEVICE" \
        SSLBENCH_BENCH_ROUNDS="$ROUNDS" \
        "$PY" -m pytest benchmarks/bench_text.py --benchmark-only -q -s -p no:cacheprovider \
        --benchmark-json "$OUT/bench/pytest-benchmark-text.json"
fi

# 7. The grid, resumable, on all that is left but the report's reserve. It runs after the
#    benchmarks, whose stages are capped, so that time they do not use goes to the grid (a
#    lent machine gets one call: docs/gpu.md). Rows, curves and the manifest are copied out.
stage grid 0 "$GRID_RESERVE" "$PY" -m sslbench run "$CONFIG" --device "$DEVICE" --out "$RUNS/full" --resume
if [[ -s "$RUNS/full/rows.jsonl" ]]; then
    for f in rows.jsonl curves.jsonl manifest.json; do [[ -e "$RUNS/full/$f" ]] && cp "$RUNS/full/$f" "$OUT/$f"; done
    rm -f "$RUNS/.done/report"  # the rows changed: the report is rewritten
    stage report "$CAP_REPORT" 0 "$PY" -m sslbench report "$RUNS/full" -o "$OUT"
else
    record report skipped 0 0 "the grid wrote no rows"
fi

# 8. benchmarks.json and README.md from it (always, within the reserve).
timeout 30 "$PY" benchmarks/gpu_summary.py "$OUT" --config "$CONFIG" --budget "$BUDGET" \
    --elapsed "$(( $(date +%s) - START ))"
rc=$?
echo "== done in $(( $(date +%s) - START ))s of ${BUDGET}s"
column -t -s $'\t' "$OUT/stages.tsv" 2>/dev/null || cat "$OUT/stages.tsv"
exit $rc
