"""No-encoder references: the spec fields, one grid cell per dataset, rows for every seed, the leaderboard."""
import textwrap
import types

import fake_plugin
import pandas as pd
import pytest
import torch
from report.rows import seeds

from sslbench import DatasetSpec, EncoderOutput, ModalitySpec, TaskSpec, hookimpl
from sslbench.errors import PluginError
from sslbench.plan.config import load_config
from sslbench.plan.grid import REFERENCE_TASK, plan_grid
from sslbench.plan.listing import describe_plan, render_plan
from sslbench.results import read_rows
from sslbench.results.leaderboard import build
from sslbench.run.runner import run_grid
from sslbench.testing import (
    Case,
    ConformanceError,
    Kit,
    KitOptions,
    inline_plugin,
    make_registry,
    run_case,
)


def build_nothing(info, options):
    return None


@pytest.mark.parametrize("fields, problem", [
    ({"reference_build": "not callable", "reference_name": "x"}, "reference_build must be callable"),
    ({"reference_build": build_nothing, "reference_name": "Raw Pixels"}, "reference_name 'Raw Pixels' is not allowed"),
    ({"reference_build": build_nothing}, "reference_name '' is not allowed"),
    ({"reference_name": "orphan"}, "reference_name 'orphan' needs a reference_build"),
])
def test_a_modality_spec_checks_its_reference_at_construction(fields, problem):
    with pytest.raises((TypeError, ValueError), match=problem):
        ModalitySpec(name="m", build=build_nothing, **fields)


def test_no_plugin_may_register_the_reference_task(make_registry):
    plugin = types.ModuleType("squatter")
    plugin.sslbench_register_tasks = hookimpl(lambda: [TaskSpec(name=REFERENCE_TASK, build=build_nothing)])
    with pytest.raises(PluginError, match=REFERENCE_TASK):
        make_registry(plugin)


TWO_GRIDS = """
[[grid]]
datasets = ["digits", "blobs"]
tasks = ["simclr"]
models = ["cnn-small", "mlp"]
evaluators = ["knn"]
[[grid]]
datasets = ["digits"]
tasks = ["simclr"]
models = ["resnet18"]
evaluators = ["linear-probe"]
"""


def test_the_grid_adds_exactly_one_reference_cell_per_dataset_with_the_union_of_its_baselines_evaluations(
        tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    (tmp_path / "grid.toml").write_text(TWO_GRIDS)
    plan = plan_grid(load_config(tmp_path / "grid.toml", registry), registry)
    references = [c for c in plan.cells if c.task == REFERENCE_TASK]
    assert [(c.dataset, c.model) for c in references] == [("digits", "raw-pixels")]  # blobs' modality has none
    assert [(e.evaluator, e.label_sets) for e in references[0].evaluations] == [
        ("knn", ("digit",)), ("linear-probe", ("digit",))]
    keys = [c.key for c in plan.cells]
    assert keys.index("digits/no-encoder/raw-pixels") == keys.index("digits/random-init/cnn-small") + 1
    assert references[0] not in plan.pretrained and references[0].is_reference and not references[0].is_baseline
    listed = render_plan(describe_plan(plan))
    assert "  digits / no-encoder / raw-pixels: knn [digit], linear-probe [digit]\n" in listed  # no budget shown


GRID = """
[run]
seeds = [0, 1]
device = "cpu"
steps = 3
batch_size = 32
[grid]
datasets = ["digits"]
tasks = ["simclr"]
models = ["cnn-small"]
evaluators = ["knn"]
[models.cnn-small]
width = 4
[tasks.simclr]
hidden_dim = 16
projection_dim = 8
"""


def test_a_tiny_grid_writes_no_encoder_rows_for_every_seed_and_resume_keeps_them(tmp_path, registry):
    (tmp_path / "grid.toml").write_text(textwrap.dedent(GRID))
    config = load_config(tmp_path / "grid.toml", registry)
    summary = run_grid(config, registry, tmp_path / "out", progress=False)
    assert summary.exit_code == 0
    rows = [r for r in read_rows(tmp_path / "out") if r["task"] == REFERENCE_TASK]
    assert sorted(r["seed"] for r in rows) == [0, 1]
    for r in rows:
        assert (r["model"], r["evaluator"], r["label_set"], r["status"]) == ("raw-pixels", "knn", "digit", "ok")
        assert r["budget"]["steps"] == 0 and r["cost"]["steps"] == 0 and set(r["settings"]) == {"dataset", "modality"}
        assert r["value"] > 0.9  # kNN on raw 8×8 digits is a strong anchor
    assert rows[0]["value"] == rows[1]["value"]  # nothing random: the same features every seed
    table = build(read_rows(tmp_path / "out")).table
    assert table.set_index("task")["kind"].to_dict() == {"random-init": "baseline", "no-encoder": "reference",
                                                         "simclr": "method"}
    again = run_grid(config, registry, tmp_path / "out", progress=False, resume=True)
    assert again.rows == 0 and len(read_rows(tmp_path / "out")) == 3 * 2  # 3 cells × 2 seeds, nothing repeated


def test_a_reference_row_stands_in_every_ranking_of_its_section_unranked():
    rows = [*seeds("simclr", [0.80, 0.81, 0.82]), *seeds("simclr", [0.70, 0.71, 0.72], model="m2", steps=50),
            *seeds("random-init", [0.50, 0.52, 0.54]), *seeds(REFERENCE_TASK, [0.74, 0.74, 0.74], model="raw-pixels",
                                                               steps=0)]
    board = build(rows)
    rankings = board.rankings()
    assert len(rankings) == 2  # two budgets: two rankings of one section
    for _, members in rankings:
        reference = members[members["task"] == REFERENCE_TASK]
        assert len(reference) == 1 and reference["kind"].item() == "reference" and pd.isna(reference["rank"].item())
        assert members[members["task"] == "simclr"]["rank"].notna().all()


class Centred(torch.nn.Module):
    """A tiny vector reference: rows minus a fitted centre; ``width`` may lie about embed_dim."""

    def __init__(self, centre, width=None):
        super().__init__()
        self.register_buffer("centre", centre)
        self.embed_dim = width or int(centre.shape[0])

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=batch["x"] - self.centre)


def fits_on_pretrain(dataset, options):
    return Centred(dataset.pretrain.data["x"].mean(0))


def fits_on_test(dataset, options):
    return Centred(dataset.test.data["x"].mean(0))


def lies_about_width(dataset, options):
    return Centred(dataset.pretrain.data["x"].mean(0), width=3)


@pytest.mark.parametrize("reference_build, problem", [
    (fits_on_pretrain, None),
    (fits_on_test, "must fit on dataset.pretrain only"),
    (lies_about_width, r"pooled output must be \(B, embed_dim=3\)"),
])
def test_the_conformance_kit_checks_a_modalitys_reference(tmp_path, reference_build, problem):
    from fake_plugin import BlobsOptions, load_blobs

    plugin = inline_plugin(
        "centred",
        sslbench_register_modalities=lambda: [ModalitySpec(
            name="centred", build=lambda info, o: object(), description="x", reference_build=reference_build,
            reference_name="centred-rows")],
        sslbench_register_datasets=lambda: [DatasetSpec(
            name="centred-blobs", modality="centred", build=load_blobs, options=BlobsOptions, description="x")],
    )
    kit = Kit(make_registry(plugin, modules=("fake_plugin",)), tmp_path, KitOptions())
    if problem is None:
        run_case(kit, Case("modality", "centred"))
    else:
        with pytest.raises(ConformanceError, match=problem):
            run_case(kit, Case("modality", "centred"))
