"""The ``sslbench`` console script.

Exit status: 0 success; 1 some cells failed (the rest ran and were written);
2 a usage, config, data or plugin error (one line on stderr, nothing written);
130 interrupted (Ctrl-C); 141 stdout's reader went away (``| head``), silently.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sslbench.errors import UsageError
from sslbench.safeio import StorageError

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports of a writer whose reader went away


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # Ctrl-C while the parser imports the subcommands is an interruption too, not a traceback
        args = build_parser().parse_args(argv)
        args.argv = argv
        from sslbench.progress import configure_logging

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
        return 130
    except BrokenPipeError:  # whoever read stdout went away (`sslbench list | head -1`): not an error of ours
        _silence_stdout()
        return EXIT_BROKEN_PIPE


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
    parser = _Parser(prog="sslbench", description="Benchmark self-supervised pretraining across modalities.")
    # Its own dest: a subcommand's defaults would otherwise overwrite what was given before it.
    parser.add_argument("-p", dest="plugin_args_before", action="append", default=[], metavar="NAME", help=plugin_help)
    sub = parser.add_subparsers(dest="subcommand", required=True, parser_class=_Parser)

    p = sub.add_parser("list", parents=[common], help="list every component by kind, with its plugin and declarations")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--cells", type=Path, metavar="CONFIG",
                   help="instead: the cells CONFIG would run, and why every other combination is skipped")
    p.set_defaults(command=cmd_list)

    p = sub.add_parser("run", parents=[common], help="pretrain and evaluate every compatible cell of a config")
    p.add_argument("config", type=Path, help="a TOML config (see benchmarks/smoke.toml)")
    p.add_argument("--out", type=Path, help="result folder (default: runs/<suite>-<UTC time>)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override [run] device")
    p.add_argument("--seeds", type=_seed_list, help="override [run] seeds, e.g. 0,1,2")
    p.add_argument("--resume", action="store_true",
                   help="continue a run in --out: skip finished cells, resume unfinished ones from checkpoints")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="K/N",
                   help="run only shard K of N (0 <= K < N) of the (cell, seed) pairs; merge folders afterwards")
    p.add_argument("--traceback", action="store_true",
                   help="print the full traceback of each failed or diverged cell to stderr (always stored in "
                   "OUT/tracebacks/)")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train each cell on N processes (launches torchrun with DistributedDataParallel)")
    p.set_defaults(command=cmd_run)

    from sslbench.cli_report import add_subcommands  # leaderboard, report, compare, merge

    add_subcommands(sub, common)

    from sslbench.cli_data import add_data_parser  # `data list` and `data prepare`

    add_data_parser(sub, common)
    return parser


def cmd_list(args: argparse.Namespace) -> int:
    """``sslbench list``: components by kind."""
    from sslbench.listing import describe_registry, render_listing

    registry = _registry(args)
    if args.cells is not None:
        from sslbench.config import load_config
        from sslbench.grid import plan_grid
        from sslbench.listing import describe_plan, render_plan

        plan = describe_plan(plan_grid(load_config(args.cells, registry), registry))
        print(json.dumps(plan, indent=2) if args.json else render_plan(plan))
        return EXIT_OK
    described = describe_registry(registry)
    print(json.dumps(described, indent=2) if args.json else render_listing(described))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """``sslbench run``: plan the grid, run it, write rows, print the leaderboard."""
    from sslbench.config import load_config
    from sslbench.grid import plan_grid
    from sslbench.results import read_rows
    from sslbench.runner import run_grid

    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(args)
    if args.nproc < 1:
        raise UsageError(f"--nproc must be >= 1, got {args.nproc}")
    registry = _registry(args)
    overrides: dict[str, Any] = {}
    if args.device:
        overrides["device"] = args.device
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    config = load_config(args.config, registry, overrides)
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out DIR: the folder of the run to continue")
    from sslbench import distributed
    from sslbench.runner import resolve_device

    if distributed.init_from_env(resolve_device(config.run.device)) and args.out is None:
        raise UsageError("under torchrun, give --out DIR so that every process writes to the same folder")
    out = args.out or Path("runs") / f"{config.run.suite}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}"
    plan = plan_grid(config, registry)
    main_rank = distributed.is_main()
    quiet = args.verbosity < 0
    if main_rank and not quiet:  # it prints the plan once the run starts: a refused run says one line only
        from sslbench.progress import ProgressReporter

        registry.pm.register(ProgressReporter(), name="sslbench-progress")
    try:
        summary = run_grid(config, registry, out, plan=plan, resume=args.resume, shard=args.shard,
                           show_tracebacks=args.traceback)
    except BaseException:
        distributed.shutdown(wait=False)
        raise
    distributed.shutdown()
    if not main_rank:
        return summary.exit_code
    if summary.pairs == 0:
        k, n = args.shard
        print(f"sslbench: shard {k}/{n} holds none of the grid's {len(plan.cells) * len(config.run.seeds)} "
              "(cell, seed) pairs; nothing to run", file=sys.stderr)
        return EXIT_OK
    if not (out / "rows.jsonl").exists():  # every pair was done already or taken by another run
        print(f"wrote 0 rows to {out / 'rows.jsonl'}", file=sys.stderr)
        return summary.exit_code
    from sslbench.leaderboard import build, direction_from_registry, render_board

    print(render_board(build(read_rows(out), direction_from_registry(registry)), "md"))
    if not quiet:
        print(f"wrote {summary.rows} rows to {out / 'rows.jsonl'}", file=sys.stderr)
    for failure in summary.failures:
        print(f"failed: {failure}", file=sys.stderr)
    return summary.exit_code


def _registry(args: argparse.Namespace) -> Any:
    from sslbench.plugins import make_plugin_manager, parse_plugin_args
    from sslbench.registry import Registry

    blocked, modules = parse_plugin_args([*args.plugin_args_before, *args.plugin_args])
    return Registry(make_plugin_manager(blocked=blocked, modules=modules))


def _launch_torchrun(args: argparse.Namespace) -> int:
    """Re-run this very command under torchrun with ``--nproc`` processes on this machine."""
    import subprocess

    rest, skip = [], False
    # drop --nproc N / --nproc=N (torchrun sets WORLD_SIZE instead): left in, torchrun's own parser
    # takes it for an abbreviation of --nproc-per-node and stops with 'ambiguous option'
    for arg in args.argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            rest.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.nproc}",
               "-m", "sslbench", *rest]
    return subprocess.call(command)


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like K/N, e.g. 0/4, got {text!r}") from None
    if n < 1 or not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 0 <= K < N, got {text!r}")
    return k, n


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("seeds must name at least one integer")
    return seeds


def console_main() -> NoReturn:
    """The console-script wrapper: ``sys.exit(main())``."""
    sys.exit(main())
