"""Run a planned grid: for each cell and seed build, pretrain, freeze, evaluate, write rows.

The ``random-init`` baseline of a (dataset, model) pair is the same encoder built
from the same seed, evaluated the same way, without pretraining — so the gain of a
pretrained row over its baseline is due to pretraining alone. A dataset's
``no-encoder`` cell evaluates its modality's reference feature map (raw pixels,
tf-idf, ...) the same way, once per seed.
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
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslbench import distributed, hardware, provenance, safeio
from sslbench.checkpoint import CellCheckpoint
from sslbench.commit import COMMITS_FILE, CURVES_FILE, PENDING_DIR, commit_cell, done_cells, replay_pending
from sslbench.config import Config
from sslbench.contexts import (
    DatasetContext, EvalContext, MissingCapabilityError, MissingLabelSetError, ModelContext, TaskContext,
)
from sslbench.data import cache_root
from sslbench.data_api import LoadedDataset
from sslbench.errors import PluginError, UsageError
from sslbench.grid import BASELINE_TASK, Cell, GridPlan, plan_grid
from sslbench.options import options_as_dict
from sslbench.registry import Registry
from sslbench.results import ROWS_FILE, make_row, read_rows
from sslbench.specs import check_encoder
from sslbench.train import DivergedError, TrainResult, pretrain

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """How a run went: where rows are, how many, and which cells failed."""

    out_dir: Path
    plan: GridPlan
    rows: int = 0
    pairs: int = 0  # (cell, seed) pairs of this run's shard (0: the shard is empty, nothing ran)
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
    show_tracebacks: bool = False  # `sslbench run --traceback`: print each failure's traceback to stderr


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
             progress: bool = True, resume: bool = False, shard: tuple[int, int] = (0, 1),
             show_tracebacks: bool = False) -> RunSummary:
    """Run every cell of ``config`` for every seed and append rows under ``out_dir``.

    Datasets are loaded before anything is written, so a missing dataset fails the
    run with a usage error and leaves no output behind. With ``resume``, cells that
    already have rows in ``out_dir`` are skipped and unfinished ones continue from
    their checkpoints. Each (cell, seed) is claimed with a file lock while it runs, so
    two runs pointed at one folder share the work instead of repeating it. ``shard``
    ``(k, n)`` runs only the (cell, seed) pairs that :func:`shard_pairs` deals to k; an
    empty shard returns at once, having written nothing (``summary.pairs == 0``).
    The traceback of every failed or diverged cell goes to ``OUT/tracebacks/`` (its rows'
    message names the file); ``show_tracebacks`` also prints it to stderr.

    Under torchrun every rank calls this; rank 0 alone writes and reports.
    """
    plan = plan or plan_grid(config, registry)
    mine = shard_pairs(plan, config.run.seeds, shard)
    if not mine:
        return RunSummary(out_dir=out_dir, plan=plan)
    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    device = distributed.local_device(resolve_device(config.run.device))
    _check_divisible(plan)
    datasets = _load_datasets(config, registry, plan, progress, device)
    done = distributed.broadcast_object(_prepare_out_dir(out_dir, config, resume) if distributed.is_main() else None)
    run = _Run(
        config=config, registry=registry, out_dir=out_dir, device=device, datasets=datasets,
        provenance=provenance.collect(registry.pm, config.hash, device),
        cache_dir=cache_root() / "artifacts", summary=RunSummary(out_dir=out_dir, plan=plan, pairs=len(mine)),
        show_tracebacks=show_tracebacks,
    )
    if distributed.is_main():
        _write_manifest(run)
        registry.pm.hook.sslbench_run_start(plan=plan, out_dir=out_dir)
    todo = [(cell, seed) for cell in plan.cells for seed in config.run.seeds
            if _cell_file_name(cell, seed) not in done and _cell_file_name(cell, seed) in mine]
    for index, (cell, seed) in enumerate(todo, 1):
        if distributed.is_main():
            registry.pm.hook.sslbench_cell_start(cell=cell, seed=seed, index=index, total=len(todo))
        rows = _run_claimed(run, cell, seed)
        if distributed.is_main():
            registry.pm.hook.sslbench_cell_finish(cell=cell, seed=seed, rows=rows, index=index, total=len(todo))
    if distributed.is_main():
        registry.pm.hook.sslbench_run_finish(summary=run.summary)
    return run.summary


def shard_pairs(plan: GridPlan, seeds: tuple[int, ...], shard: tuple[int, int]) -> set[str]:
    """File names (:func:`_cell_file_name`) of the (cell, seed) pairs shard ``k`` of ``n`` runs.

    The pairs are sorted by a hash of their names and dealt round-robin: shards differ
    in size by at most one pair (none is empty while another holds two), and the
    assignment does not change when the config's lists are reordered.
    """
    k, n = shard
    pairs = sorted((_pair_hash(cell, seed), _cell_file_name(cell, seed)) for cell in plan.cells for seed in seeds)
    return {name for i, (_, name) in enumerate(pairs) if i % n == k}


def in_shard(cell: Cell, seed: int, shard: tuple[int, int], plan: GridPlan, seeds: tuple[int, ...]) -> bool:
    """Whether (cell, seed) of ``plan`` × ``seeds`` belongs to shard ``k`` of ``n`` (:func:`shard_pairs`)."""
    return _cell_file_name(cell, seed) in shard_pairs(plan, seeds, shard)


def _pair_hash(cell: Cell, seed: int) -> bytes:
    return hashlib.sha256(f"{cell.key}/seed{seed}".encode()).digest()


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
            loaded[name] = scored_on(spec.build(ctx, config.options_for("dataset", name)), config.run.score_split, name)
        except UsageError:
            raise
        except Exception as err:  # a plugin bug: isolate it to this dataset's cells
            log.error("dataset %s failed to load:\n%s", name, traceback.format_exc())
            loaded[name] = err
    return loaded


def scored_on(dataset: LoadedDataset, split: str, name: str) -> LoadedDataset:
    """``dataset`` with ``split`` in the place evaluators score (``test``).

    ``[run] score_split = "valid"`` is for choosing a config's settings without looking at
    test: the validation split takes test's place (and evaluators, finding no validation
    split, use their fixed settings), and every ``extras`` table keyed by ``valid`` and
    ``test`` (e.g. next-item targets) is swapped the same way.
    """
    if split == "test":
        return dataset
    if dataset.valid is None:
        raise UsageError(f"[run] score_split = \"valid\": dataset {name!r} has no validation split; "
                         "use score_split = \"test\" or a dataset that declares one")
    extras = {key: _valid_as_test(value) for key, value in dataset.extras.items()}
    return dataclasses.replace(dataset, test=dataset.valid, valid=None, extras=extras)


def _valid_as_test(value: Any) -> Any:
    if isinstance(value, Mapping) and "valid" in value and "test" in value:
        return {**value, "test": value["valid"]}
    return value


TRACEBACKS_DIR = "tracebacks"
RESULT_FILES = ("manifest.json", ROWS_FILE, CURVES_FILE, COMMITS_FILE)
RESULT_FOLDERS = ("locks", "checkpoints", PENDING_DIR, TRACEBACKS_DIR)
RESULT_ENTRIES = frozenset({*RESULT_FILES, *RESULT_FOLDERS})
"""What ``sslbench run`` keeps in a result folder (besides ``.NAME.PID.tmp``, ``*.torn-*`` and ``*.corrupt-*``)."""


def _prepare_out_dir(out_dir: Path, config: Config, resume: bool) -> set[str]:
    """Create ``out_dir``, or check that resuming into it is safe; return the finished cells.

    A folder holding rows or a manifest of another config is always refused; one of
    the same config only with ``resume``; a non-empty folder of other files always.
    Resuming first finishes the commits an interrupted run left pending
    (:mod:`sslbench.commit`) and removes the temporary files of interrupted writes.
    """
    safeio.ensure_dir(out_dir)
    _check_entries(out_dir)
    manifest, rows_file = out_dir / "manifest.json", out_dir / ROWS_FILE
    if not os.path.lexists(manifest) and not os.path.lexists(rows_file):
        _refuse_foreign(out_dir)
        _remove_stale_tmp(out_dir)  # a run killed before its manifest was written
        return set()
    hashes = _config_hashes(out_dir)
    if hashes - {config.hash}:
        others = ", ".join(sorted(str(h) for h in hashes - {config.hash}))
        raise UsageError(f"{out_dir}: holds results of another config (hash {others}, this one {config.hash}); "
                         "choose a new --out folder")
    if not resume:
        raise UsageError(f"{out_dir}: already holds results of this config; pass --resume to continue it "
                         "or choose a new --out folder")
    _remove_stale_tmp(out_dir)
    replay_pending(out_dir, lambda name: _claim_name(out_dir, name))
    return _done(out_dir)


def _remove_stale_tmp(out_dir: Path) -> None:
    """Remove the temporary files of interrupted writes (of processes that are gone) wherever a run writes."""
    for folder in (out_dir, out_dir / "checkpoints", out_dir / TRACEBACKS_DIR):
        safeio.remove_stale_tmp(folder)


def _check_entries(out_dir: Path) -> None:
    """Refuse, before anything is written, a link or an entry of the wrong kind where sslbench keeps its files."""
    for name in (*RESULT_FILES, *RESULT_FOLDERS):
        if os.path.lexists(out_dir / name):
            safeio.check_entry(out_dir / name, folder=name in RESULT_FOLDERS)


def _done(out_dir: Path) -> set[str]:
    """File names (:func:`_cell_file_name`) of the (cell, seed) pairs whose results are complete."""
    name_of = lambda r: f"{r['dataset']}--{r['task']}--{r['model']}--seed{r['seed']}"  # noqa: E731
    try:
        return done_cells(out_dir, _rows_if_any(out_dir), name_of)
    except ValueError as err:
        raise UsageError(f"{err}; the folder's commit markers are damaged, choose a new --out folder") from None


def _refuse_foreign(out_dir: Path) -> None:
    """A folder without results must hold nothing but what an interrupted start of sslbench leaves."""
    for entry in sorted(os.listdir(out_dir)):
        ours = entry in RESULT_ENTRIES or entry.endswith(".tmp") or ".torn-" in entry or ".corrupt-" in entry
        if not ours:
            raise UsageError(f"{out_dir}: is not empty and holds no sslbench results (e.g. {entry!r}); "
                             "choose a new or empty --out folder")


def _config_hashes(out_dir: Path) -> set[str]:
    hashes = {(r.get("provenance") or {}).get("config_hash") for r in _rows_if_any(out_dir)}
    manifest = out_dir / "manifest.json"
    if os.path.lexists(manifest):
        try:
            data = json.loads(safeio.read_nofollow(manifest))
        except (ValueError, RecursionError):
            raise UsageError(f"{manifest}: is not valid JSON; choose a new --out folder") from None
        if not isinstance(data, dict):
            raise UsageError(f"{manifest}: holds JSON {type(data).__name__}, not an sslbench manifest; "
                             "choose a new --out folder")
        hashes.add(data.get("config_hash"))
    return hashes


def _rows_if_any(out_dir: Path) -> list[dict[str, Any]]:
    try:
        return read_rows(out_dir) if os.path.lexists(out_dir / ROWS_FILE) else []
    except ValueError as err:
        raise UsageError(f"{err}; the folder's rows are damaged, choose a new --out folder") from None


def _has_rows(out_dir: Path, cell: Cell, seed: int) -> bool:
    """Did another run finish this (cell, seed) while we waited for its lock?"""
    return _cell_file_name(cell, seed) in _done(out_dir)


def _claim(out_dir: Path, cell: Cell, seed: int) -> contextlib.AbstractContextManager[bool]:
    """Hold an exclusive, non-blocking lock on the (cell, seed); yields False if another run has it."""
    return _claim_name(out_dir, _cell_file_name(cell, seed))


@contextlib.contextmanager
def _claim_name(out_dir: Path, name: str) -> Iterator[bool]:
    """The lock of the cell whose files are called ``name`` (see :func:`_claim`)."""
    locks = safeio.ensure_dir(out_dir / "locks")
    fd = safeio.open_nofollow(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s: another run is on it; leaving it to that run", name)
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
    text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
    safeio.atomic_write(run.out_dir / "manifest.json", text.encode())


def _emit(run: _Run, cell: Cell, seed: int, rows: list[dict[str, Any]], trained: TrainResult | None) -> None:
    """Commit the curve and the rows together (:mod:`sslbench.commit`), then tell observers."""
    commit_cell(run.out_dir, _cell_file_name(cell, seed), rows,
                None if trained is None else _curve(run, cell, seed, trained))
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
        if safeio.is_storage_error(err):  # a full or failing disk: stop the run, --resume continues it
            raise safeio.as_storage_error(err) from None
        status = "diverged" if isinstance(err, DivergedError) else "failed"
        return _failure_rows(run, cell, seed, status, _explain(_undeclared(run, cell, err), cell)), None
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


def _undeclared(run: _Run, cell: Cell, err: Exception) -> Exception:
    """A modality primitive the task called without declaring it: name the plugin, task and field."""
    if not isinstance(err, MissingCapabilityError) or cell.is_baseline:
        return err
    spec = run.registry.get("task", cell.task)
    return PluginError(f"plugin {spec.plugin!r}: task {cell.task!r} called modality {err.modality!r}'s "
                       f"{err.capability}, which it does not provide; declare it: "
                       f"TaskSpec(needs={{{err.capability!r}, ...}}) so the grid skips modalities without it")


def _train_split(run: _Run, cell: Cell, dataset: LoadedDataset) -> Any:
    """The split the cell's task trains on (``TaskSpec.split``)."""
    name = run.registry.get("task", cell.task).split
    try:
        return dataset.split(name)
    except KeyError as err:
        raise ValueError(f"task {cell.task!r} trains on split {name!r}: {err.args[0]}") from None


def _curve(run: _Run, cell: Cell, seed: int, trained: TrainResult) -> dict[str, Any]:
    """The cell's line of ``curves.jsonl`` (one line per cell and seed).

    ``losses`` is ``[[step, loss], ...]``; ``logs`` maps each extra value the task returned
    to its values at the same points (``null`` where it was missing or not finite).
    """
    return {"suite": run.config.run.suite, "dataset": cell.dataset, "task": cell.task, "model": cell.model,
            "seed": seed, "losses": trained.losses, "logs": trained.logs}


def _build(run: _Run, cell: Cell, dataset: LoadedDataset) -> tuple[Any, torch.nn.Module, torch.nn.Module | None]:
    if cell.is_reference:
        return _build_reference(run, cell, dataset)
    reg, opts = run.registry, run.config.options_for
    data_spec = reg.get("dataset", cell.dataset)
    modality = reg.get("modality", data_spec.modality).build(dataset.info, opts("modality", data_spec.modality))
    model_ctx = ModelContext(dataset=cell.dataset, modality=data_spec.modality, info=dataset.info)
    model_spec = reg.get("model", cell.model)
    encoder = model_spec.build(model_ctx, opts("model", cell.model))
    check_encoder(model_spec, encoder)
    if cell.is_baseline:
        return modality, encoder, None
    task_ctx = TaskContext(encoder=encoder, modality=modality, dataset=dataset, cache_dir=run.cache_dir)
    return modality, encoder, reg.get("task", cell.task).build(task_ctx, opts("task", cell.task))


def _build_reference(run: _Run, cell: Cell, dataset: LoadedDataset) -> tuple[Any, torch.nn.Module, None]:
    """A ``no-encoder`` cell: the modality and its reference feature map (``ModalitySpec.reference_build``),
    fitted on the dataset's pretrain split by the plugin; no task, nothing trained."""
    name = run.registry.get("dataset", cell.dataset).modality
    spec, options = run.registry.get("modality", name), run.config.options_for("modality", name)
    reference = spec.reference_build(dataset, options)
    if not isinstance(reference, torch.nn.Module) or not isinstance(getattr(reference, "embed_dim", None), int):
        raise TypeError(f"modality {name!r}: reference_build must return an nn.Module with an int embed_dim, "
                        f"got {type(reference).__name__}")
    return spec.build(dataset.info, options), reference, None


def _reference_settings(run: _Run, cell: Cell) -> dict[str, Any]:
    """Settings of a ``no-encoder`` row: the dataset's and modality's options (there is no model)."""
    modality = run.registry.get("dataset", cell.dataset).modality
    return {"dataset": options_as_dict(run.config.options_for("dataset", cell.dataset)),
            "modality": options_as_dict(run.config.options_for("modality", modality))}


def _evaluate(run: _Run, cell: Cell, seed: int, ctx: EvalContext, trained: TrainResult | None) -> list[dict[str, Any]]:
    rows = []
    for plan in cell.evaluations:
        spec = run.registry.get("evaluator", plan.evaluator)
        options = run.config.options_for("evaluator", plan.evaluator)
        for label_set in plan.label_sets:
            start = time.perf_counter()
            eval_ctx = dataclasses.replace(ctx, label_set=label_set, choices={}, costs={})  # this evaluator's own
            try:
                metrics = spec.run(eval_ctx, options)
            except Exception as err:  # one broken evaluator must not hide the others
                if safeio.is_storage_error(err):
                    raise safeio.as_storage_error(err) from None
                if isinstance(err, MissingLabelSetError):
                    err = PluginError(f"plugin {spec.plugin!r}: evaluator {plan.evaluator!r}: {err}")
                rows += _failure_rows(run, cell, seed, "failed", err, only=(plan.evaluator, label_set))
                continue
            seconds = time.perf_counter() - start
            for metric, value in metrics.items():
                identity = _identity(run, cell, seed, plan.evaluator, label_set, metric)
                row = _row(run, cell, identity, value, options, trained, eval_seconds=seconds)
                row["cost"].update({f"eval_{name}": v for name, v in eval_ctx.costs.items()})
                rows.append({**row, "selected": dict(eval_ctx.choices)} if eval_ctx.choices else row)
    return rows


def _baseline_rows(run: _Run, cell: Cell, seed: int, ctx: EvalContext) -> list[dict[str, Any]]:
    """Reference rows that evaluators compute without an encoder (e.g. item popularity)."""
    rows = []
    for plan in cell.references:
        spec = run.registry.get("evaluator", plan.evaluator)
        options = run.config.options_for("evaluator", plan.evaluator)
        for label_set in plan.label_sets:
            baseline_ctx = dataclasses.replace(ctx, label_set=label_set, choices={})
            for name, metrics in spec.baselines(baseline_ctx, options).items():
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
        modality=run.registry.get("dataset", cell.dataset).modality,
        higher_is_better=bool(spec.higher_is_better.get(identity["metric"], True)),
        protocol=options_as_dict(eval_options) if eval_options is not None else {},
        settings=_settings(run, cell),
        budget=_budget(run, cell),
        cost=_cost(trained, eval_seconds, run.device),
        provenance=run.provenance,
    )


def _settings(run: _Run, cell: Cell) -> dict[str, Any]:
    if cell.is_reference:
        return _reference_settings(run, cell)
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
    if cell.is_reference:  # never trained: the budget of a baseline (0 steps)
        return _budget(run, dataclasses.replace(cell, task=BASELINE_TASK))
    r = cell.run
    unit = r.budget_unit
    amount = r.budget_amount
    scored = {"score_split": run.config.run.score_split} if run.config.run.score_split != "test" else {}
    return {**scored, "unit": "steps" if cell.is_baseline else unit, "amount": 0 if cell.is_baseline else amount,
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


def _store_traceback(run: _Run, cell: Cell, seed: int, err: Exception, evaluator: str | None) -> str:
    """Write the traceback being handled to ``OUT/tracebacks/<cell>--seed<k>[--<evaluator>[--<label set>]].txt``;
    returns that path relative to OUT ("" on ranks other than 0, which write nothing)."""
    text = traceback.format_exc() if sys.exc_info()[0] is not None else "".join(traceback.format_exception(err))
    if run.show_tracebacks:
        print(f"--- {cell.key} seed {seed}{' ' + evaluator if evaluator else ''}: traceback\n{text}",
              file=sys.stderr, end="")
    if not distributed.is_main():
        return ""
    name = _cell_file_name(cell, seed) + (f"--{evaluator}" if evaluator else "") + ".txt"
    folder = safeio.ensure_dir(run.out_dir / TRACEBACKS_DIR)  # never through a planted link
    heading = f"{cell.key} seed {seed}{' evaluator ' + evaluator if evaluator else ''}\n"
    safeio.atomic_write(folder / name, (heading + text).encode())
    return f"{TRACEBACKS_DIR}/{name}"


def _failure_rows(run: _Run, cell: Cell, seed: int, status: str, err: Exception,
                  only: tuple[str, str | None] | None = None) -> list[dict[str, Any]]:
    """One row per (evaluator, label set) the failure cost, value null, with the message.

    Called while the failure is being handled: its traceback is stored (and printed with
    ``--traceback``), and the message ends with where the file is.
    """
    message = f"{type(err).__name__}: {err}"
    stored = _store_traceback(run, cell, seed, err, "--".join(filter(None, only)) if only else None)
    if stored:
        message += f" (traceback: {stored})"
    log.error("%s seed %d %s: %s", cell.key, seed, status, message)
    run.summary.failures.append(f"{cell.key} seed {seed}: {message}")
    pairs = [only] if only else [(p.evaluator, ls) for p in cell.evaluations for ls in p.label_sets]
    rows = []
    for evaluator, label_set in pairs:
        identity = _identity(run, cell, seed, evaluator, label_set, "")
        options = run.config.options_for("evaluator", evaluator)
        rows.append(_row(run, cell, identity, None, options, None, eval_seconds=0.0, status=status, message=message))
    return rows
