"""The committed results/ parse, match the entry schema, and are explained column by column."""
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from sslbench.results.compare import load_entries
from sslbench.results.leaderboard import GROUP_KEYS, KINDS, TABLE_COLUMNS

RESULTS = Path(__file__).resolve().parents[2] / "results"


@pytest.fixture(scope="module")
def table():
    return pd.read_csv(RESULTS / "leaderboard.csv", dtype=str, keep_default_na=False)


def number(text):
    return float(text) if text != "" else math.nan


def test_the_csv_has_exactly_the_entry_columns_and_sane_values(table):
    assert list(table.columns) == TABLE_COLUMNS and len(table) > 0
    for r in table.to_dict("records"):
        assert all(r[k] != "" for k in ("dataset", "task", "model", "evaluator")), r
        assert r["kind"] in KINDS and r["higher_is_better"] in ("True", "False")
        n, mean, low, high = int(r["n"]), number(r["mean"]), number(r["ci_low"]), number(r["ci_high"])
        assert n >= 0 and int(r["failed"]) >= 0
        if n > 0:
            assert low - 1e-12 <= mean <= high + 1e-12
        if r["kind"] == "method" and n > 0:
            title = re.escape(r["dataset"]) + " / " + re.escape(r["evaluator"]) + r"( \(.*?\))? / "  # a variant's label
            assert int(r["rank"]) >= 1 and re.match(title, r["ranking"]), r["ranking"]
        for column in ("protocol", "budget", "settings"):
            assert isinstance(json.loads(r[column]), dict)


def test_every_committed_entry_has_three_seeds_and_an_interval_that_covers(table):
    entries = table[table["n"] != "0"]
    assert (entries["n"].astype(int) >= 3).all(), entries[entries["n"].astype(int) < 3][["dataset", "task", "n"]]
    assert (entries["ci_low"] != "").all()  # shown because n >= 3 (none is shown below)


def test_committed_ranks_are_monotone_in_the_mean(table):
    methods = table[(table["kind"] == "method") & (table["rank"] != "")]
    for ranking, group in methods.groupby("ranking"):
        higher = group["higher_is_better"].iloc[0] == "True"
        ordered = group.assign(m=group["mean"].astype(float), r=group["rank"].astype(int)).sort_values(
            "m", ascending=not higher)
        assert ordered["r"].is_monotonic_increasing, ranking


def test_no_committed_normalised_score_where_supervised_does_not_beat_random_init(table):
    supervised = table[table["kind"] == "supervised"]
    unreliable = supervised[supervised["vs_baseline"] != "better"]
    for entry in unreliable.to_dict("records"):
        same = table[(table["dataset"] == entry["dataset"]) & (table["model"] == entry["model"])
                     & (table["evaluator"] == entry["evaluator"]) & (table["metric"] == entry["metric"])
                     & (table["protocol"] == entry["protocol"]) & (table["kind"] == "method")]
        assert (same["normalized"] == "").all(), entry


def test_the_csv_is_a_usable_compare_baseline():
    entries = load_entries(RESULTS / "leaderboard.csv")
    assert len(entries) > 0 and entries[GROUP_KEYS].notna().all().all()


def test_the_markdown_has_a_table_per_ranking(table):
    text = (RESULTS / "LEADERBOARD.md").read_text()
    assert text.startswith("# Leaderboard\n")
    for ranking in set(table["ranking"]) - {""}:
        assert f"\n## {ranking}\n" in text
    assert "| rank " in text and "| 95% CI " in text and "| vs random-init " in text
    assert "paired t-test" in text and "Student-t" in text  # the methods are named


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.urls = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href")]


def test_the_html_report_is_self_contained():
    parsed = Tags()
    parsed.feed((RESULTS / "report.html").read_text())
    assert "table" in parsed.tags and "img" in parsed.tags and "script" not in parsed.tags
    assert all(u.startswith("data:") for u in parsed.urls)


def test_the_readme_explains_every_column():
    readme = (RESULTS / "README.md").read_text()
    missing = [c for c in TABLE_COLUMNS if f"`{c}`" not in readme]
    assert not missing, f"results/README.md does not explain {missing}"


@pytest.mark.parametrize("folder", ["", "text-cpu"])
def test_committed_summaries_are_what_the_script_generates_from_their_leaderboards(folder, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("summarize_results", RESULTS.parent / "benchmarks" / "summarize_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(RESULTS.parent)  # the page names the CSV by its path from the repository root
    csv = Path("results", folder, "leaderboard.csv")
    assert module.summarize(csv) == (RESULTS / folder / "SUMMARY.md").read_text()


@pytest.mark.parametrize("folder", ["", "text-cpu", "text-gpu", "smoke"])
def test_every_committed_ranking_lists_the_anchors_its_verdicts_compare_with(folder):
    """A tool that reads one ranking from the csv finds the random-init of each of its models and, where a
    method's row has a verdict against the reference, the no-encoder reference too."""
    table = pd.read_csv(RESULTS / folder / "leaderboard.csv", dtype=str, keep_default_na=False)
    rankings = table[(table["kind"] == "method") & (table["n"] != "0")].groupby("ranking")
    assert len(rankings) > 0
    for ranking, methods in rankings:
        members = table[table["ranking"] == ranking]
        baselines = set(members.loc[members["kind"] == "baseline", "model"])
        judged = methods[methods["vs_baseline"] != ""]
        assert set(judged["model"]) <= baselines, (folder, ranking)
        if (methods["vs_reference"] != "").any():
            assert (members["task"] == "no-encoder").any(), (folder, ranking)
