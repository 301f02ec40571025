"""Resume after SIGKILL, corrupt checkpoints, divergence, OOM, shared out folders, budgets."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import fake_plugin
import pytest
import torch

from sslbench import TaskSpec, hookimpl
from sslbench.errors import UsageError
from sslbench.plan.config import load_config
from sslbench.results import read_rows
from sslbench.run.runner import run_grid

TESTS = Path(__file__).resolve().parent

CONFIG = """
[run]
seeds = [0, 1]
device = "cpu"
steps = {steps}
batch_size = 16
lr = 0.003
checkpoint_every = {every}
[grid]
datasets = ["blobs"]
tasks = ["simclr"]
models = ["mlp"]
evaluators = ["knn", "linear-probe"]
[datasets.blobs]
n = 600
[tasks.simclr]
hidden_dim = 32
projection_dim = 16
"""


def write_config(tmp_path, steps=60, every=10, name="cfg.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(CONFIG.format(steps=steps, every=every)))
    return path


def cli(*args, wait=True):
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "sslbench", "-p", "fake_plugin", *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def values(out: Path) -> dict[tuple, float]:
    rows = read_rows(out)
    keys = [(r["dataset"], r["task"], r["model"], r["evaluator"], r["metric"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicated rows"
    return {k: r["value"] for k, r in zip(keys, rows)}


def wait_for(predicate, proc, timeout=300):
    start = time.time()
    while not predicate():
        assert proc.poll() is None, f"run ended before the kill point: {proc.stderr.read()}"
        assert time.time() - start < timeout, "kill point never reached"
        time.sleep(0.01)


def checkpoint_mid_cell(out):
    return lambda: any((out / "checkpoints").glob("blobs--simclr--mlp--seed0.pt"))


def some_rows(out):
    return lambda: (out / "rows.jsonl").exists() and len((out / "rows.jsonl").read_text().splitlines()) >= 2


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The uninterrupted run both kill points are compared with (one run: the config is the same)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    reference = cli("run", str(write_config(folder, steps=400, every=20)), "--out", str(folder / "a"))
    assert reference.returncode == 0, reference.stderr
    return folder / "a"


@pytest.mark.slow
@pytest.mark.parametrize("kill_point", ["mid-cell", "between-cells"])
def test_sigkill_then_resume_gives_the_uninterrupted_results(tmp_path, kill_point, uninterrupted):
    config = write_config(tmp_path, steps=400, every=20)

    out = tmp_path / "b"
    proc = cli("run", str(config), "--out", str(out), wait=False)
    wait_for(checkpoint_mid_cell(out) if kill_point == "mid-cell" else some_rows(out), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert values(out) != values(uninterrupted)  # really interrupted

    resumed = cli("run", str(config), "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert values(out) == values(uninterrupted)
    curves = [json.loads(line) for line in (out / "curves.jsonl").read_text().splitlines()]
    reference_curves = [json.loads(line) for line in (uninterrupted / "curves.jsonl").read_text().splitlines()]
    final = {(c["seed"]): c["losses"] for c in curves}
    assert final == {c["seed"]: c["losses"] for c in reference_curves}


def test_resume_continues_from_a_checkpoint_and_matches(tmp_path, make_registry):
    """In-process: train, drop the rows of seed 1 as if killed after its checkpoint, resume."""
    registry = make_registry(fake_plugin)
    config = load_config(write_config(tmp_path, steps=40, every=10), registry)
    run_grid(config, registry, tmp_path / "a")
    reference = values(tmp_path / "a")

    out = tmp_path / "b"
    run_grid(config, registry, out)
    rows = (out / "rows.jsonl").read_text().splitlines()
    kept = [line for line in rows if json.loads(line)["seed"] == 0]
    (out / "rows.jsonl").write_text("\n".join(kept) + "\n")
    summary = run_grid(config, registry, out, resume=True)
    assert summary.rows == len(rows) - len(kept)
    assert values(out) == reference
    resumed = [r for r in read_rows(out) if r["seed"] == 1 and r["task"] == "simclr"]
    assert all(r["cost"]["resumed_from_step"] == 40 for r in resumed)  # evaluated from the final checkpoint


def test_a_corrupt_checkpoint_is_moved_aside_and_the_cell_restarts(tmp_path, make_registry, caplog):
    registry = make_registry(fake_plugin)
    config = load_config(write_config(tmp_path, steps=30, every=10), registry)
    run_grid(config, registry, tmp_path / "a")
    out = tmp_path / "b"
    run_grid(config, registry, out)
    ckpt = out / "checkpoints" / "blobs--simclr--mlp--seed1.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated
    lines = [line for line in (out / "rows.jsonl").read_text().splitlines()
             if not (json.loads(line)["seed"] == 1 and json.loads(line)["task"] == "simclr")]
    (out / "rows.jsonl").write_text("\n".join(lines) + "\n")
    run_grid(config, registry, out, resume=True)
    assert "unreadable" in caplog.text and "restarting the cell from scratch" in caplog.text
    assert list((out / "checkpoints").glob("*.corrupt-*"))
    assert values(out) == values(tmp_path / "a")


def nan_plugin():
    plugin = types.ModuleType("nan_task")

    class Exploding(torch.nn.Module):
        def __init__(self, ctx):
            super().__init__()
            self.encoder, self.calls = ctx.encoder, 0

        def forward(self, batch):
            self.calls += 1
            loss = self.encoder(batch).pooled.pow(2).mean()
            return {"loss": loss * float("nan") if self.calls > 3 else loss}

    class OOM(torch.nn.Module):
        def __init__(self, ctx):
            super().__init__()
            self.encoder = ctx.encoder

        def forward(self, batch):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    plugin.sslbench_register_tasks = hookimpl(lambda: [
        TaskSpec(name="exploding", build=lambda ctx, o: Exploding(ctx)),
        TaskSpec(name="oom", build=lambda ctx, o: OOM(ctx)),
    ])
    return plugin


def test_divergence_and_oom_are_isolated_and_visible(tmp_path, make_registry):
    from sslbench.results.leaderboard import render, summarize

    registry = make_registry(fake_plugin, nan_plugin())
    path = write_config(tmp_path, steps=20)
    path.write_text(path.read_text().replace('tasks = ["simclr"]', 'tasks = ["exploding", "oom", "simclr"]'))
    summary = run_grid(load_config(path, registry), registry, tmp_path / "out")
    assert summary.exit_code == 1
    rows = read_rows(tmp_path / "out")
    exploding = [r for r in rows if r["task"] == "exploding"]
    assert exploding and all(r["status"] == "diverged" and "loss became nan at step 3" in r["message"] for r in exploding)
    oom = [r for r in rows if r["task"] == "oom"]
    assert oom and all("CUDA out of memory at batch size 16" in r["message"] for r in oom)
    assert all(r["status"] == "ok" for r in rows if r["task"] == "simclr")
    board = render(summarize(rows), "md")
    assert "diverged: DivergedError: loss became nan" in board and "failed: RuntimeError: CUDA out of memory" in board


def test_another_config_in_the_folder_is_refused_even_with_resume(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    run_grid(load_config(write_config(tmp_path, steps=10), registry), registry, tmp_path / "out")
    other = load_config(write_config(tmp_path, steps=11, name="other.toml"), registry)
    with pytest.raises(UsageError, match="holds results of another config"):
        run_grid(other, registry, tmp_path / "out", resume=True)


@pytest.mark.slow
def test_two_runs_into_one_folder_share_the_work_and_lose_no_row(tmp_path):
    config = write_config(tmp_path, steps=300, every=0)
    first = cli("run", str(config), "--out", str(tmp_path / "out"), wait=False)
    wait_for(lambda: (tmp_path / "out" / "manifest.json").exists(), first)
    second = cli("run", str(config), "--out", str(tmp_path / "out"), "--resume", wait=False)
    assert first.wait(timeout=600) == 0 and second.wait(timeout=600) == 0
    assert len(values(tmp_path / "out")) == 2 * 2 * 2  # (random-init, simclr) × seeds × evaluators, no duplicates


def test_flops_budget_sets_the_steps_and_every_row_records_all_units(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("steps = 60", "flops = 2e7"))
    run_grid(load_config(path, registry), registry, tmp_path / "out")
    rows = [r for r in read_rows(tmp_path / "out") if r["task"] == "simclr"]
    per_step = rows[0]["cost"]["flops_per_step"]
    # MLP 16→32→32 + head 32→32→16 on 2×16 samples, forward + backward: of the order of 1e5 FLOPs
    assert 1e4 < per_step < 1e7
    assert all(r["cost"]["steps"] == int(2e7 // per_step) for r in rows)
    assert all(r["budget"]["unit"] == "flops" and r["budget"]["amount"] == 2e7 for r in rows)
    assert all(r["cost"]["flops"] == r["cost"]["steps"] * per_step and r["cost"]["train_seconds"] > 0 for r in rows)


def test_seconds_budget_stops_on_time(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    path = write_config(tmp_path, every=0)
    path.write_text(path.read_text().replace("steps = 60", "seconds = 0.5"))
    run_grid(load_config(path, registry), registry, tmp_path / "out")
    rows = [r for r in read_rows(tmp_path / "out") if r["task"] == "simclr"]
    # it stops once 0.5 s of training are spent (a loaded machine may overshoot by a step or two)
    assert all(0.5 <= r["cost"]["train_seconds"] < 30 and r["cost"]["steps"] >= 1 for r in rows)
    assert all(r["budget"]["unit"] == "seconds" and r["budget"]["steps"] is None for r in rows)


def test_seconds_budget_ends_like_a_steps_budget_final_step_logged_and_checkpointed(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    path = write_config(tmp_path, every=0)  # no checkpoint between steps: only the final one
    path.write_text(path.read_text().replace("steps = 60", "seconds = 0.3").replace("seeds = [0, 1]", "seeds = [0]"))
    run_grid(load_config(path, registry), registry, tmp_path / "out")
    (row,) = [r for r in read_rows(tmp_path / "out") if r["task"] == "simclr" and r["evaluator"] == "knn"]
    steps = row["cost"]["steps"]
    (curve,) = [json.loads(line) for line in (tmp_path / "out" / "curves.jsonl").read_text().splitlines()]
    assert curve["losses"][-1][0] == steps - 1  # the last step is in the curve
    assert (tmp_path / "out" / "checkpoints" / "blobs--simclr--mlp--seed0.pt").is_file()


def test_two_budgets_at_once_are_refused(tmp_path, registry):
    from sslbench.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text('[run]\nsteps = 5\nflops = 1e9\n[grid]\ndatasets = ["digits"]\ntasks = ["simclr"]\n'
                    'models = ["cnn-small"]\nevaluators = ["knn"]\n')
    with pytest.raises(ConfigError, match=r"\[run\] flops: give one budget — steps, seconds or flops — not steps and flops"):
        load_config(path, registry)
