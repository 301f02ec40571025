"""Config loading: every bad input is one ConfigError naming file, key and what is allowed."""
from __future__ import annotations

import textwrap

import pytest

from sslbench.errors import ConfigError
from sslbench.plan.config import RunConfig, load_config

GOOD = """
[run]
seeds = [0, 1]
device = "cpu"
steps = 5
batch_size = 16
[grid]
datasets = ["digits"]
tasks = ["simclr"]
models = ["cnn-small"]
evaluators = ["knn", "linear-probe"]
[tasks.simclr]
temperature = 0.2
"""


def write(tmp_path, text):
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_config_is_typed_and_frozen(tmp_path, registry):
    config = load_config(write(tmp_path, GOOD), registry)
    assert config.run.seeds == (0, 1) and config.run.steps == 5 and config.run.suite == "cfg"
    assert config.options_for("task", "simclr").temperature == 0.2
    assert config.options_for("evaluator", "knn").k == 20  # defaults filled in
    with pytest.raises(AttributeError):
        config.run.steps = 3  # frozen


def test_hash_ignores_device_and_explicit_defaults(tmp_path, registry):
    a = load_config(write(tmp_path, GOOD), registry)
    b = load_config(write(tmp_path, GOOD.replace('device = "cpu"', 'device = "auto"') + "[evaluators.knn]\nk = 20\n"), registry)
    c = load_config(write(tmp_path, GOOD.replace("steps = 5", "steps = 6")), registry)
    assert a.hash == b.hash != c.hash


def test_overrides_apply_before_validation(tmp_path, registry):
    config = load_config(write(tmp_path, GOOD), registry, {"seeds": (3,), "device": "cpu"})
    assert config.run.seeds == (3,)


BAD = [
    ("[run\nsteps = 1", "", "malformed TOML"),
    (GOOD + "\n[extra]\n", "extra", "unknown key; allowed: run, grid"),
    (GOOD.replace("steps = 5", "stepz = 5"), "[run] stepz", "unknown option; allowed: batch_size"),
    (GOOD.replace("steps = 5", "stepz = 5"), "[run] stepz", "(did you mean 'steps'?)"),
    (GOOD.replace("[grid]", "[gird]"), "gird", "unknown key; allowed: run, grid, modalities, datasets, tasks, models, "
     "evaluators (did you mean 'grid'?)"),
    (GOOD.replace("steps = 5", 'steps = "five"'), "[run] steps", "must be int, got string 'five'"),
    (GOOD.replace("steps = 5", "steps = 0"), "[run] steps", "must be a positive integer, got 0"),
    (GOOD.replace("steps = 5", "steps = -3"), "[run] steps", "must be a positive integer, got -3"),
    (GOOD.replace("steps = 5", "steps = true"), "[run] steps", "must be int, got boolean True"),
    (GOOD.replace("seeds = [0, 1]", "seeds = [0, 1.5]"), "[run] seeds", "must be int, got float 1.5"),
    (GOOD.replace("seeds = [0, 1]", "seeds = []"), "[run] seeds", "at least one seed"),
    (GOOD.replace("seeds = [0, 1]", "seeds = [1, 1]"), "[run] seeds", "must not repeat"),
    (GOOD.replace('device = "cpu"', 'device = "tpu"'), "[run] device", "must be one of 'auto', 'cpu', 'cuda'"),
    (GOOD.replace('"cnn-small"', '"cnn-smal"'), "[grid] models", "did you mean 'cnn-small'"),
    (GOOD.replace('"knn", ', '"knnn", '), "[grid] evaluators", "unknown evaluator 'knnn'; valid: finetune, knn, linear-probe"),
    (GOOD.replace('datasets = ["digits"]', "datasets = []"), "[grid] datasets", "at least one name"),
    (GOOD.replace("temperature = 0.2", "temperature = -1.0"), "[tasks.simclr] temperature", "must be > 0"),
    (GOOD.replace("temperature = 0.2", "temprature = 0.2"), "[tasks.simclr] temprature", "unknown option; allowed: hidden_dim"),
    (GOOD.replace("temperature = 0.2", "temprature = 0.2"), "[tasks.simclr] temprature", "(did you mean 'temperature'?)"),
    (GOOD + "\n[models.resnet50]\n", "[models.resnet50]", "unknown model 'resnet50'"),
    (GOOD + "\n[models]\ncnn-small = 3\n", "[models.cnn-small]", "must be a table of options"),
    ("run = 3\n" + GOOD[GOOD.index("[grid]"):], "run", "must be a table ([run]), got int"),
]


def test_no_suggestion_when_no_key_is_close(tmp_path, registry):
    with pytest.raises(ConfigError, match="xyzzy: unknown option") as info:
        load_config(write(tmp_path, GOOD.replace("temperature = 0.2", "xyzzy = 0.2")), registry)
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("text, key, problem", BAD, ids=[b[2][:30] for b in BAD])
def test_bad_config_names_file_key_and_fix(tmp_path, registry, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert key in message and problem in message, message
    assert "\n" not in message


def test_missing_file(tmp_path, registry):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml", registry)


def test_run_config_defaults_are_valid():
    assert RunConfig().steps == 200


MULTI = """
[run]
steps = 5
[[grid]]
name = "a"
datasets = ["digits"]
tasks = ["simclr"]
models = ["cnn-small"]
evaluators = ["knn"]
[grid.run]
steps = 7
batch_size = 8
[[grid]]
datasets = ["digits"]
tasks = ["simclr"]
models = ["resnet18"]
evaluators = ["knn"]
"""


def test_several_grids_each_with_its_own_budget(tmp_path, registry):
    from sslbench.plan.grid import plan_grid

    config = load_config(write(tmp_path, MULTI), registry)
    assert [(p.grid.name, p.run.steps, p.run.batch_size) for p in config.grids] == [("a", 7, 8), ("", 5, 128)]
    cells = {c.key: c.run.steps for c in plan_grid(config, registry).cells}
    assert cells == {"digits/random-init/cnn-small": 7, "digits/simclr/cnn-small": 7,
                     "digits/random-init/resnet18": 5, "digits/simclr/resnet18": 5,
                     "digits/no-encoder/raw-pixels": 7}  # one reference per dataset, in its first grid


@pytest.mark.parametrize("text, key, problem", [
    (MULTI.replace("batch_size = 8", "seeds = [3]"), "[grid #1] run seeds", "cannot be set per grid"),
    (MULTI.replace('"resnet18"', '"cnn-small"'), "[grid #2]", "repeats (dataset, task, model)"),
    (MULTI.replace("steps = 7", "steps = 0"), "[grid #1] run steps", "must be a positive integer"),
    (MULTI.replace('models = ["resnet18"]', 'models = ["resnet19"]'), "[grid #2] models", "did you mean 'resnet18'"),
])
def test_bad_multi_grid_configs(tmp_path, registry, text, key, problem):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), registry)
    assert key in str(info.value) and problem in str(info.value), str(info.value)


def test_a_key_with_a_newline_is_reported_on_one_line(tmp_path, registry):
    path = write(tmp_path, '"bad\\nkey" = 0\n' + GOOD)  # found by tests/test_config_fuzz.py
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    assert str(info.value) == f"{path}: bad\\nkey: unknown key; allowed: run, grid, modalities, datasets, tasks, models, evaluators"
