"""benchmarks/paired_change.py: rows of one evaluator paired on the seed between two runs of a grid."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paired_change.py"


def row(task: str, evaluator: str, seed: int, value: float, status: str = "ok") -> dict:
    return {"suite": "s", "dataset": "d", "task": task, "model": "m", "evaluator": evaluator, "label_set": "y", "metric": "top1",
            "seed": seed, "value": value, "status": status}


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_it_pairs_on_the_seed_and_leaves_unpaired_failed_and_other_rows_out(tmp_path):
    before = write(tmp_path / "before.jsonl", [
        row("simclr", "finetune", 0, 0.50), row("simclr", "finetune", 1, 0.60), row("simclr", "finetune", 2, 0.70),
        row("simclr", "knn", 0, 0.10), row("random-init", "finetune", 0, 0.40)])
    after = write(tmp_path / "after.jsonl", [
        row("simclr", "finetune", 0, 0.55), row("simclr", "finetune", 1, 0.58), row("simclr", "finetune", 2, 0.0,
                                                                                      status="failed"),
        row("simclr", "knn", 0, 0.90), row("random-init", "finetune", 1, 0.45)])
    out = run(str(before), str(after), "--evaluator", "finetune")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("| d |")]
    # seeds 0 and 1 pair (seed 2 failed after); random-init has no seed in common; knn is another evaluator
    assert lines == ["| d | simclr | m | finetune | 2 | 0.5500 | 0.5650 | +0.0150 | -0.0200 … +0.0500 |"]


def test_nothing_to_pair_is_one_line_and_exit_2(tmp_path):
    rows = write(tmp_path / "rows.jsonl", [row("simclr", "knn", 0, 0.1)])
    out = run(str(rows), str(rows), "--evaluator", "finetune")
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
