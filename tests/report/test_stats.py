"""Intervals that cover, paired tests against scipy, monotone ranks, the guarded normalised score."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from sslbench.results.leaderboard import build, rank_groups, summarize
from sslbench.results.stats import MIN_SEEDS, paired_p_value, paired_verdict, t_interval


def coverage(n: int, trials: int = 20_000, seed: int = 0) -> float:
    """How often the interval of n normal draws holds the true mean (0)."""
    draws = np.random.default_rng(seed).normal(0.0, 1.0, size=(trials, n))
    hits = 0
    for x in draws:
        low, high = t_interval(x)
        hits += low <= 0.0 <= high
    return hits / trials


@pytest.mark.parametrize("n", [3, 5])
def test_the_interval_covers_95_percent_at_the_seeds_the_suite_uses(n):
    assert coverage(n) == pytest.approx(0.95, abs=0.01)


def test_the_old_bootstrap_over_two_seeds_covered_only_half():
    """Why no interval is shown below 3 seeds: [min, max] of two draws holds the mean ~50% of the time."""
    draws = np.random.default_rng(1).normal(size=(20_000, 2))
    assert np.mean((draws.min(axis=1) <= 0) & (draws.max(axis=1) >= 0)) == pytest.approx(0.5, abs=0.02)
    assert all(math.isnan(v) for v in t_interval([0.1, 0.2]))
    assert MIN_SEEDS == 3


def test_the_interval_is_scipys_t_interval():
    x = [0.71, 0.74, 0.69, 0.80]
    ref = scipy_stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=scipy_stats.sem(x))
    assert t_interval(x) == pytest.approx(ref)


@pytest.mark.parametrize("a, b", [
    ([0.2090, 0.2120, 0.2060], [0.2085, 0.2100, 0.2070]),  # the nsp / mlm-nsp case: means 0.2090 vs 0.2085
    ([0.61, 0.64, 0.60, 0.66, 0.63], [0.58, 0.62, 0.61, 0.60, 0.59]),
    ([0.1, 0.5, 0.3], [0.2, 0.1, 0.6]),
])
def test_the_paired_test_matches_scipy(a, b):
    mean, p, n = paired_p_value(dict(enumerate(a)), dict(enumerate(b)))
    ref = scipy_stats.ttest_rel(a, b)
    assert n == len(a) and mean == pytest.approx(np.mean(np.subtract(a, b)))
    assert p == pytest.approx(ref.pvalue)


def test_the_paired_test_uses_only_shared_seeds_and_needs_three():
    a, b = {0: 0.9, 1: 0.91, 2: 0.92, 7: 0.1}, {0: 0.5, 1: 0.52, 2: 0.5, 9: 0.99}
    assert paired_p_value(a, b)[2] == 3 and paired_verdict(a, b) == "better"
    assert paired_verdict(b, a) == "worse" and paired_verdict(a, b, higher_is_better=False) == "worse"
    assert paired_verdict({0: 0.9, 1: 0.95}, {0: 0.5, 1: 0.5}) == ""  # two shared seeds: no claim
    assert paired_verdict({0: 0.5, 1: 0.5, 2: 0.5}, {0: 0.5, 1: 0.5, 2: 0.5}) == "tie"


def row(task, seed, value, model="m", evaluator="knn", steps=10, dataset="d", modality="image"):
    return {"suite": "s", "dataset": dataset, "task": task, "model": model, "evaluator": evaluator,
            "label_set": "y", "metric": "top1", "seed": seed, "value": value, "status": "ok", "message": "",
            "protocol": {}, "settings": {}, "budget": {"steps": steps}, "cost": {"steps": steps},
            "modality": modality}


def rows_of(task, values, **kw):
    return [row(task, seed, v, **kw) for seed, v in enumerate(values)]


def test_ranks_never_put_a_lower_mean_above_a_higher_one():
    """The reported case: nsp 0.2090 was ranked 3 below mlm-nsp 0.2085 ranked "=1"."""
    rows = [*rows_of("mlm", [0.215, 0.211, 0.213]), *rows_of("nsp", [0.2090, 0.2120, 0.2060]),
            *rows_of("mlm-nsp", [0.2085, 0.2100, 0.2070]), *rows_of("simclr", [0.30, 0.31, 0.32])]
    table = summarize(rows).set_index("task")
    order = table.loc[["simclr", "mlm", "nsp", "mlm-nsp"]]
    assert list(order["mean"]) == sorted(order["mean"], reverse=True)
    assert list(order["rank"]) == sorted(order["rank"])  # monotone in the mean
    assert table.loc["simclr", "rank"] == 1 and not table.loc["simclr", "tied"]
    # mlm, nsp and mlm-nsp are not separated from mlm by the paired test: one group, rank 2
    assert set(table.loc[["mlm", "nsp", "mlm-nsp"], "rank"]) == {2}


def test_rank_groups_split_where_the_paired_test_separates():
    methods = pd.DataFrame({"mean": [0.9, 0.8, 0.5], "higher_is_better": [True] * 3,
                            "_seeds": [{0: 0.9, 1: 0.91, 2: 0.89}, {0: 0.8, 1: 0.81, 2: 0.79},
                                       {0: 0.5, 1: 0.52, 2: 0.48}]}, index=["a", "b", "c"])
    assert rank_groups(methods) == {"a": (1, False), "b": (2, False), "c": (3, False)}


def test_beats_random_init_is_the_paired_test():
    rows = [*rows_of("random-init", [0.50, 0.60, 0.70], steps=0), *rows_of("simclr", [0.52, 0.62, 0.72]),
            *rows_of("byol", [0.60, 0.50, 0.72])]
    table = summarize(rows).set_index("task")
    assert table.loc["simclr", "vs_baseline"] == "better"  # +0.02 on every seed: separated although
    assert table.loc["simclr", "ci_low"] < table.loc["random-init", "ci_high"]  # the intervals overlap
    assert table.loc["byol", "vs_baseline"] == "tie"


def test_the_normalised_score_needs_supervised_reliably_above_random_init():
    """A plugin's grid had supervised < random-init, so a positive gain showed as negative."""
    bad = [*rows_of("random-init", [0.60, 0.62, 0.61], steps=0), *rows_of("supervised", [0.50, 0.52, 0.51]),
           *rows_of("simclr", [0.70, 0.71, 0.72])]
    board = build(bad)
    simclr = board.table.set_index("task").loc["simclr"]
    assert pd.isna(simclr["normalized"]) and board.summary.empty
    assert any("no normalised score" in note and "supervised" in note for note in board.notes)
    good = [*rows_of("random-init", [0.50, 0.52, 0.51], steps=0), *rows_of("supervised", [0.90, 0.92, 0.91]),
            *rows_of("simclr", [0.70, 0.72, 0.71])]
    assert build(good).table.set_index("task").loc["simclr", "normalized"] == pytest.approx(0.5)


def test_the_summary_is_per_task_and_dataset_with_its_counts():
    rows = []
    for dataset, modality, shift in (("fmnist", "image", 0.0), ("news", "text", 0.1)):
        rows += [*rows_of("random-init", [0.1, 0.11, 0.12], steps=0, dataset=dataset, modality=modality),
                 *rows_of("supervised", [0.9, 0.91, 0.92], dataset=dataset, modality=modality),
                 *rows_of("simclr", [0.5 + shift, 0.51 + shift, 0.52 + shift], dataset=dataset, modality=modality)]
    rows += [*rows_of("mlm", [0.3, 0.31, 0.32], dataset="news", modality="text")]
    board = build(rows)
    summary = board.summary.set_index(["task", "dataset"])
    assert summary.loc[("simclr", "fmnist"), "mean_normalized"] == pytest.approx(0.5)
    assert summary.loc[("simclr", "news"), "mean_normalized"] == pytest.approx(0.625)
    assert ("mlm", "fmnist") not in summary.index  # never filled in from another dataset
    counts = board.summary_counts.set_index("task")
    assert counts.loc["simclr", "datasets"] == 2 and counts.loc["simclr", "modalities"] == 2
    assert counts.loc["mlm", "datasets"] == 1


def test_no_interval_below_three_seeds_in_the_table():
    table = summarize([*rows_of("simclr", [0.7, 0.8])])
    assert table["ci_low"].isna().all() and table["ci_high"].isna().all()


def test_a_grid_whose_every_seed_failed_still_gives_a_leaderboard_of_failures():
    failed = {**row("simclr", 0, None), "status": "failed", "message": "boom", "metric": ""}
    board = build([failed])
    assert list(board.failures()["task"]) == ["simclr"] and board.table["mean"].isna().all()
