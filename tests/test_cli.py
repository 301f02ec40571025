"""The console script: listings, exit statuses, one-line errors, nothing half-written."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sslbench.cli import main

ROOT = Path(__file__).resolve().parents[1]


def sslbench(*args, cwd=None, env=None):
    """Run the real console entry point in a subprocess (as a user would)."""
    return subprocess.run([sys.executable, "-m", "sslbench", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_list_json_shows_components_with_plugins_and_declarations(capsys):
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    simclr = next(t for t in listing["tasks"] if t["name"] == "simclr")
    assert simclr["plugin"] == "image" and simclr["needs"] == ["views"]
    assert simclr["options"]["temperature"] == "float = 0.5"
    knn = next(e for e in listing["evaluators"] if e["name"] == "knn")
    assert knn["plugin"] == "eval" and knn["label_kinds"] == ["class"]


def test_list_human_readable(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    tasks = out[out.index("tasks:"):out.index("evaluators:")]
    assert "\n  simclr  [image]" in tasks and "needs: views" in tasks


@pytest.mark.parametrize("args, message", [
    (["run", "missing.toml"], "missing.toml: no such config file"),
    (["-p", "no:nosuch", "list"], "-p no:nosuch: no plugin named 'nosuch'"),
    (["list", "-p", "not_a_module_xyz"], "cannot import plugin module"),
    (["leaderboard", "nowhere"], "nowhere: no rows.jsonl there"),
    (["run"], "the following arguments are required: config"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, args, message):
    result = sslbench(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_config_writes_nothing(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(textwrap.dedent("""
        [run]
        steps = -1
        [grid]
        datasets = ["digits"]
        tasks = ["simclr"]
        models = ["cnn-small"]
        evaluators = ["knn"]
    """))
    result = sslbench("run", str(config), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"sslbench: error: {config}: [run] steps: must be a positive integer, got -1"
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_blocking_the_image_plugin_removes_its_components(capsys):
    assert main(["-p", "no:image", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    components = [c for kind in listing.values() for c in kind]
    assert components and not [c["name"] for c in components if c["plugin"] == "image"]
    assert "simclr" not in {t["name"] for t in listing["tasks"]}
    assert {"knn", "linear-probe"} <= {e["name"] for e in listing["evaluators"]}


def test_list_cells_shows_the_grid_and_every_skip(tmp_path, capsys):
    config = tmp_path / "grid.toml"
    config.write_text(textwrap.dedent("""
        [grid]
        datasets = ["digits"]
        tasks = ["simclr", "masked-frames"]
        models = ["cnn-small"]
        evaluators = ["knn"]
        [grid.run]
        flops = 1e12
    """))
    assert main(["list", "--cells", str(config)]) == 0
    out = capsys.readouterr().out
    assert "digits / simclr / cnn-small: knn [digit]  (1e+12 flops, batch 128)" in out
    assert "(digits, masked-frames, cnn-small): task 'masked-frames' needs frame-masking" in out
    assert main(["list", "--cells", str(config), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [c["task"] for c in plan["cells"]] == ["random-init", "no-encoder", "simclr"] and plan["skipped"][0]["task"] == "masked-frames"
