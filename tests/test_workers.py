"""Workers that share one folder's grid to the end: re-scans, take-over of a dead worker's pair,
submitit's local executor with real worker processes, ``sslbench status``."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import fake_plugin
import pytest
from test_reliability import values

from sslbench.cli import main
from sslbench.cli.launch import parse_time, slurm_options, worker_argv
from sslbench.cli.status import folder_status, render_status
from sslbench.plan.config import load_config
from sslbench.run import claims, folder, workers
from sslbench.run.runner import run_grid
from sslbench.run.workers import Outcome

TESTS = Path(__file__).resolve().parent

CONFIG = """
[run]
seeds = [0, 1]
device = "cpu"
steps = 5
batch_size = 16
threads = 1
[grid]
datasets = ["blobs"]
tasks = ["{task}"]
models = ["mlp"]
evaluators = ["knn"]
[datasets.blobs]
n = 200
"""


def write_config(tmp_path: Path, task: str = "simclr") -> Path:
    path = tmp_path / f"{task}.toml"
    path.write_text(textwrap.dedent(CONFIG.format(task=task)))
    return path  # random-init and the task on blobs, seeds 0 and 1: four (cell, seed) pairs


def test_held_pairs_are_retried_after_the_others_with_growing_sleeps():
    held_until = {"b": 3}  # b is held during the first two scans
    attempts, sleeps = [], []

    def attempt(pair):
        attempts.append(pair)
        if held_until.get(pair, 0) > attempts.count(pair):
            return Outcome.HELD
        return Outcome.RAN

    assert workers.work(["a", "b", "c"], attempt, sleep=sleeps.append) == []
    assert attempts == ["a", "b", "c", "b", "b"]  # b retried after c, then until free
    assert sleeps == [workers.FIRST_SLEEP, workers.FIRST_SLEEP * 2]


def test_sleeps_are_bounded_and_reset_and_no_wait_stops_at_held_pairs():
    sleeps = []
    scans = iter([Outcome.HELD] * 12 + [Outcome.RAN])
    assert workers.work(["x"], lambda pair: next(scans), sleep=sleeps.append) == []
    assert max(sleeps) == workers.MAX_SLEEP and sleeps == sorted(sleeps)
    assert workers.work(["x", "y"], lambda pair: Outcome.HELD if pair == "y" else Outcome.RAN, wait=False,
                        sleep=sleeps.append) == ["y"]


def test_a_pair_held_by_another_is_taken_once_its_holder_lets_go(tmp_path, make_registry, monkeypatch):
    """In-process: the test holds one pair's lock as another worker would; the run waits, then takes it."""
    registry = make_registry(fake_plugin)
    config = load_config(write_config(tmp_path), registry)
    out = tmp_path / "out"
    holder = folder.claim_name(out, "blobs--simclr--mlp--seed0")
    assert holder.__enter__()
    sleeps = []

    def let_go(seconds):  # the other worker dies while this one waits
        sleeps.append(seconds)
        if len(sleeps) == 1:
            holder.__exit__(None, None, None)

    monkeypatch.setattr(workers, "_sleep", let_go)
    run_grid(config, registry, out, progress=False)
    assert sleeps == [workers.FIRST_SLEEP]
    assert folder.done_pairs(out) == {f"blobs--{t}--mlp--seed{s}" for t in ("random-init", "simclr") for s in (0, 1)}
    record = claims.read_record(claims.lock_path(out, "blobs--simclr--mlp--seed0"))
    assert record["pid"] == os.getpid() and record["seconds"] >= 0


def test_no_wait_leaves_a_held_pair_and_status_names_its_holder(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    config = load_config(write_config(tmp_path), registry)
    out = tmp_path / "out"
    with folder.claim_name(out, "blobs--simclr--mlp--seed1") as ours:
        assert ours
        claims.record_start(out, "blobs--simclr--mlp--seed1")
        run_grid(config, registry, out, progress=False, wait=False)
        status = folder_status(out)
        assert list(status.running) == ["blobs--simclr--mlp--seed1"] and not status.left and len(status.done) == 3
        text = render_status(status)
        assert f"running: blobs/simclr/mlp seed 1  by a worker on {os.uname().nodename} (pid {os.getpid()})" in text
        assert "4 (cell, seed) pairs: 3 done, 1 running, 0 left" in text and "ETA: " in text
    status = folder_status(out)  # the holder let go without finishing: its worker died
    assert status.left == ["blobs--simclr--mlp--seed1"] and "died mid-pair" in render_status(status)
    assert "ETA: unknown (no worker is running)" in render_status(status)


def test_status_eta_counts_each_pair_left_at_its_tasks_pace(tmp_path):
    from sslbench.cli.status import FolderStatus

    status = FolderStatus(tmp_path, pairs=["d--t--m--seed0", "d--t--m--seed1", "d--u--m--seed0", "d--t--m--seed2"],
                          running={"d--t--m--seed2": {"started": 90.0}}, left=["d--t--m--seed1", "d--u--m--seed0"],
                          seconds={"t": [20.0, 40.0]})
    assert status.eta(now=100.0) == pytest.approx(30 + 30 + (30 - 10))  # u has no finished pair: mean of all
    assert status.eta_is_lower_bound()
    status.running["d--u--m--seed1"] = {"started": 20.0}  # a u pair running for 80 s: u pairs take at least that
    assert status.eta(now=100.0) == pytest.approx((30 + 80 + (30 - 10) + 0) / 2)


def test_status_of_a_folder_without_a_run_is_one_line(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no manifest.json" in err


def test_launcher_options_are_checked_before_anything_is_submitted(tmp_path, capsys):
    config = str(write_config(tmp_path))
    for extra, message in [(["--shard", "0/2"], "--shard cannot be combined with --launcher"),
                           (["--workers", "0"], "--workers must be >= 1"),
                           (["--time", "soon"], "--time 'soon': use SLURM's format"),
                           (["--slurm-option", "account"], "--slurm-option 'account': write KEY=VALUE"),
                           (["--nproc", "2", "--gpus-per-worker", "1"], "needs at least 2 GPUs")]:
        code = main(["-p", "fake_plugin", "run", config, "--out", str(tmp_path / "o"), "--launcher", "local", *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o").exists()
    assert main(["-p", "fake_plugin", "run", config, "--workers", "3"]) == 2
    assert "--workers needs --launcher local|slurm" in capsys.readouterr().err


def test_time_and_options_in_slurms_formats():
    assert [parse_time(t) for t in ("90", "1:30", "4:00:00", "1-12", "1-0:30", "0-1:0:30")] == [90, 1.5, 240, 2160, 1470, 60.5]
    assert slurm_options(["account=abc", "cpus-per-task=8"]) == {"account": "abc", "cpus_per_task": "8"}
    assert worker_argv(["-p", "x", "run", "c.toml", "--launcher", "slurm", "--workers=4", "--time", "1:00:00",
                        "--slurm-option", "qos=hi", "--nproc", "2"]) == ["-p", "x", "run", "c.toml", "--nproc", "2", "--resume"]


@pytest.fixture
def worker_env(monkeypatch):
    """Worker processes import the test plugins from tests/."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))


@pytest.mark.slow
def test_three_local_workers_finish_the_grid_with_one_processs_rows(tmp_path, make_registry, worker_env, capsys):
    config = write_config(tmp_path)
    registry = make_registry(fake_plugin)
    run_grid(load_config(config, registry), registry, tmp_path / "one", progress=False)
    code = main(["-p", "fake_plugin", "run", "-q", str(config), "--out", str(tmp_path / "three"),
                 "--launcher", "local", "--workers", "3"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "submitted 3 workers (local: " in err and "4 done, 0 running, 0 left" in err
    assert values(tmp_path / "three") == values(tmp_path / "one")
    records = [claims.read_record(p) for p in (tmp_path / "three" / "locks").glob("*.lock")]
    assert all(r["worker"] and r["seconds"] >= 0 for r in records)  # each pair names the submitit job that ran it


@pytest.mark.slow
def test_a_worker_killed_mid_cell_has_its_pair_finished_by_another(tmp_path, make_registry, worker_env,
                                                                    monkeypatch, capsys):
    import sigkill_plugin

    config = write_config(tmp_path, task="sigkill")
    monkeypatch.setenv(sigkill_plugin.MARKER_ENV, str(tmp_path / "reference.marker"))
    (tmp_path / "reference.marker").write_text("not this run")
    registry = make_registry(fake_plugin, sigkill_plugin)
    run_grid(load_config(config, registry), registry, tmp_path / "one", progress=False)

    marker = tmp_path / "kill.marker"
    monkeypatch.setenv(sigkill_plugin.MARKER_ENV, str(marker))
    code = main(["-p", "fake_plugin", "-p", "sigkill_plugin", "run", "-q", str(config), "--out", str(tmp_path / "w"),
                 "--launcher", "local", "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 0, err
    killed = int(marker.read_text())  # a worker died at step 3 of a sigkill pair, holding its lock
    assert "ended without a result" in err and "4 done, 0 running, 0 left" in err
    assert values(tmp_path / "w") == values(tmp_path / "one")
    finishers = {claims.read_record(p)["pid"] for p in (tmp_path / "w" / "locks").glob("*sigkill*.lock")}
    assert killed not in finishers
    curves = [json.loads(line) for line in (tmp_path / "w" / "curves.jsonl").read_text().splitlines()]
    assert len(curves) == 2  # one curve per sigkill pair, the killed attempt left none


def fake_slurm(tmp_path: Path, monkeypatch, exit_code: int = 0) -> Path:
    """``srun`` and ``sbatch`` on PATH; sbatch keeps the script it is given and answers as SLURM does."""
    bin_dir, script = tmp_path / "bin", tmp_path / "sbatch-script.sh"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    answer = "echo 'Submitted batch job 4242'" if exit_code == 0 else "echo 'sbatch: error: invalid partition' >&2"
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ncp \"$1\" {script}\n{answer}\nexit {exit_code}\n")
    for tool in ("srun", "sbatch"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return script


def test_slurm_submits_one_job_array_of_workers_with_the_options_given(tmp_path, monkeypatch, capsys):
    script = fake_slurm(tmp_path, monkeypatch)
    out = tmp_path / "shared"
    code = main(["-p", "fake_plugin", "run", str(write_config(tmp_path)), "--out", str(out), "--launcher", "slurm",
                 "--workers", "3", "--nproc", "2", "--partition", "gpu", "--time", "2:00:00",
                 "--slurm-option", "account=proj", "--slurm-option", "cpus-per-task=8"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "submitted 3 workers (slurm: 4242_0, 4242_1, 4242_2)" in err and f"sslbench status {out}" in err
    text = script.read_text()
    for line in ("#SBATCH --array=0-2%3", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=2", "#SBATCH --time=120",
                 "#SBATCH --account=proj", "#SBATCH --cpus-per-task=8", "#SBATCH --ntasks-per-node=1"):
        assert line in text, (line, text)
    assert not (out / "manifest.json").exists()  # nothing run here: the workers write it


def test_a_refused_submission_is_one_line(tmp_path, monkeypatch, capsys):
    fake_slurm(tmp_path, monkeypatch, exit_code=1)
    code = main(["-p", "fake_plugin", "run", str(write_config(tmp_path)), "--out", str(tmp_path / "o"),
                 "--launcher", "slurm", "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "submitting the workers failed" in err, err
