"""Append-only JSON-lines files that heal a torn tail (``rows.jsonl``, ``curves.jsonl``).

A line is a JSON object followed by ``\\n``. A writer killed inside a write, a short
write on a full disk, or a crash that leaves a NUL-filled tail can leave the end of
the file invalid. Then:

* readers (:func:`read_records`) skip torn lines (not JSON, or no final newline) at
  the *end* with a warning; a torn line followed by valid ones, or a complete line
  that is JSON but not an object, is damage a reader must not paper over, and raises
  ``ValueError`` naming the line;
* writers (:func:`append_records`, :func:`remove_records`) take an exclusive
  ``flock``, cut the invalid tail off first (its bytes are kept beside the file as
  ``NAME.torn-TIME``, and a warning says so), then write. So new lines never land
  on a fragment.

An append that fails half-way (``ENOSPC``) truncates the file back to where it was
before raising, so what was written before stays intact and no torn line is left.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sslbench import safeio

log = logging.getLogger(__name__)

_TAIL_CHUNK = 1 << 20


def read_records(path: Path, noun: str = "JSON line") -> list[dict[str, Any]]:
    """The JSON objects of ``path``, one a line; invalid lines at the end are skipped (warned).

    Raises:
        ValueError: an invalid line before a valid one, naming ``path:line``.
        UsageError: ``path`` is a link or a folder.
    """
    data = safeio.read_nofollow(path)
    end = valid_end(data)
    if end < len(data):
        log.warning("%s: skipping %d byte(s) of a torn or invalid last line (an interrupted write)",
                    path, len(data) - end)
    records = []
    for number, line in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        record = _parse(line)
        if not isinstance(record, dict):
            what = "torn or invalid JSON" if record is _TORN else f"JSON {type(record).__name__}, not an object"
            raise ValueError(f"{path}:{number}: not a {noun} ({what})")
        records.append(record)
    return records


def read_records_if_any(path: Path, noun: str = "JSON line") -> list[dict[str, Any]]:
    """:func:`read_records` of ``path``, or ``[]`` when there is no such file."""
    return read_records(path, noun) if os.path.lexists(path) else []


def valid_end(data: bytes) -> int:
    """Length of the longest prefix of ``data`` that ends on a complete, valid last line.

    Blank lines count as valid; the tail after the last valid object line is dropped.
    """
    start = max(0, len(data) - _TAIL_CHUNK)
    end = _valid_end_from(data, start)
    if end == start and start > 0:  # a whole chunk of garbage: look at everything
        end = _valid_end_from(data, 0)
    return end


def _valid_end_from(data: bytes, start: int) -> int:
    end = len(data)
    while end > start:
        cut = data.rfind(b"\n", start, end - 1) + 1  # start of the last line in data[:end]
        if cut <= start and start > 0:
            return start  # the line may begin before the chunk: let the caller widen
        line = data[cut:end]
        if line.endswith(b"\n") and (not line.strip() or _parse(line) is not _TORN):
            return end
        end = cut
    return end


_TORN = object()
"""What :func:`_parse` returns for a line that is not JSON: the trace of an interrupted write."""


def _parse(line: bytes) -> Any:
    """The JSON value of ``line``, or ``_TORN``. A complete line that parses but is not an
    object (``[1, 2]``) is not torn: it is returned, and readers refuse it."""
    try:
        return json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return _TORN


def encode(records: Iterable[Mapping[str, Any]], *, sort_keys: bool = False) -> bytes:
    """One line per record, strict JSON (``NaN`` is refused: JSON has none)."""
    return "".join(json.dumps(r, sort_keys=sort_keys, allow_nan=False) + "\n" for r in records).encode()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[int]:
    """An fd of ``path`` (created if missing) under an exclusive ``flock``, its torn tail cut off.

    The lock is taken on the inode the path names *after* locking: a writer that
    replaced the file meanwhile (:func:`remove_records`) makes us reopen.
    """
    while True:
        fd = safeio.open_nofollow(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
            if same:
                heal(fd, path)
                yield fd
                return
        finally:
            os.close(fd)  # closing releases the lock


def heal(fd: int, path: Path) -> int:
    """Cut an invalid tail off the locked file ``fd``; keep its bytes beside it. Returns the new size."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    start = max(0, size - _TAIL_CHUNK)
    tail = os.pread(fd, size - start, start)
    if tail.endswith(b"\n") and _parse(tail[tail.rfind(b"\n", 0, len(tail) - 1) + 1:]) is not _TORN:
        return size  # the common case: the last line is complete and valid
    data = os.pread(fd, size, 0) if start else tail
    end = valid_end(data)
    if end == size:
        return size
    aside = path.with_name(f"{path.name}.torn-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}")
    with contextlib.suppress(OSError, safeio.StorageError):
        safeio.atomic_write(aside, data[end:])
    with safeio.storage_guard(path):
        os.ftruncate(fd, end)
        os.fsync(fd)
    log.warning("%s: cut off %d byte(s) of a torn or invalid last line (an interrupted write); kept them in %s",
                path, size - end, aside.name)
    return end


def append_records(path: Path, records: Iterable[Mapping[str, Any]], *, sort_keys: bool = False) -> None:
    """Append ``records`` in one write under the lock, after healing the tail; all or nothing.

    Raises:
        StorageError: the disk is full or failing; the file is truncated back first.
    """
    payload = encode(records, sort_keys=sort_keys)
    if not payload:
        return
    with locked(path) as fd:
        before = os.fstat(fd).st_size
        try:
            os.lseek(fd, 0, os.SEEK_END)
            safeio.write_all(fd, payload, path)
            with safeio.storage_guard(path, len(payload)):
                os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)  # never leave half a batch behind
            raise


def remove_records(path: Path, drop: Callable[[Mapping[str, Any]], bool]) -> int:
    """Rewrite ``path`` (atomically) without the records ``drop`` selects; returns how many went."""
    if not path.exists() and not path.is_symlink():
        return 0
    with locked(path) as fd:
        size = os.fstat(fd).st_size
        lines = os.pread(fd, size, 0).split(b"\n")[:-1]
        kept = [line for line in lines if not isinstance(record := _parse(line), dict) or not drop(record)]
        if len(kept) == len(lines):
            return 0
        safeio.atomic_write(path, b"".join(line + b"\n" for line in kept))
        return len(lines) - len(kept)
