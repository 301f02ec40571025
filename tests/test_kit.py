"""The plugin author's kit (sslbench.testing): the built-ins pass it, and it catches broken plugins.

``TestBuiltinConformance`` is exactly what a plugin author writes — one line — run over
every component of the built-in plugins. The other tests check the kit itself: its
fixtures (fake distributions, inline plugins, fresh managers) and that each contract
it promises to check fails a plugin that breaks it, with a message naming both.
"""
from __future__ import annotations

import dataclasses
import os
import types
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from sslbench import (
    DatasetSpec,
    EncoderOutput,
    EvaluatorSpec,
    ModalitySpec,
    ModelSpec,
    TaskSpec,
)
from sslbench.plugins import plugin_versions
from sslbench.testing import (
    Case,
    ConformanceError,
    FakeDistribution,
    Kit,
    KitOptions,
    NotApplicable,
    cases,
    conformance_tests,
    inline_plugin,
    run_case,
)

BUILTINS = ("sslbench_image.plugin", "sslbench_text.plugin", "sslbench_audio.plugin", "sslbench_recsys.plugin",
            "sslbench_eval.plugin")
VECTOR = ("fake_plugin", "sslbench_eval.plugin")  # tests/fake_plugin.py: vector modality, blobs, mlp; knn

TestBuiltinConformance = conformance_tests(*BUILTINS, autoload=False)


def test_builtin_cases_cover_every_component_and_every_dataset_has_an_example(sslbench_make_registry):
    registry = sslbench_make_registry(modules=BUILTINS)
    found = {(c.kind, c.name) for c in cases(registry)}
    assert found == {(s.kind, s.name) for s in registry}
    assert [s.name for s in registry.specs("dataset") if s.example is None] == []
    tasks = {c.modality for c in cases(registry) if c.kind == "task" and c.name == "simclr"}
    assert tasks == {"image", "text", "audio", "recsys"}  # simclr needs views; all four provide them


# --- the fixtures --------------------------------------------------------------------------


def test_fake_distributions_are_discovered_through_entry_points(sslbench_fake_distributions, sslbench_make_registry):
    sslbench_fake_distributions(FakeDistribution("thirdparty-ssl", {"blobs": "fake_plugin"}, version="0.4"))
    registry = sslbench_make_registry(autoload=True)
    assert registry.names("dataset") == ["blobs"] and registry.get("model", "mlp").plugin == "blobs"
    assert plugin_versions(registry.pm) == {"blobs": "thirdparty-ssl==0.4"}


def test_inline_plugins_register_under_their_name_in_a_fresh_manager(sslbench_make_registry):
    plugin = inline_plugin("mytasks", sslbench_register_tasks=lambda: [
        TaskSpec(name="noop", build=lambda ctx, o: None, description="does nothing")])
    with_it, without = sslbench_make_registry(plugin), sslbench_make_registry()
    assert with_it.get("task", "noop").plugin == "mytasks"
    assert without.names("task") == [] and with_it.pm is not without.pm


def test_conformance_tests_parametrize_only_the_named_plugins():
    test = conformance_tests("fake_plugin", autoload=False).test_component
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
    assert [c.id for c in mark.args[1]] == ["modality:vector", "dataset:blobs", "model:mlp"]


def test_the_kit_fixture_gives_fixed_tiny_batches_and_the_cheapest_partner(sslbench_kit, sslbench_make_registry):
    kit = sslbench_kit(sslbench_make_registry(modules=("fake_plugin", "sslbench_image.plugin")), batch_size=6)
    assert kit.batch("blobs")["x"].shape == (6, 16) and torch.equal(kit.batch("blobs")["x"], kit.batch("blobs")["x"])
    assert kit.datasets_of("image") == ["cifar10", "cifar100", "digits", "fashion-mnist", "imagefolder", "mnist-5k",
                                        "stl10"]  # examples first, then by name
    dataset, model = kit.cheapest(kit.task_pairs("simclr", "image"), "simclr")
    assert dataset == "cifar10" and kit.size(dataset, model) == min(kit.size(dataset, m) for m in kit.models_for(dataset))
    assert kit.task_pairs("simclr", "vector") == [("blobs", "mlp")]


# --- a broken plugin fails, naming itself and the contract ------------------------------


def vector_kit(tmp_path, *plugins, **options) -> Kit:
    """A kit over the fake vector world (tests/fake_plugin.py), knn, and ``plugins``."""
    from sslbench.testing import make_registry

    return Kit(make_registry(*plugins, modules=VECTOR), tmp_path, KitOptions(**options))


class PullTogether(nn.Module):
    """A minimal task: the two views' embeddings pulled together (MSE), on the vector modality."""

    def __init__(self, encoder, modality, detach: bool = False) -> None:
        super().__init__()
        self.encoder, self.modality, self.detach = encoder, modality, detach
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, batch):
        a, b = self.modality.views(batch)
        loss = (self.scale * (self.encoder(a).pooled - self.encoder(b).pooled)).pow(2).mean()
        if self.detach:  # a loss the optimizer cannot lower
            loss = loss.detach() + 0 * self.scale
        return {"loss": loss}


def task_plugin(name: str = "pull", **kwargs) -> types.ModuleType:
    build = lambda ctx, o: PullTogether(ctx.encoder, ctx.modality, **kwargs)  # noqa: E731
    return inline_plugin("pulls", sslbench_register_tasks=lambda: [
        TaskSpec(name=name, build=build, needs={"views"}, description="pull views together")])


def test_a_working_task_passes(tmp_path):
    run_case(vector_kit(tmp_path, task_plugin()), Case("task", "pull", "vector"))


def test_a_loss_that_does_not_train_fails(tmp_path):
    with pytest.raises(ConformanceError, match=r"task 'pull' \(plugin 'pulls'\).*must lower the loss"):
        run_case(vector_kit(tmp_path, task_plugin(detach=True)), Case("task", "pull", "vector"))


def test_a_task_that_trains_a_copy_of_its_encoder_fails(tmp_path):
    import copy

    build = lambda ctx, o: PullTogether(copy.deepcopy(ctx.encoder), ctx.modality)  # noqa: E731
    plugin = inline_plugin("copier", sslbench_register_tasks=lambda: [
        TaskSpec(name="pull", build=build, needs={"views"}, description="x")])
    with pytest.raises(ConformanceError, match="parameters must include its encoder's"):
        run_case(vector_kit(tmp_path, plugin), Case("task", "pull", "vector"))


class PrivateNoise(PullTogether):
    """Adds noise from a generator of its own, seeded by the OS: not reproducible from a seed."""

    def forward(self, batch):
        seed = int.from_bytes(os.urandom(4), "little")
        noise = torch.randn(batch["x"].shape, generator=torch.Generator().manual_seed(seed))
        return super().forward({"x": batch["x"] + noise})


def test_a_task_with_its_own_random_stream_fails(tmp_path):
    plugin = inline_plugin("noisy", sslbench_register_tasks=lambda: [TaskSpec(
        name="pull", build=lambda ctx, o: PrivateNoise(ctx.encoder, ctx.modality), needs={"views"}, description="x")])
    with pytest.raises(ConformanceError, match="same seed give losses .* torch's global generator"):
        run_case(vector_kit(tmp_path, plugin), Case("task", "pull", "vector"))


def test_a_task_nothing_can_run_is_skipped_with_the_reason(tmp_path):
    plugin = inline_plugin("needy", sslbench_register_tasks=lambda: [
        TaskSpec(name="needy", build=lambda c, o: None, needs={"tokens"}, description="x")])
    kit = vector_kit(tmp_path, plugin)
    assert [c for c in cases(kit.registry, ["needy"])] == [Case("task", "needy")]
    with pytest.raises(NotApplicable, match="task 'needy': no compatible"):
        run_case(kit, Case("task", "needy"))


class PrivateRandomViews:
    """Views drawn from a generator of their own: the runner could not checkpoint them."""

    def __init__(self) -> None:
        self.generator = torch.Generator().manual_seed(torch.seed() % 2**31)

    def views(self, batch):
        x = batch["x"]
        noise = lambda: torch.randn(x.shape, generator=self.generator)  # noqa: E731
        return {"x": x + noise()}, {"x": x + noise()}


def test_views_that_ignore_the_global_generator_fail(tmp_path):
    from fake_plugin import BlobsOptions, load_blobs

    plugin = inline_plugin(
        "private",
        sslbench_register_modalities=lambda: [ModalitySpec(
            name="noisy", build=lambda info, o: PrivateRandomViews(), provides={"views"}, description="x")],
        sslbench_register_datasets=lambda: [DatasetSpec(
            name="noisy-blobs", modality="noisy", build=load_blobs, options=BlobsOptions, description="x")],
    )
    with pytest.raises(ConformanceError, match="global generator"):
        run_case(vector_kit(tmp_path, plugin), Case("modality", "noisy"))


class WrongWidth(nn.Module):
    """Declares embed_dim 8 but pools to 4."""

    embed_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 4)

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=self.linear(batch["x"]))


def test_an_encoder_whose_pooled_width_is_not_embed_dim_fails(tmp_path):
    plugin = inline_plugin("narrow", sslbench_register_models=lambda: [ModelSpec(
        name="narrow", modalities={"vector"}, build=lambda ctx, o: WrongWidth(), description="x")])
    with pytest.raises(ConformanceError, match=r"model 'narrow'.*pooled must be \(B, embed_dim\) = \(8, 8\), got \(8, 4\)"):
        run_case(vector_kit(tmp_path, plugin), Case("model", "narrow"))


def test_an_evaluator_that_returns_a_tensor_fails(tmp_path):
    run = lambda ctx, o: {"mean": ctx.embeddings("test").mean()}  # noqa: E731  # a tensor, not a float
    plugin = inline_plugin("tensors", sslbench_register_evaluators=lambda: [EvaluatorSpec(
        name="mean", run=run, description="x")])
    with pytest.raises(ConformanceError, match=r"metric 'mean' must be a finite float \(not a tensor\)"):
        run_case(vector_kit(tmp_path, plugin), Case("evaluator", "mean"))


def test_a_declared_label_set_the_splits_lack_fails(tmp_path):
    from fake_plugin import BlobsOptions, load_blobs

    plugin = inline_plugin("mislabelled", sslbench_register_datasets=lambda: [DatasetSpec(
        name="blobs2", modality="vector", build=load_blobs, options=BlobsOptions,
        label_sets={"colour": "class"}, description="x")])
    with pytest.raises(ConformanceError, match="declares label set 'colour' but split 'train' lacks it"):
        run_case(vector_kit(tmp_path, plugin), Case("dataset", "blobs2"))


def test_a_dataset_with_files_and_no_example_is_not_applicable(tmp_path):
    plugin = inline_plugin("remote", sslbench_register_datasets=lambda: [DatasetSpec(
        name="remote", modality="vector", build=lambda c, o: None, data=object(), description="x")])
    with pytest.raises(NotApplicable, match="declares data files and no example"):
        run_case(vector_kit(tmp_path, plugin), Case("dataset", "remote"))


@dataclass  # not frozen
class LooseOptions:
    width: int = 4


def test_options_that_are_not_frozen_fail(tmp_path):
    plugin = inline_plugin("loose", sslbench_register_tasks=lambda: [TaskSpec(
        name="loose", build=lambda c, o: None, options=LooseOptions, description="x")])
    with pytest.raises(ConformanceError, match="options LooseOptions must be a frozen dataclass"):
        run_case(vector_kit(tmp_path, plugin), Case("task", "loose"))


def test_kit_options_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"^batch_size: must be >= 2"):
        KitOptions(batch_size=1)
    assert dataclasses.replace(KitOptions(), steps=3).steps == 3


def test_the_kits_pairs_are_the_planners_cells(tmp_path, sslbench_make_registry):
    """The kit runs a task on exactly the (dataset, model) pairs a grid of everything would plan."""
    import tomli_w

    from sslbench.plan.config import load_config
    from sslbench.plan.grid import plan_grid

    registry = sslbench_make_registry(modules=BUILTINS)
    kit = Kit(registry, tmp_path)
    names = {kind: registry.names(kind) for kind in ("dataset", "task", "model")}
    config = tmp_path / "all.toml"
    config.write_text(tomli_w.dumps({"grid": {"datasets": names["dataset"], "tasks": names["task"],
                                              "models": names["model"], "evaluators": ["knn"]}}))
    cells = plan_grid(load_config(config, registry), registry).cells
    for task in names["task"]:
        planned = {(c.dataset, c.model) for c in cells if c.task == task}
        assert set(kit.task_pairs(task)) == planned, task
        assert planned, f"{task}: no pair at all"


def test_the_whole_input_check_catches_a_model_that_ignores_part_of_its_input():
    from sslbench.contexts import EncoderOutput
    from sslbench.testing.check_model import _expect_sees_whole_input
    from sslbench.testing.checks import ConformanceError

    class LeftHalf(torch.nn.Module):
        embed_dim = 4

        def forward(self, batch):
            return EncoderOutput(None, batch["image"][..., :14].flatten(1)[:, :4])

    batch = {"image": torch.rand(3, 1, 28, 28), "label:y": torch.zeros(3, dtype=torch.long)}
    with pytest.raises(ConformanceError, match=r"ignores part of the input: changing image\[:, :, 0:14, 14:\]"):
        _expect_sees_whole_input(LeftHalf(), batch, "model 'left-half'")


def test_an_untrained_resnet18_sees_the_whole_28px_image():
    """timm's zero_init_last made it see only the top-left 12×12; the image plugin turns it off."""
    import timm
    from sslbench_image.models import TimmEncoder

    from sslbench.testing.check_model import _expect_sees_whole_input
    from sslbench.testing.checks import ConformanceError

    torch.manual_seed(0)
    batch = {"image": torch.rand(2, 1, 28, 28)}
    _expect_sees_whole_input(TimmEncoder("resnet18", 1, [0.5], [0.5], small_stem=False).eval(), batch, "resnet18")
    blind = TimmEncoder("resnet18", 1, [0.5], [0.5], small_stem=False)
    blind.body = timm.create_model("resnet18", pretrained=False, num_classes=0, global_pool="", in_chans=1)
    with pytest.raises(ConformanceError, match="ignores part of the input"):  # timm's default: blind
        _expect_sees_whole_input(blind.eval(), batch, "resnet18 with zero_init_last")
