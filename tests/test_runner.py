"""The runner end to end on a third-party plugin: rows, baselines, observers, isolation."""
import textwrap
import types

import fake_plugin
import pytest
import torch

from sslbench import TaskSpec, hookimpl
from sslbench.errors import UsageError
from sslbench.plan.config import load_config
from sslbench.results import REQUIRED_KEYS, read_rows
from sslbench.run.runner import run_grid

CONFIG = """
[run]
seeds = [0, 1]
device = "cpu"
steps = 10
batch_size = 32
lr = 0.003
[grid]
datasets = ["blobs"]
tasks = {tasks}
models = ["mlp"]
evaluators = ["knn", "linear-probe"]
[tasks.simclr]
hidden_dim = 32
projection_dim = 16
"""


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def sslbench_run_start(self, plan, out_dir):
        self.events.append(("start", len(plan.cells)))

    @hookimpl
    def sslbench_result_row(self, row):
        self.events.append(("row", row["task"]))

    @hookimpl
    def sslbench_run_finish(self, summary):
        self.events.append(("finish", summary.rows))


def broken_plugin():
    plugin = types.ModuleType("broken_task")

    def build(ctx, options):
        raise RuntimeError("head exploded")

    plugin.sslbench_register_tasks = hookimpl(lambda: [TaskSpec(name="broken", build=build, needs={"views"})])
    return plugin


def run(tmp_path, registry, tasks='["simclr"]'):
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent(CONFIG.format(tasks=tasks)))
    return run_grid(load_config(path, registry), registry, tmp_path / "out")


def test_a_third_party_plugin_runs_in_a_grid_with_builtin_task_and_evaluators(tmp_path, make_registry):
    recorder = Recorder()
    registry = make_registry(fake_plugin, recorder)
    summary = run(tmp_path, registry)
    assert summary.exit_code == 0
    rows = read_rows(tmp_path / "out")
    assert len(rows) == 2 * 2 * 2  # (random-init, simclr) × seeds × evaluators
    assert {(r["task"], r["evaluator"], r["seed"]) for r in rows} == {
        (t, e, s) for t in ("random-init", "simclr") for e in ("knn", "linear-probe") for s in (0, 1)}
    for r in rows:
        assert set(REQUIRED_KEYS) <= set(r) and r["status"] == "ok" and 0.0 <= r["value"] <= 1.0
        assert r["label_set"] == "cluster" and r["provenance"]["config_hash"]
        assert r["provenance"]["plugins"]["fake_plugin"] == "unpackaged"
    pretrained = [r for r in rows if r["task"] == "simclr"]
    assert all(r["budget"]["steps"] == 10 and r["cost"]["train_seconds"] > 0 for r in pretrained)
    assert all(r["settings"]["task"]["hidden_dim"] == 32 for r in pretrained)
    assert recorder.events[0] == ("start", 2) and recorder.events[-1] == ("finish", 8)
    assert sum(1 for e in recorder.events if e[0] == "row") == 8
    assert (tmp_path / "out" / "manifest.json").exists() and (tmp_path / "out" / "curves.jsonl").exists()


def test_the_baseline_encoder_is_the_pretrained_one_before_training(tmp_path, make_registry, monkeypatch):
    """Same seed → identical initial weights, so the gain is due to pretraining alone."""
    built = []
    original = fake_plugin.MLP.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append({k: v.clone() for k, v in self.state_dict().items()})

    monkeypatch.setattr(fake_plugin.MLP, "__init__", recording_init)
    run(tmp_path, make_registry(fake_plugin))
    baseline_0, baseline_1, simclr_0, simclr_1 = built  # cells outer, seeds inner
    assert all(torch.equal(baseline_0[k], simclr_0[k]) and torch.equal(baseline_1[k], simclr_1[k]) for k in baseline_0)
    assert not torch.equal(baseline_0["net.0.weight"], baseline_1["net.0.weight"])


def test_dataset_builders_get_the_run_device(tmp_path, make_registry, monkeypatch):
    """Builders that compute features at load do it where the run computes (``device = "cpu"`` here)."""
    devices = []
    original = fake_plugin.load_blobs

    def recording_load(ctx, options):
        devices.append(ctx.device)
        return original(ctx, options)

    monkeypatch.setattr(fake_plugin, "load_blobs", recording_load)
    run(tmp_path, make_registry(fake_plugin))
    assert devices == [torch.device("cpu")]


def test_a_failing_cell_is_isolated_and_reported(tmp_path, make_registry):
    registry = make_registry(fake_plugin, broken_plugin())
    summary = run(tmp_path, registry, tasks='["broken", "simclr"]')
    assert summary.exit_code == 1
    rows = read_rows(tmp_path / "out")
    broken = [r for r in rows if r["task"] == "broken"]
    assert len(broken) == 4 and all(r["status"] == "failed" and "head exploded" in r["message"] for r in broken)
    assert sum(r["status"] == "ok" for r in rows if r["task"] == "simclr") == 4  # the grid went on


def test_an_out_folder_with_rows_is_refused(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    run(tmp_path, registry)
    with pytest.raises(UsageError, match="already holds results of this config; pass --resume"):
        run(tmp_path, registry)


def head_plugin():
    """A task that trains on the labeled train split and provides a head; an evaluator
    that needs the head and adds a reference row without an encoder."""
    from sslbench import EvaluatorSpec

    plugin = types.ModuleType("head_plugin")
    seen_splits = []

    class Supervised(torch.nn.Module):
        def __init__(self, ctx):
            super().__init__()
            self.encoder, self.head = ctx.encoder, torch.nn.Linear(ctx.encoder.embed_dim, 3)

        def forward(self, batch):
            seen_splits.append(set(batch))
            return {"loss": self.head(self.encoder(batch).pooled).pow(2).mean()}

    def run_head(ctx, options):
        return {"head_norm": ctx.task.head.weight.norm().item()}

    plugin.sslbench_register_tasks = hookimpl(lambda: [
        TaskSpec(name="sup", build=lambda ctx, o: Supervised(ctx), split="train", provides={"head"})])
    plugin.sslbench_register_evaluators = hookimpl(lambda: [
        EvaluatorSpec(name="head-eval", run=run_head, needs={"head"},
                      baselines=lambda ctx, o: {"constant": {"head_norm": 1.0}})])
    return plugin, seen_splits


def test_task_split_and_reference_baselines(tmp_path, make_registry):
    plugin, seen = head_plugin()
    registry = make_registry(fake_plugin, plugin)
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent(CONFIG.format(tasks='["sup"]')).replace('"knn", "linear-probe"', '"head-eval"')
                    .split("[tasks.simclr]")[0])
    summary = run_grid(load_config(path, registry), registry, tmp_path / "out")
    assert summary.exit_code == 0
    rows = read_rows(tmp_path / "out")
    assert sorted((r["task"], r["seed"]) for r in rows) == [("constant", 0), ("constant", 1), ("sup", 0), ("sup", 1)]
    assert all(r["value"] > 0 for r in rows)
    assert seen and all(keys == {"x", "row", "label:cluster"} for keys in seen)  # the train split, labels riding along


def test_score_split_valid_puts_the_validation_split_where_test_was():
    """``[run] score_split = "valid"``: choosing settings never reads test (its rows or its extras)."""
    import pytest as _pytest
    import torch as _torch

    from sslbench.data_api import LoadedDataset, TensorSplit
    from sslbench.errors import UsageError
    from sslbench.run.cells import scored_on

    def split(n, offset):
        return TensorSplit({"x": _torch.arange(offset, offset + n)}, labels={"y": _torch.zeros(n, dtype=_torch.long)})

    data = LoadedDataset(pretrain=split(4, 0), train=split(4, 10), test=split(3, 20), valid=split(2, 30),
                         extras={"targets": {"valid": "V", "test": "T"}, "other": 1})
    moved = scored_on(data, "valid", "toy")
    assert moved.test.data["x"].tolist() == [30, 31] and moved.valid is None
    assert moved.extras["targets"]["test"] == "V" and moved.extras["other"] == 1
    assert scored_on(data, "test", "toy") is data
    with _pytest.raises(UsageError, match="has no validation split"):
        scored_on(LoadedDataset(pretrain=split(1, 0), train=split(1, 0), test=split(1, 0)), "valid", "toy")
