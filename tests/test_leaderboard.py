"""Leaderboard statistics on hand-made rows."""
import json

import pytest

from sslbench.results import make_row
from sslbench.results.leaderboard import render, summarize


def row(task, seed, value, model="m", status="ok", message=""):
    ident = dict(suite="s", dataset="d", task=task, model=model, evaluator="knn", label_set="y", metric="top1", seed=seed)
    return make_row(ident, value, status=status, message=message)


def test_mean_std_n_and_gain_over_the_baseline():
    rows = [row("random-init", 0, 0.5), row("random-init", 1, 0.7), row("simclr", 0, 0.8), row("simclr", 1, 0.9),
            row("simclr", 2, 1.0)]
    table = summarize(rows)
    assert list(table["task"]) == ["random-init", "simclr"]
    simclr = table[table["task"] == "simclr"].iloc[0]
    assert simclr["mean"] == pytest.approx(0.9) and simclr["std"] == pytest.approx(0.1) and simclr["n"] == 3
    assert simclr["baseline"] == pytest.approx(0.6) and simclr["gain"] == pytest.approx(0.3)


def test_failures_stay_visible():
    rows = [row("random-init", 0, 0.5), row("simclr", 0, None, status="diverged", message="loss became nan")]
    table = summarize(rows)
    bad = table[table["task"] == "simclr"].iloc[0]
    assert bad["n"] == 0 and bad["failed"] == 1 and "diverged: loss became nan" in bad["message"]
    assert "diverged" in render(table, "md")


def test_json_records_carry_the_documented_keys():
    records = json.loads(render(summarize([row("random-init", 0, 0.5), row("simclr", 0, 0.75)]), "json"))
    assert {"dataset", "task", "model", "evaluator", "metric", "mean", "std", "n"} <= set(records[0])
    assert records[1]["task"] == "simclr" and records[1]["gain"] == pytest.approx(0.25)
