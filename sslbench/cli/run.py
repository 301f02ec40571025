"""``sslbench list`` and ``sslbench run``: the components, the planned cells, and running them."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from sslbench.cli.common import EXIT_OK, load_run_config, registry_from_args
from sslbench.errors import UsageError


def cmd_list(args: argparse.Namespace) -> int:
    """``sslbench list``: components by kind."""
    from sslbench.plan.listing import describe_registry, render_listing

    if args.cells is not None and args.config is not None:
        raise UsageError("list: give --cells CONFIG or --config CONFIG, not both")
    if args.overrides and args.cells is None and args.config is None:
        raise UsageError(f"key=value overrides ({args.overrides[0]}) need --cells CONFIG or --config CONFIG: "
                         "they change a config")
    registry = registry_from_args(args)
    if args.cells is not None:
        from sslbench.plan.config import load_config
        from sslbench.plan.grid import plan_grid
        from sslbench.plan.listing import describe_plan, render_plan

        config = load_config(args.cells, registry, settings=args.overrides)
        plan = describe_plan(plan_grid(config, registry), config)
        print(json.dumps(plan, indent=2) if args.json else render_plan(plan))
        return EXIT_OK
    if args.config is not None:
        from sslbench.plan.config import load_config

        described = describe_registry(registry, load_config(args.config, registry, settings=args.overrides))
    else:
        described = describe_registry(registry)
    print(json.dumps(described, indent=2) if args.json else render_listing(described))
    return EXIT_OK



def cmd_run(args: argparse.Namespace) -> int:
    """``sslbench run``: plan the grid, run it, write rows, print the leaderboard."""
    from sslbench.plan.grid import plan_grid
    from sslbench.results import read_rows
    from sslbench.run.runner import run_grid

    if args.launcher:
        from sslbench.cli.launch import launch

        return launch(args)
    given = [name for name, value in (("--workers", args.workers != 1), ("--partition", args.partition),
             ("--gpus-per-worker", args.gpus_per_worker is not None), ("--time", args.time),
             ("--slurm-option", args.slurm_option)) if value]
    if given:
        raise UsageError(f"{given[0]} needs --launcher local|slurm (it sets up the workers that --launcher starts)")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(args)
    if args.nproc < 1:
        raise UsageError(f"--nproc must be >= 1, got {args.nproc}")
    registry = registry_from_args(args)
    config = load_run_config(args, registry)
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out DIR: the folder of the run to continue")
    from sslbench import distributed
    from sslbench.run.cells import resolve_device

    if distributed.init_from_env(resolve_device(config.run.device)) and args.out is None:
        raise UsageError("under torchrun, give --out DIR so that every process writes to the same folder")
    out = args.out or Path("runs") / f"{config.run.suite}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}"
    plan = plan_grid(config, registry)
    main_rank = distributed.is_main()
    quiet = args.verbosity < 0
    if main_rank and not quiet:  # it prints the plan once the run starts: a refused run says one line only
        from sslbench.run.progress import ProgressReporter

        registry.pm.register(ProgressReporter(), name="sslbench-progress")
    try:
        summary = run_grid(config, registry, out, plan=plan, resume=args.resume, shard=args.shard,
                           show_tracebacks=args.traceback, wait=args.wait)
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
    from sslbench.results.identity import defaults_from_registry, with_identity
    from sslbench.results.leaderboard import build, direction_from_registry
    from sslbench.results.report import render_board

    rows = with_identity(read_rows(out), *defaults_from_registry(registry))  # a resumed folder may hold older rows
    print(render_board(build(rows, direction_from_registry(registry)), "md"))
    if not quiet:
        print(f"wrote {summary.rows} rows to {out / 'rows.jsonl'}", file=sys.stderr)
    for failure in summary.failures:
        print(f"failed: {failure}", file=sys.stderr)
    return summary.exit_code



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
