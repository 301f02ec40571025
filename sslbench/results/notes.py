"""What a leaderboard says beside its rankings: the notes under the tables (anchors a method does not
beat, sections split into several rankings, entries without a normalised score) and the
cross-modality summary of normalised scores. Reads the entry table :mod:`sslbench.results.leaderboard`
builds; imports nothing from it."""
from __future__ import annotations

import pandas as pd

from sslbench.anchors import RANDOM_INIT as BASELINE_TASK
from sslbench.results.stats import MIN_SEEDS

SECTION_KEYS = ["dataset", "evaluator", "label_set", "metric"]  # as sslbench.results.leaderboard.SECTION_KEYS


def anchor_notes(table: pd.DataFrame) -> list[str]:
    """Lines naming entries without a normalised score, and methods that do not beat their
    no-encoder reference or random-init (paired test)."""
    notes = []
    blocked = table[(table["kind"] == "supervised") & table["baseline"].notna() & (table["vs_baseline"] != "better")]
    for entry in blocked.itertuples():
        verdict = entry.vs_baseline or f"fewer than {MIN_SEEDS} shared seeds"
        notes.append(f"{entry.dataset} / {entry.model} / {entry.evaluator} / {entry.metric}: no normalised score — "
                     f"supervised ({entry.mean:.4f}) does not reliably beat random-init ({entry.baseline:.4f}); "
                     f"paired test: {verdict}")
    methods = table[table["kind"] == "method"]
    for column, anchor in (("vs_baseline", BASELINE_TASK), ("vs_reference", "its no-encoder reference")):
        for entry in methods[methods[column].isin(["tie", "worse"])].itertuples():
            word = "is below" if getattr(entry, column) == "worse" else "does not beat"
            notes.append(f"{entry.ranking}: {entry.task} / {entry.model} {word} {anchor} (paired test: "
                         f"{getattr(entry, column)})")
    return notes


def split_notes(table: pd.DataFrame) -> list[str]:
    """One line per section split into several rankings, naming the keys that differ."""
    notes = []
    for section, group in table[table["ranking"] != ""].groupby(SECTION_KEYS, sort=False):
        names = list(dict.fromkeys(group["ranking"]))
        if len(names) > 1:
            title = " / ".join(str(s) for s in section)
            differing = sorted({part.split("=")[0] for n in names for part in _label(n).split(", ") if "=" in part})
            notes.append(f"{title}: split into {len(names)} rankings, never ranked together, because their rows "
                         f"differ in {', '.join(differing)}")
    return notes


def _label(ranking: str) -> str:
    return ranking[ranking.rfind("[") + 1 : -1] if ranking.endswith("]") else ""


def cross_modality(table: pd.DataFrame) -> pd.DataFrame:
    """Mean normalised score per (task, dataset) over the entries that have one.

    One row per (task, dataset) — never one number per task that averages whatever
    datasets each task happened to run on; a heatmap is this table pivoted. Columns
    ``task, dataset, modality, mean_normalized, entries`` (entries: models × evaluators ×
    label sets × metrics behind the mean).
    """
    scored = table[table["kind"].isin(["method", "reference"]) & table["normalized"].notna()]
    columns = ["task", "dataset", "modality", "mean_normalized", "entries"]
    if scored.empty:
        return pd.DataFrame(columns=columns)
    summary = scored.groupby(["task", "dataset"], sort=True).agg(
        modality=("modality", "first"), mean_normalized=("normalized", "mean"), entries=("normalized", "count"),
    ).reset_index()
    return summary[columns]


def summary_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """Per task: how many datasets and modalities (and entries) its normalised scores come from."""
    columns = ["task", "datasets", "modalities", "entries"]
    if summary.empty:
        return pd.DataFrame(columns=columns)
    counts = summary.groupby("task").agg(
        datasets=("dataset", "nunique"), modalities=("modality", lambda m: len({x for x in m if x})),
        entries=("entries", "sum"),
    ).reset_index()
    return counts[columns]
