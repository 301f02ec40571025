"""The report's charts (sslbench.results.charts): order, direction, anchors, the heatmap's grid, escaping."""
import json

import numpy as np
import pandas as pd
import pytest
from rows import seeds

from sslbench.results.charts import (
    budget_text,
    heatmap,
    loss_curve_figures,
    ranking_chart,
    ranking_figure,
    seed_values,
    task_dataset_scores,
)
from sslbench.results.leaderboard import build


def only_ranking(rows):
    (_, group), = build(rows).rankings()
    return group


def labels(fig):
    """The y tick labels bottom to top, and the anchor labels."""
    ax = fig.axes[0]
    return [t.get_text() for t in ax.get_yticklabels()], [t.get_text().strip() for t in ax.texts
                                                          if t.get_fontstyle() == "italic"]


def test_methods_run_best_on_top_and_anchors_are_labelled_lines():
    rows = [*seeds("random-init", [0.5, 0.52, 0.51]), *seeds("supervised", [0.9, 0.92, 0.91]),
            *seeds("a", [0.6, 0.61, 0.62]), *seeds("b", [0.8, 0.82, 0.81]), *seeds("c", [0.7, 0.71, 0.69])]
    fig = ranking_figure(only_ranking(rows))
    methods, anchors = labels(fig)
    assert [m.split()[0] for m in methods] == ["a", "c", "b"]  # b best, drawn last = on top
    assert methods[-1] == "b  (1, n=3)" and sorted(anchors) == ["random init", "supervised"]
    lines = sorted(line.get_xdata()[0] for line in fig.axes[0].lines if len(set(line.get_xdata())) == 1
                   and line.get_linestyle() != "None" and len(line.get_xdata()) == 2)
    assert lines == pytest.approx([0.51, 0.91])
    assert "higher is better" in fig.axes[0].get_xlabel()


def test_a_lower_is_better_metric_puts_the_lowest_mean_on_top():
    rows = [*seeds("a", [0.3, 0.31]), *seeds("b", [0.1, 0.11])]
    group = build(rows, lambda evaluator, metric: False).rankings()[0][1]
    fig = ranking_figure(group)
    assert labels(fig)[0][-1].startswith("b") and "lower is better" in fig.axes[0].get_xlabel()


def test_without_an_interval_the_seeds_are_drawn():
    rows = [*seeds("random-init", [0.5, 0.5]), *seeds("a", [0.2, 0.9])]
    group = only_ranking(rows)
    group.loc[group["task"] == "a", ["ci_low", "ci_high"]] = np.nan
    fig = ranking_figure(group, seed_values(rows))
    drawn = [tuple(line.get_xdata()) for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert (0.2, 0.9) in drawn and fig.axes[0].get_xlim()[0] < 0.2 < 0.9 < fig.axes[0].get_xlim()[1]


def test_names_are_text_not_mathtext_and_stay_inside_the_svg():
    rows = [*seeds("$x^2$", [0.6, 0.61]), *seeds("random-init", [0.5, 0.5])]
    image = ranking_chart(only_ranking(rows)).decode()
    assert ">$x^2$  (1, n=2)</text>" in image  # as typed, not typeset as x squared
    assert "<script" not in image and "href=\"http" not in image


def test_the_heatmap_grid_pivots_task_by_dataset_with_blanks():
    summary = pd.DataFrame({"task": ["a", "a", "b"], "dataset": ["x", "y", "x"], "modality": ["image", "text", "image"],
                            "mean_normalized": [0.5, -0.2, 1.1], "entries": [1, 1, 1]})
    grid = task_dataset_scores(summary)
    assert list(grid.index) == ["b", "a"] and list(grid.columns) == ["x", "y"]
    assert np.isnan(grid.loc["b", "y"]) and grid.loc["a", "y"] == -0.2
    image = heatmap(grid, {"x": "image", "y": "text"}).decode()
    assert ">1.10<" in image and ">-0.20<" in image and image.count(">0.50<") == 1
    assert heatmap(grid.iloc[:0]) is None and heatmap(grid * np.nan) is None


def test_budget_text_and_loss_curves():
    budget = json.dumps({"steps": 200, "amount": 200, "unit": "steps", "batch_size": 128, "lr": 0.001,
                         "optimizer": "adamw", "schedule": "cosine"})
    assert budget_text(budget) == "200 steps, batch 128, lr 0.001, adamw, cosine"
    curves = [{"dataset": "d", "task": "t", "model": "m", "seed": s, "losses": [[0, 2.0], [10, 1.0]]} for s in (0, 1)]
    (dataset, image), = loss_curve_figures(curves)
    assert dataset == "d" and image.startswith(b"\x89PNG")  # raster: dozens of panels stay small
    from matplotlib.figure import Figure

    from sslbench.results.charts import _loss_panel

    ax = Figure().subplots()
    _loss_panel(ax, "t", "m", "loss", curves)
    assert ax.get_title(loc="left") == "t · m" and [l.get_label() for l in ax.get_lines()] == ["seed 0", "seed 1"]
