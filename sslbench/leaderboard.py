"""Result rows → leaderboard tables (pandas pivots) and their renderings.

Each table row is one (dataset, task, model, evaluator, label set, metric) with the
mean, standard deviation and number of seeds, and — beside it — the ``random-init``
baseline of the same (dataset, model, evaluator, label set, metric) and the gain
over it.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from sslbench.grid import BASELINE_TASK
from sslbench.results import dedupe

GROUP_KEYS = ["dataset", "task", "model", "evaluator", "label_set", "metric"]
BASELINE_KEYS = ["dataset", "model", "evaluator", "label_set", "metric"]
FORMATS = ("md", "csv", "json")


def rows_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Deduplicated rows as a flat frame: identity keys, value, status, message."""
    records = [
        {**{k: r.get(k) for k in ["suite", *GROUP_KEYS, "seed", "value", "status", "message"]}}
        for r in dedupe(rows)
    ]
    columns = ["suite", *GROUP_KEYS, "seed", "value", "status", "message"]
    return pd.DataFrame.from_records(records, columns=columns)


def summarize(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Mean, std and n over seeds per (dataset, task, model, evaluator, label set, metric).

    Failed or diverged cells stay visible: their rows count in ``failed`` and carry
    the first message, with ``mean`` empty when no seed succeeded.
    """
    frame = rows_frame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[*GROUP_KEYS, "mean", "std", "n", "failed", "baseline", "gain", "message"])
    frame["ok"] = frame["status"] == "ok"
    ok = frame[frame["ok"]]
    stats = ok.groupby(GROUP_KEYS, dropna=False)["value"].agg(mean="mean", std="std", n="count").reset_index()
    failed = _failures(frame)
    table = stats.merge(failed, on=GROUP_KEYS, how="outer")
    table["n"] = table["n"].fillna(0).astype(int)
    table["failed"] = table["failed"].fillna(0).astype(int)
    table["message"] = table["message"].fillna("")
    baseline = stats[stats["task"] == BASELINE_TASK].rename(columns={"mean": "baseline"})[[*BASELINE_KEYS, "baseline"]]
    table = table.merge(baseline, on=BASELINE_KEYS, how="left")
    table["gain"] = table["mean"] - table["baseline"]
    table.loc[table["task"] == BASELINE_TASK, ["baseline", "gain"]] = float("nan")
    order = {"task_order": table["task"] != BASELINE_TASK}
    table = table.assign(**order).sort_values(["dataset", "evaluator", "label_set", "metric", "model", "task_order", "task"])
    return table.drop(columns="task_order").reset_index(drop=True)[
        [*GROUP_KEYS, "mean", "std", "n", "failed", "baseline", "gain", "message"]
    ]


def render(table: pd.DataFrame, fmt: str) -> str:
    """The table as Markdown, CSV or JSON records."""
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        records = json.loads(table.to_json(orient="records"))
        return json.dumps(records, indent=2) + "\n"
    if fmt == "md":
        return _markdown(table)
    raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def _failures(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame[~frame["ok"]].copy()
    if bad.empty:
        return pd.DataFrame(columns=[*GROUP_KEYS, "failed", "message"])
    # A failed cell has no metric name; show it under every metric the others report.
    bad["message"] = bad["status"] + ": " + bad["message"].astype(str)
    return bad.groupby(GROUP_KEYS, dropna=False).agg(failed=("seed", "count"), message=("message", "first")).reset_index()


def _markdown(table: pd.DataFrame) -> str:
    shown = table.copy()
    for column in ("mean", "std", "baseline"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    shown["gain"] = shown["gain"].map(lambda v: "" if pd.isna(v) else f"{v:+.4f}")
    if not shown["failed"].any():
        shown = shown.drop(columns=["failed", "message"])
    return shown.to_markdown(index=False) + "\n"
