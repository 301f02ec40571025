"""The recsys plugin wired into sslbench: declarations, the grids it makes, the datasets
through their builders, a tiny end-to-end run (popularity checked against a naive
per-user reference, BERT4Rec through the text plugin's mlm) and bad input at the CLI."""

from __future__ import annotations

import importlib.util
import logging
import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from sslbench_recsys import datasets

from sslbench import DatasetContext, UsageError
from sslbench.cli import main
from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.plugins import make_plugin_manager
from sslbench.registry import Registry
from sslbench.results import read_rows
from sslbench.run.runner import run_grid
from sslbench.specs import KNOWN_CAPABILITIES

PLUGINS = ("sslbench_recsys.plugin", "sslbench_image.plugin", "sslbench_eval.plugin", "sslbench_text.plugin")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(make_plugin_manager(autoload=False, modules=PLUGINS))


@pytest.fixture
def log_files(tmp_path: Path) -> tuple[Path, Path]:
    """A hand-made log: 24 users each within one of two item groups (a-items, b-items),
    4-9 interactions; one duplicate row and one user with a single interaction."""
    generator = torch.Generator().manual_seed(0)
    lines = ["user_id,item_id,timestamp"]
    for user in range(24):
        group = "ab"[user % 2]
        length = 4 + user % 6
        picks = torch.randint(0, 6, (length,), generator=generator).tolist()
        lines += [f"u{user},{group}{p},{1000 + 10 * t}" for t, p in enumerate(picks)]
    lines += [lines[1], "loner,a1,5"]  # a duplicate of the first row; a user with one interaction
    log = tmp_path / "log.csv"
    log.write_text("\n".join(lines) + "\n")
    labels = tmp_path / "items.csv"
    labels.write_text("item_id,genre\n" + "".join(f"{g}{i},{'Action' if g == 'a' else 'Drama'}|{'Old' if i < 3 else 'New'}\n"
                                                  for g in "ab" for i in range(6)))
    return log, labels


def _config(tmp_path: Path, registry: Registry, text: str):
    path = tmp_path / "recsys.toml"
    path.write_text(text)
    return load_config(path, registry)


def _real_specs():
    """tests/data/real_specs.py, whose pins were checked against the packages."""
    loader = importlib.util.spec_from_file_location("sslbench_data_real_specs_recsys", ROOT / "tests/data/real_specs.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def test_declarations_use_known_capabilities(registry):
    modality = registry.get("modality", "recsys")
    assert modality.provides == {"views", "tokens"}
    assert registry.get("model", "item-embedding").provides == {"item-embeddings", "token-embeddings"}
    assert registry.get("model", "item-transformer").provides == {"item-embeddings", "token-embeddings", "sequence"}
    assert registry.get("task", "cooccurrence").needs == {"tokens", "token-embeddings"}
    next_item, probe = registry.get("evaluator", "next-item"), registry.get("evaluator", "genre-probe")
    assert next_item.needs == {"item-embeddings", "next-item"} and next_item.baselines is not None
    assert probe.needs == {"item-embeddings", "item-labels"} and not probe.label_kinds
    for name in ("movielens-100k", "interactions-csv"):
        spec = registry.get("dataset", name)
        assert spec.provides == {"next-item", "item-labels"} and spec.label_sets == {}
    declared = set().union(*(registry.get(k, n).provides for k, n in (
        ("modality", "recsys"), ("model", "item-transformer"), ("dataset", "movielens-100k"))))
    assert declared | next_item.needs | probe.needs <= set(KNOWN_CAPABILITIES)
    assert registry.get("dataset", "movielens-100k").data == _real_specs().MOVIELENS_100K  # the pinned spec, exactly


def test_grid_runs_generic_and_token_tasks_and_skips_class_label_evaluators(tmp_path, registry):
    config = _config(tmp_path, registry, """
[grid]
datasets = ["interactions-csv", "digits"]
tasks = ["cooccurrence", "simclr", "mlm"]
models = ["item-embedding", "item-transformer"]
evaluators = ["next-item", "genre-probe", "knn"]
""")
    plan = plan_grid(config, registry)
    assert {c.key for c in plan.cells} == {
        "interactions-csv/random-init/item-embedding", "interactions-csv/cooccurrence/item-embedding",
        "interactions-csv/simclr/item-embedding", "interactions-csv/random-init/item-transformer",
        "interactions-csv/cooccurrence/item-transformer", "interactions-csv/simclr/item-transformer",
        "interactions-csv/mlm/item-transformer", "interactions-csv/no-encoder/item-knn",
    }
    skipped = {(s.dataset, s.task, s.model, s.evaluator): s.reason for s in plan.skipped}
    assert "needs sequence" in skipped[("interactions-csv", "mlm", "item-embedding", "")]
    assert "needs a label set of kind class; dataset has none" in skipped[
        ("interactions-csv", "cooccurrence", "item-embedding", "knn")]
    baseline = next(c for c in plan.cells if c.key == "interactions-csv/random-init/item-embedding")
    assert [r.evaluator for r in baseline.references] == ["next-item"]


def test_quick_config_recsys_part(registry):
    full = Registry(make_plugin_manager())  # quick.toml names every modality's components
    config = load_config(ROOT / "benchmarks" / "quick.toml", full)
    part = next(p for p in config.grids if p.grid.name == "recsys")
    cells = [c for c in plan_grid(config, full).cells if c.dataset == "movielens-100k" and c.model == "item-embedding"]
    assert [c.key for c in cells] == ["movielens-100k/random-init/item-embedding",
                                      "movielens-100k/cooccurrence/item-embedding"]
    assert all([e.evaluator for e in c.evaluations] == ["next-item", "genre-probe"] for c in cells)
    assert config.run.seeds == (0, 1, 2) and part.run.steps == 300
    assert config.options_for("task", "cooccurrence").power == 0.0  # the documented deviation


def naive_popularity(log: Path, k: int) -> tuple[float, float]:
    """HR@K and NDCG@K of popularity by a plain loop over users (leave-one-out by time)."""
    frame = pd.read_csv(log, dtype=str).drop_duplicates()
    frame["t"] = frame["timestamp"].astype(float)
    histories = {u: list(g.sort_values("t", kind="stable")["item_id"]) for u, g in frame.groupby("user_id")}
    pretrain = {u: h[:-2] if len(h) >= 3 else h[:-1] if len(h) == 2 else h for u, h in histories.items()}
    counts: dict[str, int] = {}
    for items in pretrain.values():
        for item in items:
            counts[item] = counts.get(item, 0) + 1
    hits, gains = [], []
    for history in (h for h in histories.values() if len(h) >= 2):
        target, seen = history[-1], set(history[:-1])
        if target not in counts:
            hits.append(0.0), gains.append(0.0)
            continue
        others = [c for item, c in counts.items() if item != target and item not in seen]
        above = sum(c > counts[target] for c in others)
        ranks = range(above, above + sum(c == counts[target] for c in others) + 1)  # equally likely
        hits.append(sum(r < k for r in ranks) / len(ranks))
        gains.append(sum(1 / math.log2(r + 2) for r in ranks if r < k) / len(ranks))
    return sum(hits) / len(hits), sum(gains) / len(gains)


def test_tiny_run_popularity_row_equals_a_naive_reference_and_bert4rec_runs(log_files, tmp_path, registry, caplog):
    log, labels = log_files
    config = _config(tmp_path, registry, f"""
[run]
seeds = [0]
device = "cpu"
steps = 3
batch_size = 8
[grid]
datasets = ["interactions-csv"]
tasks = ["cooccurrence", "mlm"]
models = ["item-embedding", "item-transformer"]
evaluators = ["next-item", "genre-probe"]
[datasets.interactions-csv]
path = "{log}"
labels_path = "{labels}"
max_len = 5
[models.item-transformer]
dim = 16
[evaluators.next-item]
k = 3
""")
    with caplog.at_level(logging.WARNING, logger="sslbench_recsys.datasets"):
        summary = run_grid(config, registry, tmp_path / "out", progress=False)
    assert summary.exit_code == 0, summary.failures
    assert "dropped 1 duplicate (user, item, timestamp) rows" in caplog.text
    assert "kept 1 users with one interaction out of test" in caplog.text
    rows = read_rows(tmp_path / "out")
    assert all(r["status"] == "ok" for r in rows)
    assert {(r["task"], r["model"]) for r in rows} == {
        (t, m) for t in ("random-init", "popularity", "cooccurrence") for m in ("item-embedding", "item-transformer")
    } | {("mlm", "item-transformer"), ("no-encoder", "item-knn")}
    popularity = {r["metric"]: r["value"] for r in rows if r["task"] == "popularity" and r["model"] == "item-embedding"}
    assert popularity == pytest.approx(dict(zip(("hr@3", "ndcg@3"), naive_popularity(log, 3))), abs=1e-6)
    next_item = next(r for r in rows if r["evaluator"] == "next-item")
    assert {k: next_item["protocol"][k] for k in ("candidates", "exclude_seen", "ties", "scoring", "k", "split")} == {
        "candidates": "full", "exclude_seen": True, "ties": "expected", "scoring": "dot", "k": 3, "split": "test"}
    assert next_item["settings"]["dataset"]["max_len"] == 5
    assert {r["metric"] for r in rows if r["evaluator"] == "genre-probe"} == {"micro_f1"}


def test_interactions_csv_layout(log_files):
    log, labels = log_files
    options = datasets.InteractionsCSVOptions(path=str(log), labels_path=str(labels), max_len=5)
    data = datasets.load_interactions_csv(DatasetContext(Path("/nonexistent"), progress=False), options)
    stats, info = data.info["stats"], data.info
    assert stats["users"] == 25 and stats["test_users"] == 24 == len(data.test)
    assert stats["duplicates_dropped"] == 1 and stats["single_interaction_users"] == 1
    assert info["vocab_size"] == info["num_items"] + 3 == info["mask_token_id"] + 1
    assert data.train is data.valid is data.split("valid") and len(data.train) == stats["valid_users"]
    for split in ("valid", "test"):
        targets = data.extras["next_item"][split]
        assert len(targets["targets"]) == len(data.split(split)) == len(targets["seen"])
    genre = data.extras["item_labels"]["genre"]
    assert genre["names"] == ["Action", "Drama", "New", "Old"] and genre["labels"].shape == (info["vocab_size"], 4)
    batch = data.pretrain.batch(torch.arange(len(data.pretrain)))
    assert batch["items"].shape[1] <= 5 and int(batch["mask"].sum()) == stats["pretrain_interactions"]
    assert int(data.extras["item_counts"].sum()) == stats["pretrain_interactions"]


def test_movielens_100k_through_its_dataset_builder(recbole_wheel, tmp_path):
    local = tmp_path / "ml"
    local.mkdir()
    with zipfile.ZipFile(recbole_wheel) as wheel:
        for name in datasets.MOVIELENS_100K_FILES:
            (local / name).write_bytes(wheel.read(f"recbole/dataset_example/ml-100k/{name}"))
    ctx = DatasetContext(data_root=tmp_path / "cache", progress=False)
    data = datasets.load_movielens_100k(ctx, datasets.MovieLens100kOptions(path=str(local)))
    stats = data.info["stats"]
    assert stats["users"] == stats["test_users"] == stats["valid_users"] == 943
    assert stats["pretrain_interactions"] == 100_000 - 2 * 943 and data.info["max_len"] == 20
    assert len(data.extras["item_labels"]["genre"]["names"]) == 19
    assert data.extras["item_counts"][data.info["mask_token_id"]] == 0


@pytest.mark.parametrize("text, message", [
    ("user,item_id,timestamp\nu1,a,1\n", "interactions-csv: {log}: missing column 'user_id'"),
    ("user_id,item_id,timestamp\nu1,a,1\nu1,b,2020-01-03\n", "line 3 has '2020-01-03'; allowed: numbers only"),
    ("user_id,item_id,timestamp\nu1,a,1\nu2,b,2\n", "no user has 2 or more interactions"),
    (None, "set [datasets.interactions-csv] path"),
])
def test_bad_logs_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, text, message):
    log = tmp_path / "log.csv"
    if text is not None:
        log.write_text(text)
    config = tmp_path / "bad.toml"
    path_line = f'path = "{log}"' if text is not None else ""
    config.write_text(f"""
[run]
device = "cpu"
[grid]
datasets = ["interactions-csv"]
tasks = ["cooccurrence"]
models = ["item-embedding"]
evaluators = ["next-item"]
[datasets.interactions-csv]
{path_line}
""")
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("sslbench: error:")]
    assert len(lines) == 1 and message.format(log=log) in lines[0], err
    assert not (tmp_path / "out").exists()


def test_genre_probe_without_item_labels_fails_its_rows_by_name(log_files, tmp_path, registry):
    log, _ = log_files
    config = _config(tmp_path, registry, f"""
[run]
seeds = [0]
device = "cpu"
steps = 2
batch_size = 8
[grid]
datasets = ["interactions-csv"]
tasks = ["cooccurrence"]
models = ["item-embedding"]
evaluators = ["next-item", "genre-probe"]
[datasets.interactions-csv]
path = "{log}"
""")
    summary = run_grid(config, registry, tmp_path / "out", progress=False)
    rows = read_rows(tmp_path / "out")
    failed = [r for r in rows if r["status"] == "failed"]
    assert summary.exit_code == 1 and {r["evaluator"] for r in failed} == {"genre-probe"}
    assert "no item label set 'genre' (it has: none)" in failed[0]["message"]
    assert all(r["status"] == "ok" for r in rows if r["evaluator"] == "next-item")


def test_options_refuse_impossible_values():
    with pytest.raises(ValueError, match="^max_len: must be an integer from 2 to 1000, got 1"):
        datasets.MovieLens100kOptions(max_len=1)
    with pytest.raises(UsageError, match="labels_path '/nonexistent/items.csv' is not a file"):
        datasets.load_interactions_csv(DatasetContext(Path("/nonexistent"), progress=False),
                                       datasets.InteractionsCSVOptions(path=__file__, labels_path="/nonexistent/items.csv"))


@pytest.mark.parametrize("scoring", ["dot", "cosine", "linear-probe"])
def test_next_item_evaluator_equals_the_building_blocks_on_the_raw_encoder(log_files, scoring):
    from sslbench_recsys.evaluators import run_next_item
    from sslbench_recsys.modality import RecsysModality, RecsysViewOptions
    from sslbench_recsys.models import ItemEmbeddingEncoder
    from sslbench_recsys.next_item import (
        NextItemOptions,
        dot_scorer,
        evaluate_next_item,
        fit_linear_probe,
    )
    from sslbench_recsys.splits import SequenceSplit

    from sslbench import EvalContext

    data = datasets.load_interactions_csv(DatasetContext(Path("/nonexistent"), False),
                                          datasets.InteractionsCSVOptions(path=str(log_files[0])))
    torch.manual_seed(0)
    encoder = ItemEmbeddingEncoder(data.info["vocab_size"], 8).eval().requires_grad_(False)
    options = NextItemOptions(scoring=scoring, k=3, probe_epochs=3)
    ctx = EvalContext(encoder=encoder, task=None, dataset=data, modality=RecsysModality(data.info, RecsysViewOptions()),
                      label_set=None, device=torch.device("cpu"), seed=3)
    got = run_next_item(ctx, options)
    rows = datasets.eval_rows(data, "test")
    if scoring == "linear-probe":
        pre = data.pretrain.data
        pretrain = SequenceSplit(items=pre["items"], mask=pre["mask"], users=torch.arange(len(pre["items"])))
        probe = fit_linear_probe(encoder, pretrain, data.info["vocab_size"], options, seed=3)
        scorer = lambda batch: probe(encoder(batch).pooled)
    else:
        scorer = dot_scorer(encoder, cosine=scoring == "cosine")
    expected = evaluate_next_item(scorer, rows, k=3, blocked=(data.info["mask_token_id"],))
    assert got == pytest.approx(expected, abs=1e-6) and set(got) == {"hr@3", "ndcg@3"}
