"""A task's extra scalar outputs ({"loss": ..., **logs}) land in curves.jsonl beside the loss."""
from __future__ import annotations

import json
import textwrap

import fake_plugin
import pytest
import torch
from torch import nn

from sslbench import TaskSpec
from sslbench.plan.config import load_config
from sslbench.run.runner import run_grid
from sslbench.run.train import _check_and_log, _PendingLosses, _Progress, task_logs
from sslbench.testing import inline_plugin


class PullWithLogs(nn.Module):
    """Pull two views together; log the mean embedding norm, a constant and, from step 3, a late value."""

    def __init__(self, encoder: nn.Module, modality, bad_log: bool = False) -> None:
        super().__init__()
        self.encoder, self.modality, self.bad_log, self.calls = encoder, modality, bad_log, 0

    def forward(self, batch):
        a, b = self.modality.views(batch)
        za, zb = self.encoder(a).pooled, self.encoder(b).pooled
        logs = {"norm": za.norm(dim=1).mean(), "constant": 2.5}
        if self.calls >= 3:
            logs["late"] = torch.tensor(float(self.calls))
        if self.bad_log:
            logs["vector"] = za.mean(0)  # (D,), not a scalar
        self.calls += 1
        return {"loss": (za - zb).pow(2).mean(), **logs}


def _run(tmp_path, make_registry, bad_log: bool = False):
    plugin = inline_plugin("logging", sslbench_register_tasks=lambda: [TaskSpec(
        name="pull-logs", build=lambda ctx, o: PullWithLogs(ctx.encoder, ctx.modality, bad_log), needs={"views"},
        description="x")])
    config = tmp_path / "grid.toml"
    config.write_text(textwrap.dedent("""
        [run]
        seeds = [0]
        device = "cpu"
        steps = 6
        batch_size = 16
        [grid]
        datasets = ["blobs"]
        tasks = ["pull-logs"]
        models = ["mlp"]
        evaluators = ["knn"]
    """))
    registry = make_registry(fake_plugin, plugin)
    summary = run_grid(load_config(config, registry), registry, tmp_path / "out", progress=False)
    return summary, tmp_path / "out"


def test_logs_land_in_curves_aligned_with_the_losses(tmp_path, make_registry, monkeypatch):
    import sslbench.run.train

    monkeypatch.setattr(sslbench.run.train.pretrain, "__kwdefaults__", {**sslbench.run.train.pretrain.__kwdefaults__,
                                                                    "log_every": 2})
    summary, out = _run(tmp_path, make_registry)
    assert summary.failures == []
    curve = json.loads((out / "curves.jsonl").read_text().splitlines()[0])
    steps = [s for s, _ in curve["losses"]]
    assert steps == [0, 2, 4, 5]  # every log_every-th step and the last
    assert set(curve["logs"]) == {"norm", "constant", "late"}
    assert curve["logs"]["constant"] == [2.5] * 4
    assert curve["logs"]["late"] == [None, None, 4.0, 5.0]  # absent before step 3: null, aligned
    assert all(v > 0 for v in curve["logs"]["norm"])


def test_a_log_that_is_not_a_scalar_fails_the_cell_naming_it(tmp_path, make_registry):
    summary, _ = _run(tmp_path, make_registry, bad_log=True)
    assert len(summary.failures) == 1
    assert "log 'vector'" in summary.failures[0] and "scalar logs" in summary.failures[0]


def test_task_logs_keep_scalars_and_numbers():
    logs = task_logs({"loss": torch.tensor(1.0), "acc": torch.tensor([0.5]), "k": 3}, torch.device("cpu"))
    assert {k: v.item() for k, v in logs.items()} == {"acc": 0.5, "k": 3.0}
    assert all(v.ndim == 0 and not v.requires_grad for v in logs.values())
    with pytest.raises(ValueError, match="log 'flag' of bool"):
        task_logs({"loss": torch.tensor(1.0), "flag": True}, torch.device("cpu"))


def test_logs_are_read_back_with_the_losses_in_one_group():
    """On CUDA the loop reads every log_every steps; logs come back in that same read."""

    class Bar:
        def set_postfix(self, **kw):
            pass

    pending, progress = _PendingLosses(every=3), _Progress()
    for step in range(3):
        logs = {"acc": torch.tensor(step / 4), "nan": torch.tensor(float("nan"))}
        pending.add(step, torch.tensor(1.0 - step / 10), logs)
    assert pending.due()
    _check_and_log(pending.flush(), progress, log_every=1, done=False, bar=Bar())
    assert [v for _, v in progress.losses] == pytest.approx([1.0, 0.9, 0.8])
    assert progress.logs == {"acc": [0.0, 0.25, 0.5], "nan": [None, None, None]}  # not finite: null (JSON has no NaN)


def test_the_report_draws_a_panel_per_logged_value():
    from sslbench.results.charts import loss_curve_figures
    from sslbench.results.charts import series_points as _series_points

    curve = {"dataset": "blobs", "task": "t", "model": "m", "seed": 0, "losses": [[0, 1.0], [5, 0.5]],
             "logs": {"acc": [None, 0.75]}}
    assert _series_points(curve, "loss") == [(0, 1.0), (5, 0.5)]
    assert _series_points(curve, "acc") == [(5, 0.75)]
    figures = loss_curve_figures([curve])
    assert [name for name, _ in figures] == ["blobs"] and figures[0][1].startswith(b"\x89PNG")
    with_log = figures[0][1]
    without = loss_curve_figures([{**curve, "logs": {}}])[0][1]
    assert len(with_log) > len(without)  # the logged value has a panel of its own


def test_logs_survive_a_checkpoint_and_resume(tmp_path):
    """A resumed cell's curve keeps the logs of the steps before the checkpoint, aligned."""
    from sslbench.plan.config import RunConfig
    from sslbench.run.checkpoint import CellCheckpoint
    from sslbench.run.train import _restore, _save, make_optimizer, make_schedule

    def parts():
        torch.manual_seed(0)
        task = nn.Linear(2, 1)
        optimizer = make_optimizer(task, RunConfig())
        return task, optimizer, make_schedule(optimizer, RunConfig(), lambda: 10)

    progress = _Progress(step=2, total=10)
    progress.record(0, 1.0, {"acc": 0.5})
    progress.record(1, 0.9, {})
    checkpoint = CellCheckpoint(tmp_path / "cell.pt", every=0)
    _save(checkpoint, *parts(), progress)
    restored = _Progress()
    assert _restore(checkpoint, *parts(), restored) == 2
    assert restored.losses == [(0, 1.0), (1, 0.9)] and restored.logs == {"acc": [0.5, None]}
