"""Evaluate again without training again: the evaluations a finished (cell, seed) lacks.

A result folder's config may gain an evaluator (or an evaluator variant) after its cells
finished; ``sslbench run CONFIG --out DIR --resume`` then runs only what is missing. A
finished (cell, seed) pair counts as done (:func:`sslbench.run.commit.done_cells`), but its
rows may lack some of the (evaluator, label set) pairs that the grid now plans for it
(:func:`missing`). For each such pair the cell is built again from its seed; a pretrained
cell loads the task's weights from its final checkpoint (``OUT/checkpoints/``, kept by
default: ``[run] keep_checkpoints = true``) — no optimizer step runs — and only the missing
evaluations run, with the encoder frozen exactly as after training. Their rows carry the
training cost of the pair's earlier rows and are committed like a cell's
(:func:`sslbench.run.commit.commit_cell`: all or nothing); the earlier rows stay as they are.
A random-init or no-encoder cell needs no checkpoint: it is rebuilt from its seed.

A pretrained cell without its final checkpoint is never trained again silently: each missing
evaluation gets a ``failed`` row saying so (and naming ``keep_checkpoints``). A pair whose
earlier rows all failed (its training failed) gets ``failed`` rows with that earlier message.
Evaluators take their randomness from ``ctx.seed``, never from the global random state, so a
row evaluated again equals the row a fresh run with every evaluator gives.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from sslbench import distributed, safeio
from sslbench.plan.grid import Cell, EvalPlan
from sslbench.results.files import CHECKPOINTS_DIR
from sslbench.run import folder
from sslbench.run.cells import build, explain, seed_everything
from sslbench.run.checkpoint import CellCheckpoint
from sslbench.run.commit import commit_cell
from sslbench.run.evaluate import evaluate_cell, failure_rows
from sslbench.run.state import RunState

TRAINING_COST = ("steps", "train_seconds", "flops", "flops_per_step", "samples_per_s", "peak_memory_bytes",
                 "effective_batch_size", "final_loss", "resumed_from_step", "mfu")
"""The ``cost`` keys that describe the pretraining (copied from the pair's earlier rows)."""


class NoCheckpointError(RuntimeError):
    """A finished pretrained cell's final checkpoint is gone or does not fit: it cannot be evaluated again."""


def missing(rows: Sequence[Mapping[str, Any]], suite: str, cell: Cell, seed: int) -> Cell | None:
    """``cell`` narrowed to the (evaluator, label set) pairs ``rows`` hold no row of; None when none is missing.

    Its ``references`` keep the evaluators whose evaluation is missing (their encoder-free rows come too).
    """
    have = {(r.get("evaluator"), r.get("label_set") or "") for r in _rows_of(rows, suite, cell, seed)}
    evaluations = tuple(EvalPlan(p.evaluator, kept) for p in cell.evaluations
                        if (kept := tuple(ls for ls in p.label_sets if (p.evaluator, ls or "") not in have)))
    if not evaluations:
        return None
    new = {p.evaluator for p in evaluations}
    return dataclasses.replace(cell, evaluations=evaluations,
                               references=tuple(p for p in cell.references if p.evaluator in new))


def pending(run: RunState, pairs: Sequence[tuple[Cell, int]]) -> list[tuple[Cell, int]]:
    """Of the finished ``pairs``, those with evaluations missing, each cell narrowed to them (:func:`missing`)."""
    if not pairs:
        return []
    rows = folder.rows_if_any(run.out_dir)
    found = [(missing(rows, run.config.run.suite, cell, seed), seed) for cell, seed in pairs]
    return [(cell, seed) for cell, seed in found if cell is not None]


def evaluate_again(run: RunState, cell: Cell, seed: int) -> list[dict[str, Any]] | None:
    """Evaluate the finished (cell, seed) with the evaluations ``cell`` lists (narrowed by :func:`missing`)
    and commit their rows; None when another run holds the pair or has done it meanwhile. Rank 0 only."""
    if not distributed.is_main():
        return None
    with folder.claim(run.out_dir, cell, seed) as claimed:
        if not claimed:
            return None
        earlier = _rows_of(folder.rows_if_any(run.out_dir), run.config.run.suite, cell, seed)
        cell = missing(earlier, run.config.run.suite, cell, seed)  # as the folder is now
        if cell is None:
            return None
        rows = _rows(run, cell, seed, earlier)
        commit_cell(run.out_dir, folder.pair_name(cell, seed), rows, None)
    run.summary.rows += len(rows)
    for row in rows:
        run.registry.pm.hook.sslbench_result_row(row=row)
    return rows


def _rows(run: RunState, cell: Cell, seed: int, earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pretrained = not (cell.is_baseline or cell.is_reference)
    ok = [r for r in earlier if r.get("status") == "ok"]
    if pretrained and earlier and not ok:  # its training failed: say so again, train nothing
        first = earlier[0]
        err = RuntimeError(f"the cell {first.get('status')} when it ran: {first.get('message')}")
        return failure_rows(run, cell, seed, str(first.get("status")), err, store_traceback=False)
    dataset = run.datasets[cell.dataset]
    try:
        if isinstance(dataset, Exception):
            raise dataset
        seed_everything(seed)
        modality, encoder, task = build(run, cell, dataset)
        if task is not None:
            _load_final(run, cell, seed, task, ok[0] if ok else None)
    except NoCheckpointError as err:
        return failure_rows(run, cell, seed, "failed", err, store_traceback=False)
    except Exception as err:  # isolate any failure to this pair, as a cell's
        if safeio.is_storage_error(err):
            raise safeio.as_storage_error(err) from None
        return failure_rows(run, cell, seed, "failed", explain(err, cell))
    rows = evaluate_cell(run, cell, seed, dataset, modality, encoder, task, None)
    if pretrained and ok:  # what the pretraining cost, as the pair's earlier rows recorded it
        training = {k: v for k, v in (ok[0].get("cost") or {}).items() if k in TRAINING_COST}
        for row in rows:  # (a pretrained cell is never a random-init one: no reference rows among them)
            row["cost"] = {**row["cost"], **training}
    return rows


def _load_final(run: RunState, cell: Cell, seed: int, task: Any, earlier: Mapping[str, Any] | None) -> None:
    """Load the task's weights from the pair's final checkpoint (nothing else of it: no optimizer step follows).

    Raises:
        NoCheckpointError: the checkpoint is gone, damaged (then moved aside) or not the final one.
    """
    path = folder.checkpoint_path(run.out_dir, cell, seed)
    where = f"{CHECKPOINTS_DIR}/{path.name}"
    saved = CellCheckpoint(path, every=0).load()
    if saved is None:
        raise NoCheckpointError(
            f"cannot evaluate {_names(cell)} without training again: the final checkpoint {where} is gone or unreadable "
            "(the run kept none, [run] keep_checkpoints = false, or it was removed); run the cell in a new --out folder")
    steps = (earlier or {}).get("cost", {}).get("steps")
    if steps is not None and saved.get("step") != steps:
        raise NoCheckpointError(f"cannot evaluate {_names(cell)}: {where} holds step {saved.get('step')}, but the "
                                f"cell's rows were trained for {steps} steps; run the cell in a new --out folder")
    try:
        task.load_state_dict(saved["task"])
    except (KeyError, RuntimeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise NoCheckpointError(f"cannot evaluate {_names(cell)}: {where} does not fit the cell's task "
                                f"({first}); run the cell in a new --out folder") from None


def _names(cell: Cell) -> str:
    return ", ".join(p.evaluator for p in cell.evaluations)


def _rows_of(rows: Sequence[Mapping[str, Any]], suite: str, cell: Cell, seed: int) -> list[dict[str, Any]]:
    """The rows of (cell, seed) itself (an evaluator's encoder-free rows, with other task names, left out)."""
    return [dict(r) for r in rows if r.get("suite") == suite and r.get("dataset") == cell.dataset
            and r.get("task") == cell.task and r.get("model") == cell.model and r.get("seed") == seed]
