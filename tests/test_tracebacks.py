"""A failed cell's traceback is stored beside the rows (the row's message names the file); --traceback prints it."""
from __future__ import annotations

import textwrap

import fake_plugin
from sslbench import EvaluatorSpec, TaskSpec
from sslbench.cli import build_parser
from sslbench.config import load_config
from sslbench.results import read_rows
from sslbench.runner import run_grid
from sslbench.testing import inline_plugin


def explode_in_a_helper(ctx, options):
    raise RuntimeError("head exploded")


def broken_plugin():
    return inline_plugin(
        "broken",
        sslbench_register_tasks=lambda: [TaskSpec(name="broken", build=explode_in_a_helper, needs={"views"},
                                                  description="x")],
        sslbench_register_evaluators=lambda: [EvaluatorSpec(
            name="zero-division", run=lambda ctx, o: {"x": 1 / 0}, description="x")],
    )


def run(tmp_path, make_registry, **kwargs):
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent("""
        [run]
        seeds = [0]
        device = "cpu"
        steps = 2
        batch_size = 16
        [grid]
        datasets = ["blobs"]
        tasks = ["broken"]
        models = ["mlp"]
        evaluators = ["zero-division"]
    """))
    registry = make_registry(fake_plugin, broken_plugin(), builtins=False)
    return run_grid(load_config(path, registry), registry, tmp_path / "out", progress=False, **kwargs)


def test_each_failure_stores_its_traceback_and_the_row_names_the_file(tmp_path, make_registry, capsys):
    summary = run(tmp_path, make_registry)
    assert summary.exit_code == 1
    rows = {r["task"]: r for r in read_rows(tmp_path / "out")}
    cell = rows["broken"]["message"]
    assert cell == "RuntimeError: head exploded (traceback: tracebacks/blobs--broken--mlp--seed0.txt)"
    text = (tmp_path / "out" / "tracebacks" / "blobs--broken--mlp--seed0.txt").read_text()
    assert "Traceback (most recent call last)" in text and "in explode_in_a_helper" in text
    evaluator = rows["random-init"]["message"]  # the baseline cell trains nothing; its evaluator fails
    assert evaluator.endswith("(traceback: tracebacks/blobs--random-init--mlp--seed0--zero-division.txt)")
    assert "ZeroDivisionError" in (tmp_path / "out" / evaluator.split("traceback: ")[1].rstrip(")")).read_text()
    assert "Traceback" not in capsys.readouterr().err  # stored, not printed, without --traceback


def test_traceback_flag_prints_them_to_stderr(tmp_path, make_registry, capsys):
    run(tmp_path, make_registry, show_tracebacks=True)
    err = capsys.readouterr().err
    assert "--- blobs/broken/mlp seed 0: traceback" in err and "in explode_in_a_helper" in err
    assert build_parser().parse_args(["run", "grid.toml", "--traceback"]).traceback is True
