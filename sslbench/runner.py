"""Run a planned grid: for each cell and seed build, pretrain, freeze, evaluate, write rows.

The ``random-init`` baseline of a (dataset, model) pair is the same encoder built
from the same seed, evaluated the same way, without pretraining — so the gain of a
pretrained row over its baseline is due to pretraining alone.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import random
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslbench import distributed, hardware, provenance
from sslbench.checkpoint import CellCheckpoint
from sslbench.config import Config
from sslbench.contexts import DatasetContext, EvalContext, ModelContext, TaskContext
from sslbench.data import cache_root
from sslbench.data_api import LoadedDataset
from sslbench.errors import UsageError
from sslbench.grid import Cell, GridPlan, plan_grid
from sslbench.options import options_as_dict
from sslbench.registry import Registry
from sslbench.results import ROWS_FILE, append_rows, make_row, read_rows
from sslbench.train import DivergedError, TrainResult, pretrain

log = logging.getLogger(__name__)
CURVES_FILE = "curves.jsonl"


@dataclass
class RunSummary:
    """How a run went: where rows are, how many, and which cells failed."""

    out_dir: Path
    plan: GridPlan
    rows: int = 0
    failures: list[str] = field(default_factory=list)  # "dataset/task/model seed S: message"

    @property
    def exit_code(self) -> int:
        """0 when every cell succeeded, 1 when some failed or diverged."""
        return 1 if self.failures else 0


@dataclass
class _Run:
    """Everything one run shares between cells."""

    config: Config
    registry: Registry
    out_dir: Path
    device: torch.device
    datasets: dict[str, LoadedDataset | Exception]
    provenance: dict[str, Any]
    cache_dir: Path
    summary: RunSummary


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a usage error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("device 'cuda' requested but torch sees no CUDA device; use device = \"auto\" or \"cpu\"")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_grid(config: Config, registry: Registry, out_dir: Path, *, plan: GridPlan | None = None,
             progress: bool = True, resume: bool = False, shard: tuple[int, int] = (0, 1)) -> RunSummary:
    """Run every cell of ``config`` for every seed and append rows under ``out_dir``.

    Datasets are loaded before anything is written, so a missing dataset fails the
    run with a usage error and leaves no output behind. With ``resume``, cells that
    already have rows in ``out_dir`` are skipped and unfinished ones continue from
    their checkpoints. Each (cell, seed) is claimed with a file lock while it runs, so
    two runs pointed at one folder share the work instead of repeating it. ``shard``
    ``(k, n)`` runs only the (cell, seed) pairs that :func:`in_shard` assigns to k.

    Under torchrun every rank calls this; rank 0 alone writes and reports.
    """
    plan = plan or plan_grid(config, registry)
    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    device = distributed.local_device(resolve_device(config.run.device))
    _check_divisible(plan)
    datasets = _load_datasets(config, registry, plan, progress, device)
    done = distributed.broadcast_object(_prepare_out_dir(out_dir, config, resume) if distributed.is_main() else None)
    run = _Run(
        config=config, registry=registry, out_dir=out_dir, device=device, datasets=datasets,
        provenance=provenance.collect(registry.pm, config.hash, device),
        cache_dir=cache_root() / "artifacts", summary=RunSummary(out_dir=out_dir, plan=plan),
    )
    if distributed.is_main():
        _write_manifest(run)
        registry.pm.hook.sslbench_run_start(plan=plan, out_dir=out_dir)
    todo = [(cell, seed) for cell in plan.cells for seed in config.run.seeds
            if (cell.dataset, cell.task, cell.model, seed) not in done and in_shard(cell, seed, shard)]
    for index, (cell, seed) in enumerate(todo, 1):
        if distributed.is_main():
            registry.pm.hook.sslbench_cell_start(cell=cell, seed=seed, index=index, total=len(todo))
        rows = _run_claimed(run, cell, seed)
        if distributed.is_main():
            registry.pm.hook.sslbench_cell_finish(cell=cell, seed=seed, rows=rows, index=index, total=len(todo))
    if distributed.is_main():
        registry.pm.hook.sslbench_run_finish(summary=run.summary)
    return run.summary


def in_shard(cell: Cell, seed: int, shard: tuple[int, int]) -> bool:
    """Whether (cell, seed) belongs to shard ``k`` of ``n``: a hash of its names, so the
    assignment does not change when the config's lists are reordered."""
    k, n = shard
    digest = hashlib.sha256(f"{cell.key}/seed{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n == k


def _run_claimed(run: _Run, cell: Cell, seed: int) -> list[dict[str, Any]] | None:
    """Run (cell, seed) unless another run holds it; rank 0 claims and decides, every rank trains.

    Returns the rows written (rank 0), or None when another run had it. Without
    torch.distributed this is rank 0 alone (broadcast and barrier are no-ops).
    """
    main, rows = distributed.is_main(), None
    with _claim(run.out_dir, cell, seed) if main else contextlib.nullcontext(False) as claimed:
        if distributed.broadcast_object(claimed and not _has_rows(run.out_dir, cell, seed)):
            rows, trained = _run_cell(run, cell, seed)
            if main:  # only rank 0 writes rows and curves
                _emit(run, cell, seed, rows, trained)
    distributed.barrier()
    return rows


def _check_divisible(plan: GridPlan) -> None:
    """The global batch must split evenly over the processes."""
    world = distributed.world_size()
    for cell in plan.pretrained:
        if cell.run.batch_size % world:
            raise UsageError(f"batch_size {cell.run.batch_size} of cell {cell.key} does not split evenly over "
                             f"{world} processes; use a multiple of {world}")


def _load_datasets(config: Config, registry: Registry, plan: GridPlan, progress: bool,
                   device: torch.device) -> dict[str, Any]:
    """Load each dataset the plan uses once. Usage errors abort; other errors fail its cells."""
    ctx = DatasetContext(data_root=cache_root(), progress=progress, device=device)
    loaded: dict[str, Any] = {}
    for name in dict.fromkeys(c.dataset for c in plan.cells):
        spec = registry.get("dataset", name)
        try:
            loaded[name] = spec.build(ctx, config.options_for("dataset", name))
        except UsageError:
            raise
        except Exception as err:  # a plugin bug: isolate it to this dataset's cells
            log.error("dataset %s failed to load:\n%s", name, traceback.format_exc())
            loaded[name] = err
    return loaded


def _prepare_out_dir(out_dir: Path, config: Config, resume: bool) -> set[tuple[str, str, str, int]]:
    """Create ``out_dir``, or check that resuming into it is safe; return the finished cells.

    A folder holding rows or a manifest of another config is always refused; one of
    the same config only with ``resume``.
    """
    manifest, rows_file = out_dir / "manifest.json", out_dir / ROWS_FILE
    if not manifest.exists() and not rows_file.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        return set()
    hashes = _config_hashes(out_dir)
    if hashes - {config.hash}:
        others = ", ".join(sorted(str(h) for h in hashes - {config.hash}))
        raise UsageError(f"{out_dir}: holds results of another config (hash {others}, this one {config.hash}); "
                         "choose a new --out folder")
    if not resume:
        raise UsageError(f"{out_dir}: already holds results of this config; pass --resume to continue it "
                         "or choose a new --out folder")
    return {(r["dataset"], r["task"], r["model"], r["seed"]) for r in _rows_if_any(out_dir)}


def _config_hashes(out_dir: Path) -> set[str]:
    hashes = {r.get("provenance", {}).get("config_hash") for r in _rows_if_any(out_dir)}
    manifest = out_dir / "manifest.json"
    if manifest.exists():
        try:
            hashes.add(json.loads(manifest.read_text()).get("config_hash"))
        except json.JSONDecodeError:
            raise UsageError(f"{manifest}: is not valid JSON; choose a new --out folder") from None
    return hashes


def _rows_if_any(out_dir: Path) -> list[dict[str, Any]]:
    try:
        return read_rows(out_dir / ROWS_FILE) if (out_dir / ROWS_FILE).exists() else []
    except ValueError as err:
        raise UsageError(f"{err}; the folder's rows are damaged, choose a new --out folder") from None


def _has_rows(out_dir: Path, cell: Cell, seed: int) -> bool:
    """Did another run finish this (cell, seed) while we waited for its lock?"""
    key = (cell.dataset, cell.task, cell.model, seed)
    return any((r["dataset"], r["task"], r["model"], r["seed"]) == key for r in _rows_if_any(out_dir))


@contextlib.contextmanager
def _claim(out_dir: Path, cell: Cell, seed: int) -> Iterator[bool]:
    """Hold an exclusive, non-blocking lock on the (cell, seed); yields False if another run has it."""
    locks = out_dir / "locks"
    locks.mkdir(exist_ok=True)
    fd = os.open(locks / f"{_cell_file_name(cell, seed)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s seed %d: another run is on it; leaving it to that run", cell.key, seed)
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _cell_file_name(cell: Cell, seed: int) -> str:
    return f"{cell.dataset}--{cell.task}--{cell.model}--seed{seed}"


def _write_manifest(run: _Run) -> None:
    """``manifest.json``: the config as run, its hash, the plan and provenance (atomic write)."""
    manifest = {
        "config_file": run.config.path,
        "config": run.config.as_dict(),
        "config_hash": run.config.hash,
        "provenance": run.provenance,
        "cells": [c.key for c in run.summary.plan.cells],
        "skipped": [str(s) for s in run.summary.plan.skipped],
        "datasets": {n: d.fingerprint for n, d in run.datasets.items() if isinstance(d, LoadedDataset)},
    }
    tmp = run.out_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, run.out_dir / "manifest.json")


def _emit(run: _Run, cell: Cell, seed: int, rows: list[dict[str, Any]], trained: TrainResult | None) -> None:
    """Write the curve, then the rows (one atomic append), then tell observers."""
    if trained is not None:
        _write_curve(run, cell, seed, trained)
    append_rows(run.out_dir, rows)
    run.summary.rows += len(rows)
    for row in rows:
        run.registry.pm.hook.sslbench_result_row(row=row)
    if not cell.run.keep_checkpoints:
        _checkpoint(run, cell, seed).remove()


def _checkpoint(run: _Run, cell: Cell, seed: int) -> CellCheckpoint:
    path = run.out_dir / "checkpoints" / f"{_cell_file_name(cell, seed)}.pt"
    return CellCheckpoint(path, every=cell.run.checkpoint_every)


def _run_cell(run: _Run, cell: Cell, seed: int) -> tuple[list[dict[str, Any]], TrainResult | None]:
    """Build, pretrain (unless baseline), freeze and evaluate one cell for one seed."""
    dataset = run.datasets[cell.dataset]
    try:
        if isinstance(dataset, Exception):
            raise dataset
        seed_everything(seed)
        modality, encoder, task = _build(run, cell, dataset)
        trained = None if task is None else pretrain(
            task, _train_split(run, cell, dataset), cell.run, run.device, seed=seed,
            desc=f"{cell.key} seed {seed}", checkpoint=_checkpoint(run, cell, seed),
        )
    except Exception as err:  # isolate any failure to this cell; the grid goes on
        status = "diverged" if isinstance(err, DivergedError) else "failed"
        return _failure_rows(run, cell, seed, status, _explain(err, cell)), None
    if not distributed.is_main():
        return [], trained  # evaluation runs once, on rank 0
    encoder.requires_grad_(False).eval().to(run.device)
    if task is not None:
        task.eval()
    ctx = EvalContext(
        encoder=encoder, task=task, dataset=dataset, modality=modality, label_set=None,
        device=run.device, seed=seed, embed_batch_size=cell.run.embed_batch_size,
    )
    rows = _evaluate(run, cell, seed, ctx, trained)
    if cell.is_baseline:
        rows += _baseline_rows(run, cell, seed, ctx)
    return rows, trained


def _explain(err: Exception, cell: Cell) -> Exception:
    """Name the batch size in a CUDA out-of-memory error, the one setting that usually fixes it."""
    if isinstance(err, torch.cuda.OutOfMemoryError):
        first = str(err).splitlines()[0] if str(err) else "out of memory"
        return RuntimeError(f"CUDA out of memory at batch size {cell.run.batch_size} ({first}); "
                            "lower [run] batch_size or this grid's [grid.run] batch_size")
    return err


def _train_split(run: _Run, cell: Cell, dataset: LoadedDataset) -> Any:
    """The split the cell's task trains on (``TaskSpec.split``)."""
    name = run.registry.get("task", cell.task).split
    try:
        return dataset.split(name)
    except KeyError as err:
        raise ValueError(f"task {cell.task!r} trains on split {name!r}: {err.args[0]}") from None


def _write_curve(run: _Run, cell: Cell, seed: int, trained: TrainResult) -> None:
    """Append the cell's loss curve to ``curves.jsonl`` (one line per cell and seed)."""
    line = {"suite": run.config.run.suite, "dataset": cell.dataset, "task": cell.task, "model": cell.model,
            "seed": seed, "losses": trained.losses}
    with open(run.out_dir / CURVES_FILE, "a") as f:
        f.write(json.dumps(line) + "\n")


def _build(run: _Run, cell: Cell, dataset: LoadedDataset) -> tuple[Any, torch.nn.Module, torch.nn.Module | None]:
    reg, opts = run.registry, run.config.options_for
    data_spec = reg.get("dataset", cell.dataset)
    modality = reg.get("modality", data_spec.modality).build(dataset.info, opts("modality", data_spec.modality))
    model_ctx = ModelContext(dataset=cell.dataset, modality=data_spec.modality, info=dataset.info)
    encoder = reg.get("model", cell.model).build(model_ctx, opts("model", cell.model))
    if cell.is_baseline:
        return modality, encoder, None
    task_ctx = TaskContext(encoder=encoder, modality=modality, dataset=dataset, cache_dir=run.cache_dir)
    return modality, encoder, reg.get("task", cell.task).build(task_ctx, opts("task", cell.task))


def _evaluate(run: _Run, cell: Cell, seed: int, ctx: EvalContext, trained: TrainResult | None) -> list[dict[str, Any]]:
    rows = []
    for plan in cell.evaluations:
        spec = run.registry.get("evaluator", plan.evaluator)
        options = run.config.options_for("evaluator", plan.evaluator)
        for label_set in plan.label_sets:
            start = time.perf_counter()
            try:
                metrics = spec.run(dataclasses.replace(ctx, label_set=label_set), options)
            except Exception as err:  # one broken evaluator must not hide the others
                rows += _failure_rows(run, cell, seed, "failed", err, only=(plan.evaluator, label_set))
                continue
            seconds = time.perf_counter() - start
            for metric, value in metrics.items():
                identity = _identity(run, cell, seed, plan.evaluator, label_set, metric)
                rows.append(_row(run, cell, identity, value, options, trained, eval_seconds=seconds))
    return rows


def _baseline_rows(run: _Run, cell: Cell, seed: int, ctx: EvalContext) -> list[dict[str, Any]]:
    """Reference rows that evaluators compute without an encoder (e.g. item popularity)."""
    rows = []
    for plan in cell.references:
        spec = run.registry.get("evaluator", plan.evaluator)
        options = run.config.options_for("evaluator", plan.evaluator)
        for label_set in plan.label_sets:
            for name, metrics in spec.baselines(dataclasses.replace(ctx, label_set=label_set), options).items():
                for metric, value in metrics.items():
                    identity = {**_identity(run, cell, seed, plan.evaluator, label_set, metric), "task": name}
                    rows.append(_row(run, cell, identity, value, options, None, eval_seconds=0.0))
    return rows


def _identity(run: _Run, cell: Cell, seed: int, evaluator: str, label_set: str | None, metric: str) -> dict[str, Any]:
    return {
        "suite": run.config.run.suite, "dataset": cell.dataset, "task": cell.task, "model": cell.model,
        "evaluator": evaluator, "label_set": label_set or "", "metric": metric, "seed": seed,
    }


def _row(run: _Run, cell: Cell, identity: Mapping[str, Any], value: float | None, eval_options: Any,
         trained: TrainResult | None, *, eval_seconds: float, status: str = "ok", message: str = "") -> dict[str, Any]:
    spec = run.registry.get("evaluator", identity["evaluator"])
    return make_row(
        identity, value, status=status, message=message,
        higher_is_better=bool(spec.higher_is_better.get(identity["metric"], True)),
        protocol=options_as_dict(eval_options) if eval_options is not None else {},
        settings=_settings(run, cell),
        budget=_budget(run, cell),
        cost=_cost(trained, eval_seconds, run.device),
        provenance=run.provenance,
    )


def _settings(run: _Run, cell: Cell) -> dict[str, Any]:
    opts = run.config.options_for
    modality = run.registry.get("dataset", cell.dataset).modality
    settings = {
        "dataset": options_as_dict(opts("dataset", cell.dataset)),
        "modality": options_as_dict(opts("modality", modality)),
        "model": options_as_dict(opts("model", cell.model)),
    }
    if not cell.is_baseline:
        settings["task"] = options_as_dict(opts("task", cell.task))
    return settings


def _budget(run: _Run, cell: Cell) -> dict[str, Any]:
    """The budget as configured (what the leaderboard compares); what was spent is in ``cost``."""
    r = cell.run
    unit = r.budget_unit
    amount = r.budget_amount
    return {"unit": "steps" if cell.is_baseline else unit, "amount": 0 if cell.is_baseline else amount,
            "steps": 0 if cell.is_baseline else (r.steps if unit == "steps" else None),
            "batch_size": r.batch_size, "optimizer": r.optimizer, "lr": r.lr, "weight_decay": r.weight_decay,
            "schedule": r.schedule, "warmup_fraction": r.warmup_fraction}


def _cost(trained: TrainResult | None, eval_seconds: float, device: torch.device) -> dict[str, Any]:
    """Budget spent in all three units (steps, seconds, FLOPs) plus speed, memory and, on
    GPUs, model FLOPs utilisation (achieved FLOP/s over the device's dense bf16 peak)."""
    if trained is None:
        return {"steps": 0, "train_seconds": 0.0, "flops": 0, "flops_per_step": None, "samples_per_s": None,
                "peak_memory_bytes": None, "eval_seconds": round(eval_seconds, 4), "final_loss": None}
    return {
        "steps": trained.steps, "train_seconds": round(trained.seconds, 4), "flops": trained.flops,
        "flops_per_step": trained.flops_per_step, "samples_per_s": round(trained.samples_per_s, 2),
        "peak_memory_bytes": trained.peak_memory_bytes, "eval_seconds": round(eval_seconds, 4),
        "effective_batch_size": trained.batch_size, "final_loss": trained.final_loss,
        "resumed_from_step": trained.resumed_from,
        "mfu": hardware.mfu(trained.flops, trained.seconds, device),
    }


def _failure_rows(run: _Run, cell: Cell, seed: int, status: str, err: Exception,
                  only: tuple[str, str | None] | None = None) -> list[dict[str, Any]]:
    """One row per (evaluator, label set) the failure cost, value null, with the message."""
    message = f"{type(err).__name__}: {err}"
    log.error("%s seed %d %s: %s", cell.key, seed, status, message)
    log.debug("%s", traceback.format_exc())
    run.summary.failures.append(f"{cell.key} seed {seed}: {message}")
    pairs = [only] if only else [(p.evaluator, ls) for p in cell.evaluations for ls in p.label_sets]
    rows = []
    for evaluator, label_set in pairs:
        identity = _identity(run, cell, seed, evaluator, label_set, "")
        options = run.config.options_for("evaluator", evaluator)
        rows.append(_row(run, cell, identity, None, options, None, eval_seconds=0.0, status=status, message=message))
    return rows
