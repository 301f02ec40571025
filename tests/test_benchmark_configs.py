"""The committed benchmark configs parse, and plan what their comments promise."""
from pathlib import Path

import pytest

from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.plugins import make_plugin_manager
from sslbench.registry import Registry

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
BUILTINS = ["sslbench_image.plugin", "sslbench_text.plugin", "sslbench_audio.plugin", "sslbench_recsys.plugin",
            "sslbench_eval.plugin"]
GENERIC_TASKS = {"supervised"}  # references, not methods


@pytest.fixture(scope="module")
def registry():
    return Registry(make_plugin_manager(autoload=False, modules=BUILTINS))


@pytest.mark.parametrize("name", sorted(p.name for p in BENCHMARKS.glob("*.toml")))
def test_every_benchmark_config_loads_and_plans_cells(name, registry):
    plan = plan_grid(load_config(BENCHMARKS / name, registry), registry)
    assert plan.pretrained


def cross_modal(registry, cell) -> bool:
    """A method from another modality's plugin, running here because its needs are met."""
    task = registry.get("task", cell.task)
    return cell.task not in GENERIC_TASKS and task.plugin != registry.get("dataset", cell.dataset).plugin


def modality(registry, cell) -> str:
    return registry.get("dataset", cell.dataset).modality


def test_full_grid_spans_every_modality_with_at_least_twelve_cells(registry):
    plan = plan_grid(load_config(BENCHMARKS / "full.toml", registry), registry)
    assert len(plan.pretrained) >= 12
    assert {modality(registry, c) for c in plan.pretrained} == {"image", "text", "audio", "recsys"}
    assert {modality(registry, c) for c in plan.pretrained if cross_modal(registry, c)} == {"image", "text", "audio", "recsys"}


def test_quick_grid_has_a_cross_modal_cell_per_modality(registry):
    plan = plan_grid(load_config(BENCHMARKS / "quick.toml", registry), registry)
    modalities = {modality(registry, c) for c in plan.pretrained}
    assert modalities == {"image", "text", "audio", "recsys"}
    assert {modality(registry, c) for c in plan.pretrained if cross_modal(registry, c)} == modalities
