"""SHA-256 of files and folders (torchvision's ``check_integrity``, with SHA-256)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from .errors import ChecksumMismatch
from .spec import MANIFEST_NAME

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256_file(path: Path, expected: str | None, what: str) -> str:
    """Return the file's SHA-256; raise :class:`ChecksumMismatch` if it is not ``expected``."""
    actual = sha256_file(path)
    if expected is not None and actual != expected:
        raise ChecksumMismatch(what, expected, actual)
    return actual


def tree_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the regular files under ``folder``, sorted, manifest excluded."""
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(n for n in names if n != MANIFEST_NAME)


def hash_tree(folder: Path) -> dict[str, dict[str, int | str]]:
    """``{relative path: {"sha256": …, "size": …}}`` for every file under ``folder``."""
    return {n: {"sha256": sha256_file(folder / n), "size": (folder / n).stat().st_size} for n in tree_files(folder)}


def content_sha256(file_hashes: Mapping[str, str]) -> str:
    """One hash for a set of files: SHA-256 of sorted ``"path\\tsha256\\n"`` lines.

    It depends only on the files' names and bytes, never on where they came from.
    """
    lines = "".join(f"{name}\t{file_hashes[name]}\n" for name in sorted(file_hashes))
    return hashlib.sha256(lines.encode()).hexdigest()
