#!/usr/bin/env bash
# The leaderboard check CI runs (docs/ci.md): run a benchmark config, write its report, and
# compare it with a committed baseline. Exit status: 0 no regression; 1 a regression, a failed
# cell, or (with a compare that has --allow-vanished, unless given) a vanished entry; 2 a usage error.
#
#   .ci/leaderboard.sh [CONFIG [OUT [BASELINE]]]
#
# CONFIG    benchmark config            (default benchmarks/smoke.toml)
# OUT       result folder, rewritten    (default runs/ci-smoke); the report goes to OUT/report
# BASELINE  leaderboard.csv or result folder to compare with (default results/smoke/leaderboard.csv)
#
# Environment: SSLBENCH (the command, default "sslbench"), SSLBENCH_TOLERANCE (absolute slack
# beyond the baseline's interval, default 0.02), SSLBENCH_COMPARE_ARGS (more compare options,
# e.g. --allow-vanished), GITHUB_STEP_SUMMARY (set by GitHub Actions: the comparison is
# appended there as Markdown). The comparison is also kept as OUT/compare.md.
#
# The baseline is the same run's report (docs/ci.md, "Making the baseline"):
#   sslbench run benchmarks/smoke.toml --out runs/baseline && sslbench report runs/baseline -o results/smoke
#   cp runs/baseline/rows.jsonl runs/baseline/manifest.json runs/baseline/curves.jsonl results/smoke/
set -euo pipefail

config=${1:-benchmarks/smoke.toml}
out=${2:-runs/ci-smoke}
baseline=${3:-results/smoke/leaderboard.csv}
tolerance=${SSLBENCH_TOLERANCE:-0.02}
read -r -a sslbench <<< "${SSLBENCH:-sslbench}"
read -r -a extra <<< "${SSLBENCH_COMPARE_ARGS:-}"

if [ ! -e "$baseline" ]; then
    echo "leaderboard.sh: baseline $baseline does not exist; commit one made by this script (see its header)" >&2
    exit 2
fi
if [ -e "$out" ]; then  # a fresh run every time; only a folder that holds a previous run is replaced
    if [ ! -f "$out/manifest.json" ]; then
        echo "leaderboard.sh: $out exists and is not a result folder; pass another OUT" >&2
        exit 2
    fi
    rm -rf -- "$out"
fi

# Failed cells (exit 1) still get a report and a comparison (where they show as regressions);
# a usage error (exit 2: bad config, unknown component) stops here.
ran=0
"${sslbench[@]}" run "$config" --out "$out" || ran=$?
if [ "$ran" -ne 0 ] && [ "$ran" -ne 1 ]; then
    exit "$ran"
fi
"${sslbench[@]}" report "$out" -o "$out/report"

# Markdown when this sslbench's compare writes it (--format md), else its plain text in a code block.
format=()
if "${sslbench[@]}" compare --help 2>/dev/null | grep -q -- "--format"; then
    format=(--format md)
fi
status=0
"${sslbench[@]}" compare "$baseline" "$out" --tolerance "$tolerance" "${format[@]}" "${extra[@]}" \
    > "$out/compare.txt" || status=$?
{
    echo "## sslbench: $config against $baseline"
    echo
    if [ ${#format[@]} -gt 0 ]; then cat "$out/compare.txt"; else printf '```\n%s\n```\n' "$(cat "$out/compare.txt")"; fi
    echo
    case $status in
        0) echo "**No regression** (tolerance $tolerance)." ;;
        1) echo "**Regression**: the job fails (tolerance $tolerance)." ;;
        *) echo "**compare failed** with exit status $status." ;;
    esac
    if [ "$ran" -ne 0 ]; then echo; echo "**Some cells failed** (see the run's log and the report's Failures): the job fails."; fi
} > "$out/compare.md"
cat "$out/compare.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat "$out/compare.md" >> "$GITHUB_STEP_SUMMARY"
fi
if [ "$status" -eq 0 ] && [ "$ran" -ne 0 ]; then
    status=$ran
fi
exit "$status"
