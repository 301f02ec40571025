"""Conformance of evaluators: finite, seeded metrics in result rows that serialise."""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import torch

from sslbench.anchors import RANDOM_INIT
from sslbench.contexts import EvalContext, MissingLabelSetError
from sslbench.options import options_as_dict
from sslbench.results import REQUIRED_KEYS, make_row
from sslbench.testing.checks import ConformanceError, Problems, expect, who_of
from sslbench.testing.kit import Kit, NotApplicable

# --- evaluators ----------------------------------------------------------------------------


def check_evaluator(kit: Kit, name: str, problems: Problems | None = None) -> None:
    """On the cheapest cell it runs on: finite float metrics, seeded, rows that serialise."""
    own, problems = problems is None, problems or Problems()
    spec = kit.registry.get("evaluator", name)
    dataset, model, task = _eval_cell(kit, name)
    who = f"{who_of(spec)} on ({dataset}, {task or 'random-init'}, {model})"
    encoder, module = kit.task(dataset, model, task) if task else (kit.encoder(dataset, model), None)
    encoder.requires_grad_(False).eval()
    if module is not None:
        module.eval()
    options = spec.options()
    for label_set in kit.label_sets(dataset, name):
        ctx = EvalContext(encoder=encoder, task=module, dataset=kit.dataset(dataset), modality=kit.modality(dataset),
                          label_set=label_set, device=torch.device("cpu"), seed=kit.options.seed, embed_batch_size=64)
        with problems.check():
            metrics = _expect_metrics(_run(spec, ctx, options, who), who, "run")
            with problems.check():
                again = _expect_metrics(_run(spec, dataclasses.replace(ctx, _cache={}), options, who), who, "run")
                expect(metrics == again, who, f"two runs with the same seed must agree: {metrics} vs {again}")
            if spec.baselines is not None:
                with problems.check():
                    baselines = spec.baselines(ctx, options)
                    expect(isinstance(baselines, Mapping), who, "baselines must return {name: {metric: value}}")
                    for values in baselines.values():
                        _expect_metrics(values, who, "baselines")
            _expect_rows(metrics, dataset, model, task, name, label_set, options, who)
    if own:
        problems.raise_all()


def _run(spec: Any, ctx: EvalContext, options: Any, who: str) -> Any:
    try:
        return spec.run(ctx, options)
    except MissingLabelSetError as err:
        raise ConformanceError(f"{who}: {err}") from None


def _eval_cell(kit: Kit, name: str) -> tuple[str, str, str | None]:
    """The cheapest cell the evaluator runs on: without a task if it can, else with the first task that fits."""
    cells, reasons = kit.eval_cells(name), []
    for with_task in (False, True):
        pairs = [(d, m) for d, m, t in cells if (t is not None) == with_task]
        try:
            dataset, model = kit.cheapest(pairs, f"evaluator {name!r}")
        except NotApplicable as err:
            reasons.append(str(err))
            continue
        return dataset, model, next(t for d, m, t in cells if (d, m) == (dataset, model))
    none = f"evaluator {name!r}: no (dataset, model, task) among the loaded plugins provides what it needs"
    raise NotApplicable(reasons[-1] if cells else none)


def _expect_metrics(metrics: Any, who: str, what: str) -> dict[str, float]:
    expect(isinstance(metrics, Mapping) and metrics, who, f"{what} must return a non-empty {{metric: value}} dict")
    for key, value in metrics.items():
        expect(isinstance(key, str) and key, who, f"{what}: metric names must be non-empty strings, got {key!r}")
        expect(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), who,
               f"{what}: metric {key!r} must be a finite float (not a tensor), got {value!r}")
    return {k: float(v) for k, v in metrics.items()}


def _expect_rows(metrics: dict[str, float], dataset: str, model: str, task: str | None, evaluator: str,
                 label_set: str | None, options: Any, who: str) -> None:
    for metric, value in metrics.items():
        identity = {"suite": "conformance", "dataset": dataset, "task": task or RANDOM_INIT, "model": model,
                    "evaluator": evaluator, "label_set": label_set or "", "metric": metric, "seed": 0}
        row = make_row(identity, value, protocol=options_as_dict(options))
        missing = [k for k in REQUIRED_KEYS if k not in row]
        expect(not missing, who, f"a result row lacks {missing}")
        text = json.dumps(row, sort_keys=True, allow_nan=False)
        expect(json.loads(text) == row, who, f"a result row must survive a JSON round trip: {text[:200]}")
