"""Fine-tuning evaluator: the pretrained encoder plus a linear head, trained end to end.

The protocol of BERT's downstream tasks (Devlin et al., 2019, §4) and of MAE's
fine-tuning results (He et al., 2022, §4): masked modelling is known to be undervalued
by a frozen linear probe and to show once the encoder may adapt. A *copy* of the
frozen encoder the runner hands over is trained — other evaluators of the cell keep
using the frozen one — with a linear head on its pooled output, cross-entropy on the
dataset's ``train`` split, AdamW with linear warmup and cosine decay, for a fixed
budget of ``steps`` × ``batch_size``. The random-init and supervised rows go through
the same protocol, so the comparison is like for like.

Learning rate: each value of ``lr_grid`` is fine-tuned on ``train`` and scored on the
``valid`` split; the best one's model is then scored on ``test``, once. Without a
validation split the first value of the grid is used. What it spent (steps, FLOPs,
counted on the first batch with :func:`sslbench.flops.count_step_flops`) lands in the row's
``cost`` as ``eval_steps`` / ``eval_flops``; the chosen lr in ``selected``.

The head's input is standardised for every encoder — ``(pooled - mean) / std`` with the
train split's per-feature statistics of the encoder as handed over, fixed during training —
as the linear probe standardises, and as MAE's linear probing puts a BatchNorm without
affine parameters before the head (He et al., 2022, appendix A.2): the head is then judged
on the features, not on their scale (a frozen cnn-small's raw features left AdamW's head at
0.196 where the probe reads 0.948 on digits, issue 25). With ``freeze_encoder = true`` the
encoder cannot change, so the head trains on the cell's cached embeddings (the same numbers
the encoder would give batch by batch; no encoder pass per step).

The head starts from the linear probe's fit on those same standardised train features
(``head_init = "probe"``, the default: LP-FT, Kumar et al., 2022, "Fine-Tuning can Distort
Pretrained Features and Underperform Out-of-Distribution", ICLR) — L-BFGS, L2 chosen on
``valid``, :mod:`sslbench_eval.linear_probe` at its defaults, fit once per cell and seed and
recorded as ``selected.head_l2``. Fine-tuning then starts where the frozen reading ends: a
randomly drawn head's first steps push large, uninformed gradients into the encoder (the
distortion LP-FT was proposed against), and on badly conditioned features a few hundred
first-order steps do not reach the directions the probe reads (a frozen random-init
patch-transformer's standardised features span 3 of 64 directions above 1e-3 of the largest
eigenvalue; its randomly drawn head read 0.235 on digits where the probe read 0.460,
benchmarks/finetune-head/). ``head_init = "random"`` is the head drawn by ``nn.Linear``'s
initialiser, as before this option existed. The probe's fit is not counted in the row's
``eval_steps`` / ``eval_flops`` (the ``linear-probe`` evaluator counts none either).

An encoder without parameters (a no-encoder reference: raw pixels, frame statistics,
tf-idf) has nothing to fine-tune: its row is its best linear head, the linear probe's fit
(L-BFGS to convergence, L2 chosen on ``valid``, :mod:`sslbench_eval.linear_probe` at its
defaults), so a reference's ``finetune`` row never sits below its probe row for a reason
that has nothing to do with its features (200 AdamW steps left raw pixels at 0.832 against
the probe's 0.965).

A label budget (``labels_per_class`` / ``label_fraction``, :mod:`sslbench_eval.budget`)
restricts the training batches (and the head's input statistics) to the budget's subset.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import EvalContext, autocast_for, count_step_flops, embed_split, label_key, move_batch
from sslbench_eval.budget import budget_context, budget_of
from sslbench_eval.linear_probe import fit_logistic_regression, run_linear_probe, select_l2
from sslbench_eval.options import FinetuneOptions, LinearProbeOptions


class Classifier(nn.Module):
    """Encoder + linear head on its standardised pooled output. Shape: batch → logits (B, C)."""

    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.embed_dim, num_classes)
        self.register_buffer("shift", torch.zeros(encoder.embed_dim))
        self.register_buffer("scale", torch.ones(encoder.embed_dim))

    def features(self, pooled: Tensor) -> Tensor:
        """(B, D) pooled output → (B, D) head input: ``(pooled - shift) / scale``."""
        return (pooled.float() - self.shift) / self.scale

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.head(self.features(self.encoder(batch).pooled)).float()


def has_parameters(encoder: nn.Module) -> bool:
    """Whether fine-tuning could change ``encoder`` (no-encoder references have no parameters)."""
    return any(True for _ in encoder.parameters())


def run_finetune(ctx: EvalContext, options: FinetuneOptions) -> dict[str, float]:
    """``top1``: test accuracy of the encoder fine-tuned with the lr chosen on ``valid``
    (of a reference: of the linear probe's fit, module docstring)."""
    ctx, subset = budget_context(ctx, options)
    if not has_parameters(ctx.encoder):
        return run_linear_probe(ctx, LinearProbeOptions(**budget_of(options)))
    model = tune(ctx, options, subset)
    return {"top1": accuracy(model, ctx, "test", frozen=options.freeze_encoder)}


def tune(ctx: EvalContext, options: FinetuneOptions, subset: Tensor | None = None) -> Classifier:
    """The model fine-tuned on ``train`` (its ``subset`` rows when given) with the lr of ``options.lr_grid``
    best on ``valid`` (the first without a valid split); records the choice and the cost on ``ctx``."""
    train = ctx.dataset.split("train")
    num_classes = int(train.labels[ctx.label_set].max()) + 1
    grid = options.lr_grid if ctx.has_split("valid") else options.lr_grid[:1]
    best: tuple[float, float, Classifier] | None = None
    total_flops = 0
    statistics = train_statistics(ctx, subset)  # once, not per lr
    head = probe_head(ctx, statistics, num_classes, subset) if options.head_init == "probe" else None
    for lr in grid:
        model, flops = finetune(ctx, options, lr, num_classes, statistics, subset, head)
        total_flops += flops
        score = accuracy(model, ctx, "valid", frozen=options.freeze_encoder) if len(grid) > 1 else math.nan
        if best is None or score > best[0]:
            best = (score, lr, model)
    assert best is not None
    _, lr, model = best
    if len(grid) > 1:
        ctx.record_choice(lr=lr)
    ctx.record_cost(steps=options.steps * len(grid), flops=total_flops)
    return model


def train_statistics(ctx: EvalContext, subset: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Mean and std (each (D,)) of the handed-over encoder's train embeddings (the ``subset`` rows when
    given), as the linear probe standardises; from the cell's cached embeddings."""
    train = ctx.embeddings("train")  # (N, D)
    if subset is not None:
        train = train[subset.to(train.device)]
    return train.mean(dim=0), train.std(dim=0).nan_to_num(1.0).clamp_min(1e-6)


def probe_head(ctx: EvalContext, statistics: tuple[Tensor, Tensor], num_classes: int,
               subset: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The LP of LP-FT: the linear probe's fit (:mod:`sslbench_eval.linear_probe` at its defaults; L2 chosen on
    ``valid`` when there is one and recorded as ``head_l2``, the fixed ``l2`` otherwise) on the train embeddings
    standardised by ``statistics`` — exactly the head's input — from the ``subset`` rows when given. Reads no
    test data.

    Shape: returns the head's weight (C, D) and bias (C,), ``nn.Linear``'s layout.
    """
    options = LinearProbeOptions()
    shift, scale = statistics
    x, y = ctx.embeddings("train"), ctx.labels("train")  # (N, D), (N,)
    if subset is not None:
        x, y = x[subset.to(x.device)], y[subset.to(y.device)]
    x = (x.float() - shift) / scale
    if ctx.has_split("valid"):
        valid = ((ctx.embeddings("valid").float() - shift) / scale, ctx.labels("valid"))
        l2, (weight, bias), _ = select_l2((x, y), valid, num_classes, options)
        ctx.record_choice(head_l2=l2)
    else:  # nothing to select on: the probe's fixed L2, as the linear-probe evaluator does
        weight, bias = fit_logistic_regression(x, y, num_classes, options.l2, options.max_iter, options.tolerance,
                                               torch.float32)  # the probe's default precision
    return weight.T.contiguous(), bias


def finetune(ctx: EvalContext, options: FinetuneOptions, lr: float, num_classes: int,
             statistics: tuple[Tensor, Tensor], subset: Tensor | None = None,
             head: tuple[Tensor, Tensor] | None = None) -> tuple[Classifier, int]:
    """A copy of ``ctx.encoder`` with a new head on standardised input (``statistics``: shift, scale), that head
    starting from ``head`` (weight (C, D), bias (C,)) when given, trained on ``train`` (its ``subset`` rows when
    given); returns it and its FLOPs."""
    encoder = ctx.encoder if options.freeze_encoder else copy.deepcopy(ctx.encoder)  # frozen: never changed
    if not options.freeze_encoder:  # the runner hands evaluators a frozen encoder; its copy trains end to end
        encoder.requires_grad_(True)
    with torch.random.fork_rng(devices=[]):  # the head's init must not move the global generator
        torch.manual_seed(ctx.seed)
        model = Classifier(encoder, num_classes).to(ctx.device)  # the head: the first draw, frozen or not
    model.shift.copy_(statistics[0])
    model.scale.copy_(statistics[1])
    if head is not None:
        model.head.weight.data.copy_(head[0])
        model.head.bias.data.copy_(head[1])
    rows = torch.arange(len(ctx.dataset.split("train"))) if subset is None else subset.cpu()
    order = [rows[i] for i in _batches(len(rows), options.batch_size, options.steps, ctx.generator())]
    optimizer = torch.optim.AdamW([p for p in (model.head if options.freeze_encoder else model).parameters()],
                                  lr=lr, weight_decay=options.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(options.steps, options.warmup_fraction))
    with torch.enable_grad():  # the runner evaluates under no_grad
        if options.freeze_encoder:
            flops = _train_head(model, ctx, order, optimizer, schedule)
        else:
            flops = _train_end_to_end(model, ctx, order, optimizer, schedule)
    model.eval()
    return model, (flops or 0) * options.steps


def _train_end_to_end(model: Classifier, ctx: EvalContext, order: list[Tensor], optimizer: torch.optim.Optimizer,
                      schedule: torch.optim.lr_scheduler.LRScheduler) -> int | None:
    """Encoder and head trained on the train split's batches ``order``; returns the FLOPs of one step."""
    split, key = ctx.dataset.split("train"), label_key(ctx.label_set)
    model.train()
    flops = count_step_flops(_WithLoss(model, key), move_batch(split.batch(order[0]), ctx.device)).flops
    for index in order:
        batch = move_batch(split.batch(index), ctx.device)
        with autocast_for(ctx.device):
            loss = F.cross_entropy(model(batch), batch[key])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return flops


def _train_head(model: Classifier, ctx: EvalContext, order: list[Tensor], optimizer: torch.optim.Optimizer,
                schedule: torch.optim.lr_scheduler.LRScheduler) -> int | None:
    """The head alone trained on the cell's cached train embeddings (the frozen encoder's output), batches
    ``order``; returns the FLOPs of one step. Shape: embeddings (N, D), labels (N,)."""
    x = ctx.embeddings("train")
    y = ctx.dataset.split("train").labels[ctx.label_set].to(x.device)
    head = _HeadLoss(model)
    flops = count_step_flops(head, {"x": x[order[0].to(x.device)], "y": y[order[0].to(x.device)]}).flops
    for index in order:
        index = index.to(x.device)
        loss = head({"x": x[index], "y": y[index]})["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return flops


class _HeadLoss(nn.Module):
    """The head on cached embeddings as a task: ``{"x": (B, D), "y": (B,)}`` → ``{"loss": CE}``."""

    def __init__(self, model: Classifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"loss": F.cross_entropy(self.model.head(self.model.features(batch["x"])), batch["y"])}


class _WithLoss(nn.Module):
    """``model`` as a task for :func:`sslbench.flops.count_step_flops`: batch → ``{"loss": CE}``."""

    def __init__(self, model: Classifier, key: str) -> None:
        super().__init__()
        self.model, self.key = model, key

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"loss": F.cross_entropy(self.model(batch), batch[self.key])}


def accuracy(model: Classifier, ctx: EvalContext, split: str, frozen: bool = False) -> float:
    """Top-1 of ``model`` on ``split`` (its labels read here, after training); a ``frozen`` encoder's
    features are the cell's cached embeddings."""
    if frozen:
        features = ctx.embeddings(split)  # (N, D)
    else:
        features = embed_split(model.encoder, ctx.dataset.split(split), ctx.device, ctx.embed_batch_size)  # (N, D)
    with torch.no_grad():
        pred = model.head(model.features(features)).argmax(dim=1)
    return (pred == ctx.labels(split)).float().mean().item()


def _batches(n: int, batch_size: int, steps: int, generator: torch.Generator) -> list[Tensor]:
    """``steps`` index batches: epochs of a random permutation, without replacement within one."""
    out: list[Tensor] = []
    size = min(batch_size, n)
    while len(out) < steps:
        perm = torch.randperm(n, generator=generator)
        out += [perm[i : i + size] for i in range(0, n - size + 1, size)]
    return out[:steps]


def _warmup_cosine(steps: int, warmup_fraction: float):  # noqa: ANN202 - a LambdaLR factor
    warmup = int(steps * warmup_fraction)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor
