"""Result rows → comparable leaderboard tables (pandas) and their renderings.

One *entry* per (dataset, task, model, evaluator, label set, metric) and distinct
protocol (evaluator options), budget and settings: the mean over seeds, the standard
deviation, n, the per-seed values (``seeds``) and a 95% Student-t interval of the mean
(``ci_low``/``ci_high``; empty below 3 seeds — see :mod:`sslbench.results.stats` for why not a
bootstrap). Beside it:

- ``baseline`` / ``gain`` / ``vs_baseline``: the ``random-init`` entry of the same
  (dataset, model, evaluator, label set, metric, protocol, encoder settings), the
  difference, and the paired t-test's verdict across the seeds both share (``better``,
  ``worse``, ``tie``; empty below 3 shared seeds) — "beats random-init" means ``better``;
- ``vs_reference``: the same paired verdict against the no-encoder reference of the same
  (dataset, evaluator, label set, metric, protocol) (task ``no-encoder``);
- ``supervised`` / ``normalized``: the ``supervised`` reference of the same encoder under
  the same budget, and (mean − baseline) / (supervised − baseline): 0 is random init, 1
  is supervised training on the labels. Shown only when supervised reliably beats
  random-init (paired test ``better``); otherwise empty and ``notes`` names the entry;
- ``rank`` / ``tied``: within a *ranking* — one (dataset, evaluator, label set, metric)
  with one protocol and one budget — methods are sorted by mean; each rank group starts
  at the best method not yet ranked, and the next methods join it while the paired test
  does not separate them from that group's first (so a lower mean is never ranked above
  a higher one). Entries of one (dataset, evaluator, label set, metric) that differ in
  protocol or budget go to separate rankings and ``notes`` says which keys differ.

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

from sslbench.anchors import EXTERNAL, WEIGHTS_KEYS
from sslbench.anchors import NO_ENCODER as REFERENCE_TASK
from sslbench.anchors import RANDOM_INIT as BASELINE_TASK
from sslbench.anchors import SUPERVISED as SUPERVISED_TASK
from sslbench.results.identity import component_label, identity_of_row
from sslbench.results.notes import (
    anchor_notes,
    cross_modality,
    split_notes,
    summary_counts,
)
from sslbench.results.rows import dedupe
from sslbench.results.stats import (
    METHOD_INTERVAL,
    METHOD_TEST,
    paired_verdict,
    t_interval,
)

GROUP_KEYS = ["dataset", "task", "model", "evaluator", "label_set", "metric"]
BASELINE_KEYS = ["dataset", "model", "evaluator", "label_set", "metric"]
SECTION_KEYS = ["dataset", "evaluator", "label_set", "metric"]
"""A ranking is one of these with one protocol and one budget."""
ENTRY_KEYS = [*GROUP_KEYS, "protocol", "budget", "settings"]
"""Seeds of rows equal in these are aggregated into one entry."""
FORMATS = ("md", "csv", "json", "html")
KINDS = ("method", "baseline", "supervised", "reference")
MIN_SPREAD = 1e-9  # |supervised − baseline| below this leaves the normalised score undefined
COST_COLUMNS = ["steps", "train_seconds", "flops", "samples_per_s", "peak_memory_bytes"]
TABLE_COLUMNS = [
    *GROUP_KEYS, "kind", "mean", "std", "ci_low", "ci_high", "n", "failed", "baseline", "gain", "vs_baseline",
    "vs_reference", "supervised", "normalized", "ranking", "rank", "tied", "higher_is_better", *COST_COLUMNS,
    "protocol", "budget", "settings", "modality", "seeds", "message",
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


def canonical(value: Any) -> str:
    """A dict as sorted, compact JSON: equal settings give equal strings."""
    return json.dumps(value if value is not None else {}, sort_keys=True, separators=(",", ":"), default=str)


def rows_frame(rows: Iterable[Mapping[str, Any]], direction: Direction = higher_always) -> pd.DataFrame:
    """Deduplicated rows as a flat frame: identity keys, value, status, message,
    protocol/budget/settings as canonical JSON, the cost columns and the direction."""
    records = [_flat(r, direction) for r in dedupe(rows)]
    columns = ["suite", *GROUP_KEYS, "seed", "value", "status", "message", "protocol", "budget", "settings",
               "encoder", "modality", *COST_COLUMNS, "higher_is_better"]
    return pd.DataFrame.from_records(records, columns=columns)


def _flat(row: Mapping[str, Any], direction: Direction) -> dict[str, Any]:
    cost, budget = row.get("cost") or {}, row.get("budget") or {}
    protocol, settings = identity_of_row(row)
    steps = cost.get("steps", budget.get("steps"))
    flops = cost.get("flops")
    if flops is None and cost.get("flops_per_step") is not None and steps is not None:
        flops = cost["flops_per_step"] * steps
    hib = row.get("higher_is_better")
    return {
        **{k: row.get(k) for k in ["suite", *GROUP_KEYS, "seed", "value", "status", "message"]},
        "protocol": canonical(protocol), "budget": canonical(budget), "settings": canonical(settings),
        "encoder": canonical(_architecture(settings)),
        "modality": row.get("modality") or "",
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
    table = _with_reference(table)
    table = _with_ranks(table)
    table["seeds"] = [canonical({str(k): v for k, v in sorted(s.items())}) for s in table["_seeds"]]
    order = table["kind"].map({"baseline": 0, "reference": 1, "supervised": 2, "method": 3})
    table = table.assign(_order=order).sort_values([*SECTION_KEYS, "model", "_order", "task"])
    return table.reset_index(drop=True)[TABLE_COLUMNS]


def _architecture(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that make an encoder less the task and outside weights: the random-init anchor's key."""
    out = {k: v for k, v in settings.items() if k != "task"}
    if isinstance(out.get("model"), Mapping):
        out["model"] = {k: v for k, v in out["model"].items() if k not in WEIGHTS_KEYS}
    return out


def _external(budget: str) -> bool:
    """True for the budget of an entry pretrained elsewhere (an as-loaded cell)."""
    return isinstance(budget, str) and bool(budget) and json.loads(budget).get("pretraining") == EXTERNAL


def _kind(task: str, steps: Any) -> str:
    if task == BASELINE_TASK:
        return "baseline"
    if task == SUPERVISED_TASK:
        return "supervised"
    return "reference" if task == REFERENCE_TASK or steps == 0 else "method"


def _aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, t interval, n, per-seed values and mean costs of the ok seeds; failures beside."""
    keys = [*ENTRY_KEYS, "encoder", "higher_is_better"]
    ok = frame[frame["status"] == "ok"]
    groups = ok.groupby(keys, dropna=False, sort=False)
    stats = groups["value"].agg(mean="mean", std="std", n="count")
    intervals = groups["value"].apply(lambda v: t_interval(v.to_numpy()))
    stats["ci_low"] = [lo for lo, _ in intervals]
    stats["ci_high"] = [hi for _, hi in intervals]
    stats["_seeds"] = list(groups[["seed", "value"]].apply(lambda g: dict(zip(g["seed"].astype(int), g["value"]))))
    stats["modality"] = groups["modality"].first()
    costs = groups[COST_COLUMNS].agg(lambda c: pd.to_numeric(c, errors="coerce").mean())
    if ok.empty:  # every seed failed: no statistics, only the failures below (an empty join has no index names)
        stats = pd.DataFrame(columns=[*keys, "mean", "std", "n", "ci_low", "ci_high", "_seeds", "modality",
                                      *COST_COLUMNS])
    else:
        stats = stats.join(costs).reset_index()
    bad = frame[frame["status"] != "ok"].copy()
    bad["message"] = bad["status"] + ": " + bad["message"].astype(str)
    failed = bad.groupby(keys, dropna=False, sort=False).agg(failed=("seed", "count"), message=("message", "first"))
    table = stats.merge(failed.reset_index(), on=keys, how="outer")
    table["_seeds"] = [s if isinstance(s, dict) else {} for s in table["_seeds"]]
    table["modality"] = table["modality"].fillna("")
    table["n"] = table["n"].fillna(0).astype(int)
    table["failed"] = table["failed"].fillna(0).astype(int)
    table["message"] = table["message"].fillna("")
    return table


def _with_anchors(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``baseline``, ``gain``, ``vs_baseline``, ``supervised`` and ``normalized`` columns."""
    anchor = [*BASELINE_KEYS, "protocol", "encoder"]
    ok = table[table["n"] > 0]
    base = ok[ok["kind"] == "baseline"][[*anchor, "mean", "_seeds"]].drop_duplicates(anchor)
    table = table.merge(base.rename(columns={"mean": "baseline", "_seeds": "_base_seeds"}), on=anchor, how="left")
    sup = ok[ok["kind"] == "supervised"][[*anchor, "budget", "mean", "_seeds"]]
    sup = sup.rename(columns={"mean": "supervised", "_seeds": "_sup_seeds"})
    same_budget = table.merge(sup.drop_duplicates([*anchor, "budget"]), on=[*anchor, "budget"], how="left")
    only_one = sup.groupby(anchor, dropna=False).filter(lambda g: len(g) == 1).drop(columns="budget")
    any_budget = table.merge(only_one, on=anchor, how="left")
    untrained = (table["kind"].isin(["baseline", "reference"]) | table["budget"].map(_external)).to_numpy()
    table["supervised"] = np.where(untrained, any_budget["supervised"].to_numpy(), same_budget["supervised"].to_numpy())
    sup_seeds = [_seeds_of(a if u else b) for u, a, b in zip(untrained, any_budget["_sup_seeds"], same_budget["_sup_seeds"])]
    base_seeds = [_seeds_of(b) for b in table["_base_seeds"]]
    higher = table["higher_is_better"].astype(bool).tolist()
    table["gain"] = table["mean"] - table["baseline"]
    table.loc[table["kind"] == "baseline", "gain"] = np.nan
    table["vs_baseline"] = [
        paired_verdict(mine, b, h) if kind != "baseline" and b else ""
        for kind, mine, b, h in zip(table["kind"], table["_seeds"], base_seeds, higher)
    ]
    reliable = np.array([paired_verdict(s, b, h) == "better" if s and b else False
                         for s, b, h in zip(sup_seeds, base_seeds, higher)])
    spread = table["supervised"] - table["baseline"]
    defined = reliable & (spread.abs() > MIN_SPREAD).to_numpy()
    table["normalized"] = ((table["mean"] - table["baseline"]) / spread).where(defined)
    return table.drop(columns="_base_seeds")


def _seeds_of(value: Any) -> dict[int, float]:
    return value if isinstance(value, dict) else {}


def _with_reference(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``vs_reference``: the paired verdict against the section's no-encoder reference."""
    keys = [*SECTION_KEYS, "protocol"]
    refs = table[(table["n"] > 0) & (table["task"] == REFERENCE_TASK)][[*keys, "_seeds"]].drop_duplicates(keys)
    merged = table.merge(refs.rename(columns={"_seeds": "_ref_seeds"}), on=keys, how="left")
    table["vs_reference"] = [
        paired_verdict(mine, _seeds_of(ref), bool(h)) if task != REFERENCE_TASK and _seeds_of(ref) else ""
        for task, mine, ref, h in zip(table["task"], table["_seeds"], merged["_ref_seeds"], table["higher_is_better"])
    ]
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
    its untrained entries (baseline, references) and the methods pretrained elsewhere
    (as-loaded, budget ``pretraining = "external"``) join every ranking of their
    protocol, so the same baseline stands beside each budget's ranking.
    """
    out = []
    for section, group in table[table["n"] > 0].groupby(SECTION_KEYS, dropna=False, sort=False):
        dataset = component_label(str(section[0]), json.loads(group["settings"].iloc[0]).get("dataset") or {})
        trained = group[group["kind"].isin(["method", "supervised"]) & ~group["budget"].map(_external)]
        untrained = group[~group.index.isin(trained.index)]
        variants = list(dict.fromkeys(zip(trained["protocol"], trained["budget"])))
        variants += [(p, "") for p in dict.fromkeys(untrained["protocol"]) if p not in {v[0] for v in variants}]
        for (protocol, budget), label in zip(variants, variant_labels(variants)):
            mine = (trained["protocol"] == protocol) & (trained["budget"] == budget)
            members = pd.concat([trained[mine], untrained[untrained["protocol"] == protocol]])
            evaluator = component_label(str(section[1]), json.loads(protocol))
            title = " / ".join([dataset, evaluator, *(str(s) for s in section[2:])])
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
    """Competition ranks by mean; a method joins the rank group of the best method above it
    unless the paired test across shared seeds separates the two (:func:`sslbench.results.stats.paired_verdict`).

    Groups are formed in order of the mean, so a lower mean is never ranked above a higher
    one. Returns index → (rank, tied), tied meaning the rank is shared.
    """
    if methods.empty:
        return {}
    higher = bool(methods["higher_is_better"].iloc[0])
    ordered = methods.sort_values("mean", ascending=not higher, kind="stable")
    groups: list[tuple[int, list[Any]]] = []
    head: dict[int, float] = {}
    for position, (index, seeds) in enumerate(zip(ordered.index, ordered["_seeds"]), start=1):
        if groups and paired_verdict(head, seeds, higher) in ("tie", ""):
            groups[-1][1].append(index)
        else:
            groups.append((position, [index]))
            head = seeds
    return {index: (rank, len(members) > 1) for rank, members in groups for index in members}


@dataclass
class Leaderboard:
    """Everything a rendering shows: the entries, the cross-modality summary, the notes."""

    table: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    summary_counts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["task", "datasets",
                                                                                       "modalities", "entries"]))

    def rankings(self) -> list[tuple[str, pd.DataFrame]]:
        """(ranking name, its entries); a baseline appears beside every ranking of its protocol."""
        return ranking_members(self.table)

    def failures(self) -> pd.DataFrame:
        """Entries with no successful seed."""
        return self.table[self.table["n"] == 0]

    def ranking_table(self) -> pd.DataFrame:
        """The entries as the csv and json formats list them: each ranking whole, its anchors beside it.

        An anchor (a random-init, a no-encoder reference, an evaluator's reference) stands beside
        every ranking of its protocol, so it appears once per ranking, with that ranking's name
        in ``ranking`` — a reader who selects one ranking finds the rows its verdicts compare
        with. Entries in no ranking (every seed failed) follow once. ``compare`` reads such a
        table back with one row per entry.
        """
        rankings = self.rankings()
        parts = [members.assign(ranking=name) for name, members in rankings]
        placed = {i for _, members in rankings for i in members.index}
        parts.append(self.table[~self.table.index.isin(placed)])
        return pd.concat(parts, ignore_index=True)[self.table.columns] if parts else self.table


def build(rows: Iterable[Mapping[str, Any]], direction: Direction = higher_always) -> Leaderboard:
    """The leaderboard of ``rows``: entries, cross-modality summary and split notes."""
    table = summarize(rows, direction)
    ordered = table.assign(_r=table["rank"].fillna(10**9)).sort_values(
        ["dataset", "evaluator", "label_set", "metric", "ranking", "_r"], kind="stable").drop(columns="_r")
    summary = cross_modality(table)
    notes = [f"Intervals: {METHOD_INTERVAL}. Ties, ranks and 'beats': {METHOD_TEST}.",
             *split_notes(table), *anchor_notes(table)]
    return Leaderboard(table=ordered.reset_index(drop=True), summary=summary, notes=notes,
                       summary_counts=summary_counts(summary))


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
