"""Run a planned grid: for each cell and seed build, pretrain, freeze, evaluate, write rows.

The ``random-init`` baseline of a (dataset, model) pair is the same encoder built
from the same seed, evaluated the same way, without pretraining — so the gain of a
pretrained row over its baseline is due to pretraining alone.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslbench import provenance
from sslbench.config import Config
from sslbench.contexts import DatasetContext, EvalContext, ModelContext, TaskContext
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


def data_root() -> Path:
    """The data cache: ``$SSLBENCH_DATA`` or ``~/.cache/sslbench``."""
    return Path(os.environ.get("SSLBENCH_DATA") or Path.home() / ".cache" / "sslbench")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_grid(config: Config, registry: Registry, out_dir: Path, *, plan: GridPlan | None = None,
             progress: bool = True) -> RunSummary:
    """Run every cell of ``config`` for every seed and append rows under ``out_dir``.

    Datasets are loaded before anything is written, so a missing dataset fails the
    run with a usage error and leaves no output behind.
    """
    plan = plan or plan_grid(config, registry)
    device = resolve_device(config.run.device)
    datasets = _load_datasets(config, registry, plan, progress)
    _prepare_out_dir(out_dir, config)
    run = _Run(
        config=config, registry=registry, out_dir=out_dir, device=device, datasets=datasets,
        provenance=provenance.collect(registry.pm, config.hash, device),
        cache_dir=data_root() / "artifacts", summary=RunSummary(out_dir=out_dir, plan=plan),
    )
    _write_manifest(run)
    registry.pm.hook.sslbench_run_start(plan=plan, out_dir=out_dir)
    for cell in plan.cells:
        for seed in config.run.seeds:
            _emit(run, _run_cell(run, cell, seed))
    registry.pm.hook.sslbench_run_finish(summary=run.summary)
    return run.summary


def _load_datasets(config: Config, registry: Registry, plan: GridPlan, progress: bool) -> dict[str, Any]:
    """Load each dataset the plan uses once. Usage errors abort; other errors fail its cells."""
    ctx = DatasetContext(data_root=data_root(), progress=progress)
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


def _prepare_out_dir(out_dir: Path, config: Config) -> None:
    """Create ``out_dir``; refuse one that already holds rows (never mix two runs)."""
    rows_file = out_dir / ROWS_FILE
    if rows_file.exists():
        hashes = {r.get("provenance", {}).get("config_hash") for r in read_rows(rows_file)}
        same = hashes == {config.hash}
        why = "rows of this config" if same else f"rows of another config (hash {', '.join(map(str, sorted(hashes, key=str)))})"
        raise UsageError(f"{out_dir}: already holds {why}; choose a new --out folder")
    out_dir.mkdir(parents=True, exist_ok=True)


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


def _emit(run: _Run, rows: list[dict[str, Any]]) -> None:
    append_rows(run.out_dir, rows)
    run.summary.rows += len(rows)
    for row in rows:
        run.registry.pm.hook.sslbench_result_row(row=row)


def _run_cell(run: _Run, cell: Cell, seed: int) -> list[dict[str, Any]]:
    """Build, pretrain (unless baseline), freeze and evaluate one cell for one seed."""
    dataset = run.datasets[cell.dataset]
    try:
        if isinstance(dataset, Exception):
            raise dataset
        seed_everything(seed)
        modality, encoder, task = _build(run, cell, dataset)
        trained = None if task is None else pretrain(
            task, _train_split(run, cell, dataset), cell.run, run.device, seed=seed, desc=f"{cell.key} seed {seed}"
        )
    except Exception as err:  # isolate any failure to this cell; the grid goes on
        status = "diverged" if isinstance(err, DivergedError) else "failed"
        return _failure_rows(run, cell, seed, status, err)
    encoder.requires_grad_(False).eval().to(run.device)
    if task is not None:
        task.eval()
    ctx = EvalContext(
        encoder=encoder, task=task, dataset=dataset, modality=modality, label_set=None,
        device=run.device, seed=seed, embed_batch_size=cell.run.embed_batch_size,
    )
    if trained is not None:
        _write_curve(run, cell, seed, trained)
    rows = _evaluate(run, cell, seed, ctx, trained)
    if cell.is_baseline:
        rows += _baseline_rows(run, cell, seed, ctx)
    return rows


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
    return make_row(
        identity, value, status=status, message=message,
        protocol=options_as_dict(eval_options) if eval_options is not None else {},
        settings=_settings(run, cell),
        budget=_budget(run, cell),
        cost=_cost(trained, eval_seconds),
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
    r = cell.run
    steps = 0 if cell.is_baseline else r.steps
    return {"steps": steps, "batch_size": r.batch_size, "optimizer": r.optimizer, "lr": r.lr,
            "weight_decay": r.weight_decay, "schedule": r.schedule, "warmup_fraction": r.warmup_fraction}


def _cost(trained: TrainResult | None, eval_seconds: float) -> dict[str, Any]:
    if trained is None:
        return {"train_seconds": 0.0, "samples_per_s": None, "peak_memory_bytes": None,
                "eval_seconds": round(eval_seconds, 4), "final_loss": None}
    return {
        "train_seconds": round(trained.seconds, 4), "samples_per_s": round(trained.samples_per_s, 2),
        "peak_memory_bytes": trained.peak_memory_bytes, "eval_seconds": round(eval_seconds, 4),
        "effective_batch_size": trained.batch_size, "final_loss": trained.final_loss,
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
