"""``sslbench data list`` and ``sslbench data prepare``: the datasets plugins declare, and the cache.

Both work from the registry's ``DatasetSpec.data`` declarations (``sslbench.data.DataSpec``)
without loading any dataset: ``list`` reads each cache folder's manifest and sizes (it
re-hashes only with ``--verify``); ``prepare`` materialises the files as ``sslbench run``
would on first use.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from sslbench.cli.common import EXIT_OK, EXIT_USAGE, registry_from_args
from sslbench.data import ROOT_ENV, DataError, cache_root, prepare, status
from sslbench.data.fetchers import label
from sslbench.errors import UsageError

BUNDLED = "bundled"  # the cache column of a dataset without files to fetch (e.g. scikit-learn's digits)


def add_data_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``data list`` and ``data prepare`` to the ``sslbench`` subcommands ``sub``."""
    data = sub.add_parser("data", help="list the datasets plugins declare; prepare them into the data cache")
    commands = data.add_subparsers(dest="data_command", required=True, parser_class=type(data))

    p = commands.add_parser("list", parents=[common], help="every dataset: modality, size, licence, cache state, source")
    p.add_argument("--verify", action="store_true", help="re-hash every cached file (slow) instead of checking sizes")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(command=cmd_data_list)

    p = commands.add_parser("prepare", parents=[common], help="fetch datasets into the cache ($SSLBENCH_DATA)")
    p.add_argument("names", nargs="*", metavar="NAME", help="datasets to prepare (see 'sslbench data list')")
    p.add_argument("--all", action="store_true", help="prepare every dataset that has files to fetch")
    p.add_argument("--path", type=Path, help="a folder already holding the files of the one NAME; tried first")
    p.add_argument("--force", action="store_true", help="fetch again even if the cached copy is good")
    p.set_defaults(command=cmd_data_prepare)


def cmd_data_list(args: argparse.Namespace) -> int:
    """``sslbench data list``: one row per declared dataset."""
    root = cache_root()
    rows = [describe_dataset(spec, root, verify=args.verify) for spec in registry_from_args(args).specs("dataset")]
    print(json.dumps({"cache": str(root), "datasets": rows}, indent=2) if args.json else render_table(rows, root))
    return EXIT_OK


def describe_dataset(spec: Any, root: Path, *, verify: bool = False) -> dict[str, Any]:
    """A dataset's listing entry (JSON-able); ``cache`` is ``ready``, ``bundled`` or what is wrong."""
    data = spec.data
    entry: dict[str, Any] = {
        "name": spec.name, "modality": spec.modality, "plugin": spec.plugin,
        "size": spec.size or (data.size if data else ""), "license": spec.license or (data.license if data else ""),
    }
    if data is None:
        return {**entry, **_without_data_spec(spec)}
    state = status(data, root=root, verify=verify)
    sources = [label(s, data) for s in data.sources]
    return {
        **entry, "cache": "ready" if state.ready else state.problem, "from": state.source if state.ready else None,
        "sources": sources, "folder": str(state.folder), "bytes": state.size_bytes,
        "content_sha256": state.content_sha256 if state.ready else None,
    }


def _without_data_spec(spec: Any) -> dict[str, Any]:
    """``cache`` and ``from`` of a dataset with nothing to fetch, judged by its ``path`` option:
    none → ``bundled`` (in its plugin or library); empty by default → ``yours`` (the user
    points ``path`` at their data); a default folder → ``installed`` or ``not installed``."""
    fields = {f.name for f in dataclasses.fields(spec.options)}
    if "path" not in fields:
        return {"cache": BUNDLED, "from": "its plugin or library (nothing to fetch)", "sources": []}
    default = getattr(spec.options(), "path", None)
    if not default:
        return {"cache": "yours", "from": f"[datasets.{spec.name}] path = your folder or file", "sources": []}
    present = Path(default).exists()
    return {"cache": "installed" if present else "not installed", "from": str(default), "sources": [str(default)],
            "folder": str(default)}


def _nothing_to_prepare(spec: Any) -> str:
    state = _without_data_spec(spec)
    return {
        BUNDLED: f"{spec.name}: bundled with its plugin, nothing to prepare",
        "yours": f"{spec.name}: your own data, nothing to prepare; {state['from']}",
        "installed": f"{spec.name}: read in place from {state['from']}, nothing to prepare",
    }.get(state["cache"], f"{spec.name}: not installed: {state['from']} does not exist ({spec.size or spec.description})")


def render_table(rows: list[dict[str, Any]], root: Path) -> str:
    """The human listing: a table, then where the cache is and how to fill it."""
    from tabulate import tabulate

    table = [
        [r["name"], r["modality"], r["size"], r["license"], _cache_cell(r), r["from"] or " → ".join(r["sources"])]
        for r in rows
    ]
    headers = ["dataset", "modality", "size", "licence", "cache", "from (or sources, in order)"]
    footer = (f"cache: {root} (set ${ROOT_ENV} to move it); "
              "fill it with 'sslbench data prepare NAME' or let 'sslbench run' do it on first use")
    return tabulate(table, headers=headers, tablefmt="simple") + "\n\n" + footer


def _cache_cell(row: dict[str, Any]) -> str:
    if row["cache"] == "ready":
        return f"ready ({row['bytes'] / 1e6:.1f} MB)"
    return row["cache"]


def cmd_data_prepare(args: argparse.Namespace) -> int:
    """``sslbench data prepare NAME… | --all``: prepare each; report every failure, exit 2 if any."""
    specs = _chosen(registry_from_args(args), args.names, args.all)
    if args.path is not None and len(specs) != 1:
        raise UsageError("--path: give exactly one dataset NAME with it (the folder holds that dataset's files)")
    failed = 0
    for spec in specs:
        if spec.data is None:
            print(_nothing_to_prepare(spec))
            continue
        try:
            prepared = prepare(spec.data, root=cache_root(), local_path=args.path, force=args.force)
        except DataError as err:
            print(f"sslbench: error: {err}", file=sys.stderr)
            failed += 1
            continue
        how = "prepared" if prepared.fetched_now else "already in the cache"
        print(f"{spec.name}: {how}, from {prepared.source}, in {prepared.folder}")
    return EXIT_USAGE if failed else EXIT_OK


def _chosen(registry: Any, names: list[str], everything: bool) -> list[Any]:
    if everything and names:
        raise UsageError("data prepare: give dataset names or --all, not both")
    if everything:
        return [s for s in registry.specs("dataset") if s.data is not None]
    if not names:
        raise UsageError(f"data prepare: name datasets or give --all; datasets: {', '.join(registry.names('dataset'))}")
    return [registry.get("dataset", name) for name in dict.fromkeys(names)]
