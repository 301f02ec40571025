"""Hook implementations of the built-in evaluator plugin (entry point ``eval``)."""
from __future__ import annotations

from sslbench import EvaluatorSpec, TaskSpec, hookimpl

from sslbench_eval import finetune, knn, linear_probe, supervised


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
        EvaluatorSpec(
            name="finetune", run=finetune.run_finetune, options=finetune.FinetuneOptions, label_kinds={"class"},
            reference="Devlin et al., 2019 (BERT fine-tuning); He et al., 2022 (MAE: fine-tuning vs linear probe)",
            description="a copy of the encoder + linear head trained end to end on train (lr chosen on valid); "
            "metric top1",
        ),
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="supervised", build=supervised.build_supervised, options=supervised.SupervisedOptions,
            needs={"labels:class"}, split="train",
            reference="supervised upper bound as in DABS (Tamkin et al., 2021) and VTAB (Zhai et al., 2019)",
            description="reference: linear head + cross-entropy on a class label set of the train split, "
            "same budget as every cell; the 1 of the normalised score",
        ),
    ]
