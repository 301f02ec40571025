"""The HTML report: self-contained, every plugin-supplied string escaped, rendered by headless Chromium
with no request leaving the page."""
import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rows import row, seeds

from sslbench.results.leaderboard import build
from sslbench.results.report import render_html

EVIL = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Collector(HTMLParser):
    """Every tag and every URL-bearing attribute of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.urls = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [value for name, value in attrs if name in ("src", "href", "action", "poster", "data")]


def page(tmp_path: Path) -> Path:
    rows = [*seeds("random-init", [0.5, 0.52, 0.51]), *seeds("supervised", [0.9, 0.92, 0.93]),
            *seeds("simclr", [0.8, 0.83, 0.815]), *seeds(EVIL, [0.7, 0.71, 0.72], model=EVIL),
            *seeds("mae", [0.6, 0.61, 0.62], dataset=EVIL, steps=100),
            row("broken", 0, None, status="failed", message=EVIL, metric="")]
    curves = [{"suite": "s", "dataset": "d", "task": t, "model": "m", "seed": s, "losses": [[0, 3.0], [10, 2.0 - s]]}
              for t in ("simclr", EVIL) for s in (0, 1)]
    manifest = {"config_file": EVIL, "config_hash": "abc123", "provenance": {"git": EVIL, "device": "cpu"}}
    path = tmp_path / "report.html"
    path.write_text(render_html(build(rows), curves, manifest, title=EVIL))
    return path


SUMMARY_COLUMNS = ["task", "dataset", "modality", "mean_normalized", "entries"]  # the lead's Leaderboard.summary


def charted_board():
    """Two datasets' rankings (one with an undefined interval) and a summary of one row per (task, dataset)."""
    rows = [*seeds("random-init", [0.5, 0.52, 0.51]), *seeds("supervised", [0.9, 0.92, 0.91]),
            *seeds("simclr", [0.8, 0.83, 0.815]), *seeds("mae", [0.6, 0.61, 0.62]),
            *seeds("random-init", [0.2, 0.22, 0.21], dataset="e"),
            *seeds("popularity", [0.3, 0.3, 0.3], dataset="e", steps=0), *seeds("simclr", [0.1, 0.9, 0.5], dataset="e")]
    board = build(rows)
    undefined = (board.table["dataset"] == "e") & (board.table["task"] == "simclr")
    board.table.loc[undefined, ["ci_low", "ci_high"]] = np.nan  # as the lead's Student-t interval below n = 3
    summary = pd.DataFrame([["simclr", "d", "image", 0.81, 2], ["mae", "d", "image", -0.42, 2],
                            ["simclr", "e", "text", np.nan, 1]], columns=SUMMARY_COLUMNS)
    summary = summary.assign(kind="method", datasets=summary["dataset"])  # what today's summary table shows too
    return dataclasses.replace(board, summary=summary), rows


def svgs(text: str, css_class: str) -> list[str]:
    """The SVG documents of the page's figures of one class."""
    found = re.findall(rf"<figure class='{css_class}'><img alt='[^']*' src='data:image/svg\+xml;base64,([^']+)'", text)
    return [base64.b64decode(data).decode() for data in found]


def test_one_chart_per_ranking_and_a_heatmap_of_task_by_dataset():
    board, rows = charted_board()
    text = render_html(board, rows=rows)
    heat = svgs(text, "heatmap")
    assert len(heat) == 1 and ">0.81<" in heat[0] and ">-0.42<" in heat[0]  # annotated cells
    assert ">nan<" not in heat[0].lower() and "image)" in heat[0]  # the undefined cell blank; modality named
    charts = svgs(text, "ranking-chart")
    assert len(charts) == len(board.rankings()) == 2
    first, second = charts
    assert "d · knn · top1" in first and "budget: 100 steps" in first and "top1   (higher is better" in first
    assert "random init" in first and "supervised" in first and "simclr  (1, n=3)" in first
    assert "popularity" in second
    # no interval for e/simclr: its seeds 0.1 and 0.9 are drawn, so the x axis spans them
    ticks = [float(t) for t in re.findall(r">(0\.\d+)</text>", second)]
    assert min(ticks) <= 0.2 and max(ticks) >= 0.8, ticks


def test_the_heatmap_falls_back_to_the_entries_when_the_summary_has_no_dataset_column():
    from sslbench.results.charts import task_dataset_scores

    board, _ = charted_board()
    grid = task_dataset_scores(pd.DataFrame(columns=["task", "kind", "mean_normalized"]), board.table)
    assert list(grid.index) == ["simclr", "mae"] and list(grid.columns) == ["d"]
    assert grid.loc["simclr", "d"] == pytest.approx((0.815 - 0.51) / (0.91 - 0.51))


def test_every_plugin_supplied_string_is_escaped_and_nothing_is_fetched(tmp_path):
    text = page(tmp_path).read_text()
    assert EVIL not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    parsed = Collector()
    parsed.feed(text)
    assert "script" not in parsed.tags and parsed.tags.count("table") >= 3 and parsed.tags.count("img") >= 2
    assert parsed.urls and all(u.startswith("data:") for u in parsed.urls), parsed.urls
    assert "default-src 'none'" in text  # the page may not request anything, even if a string slipped through


def chromium(tmp_path: Path, url: str) -> tuple[str, list[str]]:
    """The DOM after load, and the URLs of network requests the page itself started (from the net log).

    Host resolution is mapped to NOTFOUND, so nothing leaves this machine either way; the
    browser's own background requests (updates, time) are told apart by their isolation key.
    """
    log = tmp_path / "netlog.json"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={log}", "--virtual-time-budget=5000",
           "--dump-dom", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, page_requests(json.loads(log.read_text()))


def page_requests(netlog: dict) -> list[str]:
    start = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in netlog["events"]:
        params = event.get("params") or {}
        if event["type"] == start and "file://" in params.get("network_isolation_key", ""):
            if not params.get("url", "").startswith(("file:", "data:")):
                urls.append(params["url"])
    return urls


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_chromium_renders_the_tables_and_no_request_leaves_the_page(tmp_path):
    dom, requests = chromium(tmp_path, page(tmp_path).as_uri())
    assert "<table>" in dom and "<td>simclr</td>" in dom and "Normalised score by task and dataset" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "<script" not in dom.lower()
    assert requests == []


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_chromium_draws_the_charts_and_saves_a_screenshot(tmp_path):
    """The SVG charts render under the page's CSP: the heatmap's blues show in a screenshot, kept
    in $SSLBENCH_ARTIFACTS (default: the test's tmp_path) for CI to upload."""
    from PIL import Image

    board, rows = charted_board()
    path = tmp_path / "report.html"
    path.write_text(render_html(board, rows=rows))
    folder = Path(os.environ.get("SSLBENCH_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "report.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--window-size=1200,1600", f"--screenshot={shot}", path.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    blue = (pixels[:, 2] > 120) & (pixels[:, 2] - pixels[:, 0] > 80)  # RdBu's high end and the dots
    red = (pixels[:, 0] > 150) & (pixels[:, 0] - pixels[:, 2] > 60)  # -0.42 on RdBu's low end
    assert blue.sum() > 500 and red.sum() > 500, (blue.sum(), red.sum())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_the_request_detector_sees_a_page_that_does_fetch(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><table><tr><td>x</td></tr></table>"
                   "<img src='http://example.invalid/a.png'><link rel=stylesheet href='https://example.invalid/c.css'>")
    dom, requests = chromium(tmp_path, bad.as_uri())
    assert "<td>x</td>" in dom
    assert sorted(requests) == ["http://example.invalid/a.png", "https://example.invalid/c.css"]
