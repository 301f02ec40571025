"""Shards deal (cell, seed) pairs evenly; an empty shard ends cleanly."""
from __future__ import annotations

import fake_plugin
import pytest
from test_reliability import write_config

from sslbench.cli import main
from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.results import read_rows
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
def test_shards_differ_by_at_most_one_pair(tmp_path, make_registry, n):
    registry = make_registry(fake_plugin)
    plan = plan_grid(load_config(write_config(tmp_path), registry), registry)
    for seeds in [(0,), (0, 1), (0, 1, 2, 3, 4)]:
        sizes = [len(shard_pairs(plan, seeds, (k, n))) for k in range(n)]
        assert sum(sizes) == len(plan.cells) * len(seeds) and max(sizes) - min(sizes) <= 1
