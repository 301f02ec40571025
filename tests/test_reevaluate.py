"""Evaluate again without training again (sslbench/run/reevaluate.py): an evaluator added to a finished
run's config is run on the kept final checkpoints, and only its rows are appended."""
import shutil
import textwrap

import fake_plugin
import pytest

import sslbench.run.runner
from sslbench.plan.config import load_config
from sslbench.results import read_rows
from sslbench.run.runner import run_grid

CONFIG = """
[run]
seeds = [0, 1]
device = "cpu"
steps = 8
batch_size = 32
[grid]
datasets = ["blobs"]
tasks = ["simclr"]
models = ["mlp"]
evaluators = {evaluators}
[datasets.blobs]        # overlapping clusters: scores below 1 that differ between encoders
n = 120
dim = 2
classes = 6
[tasks.simclr]
hidden_dim = 16
projection_dim = 8
[evaluators."knn-3"]
base = "knn"
k = 3
"""
BEFORE, AFTER = '["knn"]', '["knn", "linear-probe", "knn-3"]'


def run(tmp_path, registry, evaluators, out, resume=False):
    path = tmp_path / "suite.toml"  # one file: the suite's name (its stem) stays
    path.write_text(textwrap.dedent(CONFIG.format(evaluators=evaluators)))
    return run_grid(load_config(path, registry), registry, tmp_path / out, resume=resume)


def no_training(*args, **kwargs):
    raise AssertionError("a finished cell was trained again")


def key(row):
    return row["task"], row["evaluator"], row["seed"]


def test_a_new_evaluator_on_a_finished_run_trains_nothing_and_matches_a_fresh_run(tmp_path, make_registry,
                                                                                  monkeypatch):
    registry = make_registry(fake_plugin)
    run(tmp_path, registry, BEFORE, "out")
    before = (tmp_path / "out" / "rows.jsonl").read_bytes()
    run(tmp_path, registry, AFTER, "fresh")  # the reference: both evaluators from the start
    with monkeypatch.context() as patch:
        patch.setattr(sslbench.run.runner, "pretrain", no_training)
        summary = run(tmp_path, registry, AFTER, "out", resume=True)
    assert summary.exit_code == 0 and summary.rows == 2 * 2 * 2  # (random-init, simclr) × seeds × 2 new evaluators
    assert (tmp_path / "out" / "rows.jsonl").read_bytes().startswith(before)  # the earlier rows untouched
    rows = {key(r): r for r in read_rows(tmp_path / "out")}
    fresh = {key(r): r for r in read_rows(tmp_path / "fresh")}
    assert set(rows) == set(fresh)
    assert len({r["value"] for r in fresh.values()}) > 4  # values that tell encoders apart
    for k in fresh:
        assert rows[k]["status"] == fresh[k]["status"] == "ok"
        assert rows[k]["value"] == pytest.approx(fresh[k]["value"], abs=1e-6), k
        assert rows[k]["identity"] == fresh[k]["identity"]
    again = rows[("simclr", "linear-probe", 1)]
    assert again["cost"]["steps"] == 8 and again["cost"]["flops"] == rows[("simclr", "knn", 1)]["cost"]["flops"]
    assert again["bases"] if again["evaluator"] == "knn-3" else "bases" not in again
    assert rows[("simclr", "knn-3", 0)]["bases"] == {"evaluator": "knn"}
    assert run(tmp_path, registry, AFTER, "out", resume=True).rows == 0  # nothing is missing any more


def test_without_its_checkpoint_a_pair_says_so_and_is_not_trained_again(tmp_path, make_registry, monkeypatch):
    registry = make_registry(fake_plugin)
    run(tmp_path, registry, BEFORE, "out")
    shutil.rmtree(tmp_path / "out" / "checkpoints")
    monkeypatch.setattr(sslbench.run.runner, "pretrain", no_training)
    summary = run(tmp_path, registry, '["knn", "linear-probe"]', "out", resume=True)
    assert summary.exit_code == 1
    new = [r for r in read_rows(tmp_path / "out") if r["evaluator"] == "linear-probe"]
    anchors = [r for r in new if r["task"] == "random-init"]
    assert len(anchors) == 2 and all(r["status"] == "ok" for r in anchors)  # no checkpoint needed
    failed = [r for r in new if r["task"] == "simclr"]
    assert len(failed) == 2 and all(r["status"] == "failed" and r["value"] is None for r in failed)
    message = failed[0]["message"]
    assert "keep_checkpoints" in message and "checkpoints/blobs--simclr--mlp--seed" in message
    assert "\n" not in message and "traceback" not in message
    assert not (tmp_path / "out" / "tracebacks").exists()
