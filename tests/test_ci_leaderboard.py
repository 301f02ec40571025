"""The CI recipe (docs/ci.md): .ci/leaderboard.sh runs a config, reports it and compares it with a
committed baseline; the GitHub and GitLab files call that script. The benchmark run itself is
stubbed (a copy of the committed baseline's rows), so the test checks the plumbing in seconds."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml  # PyYAML: installed with timm

from sslbench.results.compare import load_entries

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "leaderboard.sh"
BASELINE = ROOT / "results" / "smoke"
STUB = '''import os, shutil, sys
args = sys.argv[1:]
if args[0] == "run":  # instead of training: the committed baseline's run
    out = args[args.index("--out") + 1]
    os.makedirs(out)
    for name in ("rows.jsonl", "manifest.json", "curves.jsonl"):
        shutil.copy(os.path.join({baseline!r}, name), out)
    sys.exit(0)
os.execv(sys.executable, [sys.executable, "-m", "sslbench", *args])
'''


def test_the_committed_baseline_is_the_smoke_benchmark_and_loads_as_compare_input():
    entries = load_entries(BASELINE / "leaderboard.csv")
    assert set(entries["dataset"]) == {"digits"} and {"simclr", "random-init"} <= set(entries["task"])
    assert len(load_entries(BASELINE)) == len(entries)  # the rows beside it give the same entries


@pytest.mark.parametrize("name", ["github-workflow.yml", "gitlab-ci.yml"])
def test_the_recipes_parse_and_run_the_script(name):
    text = (ROOT / "docs" / "ci" / name).read_text()
    yaml.safe_load(text)
    assert ".ci/leaderboard.sh" in text and "results/smoke/leaderboard.csv" in text and "rows.jsonl" in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_regression_fails_the_script_and_lands_in_the_job_summary(tmp_path):
    stub = tmp_path / "stub.py"
    stub.write_text(STUB.format(baseline=str(BASELINE)))
    better = pd.read_csv(BASELINE / "leaderboard.csv")  # a baseline 0.1 better than the run
    simclr = better["task"] == "simclr"
    better.loc[simclr, ["mean", "ci_low", "ci_high"]] += 0.1
    better.to_csv(tmp_path / "better.csv", index=False)
    summary = tmp_path / "summary.md"
    env = {"PATH": "/usr/bin:/bin", "SSLBENCH": f"{sys.executable} {stub}", "GITHUB_STEP_SUMMARY": str(summary),
           **{k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME", "SSLBENCH_DATA")}}
    out = tmp_path / "run"
    done = subprocess.run(["bash", str(SCRIPT), "benchmarks/smoke.toml", str(out), str(tmp_path / "better.csv")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (out / "report" / "report.html").is_file() and (out / "compare.md").is_file()
    text = summary.read_text()
    assert "Regression" in text and "simclr" in text and "knn" in text and "linear-probe" in text, text
