"""Subcommands that read results: ``leaderboard``, ``report``, ``compare`` and ``merge``.

Registered into the ``sslbench`` parser by :func:`add_subcommands`. Exit status:
0 success; 1 ``compare`` found a regression; 2 a usage error (one line on stderr).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sslbench.cli.common import EXIT_OK, EXIT_REGRESSION, registry_from_args
from sslbench.errors import UsageError


def add_subcommands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``leaderboard``, ``report``, ``compare`` and ``merge`` to the subparsers ``sub``."""
    p = sub.add_parser("leaderboard", parents=[common], help="summarise a result folder's rows as comparable tables")
    p.add_argument("dir", type=Path, help="a result folder (holding rows.jsonl) or a rows.jsonl file")
    p.add_argument("--format", choices=["md", "csv", "json", "html"], default="md",
                   help="md: a table per ranking; csv/json: every entry with every column; html: the report page")
    p.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    p.set_defaults(command=cmd_leaderboard)

    p = sub.add_parser("report", parents=[common], help="write LEADERBOARD.md, leaderboard.csv and report.html")
    p.add_argument("dirs", type=Path, nargs="+", help="result folders (several are merged first)")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder to write the three files into")
    p.add_argument("--title", default="", help="page title (default: sslbench report — SUITE)")
    p.set_defaults(command=cmd_report)

    p = sub.add_parser("compare", parents=[common], help="exit 1 when NEW got worse than BASELINE beyond its interval")
    p.add_argument("baseline", type=Path, help="result folder, rows.jsonl, or leaderboard.csv/.json")
    p.add_argument("new", type=Path, help="result folder, rows.jsonl, or leaderboard.csv/.json")
    p.add_argument("--tolerance", type=float, default=0.0, help="absolute slack beyond the interval (default 0)")
    p.add_argument("--allow-vanished", action="store_true",
                   help="entries of the baseline missing from NEW do not fail the comparison")
    p.add_argument("--format", choices=["text", "md"], default="text",
                   help="text (default) or a Markdown summary for a CI job (e.g. $GITHUB_STEP_SUMMARY)")
    p.set_defaults(command=cmd_compare)

    p = sub.add_parser("merge", parents=[common], help="combine result folders, deduplicating rows")
    p.add_argument("dirs", type=Path, nargs="+", help="result folders, in order (later ones win on equal rows)")
    p.add_argument("-o", "--output", type=Path, required=True, help="a new (or empty) folder for the merge")
    p.set_defaults(command=cmd_merge)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """``sslbench leaderboard DIR [--format md|csv|json|html] [-o FILE]``."""
    from sslbench.results.leaderboard import build
    from sslbench.results.report import render_board

    folder = _read(args.dir)
    registry = _plugins(args)
    try:
        board = build(_migrated(folder.rows, registry), _direction(registry))
        text = render_board(board, args.format, curves=folder.curves, manifest=folder.manifest, rows=folder.rows)
    except ValueError as err:
        raise UsageError(str(err)) from None
    _write_or_print(text, args.output)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """``sslbench report DIR... -o OUT``: the three committed files of ``results/``."""
    from sslbench.results.leaderboard import build
    from sslbench.results.merge import merge
    from sslbench.results.report import write_report

    merged = merge([_read(d) for d in args.dirs])
    _warn(merged.warnings if len(args.dirs) > 1 else [])
    registry = _plugins(args)
    board = build(_migrated(merged.rows, registry), _direction(registry))
    suites = ", ".join(dict.fromkeys(str(r.get("suite")) for r in merged.rows))
    manifest = merged.manifest if len(args.dirs) > 1 else merged.manifest["merged_from"][0]["manifest"]
    title = args.title or f"sslbench report — {suites}"
    for path in write_report(board, args.output, merged.curves, manifest, title, merged.rows):
        print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """``sslbench compare BASELINE NEW [--tolerance T] [--allow-vanished] [--format text|md]``:
    1 on a regression, a vanished entry (unless allowed) or no entry in common, else 0."""
    from sslbench.results.compare import (
        compare,
        load_entries,
        render_comparison,
        render_markdown,
    )

    registry = _plugins(args)
    direction = _direction(registry)
    migrate = None if registry is None else (lambda rows: _migrated(rows, registry))
    try:
        result = compare(load_entries(args.baseline, direction, migrate), load_entries(args.new, direction, migrate),
                         args.tolerance, allow_vanished=args.allow_vanished)
    except ValueError as err:
        raise UsageError(str(err)) from None
    render = render_markdown if args.format == "md" else render_comparison
    sys.stdout.write(render(result, str(args.baseline), str(args.new), args.tolerance))
    if result.failure:
        sys.stderr.write(f"sslbench: compare failed: {result.failure}\n")
    return EXIT_REGRESSION if result.exit_code else EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    """``sslbench merge DIR... -o OUT``: dedupe rows, warn about mixed data or versions."""
    from sslbench.results.merge import merge, write_merged

    merged = merge([_read(d) for d in args.dirs])
    try:
        write_merged(merged, args.output)
    except ValueError as err:
        raise UsageError(str(err)) from None
    _warn(merged.warnings)
    print(f"merged {len(merged.rows)} rows from {len(args.dirs)} folders into {args.output}", file=sys.stderr)
    return EXIT_OK


def _read(path: Path) -> Any:
    from sslbench.results.merge import read_folder

    try:
        return read_folder(path)
    except (ValueError, OSError) as err:
        raise UsageError(str(err)) from None


def _plugins(args: argparse.Namespace) -> Any:
    """The loaded plugins' registry, or None (with a warning) when they do not load."""
    from sslbench.errors import PluginError

    try:
        return registry_from_args(args)
    except (PluginError, UsageError) as err:
        print(f"sslbench: warning: plugins did not load ({err}); treating every metric as higher-is-better "
              "and rows written before sslbench's identity format 2 by all their options", file=sys.stderr)
        return None


def _direction(registry: Any) -> Any:
    """Metric directions from the loaded plugins' evaluators; all higher-is-better without plugins."""
    from sslbench.results.leaderboard import direction_from_registry, higher_always

    return higher_always if registry is None else direction_from_registry(registry)


def _migrated(rows: list[dict[str, Any]], registry: Any) -> list[dict[str, Any]]:
    """Rows with the identities of older rows recovered under the installed plugins' defaults."""
    if registry is None:
        return rows
    from sslbench.results.identity import defaults_from_registry, with_identity

    return with_identity(rows, *defaults_from_registry(registry))


def _warn(lines: list[str]) -> None:
    for line in lines:
        print(f"sslbench: warning: {line}", file=sys.stderr)


def _write_or_print(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from sslbench import safeio

    safeio.atomic_write(output, text.encode())
