"""A failed cell's traceback is stored beside the rows (the row's message names the file); --traceback prints it."""
from __future__ import annotations

import textwrap

import fake_plugin

from sslbench import EvaluatorSpec, TaskSpec
from sslbench.cli import build_parser
from sslbench.plan.config import load_config
from sslbench.results import read_rows
from sslbench.run.runner import run_grid
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


HOSTILE = ["</script>", "../../escape", "con", ".hidden", "x" * 300, "a/b", "a_b"]


def hostile_plugin():
    """A dataset whose label sets have names no file may carry as they are, and an evaluator that fails."""
    import dataclasses

    def load(ctx, options):
        data = fake_plugin.load_blobs(ctx, fake_plugin.BlobsOptions())
        relabel = lambda split: dataclasses.replace(split, labels={n: split.labels["cluster"] for n in HOSTILE})  # noqa: E731
        return dataclasses.replace(data, train=relabel(data.train), test=relabel(data.test))

    return inline_plugin(
        "hostile",
        sslbench_register_datasets=lambda: [fake_plugin.DatasetSpec(
            name="hostile", modality="vector", build=load, label_sets=dict.fromkeys(HOSTILE, "class"), description="x")],
        sslbench_register_evaluators=lambda: [EvaluatorSpec(
            name="fails-per-label-set", run=lambda ctx, o: {"x": 1 / 0}, label_kinds={"class"}, description="x")],
    )


def test_failures_under_hostile_label_set_names_keep_their_tracebacks_inside_the_folder(tmp_path, make_registry):
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent("""
        [run]
        seeds = [0]
        device = "cpu"
        [grid]
        datasets = ["hostile"]
        tasks = ["broken"]
        models = ["mlp"]
        evaluators = ["fails-per-label-set"]
    """))
    registry = make_registry(fake_plugin, broken_plugin(), hostile_plugin(), builtins=False)
    summary = run_grid(load_config(path, registry), registry, tmp_path / "out", progress=False)
    assert summary.exit_code == 1  # failed, isolated, and the run went on to write every row
    rows = [r for r in read_rows(tmp_path / "out") if r["task"] == "random-init"]  # its evaluator fails per label set
    assert sorted(r["label_set"] for r in rows) == sorted(HOSTILE)
    stored = [r["message"].split("(traceback: ")[1].rstrip(")") for r in rows]
    assert len(set(stored)) == len(HOSTILE)  # "a/b" and "a_b" clean alike, yet stay apart
    for name in stored:
        file = (tmp_path / "out" / name).resolve()
        assert file.parent == (tmp_path / "out" / "tracebacks").resolve() and len(file.name) < 255
        assert "ZeroDivisionError" in file.read_text()
    assert any(s.endswith("--fails-per-label-set--a_b.txt") for s in stored)  # a safe name stays as it is
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.toml", "out"]  # nothing escaped the folder


def test_safe_file_parts_leave_safe_names_alone_and_tag_the_others():
    from sslbench.safeio import safe_file_part

    assert [safe_file_part(n) for n in ("cluster", "top1", "genre-10", "a_b.c")] == ["cluster", "top1", "genre-10", "a_b.c"]
    tagged = [safe_file_part(n) for n in HOSTILE if n != "a_b"]
    assert all("~" in t and "/" not in t and not t.startswith(".") and len(t) <= 49 for t in tagged)
    assert safe_file_part("a/b") != safe_file_part("a_b") and safe_file_part("a/b").startswith("a_b~")
