"""benchmarks/smoke.toml end to end through the CLI: SimCLR must beat random init on kNN."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sslbench.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_smoke_benchmark_through_the_cli(tmp_path, capsys):
    out = tmp_path / "smoke"
    run = subprocess.run([sys.executable, "-m", "sslbench", "run", str(ROOT / "benchmarks" / "smoke.toml"),
                          "--out", str(out), "--device", "cpu"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert "## digits / knn / digit / top1" in run.stdout  # the leaderboard is printed
    # the leaderboard in this process: a third interpreter start would only re-load every plugin
    assert main(["leaderboard", str(out), "--format", "json"]) == 0
    records = {(r["task"], r["evaluator"]): r for r in json.loads(capsys.readouterr().out)}
    assert set(records) == {(t, e) for t in ("random-init", "no-encoder", "simclr") for e in ("knn", "linear-probe")}
    model = {"no-encoder": "raw-pixels"}  # the image modality's reference beside random-init
    assert all(r["n"] == 3 and r["dataset"] == "digits" and r["model"] == model.get(task, "cnn-small")
               for (task, _), r in records.items())
    knn_gain = records[("simclr", "knn")]["mean"] - records[("random-init", "knn")]["mean"]
    assert knn_gain > 0, f"SimCLR kNN {records[('simclr', 'knn')]['mean']} does not beat random init"
    assert main(["leaderboard", str(out), "-o", str(tmp_path / "lb.md")]) == 0
    assert "| simclr" in (tmp_path / "lb.md").read_text()
