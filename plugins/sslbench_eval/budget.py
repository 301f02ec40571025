"""Low-label evaluation: the train samples whose labels an evaluator with a label budget reads.

The semi-supervised protocols of the field judge a frozen or fine-tuned encoder with a
fraction of the labels: SimCLR's 1% and 10% of ImageNet (Chen et al., 2020, §6, a
class-balanced subset), VTAB-1k's 1,000 examples per task (Zhai et al., 2019). Here the
``linear-probe``, ``knn`` and ``finetune`` evaluators take ``labels_per_class`` (a
balanced draw: that many samples of every class) or ``label_fraction`` (a stratified
draw: that share of the train split, each class keeping its share), and read the
labels — and, for the probe's standardisation, the features — of those train samples only.

One draw per (seed, budget), made here and nowhere else: its generator is seeded from
the cell's seed and the budget (:func:`budget_seed`), never from the encoder, task or
evaluator, so every row of one seed with the same budget reads the same samples — the
comparisons stay paired, and the spread across seeds includes the subset's variance.

The supervised anchor at a budget: the ``supervised`` task trains once per cell, on the
whole train split, before any evaluator runs, so its encoder has seen every label. For an
evaluator with a budget, its row would then read an encoder trained on more labels than
the budget allows. Instead (:func:`budget_context`) the anchor's encoder is re-trained from
the cell's own initial weights (the random init of that seed, which the task keeps) on
the subset's labels only, end to end, by the ``finetune`` protocol at its defaults (its head drawn at random,
as the supervised task's own; lr chosen on ``valid``), once per cell and budget; each evaluator then reads that
encoder out as it reads any other. docs/protocols.md states the design and its cost.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import zlib
from typing import Any

from torch import Tensor, nn

from sslbench import EvalContext
from sslbench.splits import balanced_subset, stratified_subset
from sslbench_eval.supervised import SupervisedTask


def budget_of(options: Any) -> dict[str, Any]:
    """``{"labels_per_class": k}``, ``{"label_fraction": f}`` or ``{}`` (all labels) from evaluator options."""
    if getattr(options, "labels_per_class", 0):
        return {"labels_per_class": int(options.labels_per_class)}
    if getattr(options, "label_fraction", 1.0) < 1:
        return {"label_fraction": float(options.label_fraction)}
    return {}


def budget_seed(seed: int, budget: dict[str, Any]) -> int:
    """The draw's seed from the cell's seed and the budget: stable across machines and Python runs
    (CRC-32 of the budget's JSON, not ``hash``, which Python salts per process)."""
    return (seed * 1_000_003 + zlib.crc32(json.dumps(budget, sort_keys=True).encode())) % 2**63


def label_subset(labels: Tensor, seed: int, budget: dict[str, Any]) -> Tensor | None:
    """Sorted indices of the samples whose labels a budget reads; ``None`` for all.

    Raises ``ValueError`` (one line) when a class has fewer than ``labels_per_class``
    samples, or when ``label_fraction`` keeps fewer samples than there are classes.

    Shape:
        labels (N,) long → (n,) long, n = labels_per_class · C or round(label_fraction · N).
    """
    if not budget:
        return None
    labels = labels.cpu()
    if "labels_per_class" in budget:
        return balanced_subset(labels, budget["labels_per_class"], budget_seed(seed, budget))
    size = round(budget["label_fraction"] * len(labels))
    classes = len(labels.unique())
    if size < classes:
        raise ValueError(f"label_fraction: {budget['label_fraction']} keeps {size} of the {len(labels)} train labels, "
                         f"fewer than the {classes} classes; allowed: >= {classes / len(labels):.4g}")
    return stratified_subset(labels, size, budget_seed(seed, budget))


def train_subset(ctx: EvalContext, options: Any) -> Tensor | None:
    """The budget's indices into ``ctx``'s train split (for its label set), or ``None`` for all. Shape: (n,) long."""
    budget = budget_of(options)
    if not budget:
        return None
    return label_subset(ctx.dataset.split("train").labels[ctx.label_set], ctx.seed, budget)


def budget_context(ctx: EvalContext, options: Any) -> tuple[EvalContext, Tensor | None]:
    """The context an evaluator with ``options``' budget reads, and the budget's train indices.

    Unchanged for every cell but the supervised anchor under a budget: there, a context
    whose encoder was trained on the subset's labels only (module docstring), with its
    own embedding cache; the anchor's training cost lands in the row as ``eval_anchor_*``.
    """
    subset = train_subset(ctx, options)
    if subset is None or not isinstance(ctx.task, SupervisedTask):
        return ctx, subset
    encoder, steps, flops, embeddings = _anchor_on_subset(ctx, ctx.task, subset, budget_of(options))
    ctx.record_cost(anchor_steps=steps, anchor_flops=flops)
    return dataclasses.replace(ctx, encoder=encoder, _cache=embeddings), subset


def _anchor_on_subset(ctx: EvalContext, task: SupervisedTask, subset: Tensor,
                      budget: dict[str, Any]) -> tuple[nn.Module, float, float, dict[str, Tensor]]:
    """The supervised anchor's encoder trained from its initial weights on ``subset``'s labels of the task's
    label set, its steps and FLOPs, and its embedding cache (each split encoded once for every evaluator with
    that budget); computed once per cell and budget (kept on the task, which lives as long as the cell)."""
    key = json.dumps({**budget, "label_set": task.label_set}, sort_keys=True)
    if key not in task.budget_encoders:
        # Imported here: finetune imports this module (every evaluator reads its budget from it).
        from sslbench_eval.finetune import FinetuneOptions, tune

        start = copy.deepcopy(ctx.encoder)
        start.load_state_dict(task.initial_encoder_state)
        scratch = dataclasses.replace(ctx, encoder=start, label_set=task.label_set, _cache={}, choices={}, costs={})
        # A randomly drawn head, as the supervised task's own head at every label (not LP-FT: the anchor is
        # supervised training from scratch, and its rows at every label and at a budget stay one protocol).
        options = FinetuneOptions(**budget, head_init="random")
        model = tune(scratch, options, subset)
        encoder = model.encoder.requires_grad_(False).eval()
        task.budget_encoders[key] = (encoder, scratch.costs.get("steps", 0.0), scratch.costs.get("flops", 0.0), {})
    return task.budget_encoders[key]
