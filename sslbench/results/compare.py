"""Compare two leaderboards for CI: what got worse beyond its confidence interval.

Entries are matched on (dataset, task, model, evaluator, label set, metric) with the
same protocol, budget and settings. For a higher-is-better metric a *regression* is
a new mean below the baseline's interval minus ``tolerance`` (absolute); an
*improvement* a new mean above its interval plus ``tolerance``; lower-is-better
metrics mirror this. Where the baseline has no interval (fewer than 3 seeds, see
:mod:`sslbench.results.stats`) the baseline mean ± ``tolerance`` takes its place, and the
output names the rule used. A cell that succeeded in the baseline and fails in the new
run is a regression too. Entries whose protocol, budget or settings changed are listed
as *changed*, never compared. New entries are listed; *vanished* ones (in the
baseline, not in the new run) fail the comparison unless allowed, and two tables
with no entry in common fail it whatever else they hold — a CI gate must not pass a
run that lost its rows.

Either side may be a result folder (or its ``rows.jsonl``), or a ``leaderboard.csv``
/ ``.json`` written by ``sslbench leaderboard`` or ``sslbench report`` — so a
committed ``results/leaderboard.csv`` can be the baseline.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sslbench.results import ROWS_FILE, read_rows
from sslbench.results.identity import identity_of_row
from sslbench.results.leaderboard import (
    GROUP_KEYS,
    TABLE_COLUMNS,
    Direction,
    canonical,
    higher_always,
    summarize,
    variant_labels,
)

Migrate = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
"""Rows → the same rows with their identities (see :func:`load_entries`)."""
MATCH_KEYS = [*GROUP_KEYS, "protocol", "budget", "settings"]
NUMERIC = ["mean", "std", "ci_low", "ci_high", "n", "failed"]


@dataclass(frozen=True)
class Change:
    """One matched entry (or one side only) and what happened to it."""

    name: str  # "dataset / task / model / evaluator / label_set / metric"
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


@dataclass
class Comparison:
    """The entries of the new leaderboard sorted by what happened relative to the baseline."""

    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)  # protocol, budget or settings differ: not compared
    new: list[Change] = field(default_factory=list)
    vanished: list[Change] = field(default_factory=list)
    unchanged: int = 0
    allow_vanished: bool = False

    @property
    def shared(self) -> int:
        """Entries found on both sides and judged."""
        return len(self.regressions) + len(self.improvements) + self.unchanged

    @property
    def failure(self) -> str:
        """Why the comparison fails, in one line ("" when it passes)."""
        if not self.shared:
            return (f"no entry in common between the baseline and the new run ({len(self.vanished)} vanished, "
                    f"{len(self.new)} new, {len(self.changed)} changed)")
        if self.regressions:
            return f"{len(self.regressions)} regression(s)"
        if self.vanished and not self.allow_vanished:
            return f"{len(self.vanished)} baseline entr{'y' if len(self.vanished) == 1 else 'ies'} vanished " \
                   "(pass --allow-vanished if that is intended)"
        return ""

    @property
    def exit_code(self) -> int:
        """1 when anything regressed, vanished (unless allowed) or nothing is shared, else 0."""
        return 1 if self.failure else 0


def load_entries(path: Path, direction: Direction = higher_always, migrate: Migrate | None = None) -> pd.DataFrame:
    """Leaderboard entries of a result folder, a ``rows.jsonl``, or a leaderboard CSV/JSON.

    ``migrate`` gives rows written before identities left defaults out (format 1) their
    identity under the installed plugins' defaults (:func:`sslbench.results.identity.with_identity`),
    so that a baseline written by an older sslbench matches a new run's entries; it applies to
    the entries of an old leaderboard table too.

    Raises:
        ValueError: the path holds none of these, or a table lacks the entry columns.
    """
    if path.is_dir() or path.name.endswith(".jsonl"):
        source = path / ROWS_FILE if path.is_dir() else path
        if not source.is_file():
            raise ValueError(f"{path}: no rows.jsonl there; pass a result folder, rows.jsonl or leaderboard.csv/.json")
        rows = read_rows(source)
        return summarize(migrate(rows) if migrate else rows, direction)
    if not path.is_file():
        raise ValueError(f"{path}: no such file or folder")
    if path.suffix == ".csv":
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif path.suffix == ".json":
        table = pd.DataFrame.from_records(json.loads(path.read_text()))
    else:
        raise ValueError(f"{path}: not a result folder, rows.jsonl, .csv or .json leaderboard")
    table = _typed(table, path)
    return _migrated_table(table, migrate) if migrate else table


def _migrated_table(table: pd.DataFrame, migrate: Migrate) -> pd.DataFrame:
    """A leaderboard table's protocol and settings columns as identities (see :func:`load_entries`)."""
    table = table.copy()
    for index, entry in table.iterrows():
        try:
            protocol, settings = json.loads(entry["protocol"] or "{}"), json.loads(entry["settings"] or "{}")
        except ValueError:
            continue
        row = {**{k: entry[k] for k in GROUP_KEYS}, "protocol": protocol, "settings": settings}
        if "modality" in table:
            row["modality"] = entry["modality"]
        protocol, settings = identity_of_row(migrate([row])[0])
        table.at[index, "protocol"], table.at[index, "settings"] = canonical(protocol), canonical(settings)
    return table


def _typed(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    missing = [c for c in [*MATCH_KEYS, *NUMERIC, "higher_is_better"] if c not in table]
    if missing:
        raise ValueError(f"{path}: not a leaderboard table; missing columns {', '.join(missing)} "
                         f"(expected those of 'sslbench leaderboard --format csv')")
    for column in NUMERIC:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    table["higher_is_better"] = table["higher_is_better"].map(lambda v: str(v).lower() not in ("false", "0"))
    for column in MATCH_KEYS:
        table[column] = table[column].map(_text)
    table["message"] = table["message"].fillna("") if "message" in table else ""
    table = table.drop_duplicates(MATCH_KEYS)  # an anchor is listed beside each ranking it stands in
    return table[[c for c in TABLE_COLUMNS if c in table]]


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def compare(baseline: pd.DataFrame, new: pd.DataFrame, tolerance: float = 0.0,
            allow_vanished: bool = False) -> Comparison:
    """Sort ``new``'s entries against ``baseline``'s (see the module docstring)."""
    if tolerance < 0:
        raise ValueError(f"tolerance: must be >= 0, got {tolerance}")
    result = Comparison(allow_vanished=allow_vanished)
    old_ok, new_ok = _ok(baseline), _ok(new)
    merged = old_ok.merge(new_ok, on=MATCH_KEYS, how="outer", suffixes=("_old", "_new"), indicator=True)
    for row in merged[merged["_merge"] == "both"].itertuples(index=False):
        _judge(result, row, tolerance)
    gone = merged[merged["_merge"] == "left_only"]
    came = merged[merged["_merge"] == "right_only"]
    _pair_changed(result, gone, came)
    _failures(result, gone, new)
    return result


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["n"] > 0][[*MATCH_KEYS, "mean", "ci_low", "ci_high", "n", "higher_is_better"]]


def _name(row: object) -> str:
    return " / ".join(str(getattr(row, k)) for k in GROUP_KEYS)


def _judge(result: Comparison, row: object, tolerance: float) -> None:
    higher = bool(row.higher_is_better_old)
    new, low, high = row.mean_new, row.ci_low_old, row.ci_high_old
    rule = "beyond the baseline's 95% interval ± tolerance"
    if pd.isna(low) or pd.isna(high):  # fewer than 3 baseline seeds: no interval to lean on
        low = high = row.mean_old
        rule = "beyond the baseline mean ± tolerance (baseline n < 3: no interval)"
    worse = new < low - tolerance if higher else new > high + tolerance
    better = new > high + tolerance if higher else new < low - tolerance
    detail = (f"{new:.4f} (n={int(row.n_new)}) vs baseline {row.mean_old:.4f} [{low:.4f}, {high:.4f}] "
              f"(n={int(row.n_old)}); rule: {rule}")
    if worse:
        result.regressions.append(Change(_name(row), detail))
    elif better:
        result.improvements.append(Change(_name(row), detail))
    else:
        result.unchanged += 1


def _pair_changed(result: Comparison, gone: pd.DataFrame, came: pd.DataFrame) -> None:
    """Entries present on both sides under different protocol/budget/settings are 'changed'."""
    paired: set[tuple] = set()
    for key, old in gone.groupby(GROUP_KEYS, sort=False):
        fresh = came[(came[GROUP_KEYS] == pd.Series(key, index=GROUP_KEYS)).all(axis=1)]
        if fresh.empty:
            continue
        paired.add(key)
        variants = [(f"{r.protocol}", f"{r.budget}") for r in [*old.itertuples(), *fresh.itertuples()]]
        what = "; ".join(dict.fromkeys(v for v in variant_labels(variants) if v)) or "settings"
        detail = f"not compared: protocol/budget/settings changed ({what})"
        result.changed.append(Change(" / ".join(map(str, key)), detail))
    for frame, bucket in ((gone, result.vanished), (came, result.new)):
        for row in frame.itertuples(index=False):
            if tuple(getattr(row, k) for k in GROUP_KEYS) not in paired:
                mean = row.mean_old if frame is gone else row.mean_new
                bucket.append(Change(_name(row), f"mean {mean:.4f}"))


def _failures(result: Comparison, gone: pd.DataFrame, new: pd.DataFrame) -> None:
    """A vanished entry whose cell now fails is a regression, not just gone."""
    failed = new[(new["n"] == 0) & (new["failed"] > 0)]
    cell = ["dataset", "task", "model", "evaluator", "label_set"]
    for row in gone.itertuples(index=False):
        hit = failed[(failed[cell] == pd.Series([getattr(row, k) for k in cell], index=cell)).all(axis=1)]
        if not hit.empty:
            name = _name(row)
            result.vanished = [c for c in result.vanished if c.name != name]
            detail = f"now fails ({hit['message'].iloc[0]}); baseline {row.mean_old:.4f}"
            result.regressions.append(Change(name, detail))


def render_comparison(result: Comparison, baseline: str, new: str, tolerance: float) -> str:
    """A plain-text report, one line per entry that is not unchanged."""
    lines = [f"compare {baseline} -> {new} (tolerance {tolerance:g})"]
    sections = (("regressions", result.regressions), ("improvements", result.improvements),
                ("changed, not compared", result.changed), ("new", result.new), ("vanished", result.vanished))
    for title, changes in sections:
        lines.append(f"{title}: {len(changes)}")
        lines += [f"  {c}" for c in changes]
    lines.append(f"unchanged within the interval: {result.unchanged}")
    lines.append(f"FAIL: {result.failure}" if result.failure else "PASS")
    return "\n".join(lines) + "\n"


def render_markdown(result: Comparison, baseline: str, new: str, tolerance: float) -> str:
    """The comparison as a Markdown summary a CI job can post (e.g. to ``$GITHUB_STEP_SUMMARY``)."""
    verdict = f"**FAIL** — {_md(result.failure)}" if result.failure else "**PASS**"
    lines = [
        f"### sslbench compare: {verdict}", "",
        f"`{_md(baseline)}` → `{_md(new)}`, tolerance {tolerance:g}: {len(result.regressions)} regressions, "
        f"{len(result.improvements)} improved, {result.unchanged} unchanged, {len(result.vanished)} vanished"
        f"{' (allowed)' if result.allow_vanished and result.vanished else ''}, {len(result.new)} new, "
        f"{len(result.changed)} changed (not compared).", "",
    ]
    for title, changes in (("Regressions", result.regressions), ("Vanished", result.vanished),
                           ("Improvements", result.improvements), ("Changed, not compared", result.changed),
                           ("New", result.new)):
        if changes:
            lines += [f"#### {title}", "", "| entry | detail |", "|---|---|"]
            lines += [f"| {_md(c.name)} | {_md(c.detail)} |" for c in changes] + [""]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
