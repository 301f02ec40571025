"""docs/models.md's examples: the files its commands name exist, and the example configs plan an
as-loaded cell beside the SSL cell (the runs themselves: tests/test_outside_weights.py, test_export.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.plugins import make_plugin_manager
from sslbench.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
BUILTINS = ["sslbench_image.plugin", "sslbench_text.plugin", "sslbench_eval.plugin"]


def test_every_file_the_page_runs_exists():
    page = (ROOT / "docs" / "models.md").read_text()
    named = set(re.findall(r"(benchmarks/pretrained/[\w.-]+)", page))
    assert named >= {"benchmarks/pretrained/make_weights.py", "benchmarks/pretrained/image.toml",
                     "benchmarks/pretrained/text.toml"}
    assert all((ROOT / n).is_file() for n in named)
    assert "## Evaluate a pretrained model" in page and "## Export an encoder" in page


@pytest.mark.parametrize(("name", "ssl"), [("image.toml", "simclr"), ("text.toml", "mlm")])
def test_the_example_configs_plan_an_as_loaded_cell_beside_ssl(name, ssl):
    registry = Registry(make_plugin_manager(autoload=False, modules=BUILTINS))
    plan = plan_grid(load_config(ROOT / "benchmarks" / "pretrained" / name, registry), registry)
    assert {c.task for c in plan.cells} == {"random-init", "no-encoder", ssl, "pretrained"}
