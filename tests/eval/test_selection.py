"""Hyper-parameter selection on the valid split: linear-probe's L2, knn's k, genre-probe's L2.

The selection must read train and valid only (test labels are read once, last), and
must pick the grid value a peer computation finds best on valid.
"""
import dataclasses
import textwrap

import fake_plugin
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier
from sslbench_eval.knn import KNNOptions, run_knn, select_k
from sslbench_eval.linear_probe import (
    LinearProbeOptions,
    fit_logistic_regression,
    run_linear_probe,
    select_l2,
    standardize,
)
from sslbench_recsys.genre_probe import (
    GenreProbeOptions,
    fit_multilabel,
    micro_f1,
    multilabel_probe,
)
from torch import nn

from sslbench import EncoderOutput, EvalContext, LoadedDataset, Modality, TensorSplit
from sslbench.plan.config import load_config
from sslbench.results import read_rows
from sslbench.run.runner import run_grid

L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


class Identity(nn.Module):
    """An 'encoder' whose embedding is the sample's feature vector."""

    embed_dim = 0

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=batch["x"])


def noisy_dataset(seed=0, n_train=40, n_valid=200, n_test=200, dim=60, classes=3, valid=True) -> LoadedDataset:
    """Few train samples in many dimensions, one informative: small L2 overfits, the valid split notices."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_valid + n_test
    y = torch.arange(n) % classes
    x = torch.randn(n, dim, generator=g)
    x[:, :classes] += 1.5 * nn.functional.one_hot(y, classes)
    parts = torch.split(torch.arange(n), [n_train, n_valid, n_test])
    split = [TensorSplit({"x": x[p]}, labels={"y": y[p]}) for p in parts]
    return LoadedDataset(pretrain=TensorSplit({"x": x[parts[0]]}), train=split[0], test=split[2],
                         valid=split[1] if valid else None)


def context(data: LoadedDataset) -> EvalContext:
    return EvalContext(encoder=Identity(), task=None, dataset=data, modality=Modality(), label_set="y",
                       device=torch.device("cpu"), seed=0)


def poisoned(data: LoadedDataset, seed: int) -> LoadedDataset:
    """The same dataset with test labels replaced by random ones."""
    g = torch.Generator().manual_seed(seed)
    y = data.test.labels["y"]
    test = TensorSplit(dict(data.test.data), labels={"y": torch.randint(0, int(y.max()) + 1, y.shape, generator=g)})
    return dataclasses.replace(data, test=test)


class SpyContext(EvalContext):
    """Records which splits' labels are read, in order."""

    def labels(self, split):
        self.reads.append(split)
        return super().labels(split)


def spy(data: LoadedDataset) -> SpyContext:
    ctx = SpyContext(encoder=Identity(), task=None, dataset=data, modality=Modality(), label_set="y",
                     device=torch.device("cpu"), seed=0)
    ctx.reads = []
    return ctx


# --- no test label before the final scoring ---------------------------------------------


@pytest.mark.parametrize("run, options, key", [
    (run_linear_probe, LinearProbeOptions(), "l2"), (run_knn, KNNOptions(), "k"),
])
def test_poisoned_test_labels_change_the_score_but_not_the_selection(run, options, key):
    data = noisy_dataset()
    clean = context(data)
    clean_top1 = run(clean, options)["top1"]
    for seed in range(2):
        dirty = context(poisoned(data, seed))
        dirty_top1 = run(dirty, options)["top1"]
        assert dirty.choices == clean.choices and set(clean.choices) == {key}
        assert dirty_top1 != clean_top1  # the test labels are used, for the score alone


@pytest.mark.parametrize("run, options", [(run_linear_probe, LinearProbeOptions()), (run_knn, KNNOptions())])
def test_test_labels_are_read_once_and_last(run, options):
    ctx = spy(noisy_dataset())
    run(ctx, options)
    assert ctx.reads.count("test") == 1 and ctx.reads[-1] == "test" and "valid" in ctx.reads


@pytest.mark.parametrize("run, options", [(run_linear_probe, LinearProbeOptions()), (run_knn, KNNOptions())])
def test_without_a_valid_split_the_fixed_value_is_used_and_nothing_is_recorded(run, options):
    data = noisy_dataset(valid=False)
    ctx = context(data)
    assert not ctx.has_split("valid") and ctx.has_split("train")
    run(ctx, options)
    assert ctx.choices == {}
    with pytest.raises(KeyError, match="no split 'valid'; splits: pretrain, train, test"):
        data.split("valid")


# --- the selection picks the best valid value (peer: scikit-learn) ----------------------


def predictions_by_l2(train_x, train_y, pool, grid):
    """Each L2's cold-started float64 probe's predictions on ``pool``. Shape: pool (M, D) → l2 → (M,)."""
    out = {}
    for l2 in grid:
        w, b = fit_logistic_regression(train_x, train_y, 3, l2, max_iter=2000, tolerance=1e-10)
        out[l2] = (pool.double() @ w + b).argmax(1)
    return out


@pytest.mark.parametrize("target", [1e-3, 1e-1])
def test_linear_probe_selects_the_l2_whose_model_labels_the_valid_split(target):
    """Valid labels = what the ``target`` L2's probe predicts: only selection on valid finds ``target``.

    Two interior targets, so no fixed rule (smallest, largest, default, best on train) passes both.
    """
    g = torch.Generator().manual_seed(0)
    train_x, train_y = torch.randn(40, 10, generator=g), torch.randint(0, 3, (40,), generator=g)
    pool = 3 * torch.randn(2000, 10, generator=g)
    train_x, pool = standardize(train_x, pool)
    reference = predictions_by_l2(train_x, train_y, pool, L2_GRID)
    valid_y = reference[target]
    agreement = {l2: (p == valid_y).double().mean().item() for l2, p in reference.items()}
    assert max(a for l2, a in agreement.items() if l2 != target) < 0.97  # the models differ: the case is not trivial
    options = LinearProbeOptions(l2_grid=L2_GRID, precision="float64", tolerance=1e-10, max_iter=2000)
    chosen, _, scores = select_l2((train_x, train_y), (pool, valid_y), 3, options, torch.float64)
    assert chosen == target and scores[target] > 0.99
    for l2 in L2_GRID:  # warm starts reach the cold fits' models
        assert scores[l2] == pytest.approx(agreement[l2], abs=0.01)


def test_linear_probe_records_the_selected_l2_and_scores_its_model_on_test():
    data = noisy_dataset(seed=1)
    ctx = context(data)
    top1 = run_linear_probe(ctx, LinearProbeOptions())
    l2 = ctx.choices["l2"]
    fixed = run_linear_probe(context(dataclasses.replace(data, valid=None)), LinearProbeOptions(l2=l2))
    assert l2 in L2_GRID and top1["top1"] == pytest.approx(fixed["top1"], abs=2 / len(data.test))


def knn_case():
    """Two classes on arcs of a circle (2:1), 30% of train labels flipped: small k follows the noise,
    k near N votes the majority class, a middle k is best."""
    g = torch.Generator().manual_seed(0)
    angles = torch.cat([0.8 * torch.randn(140, generator=g), torch.pi + 0.8 * torch.randn(70, generator=g)])
    y = torch.cat([torch.zeros(140), torch.ones(70)]).long()
    x = torch.stack([angles.cos(), angles.sin()], 1)
    order = torch.randperm(210, generator=g)
    train, valid = order[:120], order[120:]
    train_y = y[train].clone()
    flip = torch.rand(120, generator=g) < 0.3
    train_y[flip] = 1 - train_y[flip]
    return x[train], train_y, x[valid], y[valid]


def test_knn_selects_the_k_with_the_best_valid_accuracy_by_sklearn():
    train_x, train_y, valid_x, valid_y = knn_case()
    grid = (1, 3, 15, 60, 110)
    options = KNNOptions(k_grid=grid, weighting="uniform")
    chosen, scores = select_k(train_x, train_y, valid_x, valid_y, 2, options)
    reference = {}
    for k in grid:
        sk = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
        reference[k] = (sk.fit(train_x.numpy(), train_y.numpy()).predict(valid_x.numpy()) == valid_y.numpy()).mean()
        assert scores[k] == pytest.approx(reference[k], abs=2 / len(valid_y))  # vote ties may break differently
    best = max(grid, key=lambda k: (reference[k], -k))
    assert best not in (min(grid), max(grid)) and reference[best] > sorted(reference.values())[-2] + 0.05
    assert chosen == best


# --- genre-probe ------------------------------------------------------------------------


def test_genre_probe_selects_l2_on_valid_items_independent_of_test_labels():
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(200, 4, generator=g) < 0.3).float()
    labelled = torch.ones(200, dtype=torch.bool)
    x = torch.cat([labels * 2 - 1, torch.randn(200, 40, generator=g)], 1) + 1.5 * torch.randn(200, 44, generator=g)
    options = GenreProbeOptions(l2_grid=(1e-4, 1e-2, 1.0), max_iter=200)
    result = multilabel_probe(x, labels, labelled, options)
    # the same fixed item split as the probe's: test, then valid, then train
    ids = torch.randperm(200, generator=torch.Generator().manual_seed(options.seed))
    test, valid, train = ids[:60], ids[60:90], ids[90:]
    assert (result["test_items"], result["valid_items"], result["train_items"]) == (60, 30, 110)
    z = (x.double() - x[train].double().mean(0)) / x[train].double().std(0)
    reference = {}
    for l2 in options.l2_grid:  # cold fits, no warm start
        w, b = fit_multilabel(z[train], labels[train], l2, 200)
        reference[l2] = micro_f1(torch.sigmoid(z[valid] @ w + b) >= 0.5, labels[valid] > 0)
    assert result["l2"] == max(options.l2_grid, key=lambda l2: (reference[l2], l2))
    scrambled = labels.clone()
    scrambled[test] = (torch.rand(60, 4, generator=g) < 0.3).float()
    assert multilabel_probe(x, scrambled, labelled, options)["l2"] == result["l2"]


# --- through the runner: the row's "selected" -------------------------------------------


CONFIG = """
[run]
seeds = [0]
device = "cpu"
steps = 2
batch_size = 32
[grid]
datasets = ["blobs"]
tasks = ["simclr"]
models = ["mlp"]
evaluators = ["knn", "linear-probe"]
[evaluators.knn]
k_grid = [1, 5, 400]
"""


def blobs_with_valid(ctx, options):
    """The fake plugin's blobs, the first 100 train rows kept for train and the other 50 as valid."""
    data = fake_plugin_load(ctx, options)
    keep, held = torch.arange(100), torch.arange(100, 150)
    train = TensorSplit({k: v[keep] for k, v in data.train.data.items()}, {"cluster": data.train.labels["cluster"][keep]})
    valid = TensorSplit({k: v[held] for k, v in data.train.data.items()}, {"cluster": data.train.labels["cluster"][held]})
    return dataclasses.replace(data, train=train, valid=valid)


fake_plugin_load = fake_plugin.load_blobs


def test_rows_carry_each_evaluators_own_selection(tmp_path, make_registry, monkeypatch):
    monkeypatch.setattr(fake_plugin, "load_blobs", blobs_with_valid)
    registry = make_registry(fake_plugin)
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent(CONFIG))
    assert run_grid(load_config(path, registry), registry, tmp_path / "out").exit_code == 0
    rows = read_rows(tmp_path / "out")
    assert {r["evaluator"] for r in rows} == {"knn", "linear-probe"} and len(rows) == 4
    for row in rows:
        if row["evaluator"] == "knn":
            assert set(row["selected"]) == {"k"} and row["selected"]["k"] in (1, 5, 400)
            assert row["protocol"]["k_grid"] == [1, 5, 400]
        else:
            assert set(row["selected"]) == {"l2"} and row["selected"]["l2"] in L2_GRID
