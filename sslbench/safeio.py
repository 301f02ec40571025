"""Writing into a result folder without following planted links, tearing files or leaking space.

Every file sslbench writes inside an ``--out`` folder goes through here:

* files are opened with ``O_NOFOLLOW``: a symbolic link planted in the folder is
  refused (one line, exit 2) instead of being followed to somewhere else;
* whole files are written atomically (a ``.NAME.PID.tmp`` file, ``fsync``,
  ``os.replace``, ``fsync`` of the folder); the temporary file is removed when the
  write fails, and :func:`remove_stale_tmp` removes those of killed processes;
* a full disk (``ENOSPC``, ``EDQUOT``) or an I/O error (``EIO``) becomes a
  :class:`StorageError` that names the file and the space the write needed.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from sslbench.errors import UsageError

log = logging.getLogger(__name__)

STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG})
"""Errors that mean "the storage cannot take this write" rather than a bug."""


class StorageError(Exception):
    """A write failed because the disk is full or failing. The CLI prints one line and exits 1."""

    def __init__(self, path: Path | str | None, needed: int | None, cause: OSError, action: str = "writing") -> None:
        self.path, self.needed, self.cause = path, needed, cause
        what = os.strerror(cause.errno) if cause.errno else str(cause)
        need = f" (the write needed {human_bytes(needed)})" if needed else ""
        where = f" {action} {path}" if path else ""
        super().__init__(f"{what}{where}{need}; everything written before is intact: "
                         "free space, then rerun with --resume")


def human_bytes(n: int) -> str:
    """``1536`` → ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def is_storage_error(err: BaseException) -> bool:
    """Is ``err`` a full disk, an exceeded quota or an I/O error?"""
    return isinstance(err, StorageError) or (isinstance(err, OSError) and err.errno in STORAGE_ERRNOS)


def as_storage_error(err: OSError, path: Path | str | None = None, needed: int | None = None) -> StorageError:
    """Wrap ``err`` (already a storage error) with where and how much."""
    if isinstance(err, StorageError):
        return err
    return StorageError(path or err.filename, needed, err)


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that never follows a symbolic link at ``path`` (its last component).

    Raises:
        UsageError: ``path`` is a symbolic link, a folder where a file belongs, or not writable.
    """
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as err:
        raise _usage_or_storage(err, path) from None


def _usage_or_storage(err: OSError, path: Path) -> Exception:
    if err.errno == errno.ELOOP:
        return UsageError(f"{path}: is a symbolic link; sslbench never follows links inside a result folder, "
                          "remove it or choose a new --out folder")
    if err.errno == errno.EISDIR:
        return UsageError(f"{path}: is a folder where sslbench keeps a file; choose a new --out folder")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UsageError(f"{path}: cannot write there ({os.strerror(err.errno)}); choose a writable --out folder")
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return UsageError(f"{path}: a file stands where sslbench needs a folder; choose a new --out folder")
    if err.errno in STORAGE_ERRNOS:
        return as_storage_error(err, path)
    return err


def write_all(fd: int, data: bytes, path: Path) -> None:
    """Write every byte of ``data`` to ``fd`` (looping over short writes).

    Raises:
        StorageError: the disk is full or failing; ``needed`` is the whole of ``data``.
    """
    view = memoryview(data)
    try:
        while view:
            written = raw_write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]
    except OSError as err:
        if err.errno in STORAGE_ERRNOS:
            raise as_storage_error(err, path, len(data)) from None
        raise


def raw_write(fd: int, data: memoryview) -> int:
    """``os.write``; tests replace this to inject a full disk."""
    return os.write(fd, data)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (best effort on odd filesystems)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_SAFE_PART = re.compile(r"[A-Za-z0-9_+=-][A-Za-z0-9_.+=-]{0,63}")
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))})


def safe_file_part(name: str) -> str:
    """``name`` as one part of a file name: unchanged when it is already safe, else cleaned and tagged.

    Safe: 1–64 characters of ``A-Za-z0-9_.+=-``, not starting with ``.`` and not a name Windows
    reserves (``con``, ``nul``, ``com1``…). Anything else — a separator, a leading dot, control
    characters, more than 64 characters — keeps up to 40 of its safe characters and gains ``~``
    and 8 hex digits of its SHA-256, so two names that clean to the same text stay apart, and
    none collides with a safe name (which never holds ``~``). Names that were safe before this
    rule existed map to themselves, so folders written then still resume.
    """
    if _SAFE_PART.fullmatch(name) and name.split(".")[0].lower() not in _RESERVED:
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_.+=-]", "_", name).lstrip(".")[:40]
    return f"{cleaned}~{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def tmp_name(path: Path) -> Path:
    """The temporary file an atomic write of ``path`` uses: ``.NAME.PID.tmp`` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; on failure remove the temporary file.

    Raises:
        StorageError: the disk is full or failing (nothing of ``path`` changed).
        UsageError: a planted link or a folder in the way.
    """
    tmp = tmp_name(path)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a leftover of this pid (reused after a crash)
    fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        try:
            write_all(fd, data, path)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError) and err.errno in STORAGE_ERRNOS:
            raise as_storage_error(err, path, len(data)) from None
        raise
    fsync_dir(path.parent)


def read_nofollow(path: Path) -> bytes:
    """The bytes of ``path``, refusing a symbolic link."""
    fd = open_nofollow(path, os.O_RDONLY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"{path}: is not a regular file (a folder or a device stands where sslbench "
                         "keeps a file); choose a new --out folder")
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read()
        except OSError as err:
            if err.errno in STORAGE_ERRNOS:
                raise StorageError(path, None, err, action="reading") from None
            raise


def ensure_dir(path: Path) -> Path:
    """Create folder ``path`` (not through a link); a file or link there is a usage error."""
    if path.is_symlink():
        raise UsageError(f"{path}: is a symbolic link; sslbench never follows links inside a result folder, "
                         "remove it or choose a new --out folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{path}: a file stands where sslbench needs a folder; choose a new --out folder") from None
    except OSError as err:
        raise _usage_or_storage(err, path) from None
    return path


def check_entry(path: Path, *, folder: bool) -> None:
    """``path`` must be a real folder (``folder``) or a regular file, never a symbolic link.

    Raises:
        UsageError: a link, a file where a folder belongs, or anything else where a file belongs.
    """
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise _usage_or_storage(OSError(errno.ELOOP, os.strerror(errno.ELOOP)), path)
    if folder and not stat.S_ISDIR(mode):
        raise UsageError(f"{path}: a file stands where sslbench needs a folder; choose a new --out folder")
    if not folder and not stat.S_ISREG(mode):
        raise UsageError(f"{path}: is not a regular file (a folder or a device stands where sslbench "
                         "keeps a file); choose a new --out folder")


def remove_stale_tmp(folder: Path) -> list[Path]:
    """Remove ``.NAME.PID.tmp`` files in ``folder`` whose process is gone; return them."""
    removed = []
    if not folder.is_dir() or folder.is_symlink():
        return removed
    for path in folder.glob(".*.tmp"):
        pid = path.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)) and not path.is_dir():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    if removed:
        log.warning("removed %d leftover temporary file(s) of interrupted writes in %s", len(removed), folder)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers can only be from an earlier process with this pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def storage_guard(path: Path | str | None = None, needed: int | None = None) -> Iterator[None]:
    """Turn a storage ``OSError`` raised inside the block into a :class:`StorageError`."""
    try:
        yield
    except OSError as err:
        if err.errno in STORAGE_ERRNOS:
            raise as_storage_error(err, path, needed) from None
        raise
