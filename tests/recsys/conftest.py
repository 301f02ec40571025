"""Fixtures for the recsys plugin tests: the cached MovieLens-100k wheel, small logs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def recbole_wheel(wheel) -> Path:
    """The recbole-1.2.1 wheel holding ml-100k (``$SSLBENCH_RECBOLE_WHEEL`` or .ci/wheels); skip if absent."""
    return wheel("SSLBENCH_RECBOLE_WHEEL", "recbole==1.2.1")


@pytest.fixture
def write(tmp_path: Path):
    """Write text to a file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write
