"""The installed plugin runs in a grid beside the built-ins, through the command line's entry point."""
from __future__ import annotations

import json
import math
from pathlib import Path

from sslbench.cli import main

GRID = Path(__file__).resolve().parents[1] / "grid.toml"


def test_the_grid_mixing_this_plugin_with_builtins_runs(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "data"))
    blocked = ["-p", "no:text", "-p", "no:audio", "-p", "no:recsys"]  # the grid needs image and eval only
    assert main([*blocked, "run", str(GRID), "--out", str(tmp_path / "out")]) == 0  # `sslbench ...` in process
    rows = [json.loads(line) for line in (tmp_path / "out" / "rows.jsonl").read_text().splitlines()]
    assert all(r["status"] == "ok" and math.isfinite(r["value"]) for r in rows)
    cells = {(r["dataset"], r["task"], r["model"], r["evaluator"]) for r in rows}
    assert cells == {
        ("digits", "random-init", "cnn-small", "knn"), ("digits", "byol", "cnn-small", "knn"),
        *((("wine", t, "tabular-mlp", e) for t in ("random-init", "byol", "simclr")
           for e in ("knn", "linear-probe", "nearest-centroid"))),
        ("digits", "no-encoder", "raw-pixels", "knn"),  # each modality's reference beside random-init
        *((("wine", "no-encoder", "raw-features", e) for e in ("knn", "linear-probe", "nearest-centroid"))),
    }
    curves = [json.loads(line) for line in (tmp_path / "out" / "curves.jsonl").read_text().splitlines()]
    byol_curve = next(c for c in curves if c["task"] == "byol" and c["dataset"] == "wine")
    assert len(byol_curve["logs"]["output_std"]) == len(byol_curve["losses"])  # BYOL's extra log, aligned
    plugins = rows[0]["provenance"]["plugins"]
    assert plugins["example"] == "sslbench-example==0.1.0" and "image" in plugins and "text" not in plugins
