"""The leaderboard for people: sectioned Markdown and one self-contained HTML page.

The HTML page needs no network to view: CSS is inline, charts are SVGs drawn by :mod:`sslbench.results.charts`,
inlined as ``data:`` URIs, there is no script, and a Content-Security-Policy
(``default-src 'none'``) forbids the page any request. Every string that came from
a plugin or a result row (component names, messages, settings) is HTML-escaped.
"""
from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sslbench import safeio
from sslbench.results import charts
from sslbench.results.identity import component_label
from sslbench.results.leaderboard import FORMATS, Leaderboard, render
from sslbench.results.stats import ALPHA, CONFIDENCE, MIN_SEEDS

KIND_ORDER = {"method": 0, "supervised": 1, "baseline": 2, "reference": 3}
REPORT_FILES = {"md": "LEADERBOARD.md", "csv": "leaderboard.csv", "html": "report.html"}
"""Format → file name that :func:`write_report` writes."""
HEATMAP_CAPTION = ("normalised score per task (rows) and dataset (columns), the mean over that dataset's "
                   "evaluators, metrics and models: 0 = random init of the same encoder, 1 = its supervised "
                   "training, below 0 worse than random init; hatched and blank where it is undefined")
NO_HEATMAP = ("No normalised score yet: it needs, beside a method, the random-init and the supervised entry of the "
              "same encoder, evaluator and budget (add 'supervised' to a grid's tasks).")
RANKING_CAPTION = ("one per ranking, methods best first; dot: mean over seeds; bar: its 95% interval; open circles: "
                   "the seeds, where there are too few for an interval; vertical lines: random init (grey, dashed), "
                   "no-encoder and evaluator references (purple, dash-dot), supervised (green, dotted); "
                   "in brackets: rank and number of seeds")
INTRO = (
    f"Mean over seeds with a {CONFIDENCE:.0%} Student-t interval of the mean (shown only with n ≥ {MIN_SEEDS} "
    f"seeds: below that no interval covers what it claims). Every method in a ranking shares its seeds, so "
    f"comparisons are paired: a two-sided paired t-test on the per-seed differences at {ALPHA:.0%}. Rank: "
    "methods in order of the mean; a method shares the rank of the best method above it (`=`) unless the "
    "paired test separates them, so a lower mean is never ranked above a higher one. `vs random-init` and "
    "`vs reference`: the same paired test against random init of the same encoder and against the "
    "no-encoder reference (better / worse / tie). Only rows with the same protocol and budget are ranked "
    "together. `normalized`: 0 = random init, 1 = supervised training of the same encoder under the same "
    "budget — shown only where supervised beats random init in the paired test."
)


def ranking_display(group: pd.DataFrame) -> pd.DataFrame:
    """One ranking's entries as display strings: methods by rank, then the anchors beside them."""
    ordered = group.assign(_k=group["kind"].map(KIND_ORDER), _r=group["rank"].astype("float").fillna(math.inf))
    ordered = ordered.sort_values(["_k", "_r", "mean"], ascending=[True, True, False], kind="stable")
    return pd.DataFrame({
        "rank": [_rank_text(r) for r in ordered.itertuples()],
        "task": _labels(ordered, "task"), "model": _labels(ordered, "model"),
        "mean": ordered["mean"].map(_num),
        "95% CI": [_ci(lo, hi) for lo, hi in zip(ordered["ci_low"], ordered["ci_high"])],
        "std": ordered["std"].map(_num), "n": ordered["n"].astype(int).astype(str),
        "gain": ordered["gain"].map(lambda v: _num(v, "+.4f")),
        "vs random-init": ordered["vs_baseline"].fillna(""),
        "vs reference": ordered["vs_reference"].fillna(""),
        "normalized": ordered["normalized"].map(lambda v: _num(v, ".2f")),
        "steps": ordered["steps"].map(lambda v: _num(v, ".0f")),
        "train s": ordered["train_seconds"].map(lambda v: _num(v, ".1f")),
        "GFLOPs": ordered["flops"].map(lambda v: _num(v / 1e9 if charts.finite(v) else v, ".3g")),
        "samples/s": ordered["samples_per_s"].map(lambda v: _num(v, ".0f")),
        "peak MiB": ordered["peak_memory_bytes"].map(lambda v: _num(v / 2**20 if charts.finite(v) else v, ".0f")),
        "kind": ordered["kind"],
    })


def _labels(entries: pd.DataFrame, kind: str) -> list[str]:
    """The entries' ``kind`` (task or model) names, a variant's with its base and changed options."""
    return [component_label(str(name), json.loads(settings).get(kind) or {})
            for name, settings in zip(entries[kind], entries["settings"])]


def summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The (task × dataset) summary as display strings: one row per task, one column per dataset."""
    grid = summary.pivot_table(index="task", columns="dataset", values="mean_normalized", aggfunc="mean")
    counts = summary.groupby("task")["entries"].sum()
    shown = grid.map(lambda v: _num(v, ".2f")).reset_index()
    shown["entries"] = shown["task"].map(counts).astype(str)
    shown["datasets / modalities"] = [
        f"{summary[summary['task'] == t]['dataset'].nunique()} / "
        f"{len({m for m in summary[summary['task'] == t]['modality'] if m})}" for t in shown["task"]]
    shown.columns.name = None
    return shown


def failures_display(failures: pd.DataFrame) -> pd.DataFrame:
    """Entries without a successful seed: which, how many seeds, the first message."""
    return failures[["dataset", "task", "model", "evaluator", "label_set", "failed", "message"]].astype(str)


def _rank_text(row: Any) -> str:
    if row.kind != "method":
        return f"({row.kind})"
    if pd.isna(row.rank):
        return ""
    return f"={int(row.rank)}" if row.tied else str(int(row.rank))



def _num(value: Any, spec: str = ".4f") -> str:
    return format(float(value), spec) if charts.finite(value) else ""


def _ci(low: Any, high: Any) -> str:
    return f"[{_num(low)}, {_num(high)}]" if charts.finite(low) else ""


# ---------------------------------------------------------------- Markdown


def board_markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown: summary, one table per ranking, failures, notes."""
    parts = ["# Leaderboard", "", INTRO, ""]
    if not board.summary.empty:
        parts += ["## Normalised score by task and dataset", "",
                  "Mean normalised score over the entries (models, evaluators, metrics) of each task on each "
                  "dataset, where it is defined; blank where it is not. Never averaged across datasets.", "",
                  _md_table(summary_display(board.summary)), ""]
    for name, group in board.rankings():
        parts += [f"## {name}", "", _md_table(ranking_display(group).drop(columns="kind")), ""]
    failures = board.failures()
    if not failures.empty:
        parts += ["## Failures", "", _md_table(failures_display(failures)), ""]
    if board.notes:
        parts += ["## Notes", "", *[f"- {note}" for note in board.notes], ""]
    return "\n".join(parts)


def render_board(board: Leaderboard, fmt: str, **report: Any) -> str:
    """The leaderboard as sectioned Markdown, CSV/JSON of the entries, or the HTML report.

    ``report`` (``curves``, ``manifest``) goes to :func:`render_html`.
    """
    if fmt == "md":
        return board_markdown(board)
    if fmt == "html":
        return render_html(board, **report)
    if fmt in FORMATS:
        return render(board.ranking_table(), fmt)
    raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def _md_table(frame: pd.DataFrame) -> str:
    cells = frame.map(lambda v: str(v).replace("|", "\\|").replace("\n", " "))
    return cells.to_markdown(index=False, disable_numparse=True)


# ---------------------------------------------------------------- HTML

CSS = """
body{color:#1d1d1f;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:100em;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{margin-bottom:.3em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e5e5e5;padding:.25em .6em;text-align:left;white-space:nowrap}
th{background:#f5f5f7}td.num{text-align:right}.wide{overflow-x:auto}
tr.baseline,tr.supervised,tr.reference{color:#666;font-style:italic}tr.tie td:first-child{color:#a15c00}
.meta,.note{color:#555}.note{background:#fff8e6;padding:.4em .8em;border-left:3px solid #e0a800}
img{max-width:100%;height:auto}figure{margin:1em 0}pre{background:#f5f5f7;padding:1em;overflow:auto;font-size:12px}
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_html(board: Leaderboard, curves: Sequence[Mapping[str, Any]] = (), manifest: Mapping[str, Any] | None = None,
                title: str = "sslbench report", rows: Sequence[Mapping[str, Any]] = ()) -> str:
    """One self-contained HTML page: the task × dataset heatmap, tables with one chart per ranking,
    loss curves, provenance. ``rows`` (the result rows) let a chart show the seeds of an entry
    that has no interval."""
    e = html.escape
    body = [f"<h1>{e(title)}</h1>", _meta(manifest), f"<p>{e(INTRO)}</p>"]
    grid = charts.task_dataset_scores(board.summary, board.table)
    heat = charts.heatmap(grid, charts.modalities_of(board.summary))
    body += ["<h2 id='heatmap'>Where each task wins</h2>", _figure(heat, HEATMAP_CAPTION, "heatmap") if heat else
             f"<p class='meta'>{e(NO_HEATMAP)}</p>"]
    if not board.summary.empty:
        body += ["<h2 id='summary'>Normalised score by task and dataset</h2>",
                 "<p>Mean normalised score over the entries (models, evaluators, metrics) of each task on each "
                 "dataset, where it is defined; blank where it is not. Never averaged across datasets.</p>",
                 _html_table(summary_display(board.summary))]
    body += ["<h2 id='rankings'>Rankings</h2>", f"<p class='meta'>Charts: {html.escape(RANKING_CAPTION)}.</p>"]
    seeds = charts.seed_values(rows) if rows else {}
    for index, (name, group) in enumerate(board.rankings()):
        shown = ranking_display(group)
        body += [f"<h3 id='ranking-{index}'>{e(name)}</h3>",
                 _figure(charts.ranking_chart(group, seeds), f"chart of {name}", "ranking-chart", caption=False),
                 _html_table(shown.drop(columns="kind"), shown)]
    failures = board.failures()
    if not failures.empty:
        body += ["<h2 id='failures'>Failures</h2>", _html_table(failures_display(failures))]
    if board.notes:
        body += ["<h2 id='notes'>Notes</h2>", *[f"<p class='note'>{e(n)}</p>" for n in board.notes]]
    body.append("<h2 id='curves'>Loss curves</h2>")
    for dataset, image in charts.loss_curve_figures(curves):
        body.append(_figure(image, f"pretraining loss of every {dataset} cell against the optimizer step, "
                                   "one line per seed", "curves"))
    body += _provenance(manifest)
    return _page(title, "\n".join(body))


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<link rel='icon' href='data:,'><title>{html.escape(title)}</title><style>{CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _html_table(frame: pd.DataFrame, annotated: pd.DataFrame | None = None) -> str:
    """A table whose every header and cell is escaped; rows classed by kind when ``annotated`` has it."""
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in frame.columns)
    lines = []
    for i, values in enumerate(frame.itertuples(index=False)):
        classes = []
        if annotated is not None:
            classes.append(str(annotated["kind"].iloc[i]))
            classes += ["tie"] if str(annotated["rank"].iloc[i]).startswith("=") else []
        cells = "".join(f"<td{_num_class(v)}>{e(str(v))}</td>" for v in values)
        lines.append(f"<tr class='{e(' '.join(classes))}'>{cells}</tr>")
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></div>"


def _num_class(value: Any) -> str:
    text = str(value).lstrip("=+[(").split(",")[0]
    try:
        float(text)
    except ValueError:
        return ""
    return " class='num'"


def _figure(image: bytes | None, text: str, css_class: str = "", caption: bool = True) -> str:
    """An SVG chart inlined as a ``data:`` URI (the page's CSP allows images from ``data:`` only);
    ``text`` is its alt text and, when ``caption``, its caption."""
    e = html.escape
    if image is None:
        return f"<p class='meta'>(nothing to plot: {e(text)})</p>"
    data = base64.b64encode(image).decode("ascii")
    below = f"<figcaption class='meta'>{e(text)}</figcaption>" if caption else ""
    mime = charts.PNG_MIME if image.startswith(b"\x89PNG") else charts.SVG_MIME
    img = f"<img alt='{e(text)}' src='data:{mime};base64,{data}'>"
    return f"<figure class='{e(css_class)}'>{img}{below}</figure>"


def _meta(manifest: Mapping[str, Any] | None) -> str:
    if not manifest:
        return "<p class='meta'>no manifest.json beside the rows</p>"
    prov = manifest.get("provenance") or {}
    facts = {"config": manifest.get("config_file", ""), "config hash": manifest.get("config_hash", ""),
             "git": prov.get("git", ""), "device": prov.get("device", ""), "sslbench": prov.get("sslbench", ""),
             "torch": prov.get("torch", ""), "time": prov.get("time", "")}
    shown = " · ".join(f"{html.escape(k)}: {html.escape(str(v))}" for k, v in facts.items() if v)
    return f"<p class='meta'>{shown}</p>"


def _provenance(manifest: Mapping[str, Any] | None) -> list[str]:
    if not manifest:
        return []
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
    return ["<h2 id='provenance'>Provenance</h2>",
            f"<details><summary>manifest.json</summary><pre>{html.escape(text)}</pre></details>"]


# ---------------------------------------------------------------- files


def write_report(board: Leaderboard, out_dir: Path, curves: Sequence[Mapping[str, Any]] = (),
                 manifest: Mapping[str, Any] | None = None, title: str = "sslbench report",
                 rows: Sequence[Mapping[str, Any]] = ()) -> list[Path]:
    """Write ``LEADERBOARD.md``, ``leaderboard.csv`` and ``report.html`` into ``out_dir``, each atomically."""
    safeio.ensure_dir(out_dir)
    texts = {
        "md": board_markdown(board),
        "csv": render(board.ranking_table(), "csv"),
        "html": render_html(board, curves, manifest, title, rows),
    }
    written = []
    for fmt, text in texts.items():
        safeio.atomic_write(out_dir / REPORT_FILES[fmt], text.encode())
        written.append(out_dir / REPORT_FILES[fmt])
    return written


