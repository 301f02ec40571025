"""benchmarks/gpu.sh end to end on the CPU (its dry run), so that only the device is new on a GPU.

The dry run (``SSLBENCH_GPU_DRYRUN=1``) runs every stage the GPU call runs — environment,
data, grid with ``--resume``, report, MFU run, evaluator benchmark, summary — with a grid
of a few steps on bundled digits and tiny benchmark sizes, inside its own time limit.
The second call checks that a retry continues: finished stages are not repeated and the
grid's rows stay as they were.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sslbench.results import read_rows

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("estimate_full", ROOT / "benchmarks" / "estimate_full.py")
estimate_full = sys.modules["estimate_full"] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(estimate_full)
STAGES = ["env", "data", "estimate", "grid", "report", "mfu", "eval", "text"]


def run_gpu_sh(out: Path, runs: Path, budget: int = 300) -> subprocess.CompletedProcess:
    """One dry-run call of gpu.sh writing into ``out`` (tables) and ``runs`` (run folders).

    The budget is a ceiling, not a target: on a quiet 2-core CPU the call takes about a minute,
    and the slack keeps a loaded CI machine from timing a stage out (it did at 90 s)."""
    env = {**os.environ, "SSLBENCH_GPU_DRYRUN": "1", "SSLBENCH_GPU_OUT": str(out), "SSLBENCH_GPU_RUNS": str(runs),
           "SSLBENCH_GPU_BUDGET": str(budget), "PY": sys.executable, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh")], env=env, capture_output=True, text=True,
                          timeout=budget + 60)


def stage_table(out: Path) -> dict[str, str]:
    """stage -> status from the stages.tsv the call wrote."""
    lines = (out / "stages.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["stage", "status", "seconds", "limit", "note"]
    return {cols[0]: cols[1] for cols in (line.split("\t") for line in lines[1:])}


@pytest.mark.slow
def test_gpu_sh_dry_run_writes_every_output_and_a_retry_continues(tmp_path):
    out, runs = tmp_path / "gpu", tmp_path / "runs"
    first = run_gpu_sh(out, runs)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    status = stage_table(out)
    assert list(status) == STAGES
    assert {s: status[s] for s in ("env", "data", "grid", "report", "mfu", "eval")} == dict.fromkeys(
        ("env", "data", "grid", "report", "mfu", "eval"), "ok")
    assert status["text"] == status["estimate"] == "skipped"  # said why in the note, not silently

    rows = read_rows(out / "rows.jsonl")
    assert {r["task"] for r in rows} == {"random-init", "no-encoder", "simclr", "supervised"}
    assert all(r["status"] == "ok" for r in rows)
    for name in ("LEADERBOARD.md", "leaderboard.csv", "report.html", "mfu-rows.jsonl", "env.json"):
        assert (out / name).stat().st_size > 0, name

    summary = json.loads((out / "benchmarks.json").read_text())
    assert summary["environment"]["dry_run"] is True
    assert summary["grid"]["cell_seeds"] == 4 and summary["grid"]["pretrained_cell_seeds"] == 2  # random-init, no-encoder, simclr, supervised
    assert {m["cell"] for m in summary["mfu"]} == {"digits/simclr/cnn-small", "digits/supervised/cnn-small"}
    assert all(m["mfu"] is None for m in summary["mfu"])  # no peak on a CPU: blank, not a made-up number
    assert set(summary["eval"]) == {"eval-knn-small", "eval-linear-probe-small"}
    assert summary["elapsed_seconds"] <= summary["budget_seconds"]

    readme = (out / "README.md").read_text()
    for entry in ("| grid | ok |", "| digits/simclr/cnn-small | 0 | 32 | 3 |", "| eval-knn-small | 300x512 | 100 |",
                  "dry run on the CPU", "not measured in this call"):
        assert entry in readme, entry

    second = run_gpu_sh(out, runs)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    again = stage_table(out)
    assert {s: again[s] for s in ("data", "grid", "mfu", "eval")} == dict.fromkeys(
        ("data", "grid", "mfu", "eval"), "done-before")
    assert read_rows(out / "rows.jsonl") == rows


def test_gpu_sh_skips_a_stage_that_does_not_fit_and_says_so(tmp_path):
    out, runs = tmp_path / "gpu", tmp_path / "runs"
    done = run_gpu_sh(out, runs, budget=9)  # 8 s are kept for the summary: nothing else fits
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    status = stage_table(out)
    assert status["env"] == "ok" and status["grid"] == "skipped"
    assert "budget spent" in (out / "stages.tsv").read_text()
    assert "| grid | skipped |" in (out / "README.md").read_text()


def test_full_toml_estimate_fits_seven_minutes_with_every_modality():
    text, total = estimate_full.render(ROOT / "benchmarks" / "full.toml", 420.0)
    cells, _, _, _, seeds, _ = estimate_full.estimate(ROOT / "benchmarks" / "full.toml")
    pretrained = [c for c in cells if not c.cell.split("/")[1] == "supervised"]
    assert total <= 420.0 and seeds >= 3 and len(pretrained) >= 12
    assert {c.cell.split("/")[0] for c in cells} == {"fashion-mnist", "20newsgroups", "fsdd-mfcc", "movielens-100k"}
    text_cells = [c for c in cells if c.cell.startswith("20newsgroups/")]
    assert all(c.steps * c.batch_size * 126 > 10e6 for c in text_cells)  # > ~10 M token positions per cell
    assert f"**{total:.0f}**" in text
