"""tqdm progress bars for long fetches: shown on a terminal, quiet otherwise or when asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from tqdm import tqdm

_enabled: ContextVar[bool] = ContextVar("sslbench_data_progress", default=True)


@contextmanager
def progress_enabled(flag: bool) -> Iterator[None]:
    """Turn bars on (still only on a TTY) or off for the ``with`` block."""
    token = _enabled.set(flag)
    try:
        yield
    finally:
        _enabled.reset(token)


def byte_bar(desc: str, total: int | None = None) -> tqdm:
    """A bytes bar; disabled when asked or when stderr is not a terminal."""
    return tqdm(
        total=total,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        leave=False,
        disable=None if _enabled.get() else True,  # None: off when not a TTY
    )


def folder_bytes(*folders: Path) -> int:
    """Total size of the files under ``folders`` (files may vanish while we look)."""
    total = 0
    for folder in folders:
        for p in folder.rglob("*"):
            try:
                if p.is_file():
                    total += p.stat().st_size
            except OSError:
                pass
    return total
