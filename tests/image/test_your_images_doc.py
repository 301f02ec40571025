"""docs/your-images.md works as written: its image-making snippet, then its config through `sslbench run`."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sslbench.cli import main
from sslbench.results import read_rows

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "your-images.md"
CONFIG = ROOT / "benchmarks" / "your-images.toml"


def snippet() -> str:
    """The page's ``python - <<'PY' … PY`` block."""
    found = re.search(r"python - <<'PY'\n(.*?)\nPY\n", PAGE.read_text(), flags=re.DOTALL)
    assert found, "docs/your-images.md lost its image-making snippet"
    return found.group(1)


def test_the_page_shows_the_committed_config_and_command():
    text = PAGE.read_text()

    def settings(toml: str) -> list[str]:
        return [line.split("#")[0].rstrip() for line in toml.splitlines() if line.strip() and not line.startswith("#")]

    shown = re.search(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert shown and settings(shown.group(1)) == settings(CONFIG.read_text())  # the page shows the committed config
    assert "sslbench run benchmarks/your-images.toml --out runs/my-images" in text


@pytest.mark.slow  # generates 120 images, decodes them, trains 2 cells of 2 steps: ~10 s
def test_the_snippet_and_the_config_run_from_the_repository_root(tmp_path, monkeypatch):
    subprocess.run([sys.executable, "-c", snippet()], cwd=tmp_path, check=True, timeout=120)
    assert len(list((tmp_path / "my-images").rglob("*.jpg"))) == 120
    config = tmp_path / "benchmarks" / "your-images.toml"
    config.parent.mkdir()
    text = CONFIG.read_text()
    for pattern, short in ((r"^steps = \d+$", "steps = 2"), (r"^evaluators = .*$", 'evaluators = ["knn"]')):
        text, count = re.subn(pattern, short, text, flags=re.MULTILINE)  # a tiny budget; the probe's L2 search is slow
        assert count == 1
    config.write_text(text)
    monkeypatch.chdir(tmp_path)  # `path = "my-images"` is relative to where sslbench runs
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "cache"))
    assert main(["run", "benchmarks/your-images.toml", "--out", "runs/my-images", "--seeds", "0", "--device", "cpu",
                 "-q"]) == 0
    rows = read_rows(tmp_path / "runs" / "my-images" / "rows.jsonl")
    assert {(r["task"], r["evaluator"]) for r in rows} >= {("simclr", "knn"), ("supervised", "knn")}
    assert {r["dataset"] for r in rows} == {"imagefolder"}
