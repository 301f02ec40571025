"""Combine result folders (shards of one grid, or runs on several machines) into one.

Rows are deduplicated on their identity keys (the last folder named wins, the order
of first appearance is kept), loss curves on (suite, dataset, task, model, seed).
The merged ``manifest.json`` keeps every source manifest. A warning (one line each)
names rows that came from different data (dataset fingerprints differ between the
folders' manifests) or from different sslbench, torch or plugin versions: such rows
are merged, but a reader should know they may not be comparable.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslbench import jsonl, safeio
from sslbench.results.files import CURVE_KEYS, CURVES_FILE, MANIFEST_FILE, ROWS_FILE
from sslbench.results.rows import dedupe, read_rows


@dataclass
class Folder:
    """One result folder as read from disk."""

    path: Path
    rows: list[dict[str, Any]]
    curves: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] | None = None


@dataclass
class Merged:
    """The union of several folders and what a reader should be warned about."""

    rows: list[dict[str, Any]]
    curves: list[dict[str, Any]]
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def read_folder(path: Path) -> Folder:
    """Rows, curves and manifest of a result folder (or of the folder of a ``rows.jsonl``).

    Raises:
        ValueError: there is no ``rows.jsonl``, or it holds no complete line (some other file).
    """
    folder = path if path.is_dir() else path.parent
    rows_file = folder / ROWS_FILE if path.is_dir() else path
    if not rows_file.is_file():
        raise ValueError(f"{path}: no rows.jsonl there; pass a folder written by 'sslbench run --out DIR'")
    data = safeio.read_nofollow(rows_file)
    if data.strip() and jsonl.valid_end(data) == 0:  # not one complete JSON line: not a rows file at all
        raise ValueError(f"{rows_file}: holds no result row; pass a folder written by 'sslbench run --out DIR' "
                         "or its rows.jsonl")
    manifest_file = folder / MANIFEST_FILE
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else None
    if manifest is not None and not isinstance(manifest, dict):
        raise ValueError(f"{manifest_file}: holds JSON {type(manifest).__name__}, not an sslbench manifest")
    return Folder(path=folder, rows=read_rows(rows_file), curves=jsonl.read_records_if_any(folder / CURVES_FILE), manifest=manifest)


def merge(folders: Sequence[Folder]) -> Merged:
    """Merge ``folders`` in order; later folders win on equal identities."""
    all_rows = [r for f in folders for r in f.rows]
    rows = dedupe(all_rows)
    curves = list({tuple(c.get(k) for k in CURVE_KEYS): c for f in folders for c in f.curves}.values())
    warnings = _dataset_warnings(folders) + _version_warnings(folders)
    replaced = len(all_rows) - len(rows)
    if replaced:
        warnings.append(f"{replaced} rows had the identity of an earlier row; the later folder's row was kept")
    return Merged(rows=rows, curves=curves, manifest=_manifest(folders), warnings=warnings)


def _dataset_warnings(folders: Sequence[Folder]) -> list[str]:
    """One line per dataset whose fingerprint differs between folders, and per folder without a manifest."""
    seen: dict[str, dict[str, list[str]]] = {}
    warnings = []
    for f in folders:
        if f.manifest is None:
            warnings.append(f"{f.path}: no manifest.json, so its dataset fingerprints cannot be checked")
            continue
        for dataset, fp in (f.manifest.get("datasets") or {}).items():
            seen.setdefault(dataset, {}).setdefault(str(fp), []).append(str(f.path))
    for dataset, prints in seen.items():
        if len(prints) > 1:
            where = "; ".join(f"{fp} in {', '.join(paths)}" for fp, paths in prints.items())
            warnings.append(f"dataset {dataset!r}: rows come from different data (fingerprint {where})")
    return warnings


def _version_warnings(folders: Sequence[Folder]) -> list[str]:
    """One line per package (sslbench, torch, each plugin) whose version differs between folders' rows."""
    versions: dict[str, dict[str, set[str]]] = {}
    for f in folders:
        for name, version in _versions(f.rows):
            versions.setdefault(name, {}).setdefault(version, set()).add(str(f.path))
    warnings = []
    for name, found in versions.items():
        if len(found) > 1:
            where = "; ".join(f"{v} in {', '.join(sorted(paths))}" for v, paths in sorted(found.items()))
            warnings.append(f"{name}: rows come from different versions ({where})")
    return warnings


def _versions(rows: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    out = set()
    for row in rows:
        prov = row.get("provenance") or {}
        for package in ("sslbench", "torch"):
            if package in prov:
                out.add((package, str(prov[package])))
        for plugin, version in (prov.get("plugins") or {}).items():
            out.add((f"plugin {plugin}", str(version)))
    return out


def _manifest(folders: Sequence[Folder]) -> dict[str, Any]:
    manifests = [f.manifest or {} for f in folders]
    datasets: dict[str, Any] = {}
    for m in manifests:
        datasets.update(m.get("datasets") or {})
    hashes = list(dict.fromkeys(str(m["config_hash"]) for m in manifests if m.get("config_hash")))
    return {
        "merged_from": [{"path": str(f.path), "manifest": f.manifest} for f in folders],
        "config_file": "merged: " + ", ".join(str(f.path) for f in folders),
        "config_hash": ", ".join(hashes),
        "provenance": next((m["provenance"] for m in reversed(manifests) if m.get("provenance")), {}),
        "datasets": datasets,
    }


def write_merged(merged: Merged, out: Path) -> None:
    """Write ``rows.jsonl``, ``curves.jsonl`` and ``manifest.json`` into ``out`` atomically.

    Everything is written into a hidden sibling folder first, then renamed to ``out``:
    a reader sees the whole merge or nothing.

    Raises:
        ValueError: ``out`` exists and is not an empty folder.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out}: exists and is not an empty folder; choose a new -o folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.merge-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _write_lines(tmp / ROWS_FILE, merged.rows)
        if merged.curves:
            _write_lines(tmp / CURVES_FILE, merged.curves)
        safeio.atomic_write(tmp / MANIFEST_FILE,
                            (json.dumps(merged.manifest, indent=2, sort_keys=True, default=str) + "\n").encode())
        os.replace(tmp, out)  # an empty `out` is replaced; a non-empty one was refused above
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_lines(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    safeio.atomic_write(path, jsonl.encode(records, sort_keys=True))

