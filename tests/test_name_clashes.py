"""Components are addressable as plugin:name; a clash makes only the short name ambiguous; -p no:PLUGIN:NAME."""
from __future__ import annotations

import json
import textwrap

import fake_plugin
import pytest

from sslbench import TaskSpec
from sslbench.cli import main
from sslbench.errors import ConfigError, PluginError
from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.plugins import make_plugin_manager, parse_plugin_args
from sslbench.testing import inline_plugin

CLASHING = textwrap.dedent('''
    """A third-party plugin whose task is called simclr, like the image plugin's."""
    from sslbench import TaskSpec, hookimpl


    @hookimpl
    def sslbench_register_tasks():
        from sslbench_image.simclr import build_simclr, SimCLROptions
        return [TaskSpec(name="simclr", build=build_simclr, options=SimCLROptions, needs={"views"},
                         description="a second simclr")]
''')


def clashing():
    from sslbench_image.simclr import SimCLROptions, build_simclr

    return inline_plugin("tp", sslbench_register_tasks=lambda: [TaskSpec(
        name="simclr", build=build_simclr, options=SimCLROptions, needs={"views"}, description="a second simclr")])


def config(tmp_path, tasks: str, tables: str = "") -> str:
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(f"""
        [run]
        seeds = [0]
        device = "cpu"
        steps = 2
        batch_size = 16
        [grid]
        datasets = ["blobs"]
        tasks = {tasks}
        models = ["mlp"]
        evaluators = ["knn"]
    """) + textwrap.dedent(tables))
    return str(path)


def test_configs_name_clashing_components_by_plugin_and_name(tmp_path, make_registry):
    registry = make_registry(fake_plugin, clashing())
    path = config(tmp_path, '["tp:simclr", "sslbench_image.plugin:simclr"]', """
        [tasks."tp:simclr"]
        temperature = 0.25
    """)
    loaded = load_config(path, registry)
    assert loaded.grid.tasks == ("tp:simclr", "sslbench_image.plugin:simclr")
    assert loaded.options_for("task", "tp:simclr").temperature == 0.25
    assert loaded.options_for("task", "sslbench_image.plugin:simclr").temperature == 0.5
    tasks = {c.task for c in plan_grid(loaded, registry).cells}
    assert tasks == {"random-init", "tp:simclr", "sslbench_image.plugin:simclr"}


def test_the_short_name_of_a_clash_is_an_error_in_the_config_listing_both(tmp_path, make_registry):
    registry = make_registry(fake_plugin, clashing())
    with pytest.raises(ConfigError, match=r"\[grid\] tasks: task 'simclr' is registered by plugins .*'tp:simclr'"):
        load_config(config(tmp_path, '["simclr"]'), registry)


def test_a_qualified_name_without_a_clash_means_the_short_one(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    path = config(tmp_path, '["sslbench_image.plugin:simclr"]', """
        [tasks.simclr]
        temperature = 0.25
    """)
    loaded = load_config(path, registry)
    assert loaded.grid.tasks == ("simclr",) and loaded.options_for("task", "simclr").temperature == 0.25


def test_blocking_one_component_keeps_the_rest_of_its_plugin(make_registry):
    registry = make_registry(fake_plugin, clashing(), blocked=["sslbench_image.plugin:simclr"])
    assert registry.get("task", "simclr").plugin == "tp"  # unambiguous again
    assert "cnn-small" in registry.names("model")
    with pytest.raises(PluginError, match=r"-p no:tp:simclrr: plugin 'tp' registers no component 'simclrr'; "
                       r"its components: tp:simclr"):
        make_registry(fake_plugin, clashing(), blocked=["tp:simclrr"])


def test_p_no_plugin_name_is_a_component_block_not_a_plugin_block():
    blocked, modules = parse_plugin_args(["no:fake_plugin", "no:tp:simclr", "my_module"])
    assert (blocked, modules) == (["fake_plugin", "tp:simclr"], ["my_module"])
    pm = make_plugin_manager(autoload=False, plugins=[fake_plugin], blocked=["tp:simclr"])  # not a plugin name
    assert pm.sslbench_blocked_components == ["tp:simclr"]


def test_sslbench_list_works_with_a_clash_and_shows_qualified_names(tmp_path, monkeypatch, capsys):
    (tmp_path / "clashing_plugin.py").write_text(CLASHING)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SSLBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    base = ["-p", "sslbench_image.plugin", "-p", "clashing_plugin"]
    assert main([*base, "list", "--json"]) == 0
    tasks = {t["name"]: t["plugin"] for t in json.loads(capsys.readouterr().out)["tasks"]}
    assert tasks == {"sslbench_image.plugin:simclr": "sslbench_image.plugin",
                     "clashing_plugin:simclr": "clashing_plugin"}
    assert main([*base, "-p", "no:sslbench_image.plugin:simclr", "list", "--json"]) == 0
    tasks = {t["name"]: t["plugin"] for t in json.loads(capsys.readouterr().out)["tasks"]}
    assert tasks == {"simclr": "clashing_plugin"}
