"""Fixtures for the recsys plugin tests: the cached MovieLens-100k wheel, small logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEFAULT_WHEEL = "/work/cache-wheels/recbole-1.2.1-py3-none-any.whl"


@pytest.fixture(scope="session")
def recbole_wheel() -> Path:
    """The recbole-1.2.1 wheel holding ml-100k (``SSLBENCH_RECBOLE_WHEEL`` overrides); skip if absent."""
    path = Path(os.environ.get("SSLBENCH_RECBOLE_WHEEL", DEFAULT_WHEEL))
    if not path.is_file():
        pytest.skip(f"MovieLens-100k wheel not found at {path}")
    return path


@pytest.fixture
def write(tmp_path: Path):
    """Write text to a file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write
