"""Hook implementations of the built-in evaluator plugin (entry point ``eval``)."""
from __future__ import annotations

from sslbench import EvaluatorSpec, hookimpl

from sslbench_eval import knn, linear_probe


@hookimpl
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    return [
        EvaluatorSpec(
            name="knn", run=knn.run_knn, options=knn.KNNOptions, label_kinds={"class"},
            reference="Wu et al., 2018 (weighted kNN monitor)",
            description="cosine kNN on frozen embeddings, train split as memory bank; metric top1",
        ),
        EvaluatorSpec(
            name="linear-probe", run=linear_probe.run_linear_probe, options=linear_probe.LinearProbeOptions,
            label_kinds={"class"},
            description="L2 logistic regression (L-BFGS, torch) on standardised frozen embeddings; metric top1",
        ),
    ]
