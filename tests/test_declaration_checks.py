"""Declaration mistakes are caught where they are made, each in one line naming plugin, component and field."""
from __future__ import annotations

import logging
import textwrap
import types
from dataclasses import dataclass

import fake_plugin
import pytest
from torch import nn

from sslbench import (
    DatasetSpec,
    EncoderOutput,
    EvaluatorSpec,
    Modality,
    ModalitySpec,
    ModelSpec,
    TaskSpec,
    hookimpl,
)
from sslbench.plan.config import load_config
from sslbench.plugins import make_plugin_manager
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


class Plain(Modality):
    name = "plain"


class TwoViewPull(nn.Module):
    """Calls modality.views — a capability it forgets to declare."""

    def __init__(self, encoder, modality):
        super().__init__()
        self.encoder, self.modality = encoder, modality

    def forward(self, batch):
        a, b = self.modality.views(batch)
        return {"loss": (self.encoder(a).pooled - self.encoder(b).pooled).pow(2).mean()}


class NoWidth(nn.Module):
    """An encoder that forgets embed_dim."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 4)

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=self.linear(batch["x"]))


def plain_plugin(**hooks) -> types.ModuleType:
    """A 'plain' modality without views, a dataset of it and an encoder for it (plus ``hooks``)."""
    return inline_plugin(
        "researcher",
        sslbench_register_modalities=lambda: [ModalitySpec(name="plain", build=lambda info, o: Plain(),
                                                           description="rows without views")],
        sslbench_register_datasets=lambda: [DatasetSpec(
            name="plain-blobs", modality="plain", build=fake_plugin.load_blobs, options=fake_plugin.BlobsOptions,
            label_sets={"cluster": "class"}, description="blobs without views")],
        sslbench_register_models=lambda: [ModelSpec(
            name="plain-mlp", modalities={"plain", "vector"}, build=lambda ctx, o: fake_plugin.MLP(ctx.info["dim"]),
            description="mlp")],
        **hooks,
    )


def run(tmp_path, registry, task: str, model: str = "plain-mlp", evaluators=("knn",)):
    config = tmp_path / "grid.toml"
    config.write_text(textwrap.dedent(f"""
        [run]
        seeds = [0]
        device = "cpu"
        steps = 2
        batch_size = 16
        [grid]
        datasets = ["plain-blobs"]
        tasks = ["{task}"]
        models = ["{model}"]
        evaluators = {list(evaluators)!r}
    """).replace("'", '"'))
    return run_grid(load_config(config, registry), registry, tmp_path / "out", progress=False)


TASK_WITHOUT_NEEDS = {"sslbench_register_tasks": lambda: [TaskSpec(
    name="barlow", build=lambda ctx, o: TwoViewPull(ctx.encoder, ctx.modality), description="forgets needs")]}


def test_a_pretraining_task_without_needs_is_warned_about_at_registration(caplog):
    with caplog.at_level(logging.WARNING, logger="sslbench.registry"):
        registry = make_registry(plain_plugin(**TASK_WITHOUT_NEEDS), modules=["sslbench_eval.plugin"])
    expected = "plugin 'researcher': task 'barlow' declares no needs"
    assert [w for w in registry.warnings if w.startswith(expected)] and "TaskSpec(needs={'views'})" in caplog.text
    assert not [w for w in registry.warnings if "'supervised'" in w]  # split "train" with needs: no warning


def test_a_task_calling_views_it_did_not_declare_fails_naming_plugin_task_and_field(tmp_path):
    registry = make_registry(plain_plugin(**TASK_WITHOUT_NEEDS), modules=["sslbench_eval.plugin"])
    summary = run(tmp_path, registry, "barlow")
    assert len(summary.failures) == 1
    message = summary.failures[0]
    assert "plugin 'researcher': task 'barlow' called modality 'plain''s views" in message
    assert "TaskSpec(needs={'views', ...})" in message


def test_an_evaluator_reading_labels_without_label_kinds_fails_naming_the_field(tmp_path):
    run_fn = lambda ctx, o: {"top1": float(ctx.labels("test").float().mean())}  # noqa: E731
    plugin = plain_plugin(
        sslbench_register_tasks=lambda: [TaskSpec(name="noop", build=lambda ctx, o: Noop(ctx.encoder),
                                                  needs=set(), split="train", description="x")],
        sslbench_register_evaluators=lambda: [EvaluatorSpec(name="centroid", run=run_fn, description="x")])
    summary = run(tmp_path, make_registry(plugin), "noop", evaluators=["centroid"])
    assert summary.failures
    assert all("plugin 'researcher': evaluator 'centroid': ctx.labels() was called" in f for f in summary.failures)
    assert "EvaluatorSpec(label_kinds={'class'})" in summary.failures[0]


class Noop(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, batch):
        return {"loss": self.encoder(batch).pooled.pow(2).mean()}


def test_an_encoder_without_embed_dim_fails_right_after_its_build(tmp_path):
    plugin = plain_plugin(
        sslbench_register_tasks=lambda: [TaskSpec(name="noop", build=lambda ctx, o: Noop(ctx.encoder),
                                                  split="train", description="x")])
    other = inline_plugin("widthless", sslbench_register_models=lambda: [ModelSpec(
        name="no-width", modalities={"plain"}, build=lambda ctx, o: NoWidth(ctx.info["dim"]), description="x")])
    summary = run(tmp_path, make_registry(plugin, other, modules=["sslbench_eval.plugin"]), "noop", model="no-width")
    assert summary.failures
    assert all("plugin 'widthless': model 'no-width': the encoder (NoWidth) has embed_dim = None; set "
               "self.embed_dim" in f for f in summary.failures)


def test_a_hook_function_without_hookimpl_is_warned_about(caplog):
    module = types.ModuleType("forgetful")

    def sslbench_register_models():
        return []

    module.sslbench_register_models = sslbench_register_models
    module.sslbench_register_tasks = hookimpl(lambda: [])
    with caplog.at_level(logging.WARNING, logger="sslbench.plugins"):
        make_plugin_manager(autoload=False, plugins=[module])
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["plugin 'forgetful': function sslbench_register_models has no @hookimpl, so sslbench ignores "
                     "it; decorate it with @sslbench.hookimpl"]


@dataclass  # not frozen: one problem
class LooseOptions:
    width: int = 4


def test_the_kit_reports_every_problem_of_a_component_not_only_the_first(tmp_path):
    plugin = inline_plugin("sloppy", sslbench_register_models=lambda: [ModelSpec(
        name="sloppy", modalities={"vector"}, build=lambda ctx, o: fake_plugin.MLP(ctx.info["dim"]),
        options=LooseOptions)])  # no description either
    kit = Kit(make_registry(fake_plugin, plugin), tmp_path, KitOptions())
    with pytest.raises(ConformanceError) as info:
        run_case(kit, Case("model", "sloppy"))
    message = str(info.value)
    assert message.startswith("2 problems:\n")
    assert "give a one-line description" in message and "must be a frozen dataclass" in message


def test_the_kit_names_the_needs_a_task_forgot(tmp_path):
    kit = Kit(make_registry(fake_plugin, plain_plugin(**TASK_WITHOUT_NEEDS)), tmp_path, KitOptions())
    with pytest.warns(UserWarning, match="task 'barlow' declares no needs"):
        with pytest.raises(ConformanceError, match=r"calls modality 'plain''s views.*declare TaskSpec\(needs="):
            run_case(kit, Case("task", "barlow", "plain"))


def test_the_kit_names_an_encoder_without_embed_dim(tmp_path):
    plugin = inline_plugin("widthless", sslbench_register_models=lambda: [ModelSpec(
        name="no-width", modalities={"vector"}, build=lambda ctx, o: NoWidth(ctx.info["dim"]), description="x")])
    kit = Kit(make_registry(fake_plugin, plugin), tmp_path, KitOptions())
    with pytest.raises(ConformanceError, match=r"plugin 'widthless': model 'no-width': .*embed_dim = None"):
        run_case(kit, Case("model", "no-width"))
