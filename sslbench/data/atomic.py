"""File-system steps that never leave a half-written cache: locks, staging, swaps.

A dataset is built in a staging folder beside its final place and renamed into
place in one step, under an exclusive ``flock`` on ``<root>/.<name>.lock``. Only
the lock holder stages, so any staging folder found while holding the lock was
abandoned by a killed process and can be removed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_STAGING = ".{name}.partial-"
_OLD = ".{name}.old-"


def lock_path(root: Path, name: str) -> Path:
    """The lock file guarding dataset ``name`` under ``root``; it is never deleted."""
    return root / f".{name}.lock"


@contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an ``fcntl.flock`` on ``path`` (created if absent) for the ``with`` block.

    Shared locks let many readers verify a cache at once; an exclusive lock lets
    one writer rebuild it. A read-only cache is read without a lock.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        if not shared:
            raise
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            log.debug("no lock file %s; reading the read-only cache unlocked", path)
            yield
            return
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process that holds %s", path)
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock


def make_staging(root: Path, name: str) -> Path:
    """A fresh private folder beside the dataset's final folder (same file system)."""
    return Path(tempfile.mkdtemp(prefix=_STAGING.format(name=name), dir=root))


def remove_leftovers(root: Path, name: str) -> None:
    """Remove staging and replaced folders of ``name`` left by killed processes.

    Call only while holding the dataset's exclusive lock.
    """
    for pattern in (_STAGING, _OLD):
        for p in root.glob(pattern.format(name=name) + "*"):
            log.warning("removing %s, left by an interrupted prepare", p.name)
            shutil.rmtree(p, ignore_errors=True)


def remove_leftovers_if_idle(root: Path, name: str) -> None:
    """:func:`remove_leftovers`, if the dataset's exclusive lock is free right now (else skip)."""
    try:
        fd = os.open(lock_path(root, name), os.O_RDWR)
    except OSError:  # no lock file (nothing was ever staged) or a read-only cache
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # someone is preparing it: their staging folder is alive
        remove_leftovers(root, name)
    finally:
        os.close(fd)


def swap_in(new: Path, final: Path) -> None:
    """Rename the complete folder ``new`` to ``final``, replacing any old copy.

    ``final`` is never half-written: it is either absent, the old copy or the new one.
    """
    if final.exists():
        old = final.with_name(_OLD.format(name=final.name) + uuid.uuid4().hex[:8])
        os.rename(final, old)
        os.rename(new, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(new, final)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name beside ``path``, flush it to disk, ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:  # mode 0666 & ~umask, unlike mkstemp's 0600
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
