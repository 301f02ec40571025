"""Result rows: schema, atomic appends to ``rows.jsonl``, reading and deduplication.

One row per (cell, seed, evaluator, label set, metric)::

    {"suite": "smoke", "dataset": "digits", "task": "simclr", "model": "cnn-small",
     "evaluator": "knn", "label_set": "digit", "metric": "top1", "seed": 0,
     "value": 0.97, "status": "ok", "message": "", "higher_is_better": true,
     "protocol": {"k": 20, ...},                     # evaluator options
     "settings": {"task": {...}, "model": {...}, "dataset": {...}},
     "budget": {"steps": 200, "batch_size": 128},
     "cost": {"train_seconds": ..., "samples_per_s": ..., "peak_memory_bytes": ..., "eval_seconds": ...},
     "provenance": {"config_hash": ..., "sslbench": ..., "plugins": {...}, "git": ..., "device": ..., "time": ...}}
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sslbench import jsonl
from sslbench.results.files import ROWS_FILE

log = logging.getLogger(__name__)

IDENTITY_KEYS = ("suite", "dataset", "task", "model", "evaluator", "label_set", "metric", "seed")
"""Two rows with equal values here describe the same measurement; merging keeps the last."""
STATUSES = ("ok", "failed", "diverged", "skipped")
REQUIRED_KEYS = (*IDENTITY_KEYS, "value", "status", "message", "protocol", "budget", "cost", "provenance")


def make_row(keys: Mapping[str, Any], value: float | None, /, **fields: Any) -> dict[str, Any]:
    """A row from its identity keys, its value and the other schema fields.

    Non-finite values are stored as ``null`` (JSON has no NaN) with status unchanged.
    """
    missing = [k for k in IDENTITY_KEYS if k not in keys]
    if missing:
        raise ValueError(f"row identity lacks {missing}")
    clean = None if value is None or not math.isfinite(value) else float(value)
    row = {**{k: keys[k] for k in IDENTITY_KEYS}, "value": clean, "status": "ok", "message": ""}
    row.update({"protocol": {}, "settings": {}, "budget": {}, "cost": {}, "provenance": {}})
    row.update(fields)
    if row["status"] not in STATUSES:
        raise ValueError(f"status {row['status']!r}; allowed: {', '.join(STATUSES)}")
    return row


def append_rows(out_dir: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append ``rows`` to ``out_dir/rows.jsonl`` atomically with respect to other writers.

    All lines go out in one ``write`` under an exclusive ``flock``, then ``fsync``; a
    torn tail left by an interrupted writer is cut off first, and a write that fails
    half-way is truncated back (see :mod:`sslbench.jsonl`): a reader or a concurrent
    writer never sees half of this batch of rows.
    """
    jsonl.append_records(out_dir / ROWS_FILE, rows, sort_keys=True)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``rows.jsonl`` file, or of ``DIR/rows.jsonl`` when ``path`` is a folder.

    Torn lines at the end (a writer killed mid-write, a NUL-filled tail) are skipped
    with a warning; any other line that is not a row is an error naming it.

    Raises:
        ValueError: a damaged line, or a record that is not a result row.
    """
    path = path / ROWS_FILE if path.is_dir() else path
    rows = jsonl.read_records(path, noun="JSON row")
    for number, row in enumerate(rows, start=1):
        missing = [k for k in IDENTITY_KEYS if k not in row]
        if missing:
            raise ValueError(f"{path}: row {number} is not a result row (it lacks {', '.join(missing)})")
    return rows


def dedupe(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Keep the last row for each identity; order of first appearance is kept."""
    latest: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        latest[identity_of(row)] = dict(row)
    return list(latest.values())


def identity_of(row: Mapping[str, Any]) -> tuple:
    """The identity key tuple of a row."""
    return tuple(row.get(k) for k in IDENTITY_KEYS)
