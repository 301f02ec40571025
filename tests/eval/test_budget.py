"""Low-label evaluation: one balanced draw per (seed, budget) shared by every evaluator and row, the
knn and probe on the subset equal to scikit-learn fit on the same indices, and the supervised anchor
re-trained on the subset's labels only."""
import math

import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from sslbench.contexts import EncoderOutput, EvalContext
from sslbench.data_api import LoadedDataset, TensorSplit
from sslbench.options import OptionError, build_options, non_default, options_as_dict
from sslbench_eval.budget import budget_context, label_subset, train_subset
from sslbench_eval.finetune import FinetuneOptions, run_finetune
from sslbench_eval.knn import KNNOptions, run_knn
from sslbench_eval.linear_probe import LinearProbeOptions, run_linear_probe
from sslbench_eval.supervised import SupervisedTask


class Linear(nn.Module):
    """A tiny encoder: pooled = a linear map of x (B, F) → (B, D)."""

    def __init__(self, features: int = 8, dim: int = 6) -> None:
        super().__init__()
        self.embed_dim = dim
        self.proj = nn.Linear(features, dim)

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=self.proj(batch["x"]))


def blobs(n: int, seed: int, classes: int = 4, features: int = 8) -> TensorSplit:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(99))
    y = torch.arange(n) % classes
    return TensorSplit({"x": centres[y] + torch.randn(n, features, generator=g)}, labels={"y": y})


def dataset(train: TensorSplit | None = None) -> LoadedDataset:
    return LoadedDataset(pretrain=blobs(16, 0), train=train or blobs(400, 1), test=blobs(300, 2), valid=blobs(100, 3))


def context(encoder: nn.Module, seed: int = 0, data: LoadedDataset | None = None, task: nn.Module | None = None):
    torch.manual_seed(0)
    return EvalContext(encoder=encoder.requires_grad_(False).eval(), task=task, dataset=data or dataset(),
                       modality=None, label_set="y", device=torch.device("cpu"), seed=seed)


def test_labels_per_class_is_a_balanced_draw_fixed_by_seed_and_budget():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    index = label_subset(labels, seed=3, budget={"labels_per_class": 7})
    assert torch.bincount(labels[index]).tolist() == [7, 7, 7] and torch.equal(index, index.sort().values)
    assert torch.equal(index, label_subset(labels, seed=3, budget={"labels_per_class": 7}))
    assert not torch.equal(index, label_subset(labels, seed=4, budget={"labels_per_class": 7}))


def test_label_fraction_keeps_each_class_share():
    labels = torch.tensor([0] * 500 + [1] * 300 + [2] * 200)
    index = label_subset(labels, seed=0, budget={"label_fraction": 0.1})
    assert torch.bincount(labels[index]).tolist() == [50, 30, 20]
    assert label_subset(labels, seed=0, budget={}) is None  # no budget: all labels


def test_every_evaluator_and_encoder_of_a_seed_reads_the_same_subset_and_seeds_differ():
    budget = {"labels_per_class": 5}
    draws = [train_subset(context(Linear(8, d), seed=1), o)
             for d, o in [(4, KNNOptions(**budget)), (6, LinearProbeOptions(**budget)), (9, FinetuneOptions(**budget))]]
    assert all(torch.equal(draws[0], d) for d in draws[1:])
    assert not torch.equal(draws[0], train_subset(context(Linear(), seed=2), KNNOptions(**budget)))
    assert not torch.equal(draws[0], train_subset(context(Linear(), seed=1), KNNOptions(labels_per_class=6))[:20])


def test_a_class_smaller_than_labels_per_class_is_one_clear_error():
    with pytest.raises(ValueError, match=r"labels_per_class: 120 is more than class 0 has \(100\); allowed: 1 to 100"):
        run_knn(context(Linear()), KNNOptions(labels_per_class=120))
    with pytest.raises(ValueError, match="label_fraction: 0.005 keeps 2 of the 400 train labels, fewer than the 4"):
        run_knn(context(Linear()), KNNOptions(label_fraction=0.005))


@pytest.mark.parametrize("values, problem", [
    ({"labels_per_class": -1}, "labels_per_class: must be an integer >= 1"),
    ({"label_fraction": 0.0}, r"label_fraction: must be in \(0, 1\]"),
    ({"labels_per_class": 5, "label_fraction": 0.5}, "give one label budget, not both"),
])
def test_options_refuse_a_bad_budget(values, problem):
    for options in (KNNOptions, LinearProbeOptions, FinetuneOptions):
        with pytest.raises(OptionError, match=problem):
            build_options(options, values)


def test_a_budget_is_part_of_the_protocol_identity_and_no_budget_is_not():
    assert non_default(options_as_dict(KNNOptions()), options_as_dict(KNNOptions())) == {}
    assert non_default(options_as_dict(KNNOptions(labels_per_class=10)), options_as_dict(KNNOptions())) == {
        "labels_per_class": 10}


def test_knn_on_the_subset_equals_sklearn_on_the_same_indices():
    ctx = context(Linear())
    options = KNNOptions(k=5, k_grid=(), weighting="uniform", labels_per_class=10)
    ours = run_knn(ctx, options)["top1"]
    index = train_subset(ctx, options)
    x, y = ctx.embeddings("train")[index].numpy(), ctx.labels("train")[index].numpy()
    sk = KNeighborsClassifier(n_neighbors=5, metric="cosine", algorithm="brute").fit(x, y)
    expected = (sk.predict(ctx.embeddings("test").numpy()) == ctx.labels("test").numpy()).mean()
    assert math.isclose(ours, expected, abs_tol=1 / 300), (ours, expected)  # a vote tie may break apart


def test_the_probe_on_the_subset_equals_sklearn_on_the_same_indices():
    ctx = context(Linear())
    options = LinearProbeOptions(l2=1e-2, l2_grid=(), tolerance=1e-8, max_iter=1000, labels_per_class=10)
    ours = run_linear_probe(ctx, options)["top1"]
    index = train_subset(ctx, options)
    x = ctx.embeddings("train")[index].double().numpy()
    mean, std = x.mean(0), x.std(0, ddof=1)  # the probe standardises with the subset's statistics
    sk = LogisticRegression(C=1 / (1e-2 * len(x)), tol=1e-10, max_iter=5000).fit((x - mean) / std,
                                                                               ctx.labels("train")[index].numpy())
    test = (ctx.embeddings("test").double().numpy() - mean) / std
    expected = (sk.predict(test) == ctx.labels("test").numpy()).mean()
    assert math.isclose(ours, expected, abs_tol=1e-6), (ours, expected)  # float32 accuracy


def test_finetune_reads_only_the_subset_of_train():
    """Noise in every train row outside the subset changes nothing: the evaluator never reads those rows."""
    options = FinetuneOptions(steps=20, lr_grid=(1e-2, 1e-3), labels_per_class=8)
    encoder = Linear()
    clean = context(encoder)
    index = train_subset(clean, options)
    x = clean.dataset.train.data["x"].clone()
    outside = torch.ones(len(x), dtype=torch.bool)
    outside[index] = False
    x[outside] = torch.randn(int(outside.sum()), x.shape[1]) * 100
    noisy = context(encoder, data=dataset(TensorSplit({"x": x}, labels=dict(clean.dataset.train.labels))))
    assert run_finetune(clean, options) == run_finetune(noisy, options)
    assert noisy.choices == clean.choices


def supervised_cell(seed: int = 0) -> tuple[EvalContext, SupervisedTask, dict]:
    """A supervised cell whose encoder was 'trained' on every label (here: its weights moved)."""
    torch.manual_seed(seed)
    encoder = Linear()
    task = SupervisedTask(encoder, "y", 4)
    initial = {k: v.clone() for k, v in encoder.state_dict().items()}
    with torch.no_grad():
        encoder.proj.weight.add_(1.0)
    return context(encoder, seed=seed, task=task), task, initial


def test_the_supervised_anchor_under_a_budget_is_trained_from_its_init_on_the_subset_only():
    ctx, _, initial = supervised_cell()
    same, subset = budget_context(ctx, KNNOptions())
    assert same is ctx and subset is None  # no budget: the anchor as the task trained it
    anchor, subset = budget_context(ctx, KNNOptions(labels_per_class=8))
    assert anchor.encoder is not ctx.encoder and anchor.label_set == "y" and len(subset) == 32
    # from the initial weights, not the trained ones: one fine-tuning run moves them little
    moved_from_init = (anchor.encoder.proj.weight - initial["proj.weight"]).abs().max()
    assert moved_from_init < (ctx.encoder.proj.weight - initial["proj.weight"]).abs().max()
    assert ctx.costs["anchor_steps"] == FinetuneOptions().steps * len(FinetuneOptions().lr_grid)
    again, _ = budget_context(ctx, LinearProbeOptions(labels_per_class=8))
    assert again.encoder is anchor.encoder  # trained once per cell and budget, read by every evaluator


def test_the_supervised_anchor_reads_only_the_subset_labels():
    """Noise in every train row outside the subset gives the same anchor encoder and the same row."""
    ctx, _, _ = supervised_cell()
    index = train_subset(ctx, KNNOptions(labels_per_class=8))
    x = ctx.dataset.train.data["x"].clone()
    outside = torch.ones(len(x), dtype=torch.bool)
    outside[index] = False
    x[outside] = torch.randn(int(outside.sum()), x.shape[1]) * 100
    other, _, _ = supervised_cell()
    other.dataset = dataset(TensorSplit({"x": x}, labels=dict(ctx.dataset.train.labels)))
    a, _ = budget_context(ctx, KNNOptions(labels_per_class=8))
    b, _ = budget_context(other, KNNOptions(labels_per_class=8))
    assert torch.equal(a.encoder.proj.weight, b.encoder.proj.weight)
    assert run_knn(ctx, KNNOptions(labels_per_class=8)) == run_knn(other, KNNOptions(labels_per_class=8))


def test_a_grid_with_a_label_budget_runs_and_its_supervised_rows_pay_for_the_anchor(tmp_path, make_registry):
    """End to end: the budget is in the rows' protocol; the supervised rows' anchor is re-trained on the subset."""
    import textwrap

    import fake_plugin

    from sslbench.plan.config import load_config
    from sslbench.results import read_rows
    from sslbench.run.runner import run_grid

    registry = make_registry(fake_plugin)
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent("""
        [run]
        seeds = [0, 1]
        device = "cpu"
        steps = 5
        batch_size = 16
        [grid]
        datasets = ["blobs"]
        tasks = ["supervised"]
        models = ["mlp"]
        evaluators = ["knn", "linear-probe"]
        [evaluators.knn]
        labels_per_class = 3
        [evaluators.linear-probe]
        label_fraction = 0.5
    """))
    assert run_grid(load_config(path, registry), registry, tmp_path / "out").exit_code == 0
    rows = read_rows(tmp_path / "out")
    assert {(r["task"], r["evaluator"]) for r in rows if r["status"] == "ok"} == {
        (t, e) for t in ("random-init", "supervised") for e in ("knn", "linear-probe")}
    knn = [r for r in rows if r["evaluator"] == "knn"]
    assert all(r["protocol"]["labels_per_class"] == 3 for r in knn)
    assert all(r["cost"].get("eval_anchor_steps", 0) > 0 for r in rows if r["task"] == "supervised")
    assert not any("eval_anchor_steps" in r["cost"] for r in rows if r["task"] == "random-init")
