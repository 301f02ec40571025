"""``mlm-accuracy``: masked-token accuracy on held-out data, beside unigram baselines.

The metric of HF's ``run_mlm`` example (top-1 accuracy over all masked positions,
BERT 80/10/10 corruption; Devlin et al., 2019, §3.1): the held-out ``test`` split is
corrupted ONCE with a fixed seed, so every model is scored on the same positions,
whatever its batch size or device. Written against the ``tokens`` capability and a
task's ``mlm-head`` (``task.logits(sequence) -> (…, V)``), like the ``mlm`` task.

Baselines (``EvaluatorSpec.baselines``), from the PRETRAINING split's token counts
(never the held-out split's), on the same positions:

* ``unigram``: always predict the most frequent maskable pretraining token — what a
  model that learned only token frequencies scores.
* ``copy-unigram``: predict the input token where the input is not ``[MASK]`` (the
  10% "unchanged" positions are then right, the 10% "random" ones almost always
  wrong) and the unigram token where it is — frequencies plus the identity, no
  context. A model below this has learned nothing contextual.

Metrics: ``top1`` (all masked positions) and ``top1_at_mask`` (positions whose input
is ``[MASK]``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from sslbench import Batch, EvalContext, Modality

from .masking import IGNORE_INDEX, mask_tokens
from sslbench_text.options import MLMAccuracyOptions  # noqa: F401  # torch-free: re-exported

Predict = Callable[[Batch, Tensor], Tensor]
"""``predict(batch, selected)``: predicted ids at ``selected`` (B, T) bool positions, row-major, (N,) long."""


@dataclass(frozen=True)
class MLMAccuracy:
    """Masked-token accuracy of a model and its baselines on the same positions."""

    accuracy: float  # model, top-1, all masked positions (HF run_mlm's metric)
    accuracy_at_mask: float  # model, positions whose input is [MASK]
    unigram_accuracy: float  # always the most frequent maskable pretraining token
    copy_unigram_accuracy: float  # the visible token, or the unigram token under [MASK]
    positions: int  # masked positions scored
    unigram_token: int  # id of the most frequent maskable pretraining token


def token_counts(modality: Modality, split, chunk: int = 4096) -> Tensor:
    """Occurrences of each token id at maskable positions of ``split`` (specials and padding excluded).

    Shape:
        returns (V,) long
    """
    counts = torch.zeros(modality.vocab_size, dtype=torch.long)
    for start in range(0, len(split), chunk):
        ids, maskable = modality.tokens(split.batch(torch.arange(start, min(start + chunk, len(split)))))
        counts += torch.bincount(ids[maskable].cpu(), minlength=modality.vocab_size)
    return counts


def held_out(modality: Modality, split, options: MLMAccuracyOptions) -> tuple[Batch, Tensor, Tensor]:
    """The held-out batch corrupted once with ``options.seed``.

    Shape:
        returns the corrupted batch (N, T), labels (N, T) long (-100 where unscored),
        and the corrupted ids (N, T)
    """
    n = len(split) if options.max_samples == 0 else min(options.max_samples, len(split))
    batch = split.batch(torch.arange(n))
    ids, maskable = modality.tokens(batch)
    corrupted, labels = mask_tokens(
        ids, mask_token_id=modality.mask_token_id, vocab_size=modality.vocab_size, special_ids=(),
        attention_mask=maskable, generator=torch.Generator().manual_seed(options.seed),
        mlm_probability=options.mlm_probability,
    )
    return modality.with_tokens(batch, corrupted), labels, corrupted


@torch.no_grad()
def score(predict: Predict | None, batch: Batch, labels: Tensor, corrupted: Tensor, *, pretrain_counts: Tensor,
          mask_token_id: int, batch_size: int = 256) -> MLMAccuracy:
    """Accuracy of ``predict`` (None: baselines only, model fields NaN) on the labelled positions.

    Shape:
        batch (N, T) corrupted; labels, corrupted (N, T); pretrain_counts (V,)
    """
    selected = labels != IGNORE_INDEX
    target, shown = labels[selected], corrupted[selected]
    at_mask = shown == mask_token_id
    unigram = int(torch.argmax(pretrain_counts))  # ties → lowest id
    copy_unigram = torch.where(at_mask, unigram, shown)
    predicted = None
    if predict is not None:
        parts = []
        for start in range(0, len(labels), batch_size):
            rows = slice(start, start + batch_size)
            parts.append(predict({k: v[rows] for k, v in batch.items()}, selected[rows]).cpu())
        predicted = torch.cat(parts)
    return MLMAccuracy(
        accuracy=_mean(predicted == target) if predicted is not None else float("nan"),
        accuracy_at_mask=_mean(predicted[at_mask] == target[at_mask]) if predicted is not None else float("nan"),
        unigram_accuracy=_mean(target == unigram),
        copy_unigram_accuracy=_mean(copy_unigram == target),
        positions=int(selected.sum()),
        unigram_token=unigram,
    )


def encoder_predict(ctx: EvalContext) -> Predict:
    """``predict`` from the frozen encoder and the trained task's ``logits`` (the ``mlm-head``), in fp32."""

    def predict(batch: Batch, selected: Tensor) -> Tensor:
        batch = {k: v.to(ctx.device) for k, v in batch.items()}
        sequence = ctx.encoder(batch).sequence  # (B, T, D)
        return ctx.task.logits(sequence[selected.to(ctx.device)]).argmax(-1)  # (N,)

    return predict


def run_mlm_accuracy(ctx: EvalContext, options: MLMAccuracyOptions) -> dict[str, float]:
    """``top1`` and ``top1_at_mask`` of the task's MLM head on the held-out ``test`` split."""
    batch, labels, corrupted = held_out(ctx.modality, ctx.dataset.test, options)
    result = score(encoder_predict(ctx), batch, labels, corrupted, pretrain_counts=_counts(ctx),
                   mask_token_id=ctx.modality.mask_token_id, batch_size=options.batch_size)
    return {"top1": result.accuracy, "top1_at_mask": result.accuracy_at_mask}


def mlm_accuracy_baselines(ctx: EvalContext, options: MLMAccuracyOptions) -> dict[str, dict[str, float]]:
    """Reference rows ``unigram`` and ``copy-unigram`` on the same positions as ``run_mlm_accuracy``."""
    batch, labels, corrupted = held_out(ctx.modality, ctx.dataset.test, options)
    result = score(None, batch, labels, corrupted, pretrain_counts=_counts(ctx),
                   mask_token_id=ctx.modality.mask_token_id)
    selected = labels != IGNORE_INDEX
    at_mask = corrupted[selected] == ctx.modality.mask_token_id
    unigram_at_mask = _mean(labels[selected][at_mask] == result.unigram_token)
    return {
        "unigram": {"top1": result.unigram_accuracy, "top1_at_mask": unigram_at_mask},
        "copy-unigram": {"top1": result.copy_unigram_accuracy, "top1_at_mask": unigram_at_mask},
    }


def _counts(ctx: EvalContext) -> Tensor:
    """Pretraining token counts: the dataset's ``extras["pretrain_token_counts"]`` when it has them."""
    given = ctx.dataset.extras.get("pretrain_token_counts")
    return given if given is not None else token_counts(ctx.modality, ctx.dataset.pretrain)


def _mean(hits: Tensor) -> float:
    return float(hits.float().mean()) if hits.numel() else float("nan")
