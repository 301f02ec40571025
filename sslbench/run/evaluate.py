"""Turning a built cell's evaluations into result rows: each evaluator and label set run in
isolation, the anchors' reference rows, and each row's identity, settings, budget and cost;
a failure becomes rows with a null value and a stored traceback."""
from __future__ import annotations

import dataclasses
import logging
import sys
import time
import traceback
from collections.abc import Mapping
from typing import Any

import torch

from sslbench import distributed, safeio
from sslbench.anchors import EXTERNAL
from sslbench.contexts import EvalContext, MissingLabelSetError
from sslbench.errors import PluginError
from sslbench.options import options_as_dict
from sslbench.plan.grid import BASELINE_TASK, Cell, model_options
from sslbench.plan.variants import bases_of
from sslbench.results.identity import ROWS_FORMAT, row_identity
from sslbench.results.rows import make_row
from sslbench.run import hardware
from sslbench.run.folder import pair_name, write_traceback
from sslbench.run.state import RunState
from sslbench.run.train import TrainResult

log = logging.getLogger(__name__)


def evaluate_cell(run: RunState, cell: Cell, seed: int, dataset: Any, modality: Any, encoder: torch.nn.Module,
                  task: torch.nn.Module | None, trained: TrainResult | None) -> list[dict[str, Any]]:
    """Freeze a built cell and run its evaluations; a random-init cell adds its evaluators' reference rows.

    The one path from a built (and trained, or loaded) cell to its rows, for a run and for
    evaluating a finished pair again (:mod:`sslbench.run.reevaluate`).
    """
    encoder.requires_grad_(False).eval().to(run.device)
    if task is not None:
        task.eval()
    ctx = EvalContext(encoder=encoder, task=task, dataset=dataset, modality=modality, label_set=None,
                      device=run.device, seed=seed, embed_batch_size=cell.run.embed_batch_size)
    rows = evaluate(run, cell, seed, ctx, trained)
    if cell.is_baseline:
        rows += baseline_rows(run, cell, seed, ctx)
    return rows


def evaluate(run: RunState, cell: Cell, seed: int, ctx: EvalContext, trained: TrainResult | None) -> list[dict[str, Any]]:
    rows = []
    weights = weights_facts(ctx.encoder)
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
                rows += failure_rows(run, cell, seed, "failed", err, only=(plan.evaluator, label_set))
                continue
            seconds = time.perf_counter() - start
            for metric, value in metrics.items():
                identity = _identity(run, cell, seed, plan.evaluator, label_set, metric)
                row = _row(run, cell, identity, value, options, trained, eval_seconds=seconds, weights=weights)
                row["cost"].update({f"eval_{name}": v for name, v in eval_ctx.costs.items()})
                rows.append({**row, "selected": dict(eval_ctx.choices)} if eval_ctx.choices else row)
    return rows


def baseline_rows(run: RunState, cell: Cell, seed: int, ctx: EvalContext) -> list[dict[str, Any]]:
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


def weights_facts(encoder: Any) -> dict[str, Any]:
    """What an encoder built from outside weights says about them (``ModelSpec``: ``weights_sha256``
    and, optionally, a ``weights_provenance`` dict: source, resolved file, licence); {} for none."""
    sha = getattr(encoder, "weights_sha256", "") or ""
    if not sha:
        return {}
    return {**dict(getattr(encoder, "weights_provenance", None) or {}), "sha256": str(sha)}


def _identity(run: RunState, cell: Cell, seed: int, evaluator: str, label_set: str | None, metric: str) -> dict[str, Any]:
    return {
        "suite": run.config.run.suite, "dataset": cell.dataset, "task": cell.task, "model": cell.model,
        "evaluator": evaluator, "label_set": label_set or "", "metric": metric, "seed": seed,
    }


def _row(run: RunState, cell: Cell, identity: Mapping[str, Any], value: float | None, eval_options: Any,
         trained: TrainResult | None, *, eval_seconds: float, status: str = "ok", message: str = "",
         weights: Mapping[str, Any] | None = None) -> dict[str, Any]:
    spec = run.registry.get("evaluator", identity["evaluator"])
    components = _components(run, cell)
    options = {kind: model_options(run.config, cell) if kind == "model" else run.config.options_for(kind, name)
               for kind, name in components.items()}
    protocol = options_as_dict(eval_options) if eval_options is not None else {}
    settings = {kind: options_as_dict(o) for kind, o in options.items()}
    if weights:  # the weights' bytes identify the row, not only their name (a file can change under it)
        settings["model"]["weights_sha256"] = weights["sha256"]
    provenance = {**run.provenance, "weights": dict(weights)} if weights else run.provenance
    bases = bases_of(run.config.variants, {"evaluator": identity["evaluator"], **components})
    return make_row(
        identity, value, status=status, message=message,
        modality=run.registry.get("dataset", cell.dataset).modality,
        higher_is_better=bool(spec.higher_is_better.get(identity["metric"], True)),
        protocol=protocol,
        settings=settings,
        budget=_budget(run, cell),
        cost=_cost(trained, eval_seconds, run.device, cell, bool(weights)),
        provenance=provenance,
        format=ROWS_FORMAT,
        identity=row_identity(
            protocol, _defaults(eval_options) if eval_options is not None else {}, settings,
            {kind: _defaults(o) for kind, o in options.items()},
            {"evaluator": spec.version,
             **{kind: run.registry.get(kind, name).version for kind, name in components.items()}},
            bases,
        ),
        **({"bases": bases} if bases else {}),  # a variant's registered base (sslbench.plan.variants)
    )


def _components(run: RunState, cell: Cell) -> dict[str, str]:
    """kind → name of the components whose options are a row's settings: dataset and modality,
    then the model (not for a ``no-encoder`` cell) and the task (only for a pretrained cell)."""
    components = {"dataset": cell.dataset, "modality": run.registry.get("dataset", cell.dataset).modality}
    if not cell.is_reference:
        components["model"] = cell.model
        if not cell.untrained:
            components["task"] = cell.task
    return components


def _defaults(options: Any) -> dict[str, Any]:
    """The defaults of an options dataclass instance (every option has one: ComponentSpec checks)."""
    return options_as_dict(type(options)())


def _budget(run: RunState, cell: Cell) -> dict[str, Any]:
    """The budget as configured (what the leaderboard compares); what was spent is in ``cost``."""
    if cell.is_reference:  # never trained: the budget of a baseline (0 steps)
        return _budget(run, dataclasses.replace(cell, task=BASELINE_TASK))
    r = cell.run
    unit = r.budget_unit
    amount = r.budget_amount
    scored = {"score_split": run.config.run.score_split} if run.config.run.score_split != "test" else {}
    if cell.is_as_loaded:  # pretrained elsewhere: its steps and FLOPs are unknown, not 0
        return {**scored, "pretraining": EXTERNAL, "unit": None, "amount": None, "steps": None}
    return {**scored, "unit": "steps" if cell.is_baseline else unit, "amount": 0 if cell.is_baseline else amount,
            "steps": 0 if cell.is_baseline else (r.steps if unit == "steps" else None),
            "batch_size": r.batch_size, "optimizer": r.optimizer, "lr": r.lr, "weight_decay": r.weight_decay,
            "schedule": r.schedule, "warmup_fraction": r.warmup_fraction}


def _cost(trained: TrainResult | None, eval_seconds: float, device: torch.device, cell: Cell,
          outside_weights: bool) -> dict[str, Any]:
    """Budget spent in all three units (steps, seconds, FLOPs) plus speed, memory and, on
    GPUs, model FLOPs utilisation (achieved FLOP/s over the device's dense bf16 peak).
    An as-loaded cell's pretraining happened elsewhere: steps, seconds and FLOPs unknown (None);
    a cell that trained on from outside weights says so in ``initial_weights``."""
    if cell.is_as_loaded:
        return {"pretraining": EXTERNAL, "steps": None, "train_seconds": None, "flops": None, "flops_per_step": None,
                "samples_per_s": None, "peak_memory_bytes": None, "eval_seconds": round(eval_seconds, 4),
                "final_loss": None}
    if trained is not None and outside_weights:
        return {**_cost(trained, eval_seconds, device, cell, False), "initial_weights": EXTERNAL}
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


def _store_traceback(run: RunState, cell: Cell, seed: int, err: Exception, only: tuple[str, str | None] | None) -> str:
    """Write the traceback being handled to ``OUT/tracebacks/<cell>--seed<k>[--<evaluator>[--<label set>]].txt``;
    returns that path relative to OUT ("" on ranks other than 0, which write nothing)."""
    text = traceback.format_exc() if sys.exc_info()[0] is not None else "".join(traceback.format_exception(err))
    evaluator = " ".join(filter(None, only)) if only else ""
    if run.show_tracebacks:
        print(f"--- {cell.key} seed {seed}{' ' + evaluator if evaluator else ''}: traceback\n{text}",
              file=sys.stderr, end="")
    if not distributed.is_main():
        return ""
    heading = f"{cell.key} seed {seed}{' evaluator ' + evaluator if evaluator else ''}\n"
    return write_traceback(run.out_dir, [pair_name(cell, seed), *filter(None, only or ())], heading + text)


def failure_rows(run: RunState, cell: Cell, seed: int, status: str, err: Exception,
                  only: tuple[str, str | None] | None = None, store_traceback: bool = True) -> list[dict[str, Any]]:
    """One row per (evaluator, label set) the failure cost, value null, with the message.

    Called while the failure is being handled: its traceback is stored (and printed with
    ``--traceback``), and the message ends with where the file is — unless ``store_traceback``
    is False (a message that says all there is, e.g. a missing checkpoint).
    """
    message = f"{type(err).__name__}: {err}"
    stored = _store_traceback(run, cell, seed, err, only) if store_traceback else ""
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
