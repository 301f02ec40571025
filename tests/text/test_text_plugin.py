"""The text plugin through sslbench itself: listing, grid planning, and a tiny end-to-end run."""

import json

import pytest
import sslbench_eval.plugin
import sslbench_image.plugin
import sslbench_text.plugin
import torch

from sslbench import TaskContext
from sslbench.cli import main
from sslbench.contexts import ModelContext
from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.results import read_rows
from sslbench.run.runner import run_grid


@pytest.fixture
def text_registry(make_registry):
    return make_registry(sslbench_text.plugin)


def test_list_json_shows_the_text_components_and_their_declarations(monkeypatch, capsys):
    monkeypatch.setenv("SSLBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert main(["-p", "sslbench_text.plugin", "-p", "sslbench_eval.plugin", "list", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    listed = {kind: {item["name"]: item for item in items} for kind, items in described.items()}
    assert listed["modalities"]["text"]["provides"] == ["tokens", "views"]
    assert set(listed["datasets"]) >= {"20newsgroups", "reuters-r8", "textfiles"}
    assert listed["datasets"]["20newsgroups"]["label_sets"] == {"topic": "class"}
    assert listed["datasets"]["20newsgroups"]["provides"] == ["sentence-pairs"]
    for name in ("bert-tiny", "bert-mini", "bert-small"):
        assert listed["models"][name]["provides"] == ["sequence", "token-embeddings"]
    assert listed["tasks"]["mlm"]["needs"] == ["sequence", "token-embeddings", "tokens"]
    assert listed["tasks"]["mlm"]["provides"] == ["mlm-head"]
    assert listed["tasks"]["nsp"]["needs"] == ["sentence-pairs", "sequence"]
    assert listed["tasks"]["mlm-nsp"]["needs"] == ["sentence-pairs", "sequence", "token-embeddings", "tokens"]
    assert listed["evaluators"]["mlm-accuracy"]["needs"] == ["mlm-head", "tokens"]
    assert listed["datasets"]["20newsgroups"]["options"]["vocab_size"] == "int = 8000"


def config_file(tmp_path, corpus, steps=3, tasks=("mlm", "nsp", "mlm-nsp", "simclr")):
    path = tmp_path / "text.toml"
    path.write_text(f"""
[run]
seeds = [0]
device = "cpu"
steps = {steps}
batch_size = 8
[grid]
datasets = ["textfiles"]
tasks = {json.dumps(list(tasks))}
models = ["bert-tiny"]
evaluators = ["knn", "linear-probe", "mlm-accuracy"]
[datasets.textfiles]
path = "{corpus}"
text_column = "body"
label_column = "topic"
vocab_size = 60
min_frequency = 1
max_length = 24
""")
    return path


def test_grid_plans_text_cells_from_declarations(tmp_path, toy_corpus, text_registry):
    config = load_config(config_file(tmp_path, toy_corpus), text_registry)
    plan = plan_grid(config, text_registry)
    assert [c.task for c in plan.cells] == ["random-init", "no-encoder", "mlm", "nsp", "mlm-nsp", "simclr"]  # simclr: views
    evaluators = {c.task: [e.evaluator for e in c.evaluations] for c in plan.cells}
    assert evaluators["mlm"] == evaluators["mlm-nsp"] == ["knn", "linear-probe", "mlm-accuracy"]
    assert evaluators["nsp"] == evaluators["random-init"] == evaluators["no-encoder"] == ["knn", "linear-probe"]
    assert {s.task for s in plan.skipped if s.evaluator == "mlm-accuracy"} == {"nsp", "simclr", "random-init"}
    assert [e.evaluator for e in plan.cells[0].references] == ["mlm-accuracy"]  # unigram rows beside random-init


@pytest.mark.slow
def test_tiny_run_writes_every_row_with_unigram_references(tmp_path, toy_corpus, text_registry, monkeypatch):
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "data"))
    config = load_config(config_file(tmp_path, toy_corpus), text_registry)
    summary = run_grid(config, text_registry, tmp_path / "out", progress=False)
    rows = read_rows(tmp_path / "out" / "rows.jsonl")
    assert summary.failures == [] and {r["status"] for r in rows} == {"ok"}
    found = {(r["task"], r["evaluator"], r["metric"]) for r in rows}
    for task in ("random-init", "no-encoder", "mlm", "nsp", "mlm-nsp", "simclr"):
        assert (task, "linear-probe", "top1") in found
    for task in ("mlm", "mlm-nsp", "unigram", "copy-unigram"):
        assert {(task, "mlm-accuracy", "top1"), (task, "mlm-accuracy", "top1_at_mask")} <= found
    assert ("nsp", "mlm-accuracy", "top1") not in found
    assert rows[0]["settings"]["dataset"]["max_length"] == 24


def test_simclr_runs_on_text_views(tmp_path, load):
    """A generic task that needs only views trains on text: views keep BERT's layout."""
    from sslbench_text.modality import TextModality, TextViewOptions
    from sslbench_text.models import BertOptions, bert_builder

    ds = load()
    torch.manual_seed(0)
    encoder = bert_builder("bert-tiny")(ModelContext("textfiles", "text", ds.info), BertOptions())
    text = TextModality(ds.info, TextViewOptions(mode="drop"))
    spec = next(s for s in sslbench_image.plugin.sslbench_register_tasks() if s.name == "simclr")
    task = spec.build(TaskContext(encoder, text, ds, tmp_path), spec.options())
    out = task(ds.pretrain.batch(torch.arange(8)))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and encoder.token_embeddings().weight.grad is not None


def test_every_registered_text_component_builds(tmp_path, load):
    """Conformance: each model/task the plugin registers builds on a text dataset and returns its contract."""
    from sslbench_text.modality import build_text_modality

    ds = load()
    text = build_text_modality(ds.info, sslbench_text.plugin.sslbench_register_modalities()[0].options())
    pairs = ds.extra_splits["pretrain-pairs"]
    for model in sslbench_text.plugin.sslbench_register_models():
        torch.manual_seed(0)
        encoder = model.build(ModelContext("textfiles", "text", ds.info), model.options())
        out = encoder(ds.train.batch(torch.arange(4)))
        assert out.pooled.shape == (4, encoder.embed_dim) and out.sequence.shape[:2] == out.mask.shape
        for spec in sslbench_text.plugin.sslbench_register_tasks():
            task = spec.build(TaskContext(encoder, text, ds, tmp_path), spec.options())
            split = pairs if spec.split == "pretrain-pairs" else ds.pretrain
            result = task(split.batch(torch.arange(4)))
            assert result["loss"].ndim == 0 and torch.isfinite(result["loss"]), (model.name, spec.name)
    assert {s.name for s in sslbench_eval.plugin.sslbench_register_evaluators()} >= {"knn", "linear-probe"}
