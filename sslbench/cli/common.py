"""What every ``sslbench`` subcommand shares: exit statuses, the one-line argparse, the
registry built from the ``-p`` flags, and argument types."""
from __future__ import annotations

import argparse
from typing import Any, NoReturn

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE = 0, 1, 2
EXIT_REGRESSION = 1  # `compare`: a regression or a vanished entry
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports of a writer whose reader went away


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")



def registry_from_args(args: argparse.Namespace) -> Any:
    from sslbench.plugins import make_plugin_manager, parse_plugin_args
    from sslbench.registry import Registry

    blocked, modules = parse_plugin_args([*args.plugin_args_before, *args.plugin_args])
    return Registry(make_plugin_manager(blocked=blocked, modules=modules))



def shard_arg(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like K/N, e.g. 0/4, got {text!r}") from None
    if n < 1 or not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 0 <= K < N, got {text!r}")
    return k, n



def seed_list_arg(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("seeds must name at least one integer")
    return seeds


def load_run_config(args: argparse.Namespace, registry: Any) -> Any:
    """The config ``sslbench run`` runs: the file, its ``key=value`` overrides, then ``--device``,
    ``--seeds`` and ``--log`` (each wins over the file and the overrides)."""
    from sslbench.plan.config import load_config

    flags: dict[str, Any] = {}
    if args.device:
        flags["device"] = args.device
    if args.seeds is not None:
        flags["seeds"] = args.seeds
    if getattr(args, "loggers", None):
        flags["loggers"] = tuple(dict.fromkeys(args.loggers))
    return load_config(args.config, registry, flags, settings=args.overrides)
