"""benchmarks/cifar10.toml's dry run: the committed config, its budget cut to two steps, on the CPU,
on a fabricated CIFAR-10 archive given through the ``path`` option."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sslbench.cli import main
from sslbench.results import read_rows

CONFIG = Path(__file__).resolve().parents[2] / "benchmarks" / "cifar10.toml"


def tiny_copy(text: str, archive_folder: Path) -> str:
    """The config with a two-step budget and small splits; every replaced line must exist."""
    replacements = {
        r"^steps = \d+$": "steps = 2",
        r"^batch_size = \d+$": "batch_size = 4",
        r"^embed_batch_size = \d+$": "embed_batch_size = 64",
        r"^valid_size = 5000 .*$": f'valid_size = 10\ntrain_size = 20\ntest_size = 10\npath = "{archive_folder}"',
    }
    for pattern, new in replacements.items():
        text, count = re.subn(pattern, new, text, flags=re.MULTILINE)
        assert count == 1, f"benchmarks/cifar10.toml lost the line {pattern}"
    return text


@pytest.mark.slow  # an end-to-end run: ~10 s of ResNet-18 on a loaded 2-core CPU
def test_cifar10_config_dry_run_on_cpu(fake_archive, tmp_path, monkeypatch):
    folder, _ = fake_archive("cifar10")
    config = tmp_path / "cifar10.toml"
    config.write_text(tiny_copy(CONFIG.read_text(), folder))
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["run", str(config), "--device", "cpu", "--seeds", "0", "--out", str(out), "-q"]) == 0
    rows = read_rows(out / "rows.jsonl")
    cells = {(r["task"], r["evaluator"]) for r in rows}
    assert {("simclr", "knn"), ("supervised", "knn"), ("simclr", "linear-probe")} <= cells
    assert all(r["dataset"] == "cifar10" for r in rows)
    assert {r["model"] for r in rows if r["task"] in ("simclr", "supervised")} == {"resnet18"}
    knn = next(r for r in rows if r["evaluator"] == "knn")
    assert knn["protocol"]["k"] == 200 and knn["protocol"]["temperature"] == 0.1
