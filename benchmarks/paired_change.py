"""How one evaluator's rows moved between two runs of the same grid: per (dataset, task, model, evaluator),
the mean over seeds before and after and the per-seed change (min … max), paired on the seed.

For a protocol change that re-runs a committed grid (e.g. ``finetune``'s head starting from the probe's fit),
where ``sslbench compare`` matches nothing because the evaluator's identity changed on purpose. Only rows that
finished in both runs and share (dataset, task, model, evaluator, label set, metric, seed) are paired; the
count of pairs is printed. Prints a Markdown table::

    git show af26eeb:results/rows.jsonl > before.jsonl
    python benchmarks/paired_change.py before.jsonl results/rows.jsonl --evaluator finetune
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from sslbench.results import dedupe, read_rows

KEYS = ["dataset", "task", "model", "evaluator", "label_set", "metric", "seed"]


def finished_rows(path: Path, evaluator: str) -> pd.DataFrame:
    """The finished rows of ``evaluator`` (its variants included: names starting with it) in a rows file, read
    by sslbench's own reader (torn last lines skipped) and deduplicated as a merge does (the last row of an
    identity kept), so a resumed run's repeated row is paired once."""
    rows = pd.DataFrame(dedupe(read_rows(path)))
    rows = rows[(rows["status"] == "ok") & rows["evaluator"].str.startswith(evaluator)]
    return rows[KEYS + ["value"]]


def paired_change(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """One line per (dataset, task, model, evaluator, label set, metric): means over the paired seeds, change."""
    pairs = before.merge(after, on=KEYS, suffixes=("_before", "_after"))
    pairs["change"] = pairs["value_after"] - pairs["value_before"]
    group = pairs.groupby(KEYS[:-1], sort=True)
    return group.agg(seeds=("seed", "count"), before=("value_before", "mean"), after=("value_after", "mean"),
                     change=("change", "mean"), lowest=("change", "min"), highest=("change", "max")).reset_index()


def markdown(table: pd.DataFrame) -> str:
    lines = ["| dataset | task | model | evaluator | seeds | before | after | mean change | change range |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.dataset} | {r.task} | {r.model} | {r.evaluator} | {r.seeds} | {r.before:.4f} | "
                     f"{r.after:.4f} | {r.change:+.4f} | {r.lowest:+.4f} … {r.highest:+.4f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="rows.jsonl of the earlier run")
    parser.add_argument("after", type=Path, help="rows.jsonl of the later run")
    parser.add_argument("--evaluator", required=True, help="evaluator name (its variants, name-…, included)")
    args = parser.parse_args()
    for path in (args.before, args.after):
        if not path.is_file():
            print(f"{path}: no such rows file (give a run's rows.jsonl)", file=sys.stderr)
            return 2
    try:
        table = paired_change(finished_rows(args.before, args.evaluator), finished_rows(args.after, args.evaluator))
    except ValueError as err:  # a damaged line or a record that is not a row: read_rows names it
        print(err, file=sys.stderr)
        return 2
    if table.empty:
        print(f"no {args.evaluator} rows pair up between {args.before} and {args.after}", file=sys.stderr)
        return 2
    print(markdown(table))
    moved = table[table["change"] != 0]
    print(f"\n{int(table['seeds'].sum())} paired rows in {len(table)} lines; {len(moved)} lines changed on the mean; "
          f"mean change {table['change'].mean():+.4f}; lines up / down: {(table['change'] > 0).sum()} / "
          f"{(table['change'] < 0).sum()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
