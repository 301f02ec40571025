#!/usr/bin/env bash
# Re-run the validation-split checks behind quick.toml's choices (SimCLR temperature, item2vec's
# negative-sampling exponent): each config scores the validation split, never test. Writes
# runs/tuning/<name>/ and prints one leaderboard per config; the numbers are quoted in quick.toml.
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLBENCH=${SSLBENCH:-sslbench}
for config in benchmarks/tuning/*.toml; do
    name=$(basename "$config" .toml)
    $SSLBENCH run "$config" --out "runs/tuning/$name" --resume
    $SSLBENCH report "runs/tuning/$name" -o "runs/tuning/$name/report" >/dev/null
done
