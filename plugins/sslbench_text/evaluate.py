"""Masked-token accuracy on held-out segments, reported beside unigram baselines.

The metric of HF's ``run_mlm`` example (top-1 accuracy over all masked positions,
BERT 80/10/10 corruption; Devlin et al., 2019, §3.1): held-out segments are fed as
``[CLS] A [SEP]`` and corrupted ONCE with a fixed seed, so every model is scored on
the same positions, whatever its batch size or device.

Baselines, from the PRETRAINING split's token counts (never the held-out split's):

* ``unigram_accuracy``: always predict the most frequent non-special pretraining
  token — what a model that learned only token frequencies scores.
* ``copy_unigram_accuracy``: predict the input token where the input is not
  ``[MASK]`` (the 10% "unchanged" positions are then right, the 10% "random" ones
  almost always wrong) and the unigram token where it is — the score of a model that
  learned frequencies and the identity, no context. A model below this has learned
  nothing contextual.

``accuracy_at_mask`` restricts the model's accuracy to positions shown as ``[MASK]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .masking import IGNORE_INDEX, mask_tokens
from .segments import SegmentStore, single_inputs


@dataclass(frozen=True)
class MLMAccuracy:
    """Masked-token accuracy of a model and its baselines on the same positions."""

    accuracy: float  # model, top-1, all masked positions (HF run_mlm's metric)
    accuracy_at_mask: float  # model, positions whose input is [MASK]
    unigram_accuracy: float  # always the most frequent non-special pretraining token
    copy_unigram_accuracy: float  # the visible token, or the unigram token under [MASK]
    positions: int  # masked positions scored
    unigram_token: int  # id of the most frequent non-special pretraining token


def token_counts(store: SegmentStore, vocab_size: int) -> Tensor:
    """Occurrences of each token id in the segments (padding not counted).

    Shape:
        returns (V,) long
    """
    real = torch.arange(store.segment_length) < store.lengths[:, None]
    return torch.bincount(store.tokens[real], minlength=vocab_size)


def most_frequent_token(counts: Tensor, special_ids: Sequence[int]) -> int:
    """Most frequent id among non-special tokens (ties → lowest id)."""
    masked = counts.clone()
    masked[list(special_ids)] = -1
    return int(torch.argmax(masked))


@torch.no_grad()
def mlm_accuracy(
    encoder: nn.Module,
    head: Callable[[Tensor], Tensor],
    store: SegmentStore,
    *,
    pretrain_counts: Tensor,
    mask_token_id: int,
    special_ids: Sequence[int],
    seed: int = 0,
    batch_size: int = 256,
    mlm_probability: float = 0.15,
    index: Tensor | None = None,
) -> MLMAccuracy:
    """Top-1 masked-token accuracy of ``head(encoder(batch).sequence)`` on held-out segments.

    Args:
        encoder: returns an object with ``sequence`` (B, T, D); put in eval mode
            during the call, its mode restored afterwards.
        head: maps features (N, D) → vocabulary logits (N, V), e.g. ``MLMTask.logits``.
        store: held-out segments; ``index`` picks a subset (default all).
        pretrain_counts: ``token_counts`` of the PRETRAINING segments, (V,).
        seed: masking seed; the same seed scores every model on the same positions.

    Shape:
        the corrupted held-out set is (N, L + 2); scored positions are ~15% of real tokens
    """
    index = torch.arange(len(store)) if index is None else index
    batch = single_inputs(store, index)
    corrupted, labels = mask_tokens(
        batch["input_ids"], mask_token_id=mask_token_id, vocab_size=len(pretrain_counts),
        special_ids=special_ids, attention_mask=batch["attention_mask"],
        generator=torch.Generator().manual_seed(seed), mlm_probability=mlm_probability,
    )
    selected = labels != IGNORE_INDEX
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    predictions = []
    try:
        for start in range(0, len(index), batch_size):
            rows = slice(start, start + batch_size)
            part = {
                "input_ids": corrupted[rows].to(device),
                "attention_mask": batch["attention_mask"][rows].to(device),
                "token_type_ids": batch["token_type_ids"][rows].to(device),
            }
            sequence = encoder(part).sequence
            predictions.append(head(sequence[selected[rows].to(device)]).argmax(-1).cpu())
    finally:
        encoder.train(was_training)
    predicted = torch.cat(predictions)
    target, shown = labels[selected], corrupted[selected]
    unigram = most_frequent_token(pretrain_counts, special_ids)
    copy_unigram = torch.where(shown == mask_token_id, unigram, shown)
    at_mask = shown == mask_token_id
    return MLMAccuracy(
        accuracy=_mean(predicted == target),
        accuracy_at_mask=_mean(predicted[at_mask] == target[at_mask]),
        unigram_accuracy=_mean(target == unigram),
        copy_unigram_accuracy=_mean(copy_unigram == target),
        positions=int(selected.sum()),
        unigram_token=unigram,
    )


def _mean(hits: Tensor) -> float:
    return float(hits.float().mean()) if hits.numel() else float("nan")
