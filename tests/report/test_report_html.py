"""The HTML report: self-contained, every plugin-supplied string escaped, rendered by headless Chromium
with no request leaving the page."""
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sslbench.leaderboard import build
from sslbench.report import render_html

from rows import row, seeds

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
    rows = [*seeds("random-init", [0.5, 0.52]), *seeds("supervised", [0.9, 0.92]), *seeds("simclr", [0.8, 0.83]),
            *seeds(EVIL, [0.7, 0.71], model=EVIL), *seeds("mae", [0.6, 0.61], dataset=EVIL, steps=100),
            row("broken", 0, None, status="failed", message=EVIL, metric="")]
    curves = [{"suite": "s", "dataset": "d", "task": t, "model": "m", "seed": s, "losses": [[0, 3.0], [10, 2.0 - s]]}
              for t in ("simclr", EVIL) for s in (0, 1)]
    manifest = {"config_file": EVIL, "config_hash": "abc123", "provenance": {"git": EVIL, "device": "cpu"}}
    path = tmp_path / "report.html"
    path.write_text(render_html(build(rows), curves, manifest, title=EVIL))
    return path


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
    assert "<table>" in dom and "<td>simclr</td>" in dom and "Cross-modality summary" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "<script" not in dom.lower()
    assert requests == []


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_the_request_detector_sees_a_page_that_does_fetch(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><table><tr><td>x</td></tr></table>"
                   "<img src='http://example.invalid/a.png'><link rel=stylesheet href='https://example.invalid/c.css'>")
    dom, requests = chromium(tmp_path, bad.as_uri())
    assert "<td>x</td>" in dom
    assert sorted(requests) == ["http://example.invalid/a.png", "https://example.invalid/c.css"]
