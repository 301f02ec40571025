"""Live training curves in TensorBoard: ``[run] loggers = ["tensorboard"]`` or ``sslbench run --log tensorboard``.

:class:`TensorBoardLogger` is an observer plugin of sslbench's own hooks, built in and off by
default: :func:`attached` registers it for one run when the run's ``loggers`` name it (so a run
without it imports nothing of TensorBoard). It lives in the core rather than in plugins/
because ``loggers`` is a core ``[run]`` key the runner acts on, like the progress lines of
:mod:`sslbench.run.progress`; it uses only the public observer hooks, exactly as a Weights &
Biases or MLflow plugin would (docs/running.md shows one).

Per (cell, seed) it writes one run directory, ``OUT/tensorboard/<dataset--task--model--seedN>/``
(the name made safe by :func:`sslbench.safeio.safe_file_part`), with
:class:`torch.utils.tensorboard.SummaryWriter`:

- at each logged step (:func:`~sslbench.hookspecs.sslbench_train_log`): ``train/loss``,
  ``train/<log>`` for each of the task's logs, ``train/lr`` and ``train/samples_per_s``;
- when the cell finishes: each ``ok`` row's value as ``metrics/<evaluator>/<label set>/<metric>``
  at the last step, and the same metrics with the cell's settings (dataset, task, model, seed,
  budget, optimiser, every component option) as hparams, for TensorBoard's HParams tab.

Resuming: a process opens a cell's writer at the first step it logs, with ``purge_step`` set to
that step. A cell resumed from a checkpoint at step k logs from k on, and TensorBoard's reader
discards what an interrupted process had written from step k on (the points after its last
checkpoint): the curve continues without a duplicate step. Event files are read in the order of
their names, which start with the second they were opened; a resume is a later process.
"""
from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pluggy

from sslbench import safeio
from sslbench.errors import UsageError
from sslbench.results.files import TENSORBOARD_DIR

hookimpl = pluggy.HookimplMarker("sslbench")
log = logging.getLogger(__name__)

RUN_HPARAMS = ("steps", "seconds", "flops", "batch_size", "optimizer", "lr", "weight_decay", "schedule",
               "warmup_fraction", "grad_clip")
"""``[run]`` settings of a cell shown as hparams (its budget and optimiser)."""


@contextlib.contextmanager
def attached(loggers: tuple[str, ...], pm: pluggy.PluginManager, out_dir: Path) -> Iterator[None]:
    """Register the built-in loggers that ``loggers`` names on ``pm`` for the ``with`` block.

    Raises:
        UsageError: ``tensorboard`` is named but the package is not installed (one line, before
            anything is written).
    """
    if "tensorboard" not in loggers:
        yield
        return
    logger = TensorBoardLogger(out_dir)
    pm.register(logger, name="sslbench-tensorboard")
    try:
        yield
    finally:
        pm.unregister(logger)
        logger.close_all()


class TensorBoardLogger:
    """Writes each (cell, seed)'s curves and final metrics as TensorBoard events under ``OUT/tensorboard/``."""

    sslbench_internal = True  # an execution setting, not a component: left out of provenance

    def __init__(self, out_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UsageError("[run] loggers names 'tensorboard', which needs the tensorboard package: "
                             "pip install 'sslbench[tensorboard]'") from None
        self._writer_type = SummaryWriter
        self.root = out_dir / TENSORBOARD_DIR
        self.writers: dict[tuple[str, int], Any] = {}
        self.last_step: dict[tuple[str, int], int] = {}

    def run_dir(self, cell: Any, seed: int) -> Path:
        """The run directory of (cell, seed)."""
        return self.root / safeio.safe_file_part(f"{cell.dataset}--{cell.task}--{cell.model}--seed{seed}")

    @hookimpl
    def sslbench_train_log(self, cell: Any, seed: int, step: int, loss: float, logs: dict[str, float], lr: float,
                           samples_per_s: float) -> None:
        writer = self._writer(cell, seed, purge_step=step)
        writer.add_scalar("train/loss", loss, step)
        for name, value in logs.items():
            writer.add_scalar(f"train/{name}", value, step)
        if math.isfinite(lr):
            writer.add_scalar("train/lr", lr, step)
        writer.add_scalar("train/samples_per_s", samples_per_s, step)
        self.last_step[(cell.key, seed)] = step

    @hookimpl
    def sslbench_cell_finish(self, cell: Any, seed: int, rows: list[dict[str, Any]] | None, index: int,
                             total: int) -> None:
        if rows is None:  # another run held the cell: it writes the events
            return
        ok = [r for r in rows if r.get("status") == "ok" and _finite(r.get("value"))]
        if ok:
            from torch.utils.tensorboard.summary import hparams

            writer = self._writer(cell, seed, purge_step=None)
            step = self.last_step.get((cell.key, seed), int((ok[0].get("cost") or {}).get("steps") or 0))
            metrics = {metric_tag(cell, row): float(row["value"]) for row in ok}
            for summary in hparams(cell_hparams(cell, seed, ok[0]), metrics):
                writer.file_writer.add_summary(summary)
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, step)
        self._close(cell, seed)

    @hookimpl
    def sslbench_run_finish(self, summary: Any) -> None:
        self.close_all()

    def close_all(self) -> None:
        """Flush and close every open writer."""
        for key in list(self.writers):
            self.writers.pop(key).close()

    def _writer(self, cell: Any, seed: int, purge_step: int | None) -> Any:
        key = (cell.key, seed)
        if key not in self.writers:
            safeio.ensure_dir(self.root)  # never through a planted link
            # flush_secs: a live view lags by at most this; writes happen on a background thread
            self.writers[key] = self._writer_type(log_dir=str(self.run_dir(cell, seed)), purge_step=purge_step,
                                                  flush_secs=10)
        return self.writers[key]

    def _close(self, cell: Any, seed: int) -> None:
        writer = self.writers.pop((cell.key, seed), None)
        if writer is not None:
            writer.close()
        self.last_step.pop((cell.key, seed), None)


def metric_tag(cell: Any, row: Mapping[str, Any]) -> str:
    """``metrics/<evaluator>/<label set>/<metric>``; a reference row (task ≠ the cell's) is tagged with its task."""
    parts = [row.get("task", "")] if row.get("task") != cell.task else []
    parts += [row.get("evaluator", ""), row.get("label_set", ""), row.get("metric", "")]
    return "metrics/" + "/".join(str(p) for p in parts if p)


def cell_hparams(cell: Any, seed: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """The cell's settings as flat hparams: names, seed, the run's budget and optimiser, and
    each component option as ``<kind>.<option>`` (lists shown as text)."""
    out: dict[str, Any] = {"dataset": cell.dataset, "task": cell.task, "model": cell.model, "seed": seed}
    out.update({f"run.{k}": getattr(cell.run, k) for k in RUN_HPARAMS})
    for kind, options in sorted((row.get("settings") or {}).items()):
        for name, value in sorted(options.items()):
            out[f"{kind}.{name}"] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
