"""``sslbench status DIR``: how far a result folder's grid is — done, running (by which worker), failed, left — and an ETA.

It reads only the folder: the manifest (the planned cells and seeds), the finished pairs
(:func:`sslbench.run.folder.done_pairs`), the rows (failures) and the claims' lock files
(:mod:`sslbench.run.claims`: a held lock is a live worker; its record names it and says when it
started; a finished record says how long the pair took). The ETA is the work left — each pair
left or running counted at the mean duration of the finished pairs of its task (of all finished
pairs when its task has none yet), less what a running pair has done — divided among the workers
running now. Rough: it assumes the pairs left are like the finished ones.
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslbench.cli.common import EXIT_OK
from sslbench.errors import UsageError


@dataclass
class FolderStatus:
    """Pair names by state; running pairs with their claim record; finished pairs' seconds by task."""

    out_dir: Path
    pairs: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # done, with a failed or diverged row
    running: dict[str, dict[str, Any]] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)
    died: dict[str, dict[str, Any]] = field(default_factory=dict)  # left, whose worker died mid-pair
    seconds: dict[str, list[float]] = field(default_factory=dict)  # task → finished pairs' durations

    def eta(self, now: float) -> float | None:
        """Seconds until the grid is done at the current pace, or None without a finished pair or a worker.

        A pair of a task with no finished pair yet counts the mean of all finished pairs, or the longest
        time a running pair of its task has taken so far if that is longer (then :meth:`eta_is_lower_bound`).
        """
        every = [s for values in self.seconds.values() for s in values]
        if not every or not self.running:
            return None if self.left or self.running else 0.0
        elapsed = {name: max(now - float(r.get("started") or now), 0.0) for name, r in self.running.items()}

        def mean(name: str) -> float:
            task = _task(name)
            if self.seconds.get(task):
                return statistics.fmean(self.seconds[task])
            return max([statistics.fmean(every), *(t for n, t in elapsed.items() if _task(n) == task)])

        work = sum(mean(name) for name in self.left)
        work += sum(max(mean(name) - elapsed[name], 0.0) for name in self.running)
        return work / len(self.running)

    def eta_is_lower_bound(self) -> bool:
        """Whether a pair left or running belongs to a task that has no finished pair to pace it."""
        return any(_task(name) not in self.seconds for name in [*self.left, *self.running])


def cmd_status(args: argparse.Namespace) -> int:
    """``sslbench status DIR``."""
    print(render_status(folder_status(args.folder)))
    return EXIT_OK


def folder_status(out_dir: Path) -> FolderStatus:
    """Read a result folder's progress (see the module doc)."""
    from sslbench.run import claims, folder

    manifest = folder.read_manifest(out_dir) if out_dir.is_dir() else None
    if manifest is None:
        raise UsageError(f"{out_dir}: holds no sslbench run yet (no manifest.json); a run writes it when it starts")
    seeds = ((manifest.get("config") or {}).get("run") or {}).get("seeds") or []
    cells = manifest.get("cells") or []
    status = FolderStatus(out_dir, pairs=[_name(cell, seed) for cell in cells for seed in seeds])
    done = folder.done_pairs(out_dir)
    bad = {_row_pair(r) for r in folder.rows_if_any(out_dir) if r.get("status") in ("failed", "diverged")}
    held = claims.claims(out_dir)
    for name in status.pairs:
        now_held, record = held.get(name, (False, None))
        if name in done:
            status.done.append(name)
            if name in bad:
                status.failed.append(name)
            if record and isinstance(record.get("seconds"), (int, float)):
                status.seconds.setdefault(_task(name), []).append(float(record["seconds"]))
        elif now_held:
            status.running[name] = record or {}
        else:
            status.left.append(name)
            if record and "started" in record and "finished" not in record:
                status.died[name] = record
    return status


def render_status(status: FolderStatus, now: float | None = None) -> str:
    """The report ``sslbench status`` prints."""
    now = time.time() if now is None else now
    n = len(status.pairs)
    failed = f" ({len(status.failed)} failed)" if status.failed else ""
    head = (f"{status.out_dir}: {n} (cell, seed) pairs: {len(status.done)} done{failed}, "
            f"{len(status.running)} running, {len(status.left)} left")
    lines = [head]
    for name, record in status.running.items():
        started = record.get("started")
        since = f", for {_duration(now - float(started))}" if isinstance(started, (int, float)) else ""
        lines.append(f"  running: {_pretty(name)}  by {_who(record)}{since}")
    for name in status.failed:
        lines.append(f"  failed: {_pretty(name)}  (its rows say why)")
    for name in status.left:
        died = status.died.get(name)
        note = f"  (its worker {_who(died)} died mid-pair; a live worker or --resume takes it)" if died else ""
        lines.append(f"  left: {_pretty(name)}{note}")
    eta = status.eta(now)
    if eta is None:
        why = "no pair has finished yet" if not status.seconds else "no worker is running"
        lines.append(f"ETA: unknown ({why})")
    elif status.left or status.running:
        finished = sum(map(len, status.seconds.values()))
        bound = "at least " if status.eta_is_lower_bound() else ""
        why = " (a task left has no finished pair yet)" if bound else ""
        lines.append(f"ETA: {bound}{_duration(eta)} at the pace of {finished} finished pair{'s' if finished != 1 else ''} "
                     f"with {len(status.running)} worker{'s' if len(status.running) != 1 else ''} running{why}")
    return "\n".join(lines)


def add_status_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``sslbench status DIR``."""
    p = sub.add_parser("status", parents=[common],
                       help="how far a result folder's grid is: done, running (by which worker), failed, left, ETA")
    p.add_argument("folder", type=Path, metavar="DIR", help="a result folder (sslbench run --out DIR)")
    p.set_defaults(command=cmd_status)


def _name(cell_key: str, seed: int) -> str:
    return f"{cell_key.replace('/', '--')}--seed{seed}"


def _row_pair(row: dict[str, Any]) -> str:
    return f"{row.get('dataset')}--{row.get('task')}--{row.get('model')}--seed{row.get('seed')}"


def _task(name: str) -> str:
    return name.split("--")[1] if name.count("--") >= 3 else ""


def _pretty(name: str) -> str:
    """``ds--task--model--seed0`` → ``ds/task/model seed 0``."""
    head, _, seed = name.rpartition("--seed")
    return f"{head.replace('--', '/')} seed {seed}"


def _who(record: dict[str, Any]) -> str:
    parts = [str(record.get("worker") or "a worker")]
    if record.get("host"):
        parts.append(f"on {record['host']}")
    if record.get("pid"):
        parts.append(f"(pid {record['pid']})")
    return " ".join(parts)


def _duration(seconds: float) -> str:
    from sslbench.run.progress import _duration as duration

    return duration(max(seconds, 0.0))
