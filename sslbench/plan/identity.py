"""A config's identity: what in it changes results, and how two configs differ.

The identity keeps, of a config as run, only what changes what is measured:

- ``run``: the ``[run]`` keys whose values differ from their defaults, less the keys of
  :data:`EXECUTION_KEYS` (how a run executes, not what it measures);
- ``grid``: each grid's component lists, name, and its ``[grid.run]`` values that differ
  from the defaults;
- one table per component kind (``tasks``, ``models``, …): each component's options that
  differ from their defaults (components left at every default are absent);
- ``versions``: ``"kind.name": version`` for each component whose declared version is above 1.

Its hash (:func:`identity_hash`) is the config hash a result folder and its rows record.
Adding an option with a default to a component therefore changes neither, and a folder
written before such an upgrade still resumes. A manifest written before identities
existed holds only the full config; :func:`identity_of_full` recovers its identity under
the defaults installed now. :func:`differences` names what differs between two
identities, one line per key, so that a refused ``--resume`` says which key changed.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from sslbench.options import as_json, non_default

IDENTITY_FORMAT = 2
"""Manifests record ``identity`` and ``identity_format`` since format 2; older ones only the full config."""

EXECUTION_KEYS = frozenset({"device", "threads", "keep_checkpoints", "checkpoint_every", "pin_memory", "loggers"})
"""``[run]`` keys that change how a run executes, not what it measures: outside the identity."""

GRID_LISTS = ("datasets", "tasks", "models", "evaluators")

Defaults = Callable[[str, str], "Mapping[str, Any] | None"]
"""(component table, e.g. ``tasks``; name) → that component's default options, or None if unknown."""


def identity_from_full(full: Mapping[str, Any], run_defaults: Mapping[str, Any], defaults: Defaults,
                       versions: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The identity of a config given as its full dict (``Config.as_dict()``, the manifest's ``config``)."""
    identity: dict[str, Any] = {
        "run": non_default({k: v for k, v in (full.get("run") or {}).items() if k not in EXECUTION_KEYS}, run_defaults),
        "grid": [_grid_identity(g, run_defaults) for g in full.get("grid") or []],
    }
    for table, components in full.items():
        if table in ("run", "grid") or not isinstance(components, Mapping):
            continue
        kept = {name: non_default(opts, defaults(table, name) or {}) for name, opts in components.items()}
        kept = {name: opts for name, opts in kept.items() if opts}
        if kept:
            identity[table] = kept
    raised = {key: v for key, v in sorted((versions or {}).items()) if v != 1}
    if raised:
        identity["versions"] = raised
    return identity


def identity_hash(identity: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the identity as sorted, compact JSON."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs from ``old`` (a folder's) to ``new`` (this config's), one line per key.

    A grid whose lists only gained names (a dataset, task, model or evaluator added) extends
    the old one: its finished cells stay valid, so that is no difference; the options of a
    component only the new config uses are not compared either.
    """
    lines = _mapping_diff("[run]", old.get("run") or {}, new.get("run") or {})
    old_grids, new_grids = old.get("grid") or [], new.get("grid") or []
    if len(old_grids) != len(new_grids):
        lines.append(f"[grid]: {len(old_grids)} grid(s) there, {len(new_grids)} here")
    for i, (a, b) in enumerate(zip(old_grids, new_grids)):
        lines += _grid_diff("[grid]" if len(new_grids) == 1 else f"[grid #{i + 1}]", a, b)
    used = {name for g in old_grids for key in GRID_LISTS for name in g.get(key, [])}
    for table in sorted({*old, *new} - {"run", "grid", "versions"}):
        names = {*(old.get(table) or {}), *(new.get(table) or {})}
        for name in sorted(names):
            if name in used or table == "modalities":
                lines += _mapping_diff(f"[{table}.{name}]", (old.get(table) or {}).get(name) or {},
                                       (new.get(table) or {}).get(name) or {})
    old_v, new_v = old.get("versions") or {}, new.get("versions") or {}
    for key in sorted({*old_v, *new_v}):
        if key.partition(".")[2] in used and old_v.get(key, 1) != new_v.get(key, 1):
            lines.append(f"{key} is version {old_v.get(key, 1)} there, {new_v.get(key, 1)} here "
                         "(its author changed what a default means)")
    return lines


def _grid_identity(grid: Mapping[str, Any], run_defaults: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in grid.items() if k != "run"}
    run = non_default(grid.get("run") or {}, run_defaults)
    return {**kept, "run": run} if run else kept


def _grid_diff(label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    lines = []
    for key in GRID_LISTS:
        before, after = list(old.get(key, [])), list(new.get(key, []))
        if not set(before) <= set(after):
            lines.append(f"{label} {key}: {before} there, {after} here (names were removed)")
    if old.get("name", "") != new.get("name", ""):
        lines.append(f"{label} name: {old.get('name', '')!r} there, {new.get('name', '')!r} here")
    return lines + _mapping_diff(f"{label} run", old.get("run") or {}, new.get("run") or {})


def _mapping_diff(label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [f"{label} {key}: {_shown(old, key)} there, {_shown(new, key)} here"
            for key in sorted({*old, *new}) if as_json(old.get(key)) != as_json(new.get(key))]


def _shown(values: Mapping[str, Any], key: str) -> str:
    return json.dumps(as_json(values[key]), default=str) if key in values else "the default"
