"""Run a planned grid: for each cell and seed build, pretrain, freeze, evaluate, write rows.

The ``random-init`` baseline of a (dataset, model) pair is the same encoder built
from the same seed, evaluated the same way, without pretraining — so the gain of a
pretrained row over its baseline is due to pretraining alone. A dataset's
``no-encoder`` cell evaluates its modality's reference feature map (raw pixels,
tf-idf, ...) the same way, once per seed.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sslbench import distributed, safeio
from sslbench.data import cache_root
from sslbench.data_api import LoadedDataset
from sslbench.errors import WeightsError
from sslbench.options import options_as_dict
from sslbench.plan.config import Config, RunConfig
from sslbench.plan.cost import deal
from sslbench.plan.grid import Cell, GridPlan, plan_grid
from sslbench.plan.identity import IDENTITY_FORMAT, differences, identity_from_full
from sslbench.registry import Registry
from sslbench.run import claims, folder, provenance, reevaluate, tensorboard, workers
from sslbench.run.cells import (
    build,
    check_divisible,
    explain,
    load_datasets,
    resolve_device,
    seed_everything,
    train_split,
    undeclared,
)
from sslbench.run.checkpoint import CellCheckpoint
from sslbench.run.commit import commit_cell
from sslbench.run.evaluate import evaluate_cell, failure_rows
from sslbench.run.state import RunState, RunSummary
from sslbench.run.train import DivergedError, TrainResult, pretrain

log = logging.getLogger(__name__)


def run_grid(config: Config, registry: Registry, out_dir: Path, *, plan: GridPlan | None = None,
             progress: bool = True, resume: bool = False, shard: tuple[int, int] = (0, 1),
             show_tracebacks: bool = False, wait: bool = True) -> RunSummary:
    """Run every cell of ``config`` for every seed and append rows under ``out_dir``.

    Datasets are loaded before anything is written, so a missing dataset fails the
    run with a usage error and leaves no output behind. With ``resume``, cells that
    already have rows in ``out_dir`` are skipped and unfinished ones continue from
    their checkpoints. Each (cell, seed) is claimed with a file lock while it runs, so
    two runs pointed at one folder share the work instead of repeating it. ``shard``
    ``(k, n)`` runs only the (cell, seed) pairs that :func:`shard_pairs` deals to k; an
    empty shard returns at once, having written nothing (``summary.pairs == 0``).
    The traceback of every failed or diverged cell goes to ``OUT/tracebacks/`` (its rows'
    message names the file); ``show_tracebacks`` also prints it to stderr. A pair another
    run holds is retried after the others until it is done, so a pair whose run dies is taken
    over (:mod:`sslbench.run.workers`); with ``wait=False`` the run ends once only held pairs are left.

    Under torchrun every rank calls this; rank 0 alone writes and reports. The trackers that
    ``[run] loggers`` names (:mod:`sslbench.run.tensorboard`) observe the run on rank 0.
    """
    loggers = config.run.loggers if distributed.is_main() else ()
    with tensorboard.attached(loggers, registry.pm, out_dir):
        return _run_grid(config, registry, out_dir, plan, progress, resume, shard, show_tracebacks, wait)


def _run_grid(config: Config, registry: Registry, out_dir: Path, plan: GridPlan | None, progress: bool,
              resume: bool, shard: tuple[int, int], show_tracebacks: bool, wait: bool) -> RunSummary:
    registry = config.registry(registry)  # the config's variants by name
    plan = plan or plan_grid(config, registry)
    mine = shard_pairs(plan, config.run.seeds, shard)
    if not mine:
        return RunSummary(out_dir=out_dir, plan=plan)
    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    device = distributed.local_device(resolve_device(config.run.device))
    check_divisible(plan)
    datasets = load_datasets(config, registry, plan, progress, device)
    accepted = distributed.broadcast_object(
        folder.prepare(out_dir, config.hash, resume, lambda m: differences_from_manifest(config, m))
        if distributed.is_main() else None)
    run = RunState(
        config=config, registry=registry, out_dir=out_dir, device=device, datasets=datasets,
        provenance=provenance.collect(registry.pm, config.hash, device),
        cache_dir=cache_root() / "artifacts", summary=RunSummary(out_dir=out_dir, plan=plan, pairs=len(mine)),
        show_tracebacks=show_tracebacks, continues=accepted.continues,
    )
    if distributed.is_main():
        _write_manifest(run)
        registry.pm.hook.sslbench_run_start(plan=plan, out_dir=out_dir)
    pairs = [(cell, seed) for cell in plan.cells for seed in config.run.seeds if folder.pair_name(cell, seed) in mine]
    todo = [(cell, seed) for cell, seed in pairs if folder.pair_name(cell, seed) not in accepted.done]
    again = reevaluate.pending(run, [(c, s) for c, s in pairs if folder.pair_name(c, s) in accepted.done]) \
        if distributed.is_main() else []  # finished pairs that lack an evaluation the grid now has
    total, reported = len(todo) + len(again), []
    left = workers.work(todo, lambda pair: _attempt(run, *pair, reported, total), wait=wait,
                        on_wait=lambda held, delay: log.info("%d pair(s) held by other workers; scanning again "
                                                             "in %.1fs", held, delay))
    for cell, seed in left:  # --no-wait: left to the live workers that hold them
        _report(run, cell, seed, None, reported, total)
    for cell, seed in again:
        _announce(run, cell, seed, reported, total)
        _report(run, cell, seed, reevaluate.evaluate_again(run, cell, seed) or [], reported, total)
    if distributed.is_main():
        registry.pm.hook.sslbench_run_finish(summary=run.summary)
    return run.summary


def shard_pairs(plan: GridPlan, seeds: tuple[int, ...], shard: tuple[int, int]) -> set[str]:
    """File names (:func:`pair_name`) of the (cell, seed) pairs shard ``k`` of ``n`` runs.

    The pairs are dealt by their estimated cost (``Cell.cost``, :mod:`sslbench.plan.cost`), the
    costliest first, each to the least-loaded shard: shards hold about equal compute, none is
    empty while another holds two pairs, and the assignment does not change when the config's
    lists are reordered.
    """
    k, n = shard
    return deal(((folder.pair_name(cell, seed), cell.cost) for cell in plan.cells for seed in seeds), n)[k]


def in_shard(cell: Cell, seed: int, shard: tuple[int, int], plan: GridPlan, seeds: tuple[int, ...]) -> bool:
    """Whether (cell, seed) of ``plan`` × ``seeds`` belongs to shard ``k`` of ``n`` (:func:`shard_pairs`)."""
    return folder.pair_name(cell, seed) in shard_pairs(plan, seeds, shard)


def _attempt(run: RunState, cell: Cell, seed: int, reported: list[tuple[Cell, int]], total: int) -> workers.Outcome:
    """One attempt at (cell, seed) (:func:`_run_claimed`); observers hear of each pair once: when this
    run ran it, or when it found it done by another."""
    outcome, rows = _run_claimed(run, cell, seed, lambda: _announce(run, cell, seed, reported, total))
    if outcome is not workers.Outcome.HELD:
        _report(run, cell, seed, rows, reported, total)
    return outcome


def _announce(run: RunState, cell: Cell, seed: int, reported: list[tuple[Cell, int]], total: int) -> None:
    if distributed.is_main():
        run.registry.pm.hook.sslbench_cell_start(cell=cell, seed=seed, index=len(reported) + 1, total=total)


def _report(run: RunState, cell: Cell, seed: int, rows: list[dict[str, Any]] | None,
            reported: list[tuple[Cell, int]], total: int) -> None:
    """``sslbench_cell_finish`` (after ``sslbench_cell_start`` when the pair was not run here)."""
    if rows is None:
        _announce(run, cell, seed, reported, total)
    reported.append((cell, seed))
    if distributed.is_main():
        run.registry.pm.hook.sslbench_cell_finish(cell=cell, seed=seed, rows=rows, index=len(reported), total=total)


def _run_claimed(run: RunState, cell: Cell, seed: int,
                 announce: Callable[[], None]) -> tuple[workers.Outcome, list[dict[str, Any]] | None]:
    """Run (cell, seed) unless another run holds it or finished it; rank 0 claims and decides, every rank trains.

    Returns what the attempt found and the rows written (rank 0; None unless it ran here). The
    claim's lock file records who runs it and, once committed, how long it took
    (:mod:`sslbench.run.claims`). Without torch.distributed this is rank 0 alone (broadcast
    and barrier are no-ops).
    """
    main, rows, name = distributed.is_main(), None, folder.pair_name(cell, seed)
    with folder.claim(run.out_dir, cell, seed) if main else contextlib.nullcontext(False) as claimed:
        decision = distributed.broadcast_object(
            (workers.Outcome.HELD if not claimed else workers.Outcome.DONE
             if folder.is_done(run.out_dir, cell, seed) else workers.Outcome.RAN) if main else None)
        if decision is workers.Outcome.RAN:
            announce()
            started = claims.record_start(run.out_dir, name) if main else 0.0
            rows, trained = _run_cell(run, cell, seed)
            if main:  # only rank 0 writes rows and curves
                _commit(run, cell, seed, rows, trained)
                claims.record_finish(run.out_dir, name, started)
    distributed.barrier()
    return decision, rows


def _write_manifest(run: RunState) -> None:
    """``manifest.json``: the config as run, its hash, the plan and provenance."""
    folder.write_manifest(run.out_dir, {
        "config_file": run.config.path,
        "overrides": list(run.config.overrides),
        "config": run.config.as_dict(),
        "config_hash": run.config.hash,
        "identity": run.config.identity(),
        "identity_format": IDENTITY_FORMAT,
        "continues": list(run.continues),
        "provenance": run.provenance,
        "cells": [c.key for c in run.summary.plan.cells],
        "skipped": [str(s) for s in run.summary.plan.skipped],
        "datasets": {n: d.fingerprint for n, d in run.datasets.items() if isinstance(d, LoadedDataset)},
    })


def _commit(run: RunState, cell: Cell, seed: int, rows: list[dict[str, Any]], trained: TrainResult | None) -> None:
    """Commit the curve and the rows together (:mod:`sslbench.run.commit`), then tell observers."""
    commit_cell(run.out_dir, folder.pair_name(cell, seed), rows,
                None if trained is None else _curve(run, cell, seed, trained))
    run.summary.rows += len(rows)
    for row in rows:
        run.registry.pm.hook.sslbench_result_row(row=row)
    if not cell.run.keep_checkpoints:
        _checkpoint(run, cell, seed).remove()


def _checkpoint(run: RunState, cell: Cell, seed: int) -> CellCheckpoint:
    path = folder.checkpoint_path(run.out_dir, cell, seed)
    return CellCheckpoint(path, every=cell.run.checkpoint_every)


def _run_cell(run: RunState, cell: Cell, seed: int) -> tuple[list[dict[str, Any]], TrainResult | None]:
    """Build, pretrain (unless baseline), freeze and evaluate one cell for one seed."""
    dataset = run.datasets[cell.dataset]
    try:
        if isinstance(dataset, Exception):
            raise dataset
        seed_everything(seed)
        modality, encoder, task = build(run, cell, dataset)
        trained = None if task is None else pretrain(
            task, train_split(run, cell, dataset), cell.run, run.device, seed=seed,
            desc=f"{cell.key} seed {seed}", checkpoint=_checkpoint(run, cell, seed),
            on_log=_train_log(run, cell, seed) if distributed.is_main() else None,
        )
    except WeightsError:  # the model's outside weights: every cell of it would fail alike
        raise
    except Exception as err:  # isolate any failure to this cell; the grid goes on
        if safeio.is_storage_error(err):  # a full or failing disk: stop the run, --resume continues it
            raise safeio.as_storage_error(err) from None
        status = "diverged" if isinstance(err, DivergedError) else "failed"
        return failure_rows(run, cell, seed, status, explain(undeclared(run, cell, err), cell)), None
    if not distributed.is_main():
        return [], trained  # evaluation runs once, on rank 0
    return evaluate_cell(run, cell, seed, dataset, modality, encoder, task, trained), trained


def _train_log(run: RunState, cell: Cell, seed: int) -> Any:
    """The training loop's ``on_log``: the observers' :func:`~sslbench.hookspecs.sslbench_train_log`."""
    hook = run.registry.pm.hook.sslbench_train_log

    def on_log(step: int, loss: float, logs: dict[str, float], lr: float, samples_per_s: float) -> None:
        hook(cell=cell, seed=seed, step=step, loss=loss, logs=logs, lr=lr, samples_per_s=samples_per_s)
    return on_log


def _curve(run: RunState, cell: Cell, seed: int, trained: TrainResult) -> dict[str, Any]:
    """The cell's line of ``curves.jsonl`` (one line per cell and seed).

    ``losses`` is ``[[step, loss], ...]``; ``logs`` maps each extra value the task returned
    to its values at the same points (``null`` where it was missing or not finite).
    """
    return {"suite": run.config.run.suite, "dataset": cell.dataset, "task": cell.task, "model": cell.model,
            "seed": seed, "losses": trained.losses, "logs": trained.logs}


def differences_from_manifest(config: Config, manifest: dict[str, Any]) -> list[str] | None:
    """What differs between the config of a folder's manifest and ``config`` (see :func:`folder.prepare`).

    A manifest of identity format 2 records its identity; an older one only its full config,
    whose identity is recovered under the defaults of the components installed now (their
    versions all 1, as they were then). None when the manifest holds neither (a merged folder).
    """
    identity = manifest.get("identity")
    if not isinstance(identity, dict):
        full = manifest.get("config")
        if not isinstance(full, dict):
            return None
        identity = identity_from_full(full, options_as_dict(RunConfig()), config.defaults_of)
    return differences(identity, config.identity())
