"""The supervised reference task: label-set choice, its loss, and its place in a grid."""
import json
import textwrap

import fake_plugin
import pytest
import torch
import torch.nn.functional as F
from sslbench_eval.supervised import SupervisedOptions, build_supervised, pick_label_set

from sslbench import LoadedDataset, TaskContext, TensorSplit
from sslbench.plan.config import load_config
from sslbench.results import read_rows
from sslbench.results.leaderboard import summarize
from sslbench.run.runner import run_grid


def dataset(n=40, dim=6):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, dim, generator=g), torch.arange(n) % 3
    labels = {"tags": torch.zeros(n, 4), "parity": y % 2, "cls": y}  # a multilabel set first: skipped
    return LoadedDataset(pretrain=TensorSplit({"x": x}), train=TensorSplit({"x": x}, labels=labels),
                         test=TensorSplit({"x": x}, labels={"parity": y % 2, "cls": y}), info={"dim": dim})


def ctx(data):
    return TaskContext(encoder=fake_plugin.MLP(data.info["dim"]), modality=None, dataset=data, cache_dir=None)


def test_the_first_class_label_set_is_the_default_and_a_wrong_name_is_explained():
    train = dataset().train
    assert pick_label_set(train, "") == "parity" and pick_label_set(train, "cls") == "cls"
    message = r"label_set: 'tags' is not a class label set of this dataset; allowed: parity, cls"
    with pytest.raises(ValueError, match=message):
        pick_label_set(train, "tags")


def test_loss_is_cross_entropy_of_the_head_on_the_labels_the_batch_carries():
    data = dataset()
    task = build_supervised(ctx(data), SupervisedOptions(label_set="cls"))
    assert task.head.out_features == 3
    index = torch.tensor([0, 3, 5, 7, 2, 9, 1, 4])
    batch = data.train.batch(index)
    assert torch.equal(batch["label:cls"], data.train.labels["cls"][index])  # labels ride in the batch
    out = task(batch)
    logits = task.head(task.encoder({"x": data.train.data["x"][index]}).pooled)
    expected = F.cross_entropy(logits, data.train.labels["cls"][index])
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


CONFIG = """
[run]
seeds = [0, 1]
device = "cpu"
steps = 30
batch_size = 32
lr = 0.01
[grid]
datasets = ["blobs"]
tasks = ["simclr", "supervised"]
models = ["mlp"]
evaluators = ["knn"]
[datasets.blobs]
dim = 2
classes = 6
[tasks.simclr]
hidden_dim = 32
projection_dim = 16
"""


@pytest.mark.slow
def test_supervised_runs_as_a_grid_cell_and_anchors_the_normalised_score(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    assert registry.get("task", "supervised").split == "train"
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent(CONFIG))
    summary = run_grid(load_config(path, registry), registry, tmp_path / "out", progress=False)
    assert summary.exit_code == 0, summary.failures
    rows = read_rows(tmp_path / "out")
    supervised = [r for r in rows if r["task"] == "supervised"]
    assert len(supervised) == 2 and all(r["budget"]["steps"] == 30 for r in supervised)
    curves = [json.loads(line) for line in (tmp_path / "out" / "curves.jsonl").read_text().splitlines()]
    for curve in (c for c in curves if c["task"] == "supervised"):
        assert curve["losses"][-1][1] < curve["losses"][0][1]  # it learns the labels
    table = summarize(rows).set_index("task")
    spread = table.loc["supervised", "mean"] - table.loc["random-init", "mean"]
    if table.loc["supervised", "vs_baseline"] == "better":  # the paired test: the only way to a normalised score
        assert table.loc["supervised", "normalized"] == pytest.approx(1.0)
        expected = (table.loc["simclr", "mean"] - table.loc["random-init", "mean"]) / spread
        assert table.loc["simclr", "normalized"] == pytest.approx(expected)
    else:  # too few seeds for the paired test, or kNN already perfect at random init
        assert table["normalized"].isna().all()
