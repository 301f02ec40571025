"""Result rows → comparable leaderboard tables (pandas) and their renderings.

One *entry* per (dataset, task, model, evaluator, label set, metric) and distinct
protocol (evaluator options), budget and settings: the mean over seeds, the standard
deviation, a 95% bootstrap confidence interval of the mean (seeds resampled with
replacement, :data:`BOOTSTRAP_RESAMPLES` resamples from :data:`BOOTSTRAP_SEED`;
Efron & Tibshirani, 1993, percentile interval) and n. Beside it:

- ``baseline`` / ``gain``: the ``random-init`` entry of the same (dataset, model,
  evaluator, label set, metric, protocol, encoder settings) and the difference;
- ``supervised`` / ``normalized``: the ``supervised`` reference of the same encoder
  under the same budget, and (mean − baseline) / (supervised − baseline): 0 is random
  init, 1 is supervised training on the labels (empty when either is missing or the
  two are within :data:`MIN_SPREAD`);
- ``rank`` / ``tied``: within a *ranking* — one (dataset, evaluator, label set,
  metric) with one protocol and one budget — the best entry leads; every entry whose
  interval overlaps the leader's shares its rank; the rest are ranked the same way.
  Entries of one (dataset, evaluator, label set, metric) that differ in protocol or
  budget go to separate rankings and ``notes`` says which keys differ.

``kind`` says what an entry is: ``method`` (a pretext task, ranked), ``baseline``
(``random-init``), ``supervised`` (the reference) or ``reference`` (an evaluator's
encoder-free rows such as ``popularity``, recognised by a budget of 0 steps);
only methods are ranked, the others are shown beside them.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sslbench.grid import BASELINE_TASK
from sslbench.results import dedupe

GROUP_KEYS = ["dataset", "task", "model", "evaluator", "label_set", "metric"]
BASELINE_KEYS = ["dataset", "model", "evaluator", "label_set", "metric"]
SECTION_KEYS = ["dataset", "evaluator", "label_set", "metric"]
"""A ranking is one of these with one protocol and one budget."""
ENTRY_KEYS = [*GROUP_KEYS, "protocol", "budget", "settings"]
"""Seeds of rows equal in these are aggregated into one entry."""
FORMATS = ("md", "csv", "json", "html")
SUPERVISED_TASK = "supervised"
KINDS = ("method", "baseline", "supervised", "reference")
BOOTSTRAP_RESAMPLES = 10_000  # resamples of the seeds per entry
BOOTSTRAP_SEED = 0  # seed of the bootstrap's generator: the same rows give the same interval
CONFIDENCE = 0.95  # two-sided level of the percentile interval
MIN_SPREAD = 1e-9  # |supervised − baseline| below this leaves the normalised score undefined
COST_COLUMNS = ["steps", "train_seconds", "flops", "samples_per_s", "peak_memory_bytes"]
TABLE_COLUMNS = [
    *GROUP_KEYS, "kind", "mean", "std", "ci_low", "ci_high", "n", "failed", "baseline", "gain", "supervised",
    "normalized", "ranking", "rank", "tied", "higher_is_better", *COST_COLUMNS, "protocol", "budget", "settings",
    "message",
]
"""The columns of :func:`summarize`'s table, in order; ``results/README.md`` explains each."""

Direction = Callable[[str, str], bool]
"""(evaluator, metric) → True when a higher value is better."""


def higher_always(evaluator: str, metric: str) -> bool:
    """The default direction: every metric is higher-is-better."""
    return True


def direction_from_registry(registry: Any) -> Direction:
    """Directions from each evaluator's ``EvaluatorSpec.higher_is_better`` (unknown → higher)."""

    def direction(evaluator: str, metric: str) -> bool:
        try:
            spec = registry.get("evaluator", evaluator)
        except Exception:  # an evaluator of a plugin not loaded now: assume the common case
            return True
        return bool(spec.higher_is_better.get(metric, True))

    return direction


def bootstrap_ci(values: Iterable[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 level: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean: resample the values with replacement.

    With one value the interval is that value; with none it is (nan, nan).

    Shape:
        values: n floats (one per seed); returns (low, high).
    """
    x = np.asarray(list(values), dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)  # (resamples,)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def canonical(value: Any) -> str:
    """A dict as sorted, compact JSON: equal settings give equal strings."""
    return json.dumps(value if value is not None else {}, sort_keys=True, separators=(",", ":"), default=str)


def rows_frame(rows: Iterable[Mapping[str, Any]], direction: Direction = higher_always) -> pd.DataFrame:
    """Deduplicated rows as a flat frame: identity keys, value, status, message,
    protocol/budget/settings as canonical JSON, the cost columns and the direction."""
    records = [_flat(r, direction) for r in dedupe(rows)]
    columns = ["suite", *GROUP_KEYS, "seed", "value", "status", "message", "protocol", "budget", "settings",
               "encoder", *COST_COLUMNS, "higher_is_better"]
    return pd.DataFrame.from_records(records, columns=columns)


def _flat(row: Mapping[str, Any], direction: Direction) -> dict[str, Any]:
    cost, budget = row.get("cost") or {}, row.get("budget") or {}
    settings = row.get("settings") or {}
    steps = cost.get("steps", budget.get("steps"))
    flops = cost.get("flops")
    if flops is None and cost.get("flops_per_step") is not None and steps is not None:
        flops = cost["flops_per_step"] * steps
    hib = row.get("higher_is_better")
    return {
        **{k: row.get(k) for k in ["suite", *GROUP_KEYS, "seed", "value", "status", "message"]},
        "protocol": canonical(row.get("protocol")), "budget": canonical(budget), "settings": canonical(settings),
        "encoder": canonical({k: v for k, v in settings.items() if k != "task"}),
        "steps": steps, "train_seconds": cost.get("train_seconds"), "flops": flops,
        "samples_per_s": cost.get("samples_per_s"), "peak_memory_bytes": cost.get("peak_memory_bytes"),
        "higher_is_better": bool(direction(row.get("evaluator"), row.get("metric")) if hib is None else hib),
    }


def summarize(rows: Iterable[Mapping[str, Any]], direction: Direction = higher_always) -> pd.DataFrame:
    """The entries table (columns :data:`TABLE_COLUMNS`), one line per entry.

    Failed or diverged cells stay visible: their rows count in ``failed`` and carry
    the first message, with ``mean`` empty when no seed succeeded.
    """
    frame = rows_frame(rows, direction)
    if frame.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    table = _aggregate(frame)
    table["kind"] = [_kind(t, s) for t, s in zip(table["task"], table["steps"])]
    table = _with_anchors(table)
    table = _with_ranks(table)
    order = table["kind"].map({"baseline": 0, "reference": 1, "supervised": 2, "method": 3})
    table = table.assign(_order=order).sort_values([*SECTION_KEYS, "model", "_order", "task"])
    return table.reset_index(drop=True)[TABLE_COLUMNS]


def _kind(task: str, steps: Any) -> str:
    if task == BASELINE_TASK:
        return "baseline"
    if task == SUPERVISED_TASK:
        return "supervised"
    return "reference" if steps == 0 else "method"


def _aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, bootstrap interval, n and mean costs of the ok seeds; failures beside."""
    keys = [*ENTRY_KEYS, "encoder", "higher_is_better"]
    ok = frame[frame["status"] == "ok"]
    groups = ok.groupby(keys, dropna=False, sort=False)
    stats = groups["value"].agg(mean="mean", std="std", n="count")
    intervals = groups["value"].apply(lambda v: bootstrap_ci(v.to_numpy()))
    stats["ci_low"] = [lo for lo, _ in intervals]
    stats["ci_high"] = [hi for _, hi in intervals]
    costs = groups[COST_COLUMNS].agg(lambda c: pd.to_numeric(c, errors="coerce").mean())
    stats = stats.join(costs).reset_index()
    bad = frame[frame["status"] != "ok"].copy()
    bad["message"] = bad["status"] + ": " + bad["message"].astype(str)
    failed = bad.groupby(keys, dropna=False, sort=False).agg(failed=("seed", "count"), message=("message", "first"))
    table = stats.merge(failed.reset_index(), on=keys, how="outer")
    table["n"] = table["n"].fillna(0).astype(int)
    table["failed"] = table["failed"].fillna(0).astype(int)
    table["message"] = table["message"].fillna("")
    return table


def _with_anchors(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``baseline``, ``gain``, ``supervised`` and ``normalized`` columns."""
    anchor = [*BASELINE_KEYS, "protocol", "encoder"]
    ok = table[table["n"] > 0]
    base = ok[ok["kind"] == "baseline"][[*anchor, "mean"]].drop_duplicates(anchor).rename(columns={"mean": "baseline"})
    table = table.merge(base, on=anchor, how="left")
    sup = ok[ok["kind"] == "supervised"][[*anchor, "budget", "mean"]].rename(columns={"mean": "supervised"})
    unique = sup.drop_duplicates([*anchor, "budget"])
    same_budget = table.merge(unique, on=[*anchor, "budget"], how="left")["supervised"]
    only_one = sup.groupby(anchor, dropna=False).filter(lambda g: len(g) == 1).drop(columns="budget")
    any_budget = table.merge(only_one, on=anchor, how="left")["supervised"]
    untrained = table["kind"].isin(["baseline", "reference"]).to_numpy()
    table["supervised"] = np.where(untrained, any_budget.to_numpy(), same_budget.to_numpy())
    table["gain"] = table["mean"] - table["baseline"]
    table.loc[table["kind"] == "baseline", "gain"] = np.nan
    spread = table["supervised"] - table["baseline"]
    defined = spread.abs() > MIN_SPREAD
    table["normalized"] = ((table["mean"] - table["baseline"]) / spread).where(defined)
    return table


def _with_ranks(table: pd.DataFrame) -> pd.DataFrame:
    """Name each entry's ranking (section + protocol + budget) and rank the methods in it."""
    table["ranking"], table["rank"], table["tied"] = "", np.nan, False
    for name, members in ranking_members(table):
        unnamed = members.index[table.loc[members.index, "ranking"] == ""]
        table.loc[unnamed, "ranking"] = name  # an anchor shown in several rankings keeps the first name
        for index, (rank, tied) in rank_groups(members[members["kind"] == "method"]).items():
            table.loc[index, ["rank", "tied"]] = [rank, tied]
    table["rank"] = table["rank"].astype("Int64")
    table["tied"] = table["tied"].astype(bool)
    return table


def ranking_members(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Every ranking's name and entries.

    A section's trained entries (methods, supervised) split by (protocol, budget);
    its untrained entries (baseline, references) join every ranking of their
    protocol, so the same baseline stands beside each budget's ranking.
    """
    out = []
    for section, group in table[table["n"] > 0].groupby(SECTION_KEYS, dropna=False, sort=False):
        title = " / ".join(str(s) for s in section)
        trained = group[group["kind"].isin(["method", "supervised"])]
        untrained = group[~group.index.isin(trained.index)]
        variants = list(dict.fromkeys(zip(trained["protocol"], trained["budget"])))
        variants += [(p, "") for p in dict.fromkeys(untrained["protocol"]) if p not in {v[0] for v in variants}]
        for (protocol, budget), label in zip(variants, variant_labels(variants)):
            mine = (trained["protocol"] == protocol) & (trained["budget"] == budget)
            members = pd.concat([trained[mine], untrained[untrained["protocol"] == protocol]])
            out.append((f"{title} [{label}]" if label else title, members))
    return out


def variant_labels(variants: list[tuple[str, str]]) -> list[str]:
    """Short labels naming the protocol/budget keys in which variants differ ("" if one)."""
    if len(variants) < 2:
        return [""] * len(variants)
    flat = [{**_flatten("protocol", json.loads(p)), **_flatten("budget", json.loads(b) if b else {})}
            for p, b in variants]
    differing = sorted(k for k in set().union(*flat) if len({canonical(f.get(k)) for f in flat}) > 1)
    return [", ".join(f"{k}={f.get(k, '—')}" for k in differing) for f in flat]


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}", v))
        return out
    return {prefix: value}


def rank_groups(methods: pd.DataFrame) -> dict[Any, tuple[int, bool]]:
    """Competition ranks by mean; entries whose interval overlaps the current leader's share its rank.

    Returns index → (rank, tied), tied meaning the rank is shared.
    """
    if methods.empty:
        return {}
    higher = bool(methods["higher_is_better"].iloc[0])
    pending = methods.sort_values("mean", ascending=not higher)
    ranks: dict[Any, tuple[int, bool]] = {}
    while not pending.empty:
        leader = pending.iloc[0]
        overlap = (pending["ci_low"] <= leader["ci_high"]) & (pending["ci_high"] >= leader["ci_low"])
        rank = len(ranks) + 1
        for index in pending.index[overlap]:
            ranks[index] = (rank, bool(overlap.sum() > 1))
        pending = pending[~overlap]
    return ranks


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
    """Mean normalised score per task over every (dataset, model, evaluator, label set, metric) that has one.

    The one number that compares a text cell with an image cell: both are measured
    on the same 0 (random init) to 1 (supervised) scale.
    """
    scored = table[table["kind"].isin(["method", "reference"]) & table["normalized"].notna()]
    columns = ["task", "kind", "mean_normalized", "entries", "datasets"]
    if scored.empty:
        return pd.DataFrame(columns=columns)
    summary = scored.groupby(["task", "kind"]).agg(
        mean_normalized=("normalized", "mean"), entries=("normalized", "count"),
        datasets=("dataset", lambda d: ", ".join(sorted(set(d)))),
    ).reset_index()
    return summary.sort_values("mean_normalized", ascending=False).reset_index(drop=True)[columns]


@dataclass
class Leaderboard:
    """Everything a rendering shows: the entries, the cross-modality summary, the notes."""

    table: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def rankings(self) -> list[tuple[str, pd.DataFrame]]:
        """(ranking name, its entries); a baseline appears beside every ranking of its protocol."""
        return ranking_members(self.table)

    def failures(self) -> pd.DataFrame:
        """Entries with no successful seed."""
        return self.table[self.table["n"] == 0]


def build(rows: Iterable[Mapping[str, Any]], direction: Direction = higher_always) -> Leaderboard:
    """The leaderboard of ``rows``: entries, cross-modality summary and split notes."""
    table = summarize(rows, direction)
    ordered = table.assign(_r=table["rank"].fillna(10**9)).sort_values(
        ["dataset", "evaluator", "label_set", "metric", "ranking", "_r"], kind="stable").drop(columns="_r")
    return Leaderboard(table=ordered.reset_index(drop=True), summary=cross_modality(table), notes=split_notes(table))


def render(table: pd.DataFrame, fmt: str) -> str:
    """The entries table as Markdown (compact), CSV or JSON records (every column)."""
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        records = json.loads(table.to_json(orient="records"))
        return json.dumps(records, indent=2) + "\n"
    if fmt == "md":
        return _markdown(table)
    raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(f for f in FORMATS if f != 'html')}")


def render_board(board: Leaderboard, fmt: str, **report: Any) -> str:
    """The leaderboard as sectioned Markdown, CSV/JSON of the entries, or the HTML report.

    ``report`` (``curves``, ``manifest``) goes to :func:`sslbench.report.render_html`.
    """
    if fmt == "md":
        from sslbench.report import board_markdown  # local: matplotlib loads only for reports

        return board_markdown(board)
    if fmt == "html":
        from sslbench.report import render_html

        return render_html(board, **report)
    if fmt in FORMATS:
        return render(board.table, fmt)
    raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def _markdown(table: pd.DataFrame) -> str:
    shown = table[[c for c in [*GROUP_KEYS, "mean", "std", "ci_low", "ci_high", "n", "failed", "baseline", "gain",
                               "normalized", "message"] if c in table]].copy()
    for column in ("mean", "std", "ci_low", "ci_high", "baseline", "normalized"):
        if column in shown:
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    shown["gain"] = shown["gain"].map(lambda v: "" if pd.isna(v) else f"{v:+.4f}")
    if not shown["failed"].any():
        shown = shown.drop(columns=["failed", "message"])
    return shown.to_markdown(index=False) + "\n"
