"""Compatibility comes from declarations; every skipped combination has a reason."""
import textwrap
import types

import fake_plugin

from sslbench import EvaluatorSpec, TaskSpec, hookimpl
from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid


def extra_plugin():
    plugin = types.ModuleType("needs_tokens")
    plugin.sslbench_register_tasks = hookimpl(lambda: [TaskSpec(name="mlm-ish", build=lambda c, o: None, needs={"tokens"})])
    plugin.sslbench_register_evaluators = hookimpl(lambda: [
        EvaluatorSpec(name="head-eval", run=lambda c, o: {}, needs={"some-head"}),
        EvaluatorSpec(name="multi-eval", run=lambda c, o: {}, label_kinds={"multilabel"}),
    ])
    return plugin


def plan_for(tmp_path, registry, datasets, tasks, models, evaluators):
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(f"""
        [grid]
        datasets = {datasets!r}
        tasks = {tasks!r}
        models = {models!r}
        evaluators = {evaluators!r}
    """).replace("'", '"'))
    return plan_grid(load_config(path, registry), registry)


def test_cells_only_where_declarations_allow(tmp_path, make_registry):
    registry = make_registry(fake_plugin, extra_plugin())
    plan = plan_for(tmp_path, registry, ["digits", "blobs"], ["simclr", "mlm-ish"], ["cnn-small", "mlp"],
                    ["knn", "head-eval", "multi-eval"])
    assert [c.key for c in plan.cells] == [
        "digits/random-init/cnn-small", "digits/no-encoder/raw-pixels", "digits/simclr/cnn-small",
        "blobs/random-init/mlp", "blobs/simclr/mlp",  # the fake vector modality declares no reference
    ]
    assert all([e.evaluator for e in c.evaluations] == ["knn"] for c in plan.cells)
    assert plan.cells[1].evaluations[0].label_sets == ("digit",)
    reasons = [str(s) for s in plan.skipped]
    assert "(digits, *, mlp) model 'mlp' accepts vector, not dataset 'digits''s modality 'image'" in reasons
    assert any(r.startswith("(digits, mlm-ish, cnn-small) task 'mlm-ish' needs tokens: modality 'image' provides frames, views")
               for r in reasons)
    assert any("head-eval: needs some-head, which this cell lacks" in r for r in reasons)
    assert any("multi-eval: needs a label set of kind multilabel; dataset has digit (class)" in r for r in reasons)


def test_a_task_provides_what_an_evaluator_needs(tmp_path, make_registry):
    plugin = extra_plugin()
    plugin.sslbench_register_tasks = hookimpl(lambda: [
        TaskSpec(name="with-head", build=lambda c, o: None, needs={"views"}, provides={"some-head"})])
    registry = make_registry(plugin)
    plan = plan_for(tmp_path, registry, ["digits"], ["with-head"], ["cnn-small"], ["head-eval"])
    assert [(c.task, [e.evaluator for e in c.evaluations]) for c in plan.cells] == [
        ("random-init", []), ("with-head", ["head-eval"])]
    assert [s.task for s in plan.skipped] == ["random-init"]  # the baseline has no trained head
