"""How far "bit-identical" reaches: the smoke benchmark on this machine, at several thread counts,
against the committed results/smoke/ rows (made on another machine).

Run: python benchmarks/bench_reproducible.py [--threads 1 2] [--out results/bench/reproducible.json]

For each thread count it runs ``sslbench run benchmarks/smoke.toml`` in a fresh folder (with
``OMP_NUM_THREADS`` set) and counts, per task, the rows whose value differs from the committed
row of the same (task, model, evaluator, label set, metric, seed) in any bit; it also checks two
runs at the same thread count against each other (the promise of docs/reproducibility.md). The
CPU model is recorded beside the counts.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import cpu_model

ROOT = Path(__file__).resolve().parents[1]
KEY = ("task", "model", "evaluator", "label_set", "metric", "seed")


def values(folder: Path) -> dict[tuple, float]:
    rows = (json.loads(line) for line in (folder / "rows.jsonl").read_text().splitlines() if line.strip())
    return {tuple(r[k] for k in KEY): r["value"] for r in rows}


def run_smoke(threads: int, out: Path) -> dict[tuple, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-m", "sslbench", "run", str(ROOT / "benchmarks" / "smoke.toml"), "--out", str(out),
                    "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    return values(out)


def differing(a: dict[tuple, float], b: dict[tuple, float]) -> dict[str, str]:
    """Per task: "<differing> of <shared>" rows whose values are not bit-identical."""
    out = {}
    for task in sorted({k[0] for k in a}):
        shared = [k for k in a if k[0] == task and k in b]
        out[task] = f"{sum(a[k] != b[k] for k in shared)} of {len(shared)}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / "reproducible.json")
    args = parser.parse_args()
    committed = values(ROOT / "results" / "smoke")
    report = {"cpu": cpu_model(), "cores": os.cpu_count(), "committed": "results/smoke", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        first = {}
        for threads in args.threads:
            first[threads] = run_smoke(threads, Path(tmp) / f"t{threads}")
            report["runs"].append({"threads": threads, "vs_committed": differing(committed, first[threads])})
        again = run_smoke(args.threads[0], Path(tmp) / "again")
        report["same_threads_twice"] = {"threads": args.threads[0], "differing": differing(first[args.threads[0]], again)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
