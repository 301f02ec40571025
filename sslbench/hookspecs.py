"""Every hook sslbench calls. Plugins implement them with ``@sslbench.hookimpl``.

Registration hooks return lists of declarative specs (:mod:`sslbench.specs`); the
registry calls each plugin's implementation separately so that a clash between two
plugins can name both. Observer hooks see a run as it happens and return nothing.

A plugin is a module (or object) with functions named like the hooks below. It is
found through the entry-point group ``sslbench`` in its package metadata::

    [project.entry-points.sslbench]
    my_plugin = "my_package.hooks"
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from sslbench.specs import (
        DatasetSpec,
        EvaluatorSpec,
        ModalitySpec,
        ModelSpec,
        TaskSpec,
    )

hookspec = pluggy.HookspecMarker("sslbench")


@hookspec
def sslbench_register_modalities() -> list[ModalitySpec]:
    """Declare modalities: kinds of input, their batch contract and primitives.

    Called once per plugin when the registry is built, before any config is read.

    Returns:
        A list of :class:`~sslbench.specs.ModalitySpec` (empty when the plugin has none).
    """


@hookspec
def sslbench_register_datasets() -> list[DatasetSpec]:
    """Declare datasets: named sources of one modality with pretrain/train/test splits.

    Called once per plugin when the registry is built. Loading happens later, only
    for datasets a config names.

    Returns:
        A list of :class:`~sslbench.specs.DatasetSpec`.
    """


@hookspec
def sslbench_register_models() -> list[ModelSpec]:
    """Declare encoders and the modalities they accept.

    Called once per plugin when the registry is built.

    Returns:
        A list of :class:`~sslbench.specs.ModelSpec`.
    """


@hookspec
def sslbench_register_tasks() -> list[TaskSpec]:
    """Declare pretext tasks and the capabilities they need.

    Called once per plugin when the registry is built.

    Returns:
        A list of :class:`~sslbench.specs.TaskSpec`.
    """


@hookspec
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    """Declare evaluators: protocols on a frozen encoder that produce metrics.

    Called once per plugin when the registry is built.

    Returns:
        A list of :class:`~sslbench.specs.EvaluatorSpec`.
    """


@hookspec
def sslbench_run_start(plan: Any, out_dir: Path) -> None:
    """Observe the start of ``sslbench run``.

    Called once, after the config is validated and the grid planned, before the
    first cell trains. ``plan`` is a :class:`~sslbench.plan.grid.GridPlan` (cells to run,
    combinations skipped and why); ``out_dir`` is where rows will be written.

    Returns:
        Nothing.
    """


@hookspec
def sslbench_cell_start(cell: Any, seed: int, index: int, total: int) -> None:
    """Observe a (cell, seed) about to run.

    Called on the main process before each (cell, seed) this run will attempt (after
    ``--resume`` and ``--shard`` dropped the others): ``cell`` is a
    :class:`~sslbench.plan.grid.Cell`, ``index`` counts from 1 up to ``total``. A finished
    (cell, seed) evaluated again for evaluators added to its config comes last, its ``cell``
    listing only those evaluations (:mod:`sslbench.run.reevaluate`).

    Returns:
        Nothing.
    """


@hookspec
def sslbench_train_log(cell: Any, seed: int, step: int, loss: float, logs: dict[str, float], lr: float,
                       samples_per_s: float) -> None:
    """Observe one logged step of a (cell, seed)'s pretraining, as it trains.

    Called on the main process for each point of the training curve as the loop records
    it (every ``log_every`` steps, and the last step), so a tracker (TensorBoard,
    Weights & Biases, MLflow) can follow a run live. ``step`` counts optimizer steps from
    0; ``loss`` is the step's loss (mean over ranks); ``logs`` the task's extra scalars
    at that step (the names a task returns beside ``loss``; a value that was not finite
    is left out); ``lr`` the learning rate the step trained with; ``samples_per_s`` the
    throughput since the previous point. The same values reach ``curves.jsonl`` when
    the cell is committed. A cell resumed from a checkpoint at step k continues with
    steps >= k; a cell restarted from scratch starts again at 0. Keep it fast: it runs
    inside the training loop.

    Returns:
        Nothing.
    """


@hookspec
def sslbench_cell_finish(cell: Any, seed: int, rows: list[dict[str, Any]] | None, index: int, total: int) -> None:
    """Observe a (cell, seed) that finished, failed, or was left to another run.

    Called on the main process after the (cell, seed)'s rows were written and
    :func:`sslbench_result_row` saw each of them. ``rows`` are those rows (statuses
    ``ok``, ``failed`` or ``diverged``), or None when another run finished it (or, with
    ``--no-wait``, still held it when this run ended). Each pair is reported once.

    Returns:
        Nothing.
    """


@hookspec
def sslbench_result_row(row: dict[str, Any]) -> None:
    """Observe one result row as it is written.

    Called once per row, right after the row was appended to ``rows.jsonl``. The row
    is a plain JSON-able dict (see :mod:`sslbench.results`); do not mutate it.

    Returns:
        Nothing.
    """


@hookspec
def sslbench_run_finish(summary: Any) -> None:
    """Observe the end of ``sslbench run``.

    Called once after every cell ran (or failed). ``summary`` is a
    :class:`~sslbench.run.runner.RunSummary` with counts of rows and failed cells.

    Returns:
        Nothing.
    """
