"""Hand-made result rows for the report tests (no training)."""
from __future__ import annotations

from typing import Any

from sslbench.results import make_row


def row(task: str, seed: int, value: float | None, *, dataset: str = "d", model: str = "m", evaluator: str = "knn",
        metric: str = "top1", suite: str = "s", steps: int | None = None, protocol: dict | None = None,
        status: str = "ok", message: str = "", label_set: str = "y", **cost: Any) -> dict[str, Any]:
    """One row; ``steps`` defaults to 0 for random-init and 100 otherwise."""
    ident = dict(suite=suite, dataset=dataset, task=task, model=model, evaluator=evaluator, label_set=label_set,
                 metric=metric, seed=seed)
    steps = (0 if task == "random-init" else 100) if steps is None else steps
    budget = {"steps": steps, "batch_size": 8, "optimizer": "adamw", "lr": 0.001}
    settings = {"dataset": {}, "model": {}, **({} if task == "random-init" else {"task": {}})}
    full_cost = {"train_seconds": 1.0, "samples_per_s": 800.0, "peak_memory_bytes": 2**26, "eval_seconds": 0.1,
                 **cost}
    return make_row(ident, value, status=status, message=message, protocol=protocol or {"k": 20}, budget=budget,
                    settings=settings, cost=full_cost, provenance={"sslbench": "0.1.0", "plugins": {"eval": "0.1.0"}})


def seeds(task: str, values: list[float], **kw: Any) -> list[dict[str, Any]]:
    """One row per value, seeds 0, 1, 2, ..."""
    return [row(task, s, v, **kw) for s, v in enumerate(values)]
