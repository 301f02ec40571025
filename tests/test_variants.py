"""Named variants of a component in one grid (sslbench/plan/variants.py): an ablation is one ranking."""
import json
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

import fake_plugin
import pytest

from sslbench import ModelSpec, hookimpl
from sslbench.cli.main import main
from sslbench.errors import ConfigError
from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.plan.identity import differences
from sslbench.results import read_rows
from sslbench.results.leaderboard import build
from sslbench.results.report import board_markdown
from sslbench.results.stats import paired_verdict
from sslbench.run.runner import run_grid

ABLATION = """
[run]
seeds = [0, 1, 2]
device = "cpu"
steps = 6
batch_size = 32
[grid]
datasets = ["blobs-hard"]
tasks = ["simclr", "simclr-t02"]
models = ["mlp"]
evaluators = ["knn"]
[datasets."blobs-hard"]     # a dataset variant: overlapping clusters, so the scores differ
base = "blobs"
n = 120
dim = 2
classes = 6
[tasks.simclr]
hidden_dim = 16
projection_dim = 8
[tasks."simclr-t02"]
base = "simclr"
temperature = 0.2
"""


def write(tmp_path, text, name="cfg.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_two_temperatures_are_one_ranking_with_a_paired_verdict(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    config = load_config(write(tmp_path, ABLATION), registry)
    assert config.options_for("task", "simclr-t02").temperature == 0.2
    assert config.options_for("task", "simclr-t02").hidden_dim == 16  # inherited from [tasks.simclr]
    assert run_grid(config, registry, tmp_path / "out").exit_code == 0
    rows = read_rows(tmp_path / "out")
    variant = [r for r in rows if r["task"] == "simclr-t02"]
    assert len(variant) == 3 and all(r["dataset"] == "blobs-hard" for r in rows)
    assert variant[0]["bases"] == {"dataset": "blobs", "task": "simclr"}
    assert variant[0]["identity"]["bases"] == {"dataset": "blobs", "task": "simclr"}
    assert variant[0]["identity"]["settings"]["task"] == {"hidden_dim": 16, "projection_dim": 8, "temperature": 0.2}
    assert variant[0]["settings"]["dataset"]["classes"] == 6

    board = build(rows)
    rankings = [(name, members) for name, members in board.rankings() if set(members["task"]) >= {"simclr"}]
    assert len(rankings) == 1  # the ablation is one ranking ...
    name, members = rankings[0]
    assert name == "blobs-hard (blobs, classes=6, dim=2, n=120) / knn / cluster / top1"
    methods = members[members["kind"] == "method"].set_index("task")
    assert set(methods.index) == {"simclr", "simclr-t02"} and methods["rank"].notna().all()
    seeds = {t: json.loads(methods.loc[t, "seeds"]) if isinstance(methods.loc[t, "seeds"], str) else None
             for t in methods.index}
    per_seed = {t: {int(s): v for s, v in (seeds[t] or {}).items()} for t in seeds}
    verdict = paired_verdict(per_seed["simclr"], per_seed["simclr-t02"], True)
    assert verdict in ("better", "worse", "tie")  # ... with a paired verdict between its two entries
    same_rank = methods.loc["simclr", "rank"] == methods.loc["simclr-t02", "rank"]
    assert same_rank == (verdict == "tie") and bool(methods["tied"].all()) == same_rank
    page = board_markdown(board)
    assert "simclr-t02 (simclr, hidden_dim=16, projection_dim=8, temperature=0.2)" in page
    assert "| simclr " in page  # the registered task keeps its plain name


def test_a_variant_of_a_variant_is_the_same_measurement_as_one_written_directly(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    chained = load_config(write(tmp_path, ABLATION + """
        [tasks."simclr-t02-p4"]
        base = "simclr-t02"
        projection_dim = 4
        """.replace("tasks = [\"simclr\", \"simclr-t02\"]", "tasks = [\"simclr-t02-p4\"]")), registry)
    direct = load_config(write(tmp_path, ABLATION.replace('tasks = ["simclr", "simclr-t02"]', 'tasks = ["x"]') + """
        [tasks.x]
        base = "simclr"
        hidden_dim = 16
        projection_dim = 4
        temperature = 0.2
        """, "direct.toml"), registry)
    a, b = chained.options_for("task", "simclr-t02-p4"), direct.options_for("task", "x")
    assert a == b and chained.variants[("task", "simclr-t02-p4")].base == "simclr"
    assert chained.as_dict()["tasks"]["simclr-t02-p4"]["base"] == "simclr"  # the chain resolved in the manifest


@pytest.mark.parametrize(("table", "problem"), [
    ('[tasks."t"]\nbase = "simclrr"', "[tasks.t] base: unknown task 'simclrr'; valid: "),
    ('[tasks.a]\nbase = "b"\n[tasks.b]\nbase = "a"', "[tasks.a] base: the variants' bases form a cycle: a → b → a"),
    ('[tasks.simclr]\nbase = "simclr"', "[tasks.simclr] base: 'simclr' is a registered task (plugin "),
    ('[tasks.t]\nbase = "mlp"', ("[tasks.t] base: 'mlp' is a model, not a task; a task variant's base is a task "
                                 "or another task variant")),
    ('[tasks.random-init]\nbase = "simclr"', "[tasks.random-init] base: 'random-init' is the grid's own anchor"),
    ('[tasks.t]\nbase = 3', "[tasks.t] base: must name a task (a string), got int 3"),
    ('[tasks.T2]\nbase = "simclr"', "[tasks.T2]: a variant's name must be lowercase letters"),
    ('[tasks.t]\nbase = "simclr"\ntemperature = -1', "[tasks.t] temperature: "),
    ('[tasks.t]\nbase = "simclr"\ntemprature = 0.2', "[tasks.t] temprature: unknown option; allowed: "),
    ('[modalities.vector]\nbase = "vector"', "[modalities.vector] base: modalities have no variants"),
])
def test_each_mistake_is_one_line(tmp_path, make_registry, table, problem):
    plain = ABLATION.split("[datasets")[0].replace('"blobs-hard"', '"blobs"').replace(', "simclr-t02"', "")
    path = write(tmp_path, plain + table)
    with pytest.raises(ConfigError) as err:
        load_config(path, make_registry(fake_plugin))
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_a_mistake_exits_2_with_one_line(tmp_path, capsys):
    path = write(tmp_path, ABLATION.replace('base = "simclr"', 'base = "simclrr"'))
    assert main(["-p", "fake_plugin", "list", "--cells", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "[tasks.simclr-t02] base: unknown task 'simclrr'" in err


def test_list_shows_a_configs_variants(tmp_path, capsys):
    path = write(tmp_path, ABLATION)
    assert main(["-p", "fake_plugin", "list", "--cells", str(path)]) == 0
    out = capsys.readouterr().out
    assert "variants (2):" in out and "  task simclr-t02 (simclr, hidden_dim=16, projection_dim=8, temperature=0.2)" in out
    assert "  dataset blobs-hard (blobs, classes=6, dim=2, n=120)" in out
    assert "blobs-hard / simclr-t02 / mlp: knn [cluster]" in out
    assert main(["-p", "fake_plugin", "list", "--config", str(path), "--json"]) == 0
    tasks = {t["name"]: t for t in json.loads(capsys.readouterr().out)["tasks"]}
    assert tasks["simclr-t02"]["base"] == "simclr" and tasks["simclr-t02"]["options"]["temperature"] == "float = 0.2"
    assert tasks["simclr-t02"]["description"].startswith("variant of simclr: hidden_dim=16")
    assert main(["-p", "fake_plugin", "list"]) == 0
    assert "simclr-t02" not in capsys.readouterr().out  # without a config, only registered components


@dataclass(frozen=True)
class WidthOptions:
    width: int = 8  # hidden width of the MLP


def sized_mlp_plugin():
    plugin = types.ModuleType("sized_mlp")
    plugin.sslbench_register_models = hookimpl(lambda: [ModelSpec(
        name="sized-mlp", modalities={"vector"}, options=WidthOptions, description="MLP of a given width",
        build=lambda ctx, o: fake_plugin.MLP(ctx.info["dim"], width=o.width))])
    return plugin


def test_a_model_variants_random_init_is_its_base_with_its_options(tmp_path, make_registry):
    registry = make_registry(fake_plugin, sized_mlp_plugin())
    config = load_config(write(tmp_path, """
        [run]
        seeds = [0]
        device = "cpu"
        steps = 2
        batch_size = 16
        [grid]
        datasets = ["blobs"]
        tasks = ["simclr"]
        models = ["sized-mlp", "mlp-wide"]
        evaluators = ["knn", "knn-5"]
        [tasks.simclr]
        hidden_dim = 8
        projection_dim = 4
        [models."mlp-wide"]
        base = "sized-mlp"
        width = 24
        [evaluators."knn-5"]
        base = "knn"
        k = 5
        """), registry)
    assert [c.key for c in plan_grid(config, registry).cells] == [
        "blobs/random-init/sized-mlp", "blobs/simclr/sized-mlp", "blobs/random-init/mlp-wide", "blobs/simclr/mlp-wide"]
    run_grid(config, registry, tmp_path / "out")
    rows = {(r["task"], r["model"]): r for r in read_rows(tmp_path / "out") if r["evaluator"] == "knn"}
    anchor = rows[("random-init", "mlp-wide")]
    assert anchor["settings"]["model"] == {"width": 24} and anchor["bases"] == {"model": "sized-mlp"}
    assert anchor["identity"]["settings"]["model"] == {"width": 24}
    assert "bases" not in rows[("random-init", "sized-mlp")]["identity"]
    board = build(read_rows(tmp_path / "out"))
    wide = board.table[(board.table["model"] == "mlp-wide") & (board.table["task"] == "simclr")]
    assert wide["baseline"].notna().all()  # the variant is compared with its own random-init
    names = [name for name, _ in board.rankings()]
    assert "blobs / knn-5 (knn, k=5) / cluster / top1" in names and "blobs / knn / cluster / top1" in names


def test_configs_without_variants_keep_their_identity(tmp_path, make_registry):
    """The hash of a config without variants is what sslbench computed before variants existed."""
    config = load_config(write(tmp_path, ABLATION.split("[datasets")[0].replace('"blobs-hard"', '"blobs"')
                               .replace(', "simclr-t02"', "")), make_registry(fake_plugin))
    assert config.variants == {} and config.hash == "27e88d890ade8822"
    assert all("base" not in t for tables in config.as_dict().values() if isinstance(tables, dict)
               for t in tables.values() if isinstance(t, dict))


EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_the_docs_examples_plan_and_the_second_continues_the_first(registry):
    """docs/models.md: the ablation's config, and the one that adds evaluators to its finished folder."""
    first = load_config(EXAMPLES / "simclr-temperatures.toml", registry)
    more = load_config(EXAMPLES / "simclr-temperatures-more.toml", registry)
    assert [c.key for c in plan_grid(first, registry).pretrained] == ["digits/simclr/cnn-small",
                                                                      "digits/simclr-t02/cnn-small"]
    assert differences(first.identity(), more.identity()) == []  # only names added: --resume continues
    assert [e.evaluator for e in plan_grid(more, registry).pretrained[1].evaluations] == [
        "knn", "linear-probe", "knn-uniform"]


def test_the_docs_page_shows_what_list_cells_prints(capsys):
    assert main(["list", "--cells", str(EXAMPLES / "simclr-temperatures.toml")]) == 0
    printed = capsys.readouterr().out.rstrip("\n") + "\n"
    page = (EXAMPLES.parent / "models.md").read_text()
    assert printed in page and "variants (1):\n  task simclr-t02 (simclr, temperature=0.2)\n" in printed


def test_a_registry_extended_for_one_config_is_not_taken_for_anothers(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    first = load_config(write(tmp_path, ABLATION), registry)
    other = load_config(write(tmp_path, ABLATION.replace('base = "simclr"', 'base = "supervised"')
                              .replace("temperature = 0.2", 'label_set = "cluster"'), "other.toml"), registry)
    extended = first.registry(registry)
    assert other.registry(extended).get("task", "simclr-t02").needs == registry.get("task", "supervised").needs
    assert first.registry(extended) is extended
