"""Where a result came from: versions, git revision, device."""
from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import pluggy
import torch

from sslbench.plugins import plugin_versions


def package_version(name: str) -> str:
    """Installed version of distribution ``name``, or ``"not installed"``."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_revision(path: Path | None = None) -> str:
    """The revision of the checkout holding sslbench (``git describe --always``), ``-dirty`` when its
    tracked files differ from it, or ``""`` outside a checkout. Reads the repository without writing it.

    ``git describe --dirty`` refreshes the index and takes ``index.lock`` for a moment even under
    ``--no-optional-locks`` (seen in a trace: a concurrent ``git commit`` then fails). The revision
    comes from ``describe`` without ``--dirty`` and the dirty state from ``status --porcelain``,
    which honours ``--no-optional-locks`` and ``GIT_OPTIONAL_LOCKS=0`` and writes nothing.
    """
    revision = _git(path, "describe", "--always", "--abbrev=12")
    if not revision:
        return ""
    status = _git(path, "status", "--porcelain", "--untracked-files=no")
    return f"{revision}-dirty" if status else revision


def _git(path: Path | None, *args: str) -> str:
    """The stripped output of a read-only git command in sslbench's folder ("" if it fails)."""
    where = path or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "--no-optional-locks", "-c", "core.fsmonitor=false", *args],
            cwd=where, capture_output=True, text=True, timeout=10, check=True,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def device_name(device: torch.device) -> str:
    """``cuda: NVIDIA H200`` or ``cpu: x86_64 (2 threads)``."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.machine()} ({torch.get_num_threads()} threads)"


def collect(pm: pluggy.PluginManager, config_hash: str, device: torch.device) -> dict[str, Any]:
    """The provenance block stored in every row of a run."""
    return {
        "config_hash": config_hash,
        "sslbench": package_version("sslbench"),
        "torch": torch.__version__,
        "plugins": plugin_versions(pm),
        "git": git_revision(),
        "device": device_name(device),
        "python": platform.python_version(),
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
