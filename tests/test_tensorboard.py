"""Live tracking: the per-step observer hook and the built-in TensorBoard logger (read back with
TensorBoard's own event reader)."""
from __future__ import annotations

import json
import math
import textwrap
import time

import fake_plugin
import pytest
from torch import nn

from sslbench import TaskSpec, hookimpl
from sslbench.errors import ConfigError
from sslbench.plan.config import RunConfig, load_config
from sslbench.run.runner import run_grid
from sslbench.run.train import make_optimizer, make_schedule
from sslbench.testing import inline_plugin

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402
from tensorboard.compat.proto.event_pb2 import SessionLog  # noqa: E402

CONFIG = """
[run]
seeds = [0]
device = "cpu"
steps = {steps}
batch_size = 16
lr = 0.003
checkpoint_every = 10
{loggers}
[grid]
datasets = ["blobs"]
tasks = ["pull-logs"]
models = ["mlp"]
evaluators = ["knn"]
[datasets.blobs]
n = 200
"""


class PullWithLogs(nn.Module):
    """Pull two views together; log the mean embedding norm and, from the 5th call on, a late value."""

    def __init__(self, encoder: nn.Module, modality) -> None:
        super().__init__()
        self.encoder, self.modality, self.calls = encoder, modality, 0

    def forward(self, batch):
        a, b = self.modality.views(batch)
        za, zb = self.encoder(a).pooled, self.encoder(b).pooled
        logs = {"norm": za.norm(dim=1).mean()}
        if self.calls >= 5:
            logs["late"] = float(self.calls)
        self.calls += 1
        return {"loss": (za - zb).pow(2).mean(), **logs}


TASK = inline_plugin("logging", sslbench_register_tasks=lambda: [TaskSpec(
    name="pull-logs", build=lambda ctx, o: PullWithLogs(ctx.encoder, ctx.modality), needs={"views"},
    description="pulls two views together, with logs")])


def _config(tmp_path, steps=25, loggers='loggers = ["tensorboard"]', name="grid.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(CONFIG.format(steps=steps, loggers=loggers)))
    return path


def _events(run_dir):
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def _curve(out):
    (line,) = (out / "curves.jsonl").read_text().splitlines()
    return json.loads(line)


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def sslbench_train_log(self, cell, seed, step, loss, logs, lr, samples_per_s):
        self.calls.append((cell.key, seed, step, loss, dict(logs), lr, samples_per_s))


def test_the_train_log_hook_sees_every_point_of_the_curve_with_its_lr(tmp_path, make_registry):
    recorder = Recorder()
    registry = make_registry(fake_plugin, TASK, recorder)
    config = load_config(_config(tmp_path, loggers=""), registry)
    run_grid(config, registry, tmp_path / "out", progress=False)
    curve = _curve(tmp_path / "out")
    assert [(c[2], c[3]) for c in recorder.calls] == [tuple(p) for p in curve["losses"]]  # 0, 10, 20 and the last, 24
    assert [c[2] for c in recorder.calls] == [0, 10, 20, 24]
    assert {c[:2] for c in recorder.calls} == {("blobs/pull-logs/mlp", 0)}
    for i, call in enumerate(recorder.calls):
        assert call[4] == {k: v[i] for k, v in curve["logs"].items() if v[i] is not None}
        assert call[6] > 0
    optimizer = make_optimizer(nn.Linear(2, 2), RunConfig(lr=0.003, steps=25))  # the schedule the run used
    factor = make_schedule(optimizer, RunConfig(lr=0.003, steps=25), lambda: 25).lr_lambdas[0]
    assert [c[5] for c in recorder.calls] == pytest.approx([0.003 * factor(c[2]) for c in recorder.calls])
    assert not (tmp_path / "out" / "tensorboard").exists()  # off by default


def test_tensorboard_events_equal_the_curve_and_carry_the_metrics_as_hparams(tmp_path, make_registry):
    registry = make_registry(fake_plugin, TASK)
    run_grid(load_config(_config(tmp_path), registry), registry, tmp_path / "out", progress=False)
    curve = _curve(tmp_path / "out")
    runs = sorted(p.name for p in (tmp_path / "out" / "tensorboard").iterdir())
    assert runs == ["blobs--pull-logs--mlp--seed0", "blobs--random-init--mlp--seed0"]
    acc = _events(tmp_path / "out" / "tensorboard" / runs[0])
    assert _scalars(acc, "train/loss") == [(s, pytest.approx(v, rel=1e-6)) for s, v in curve["losses"]]
    for name, values in curve["logs"].items():
        expected = [(s, pytest.approx(v, rel=1e-6)) for (s, _), v in zip(curve["losses"], values) if v is not None]
        assert _scalars(acc, f"train/{name}") == expected
    assert [s for s, _ in _scalars(acc, "train/lr")] == [0, 10, 20, 24]
    assert all(v > 0 for _, v in _scalars(acc, "train/samples_per_s"))
    rows = [json.loads(line) for line in (tmp_path / "out" / "rows.jsonl").read_text().splitlines()]
    (row,) = [r for r in rows if r["task"] == "pull-logs"]
    tag = f"metrics/knn/{row['label_set']}/{row['metric']}".replace("//", "/")
    assert _scalars(acc, tag) == [(24, pytest.approx(row["value"], rel=1e-6))]
    hparams = acc.PluginTagToContent("hparams")
    assert set(hparams) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = hparams["_hparams_/session_start_info"]
    assert b"pull-logs" in start and b"run.lr" in start  # the cell's settings as hparams
    assert tag.encode() in hparams["_hparams_/experiment"]
    baseline = _events(tmp_path / "out" / "tensorboard" / runs[1])
    assert "train/loss" not in baseline.Tags()["scalars"]  # never trained: only its metrics


class Interrupt:
    """Stops the run (as a kill would) once the curve reaches ``at``."""

    def __init__(self, at):
        self.at = at

    @hookimpl
    def sslbench_train_log(self, cell, seed, step, loss, logs, lr, samples_per_s):
        if step == self.at:
            raise KeyboardInterrupt


def test_a_resumed_cell_continues_its_curve_without_duplicate_steps(tmp_path, make_registry):
    path = _config(tmp_path, steps=35)
    registry = make_registry(fake_plugin, TASK)
    run_grid(load_config(path, registry), registry, tmp_path / "whole", progress=False)

    interrupted = make_registry(fake_plugin, TASK, Interrupt(at=30))  # after the checkpoint at step 30
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_grid(load_config(path, interrupted), interrupted, out, progress=False)
    run_dir = out / "tensorboard" / "blobs--pull-logs--mlp--seed0"
    assert [s for s, _ in _scalars(_events(run_dir), "train/loss")] == [0, 10, 20, 30]  # 30: after the checkpoint
    time.sleep(1.1)  # a resume is a later process; event files are read in the order of the second they start
    summary = run_grid(load_config(path, registry), registry, out, resume=True, progress=False)
    assert summary.failures == []
    steps = [s for s, _ in _scalars(_events(run_dir), "train/loss")]
    assert steps == [0, 10, 20, 30, 34]  # 30 logged again after the resume, read once
    first, second = sorted(run_dir.glob("events.out.tfevents.*"))  # one file per process
    events = list(EventFileLoader(str(second)).Load())
    (start,) = [e for e in events if e.HasField("session_log")]
    assert start.session_log.status == SessionLog.START and start.step == 30  # TensorBoard's purge mark
    logged = [e.step for e in events if any(v.tag == "train/loss" for v in e.summary.value)]
    assert logged == [30, 34]  # the resumed process re-logs nothing before its checkpoint
    assert _scalars(_events(run_dir), "train/loss") == [(s, pytest.approx(v, rel=1e-6)) for s, v in _curve(out)["losses"]]
    whole = _curve(tmp_path / "whole")["losses"]
    assert [s for s, _ in whole] == steps and all(math.isclose(a[1], b[1], rel_tol=1e-5)
                                                  for a, b in zip(whole, _curve(out)["losses"]))


def test_a_folder_holding_only_tensorboard_events_is_one_of_ours(tmp_path, make_registry):
    """A run killed before its first rows (its manifest lost) leaves tensorboard/: not foreign; a link there is refused."""
    from sslbench.errors import UsageError
    from sslbench.run import folder

    (tmp_path / "out" / "tensorboard").mkdir(parents=True)
    folder.prepare(tmp_path / "out", "hash", False, lambda m: [])
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "tensorboard").symlink_to(tmp_path)
    with pytest.raises(UsageError, match="tensorboard"):
        folder.prepare(tmp_path / "linked", "hash", False, lambda m: [])


def test_loggers_are_an_execution_setting_and_unknown_ones_are_refused(tmp_path, make_registry):
    registry = make_registry(fake_plugin, TASK)
    with_tb = load_config(_config(tmp_path, name="a.toml"), registry)
    without = load_config(_config(tmp_path, loggers="", name="a.toml"), registry)
    assert with_tb.hash == without.hash and "loggers" not in with_tb.identity()["run"]
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, loggers='loggers = ["tensorbord"]'), registry)
    assert "[run] loggers" in str(err.value) and "'tensorboard'" in str(err.value) and "\n" not in str(err.value)
