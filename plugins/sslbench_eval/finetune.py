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

An encoder without parameters (a no-encoder reference: raw pixels, frame statistics,
tf-idf) has nothing to fine-tune, so only its head trains; its features are then
standardised with the train split's mean and std first, as the linear probe does, so the
head is not judged on the features' raw scale (tf-idf weights, MFCC units) within a budget
sized for learned embeddings.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import EvalContext, autocast_for, count_step_flops, embed_split, label_key, move_batch


from sslbench_eval.options import FinetuneOptions  # noqa: F401  # torch-free: re-exported


class Classifier(nn.Module):
    """Encoder + linear head on its (optionally standardised) pooled output. Shape: batch → logits (B, C)."""

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
    """``top1``: test accuracy of the encoder fine-tuned with the lr chosen on ``valid``."""
    train = ctx.dataset.split("train")
    num_classes = int(train.labels[ctx.label_set].max()) + 1
    grid = options.lr_grid if ctx.has_split("valid") else options.lr_grid[:1]
    best: tuple[float, float, Classifier] | None = None
    total_flops = 0
    statistics = None if has_parameters(ctx.encoder) else train_statistics(ctx)  # once, not per lr
    for lr in grid:
        model, flops = finetune(ctx, options, lr, num_classes, statistics)
        total_flops += flops
        score = accuracy(model, ctx, "valid") if len(grid) > 1 else math.nan
        if best is None or score > best[0]:
            best = (score, lr, model)
    assert best is not None
    _, lr, model = best
    if len(grid) > 1:
        ctx.record_choice(lr=lr)
    ctx.record_cost(steps=options.steps * len(grid), flops=total_flops)
    return {"top1": accuracy(model, ctx, "test")}


def train_statistics(ctx: EvalContext) -> tuple[Tensor, Tensor]:
    """Mean and std (each (D,)) of the frozen encoder's train embeddings, as the linear probe standardises."""
    train = embed_split(ctx.encoder, ctx.dataset.split("train"), ctx.device, ctx.embed_batch_size)  # (N, D)
    return train.mean(dim=0), train.std(dim=0).clamp_min(1e-6)


def finetune(ctx: EvalContext, options: FinetuneOptions, lr: float, num_classes: int,
             statistics: tuple[Tensor, Tensor] | None = None) -> tuple[Classifier, int]:
    """A copy of ``ctx.encoder`` with a new head, trained on ``train``; returns it and its FLOPs.

    ``statistics``: (shift, scale) for the head's input, given for parameter-free references only."""
    with torch.random.fork_rng(devices=[]):  # the head's init must not move the global generator
        torch.manual_seed(ctx.seed)
        model = Classifier(copy.deepcopy(ctx.encoder), num_classes).to(ctx.device)
    if statistics is not None:  # a reference: its head sees standardised features, as in the probe
        model.shift.copy_(statistics[0])
        model.scale.copy_(statistics[1])
    model.encoder.requires_grad_(not options.freeze_encoder)
    model.train()
    if options.freeze_encoder:
        model.encoder.eval()  # a frozen encoder keeps its batch-norm statistics and no dropout
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=options.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(options.steps, options.warmup_fraction))
    split, key = ctx.dataset.split("train"), label_key(ctx.label_set)
    order = _batches(len(split), options.batch_size, options.steps, ctx.generator())
    with torch.enable_grad():  # the runner evaluates under no_grad
        flops_per_step = count_step_flops(_WithLoss(model, key), move_batch(split.batch(order[0]), ctx.device)).flops
        for index in order:
            batch = move_batch(split.batch(index), ctx.device)
            with autocast_for(ctx.device):
                loss = F.cross_entropy(model(batch), batch[key])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    return model, (flops_per_step or 0) * options.steps


class _WithLoss(nn.Module):
    """``model`` as a task for :func:`sslbench.flops.count_step_flops`: batch → ``{"loss": CE}``."""

    def __init__(self, model: Classifier, key: str) -> None:
        super().__init__()
        self.model, self.key = model, key

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"loss": F.cross_entropy(self.model(batch), batch[self.key])}


def accuracy(model: Classifier, ctx: EvalContext, split: str) -> float:
    """Top-1 of ``model`` on ``split`` (its labels read here, after training)."""
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
