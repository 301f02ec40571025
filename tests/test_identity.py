"""Identities that survive an upgrade: options left at their defaults are not part of a config's or a
row's identity, a component's version is, and folders written before either rule still resume and compare."""
import dataclasses
import json
import textwrap
import types
from dataclasses import dataclass

import fake_plugin
import pytest
import torch

from sslbench import EncoderOutput, ModelSpec, hookimpl
from sslbench.errors import UsageError
from sslbench.plan.config import load_config
from sslbench.plan.identity import differences, identity_from_full
from sslbench.results import read_rows
from sslbench.results.compare import compare, load_entries
from sslbench.results.identity import defaults_from_registry, identity_of_row, with_identity
from sslbench.results.leaderboard import higher_always
from sslbench.run.runner import run_grid

CONFIG = """
[run]
seeds = [0]
device = "cpu"
steps = 4
batch_size = 32
[grid]
datasets = ["blobs"]
tasks = ["simclr"]
models = ["net"]
evaluators = {evaluators}
[models.net]
width = {width}
"""


@dataclass(frozen=True)
class NetOptions:
    width: int = 16


@dataclass(frozen=True)
class NetOptionsUpgraded:
    width: int = 16
    activation: str = "relu"  # the option an upgrade adds, with a default that keeps the old behaviour


class Net(torch.nn.Module):
    def __init__(self, dim: int, width: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(dim, width), torch.nn.ReLU(), torch.nn.Linear(width, width))
        self.embed_dim = width

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=self.net(batch["x"]))


def net_plugin(options=NetOptions, version=1):
    plugin = types.ModuleType("net_plugin")
    spec = ModelSpec(name="net", modalities={"vector"}, options=options, version=version,
                     build=lambda ctx, opts: Net(ctx.info["dim"], opts.width))
    plugin.sslbench_register_models = hookimpl(lambda: [spec])
    return plugin


def run(tmp_path, registry, out="out", width=16, evaluators='["knn"]', resume=False):
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent(CONFIG.format(width=width, evaluators=evaluators)))
    config = load_config(path, registry)
    return config, run_grid(config, registry, tmp_path / out, resume=resume, progress=False)


def make_legacy(folder):
    """Rewrite a folder as sslbench wrote it before identities: no identity, full-config hash everywhere."""
    manifest = json.loads((folder / "manifest.json").read_text())
    legacy_hash = "0123456789abcdef"
    for key in ("identity", "identity_format", "continues"):
        manifest.pop(key)
    manifest["config_hash"] = legacy_hash
    (folder / "manifest.json").write_text(json.dumps(manifest))
    rows = read_rows(folder)
    for row in rows:
        row.pop("identity"), row.pop("format")
        row["provenance"]["config_hash"] = legacy_hash
    (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_options_at_their_defaults_are_not_part_of_the_identity(tmp_path, make_registry):
    old, _ = run(tmp_path, make_registry(fake_plugin, net_plugin()), out="a")
    new, _ = run(tmp_path, make_registry(fake_plugin, net_plugin(NetOptionsUpgraded)), out="b")
    assert old.hash == new.hash
    assert "net" not in old.identity().get("models", {})  # width 16 is the default
    row = next(r for r in read_rows(tmp_path / "b") if r["task"] == "simclr")
    assert row["settings"]["model"] == {"width": 16, "activation": "relu"}  # provenance keeps every option
    assert row["format"] == 2 and row["identity"]["settings"]["model"] == {}


def test_a_folder_written_before_an_option_was_added_resumes_and_compares(tmp_path, make_registry):
    run(tmp_path, make_registry(fake_plugin, net_plugin()), out="old")
    upgraded = make_registry(fake_plugin, net_plugin(NetOptionsUpgraded))
    config, summary = run(tmp_path, upgraded, out="old", resume=True)
    assert summary.exit_code == 0 and summary.rows == 0  # accepted; every pair was done already
    run(tmp_path, upgraded, out="new")
    comparison = compare(load_entries(tmp_path / "old"), load_entries(tmp_path / "new"))
    assert comparison.vanished == [] and comparison.changed == [] and comparison.shared == 2


def test_a_legacy_folder_resumes_and_its_rows_match_under_the_installed_defaults(tmp_path, make_registry):
    run(tmp_path, make_registry(fake_plugin, net_plugin()), out="old")
    make_legacy(tmp_path / "old")
    upgraded = make_registry(fake_plugin, net_plugin(NetOptionsUpgraded))
    config, summary = run(tmp_path, upgraded, out="old", resume=True)
    assert summary.exit_code == 0 and summary.rows == 0
    manifest = json.loads((tmp_path / "old" / "manifest.json").read_text())
    assert manifest["continues"] == ["0123456789abcdef"] and manifest["config_hash"] == config.hash
    run(tmp_path, upgraded, out="old", resume=True)  # the migrated manifest is accepted again

    run(tmp_path, upgraded, out="new")
    migrate = lambda rows: with_identity(rows, *defaults_from_registry(upgraded))  # noqa: E731
    without = compare(load_entries(tmp_path / "old"), load_entries(tmp_path / "new"))
    assert without.shared == 0  # a legacy row's full options do not match a new row's identity...
    with_migration = compare(load_entries(tmp_path / "old", higher_always, migrate),
                             load_entries(tmp_path / "new", higher_always, migrate))
    assert with_migration.vanished == [] and with_migration.shared == 2  # ...recovered, they do


def test_a_changed_value_refuses_resume_naming_the_key(tmp_path, make_registry):
    registry = make_registry(fake_plugin, net_plugin())
    run(tmp_path, registry, out="old")
    with pytest.raises(UsageError) as err:
        run(tmp_path, registry, out="old", width=24, resume=True)
    message = str(err.value)
    assert "[models.net] width: the default there, 24 here" in message and "\n" not in message


def test_a_changed_value_in_a_legacy_folder_is_named_too(tmp_path, make_registry):
    registry = make_registry(fake_plugin, net_plugin())
    run(tmp_path, registry, out="old", width=24)
    make_legacy(tmp_path / "old")
    with pytest.raises(UsageError, match=r"\[models\.net\] width: 24 there, the default here"):
        run(tmp_path, registry, out="old", resume=True)


def test_a_version_bump_separates_results(tmp_path, make_registry):
    run(tmp_path, make_registry(fake_plugin, net_plugin()), out="old")
    bumped = make_registry(fake_plugin, net_plugin(version=2))
    with pytest.raises(UsageError, match="model.net is version 1 there, 2 here"):
        run(tmp_path, bumped, out="old", resume=True)
    run(tmp_path, bumped, out="new")
    comparison = compare(load_entries(tmp_path / "old"), load_entries(tmp_path / "new"))
    assert comparison.shared == 0 and len(comparison.changed) == 2  # simclr and random-init: listed, never compared
    assert all("settings" in change.detail for change in comparison.changed)
    rows = [r for r in read_rows(tmp_path / "new") if r["task"] == "simclr"]
    assert identity_of_row(rows[0])[1]["model"] == {"(version)": 2}


def test_an_added_evaluator_extends_the_grid_and_resumes(tmp_path, make_registry):
    registry = make_registry(fake_plugin, net_plugin())
    run(tmp_path, registry, out="old")
    config, summary = run(tmp_path, registry, out="old", evaluators='["knn", "linear-probe"]', resume=True)
    assert summary.exit_code == 0


def test_differences_name_each_key_and_ignore_growing_grids():
    old = {"run": {"steps": 10}, "grid": [{"datasets": ["a"], "tasks": ["t"], "models": ["m"], "evaluators": ["knn"]}],
           "tasks": {"t": {"temperature": 0.5}}}
    grown = {**old, "grid": [{**old["grid"][0], "evaluators": ["knn", "linear-probe"], "models": ["m", "m2"]}],
             "models": {"m2": {"width": 8}}}  # options of a component only the new grid uses: not compared
    assert differences(old, grown) == []
    changed = {**old, "run": {}, "tasks": {"t": {"temperature": 0.2}}}
    assert differences(old, changed) == ["[run] steps: 10 there, the default here",
                                         "[tasks.t] temperature: 0.5 there, 0.2 here"]
    shrunk = {**old, "grid": [{**old["grid"][0], "models": []}]}
    assert differences(old, shrunk) == ["[grid] models: ['m'] there, [] here (names were removed)"]


def test_identity_from_a_full_config_drops_defaults_and_execution_keys():
    full = {"run": {"steps": 200, "device": "cpu", "threads": 1, "lr": 0.01}, "grid": [{"datasets": ["d"], "run": {"steps": 200}}],
            "tasks": {"t": {"temperature": 0.5, "tau": 1}}}
    identity = identity_from_full(full, {"steps": 200, "lr": 0.001, "device": "auto", "threads": 0},
                                  lambda table, name: {"temperature": 0.5, "tau": 2})
    assert identity == {"run": {"lr": 0.01}, "grid": [{"datasets": ["d"]}], "tasks": {"t": {"tau": 1}}}
    assert dataclasses.is_dataclass(NetOptions)
