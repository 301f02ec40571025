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

import fcntl
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROWS_FILE = "rows.jsonl"
IDENTITY_KEYS = ("suite", "dataset", "task", "model", "evaluator", "label_set", "metric", "seed")
"""Two rows with equal values here describe the same measurement; merging keeps the last."""
STATUSES = ("ok", "failed", "diverged", "skipped")
REQUIRED_KEYS = (*IDENTITY_KEYS, "value", "status", "message", "protocol", "budget", "cost", "provenance")


def make_row(identity: Mapping[str, Any], value: float | None, **fields: Any) -> dict[str, Any]:
    """A row from its identity keys, its value and the other schema fields.

    Non-finite values are stored as ``null`` (JSON has no NaN) with status unchanged.
    """
    missing = [k for k in IDENTITY_KEYS if k not in identity]
    if missing:
        raise ValueError(f"row identity lacks {missing}")
    clean = None if value is None or not math.isfinite(value) else float(value)
    row = {**{k: identity[k] for k in IDENTITY_KEYS}, "value": clean, "status": "ok", "message": ""}
    row.update({"protocol": {}, "settings": {}, "budget": {}, "cost": {}, "provenance": {}})
    row.update(fields)
    if row["status"] not in STATUSES:
        raise ValueError(f"status {row['status']!r}; allowed: {', '.join(STATUSES)}")
    return row


def append_rows(out_dir: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append ``rows`` to ``out_dir/rows.jsonl`` atomically with respect to other writers.

    All lines go out in one ``write`` under an exclusive ``flock``, then ``fsync``:
    a reader or a concurrent writer never sees half of this batch of rows.
    """
    payload = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in rows).encode()
    if not payload:
        return
    fd = os.open(out_dir / ROWS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = os.write(fd, payload)
        if written != len(payload):  # a full disk mid-write; never leave a torn line unreported
            raise OSError(f"short write to {out_dir / ROWS_FILE}: {written} of {len(payload)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``rows.jsonl`` file, or of ``DIR/rows.jsonl`` when ``path`` is a folder.

    A last line without its newline (a writer killed mid-write) is skipped with a
    warning; any other unparsable line is an error naming the line.
    """
    path = path / ROWS_FILE if path.is_dir() else path
    text = path.read_text()
    rows = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):  # no trailing newline: a torn final write
                log.warning("%s: skipping incomplete last line %d", path, number)
                continue
            raise ValueError(f"{path}:{number}: not a JSON row ({err.msg})") from None
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
