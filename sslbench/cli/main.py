"""The ``sslbench`` console script.

Exit status: 0 success; 1 some cells failed (the rest ran and were written);
2 a usage, config, data or plugin error (one line on stderr, nothing written);
130 interrupted (Ctrl-C); 141 stdout's reader went away (``| head``), silently.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from sslbench.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED_CELLS,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OneLineParser,
    seed_list_arg,
    shard_arg,
)
from sslbench.errors import UsageError
from sslbench.safeio import StorageError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # Ctrl-C while the parser imports the subcommands is an interruption too, not a traceback
        args = _parse(build_parser(), argv)
        args.argv = argv
        from sslbench.logs import configure_logging

        configure_logging(getattr(args, "verbosity", 0))
        return args.command(args)
    except UsageError as err:
        print(f"sslbench: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as err:  # a full or failing disk: what was written stays, --resume continues
        print(f"sslbench: error: {err}", file=sys.stderr)
        return EXIT_FAILED_CELLS
    except KeyboardInterrupt:
        print("sslbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # whoever read stdout went away (`sslbench list | head -1`): not an error of ours
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args``, but ``key=value`` overrides may also follow an option
    (``run CONFIG --out DIR run.steps=5``), which argparse alone leaves unrecognised."""
    args, extra = parser.parse_known_args(argv)
    stray = [a for a in extra if a.startswith("-") or "=" not in a or not hasattr(args, "overrides")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    return args


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's final flush does not report the broken pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    plugin_help = ("'no:NAME' blocks plugin NAME; 'no:PLUGIN:NAME' blocks one component; "
                   "a module name loads it as a plugin (repeatable)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-p", dest="plugin_args", action="append", default=[], metavar="NAME", help=plugin_help)
    common.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=0,
                        help="print only errors, failures and the results (no plan, no progress lines)")
    common.add_argument("-v", "--verbose", dest="verbosity", action="count", default=0,
                        help="log what sslbench and its plugins do (INFO), e.g. the loss every 10 steps; -vv adds DEBUG")
    parser = OneLineParser(prog="sslbench", description="Benchmark self-supervised pretraining across modalities.")
    # Its own dest: a subcommand's defaults would otherwise overwrite what was given before it.
    parser.add_argument("-p", dest="plugin_args_before", action="append", default=[], metavar="NAME", help=plugin_help)
    sub = parser.add_subparsers(dest="subcommand", required=True, parser_class=OneLineParser)

    p = sub.add_parser("list", parents=[common], help="list every component by kind, with its plugin and declarations")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--cells", type=Path, metavar="CONFIG",
                   help="instead: the cells CONFIG would run, and why every other combination is skipped")
    p.add_argument("--config", type=Path, metavar="CONFIG",
                   help="also list CONFIG's variants (e.g. [tasks.\"simclr-t02\"] base = \"simclr\") as components")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="with --cells or --config: override a key of CONFIG (as for run)")
    p.set_defaults(command=_lazy("run", "cmd_list"))

    p = sub.add_parser("run", parents=[common], help="pretrain and evaluate every compatible cell of a config")
    p.add_argument("config", type=Path, help="a TOML config (see benchmarks/smoke.toml)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="override a key of the config, as TOML: run.steps=50, grid.tasks='[\"simclr\"]', "
                   "tasks.simclr.temperature=0.2, grid.NAME.run.steps=10 (docs/running.md)")
    p.add_argument("--out", type=Path, help="result folder (default: runs/<suite>-<UTC time>)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override [run] device")
    p.add_argument("--seeds", type=seed_list_arg, help="override [run] seeds, e.g. 0,1,2")
    p.add_argument("--log", dest="loggers", action="append", metavar="TRACKER", choices=["tensorboard"],
                   help="follow training live in TRACKER (tensorboard: OUT/tensorboard/); overrides [run] loggers")
    p.add_argument("--resume", action="store_true",
                   help="continue a run in --out: skip finished cells, resume unfinished ones from checkpoints")
    p.add_argument("--shard", type=shard_arg, default=(0, 1), metavar="K/N",
                   help="run only shard K of N (0 <= K < N) of the (cell, seed) pairs; merge folders afterwards")
    p.add_argument("--traceback", action="store_true",
                   help="print the full traceback of each failed or diverged cell to stderr (always stored in "
                   "OUT/tracebacks/)")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train each cell on N processes (launches torchrun with DistributedDataParallel)")
    p.add_argument("--no-wait", dest="wait", action="store_false",
                   help="end once every pair left is held by another live run, instead of waiting to take over "
                   "one whose run dies")
    _add_launcher_options(p)
    p.set_defaults(command=_lazy("run", "cmd_run"))

    from sslbench.cli.status import add_status_parser  # `status DIR`

    add_status_parser(sub, common)

    from sslbench.cli.results import (
        add_subcommands,  # leaderboard, report, compare, merge
    )

    add_subcommands(sub, common)

    from sslbench.cli.data import add_data_parser  # `data list` and `data prepare`

    add_data_parser(sub, common)

    from sslbench.cli.export import add_export_parser  # `export`

    add_export_parser(sub, common)
    return parser


def _add_launcher_options(p: argparse.ArgumentParser) -> None:
    """``run``'s workers through submitit (:mod:`sslbench.cli.launch`)."""
    p.add_argument("--launcher", choices=["local", "slurm"],
                   help="run --workers N workers that share the grid: a SLURM job array, or processes here (submitit)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="how many workers --launcher starts")
    p.add_argument("--partition", help="SLURM partition of the workers")
    p.add_argument("--gpus-per-worker", type=int, metavar="G", help="GPUs of each worker (default: --nproc when > 1, else 0)")
    p.add_argument("--time", metavar="T", help="each worker's time limit, SLURM's format (default 24:00:00)")
    p.add_argument("--slurm-option", action="append", default=[], metavar="KEY=VALUE",
                   help="any sbatch option for the workers, e.g. account=myproj (repeatable)")


def console_main() -> NoReturn:
    """The console-script wrapper: ``sys.exit(main())``."""
    sys.exit(main())


def _lazy(module: str, name: str):  # noqa: ANN202
    """``sslbench.cli.<module>.<name>``, imported when the subcommand runs (``--help`` stays fast)."""
    def command(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(f"sslbench.cli.{module}"), name)(args)
    return command
