"""Who holds each (cell, seed) of a result folder, and how long the finished ones took.

A (cell, seed) is claimed with an exclusive ``flock`` on ``OUT/locks/<pair>.lock``
(:func:`sslbench.run.folder.claim`); the kernel drops the lock when its process dies, so a
held lock means a live holder. The lock file also carries a small JSON record, written in
place (never renamed: a new file would hold no lock) by the worker that holds it::

    {"worker": "12345_3", "host": "node7", "pid": 4242, "started": 1733540000.1,
     "finished": 1733540042.7, "seconds": 42.6}

``finished``/``seconds`` are added when the pair's results are committed. ``sslbench status``
reads these records: held → running (by whom, for how long); done → its duration (for the ETA);
neither, with a record that never finished → the worker died mid-cell.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from sslbench.results.files import LOCKS_DIR

WORKER_ENV = "SSLBENCH_WORKER"
"""Set by ``sslbench run --launcher`` in each worker (its job id); else SLURM's ids, else empty."""


def worker_id() -> str:
    """This process's worker name: ``$SSLBENCH_WORKER``, else SLURM's ``JOBID_TASKID`` or job id, else ``""``."""
    if os.environ.get(WORKER_ENV):
        return os.environ[WORKER_ENV]
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID", "")


def lock_path(out_dir: Path, name: str) -> Path:
    """The lock file of the pair whose files are called ``name``."""
    return out_dir / LOCKS_DIR / f"{name}.lock"


def record_start(out_dir: Path, name: str, *, clock: Any = time.time) -> float:
    """Write this worker's record into the lock it holds; returns the start time."""
    started = clock()
    _write(lock_path(out_dir, name), {"worker": worker_id(), "host": socket.gethostname(), "pid": os.getpid(),
                                     "started": started})
    return started


def record_finish(out_dir: Path, name: str, started: float, *, clock: Any = time.time) -> None:
    """Add the finish time and duration to the record of the pair this worker holds."""
    path = lock_path(out_dir, name)
    record = read_record(path) or {}
    finished = clock()
    _write(path, {**record, "finished": finished, "seconds": round(finished - started, 3)})


def _write(path: Path, record: dict[str, Any]) -> None:
    """Replace the lock file's content in place (its inode, and so the lock, stays)."""
    data = (json.dumps(record, sort_keys=True) + "\n").encode()
    with contextlib.suppress(OSError):  # a record is a courtesy for `status`; never fail a cell over it
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        finally:
            os.close(fd)


def read_record(path: Path) -> dict[str, Any] | None:
    """The JSON record of a lock file; None when it has none or it is being written."""
    try:
        data = json.loads(path.read_bytes() or b"null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_held(path: Path) -> bool:
    """Whether a live process holds the lock at ``path`` (tested with a shared, non-blocking flock).

    The test holds the lock for an instant: a worker claiming the pair in that instant finds it
    held and retries it after its other pairs (:mod:`sslbench.run.workers`).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


def claims(out_dir: Path) -> dict[str, tuple[bool, dict[str, Any] | None]]:
    """Every pair with a lock file: ``name → (held now, its record)``."""
    folder = out_dir / LOCKS_DIR
    if not folder.is_dir() or folder.is_symlink():
        return {}
    return {path.name[: -len(".lock")]: (is_held(path), read_record(path))
            for path in sorted(folder.glob("*.lock")) if not path.is_symlink()}
