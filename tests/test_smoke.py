"""benchmarks/smoke.toml end to end through the CLI: SimCLR must beat random init on kNN."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_smoke_benchmark_through_the_cli(tmp_path):
    out = tmp_path / "smoke"
    run = subprocess.run([sys.executable, "-m", "sslbench", "run", str(ROOT / "benchmarks" / "smoke.toml"),
                          "--out", str(out), "--device", "cpu"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert "## digits / knn / digit / top1" in run.stdout  # the leaderboard is printed
    board = subprocess.run([sys.executable, "-m", "sslbench", "leaderboard", str(out), "--format", "json"],
                           capture_output=True, text=True, timeout=120)
    assert board.returncode == 0, board.stderr
    records = {(r["task"], r["evaluator"]): r for r in json.loads(board.stdout)}
    assert set(records) == {(t, e) for t in ("random-init", "simclr") for e in ("knn", "linear-probe")}
    assert all(r["n"] == 2 and r["dataset"] == "digits" and r["model"] == "cnn-small" for r in records.values())
    knn_gain = records[("simclr", "knn")]["mean"] - records[("random-init", "knn")]["mean"]
    assert knn_gain > 0, f"SimCLR kNN {records[('simclr', 'knn')]['mean']} does not beat random init"
    md = subprocess.run([sys.executable, "-m", "sslbench", "leaderboard", str(out), "-o", str(tmp_path / "lb.md")],
                        capture_output=True, text=True, timeout=120)
    assert md.returncode == 0 and "| simclr" in (tmp_path / "lb.md").read_text()
