"""Hook implementations of the built-in evaluator plugin (entry point ``eval``).

Builders are ``"module:function"`` strings, imported when a cell uses them, so that
this module (and ``sslbench list``) imports no torch.
"""
from __future__ import annotations

from sslbench import EvaluatorSpec, TaskSpec, hookimpl

from sslbench_eval import options


@hookimpl
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    return [
        EvaluatorSpec(
            name="knn", run="sslbench_eval.knn:run_knn", options=options.KNNOptions, label_kinds={"class"},
            reference="Wu et al., 2018 (weighted kNN monitor)",
            description="cosine kNN on frozen embeddings, train split as memory bank; metric top1",
        ),
        EvaluatorSpec(
            name="linear-probe", run="sslbench_eval.linear_probe:run_linear_probe", options=options.LinearProbeOptions,
            label_kinds={"class"},
            description="L2 logistic regression (L-BFGS, torch) on standardised frozen embeddings; metric top1",
        ),
        EvaluatorSpec(
            name="finetune", run="sslbench_eval.finetune:run_finetune", options=options.FinetuneOptions, label_kinds={"class"},
            version=2,  # 2: the head starts from the linear probe's fit (LP-FT; head_init), before: a random head
            reference="Devlin et al., 2019 (BERT fine-tuning); He et al., 2022 (MAE: fine-tuning vs linear probe); "
            "Kumar et al., 2022 (LP-FT: the head starts from the linear probe)",
            description="a copy of the encoder + linear head (started from the probe's fit) trained end to end on train "
            "(lr chosen on valid); "
            "metric top1",
        ),
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="supervised", build="sslbench_eval.supervised:build_supervised", options=options.SupervisedOptions,
            needs={"labels:class"}, split="train",
            reference="supervised upper bound as in DABS (Tamkin et al., 2021) and VTAB (Zhai et al., 2019)",
            description="reference: linear head + cross-entropy on a class label set of the train split, "
            "same budget as every cell; the 1 of the normalised score",
        ),
    ]
