"""A ``Download`` source from plain URLs (the canonical download, for users who are online)."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .bars import byte_bar
from .spec import Download

USER_AGENT = "sslbench"


def fetch_url(url: str, path: Path, chunk_size: int = 1 << 16) -> None:
    """Stream ``url`` to ``path`` via a temporary name, so ``path`` is whole or absent."""
    tmp = path.with_name(f".{path.name}.part")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=60) as response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length")
            with byte_bar(path.name, int(length) if length else None) as bar:
                while chunk := response.read(chunk_size):
                    out.write(chunk)
                    bar.update(len(chunk))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def download_from(base_urls: Sequence[str], files: Sequence[str], description: str) -> Download:
    """A ``Download`` that fetches each of ``files`` from the first base URL that serves it.

    ``base_urls`` are mirrors ending in ``/``; ``files`` are names under them and in the cache.
    """
    bases = tuple(base_urls)

    def fetch(folder: Path) -> None:
        for name in files:
            errors = []
            for base in bases:
                try:
                    (folder / name).parent.mkdir(parents=True, exist_ok=True)
                    fetch_url(base + name, folder / name)
                    break
                except OSError as e:  # URLError and HTTPError are OSErrors
                    errors.append(f"{base + name}: {e}")
            else:
                raise OSError("; ".join(errors))

    return Download(urls=bases, fetch=fetch, description=description)
