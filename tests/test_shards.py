"""Shards deal (cell, seed) pairs by estimated cost; an empty shard ends cleanly."""
from __future__ import annotations

from pathlib import Path

import fake_plugin
import pytest
from test_reliability import write_config

from sslbench.cli import main
from sslbench.plan.config import load_config
from sslbench.plan.cost import deal
from sslbench.plan.grid import plan_grid
from sslbench.results import read_rows
from sslbench.run import folder
from sslbench.run.runner import shard_pairs


def one_seed_config(tmp_path):
    path = write_config(tmp_path, steps=5, every=0)
    path.write_text(path.read_text().replace("seeds = [0, 1]", "seeds = [0]"))
    return path  # random-init and simclr on blobs: two (cell, seed) pairs


def test_two_pairs_over_two_shards_give_one_each(tmp_path, capsys):
    config = one_seed_config(tmp_path)
    for k in (0, 1):
        assert main(["-p", "fake_plugin", "run", str(config), "--out", str(tmp_path / f"s{k}"), "--shard", f"{k}/2"]) == 0
    tasks = [{r["task"] for r in read_rows(tmp_path / f"s{k}")} for k in (0, 1)]
    assert sorted(map(len, tasks)) == [1, 1] and tasks[0] | tasks[1] == {"random-init", "simclr"}


def test_an_empty_shard_ends_cleanly_with_one_line(tmp_path, capsys):
    config = one_seed_config(tmp_path)
    code = main(["-p", "fake_plugin", "run", str(config), "--out", str(tmp_path / "s2"), "--shard", "2/3"])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    assert "shard 2/3 holds none of the grid's 2 (cell, seed) pairs; nothing to run" in err
    assert not (tmp_path / "s2").exists()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_shards_partition_the_pairs_and_none_is_empty_while_another_holds_two(tmp_path, make_registry, n):
    registry = make_registry(fake_plugin)
    plan = plan_grid(load_config(write_config(tmp_path), registry), registry)
    for seeds in [(0,), (0, 1), (0, 1, 2, 3, 4)]:
        shards = [shard_pairs(plan, seeds, (k, n)) for k in range(n)]
        assert sum(map(len, shards)) == len(set().union(*shards)) == len(plan.cells) * len(seeds)
        assert min(map(len, shards)) >= 1 or max(map(len, shards)) <= 1


def test_dealing_is_independent_of_order_and_balances_cost():
    pairs = [(f"p{i}", cost) for i, cost in enumerate([10, 1, 1, 1, 7, 3, 3, 1, 9, 2])]
    shards = deal(pairs, 3)
    assert deal(list(reversed(pairs)), 3) == shards and deal(sorted(pairs), 3) == shards
    loads = sorted(sum(dict(pairs)[name] for name in shard) for shard in shards)
    assert loads == [12, 13, 13]  # 38 in all: the best split is 12/13/13
    assert deal([("a", 5.0), ("b", 1.0)], 3)[2] == set()  # fewer pairs than shards: one each, then empty


TEXT_CPU = Path(__file__).resolve().parents[1] / "benchmarks" / "text-cpu.toml"


@pytest.mark.parametrize("n", [2, 3, 4])
def test_text_cpu_shards_hold_equal_compute(make_registry, n):
    """Planned only (no dataset is read): 12 trainings of bert-tiny, 3 random-init, 3 tf-idf."""
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    registry = Registry(make_plugin_manager(autoload=False, modules=("sslbench_text.plugin", "sslbench_eval.plugin")))
    config = load_config(TEXT_CPU, registry)
    plan = plan_grid(config, registry)
    seeds = config.run.seeds
    cost = {folder.pair_name(c, s): c.cost for c in plan.cells for s in seeds}
    trained = {folder.pair_name(c, s) for c in plan.pretrained for s in seeds}
    assert len(trained) == 12 and len(cost) == 18
    shards = [shard_pairs(plan, seeds, (k, n)) for k in range(n)]
    loads = [sum(cost[name] for name in shard) for shard in shards]
    assert max(loads) <= 1.2 * min(loads), loads
    assert sorted(len(shard & trained) for shard in shards) == [12 // n] * n  # 6/6 for 2 shards (hash dealing: 5/7)


def test_a_cost_hint_must_be_positive():
    from sslbench import ModelSpec, TaskSpec

    with pytest.raises(ValueError, match="model 'm': cost must be a positive number, got 0"):
        ModelSpec(name="m", modalities={"x"}, build=lambda ctx, o: None, cost=0)
    with pytest.raises(ValueError, match="cost must be a positive number"):
        TaskSpec(name="t", build=lambda ctx, o: None, cost=float("nan"))


@pytest.mark.slow  # builds every built-in encoder (ResNet-18 through timm, BERT through transformers)
def test_built_in_cost_hints_are_their_models_parameter_counts():
    """Each built-in model's hint is its parameters in millions at default options (within 5%)."""
    import torch

    from sslbench.contexts import ModelContext
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    modules = ("sslbench_image.plugin", "sslbench_text.plugin", "sslbench_audio.plugin", "sslbench_recsys.plugin")
    registry = Registry(make_plugin_manager(autoload=False, modules=modules))
    infos = {"image": {"channels": 1, "image_size": 28}, "text": {"vocab_size": 8000, "max_length": 64, "pad_token_id": 0},
             "audio": {"num_features": 13}, "recsys": {"vocab_size": 1685, "max_len": 50}}
    torch.manual_seed(0)
    for spec in (registry.get("model", name) for name in registry.names("model")):
        (modality,) = spec.modalities
        encoder = spec.build(ModelContext(dataset="d", modality=modality, info=infos[modality]), spec.options())
        params = sum(p.numel() for p in encoder.parameters()) / 1e6
        assert spec.cost == pytest.approx(params, rel=0.05), (spec.name, params)
