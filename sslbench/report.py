"""The leaderboard for people: sectioned Markdown and one self-contained HTML page.

The HTML page needs no network to view: CSS is inline, plots are matplotlib PNGs
inlined as ``data:`` URIs, there is no script, and a Content-Security-Policy
(``default-src 'none'``) forbids the page any request. Every string that came from
a plugin or a result row (component names, messages, settings) is HTML-escaped.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sslbench.leaderboard import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE, Leaderboard, render

KIND_ORDER = {"method": 0, "supervised": 1, "baseline": 2, "reference": 3}
REPORT_FILES = {"md": "LEADERBOARD.md", "csv": "leaderboard.csv", "html": "report.html"}
"""Format → file name that :func:`write_report` writes."""
MAX_PLOTS = 36  # score-versus-compute panels per page; more rankings than this are listed, not drawn
INTRO = (
    f"Mean over seeds with a {CONFIDENCE:.0%} bootstrap confidence interval of the mean "
    f"({BOOTSTRAP_RESAMPLES:,} resamples of the seeds, bootstrap seed {BOOTSTRAP_SEED}; with n = 1 the interval "
    "is the point itself). Rank: the best method leads; methods whose interval overlaps the leader's share its "
    "rank (`=`). Only rows with the same protocol and budget are ranked together. `normalized`: 0 = random "
    "init, 1 = supervised training of the same encoder under the same budget."
)


def ranking_display(group: pd.DataFrame) -> pd.DataFrame:
    """One ranking's entries as display strings: methods by rank, then the anchors beside them."""
    ordered = group.assign(_k=group["kind"].map(KIND_ORDER), _r=group["rank"].astype("float").fillna(math.inf))
    ordered = ordered.sort_values(["_k", "_r", "mean"], ascending=[True, True, False], kind="stable")
    return pd.DataFrame({
        "rank": [_rank_text(r) for r in ordered.itertuples()],
        "task": ordered["task"], "model": ordered["model"],
        "mean": ordered["mean"].map(_num),
        "95% CI": [_ci(lo, hi) for lo, hi in zip(ordered["ci_low"], ordered["ci_high"])],
        "std": ordered["std"].map(_num), "n": ordered["n"].astype(int).astype(str),
        "gain": ordered["gain"].map(lambda v: _num(v, "+.4f")),
        "normalized": ordered["normalized"].map(lambda v: _num(v, ".2f")),
        "steps": ordered["steps"].map(lambda v: _num(v, ".0f")),
        "train s": ordered["train_seconds"].map(lambda v: _num(v, ".1f")),
        "GFLOPs": ordered["flops"].map(lambda v: _num(v / 1e9 if _finite(v) else v, ".3g")),
        "samples/s": ordered["samples_per_s"].map(lambda v: _num(v, ".0f")),
        "peak MiB": ordered["peak_memory_bytes"].map(lambda v: _num(v / 2**20 if _finite(v) else v, ".0f")),
        "kind": ordered["kind"],
    })


def summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The cross-modality summary as display strings."""
    return pd.DataFrame({
        "task": summary["task"], "kind": summary["kind"],
        "mean normalized": summary["mean_normalized"].map(lambda v: _num(v, ".3f")),
        "entries": summary["entries"].astype(str), "datasets": summary["datasets"],
    })


def failures_display(failures: pd.DataFrame) -> pd.DataFrame:
    """Entries without a successful seed: which, how many seeds, the first message."""
    return failures[["dataset", "task", "model", "evaluator", "label_set", "failed", "message"]].astype(str)


def _rank_text(row: Any) -> str:
    if row.kind != "method":
        return f"({row.kind})"
    if pd.isna(row.rank):
        return ""
    return f"={int(row.rank)}" if row.tied else str(int(row.rank))


def _finite(value: Any) -> bool:
    return value is not None and not pd.isna(value) and math.isfinite(float(value))


def _num(value: Any, spec: str = ".4f") -> str:
    return format(float(value), spec) if _finite(value) else ""


def _ci(low: Any, high: Any) -> str:
    return f"[{_num(low)}, {_num(high)}]" if _finite(low) else ""


# ---------------------------------------------------------------- Markdown


def board_markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown: summary, one table per ranking, failures, notes."""
    parts = ["# Leaderboard", "", INTRO, ""]
    if not board.summary.empty:
        parts += ["## Cross-modality summary", "", "Mean normalised score per task over every entry that has one.", "",
                  _md_table(summary_display(board.summary)), ""]
    for name, group in board.rankings():
        parts += [f"## {name}", "", _md_table(ranking_display(group).drop(columns="kind")), ""]
    failures = board.failures()
    if not failures.empty:
        parts += ["## Failures", "", _md_table(failures_display(failures)), ""]
    if board.notes:
        parts += ["## Notes", "", *[f"- {note}" for note in board.notes], ""]
    return "\n".join(parts)


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
                title: str = "sslbench report") -> str:
    """One self-contained HTML page: tables, score-versus-compute and loss-curve plots, provenance."""
    e = html.escape
    body = [f"<h1>{e(title)}</h1>", _meta(manifest), f"<p>{e(INTRO)}</p>"]
    if not board.summary.empty:
        body += ["<h2 id='summary'>Cross-modality summary</h2>",
                 "<p>Mean normalised score per task over every entry that has one.</p>",
                 _html_table(summary_display(board.summary))]
    body.append("<h2 id='rankings'>Rankings</h2>")
    for index, (name, group) in enumerate(board.rankings()):
        shown = ranking_display(group)
        body += [f"<h3 id='ranking-{index}'>{e(name)}</h3>", _html_table(shown.drop(columns="kind"), shown)]
    failures = board.failures()
    if not failures.empty:
        body += ["<h2 id='failures'>Failures</h2>", _html_table(failures_display(failures))]
    if board.notes:
        body += ["<h2 id='notes'>Notes</h2>", *[f"<p class='note'>{e(n)}</p>" for n in board.notes]]
    body += ["<h2 id='compute'>Score versus compute</h2>", _figure(score_compute_figure(board, MAX_PLOTS),
             "each panel is one ranking; error bars are the 95% intervals; dashed: random init, dotted: supervised")]
    body.append("<h2 id='curves'>Loss curves</h2>")
    for dataset, png in loss_curve_figures(curves):
        body.append(_figure(png, f"pretraining loss of every {dataset} cell, one line per seed"))
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


def _figure(png: bytes | None, caption: str) -> str:
    if png is None:
        return f"<p class='meta'>(nothing to plot: {html.escape(caption)})</p>"
    data = base64.b64encode(png).decode("ascii")
    return f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>" \
           f"<figcaption class='meta'>{html.escape(caption)}</figcaption></figure>"


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


# ---------------------------------------------------------------- plots (matplotlib, PNG)


def score_compute_figure(board: Leaderboard, max_panels: int = MAX_PLOTS) -> bytes | None:
    """Score against training compute, one panel per ranking (GFLOPs when every method has
    them, else train seconds; log scale), error bars = the intervals, anchors as lines."""
    panels = [(name, g) for name, g in board.rankings() if (g["kind"] == "method").any()][:max_panels]
    if not panels:
        return None
    fig, axes = _grid_figure(len(panels))
    for ax, (name, group) in zip(axes, panels):
        _score_panel(ax, name, group)
    return _png(fig)


def _score_panel(ax: Any, name: str, group: pd.DataFrame) -> None:
    methods = group[(group["kind"] == "method") & group["mean"].notna()]
    use_flops = methods["flops"].notna().all() and (methods["flops"] > 0).all()
    x = methods["flops"] / 1e9 if use_flops else methods["train_seconds"]
    for (task, model), idx in methods.groupby(["task", "model"]).groups.items():
        sub = methods.loc[idx]
        err = [sub["mean"] - sub["ci_low"], sub["ci_high"] - sub["mean"]]
        ax.errorbar(x.loc[idx], sub["mean"], yerr=err, fmt="o", capsize=3, label=_plain(f"{task} / {model}"))
    for kind, style in (("baseline", "--"), ("supervised", ":")):
        for value in group.loc[(group["kind"] == kind), "mean"].dropna():
            ax.axhline(value, linestyle=style, color="grey" if kind == "baseline" else "green", linewidth=1)
    if (x > 0).all() and len(x):
        ax.set_xscale("log")
    ax.set_xlabel("GFLOPs" if use_flops else "train seconds")
    ax.set_title(_plain(name), fontsize=8)
    ax.legend(fontsize=6, loc="best")


def loss_curve_figures(curves: Sequence[Mapping[str, Any]]) -> list[tuple[str, bytes]]:
    """One figure per dataset, one panel per (task, model) cell and series, one line per seed.

    The series are the loss and each extra value the task logged (a curve's ``logs``,
    aligned with its ``losses``); a log's panel is titled ``task / model: name``.
    """
    by_dataset: dict[str, dict[tuple[str, str, str], list[Mapping[str, Any]]]] = {}
    for curve in curves:
        for series in ("loss", *sorted(curve.get("logs") or {})):
            cell = (str(curve.get("task", "")), str(curve.get("model", "")), series)
            by_dataset.setdefault(str(curve.get("dataset", "")), {}).setdefault(cell, []).append(curve)
    figures = []
    for dataset, cells in sorted(by_dataset.items()):
        fig, axes = _grid_figure(len(cells))
        order = sorted(cells.items(), key=lambda c: (c[0][:2], c[0][2] != "loss", c[0][2]))  # each cell's loss first
        for ax, ((task, model, series), runs) in zip(axes, order):
            for run in sorted(runs, key=lambda r: str(r.get("seed"))):
                points = _series_points(run, series)
                ax.plot([p[0] for p in points], [p[1] for p in points], label=_plain(f"seed {run.get('seed')}"))
            ax.set_title(_plain(f"{task} / {model}" + ("" if series == "loss" else f": {series}")), fontsize=8)
            ax.set_xlabel("step")
            ax.legend(fontsize=6)
        figures.append((dataset, _png(fig)))
    return figures


def _series_points(curve: Mapping[str, Any], series: str) -> list[tuple[float, float]]:
    """(step, value) of the loss, or of one logged value (its nulls left out), of one curve."""
    points = [p for p in curve.get("losses") or [] if len(p) == 2]
    if series == "loss":
        return [(p[0], p[1]) for p in points]
    values = (curve.get("logs") or {}).get(series) or []
    return [(p[0], v) for p, v in zip(points, values) if v is not None]


def _grid_figure(panels: int, columns: int = 3) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure  # local: matplotlib loads only when a report is drawn

    cols = min(columns, panels)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), dpi=80, layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _plain(text: str) -> str:
    """Text for matplotlib, with ``$`` escaped so a name never turns into mathtext."""
    return text.replace("$", r"\$")


# ---------------------------------------------------------------- files


def write_report(board: Leaderboard, out_dir: Path, curves: Sequence[Mapping[str, Any]] = (),
                 manifest: Mapping[str, Any] | None = None, title: str = "sslbench report") -> list[Path]:
    """Write ``LEADERBOARD.md``, ``leaderboard.csv`` and ``report.html`` into ``out_dir``, each atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {
        "md": board_markdown(board),
        "csv": render(board.table, "csv"),
        "html": render_html(board, curves, manifest, title),
    }
    written = []
    for fmt, text in texts.items():
        written.append(write_atomic(out_dir / REPORT_FILES[fmt], text))
    return written


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary sibling, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of ``path`` (empty when it does not exist); a torn tail is skipped (:mod:`sslbench.jsonl`)."""
    from sslbench.jsonl import read_records

    return read_records(path) if path.is_file() else []
