"""Full-ranking next-item metrics: HR@K and NDCG@K with one held-out target per user.

Every item of the vocabulary is a candidate (no sampled negatives: Krichene &
Rendle, 2020, "On Sampled Metrics for Item Recommendation"), except padding,
the unknown item and the items the user has already seen — never the target
itself. Ties are broken at random *in expectation*: the target's position is
uniform among the candidates that tie with it, so a constant scorer scores
like a random one (optimistic tie-breaking would give it HR = 1).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .splits import FIRST_ITEM


def target_ranks(scores: Tensor, targets: Tensor, exclude: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Count the candidates scored above the target and those tied with it.

    Ids below 2 (padding, unknown) and the ids in ``exclude`` are not
    candidates; the target stays one even when it is in ``exclude``. A target
    that is padding/unknown or has a non-finite score is a miss at every K
    (``greater`` = V).

    Shape:
        scores: (B, V); targets: (B,) long; exclude: (B, S) long, padded with 0
        → greater, ties: (B,) long.
    """
    scores = scores.detach().float().clone()
    target_score = scores.gather(1, targets.unsqueeze(1))
    if exclude is not None:
        scores.scatter_(1, exclude, float("-inf"))
    scores[:, :FIRST_ITEM] = float("-inf")
    scores.scatter_(1, targets.unsqueeze(1), float("-inf"))  # the target is not its own competitor
    greater = (scores > target_score).sum(1)
    ties = (scores == target_score).sum(1)
    miss = (targets < FIRST_ITEM) | ~torch.isfinite(target_score.squeeze(1))
    return greater.masked_fill(miss, scores.shape[1]), ties.masked_fill(miss, 0)


def hit_rate(greater: Tensor, ties: Tensor, k: int) -> Tensor:
    """Expected HR@K: the chance the target lands in the top K.

    Shape:
        greater, ties: (B,) → (B,) float.
    """
    return (k - greater).clamp(min=0).minimum(ties + 1).float() / (ties + 1).float()


def ndcg(greater: Tensor, ties: Tensor, k: int) -> Tensor:
    """Expected NDCG@K with one relevant item: mean of 1/log2(rank + 2) over the
    target's equally likely 0-based ranks greater … greater + ties (0 past K).

    Shape:
        greater, ties: (B,) → (B,) float.
    """
    discount = 1.0 / torch.log2(torch.arange(k, dtype=torch.float64, device=greater.device) + 2)
    cumulative = torch.cat([discount.new_zeros(1), discount.cumsum(0)])  # (K+1,)
    lo = greater.clamp(max=k)
    hi = (greater + ties + 1).clamp(max=k)
    return ((cumulative[hi] - cumulative[lo]) / (ties + 1).double()).float()


def rank_metrics(scores: Tensor, targets: Tensor, exclude: Tensor | None = None, k: int = 10) -> dict[str, Tensor]:
    """Per-row ``hr@k`` and ``ndcg@k``.

    Shape:
        scores: (B, V); targets: (B,); exclude: (B, S) → each value (B,) float.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    greater, ties = target_ranks(scores, targets, exclude)
    return {f"hr@{k}": hit_rate(greater, ties, k), f"ndcg@{k}": ndcg(greater, ties, k)}
