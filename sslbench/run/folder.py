"""The result folder of a run: its layout, the locks that claim (cell, seed) pairs, which pairs are
finished, the manifest and the stored tracebacks. Everything here needs only the folder's path
(and, to check a folder belongs to a config, the config's hash)."""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslbench import safeio
from sslbench.errors import UsageError
from sslbench.plan.grid import Cell
from sslbench.results.files import (
    CHECKPOINTS_DIR,
    COMMITS_FILE,
    CURVES_FILE,
    LOCKS_DIR,
    MANIFEST_FILE,
    PENDING_DIR,
    ROWS_FILE,
    TENSORBOARD_DIR,
    TRACEBACKS_DIR,
    WORKERS_DIR,
)
from sslbench.results.rows import read_rows
from sslbench.run.commit import done_cells, replay_pending

log = logging.getLogger(__name__)


RESULT_FILES = (MANIFEST_FILE, ROWS_FILE, CURVES_FILE, COMMITS_FILE)
RESULT_FOLDERS = (LOCKS_DIR, CHECKPOINTS_DIR, PENDING_DIR, TRACEBACKS_DIR, TENSORBOARD_DIR, WORKERS_DIR)
RESULT_ENTRIES = frozenset({*RESULT_FILES, *RESULT_FOLDERS})
"""What ``sslbench run`` keeps in a result folder (besides ``.NAME.PID.tmp``, ``*.torn-*`` and ``*.corrupt-*``)."""


@dataclass(frozen=True)
class Accepted:
    """A result folder accepted for a run: the pairs already finished, and the hashes of the earlier
    configs it continues (a manifest of an older identity format, or a grid this one extends)."""

    done: set[str] = field(default_factory=set)
    continues: tuple[str, ...] = ()


Differences = Callable[[dict[str, Any]], "list[str] | None"]
"""A folder's manifest → what differs between its config and this one ([] none; None: cannot tell)."""


def prepare(out_dir: Path, config_hash: str, resume: bool, differences: Differences) -> Accepted:
    """Create ``out_dir``, or check that resuming into it is safe; return what is already done there.

    A folder of the same config hash is accepted with ``resume``. A manifest of another
    hash is accepted when ``differences`` finds nothing that changes results between its
    config and this one (its identity was recorded in an older format, or this config only
    adds names to its grids); otherwise the run is refused naming the first key that
    differs. A non-empty folder of other files is always refused. Resuming first finishes
    the commits an interrupted run left pending (:mod:`sslbench.run.commit`) and removes
    the temporary files of interrupted writes.
    """
    safeio.ensure_dir(out_dir)
    check_entries(out_dir)
    manifest_file, rows_file = out_dir / MANIFEST_FILE, out_dir / ROWS_FILE
    if not os.path.lexists(manifest_file) and not os.path.lexists(rows_file):
        _refuse_foreign(out_dir)
        remove_stale_tmp(out_dir)  # a run killed before its manifest was written
        return Accepted()
    manifest = read_manifest(out_dir)
    continues = set(manifest.get("continues") or []) if manifest else set()
    if manifest and manifest.get("config_hash") not in (None, config_hash):
        continues.add(_continued(out_dir, manifest, config_hash, differences))
    others = row_hashes(out_dir) - {config_hash} - continues
    if others:
        raise UsageError(f"{out_dir}: holds results of another config (hash {', '.join(sorted(map(str, others)))}, "
                         f"this one {config_hash}); choose a new --out folder")
    if not resume:
        raise UsageError(f"{out_dir}: already holds results of this config; pass --resume to continue it "
                         "or choose a new --out folder")
    remove_stale_tmp(out_dir)
    replay_pending(out_dir, lambda name: claim_name(out_dir, name))
    return Accepted(done=done_pairs(out_dir), continues=tuple(sorted(continues)))


def _continued(out_dir: Path, manifest: dict[str, Any], config_hash: str, differences: Differences) -> str:
    """The manifest's hash, if this config may continue its folder; else the one-line refusal."""
    found = differences(manifest)
    if found is None:
        raise UsageError(f"{out_dir}: holds results of another config (hash {manifest.get('config_hash')}, this one "
                         f"{config_hash}); choose a new --out folder")
    if found:
        more = f" (and {len(found) - 1} more difference{'s' if len(found) > 2 else ''})" if len(found) > 1 else ""
        raise UsageError(f"{out_dir}: holds results of another config: {found[0]}{more}; "
                         "choose a new --out folder, or resume with the config it was run with")
    return str(manifest["config_hash"])


def remove_stale_tmp(out_dir: Path) -> None:
    """Remove the temporary files of interrupted writes (of processes that are gone) wherever a run writes."""
    for folder in (out_dir, out_dir / CHECKPOINTS_DIR, out_dir / TRACEBACKS_DIR):
        safeio.remove_stale_tmp(folder)


def check_entries(out_dir: Path) -> None:
    """Refuse, before anything is written, a link or an entry of the wrong kind where sslbench keeps its files."""
    for name in (*RESULT_FILES, *RESULT_FOLDERS):
        if os.path.lexists(out_dir / name):
            safeio.check_entry(out_dir / name, folder=name in RESULT_FOLDERS)


def done_pairs(out_dir: Path) -> set[str]:
    """File names (:func:`pair_name`) of the (cell, seed) pairs whose results are complete."""
    name_of = lambda r: f"{r['dataset']}--{r['task']}--{r['model']}--seed{r['seed']}"  # noqa: E731
    try:
        return done_cells(out_dir, rows_if_any(out_dir), name_of)
    except ValueError as err:
        raise UsageError(f"{err}; the folder's commit markers are damaged, choose a new --out folder") from None


def _refuse_foreign(out_dir: Path) -> None:
    """A folder without results must hold nothing but what an interrupted start of sslbench leaves."""
    for entry in sorted(os.listdir(out_dir)):
        ours = entry in RESULT_ENTRIES or entry.endswith(".tmp") or ".torn-" in entry or ".corrupt-" in entry
        if not ours:
            raise UsageError(f"{out_dir}: is not empty and holds no sslbench results (e.g. {entry!r}); "
                             "choose a new or empty --out folder")


def row_hashes(out_dir: Path) -> set[str]:
    """The config hashes the folder's rows record."""
    return {str((r.get("provenance") or {}).get("config_hash")) for r in rows_if_any(out_dir)}


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None when it has none; damaged JSON is a usage error."""
    manifest = out_dir / MANIFEST_FILE
    if not os.path.lexists(manifest):
        return None
    try:
        data = json.loads(safeio.read_nofollow(manifest))
    except (ValueError, RecursionError):
        raise UsageError(f"{manifest}: is not valid JSON; choose a new --out folder") from None
    if not isinstance(data, dict):
        raise UsageError(f"{manifest}: holds JSON {type(data).__name__}, not an sslbench manifest; "
                         "choose a new --out folder")
    return data


def rows_if_any(out_dir: Path) -> list[dict[str, Any]]:
    try:
        return read_rows(out_dir) if os.path.lexists(out_dir / ROWS_FILE) else []
    except ValueError as err:
        raise UsageError(f"{err}; the folder's rows are damaged, choose a new --out folder") from None


def is_done(out_dir: Path, cell: Cell, seed: int) -> bool:
    """Did another run finish this (cell, seed) while we waited for its lock?"""
    return pair_name(cell, seed) in done_pairs(out_dir)


def claim(out_dir: Path, cell: Cell, seed: int) -> contextlib.AbstractContextManager[bool]:
    """Hold an exclusive, non-blocking lock on the (cell, seed); yields False if another run has it."""
    return claim_name(out_dir, pair_name(cell, seed))


@contextlib.contextmanager
def claim_name(out_dir: Path, name: str) -> Iterator[bool]:
    """The lock of the cell whose files are called ``name`` (see :func:`claim`)."""
    locks = safeio.ensure_dir(out_dir / LOCKS_DIR)
    fd = safeio.open_nofollow(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s: another run holds it; retrying it after the others", name)
            yield False
            return
        yield True
    finally:
        os.close(fd)


def pair_name(cell: Cell, seed: int) -> str:
    return f"{cell.dataset}--{cell.task}--{cell.model}--seed{seed}"


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    """``manifest.json``: the config as run, its hash, the plan and provenance (atomic write)."""
    text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
    safeio.atomic_write(out_dir / MANIFEST_FILE, text.encode())


def checkpoint_path(out_dir: Path, cell: Cell, seed: int) -> Path:
    """Where the (cell, seed)'s training checkpoint is kept."""
    return out_dir / CHECKPOINTS_DIR / f"{pair_name(cell, seed)}.pt"


def write_traceback(out_dir: Path, parts: list[str], text: str) -> str:
    """Store ``text`` as ``OUT/tracebacks/<part>--<part>….txt``; returns that path relative to OUT.

    The parts are free names (an evaluator's label set or metric may hold ``/``); each is
    made safe for a file name by :func:`sslbench.safeio.safe_file_part`.
    """
    name = "--".join(safeio.safe_file_part(part) for part in parts) + ".txt"
    folder = safeio.ensure_dir(out_dir / TRACEBACKS_DIR)  # never through a planted link
    safeio.atomic_write(folder / name, text.encode())
    return f"{TRACEBACKS_DIR}/{name}"
