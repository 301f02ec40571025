"""benchmarks/tuning/summarize.py: families by file name, paired verdicts on valid, test-scored runs refused."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tuning" / "summarize.py"


@pytest.fixture(scope="module")
def summarize():
    spec = importlib.util.spec_from_file_location("tuning_summarize", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(folder: Path, values: dict[int, float], split: str = "valid") -> None:
    folder.mkdir(parents=True)
    lines = []
    for seed, value in values.items():
        for task, steps, v in (("random-init", 0, 0.1), ("mlm", 400, value)):
            budget = {"steps": steps, **({"score_split": split} if split != "test" else {})}
            lines.append(json.dumps({"suite": folder.name, "dataset": "d", "task": task, "model": "m", "evaluator": "knn",
                                     "label_set": "y", "metric": "top1", "seed": seed, "value": v, "status": "ok",
                                     "budget": budget}))
    (folder / "rows.jsonl").write_text("\n".join(lines) + "\n")


def test_values_of_a_family_are_compared_by_paired_tests_against_the_best(tmp_path, summarize):
    write_run(tmp_path / "text-lr-1e-3", {0: 0.30, 1: 0.31, 2: 0.32})
    write_run(tmp_path / "text-lr-2e-3", {0: 0.20, 1: 0.22, 2: 0.21})  # lower on every seed: worse
    write_run(tmp_path / "text-lr-5e-4", {0: 0.33, 1: 0.28, 2: 0.315})  # as good within noise: tie
    page = summarize.summarize(tmp_path)
    assert "## text-lr" in page and "| mlm / knn / top1 | 0.308 (n=3, tie) | 0.310 (n=3, **best**) | 0.210 (n=3, worse) |" in page
    assert "random-init" not in page  # baselines are not tuned


def test_a_run_scored_on_test_is_refused(tmp_path, summarize):
    write_run(tmp_path / "audio-lr-1e-3", {0: 0.5, 1: 0.5, 2: 0.5}, split="test")
    with pytest.raises(SystemExit, match="tuning configs must set score_split"):
        summarize.summarize(tmp_path)
