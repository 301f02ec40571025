"""Torn tails heal, a cell's curve and rows are committed together (sslbench.jsonl, sslbench.run.commit)."""
from __future__ import annotations

import json
import os

import fake_plugin
import pytest
from test_reliability import cli, values, write_config

from sslbench.run import commit
from sslbench.plan.config import load_config
from sslbench.results import ROWS_FILE, append_rows, make_row, read_rows
from sslbench.run.runner import run_grid


def identity(seed=0, metric="top1"):
    return dict(suite="s", dataset="d", task="t", model="m", evaluator="e", label_set="l", metric=metric, seed=seed)


@pytest.mark.parametrize("tail", [b'{"suite": "s", "data', b"\0" * 300, b'{"suite"\0\0\0\0\n\0\0'])
def test_an_append_cuts_a_torn_tail_off_first_and_keeps_it_aside(tmp_path, tail, caplog):
    append_rows(tmp_path, [make_row(identity(seed=0), 1.0)])
    with open(tmp_path / ROWS_FILE, "ab") as f:
        f.write(tail)
    assert [r["seed"] for r in read_rows(tmp_path)] == [0]  # readers skip it
    append_rows(tmp_path, [make_row(identity(seed=1), 2.0)])
    assert [r["seed"] for r in read_rows(tmp_path)] == [0, 1]
    (aside,) = tmp_path.glob("rows.jsonl.torn-*")
    assert aside.read_bytes() == tail
    assert "cut off" in caplog.text


def test_a_complete_line_that_is_not_a_row_is_an_error_not_a_torn_tail(tmp_path):
    (tmp_path / ROWS_FILE).write_text("[1, 2]\n")
    with pytest.raises(ValueError, match=r"rows.jsonl:1: not a JSON row \(JSON list, not an object\)"):
        read_rows(tmp_path)


def test_a_failed_append_leaves_no_torn_line(tmp_path, monkeypatch):
    import errno

    from sslbench import safeio

    append_rows(tmp_path, [make_row(identity(seed=0), 1.0)])
    before = (tmp_path / ROWS_FILE).read_bytes()

    def half_then_full(fd, data):
        if len(data) > 10:
            return __import__("os").write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safeio, "raw_write", half_then_full)
    with pytest.raises(safeio.StorageError, match="No space left on device writing .*rows.jsonl"):
        append_rows(tmp_path, [make_row(identity(seed=1), 2.0)])
    assert (tmp_path / ROWS_FILE).read_bytes() == before


@pytest.fixture
def small(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    config = load_config(write_config(tmp_path, steps=20, every=0), registry)
    run_grid(config, registry, tmp_path / "reference")
    return registry, config, tmp_path / "reference"


def curves(out):
    return [json.loads(line) for line in (out / "curves.jsonl").read_text().splitlines()]


def test_a_kill_after_the_commit_point_is_finished_by_resume(tmp_path, small, monkeypatch):
    """Killed while appending a cell: half its rows (one torn) and no curve are on disk, its record pending."""
    registry, config, reference = small
    applied = []
    real_apply = commit._apply

    def killed_inside_the_second_cell(out_dir, record):
        if applied:
            rows = record["rows"]
            text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
            with open(out_dir / ROWS_FILE, "a") as f:
                f.write(text[: len(text) // 2 + 40])  # complete first row(s) and a fragment
            raise KeyboardInterrupt
        applied.append(record)
        real_apply(out_dir, record)

    monkeypatch.setattr(commit, "_apply", killed_inside_the_second_cell)
    out = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        run_grid(config, registry, out)
    monkeypatch.undo()
    assert list((out / "pending").glob("*.json"))
    run_grid(config, registry, out, resume=True)
    assert values(out) == values(reference)
    assert sorted(map(commit.curve_key, curves(out))) == sorted(map(commit.curve_key, curves(reference)))
    assert not list((out / "pending").glob("*.json"))


def test_a_kill_before_the_commit_point_leaves_no_trace_of_the_cell(tmp_path, small, monkeypatch):
    from sslbench import safeio

    registry, config, reference = small
    real = safeio.atomic_write
    calls = []

    def killed_writing_the_second_record(path, data):
        if path.parent.name == "pending":
            calls.append(path)
            if len(calls) == 2:
                raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(safeio, "atomic_write", killed_writing_the_second_record)
    out = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        run_grid(config, registry, out)
    monkeypatch.undo()
    assert len({(r["task"], r["seed"]) for r in read_rows(out)}) == 1  # the first cell only
    run_grid(config, registry, out, resume=True)
    assert values(out) == values(reference)


def test_an_emptied_rows_file_does_not_duplicate_curves_on_resume(tmp_path, small):
    registry, config, reference = small
    out = tmp_path / "b"
    run_grid(config, registry, out)
    (out / ROWS_FILE).write_text("")
    run_grid(config, registry, out, resume=True)
    assert len(curves(out)) == len(curves(reference))
    assert values(out) == values(reference)


def test_leaderboard_and_resume_survive_torn_last_lines(tmp_path, small):
    registry, config, reference = small
    out = tmp_path / "b"
    run_grid(config, registry, out)
    rows = (out / ROWS_FILE).read_bytes()
    (out / ROWS_FILE).write_bytes(rows[: len(rows) - 30])  # the last row torn
    with open(out / "curves.jsonl", "ab") as f:
        f.write(b'{"suite": "cfg", "dataset": "bl')
    board = cli("leaderboard", str(out))
    assert board.returncode == 0, board.stderr
    assert "torn" in board.stderr
    resumed = cli("run", str(config.path), "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert values(out) == values(reference)
    assert len(curves(out)) == len(curves(reference))


def test_resume_removes_temporary_files_of_dead_writers_only(tmp_path, small):
    registry, config, _ = small
    out = tmp_path / "b"
    run_grid(config, registry, out)
    dead = out / "checkpoints" / ".blobs--simclr--mlp--seed0.pt.999999999.tmp"  # no such pid
    dead.write_bytes(b"half a checkpoint")
    alive = out / f".manifest.json.{os.getppid()}.tmp"  # a live process's write in progress
    alive.write_text("{")
    run_grid(config, registry, out, resume=True)
    assert not dead.exists() and alive.exists()


def test_leaderboard_refuses_a_manifest_that_is_not_an_object_in_one_line(tmp_path, small):
    _, _, reference = small
    (reference / "manifest.json").write_text("[]")
    board = cli("leaderboard", str(reference))
    assert board.returncode == 2 and "not an sslbench manifest" in board.stderr and "Traceback" not in board.stderr


def test_a_curve_lost_to_a_torn_tail_makes_its_cell_run_again(tmp_path, small):
    """A committed cell whose curve line was torn off is not done: resume reruns it, nothing is lost."""
    registry, config, reference = small
    out = tmp_path / "b"
    run_grid(config, registry, out)
    data = (out / "curves.jsonl").read_bytes()
    (out / "curves.jsonl").write_bytes(data[: len(data) - 20])  # the last curve torn
    summary = run_grid(config, registry, out, resume=True)
    assert summary.rows > 0  # its cell ran again
    by_cell = lambda cs: {(c["task"], c["seed"]): c["losses"] for c in cs}  # noqa: E731
    assert by_cell(curves(out)) == by_cell(curves(reference))
    assert len(curves(out)) == len(curves(reference))
    assert values(out) == values(reference)


@pytest.mark.parametrize("where", [".manifest.json.999999999.tmp", "tracebacks/.x--seed0.txt.999999999.tmp"])
def test_temporary_files_of_a_run_killed_early_are_removed(tmp_path, small, where):
    """Killed while writing its manifest (nothing else there yet) or a traceback: the next run cleans up."""
    registry, config, reference = small
    out = tmp_path / "b"
    (out / where).parent.mkdir(parents=True)
    (out / where).write_text("{")
    if where.startswith("tracebacks"):
        run_grid(config, registry, out)
    run_grid(config, registry, out, resume=True)
    assert not (out / where).exists()
    assert values(out) == values(reference)
