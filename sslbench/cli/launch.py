"""``sslbench run --launcher local|slurm --workers N``: N workers that share one grid, through submitit.

Each worker is this very ``sslbench run`` command (without the launcher's options, with
``--resume``) run by submitit (https://github.com/facebookincubator/submitit) — a job array on
SLURM (``AutoExecutor.map_array``), subprocesses on this machine with ``local``. The workers
claim (cell, seed) pairs from the shared ``--out`` folder and retry held ones until the grid is
done (:mod:`sslbench.run.workers`), so the balance is dynamic and no merge is needed. With
``--nproc P`` each worker is a torchrun of P processes on the P GPUs of its allocation.

The config, the plan and the folder are checked here, before anything is submitted, so a
mistake is one line and no job. ``local`` waits for its workers and prints the leaderboard;
``slurm`` prints the job ids and returns (``sslbench status OUT`` follows the grid).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from sslbench.cli.common import EXIT_FAILED_CELLS, EXIT_OK
from sslbench.errors import UsageError

DEFAULT_MINUTES = 24 * 60  # a worker's time limit when --time is not given (submitit's own default is 5 min)
LAUNCHER_OPTIONS = {"--launcher": 1, "--workers": 1, "--partition": 1, "--gpus-per-worker": 1, "--time": 1,
                    "--slurm-option": 1}
"""Options of the launcher itself, with how many values follow each: left out of the workers' command."""


def launch(args: argparse.Namespace) -> int:
    """Check the run, submit ``args.workers`` workers, and (``local``) wait for them; returns the exit status."""
    if args.shard != (0, 1):
        raise UsageError("--shard cannot be combined with --launcher: the workers share the whole grid "
                         "(drop --shard, or run shards by hand without --launcher)")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.out is None:
        raise UsageError("--launcher needs --out DIR: the folder every worker shares (on a file system all nodes see)")
    gpus = args.gpus_per_worker if args.gpus_per_worker is not None else (args.nproc if args.nproc > 1 else 0)
    if gpus < 0 or (args.nproc > 1 and gpus < args.nproc):
        raise UsageError(f"--gpus-per-worker {gpus}: a worker of --nproc {args.nproc} processes needs at least "
                         f"{args.nproc} GPUs")
    minutes = parse_time(args.time) if args.time else DEFAULT_MINUTES
    extra = slurm_options(args.slurm_option)
    submitit = _import_submitit()
    _check_run(args)
    try:
        executor = submitit.AutoExecutor(folder=str(args.out / "workers"), cluster=args.launcher)
    except RuntimeError as err:  # submitit: "Could not detect "srun", are you indeed on a slurm cluster?"
        raise UsageError(f"--launcher {args.launcher}: {err} (submit from a SLURM login node, or use --launcher "
                         "local)") from None
    params: dict[str, Any] = {"timeout_min": math.ceil(minutes), "gpus_per_node": gpus, "tasks_per_node": 1, "nodes": 1,
                              "name": "sslbench"}
    if args.launcher == "slurm":
        params.update(slurm_array_parallelism=args.workers, slurm_additional_parameters=extra)
        if args.partition:
            params["slurm_partition"] = args.partition
    executor.update_parameters(**params)
    argv = worker_argv(args.argv)
    try:  # submitit prints sbatch's stderr before raising it: the one line below says it
        with contextlib.redirect_stderr(io.StringIO()):
            jobs = executor.map_array(run_worker, [argv] * args.workers)
    except (OSError, subprocess.SubprocessError, submitit.core.utils.FailedJobError,
            submitit.core.utils.FailedSubmissionError) as err:  # sbatch refused the job (unknown partition, account...)
        detail = getattr(err, "stderr", None) or getattr(err, "output", None) or err
        detail = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        raise UsageError(f"--launcher {args.launcher}: submitting the workers failed: "
                         f"{' '.join(detail.split())[:300]}") from None
    ids = ", ".join(job.job_id for job in jobs)
    print(f"submitted {len(jobs)} worker{'s' if len(jobs) > 1 else ''} ({args.launcher}: {ids}); logs in "
          f"{args.out / 'workers'}; follow with: sslbench status {args.out}", file=sys.stderr)
    if args.launcher == "slurm":
        return EXIT_OK
    return _wait_local(args, jobs)


def run_worker(argv: list[str]) -> int:
    """One worker (runs inside the submitit job): this run's command, named after the job for ``status``."""
    import submitit

    from sslbench.cli.main import main
    from sslbench.run.claims import WORKER_ENV

    os.environ[WORKER_ENV] = submitit.JobEnvironment().job_id  # torchrun's processes inherit it
    return main(argv)


def worker_argv(argv: list[str]) -> list[str]:
    """The run's command line without the launcher's options, with ``--resume`` (the launcher checked the
    folder; later workers find the first one's manifest there)."""
    out, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
        elif arg in LAUNCHER_OPTIONS:
            skip = LAUNCHER_OPTIONS[arg]
        elif not any(arg.startswith(f"{option}=") for option in LAUNCHER_OPTIONS):
            out.append(arg)
    return out if "--resume" in out else [*out, "--resume"]


def parse_time(text: str) -> float:
    """SLURM's ``--time`` formats in minutes: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not match:
        raise UsageError(f"--time {text!r}: use SLURM's format: minutes, H:MM:SS or D-HH:MM (e.g. 90, 4:00:00, 1-12:00)")
    days, first, second, third = match.groups()
    if days is not None:  # D-H[:M[:S]]
        minutes = int(days) * 1440 + int(first) * 60 + int(second or 0) + int(third or 0) / 60
    elif third is not None:  # H:M:S
        minutes = int(first) * 60 + int(second) + int(third) / 60
    else:  # M[:S]
        minutes = int(first) + int(second or 0) / 60
    if minutes <= 0:
        raise UsageError(f"--time {text!r}: must be more than 0")
    return minutes


def slurm_options(pairs: list[str]) -> dict[str, str]:
    """``--slurm-option key=value`` (repeatable) as sbatch options (``account=abc`` → ``--account=abc``)."""
    found: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_-]*", key.strip()):
            raise UsageError(f"--slurm-option {pair!r}: write KEY=VALUE with an sbatch option name, e.g. account=myproj")
        found[key.strip().replace("-", "_")] = value
    return found


def _import_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise UsageError("--launcher needs submitit: pip install 'sslbench[slurm]'") from None
    return submitit


def _check_run(args: argparse.Namespace) -> None:
    """Everything a worker would refuse in one line, checked once before submitting: config, plan, folder."""
    from sslbench.cli.common import load_run_config, registry_from_args
    from sslbench.plan.grid import plan_grid
    from sslbench.run import folder
    from sslbench.run.runner import differences_from_manifest

    registry = registry_from_args(args)
    config = load_run_config(args, registry)
    plan_grid(config, registry)
    folder.prepare(args.out, config.hash, args.resume, lambda m: differences_from_manifest(config, m))


def _wait_local(args: argparse.Namespace, jobs: list[Any]) -> int:
    """Wait for the local workers; report those that ended without a result; the folder decides the status."""
    from sslbench.cli.status import folder_status, render_status

    for job in jobs:
        try:
            job.result()
        except Exception as err:  # noqa: BLE001 - a worker killed or failed: its pairs go to the others
            first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            print(f"worker {job.job_id} ended without a result ({first[:200]})", file=sys.stderr)
    status = folder_status(Path(args.out))
    print(render_status(status), file=sys.stderr)
    return EXIT_OK if not status.left and not status.running and not status.failed else EXIT_FAILED_CELLS
