"""What `sslbench run` prints while it works: a line per (cell, seed) on stderr, -q and -v."""
from __future__ import annotations

import io
import logging
import sys
import textwrap

import pytest

from sslbench.cli import main
from sslbench.logs import configure_logging
from sslbench.run.progress import ProgressReporter, format_line, headline

TINY = textwrap.dedent("""
    [run]
    seeds = [0, 1]
    device = "cpu"
    steps = 2
    batch_size = 32

    [grid]
    datasets = ["digits"]
    tasks = ["simclr"]
    models = ["cnn-small"]
    evaluators = ["knn"]
""")


def _row(status="ok", value=0.5, metric="top1", message=""):
    return {"evaluator": "knn", "label_set": "digit", "metric": metric, "value": value, "status": status,
            "message": message}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The CLI's main on a 2-step digits grid, 2 seeds; captured stderr (pytest's capture is no terminal)."""
    folder = tmp_path_factory.mktemp("progress")
    config = folder / "tiny.toml"
    config.write_text(TINY)
    return folder, config


def test_run_prints_a_line_per_cell_and_seed_without_a_tty(tiny_run, capsys):
    folder, config = tiny_run
    assert main(["run", str(config), "--out", str(folder / "out")]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("[")]
    # 2 cells (random-init baseline + simclr) × 2 seeds
    assert len(lines) == 6, err  # random-init, the no-encoder reference and simclr, two seeds each
    assert lines[0].startswith("[1/6] digits/random-init/cnn-small seed 0: ok  knn digit top1=")
    assert lines[2].startswith("[3/6] digits/no-encoder/raw-pixels seed 0: ok  knn digit top1=")
    assert lines[-1].startswith("[6/6] digits/simclr/cnn-small seed 1: ok  knn digit top1=")
    assert lines[-1].endswith("(done 6/6, " + lines[-1].split("(done 6/6, ")[1].split(",")[0] + ", ETA 0s)")
    assert "\r" not in err  # no bar drawn without a terminal


def test_quiet_prints_no_plan_and_no_progress(tiny_run, capsys):
    folder, config = tiny_run
    assert main(["run", "-q", str(config), "--out", str(folder / "quiet"), "--seeds", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "digits" in captured.out  # the leaderboard is the result, still printed


def test_verbose_logs_training_steps(tiny_run, caplog):
    folder, config = tiny_run
    caplog.set_level(logging.NOTSET)  # let the levels the CLI sets decide
    try:
        assert main(["run", "-v", str(config), "--out", str(folder / "verbose"), "--seeds", "0"]) == 0
    finally:
        configure_logging(0)
    steps = [r.getMessage() for r in caplog.records if r.name == "sslbench.run.train" and r.levelno == logging.INFO]
    assert steps and steps[0].startswith("digits/simclr/cnn-small seed 0 step 0: loss ")


def test_default_level_keeps_info_out(tiny_run, caplog):
    folder, config = tiny_run
    caplog.set_level(logging.NOTSET)
    assert main(["run", str(config), "--out", str(folder / "default"), "--seeds", "0"]) == 0
    assert not [r for r in caplog.records if r.name.startswith("sslbench") and r.levelno < logging.WARNING]


def test_logging_filter_lets_sslbench_info_through_and_not_other_libraries(monkeypatch):
    """Without a handler on the root logger (a plain CLI run), -v adds one that shows only sslbench's INFO."""
    stream = io.StringIO()
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        configure_logging(0)
        logging.getLogger("sslbench.run.train").info("hidden at default")
        logging.getLogger("sslbench.run.train").warning("warning shown")
        configure_logging(1)
        logging.getLogger("sslbench_image.datasets").info("plugin info shown")
        logging.getLogger("urllib3").info("library info hidden")
    finally:
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    lines = stream.getvalue().splitlines()
    assert lines == ["WARNING sslbench.run.train: warning shown", "INFO sslbench_image.datasets: plugin info shown"]


def test_summary_names_the_failure_and_the_first_metric():
    assert headline([_row(value=0.81234)]) == ("ok", "knn digit top1=0.8123")
    status, best = headline([_row(status="failed", value=None, message="ValueError: boom\nmore"), _row()])
    assert status == "failed (ValueError: boom)" and best == "knn digit top1=0.5"
    assert headline(None) == ("left to another run", "")


def test_eta_is_the_mean_time_per_finished_pair_times_those_left():
    line = format_line("d / t / m", 0, [_row()], index=2, total=10, seconds=3.0, elapsed=60.0, finished=2)
    assert line.endswith("(done 2/10, 1m00s, ETA 4m00s)")  # 30 s each, 8 left


def test_reporter_writes_lines_without_a_bar_on_a_pipe():
    class Cell:
        key = "digits / simclr / cnn-small"

    clock = iter([0.0, 5.0, 5.0, 7.0]).__next__
    stream = io.StringIO()
    reporter = ProgressReporter(stream, clock=clock)
    assert reporter.use_bar is False
    for index in (1, 2):
        reporter.sslbench_cell_start(cell=Cell(), seed=index - 1, index=index, total=2)
        reporter.sslbench_cell_finish(cell=Cell(), seed=index - 1, rows=[_row()], index=index, total=2)
    reporter.sslbench_run_finish(summary=None)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "[1/2] digits / simclr / cnn-small seed 0: ok  knn digit top1=0.5  5.0s  (done 1/2, 5.0s, ETA 5.0s)",
        "[2/2] digits / simclr / cnn-small seed 1: ok  knn digit top1=0.5  2.0s  (done 2/2, 7.0s, ETA 0s)",
    ]


def test_a_repeated_warning_is_a_warning_once_then_info(caplog):
    """E.g. recsys's "3 test items never occur in pretraining" on every load of the same dataset."""
    from sslbench import warn_once

    log = logging.getLogger("sslbench_test.warn_once")
    caplog.set_level(logging.INFO)
    for _ in range(3):
        warn_once(log, "%s: %d test items never occur in pretraining", "toy", 3)
    warn_once(log, "%s: %d test items never occur in pretraining", "other", 3)
    levels = [(r.getMessage().split(":")[0], r.levelname) for r in caplog.records]
    assert levels == [("toy", "WARNING"), ("toy", "INFO"), ("toy", "INFO"), ("other", "WARNING")]


def test_on_a_terminal_a_grid_bar_is_drawn_and_the_lines_still_come():
    class Cell:
        key = "d/t/m"

    stream = io.StringIO()
    reporter = ProgressReporter(stream, bar=True, clock=iter([0.0, 1.0, 1.0, 2.0]).__next__)
    for index in (1, 2):
        reporter.sslbench_cell_start(cell=Cell(), seed=0, index=index, total=2)
        reporter.sslbench_cell_finish(cell=Cell(), seed=0, rows=[_row()], index=index, total=2)
    reporter.sslbench_run_finish(summary=None)
    text = stream.getvalue()
    assert "grid:" in text and "\r" in text
    assert "[1/2] d/t/m seed 0: ok" in text and "[2/2] d/t/m seed 0: ok" in text
    assert reporter._bar is None  # closed at the end of the run
