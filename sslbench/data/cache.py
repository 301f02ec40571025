"""Where prepared datasets live and whether a cached copy is still good."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .bars import folder_bytes
from .integrity import sha256_file
from .manifest import Manifest
from .spec import DataSpec

ROOT_ENV = "SSLBENCH_DATA"


def cache_root() -> Path:
    """The cache root: ``$SSLBENCH_DATA``, else ``~/.cache/sslbench``.

    The same folder as the runner's ``DatasetContext.data_root``, so ``sslbench data``
    and ``sslbench run`` always look at one cache.
    """
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).expanduser().absolute()
    return Path("~/.cache/sslbench").expanduser().absolute()


@dataclass(frozen=True)
class CacheStatus:
    """A dataset's state in the cache, for ``sslbench data list``."""

    name: str
    folder: Path
    ready: bool
    problem: str | None  # why it is not ready ("not prepared", "x.csv is missing", …)
    source: str | None  # label of the source it came from
    prepared_at: str | None
    content_sha256: str | None
    size_bytes: int  # on disk now


def inspect(spec: DataSpec, folder: Path, *, verify: bool) -> tuple[Manifest | None, str | None]:
    """Read ``folder``'s manifest and say what, if anything, is wrong with the copy.

    A copy is good when its manifest is readable, it was made from the files ``spec``
    lists with the hashes ``spec`` pins, and every file still matches (by size, and
    by SHA-256 with ``verify``) — both its manifest and, with ``verify``, the hashes
    the spec pins for the folder's files (:meth:`DataSpec.folder_pins`): editing a
    cached file together with its hash in the cache's own manifest is caught.
    """
    if not folder.exists():
        return None, "not prepared"
    try:
        manifest = Manifest.read(folder)
    except FileNotFoundError:
        return None, "its manifest is missing"
    except (OSError, ValueError) as e:
        return None, f"its manifest is unreadable ({e})"
    problem = _stale(spec, manifest) or manifest.problem(folder, verify=verify)
    return manifest, problem or (_unpinned(spec, folder) if verify else None)


def _unpinned(spec: DataSpec, folder: Path) -> str | None:
    """The first file of ``folder`` whose bytes differ from what the spec pins, if any."""
    for name, pin in sorted(spec.folder_pins().items()):
        path = folder / name
        if not path.is_file():
            return f"{name} is missing (the spec pins it)"
        if sha256_file(path) != pin:
            return f"{name} does not match the SHA-256 {pin} the spec pins"
    return None


def _stale(spec: DataSpec, manifest: Manifest) -> str | None:
    if set(manifest.fetched) != set(spec.files):
        return f"it holds {sorted(manifest.fetched)} but the spec now lists {sorted(spec.files)}"
    for name, pin in (spec.file_sha256 or {}).items():
        if manifest.fetched[name] != pin:
            return f"the spec now pins {name} to SHA-256 {pin}, the cache holds {manifest.fetched[name]}"
    return None


def status(spec: DataSpec, *, root: Path | None = None, verify: bool = False) -> CacheStatus:
    """Whether ``spec`` is prepared under ``root`` (default :func:`cache_root`), from where, how big.

    Cheap by default (sizes only); ``verify=True`` also re-hashes every file.
    """
    folder = (root if root is not None else cache_root()) / spec.name
    manifest, problem = inspect(spec, folder, verify=verify)
    return CacheStatus(
        name=spec.name,
        folder=folder,
        ready=problem is None,
        problem=problem,
        source=manifest.source if manifest else None,
        prepared_at=manifest.prepared_at if manifest else None,
        content_sha256=manifest.content_sha256 if manifest else None,
        size_bytes=folder_bytes(folder) if folder.exists() else 0,
    )
