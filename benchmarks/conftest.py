"""Shared fixtures of the performance benchmarks: the registry, the device, and the JSON record.

Every benchmark module writes ``results/bench/<module>.json`` (or
``$SSLBENCH_BENCH_OUT/<module>.json``): one entry per measurement, each with the
load average and thread count it ran under, and a ``machine`` block (CPU, cores,
torch, device, git revision). Re-running one test replaces only its entry.

Run them all (see benchmarks/README.md)::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest benchmarks/bench_*.py --benchmark-only -s
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def bench_out_dir() -> Path:
    """Where the JSON goes: ``$SSLBENCH_BENCH_OUT`` or ``results/bench``."""
    return Path(os.environ.get("SSLBENCH_BENCH_OUT") or ROOT / "results" / "bench")


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages ([] where /proc is missing)."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: torch.device) -> dict[str, Any]:
    """What the numbers were measured on."""
    from sslbench.run.provenance import git_revision

    return {
        "cpu": cpu_model(), "nproc": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "git": git_revision(ROOT),
    }


def bench_device() -> torch.device:
    """``$SSLBENCH_BENCH_DEVICE`` (cpu | cuda), else CUDA when present, else the CPU."""
    name = os.environ.get("SSLBENCH_BENCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise pytest.UsageError(f"SSLBENCH_BENCH_DEVICE: must be cpu or cuda, got {name!r}")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock read means what it says."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device every benchmark measures on."""
    return bench_device()


@pytest.fixture(scope="session")
def registry() -> Any:
    """Every installed plugin, loaded through entry points as ``sslbench`` loads them."""
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    return Registry(make_plugin_manager())


@pytest.fixture(scope="session")
def data_ctx() -> Any:
    """The dataset context the runner passes to ``DatasetSpec.build`` (the user's data cache)."""
    from sslbench import DatasetContext
    from sslbench.data import cache_root

    return DatasetContext(data_root=cache_root(), progress=False)


@pytest.fixture(scope="module")
def record(request: pytest.FixtureRequest, device: torch.device) -> Callable[..., None]:
    """``record(key, summary, **entry)``: print ``summary`` and write ``entry`` under ``key`` into the
    module's JSON at once (so a run cut short by a timeout keeps what it measured)."""
    path = bench_out_dir() / f"{Path(request.module.__file__).stem}.json"

    def add(key: str, summary: str, **entry: Any) -> None:
        entry = {**entry, "loadavg": loadavg(), "torch_threads": torch.get_num_threads(),
                 "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        write_entries(path, {key: entry}, device)
        print(f"\n[{key}] {summary} (load {' '.join(f'{x:.1f}' for x in loadavg())}, {os.cpu_count()} cores, "
              f"{torch.get_num_threads()} torch threads, {device})")

    return add


def write_entries(path: Path, entries: dict[str, Any], device: torch.device) -> None:
    """Merge ``entries`` into the JSON at ``path`` (entries of other runs kept) and rewrite it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    results = {**old.get("results", {}), **entries}
    payload = {"machine": machine(device), "results": dict(sorted(results.items()))}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
