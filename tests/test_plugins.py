"""Plugin discovery, blocking, validation and duplicate detection."""
from __future__ import annotations

import importlib.metadata
import re
import types

import pytest

from sslbench import ModelSpec, hookimpl
from sslbench.errors import PluginError
from sslbench.plugins import make_plugin_manager, parse_plugin_args, plugin_versions
from sslbench.registry import Registry
from sslbench.testing import FakeDistribution, install_distributions


@pytest.fixture
def fake_dists(monkeypatch):
    """Replace installed distributions by the ones a test lists (the kit's FakeDistribution)."""

    def install(*dists):
        install_distributions(monkeypatch, *dists)

    return install


def test_entry_points_are_discovered_and_versions_recorded(fake_dists):
    fake_dists(FakeDistribution("thirdparty-ssl", {"blobs": "fake_plugin"}))
    pm = make_plugin_manager(autoload=True)
    registry = Registry(pm)
    assert registry.get("dataset", "blobs").plugin == "blobs"
    assert plugin_versions(pm) == {"blobs": "thirdparty-ssl==1.2.3"}


def test_autoload_env_var_turns_discovery_off(fake_dists, monkeypatch):
    fake_dists(FakeDistribution("thirdparty-ssl", {"blobs": "fake_plugin"}))
    monkeypatch.setenv("SSLBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = Registry(make_plugin_manager())
    assert registry.names("dataset") == []


def test_block_by_name(fake_dists):
    fake_dists(FakeDistribution("thirdparty-ssl", {"blobs": "fake_plugin"}))
    blocked, modules = parse_plugin_args(["no:blobs"])
    registry = Registry(make_plugin_manager(autoload=True, blocked=blocked, modules=modules))
    assert "blobs" not in registry.names("dataset")


def test_blocking_an_unknown_name_lists_the_plugins(fake_dists):
    fake_dists(FakeDistribution("thirdparty-ssl", {"blobs": "fake_plugin"}))
    with pytest.raises(PluginError, match=r"-p no:blbos: no plugin named 'blbos'; plugins: blobs"):
        make_plugin_manager(autoload=True, blocked=["blbos"])


def test_a_plugin_that_fails_to_import_is_named(fake_dists):
    fake_dists(FakeDistribution("broken-dist", {"broken": "no_such_module_xyz"}))
    with pytest.raises(PluginError, match=r"plugin 'broken' \(no_such_module_xyz, from broken-dist\) failed to load.*-p no:broken"):
        make_plugin_manager(autoload=True)


def test_misspelt_hook_fails_at_start():
    plugin = types.SimpleNamespace(sslbench_register_modles=hookimpl(lambda: []))
    with pytest.raises(PluginError, match="sslbench_register_modles"):
        make_plugin_manager(autoload=False, plugins=[plugin])


def test_hookimpl_with_arguments_the_spec_lacks_fails_naming_them():
    module = types.ModuleType("badargs")

    @hookimpl
    def sslbench_result_row(row, extra):
        pass

    module.sslbench_result_row = sslbench_result_row
    with pytest.raises(PluginError, match="extra"):
        make_plugin_manager(autoload=False, plugins=[module])


def test_a_name_two_plugins_register_is_ambiguous_only_where_it_is_used(make_registry):
    from sslbench.errors import AmbiguousNameError

    plugin = types.ModuleType("other_vision")
    plugin.sslbench_register_models = hookimpl(lambda: [ModelSpec(name="cnn-small", modalities={"image"},
                                                                  build=lambda ctx, o: None)])
    registry = make_registry(plugin)  # no error: every command still works
    with pytest.raises(AmbiguousNameError, match=r"model 'cnn-small' is registered by plugins 'sslbench_image.plugin' "
                       r"and 'other_vision'; write one of 'sslbench_image.plugin:cnn-small', 'other_vision:cnn-small'"):
        registry.get("model", "cnn-small")
    assert registry.get("model", "other_vision:cnn-small").plugin == "other_vision"
    assert {"other_vision:cnn-small", "sslbench_image.plugin:cnn-small", "resnet18"} <= set(registry.names("model"))
    assert registry.get("model", "resnet18").plugin == "sslbench_image.plugin"  # other names are unaffected


def test_one_plugin_registering_a_name_twice_is_refused(make_registry):
    plugin = types.ModuleType("twice")
    plugin.sslbench_register_models = hookimpl(lambda: [
        ModelSpec(name="m", modalities={"image"}, build=lambda ctx, o: None) for _ in range(2)])
    with pytest.raises(PluginError, match="plugin 'twice' registers model 'm' twice"):
        make_registry(plugin)


def test_reserved_task_name_is_refused(make_registry):
    from sslbench import TaskSpec

    plugin = types.ModuleType("sneaky")
    plugin.sslbench_register_tasks = hookimpl(lambda: [TaskSpec(name="random-init", build=lambda c, o: None)])
    with pytest.raises(PluginError, match="reserved"):
        make_registry(plugin)


def test_a_hook_returning_the_wrong_type_is_named(make_registry):
    plugin = types.ModuleType("wrongtype")
    plugin.sslbench_register_models = hookimpl(lambda: ["cnn-small"])
    with pytest.raises(PluginError, match="wrongtype.*returned str; expected a list of ModelSpec"):
        make_registry(plugin)


def test_explicit_module_that_does_not_import():
    with pytest.raises(PluginError, match="may not be installed"):
        make_plugin_manager(autoload=False, modules=["not_a_module_abc"])


def test_builtins_register_through_the_installed_entry_points():
    """The built-in plugins are found exactly as a third party's: by entry point."""
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="sslbench")}
    assert eps.get("image") == "sslbench_image.plugin"
    assert eps.get("eval") == "sslbench_eval.plugin"
    registry = Registry(make_plugin_manager(autoload=True))
    assert {"simclr"} <= set(registry.names("task"))
    assert registry.get("model", "cnn-small").plugin == "image"


def test_the_core_imports_no_plugin_package():
    """The core knows no modality: no module of sslbench/ mentions a built-in plugin package."""
    import pathlib

    import sslbench

    core = pathlib.Path(sslbench.__file__).parent
    plugin_packages = re.compile(r"sslbench_(image|text|audio|recsys|eval)\b")
    offenders = [p.name for p in core.rglob("*.py") if plugin_packages.search(p.read_text())]
    assert offenders == []


def test_registering_the_built_in_plugins_imports_no_model_library():
    """`sslbench list`, `data` and config errors load every plugin: transformers, torchvision,
    torchaudio and timm (~5 s together here) must wait until a cell builds something."""
    import subprocess
    import sys

    heavy = ["transformers", "tokenizers", "torchvision", "torchaudio", "timm"]
    code = ("import sys; from sslbench.plugins import make_plugin_manager; from sslbench.registry import Registry; "
            "r = Registry(make_plugin_manager(autoload=True)); assert r.names('dataset'), 'no plugin loaded'; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
