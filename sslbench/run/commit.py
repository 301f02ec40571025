"""A cell's results reach the result folder all or nothing: one journal record per cell.

A finished (cell, seed) has a loss curve (one line of ``curves.jsonl``) and rows
(lines of ``rows.jsonl``). Two appends to two files cannot be atomic together, so
:func:`commit_cell` first writes one record holding both to
``OUT/pending/<cell>.json`` (atomically: temporary file, ``fsync``, rename). That
rename is the commit point. Then it applies the record — removes any line of
either file with the identity of one of the record's rows or of its curve, appends
the rows, appends the curve, appends a marker line to ``commits.jsonl`` listing the
identities of the cell's rows — and deletes the record.

A cell is done (:func:`done_cells`) when its marker is there, every row the
marker lists is in ``rows.jsonl`` and the curve it names (if it had one) is in
``curves.jsonl``. So a ``rows.jsonl`` or ``curves.jsonl`` that lost its last lines
(a torn tail cut off, a file emptied by hand) makes exactly the cells whose rows
or curve are gone run again. Folders written before markers existed (or merged ones) have
cells with rows and no marker at all: those count as done, as before.

A kill before the rename leaves no trace of the cell (it reruns on ``--resume``). A
kill after it leaves the record, and the next ``run --resume`` applies it again
(:func:`replay_pending`) before deciding which cells are done; applying twice gives
the same files as applying once. So no kill can leave a duplicated curve, or rows of
half a cell that would mark it done.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ContextManager

from sslbench import jsonl, safeio
from sslbench.results.files import (
    COMMITS_FILE,
    CURVE_KEYS,
    CURVES_FILE,
    PENDING_DIR,
    ROWS_FILE,
)
from sslbench.results.rows import append_rows, identity_of

log = logging.getLogger(__name__)



def curve_key(curve: Mapping[str, Any]) -> tuple:
    """The identity of a loss curve."""
    return tuple(curve.get(k) for k in CURVE_KEYS)


def commit_cell(out_dir: Path, name: str, rows: list[dict[str, Any]], curve: dict[str, Any] | None) -> None:
    """Write the ``rows`` and ``curve`` of one (cell, seed), all or nothing (see the module doc).

    Raises:
        StorageError: the disk is full or failing; the record stays pending if it was
            written, and ``--resume`` applies it once there is room.
    """
    record = {"cell": name, "rows": rows, "curve": curve}
    data = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()
    path = safeio.ensure_dir(out_dir / PENDING_DIR) / f"{name}.json"
    safeio.atomic_write(path, data)  # the commit point
    _apply(out_dir, record)
    path.unlink()


def _apply(out_dir: Path, record: Mapping[str, Any]) -> None:
    rows, curve = record["rows"], record.get("curve")
    identities = {identity_of(r) for r in rows}
    jsonl.remove_records(out_dir / ROWS_FILE, lambda r: identity_of(r) in identities)
    if curve is not None:
        jsonl.remove_records(out_dir / CURVES_FILE, lambda c: curve_key(c) == curve_key(curve))
    append_rows(out_dir, rows)
    if curve is not None:
        jsonl.append_records(out_dir / CURVES_FILE, [curve])
    marker = {"cell": record["cell"], "rows": [list(i) for i in sorted(identities, key=repr)]}
    if curve is not None:
        marker["curve"] = list(curve_key(curve))
    jsonl.append_records(out_dir / COMMITS_FILE, [marker])


def done_cells(out_dir: Path, rows: list[dict[str, Any]], name_of: Callable[[Mapping[str, Any]], str]) -> set[str]:
    """Names of the cells whose results are complete in ``out_dir`` (see the module doc).

    ``name_of(row)`` names the cell of a row written without a marker (older folders).
    """
    present = {identity_of(r) for r in rows}
    markers = jsonl.read_records(out_dir / COMMITS_FILE) if os.path.lexists(out_dir / COMMITS_FILE) else []
    marked = {m.get("cell") for m in markers}
    curves = _curve_keys(out_dir) if any("curve" in m for m in markers) else set()
    done = {m["cell"] for m in markers if all(tuple(i) in present for i in m.get("rows", []))
            and ("curve" not in m or tuple(m["curve"]) in curves)}
    covered = {tuple(i) for m in markers for i in m.get("rows", [])}
    legacy = {name_of(r) for r in rows if identity_of(r) not in covered}
    return done | (legacy - marked)


def _curve_keys(out_dir: Path) -> set[tuple]:
    """Identities of the loss curves in ``curves.jsonl`` (a torn tail skipped)."""
    path = out_dir / CURVES_FILE
    return {curve_key(c) for c in jsonl.read_records(path)} if os.path.lexists(path) else set()


def replay_pending(out_dir: Path, claim: Callable[[str], ContextManager[bool]]) -> int:
    """Apply every record a killed run left in ``pending/``; returns how many.

    ``claim(name)`` must hold the cell's run lock (yielding False when another run
    holds it: that run is writing the record right now, and it is left alone).
    A record that does not parse (bit rot) is moved aside; its cell simply reruns.
    """
    folder = out_dir / PENDING_DIR
    if not folder.is_dir() or folder.is_symlink():
        return 0
    safeio.remove_stale_tmp(folder)
    applied = 0
    for path in sorted(folder.glob("*.json")):
        with claim(path.stem) as ours:
            if not ours or not path.exists():
                continue
            record = _read_record(path)
            if record is not None:
                _apply(out_dir, record)
                path.unlink()
                applied += 1
                log.warning("%s: finished writing the results of %s, which an interrupted run had committed",
                            out_dir, path.stem)
    return applied


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(safeio.read_nofollow(path))
        if not isinstance(record, dict) or not isinstance(record.get("rows"), list) or "cell" not in record:
            raise ValueError("not a pending-cell record")
        if not all(isinstance(r, dict) for r in record["rows"]) or not isinstance(record.get("curve"), (dict, type(None))):
            raise ValueError("not a pending-cell record")
        return record
    except (ValueError, UnicodeDecodeError) as err:
        aside = path.with_name(f"{path.name}.corrupt-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}")
        with contextlib.suppress(OSError):
            path.rename(aside)
        log.warning("%s: unreadable (%s); moved to %s, the cell will run again", path, err, aside.name)
        return None
