"""key=value overrides on the command line: dotted TOML keys into the config, validated as the file is."""
from __future__ import annotations

import json
import textwrap

import pytest

from sslbench.cli import main
from sslbench.errors import ConfigError
from sslbench.plan.config import load_config
from sslbench.plan.overrides import apply_overrides, parse_override

GOOD = """
[run]
seeds = [0]
device = "cpu"
steps = 5
batch_size = 16
[grid]
datasets = ["digits"]
tasks = ["simclr", "supervised"]
models = ["cnn-small"]
evaluators = ["knn"]
[tasks.simclr]
temperature = 0.5
"""

MULTI = """
[run]
steps = 5
[[grid]]
name = "image"
datasets = ["digits"]
tasks = ["simclr"]
models = ["cnn-small"]
evaluators = ["knn"]
[[grid]]
name = "image.big"
datasets = ["digits"]
tasks = ["simclr"]
models = ["resnet18"]
evaluators = ["knn"]
"""


def write(tmp_path, text, name="cfg.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_run_grid_and_component_keys_are_set_as_the_file_would(tmp_path, registry):
    config = load_config(write(tmp_path, GOOD), registry,
                         settings=["run.steps=50", 'grid.tasks=["simclr"]', "tasks.simclr.temperature=0.2",
                                   "models.cnn-small = {}", 'run.device = "auto"'])
    assert config.run.steps == 50 and config.grid.tasks == ("simclr",) and config.run.device == "auto"
    assert config.options_for("task", "simclr").temperature == 0.2
    assert config.overrides[0] == "run.steps=50"


def test_a_grid_of_several_is_named_by_its_name_quoted_when_it_holds_a_dot_or_by_position(tmp_path, registry):
    path = write(tmp_path, MULTI)
    config = load_config(path, registry, settings=["grid.image.run.steps=10", 'grid."image.big".run.batch_size=8'])
    assert [(p.run.steps, p.run.batch_size) for p in config.grids] == [(10, 128), (5, 8)]
    by_position = load_config(path, registry, settings=["grid.2.run.steps=3"])
    assert [p.run.steps for p in by_position.grids] == [5, 3]


def test_one_grid_takes_its_keys_with_or_without_its_name(tmp_path, registry):
    named = write(tmp_path, GOOD.replace("[grid]", '[grid]\nname = "image"'))
    assert load_config(named, registry, settings=["grid.image.run.steps=3"]).grids[0].run.steps == 3
    assert load_config(named, registry, settings=["grid.run.steps=4"]).grids[0].run.steps == 4
    one_array = write(tmp_path, GOOD.replace("[grid]", "[[grid]]"), name="array.toml")
    assert load_config(one_array, registry, settings=['grid.tasks=["simclr"]']).grid.tasks == ("simclr",)


def test_quoted_keys_are_read_as_toml_writes_them():
    assert parse_override("x", 'models."bert.tiny".layers=2') == (("models", "bert.tiny", "layers"), 2)
    assert parse_override("x", "tasks.'a=b'.lr = 1e-3") == (("tasks", "a=b", "lr"), 0.001)
    raw = {"models": {"bert.tiny": {"layers": 4}, "bert": {"tiny": {"layers": 4}}}}
    out = apply_overrides("x", raw, ['models."bert.tiny".layers=2'])
    assert out == {"models": {"bert.tiny": {"layers": 2}, "bert": {"tiny": {"layers": 4}}}}
    assert raw["models"]["bert.tiny"]["layers"] == 4  # the parsed file itself is left as it was


@pytest.mark.parametrize("override, key, problem", [
    ("run.stepz=5", "[run] stepz", "did you mean 'steps'?"),
    ("rnu.steps=5", "rnu", "did you mean 'run'?"),
    ("tasks.simclr.temprature=0.1", "[tasks.simclr] temprature", "did you mean 'temperature'?"),
    ('grid.taks=["simclr"]', "[grid] taks", "did you mean 'tasks'?"),
    ("grid.tasks=[\"simclrr\"]", "[grid] tasks", "simclr"),
    ("run.steps=-1", "[run] steps", "must be a positive integer"),
    ("run.steps=abc", "run.steps", "is no TOML value"),
    ("run.device=cpu", "run.device", "a TOML string is quoted, in a shell: run.device='\"cpu\"'"),
    ("run.steps", "run.steps", "an override must be key=value"),
    ("run..steps=1", "run..steps", "is no TOML key"),
    ("run.steps.x=1", "run.steps", "is a value (int), not a table"),
    ("run.steps=1\nlr = 0.5", "run.steps", "is no TOML value (more than one value)"),
    ("run.steps\nx=1", "run.steps", "is no TOML key"),
])
def test_a_bad_override_is_one_line_naming_the_key(tmp_path, registry, override, key, problem):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD), registry, settings=[override])
    message = str(info.value)
    assert key in message and problem in message and "\n" not in message, message


@pytest.mark.parametrize("override, problem", [
    ("grid.run.steps=10", "is ambiguous: this config has 2 grids ('image', 'image.big'); name one, e.g. grid.image.run.steps"),
    ('grid.tasks=["simclr"]', "is ambiguous"),
    ("grid.imgae.run.steps=10", "names no grid of this config; its grids: 'image', 'image.big' (did you mean 'image'?)"),
    ("grid.3.run.steps=10", "names no grid"),
    ("grid.image=1", "names no key inside grid 'image'"),
])
def test_a_grid_key_must_name_one_of_several_grids(tmp_path, registry, override, problem):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, MULTI), registry, settings=[override])
    assert problem in str(info.value), str(info.value)


def test_the_hash_follows_a_changed_value_and_not_one_equal_to_the_default(tmp_path, registry):
    path = write(tmp_path, GOOD)
    plain = load_config(path, registry)
    assert load_config(path, registry, settings=["run.steps=6"]).hash != plain.hash
    assert load_config(path, registry, settings=["run.steps=5"]).hash == plain.hash  # the file's own value
    assert load_config(path, registry, settings=["run.lr=0.001"]).hash == plain.hash  # [run] lr's default
    assert load_config(path, registry, settings=["tasks.simclr.temperature=0.2"]).hash != plain.hash
    assert load_config(path, registry, settings=["evaluators.knn.k=20"]).hash == plain.hash  # knn's default k


def test_the_command_line_takes_overrides_after_options_and_records_them_and_logs(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace('"simclr", "supervised"', '"simclr"'))
    out = tmp_path / "out"
    code = main(["run", str(path), "run.steps=2", "-q", "--out", str(out), 'grid.evaluators=["knn"]',
                 "datasets.digits.valid_fraction=0.2", "--log", "tensorboard", "run.batch_size=8"])
    assert code == 0, capsys.readouterr().err
    assert (out / "tensorboard" / "digits--simclr--cnn-small--seed0").is_dir()  # --log tensorboard
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["overrides"][0] == "run.steps=2" and manifest["overrides"][-1] == "run.batch_size=8"
    assert manifest["config"]["run"]["steps"] == 2 and manifest["config"]["datasets"]["digits"]["valid_fraction"] == 0.2
    assert manifest["config_hash"] == load_config(path, _registry(), settings=manifest["overrides"]).hash


def _registry():
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    return Registry(make_plugin_manager())


def test_list_cells_takes_overrides_and_refuses_them_without_a_config(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    assert main(["list", "--cells", str(path), 'grid.tasks=["supervised"]', "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert {c["task"] for c in plan["cells"]} == {"random-init", "no-encoder", "supervised"}
    assert main(["list", "run.steps=3"]) == 2
    assert "need --cells CONFIG" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["list", "--cells", str(path), "--bogus", "run.steps=3"])
    assert exit_.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err
