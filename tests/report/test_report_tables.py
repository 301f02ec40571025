"""Leaderboard tables: rank groups, normalised scores, splits by protocol and budget, anchors."""
import io
import json

import pandas as pd
import pytest
from rows import row, seeds

from sslbench.results.leaderboard import TABLE_COLUMNS, build, summarize
from sslbench.results.report import board_markdown, render_board


def entry(table, task, **where):
    hits = table[table["task"] == task]
    for key, value in where.items():
        hits = hits[hits[key] == value]
    assert len(hits) == 1, hits
    return hits.iloc[0]


def anchored_rows():
    return [*seeds("random-init", [0.50, 0.52, 0.54]), *seeds("supervised", [0.90, 0.92, 0.94]),
            *seeds("simclr", [0.80, 0.81, 0.82]), *seeds("byol", [0.81, 0.795, 0.805]), *seeds("mae", [0.60, 0.61, 0.62])]


def test_methods_the_paired_test_does_not_separate_share_a_rank_and_the_rest_rank_below():
    table = summarize(anchored_rows())
    simclr, byol, mae = (entry(table, t) for t in ("simclr", "byol", "mae"))
    assert simclr["mean"] > byol["mean"]  # the premise: byol is behind on average, not on every seed
    assert (simclr["rank"], simclr["tied"]) == (1, True) and (byol["rank"], byol["tied"]) == (1, True)
    assert (mae["rank"], mae["tied"]) == (3, False)  # competition ranking: two share 1st place
    for anchor in ("random-init", "supervised"):
        assert pd.isna(entry(table, anchor)["rank"])  # shown beside, never ranked


def test_normalised_score_is_zero_at_random_init_and_one_at_supervised():
    table = summarize(anchored_rows())
    mae = entry(table, "mae")
    assert mae["baseline"] == pytest.approx(0.52) and mae["supervised"] == pytest.approx(0.92)
    assert mae["normalized"] == pytest.approx((0.61 - 0.52) / (0.92 - 0.52))
    assert entry(table, "supervised")["normalized"] == pytest.approx(1.0)
    assert entry(table, "random-init")["normalized"] == pytest.approx(0.0)


def test_normalised_score_is_empty_without_supervised_or_with_no_spread():
    table = summarize([*seeds("random-init", [0.5, 0.5]), *seeds("simclr", [0.7, 0.8])])
    assert pd.isna(entry(table, "simclr")["normalized"])
    table = summarize([*seeds("random-init", [0.5]), *seeds("supervised", [0.5]), *seeds("simclr", [0.7])])
    assert pd.isna(entry(table, "simclr")["normalized"])


def test_the_summary_keeps_each_dataset_apart():
    rows = anchored_rows()
    rows += [*seeds("random-init", [0.1, 0.12, 0.11], dataset="text"),
             *seeds("supervised", [0.5, 0.52, 0.51], dataset="text"), *seeds("simclr", [0.2, 0.22, 0.21], dataset="text")]
    summary = build(rows).summary.set_index(["task", "dataset"])
    assert summary.loc[("simclr", "d"), "mean_normalized"] == pytest.approx((0.81 - 0.52) / (0.92 - 0.52))
    assert summary.loc[("simclr", "text"), "mean_normalized"] == pytest.approx((0.21 - 0.11) / (0.51 - 0.11))
    assert ("byol", "text") not in summary.index
    assert "supervised" not in summary.index.get_level_values(0)


def test_different_protocols_or_budgets_are_split_into_rankings_with_the_reason():
    rows = [*seeds("random-init", [0.5, 0.5]), *seeds("simclr", [0.9, 0.9]),
            *seeds("byol", [0.6, 0.6], suite="other", protocol={"k": 10}),
            *seeds("mae", [0.7, 0.7], suite="long", steps=500)]
    board = build(rows)
    names = [name for name, _ in board.rankings()]
    assert len(names) == 3 and all(name.startswith("d / knn / y / top1 [") for name in names)
    ranked = board.table[board.table["kind"] == "method"]
    assert set(ranked["rank"]) == {1}  # each alone in its ranking, each first
    assert ("d / knn / y / top1: split into 3 rankings, never ranked together, because their rows "
            "differ in budget.steps, protocol.k") in board.notes
    by_name = dict(board.rankings())
    with_baseline = [n for n, g in by_name.items() if "random-init" in set(g["task"])]
    assert len(with_baseline) == 2  # the k=20 baseline stands beside both k=20 budgets, not beside k=10
    assert "differ in budget.steps, protocol.k" in board_markdown(board)


def test_reference_rows_are_shown_beside_the_baseline_not_ranked():
    rows = [*seeds("random-init", [0.1, 0.1], metric="hr@10"),
            *seeds("popularity", [0.3, 0.3], metric="hr@10", steps=0),
            *seeds("mlm", [0.2, 0.25], metric="hr@10")]
    table = summarize(rows)
    assert entry(table, "popularity")["kind"] == "reference" and pd.isna(entry(table, "popularity")["rank"])
    assert entry(table, "mlm")["rank"] == 1


def test_lower_is_better_metrics_rank_the_smallest_first():
    rows = [*seeds("a", [2.0, 2.1, 2.2], metric="loss"), *seeds("b", [1.0, 1.1, 1.3], metric="loss")]
    table = summarize(rows, direction=lambda evaluator, metric: metric != "loss")
    assert entry(table, "b")["rank"] == 1 and entry(table, "a")["rank"] == 2


def test_failures_and_one_seed_entries_stay_visible():
    rows = [row("simclr", 0, 0.7), row("mae", 0, None, status="diverged", message="loss became nan", metric="")]
    table = summarize(rows)
    simclr = entry(table, "simclr")
    assert pd.isna(simclr["ci_low"]) and pd.isna(simclr["ci_high"]) and simclr["n"] == 1  # no interval below 3
    board = build(rows)
    assert list(board.failures()["task"]) == ["mae"]
    assert "diverged: loss became nan" in board_markdown(board)


def test_csv_and_json_carry_every_column_and_compute():
    rows = [row("simclr", s, 0.7 + s / 100, flops_per_step=1000) for s in range(2)]
    board = build(rows)
    records = json.loads(render_board(board, "json"))
    assert list(records[0]) == TABLE_COLUMNS
    assert records[0]["flops"] == 100 * 1000 and records[0]["steps"] == 100
    header = render_board(board, "csv").splitlines()[0].split(",")
    assert header == TABLE_COLUMNS


def two_budget_rows():
    """simclr at 100 and 200 steps: two rankings, each beside the same random-init and no-encoder reference."""
    return [*seeds("random-init", [0.50, 0.52, 0.54]), *seeds("no-encoder", [0.70, 0.70, 0.70], model="raw", steps=0),
            *seeds("simclr", [0.60, 0.61, 0.62]), *seeds("simclr", [0.75, 0.76, 0.77], steps=200, suite="long")]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_every_ranking_in_csv_and_json_lists_the_anchors_it_is_compared_with(fmt, tmp_path):
    from sslbench.results.compare import compare, load_entries

    board = build(two_budget_rows())
    text = render_board(board, fmt)
    table = pd.DataFrame(json.loads(text)) if fmt == "json" else pd.read_csv(io.StringIO(text))
    rankings = [name for name, _ in board.rankings()]
    assert len(rankings) == 2
    for name in rankings:
        mine = table[table["ranking"] == name]
        assert sorted(mine["task"]) == ["no-encoder", "random-init", "simclr"]  # the verdicts' anchors are there
        simclr = mine[mine["task"] == "simclr"].iloc[0]
        assert simclr["vs_reference"] in ("better", "worse", "tie")
    (tmp_path / f"board.{fmt}").write_text(text)
    entries = load_entries(tmp_path / f"board.{fmt}")
    assert len(entries) == 4  # read back: one row per entry, the anchors no longer repeated
    assert compare(entries, summarize(two_budget_rows())).shared == 4
