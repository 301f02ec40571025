"""The report's charts: one dot-and-interval chart per ranking, a task × dataset heatmap of
the normalised score, and the pretraining loss curves — matplotlib figures written as SVG.

Every chart is an SVG document (text kept as text, no external reference) that
:mod:`sslbench.results.report` inlines as a ``data:`` URI, so the page stays self-contained.
matplotlib is used through its object API (``matplotlib.figure.Figure``) with no
pyplot state and no GUI backend; it is imported only when a chart is drawn.

Reading the ranking chart (Cleveland & McGill, 1984, dot plots; the interval bar is the
leaderboard's interval of the mean): one row per method, best on top, the dot its mean
over seeds and the bar its interval; where the entry has no interval (too few seeds)
the seeds themselves are drawn as small open circles. Random init, the no-encoder and
evaluator references, and supervised training are vertical lines labelled by name.
"""
from __future__ import annotations

import io
import json
import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sslbench.anchors import NO_ENCODER
from sslbench.results.leaderboard import ENTRY_KEYS, rows_frame

SVG_MIME = "image/svg+xml"
PNG_MIME = "image/png"
CURVE_DPI = 72  # loss curves are raster: dozens of panels as SVG paths weighed ~1 MB per report
METHOD_COLOUR = "#1f5fa8"
ANCHOR_STYLE = {  # kind → how its vertical line looks
    "baseline": {"color": "#6e6e73", "linestyle": (0, (5, 3))},
    "reference": {"color": "#8e44ad", "linestyle": (0, (6, 2, 1, 2))},
    "supervised": {"color": "#1a7f37", "linestyle": (0, (1.5, 1.5))},
}
ANCHOR_NAME = {"baseline": "random init", "reference": "reference", "supervised": "supervised"}
FONT = 9.0  # points; tick labels and annotations
WIDTH_IN = 9.0  # width of a ranking chart, inches
LABEL_IN = 2.6  # room for the method names on the left, inches
CHAR_IN = 0.55 * FONT / 72  # rough width of one character of an anchor label, inches

SeedValues = Mapping[tuple[str, ...], list[float]]
"""Entry key (the values of :data:`sslbench.results.leaderboard.ENTRY_KEYS`) → the successful seeds' values."""


# ---------------------------------------------------------------- shared


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import (
        Figure,  # local: matplotlib loads only when a chart is drawn
    )

    return Figure(figsize=(width, height), layout="constrained")


def png(fig: Any, dpi: int = CURVE_DPI) -> bytes:
    """The figure as PNG bytes (for charts with many lines, where SVG would be large)."""
    from PIL import Image  # matplotlib's own dependency

    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=dpi, metadata={"Software": None})
    raw.seek(0)
    # line plots hold a few dozen colours: a 64-colour palette keeps them and is ~4x smaller than RGBA
    image = Image.open(raw).convert("RGB").quantize(colors=64)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def svg(fig: Any) -> bytes:
    """The figure as a standalone SVG document, text as ``<text>`` (small, selectable)."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "sslbench", "font.size": FONT}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def plain(text: Any) -> str:
    """Text for matplotlib, with ``$`` escaped so a name never turns into mathtext."""
    return str(text).replace("$", r"\$")


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite number (``None``, NaN, ±inf and non-numbers are not)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------- ranking chart


def seed_values(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], list[float]]:
    """The successful seeds' values of every entry, keyed like the leaderboard's entries."""
    frame = rows_frame(rows)
    frame = frame[(frame["status"] == "ok") & frame["value"].notna()]
    return {tuple(str(k) for k in key): [float(v) for v in group["value"]]
            for key, group in frame.groupby(ENTRY_KEYS, sort=False)}


def _entry_key(entry: Any) -> tuple[str, ...]:
    return tuple(str(getattr(entry, k)) for k in ENTRY_KEYS)


def ranking_title(group: pd.DataFrame) -> tuple[str, str]:
    """(title, subtitle): "dataset · evaluator · metric", then label set, model and budget."""
    first = group.iloc[0]
    title = " · ".join(str(first[k]) for k in ("dataset", "evaluator", "metric"))
    parts = [f"labels: {first['label_set']}"] if str(first["label_set"]) else []
    models = list(dict.fromkeys(group["model"].astype(str)))
    parts.append(f"model: {models[0]}" if len(models) == 1 else f"models: {', '.join(models)}")
    trained = group[group["kind"].isin(["method", "supervised"])]
    if not trained.empty:
        parts.append("budget: " + budget_text(str(trained["budget"].iloc[0])))
    return title, " · ".join(parts)


def budget_text(budget: str) -> str:
    """A budget's JSON as a short phrase: "200 steps, batch 128, lr 0.001, adamw, cosine"."""
    try:
        b = json.loads(budget) if budget else {}
    except json.JSONDecodeError:
        return budget
    unit = b.get("unit", "steps")
    amount = b.get("amount", b.get("steps"))
    parts = [f"{amount:g} {unit}" if isinstance(amount, (int, float)) else f"{amount} {unit}"] if amount else []
    if b.get("steps") and unit != "steps":
        parts.append(f"{b['steps']} steps")
    parts += [f"batch {b['batch_size']}"] if "batch_size" in b else []
    parts += [f"lr {b['lr']:g}"] if isinstance(b.get("lr"), (int, float)) else []
    parts += [str(b[k]) for k in ("optimizer", "schedule") if b.get(k)]
    return ", ".join(parts) or "—"


def ranking_chart(group: pd.DataFrame, seeds: SeedValues | None = None) -> bytes:
    """One ranking as a dot-and-interval chart, as SVG (see :func:`ranking_figure`)."""
    return svg(ranking_figure(group, seeds))


def ranking_figure(group: pd.DataFrame, seeds: SeedValues | None = None) -> Any:
    """One ranking as a dot-and-interval chart (a matplotlib ``Figure``).

    Methods are rows, best on top: a dot at the mean, a bar over ``[ci_low, ci_high]``,
    or, where that interval is undefined, the seeds as open circles. Baseline, reference
    and supervised entries of the methods' encoders are labelled vertical lines.
    """
    higher = bool(group["higher_is_better"].iloc[0]) if len(group) else True
    methods = _methods_bottom_up(group, higher)
    if not methods.empty:  # anchors of encoders no method here uses would only crowd the chart
        # (the no-encoder reference has no encoder to match: it stands beside every method)
        keep = (group["kind"] == "method") | group["model"].isin(set(methods["model"])) | (group["task"] == NO_ENCODER)
        group = group[keep]
    several = group["model"].nunique() > 1
    anchors = _anchor_lines(group, several_models=several)
    rows = max(len(methods), 1)
    fig = _figure(WIDTH_IN, 1.55 + 0.34 * rows + 0.2 * max(len(anchors), 1))
    ax = fig.subplots()
    title, subtitle = ranking_title(group)
    fig.suptitle(plain(title), x=0.01, ha="left", fontsize=12, fontweight="bold")
    ax.set_title(plain(textwrap.shorten(subtitle, 110)), loc="left", fontsize=FONT, color="#555555")
    xs = _draw_methods(ax, methods, seeds or {}, several_models=several) + [x for x, _, _ in anchors]
    low, high = _limits(xs)
    ax.set_xlim(low, high)
    ax.set_ylim(-0.7, _draw_anchors(ax, anchors, low, high, rows))
    if methods.empty:
        ax.text(0.5, 0.4, "no pretext-task entry in this ranking", transform=ax.transAxes, ha="center",
                fontsize=FONT, color="#555555")
    _style_axes(ax, str(group["metric"].iloc[0]) if len(group) else "", higher)
    return fig


def _methods_bottom_up(group: pd.DataFrame, higher: bool) -> pd.DataFrame:
    """The ranking's methods with a mean, worst first (drawn at the bottom), best last (on top)."""
    methods = group[(group["kind"] == "method") & group["mean"].notna()]
    order = methods.assign(_r=pd.to_numeric(methods["rank"], errors="coerce").astype(float).fillna(math.inf))
    return order.sort_values(["_r", "mean"], ascending=[False, higher], kind="stable")


def _draw_methods(ax: Any, methods: pd.DataFrame, seeds: SeedValues, several_models: bool) -> list[float]:
    """Dots, bars or seed circles for each method; returns every x drawn."""
    xs: list[float] = []
    labels = []
    for y, entry in enumerate(methods.itertuples(index=False)):
        mean = float(entry.mean)
        xs.append(mean)
        if finite(entry.ci_low) and finite(entry.ci_high):
            ax.hlines(y, entry.ci_low, entry.ci_high, color=METHOD_COLOUR, alpha=0.35, linewidth=7)
            xs += [float(entry.ci_low), float(entry.ci_high)]
        else:
            values = seeds.get(_entry_key(entry), [])
            ax.plot(values, [y] * len(values), "o", markersize=4.5, markerfacecolor="white",
                    markeredgecolor=METHOD_COLOUR, markeredgewidth=1.2, zorder=3)
            xs += values
        ax.plot([mean], [y], "o", color=METHOD_COLOUR, markersize=7, zorder=4)
        ax.annotate(f"{mean:.4g}", (mean, y), xytext=(0, 6), textcoords="offset points", ha="center",
                    va="bottom", fontsize=FONT - 1.5, color="#333333")
        labels.append(_method_label(entry, several_models))
    ax.set_yticks(range(len(labels)), [plain(label) for label in labels])
    return xs


def _method_label(entry: Any, several_models: bool) -> str:
    rank = "" if pd.isna(entry.rank) else (f"={int(entry.rank)}" if entry.tied else str(int(entry.rank)))
    name = f"{entry.task} · {entry.model}" if several_models else str(entry.task)
    return f"{textwrap.shorten(name, 34)}  ({rank}, n={int(entry.n)})" if rank else f"{name}  (n={int(entry.n)})"


def _anchor_lines(group: pd.DataFrame, several_models: bool) -> list[tuple[float, str, str]]:
    """(x, label, kind) of each anchor entry; equal values of the same name are drawn once."""
    seen: dict[tuple[str, str, float], list[str]] = {}
    for entry in group[group["kind"].isin(list(ANCHOR_STYLE)) & group["mean"].notna()].itertuples(index=False):
        name = ANCHOR_NAME["baseline"] if entry.kind == "baseline" else str(entry.task)
        if entry.task == NO_ENCODER:
            name = f"no encoder ({entry.model})"
        key = (str(entry.kind), name, round(float(entry.mean), 12))
        seen.setdefault(key, []).append(str(entry.model))
    out = []
    for (kind, name, x), models in seen.items():
        label = f"{name} · {models[0]}" if several_models and len(models) == 1 and "(" not in name else name
        out.append((x, label, kind))
    return sorted(out)


def _limits(xs: Sequence[float]) -> tuple[float, float]:
    values = [x for x in xs if finite(x)]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = 0.08 * (high - low) if high > low else max(abs(low) * 0.05, 0.01)
    return low - pad, high + pad


def _draw_anchors(ax: Any, anchors: list[tuple[float, str, str]], low: float, high: float, rows: int) -> float:
    """Vertical lines with their names in stacked label rows above the methods; returns the y top."""
    width_in = WIDTH_IN - LABEL_IN
    per_in = (high - low) / width_in
    slot_end: list[float] = []  # the x where each label row's last label ends
    placed = []
    for x, label, kind in anchors:
        span = (len(label) + 1) * CHAR_IN * per_in
        right = x + span <= high
        start, end = (x, x + span) if right else (x - span, x)
        slot = next((i for i, e in enumerate(slot_end) if e < start), len(slot_end))
        if slot == len(slot_end):
            slot_end.append(end)
        slot_end[slot] = end
        placed.append((x, label, kind, slot, right))
    base = rows - 0.35
    for x, label, kind, slot, right in placed:
        ax.axvline(x, linewidth=1.4, zorder=1, **ANCHOR_STYLE[kind])
        ax.text(x, base + 0.55 * (slot + 0.5), f" {plain(label)} " , ha="left" if right else "right", va="center",
                fontsize=FONT - 0.5, color=ANCHOR_STYLE[kind]["color"], fontstyle="italic")
    return base + 0.55 * len(slot_end) + 0.15


def _style_axes(ax: Any, metric: str, higher: bool) -> None:
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    ax.xaxis.set_major_locator(MaxNLocator(nbins=7))
    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    ax.xaxis.set_major_formatter(formatter)
    ax.tick_params(labelsize=FONT)
    direction = "higher is better →" if higher else "← lower is better"
    ax.set_xlabel(plain(f"{metric}   ({direction})"), fontsize=FONT + 0.5)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)


# ---------------------------------------------------------------- heatmap


def task_dataset_scores(summary: pd.DataFrame, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The normalised score as a task × dataset frame (NaN where undefined).

    ``summary`` has one row per (task, dataset) with ``mean_normalized``; a summary
    without a ``dataset`` column (one row per task) is replaced by the mean of
    ``table``'s ``normalized`` per (task, dataset) over its methods and references.
    """
    if "dataset" not in summary.columns or summary.empty:
        if table is None or table.empty:
            return pd.DataFrame()
        scored = table[table["kind"].isin(["method", "reference"]) & table["normalized"].notna()]
        summary = scored.groupby(["task", "dataset"], as_index=False).agg(mean_normalized=("normalized", "mean"))
    if summary.empty:
        return pd.DataFrame()
    grid = summary.pivot_table(index="task", columns="dataset", values="mean_normalized", aggfunc="mean",
                               dropna=False)
    order = grid.mean(axis=1, skipna=True).sort_values(ascending=False, kind="stable").index
    columns = _dataset_order(summary, list(grid.columns))
    return grid.loc[order, columns].astype(float)


def _dataset_order(summary: pd.DataFrame, datasets: list[str]) -> list[str]:
    if "modality" not in summary.columns:
        return sorted(datasets)
    modality = summary.drop_duplicates("dataset").set_index("dataset")["modality"].astype(str)
    return sorted(datasets, key=lambda d: (modality.get(d, ""), d))


def heatmap(grid: pd.DataFrame, modalities: Mapping[str, str] | None = None) -> bytes | None:
    """The task × dataset grid as a heatmap (SVG), or None when it is empty.

    Diverging colours centred at 0 (random init); 1 is supervised training of the same
    encoder; the colour scale runs symmetric to the largest magnitude (at least 1).
    Cells without a score stay blank (hatched, no number).

    Shape:
        grid: (tasks, datasets) floats, NaN where undefined.
    """
    if grid.empty or not np.isfinite(grid.to_numpy(dtype=float)).any():
        return None
    from matplotlib.colors import Normalize

    values = grid.to_numpy(dtype=float)
    limit = max(1.0, float(np.nanmax(np.abs(values))))
    norm = Normalize(-limit, limit)
    tasks, datasets = list(grid.index), list(grid.columns)
    fig = _figure(3.6 + 1.15 * len(datasets), max(2.6, 1.4 + 0.4 * len(tasks)))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu", norm=norm, aspect="auto")
    ax.patch.set_facecolor("white")  # undefined cells: no value, hatched (0 itself is near-white on RdBu)
    ax.patch.set_hatch("////")
    ax.patch.set_edgecolor("#d5d5d5")
    for (i, j), v in np.ndenumerate(values):
        if math.isfinite(v):
            dark = abs(norm(v) - 0.5) > 0.3
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=FONT, color="white" if dark else "#1d1d1f")
    modalities = modalities or {}
    ax.set_xticks(range(len(datasets)),
                  [plain(f"{d}\n({modalities[d]})" if modalities.get(d) else d) for d in datasets], fontsize=FONT)
    ax.set_yticks(range(len(tasks)), [plain(t) for t in tasks], fontsize=FONT)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(len(datasets) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(tasks) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=2)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ticks = sorted({-limit, -1.0, 0.0, 1.0, limit})
    bar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.02, ticks=ticks, aspect=15)
    names = {0.0: "0 = random init", 1.0: "1 = supervised"}
    bar.ax.set_yticklabels([names.get(t, f"{t:g}") for t in ticks])
    bar.set_label("normalised score", fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT - 1)
    fig.suptitle("Normalised score by task and dataset", x=0.01, ha="left", fontsize=12, fontweight="bold")
    return svg(fig)


def modalities_of(summary: pd.DataFrame) -> dict[str, str]:
    """dataset → modality, from a summary that has both columns (else empty)."""
    if not {"dataset", "modality"} <= set(summary.columns):
        return {}
    return {str(d): str(m) for d, m in zip(summary["dataset"], summary["modality"]) if str(m)}


# ---------------------------------------------------------------- loss curves


def loss_curve_figures(curves: Sequence[Mapping[str, Any]], columns: int = 3) -> list[tuple[str, bytes]]:
    """One SVG per dataset: a panel per (task, model) cell and series, one line per seed, against step.

    The series are the loss and each extra value the task logged (a curve's ``logs``, aligned
    with its ``losses``); a log's panel is titled ``task · model: name``.
    """
    by_dataset: dict[str, dict[tuple[str, str, str], list[Mapping[str, Any]]]] = {}
    for curve in curves:
        for series in ("loss", *sorted(curve.get("logs") or {})):
            cell = (str(curve.get("task", "")), str(curve.get("model", "")), series)
            by_dataset.setdefault(str(curve.get("dataset", "")), {}).setdefault(cell, []).append(curve)
    figures = []
    for dataset, cells in sorted(by_dataset.items()):
        cols = min(columns, len(cells))
        rows = math.ceil(len(cells) / cols)
        fig = _figure(3.6 * cols + 0.4, 2.7 * rows + 0.5)
        axes = list(np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel())
        for ax in axes[len(cells):]:
            ax.set_visible(False)
        order = sorted(cells.items(), key=lambda c: (c[0][:2], c[0][2] != "loss", c[0][2]))  # each cell's loss first
        for ax, ((task, model, series), runs) in zip(axes, order):
            _loss_panel(ax, task, model, series, runs)
        fig.suptitle(plain(f"{dataset}: pretraining loss"), x=0.01, ha="left", fontsize=12, fontweight="bold")
        figures.append((dataset, png(fig)))
    return figures


def thinned(points: list[tuple[float, float]], most: int) -> list[tuple[float, float]]:
    """At most ``most`` of ``points``, evenly spaced, the first and the last always kept."""
    if len(points) <= most:
        return points
    step = (len(points) - 1) / (most - 1)
    return [points[round(i * step)] for i in range(most)]


def series_points(curve: Mapping[str, Any], series: str) -> list[tuple[float, float]]:
    """(step, value) of the loss, or of one logged value (its nulls left out), of one curve."""
    points = [p for p in curve.get("losses") or [] if len(p) == 2]
    if series == "loss":
        return [(p[0], p[1]) for p in points]
    values = (curve.get("logs") or {}).get(series) or []
    return [(p[0], v) for p, v in zip(points, values) if v is not None]


MAX_CURVE_POINTS = 100  # points drawn per seed and panel: the shape of a loss curve, a tenth of the page's bytes


def _loss_panel(ax: Any, task: str, model: str, series: str, runs: list[Mapping[str, Any]]) -> None:
    for run in sorted(runs, key=lambda r: str(r.get("seed"))):
        points = thinned(series_points(run, series), MAX_CURVE_POINTS)
        ax.plot([p[0] for p in points], [p[1] for p in points], linewidth=1.2, label=plain(f"seed {run.get('seed')}"))
    title = f"{task} · {model}" + ("" if series == "loss" else f": {series}")
    ax.set_title(plain(textwrap.shorten(title, 48)), fontsize=FONT + 1, loc="left")
    ax.set_xlabel("optimizer step", fontsize=FONT)
    ax.set_ylabel(plain(series), fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(color="#eeeeee", linewidth=0.8)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=FONT - 1, frameon=False)
