"""HR@K / NDCG@K with full ranking against a naive per-user reference."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from sslbench_recsys.metrics import rank_metrics, target_ranks


def naive(scores: list[float], target: int, seen: list[int], k: int) -> tuple[float, float]:
    """Enumerate every ordering of the target's tie group; average HR and NDCG."""
    if target < 2:
        return 0.0, 0.0
    candidates = [j for j in range(2, len(scores)) if j == target or j not in seen]
    above = [j for j in candidates if scores[j] > scores[target]]
    tied = [j for j in candidates if scores[j] == scores[target]]
    hits, gains = [], []
    for order in itertools.permutations(tied):
        rank = len(above) + order.index(target)  # 0-based
        hits.append(1.0 if rank < k else 0.0)
        gains.append(1.0 / math.log2(rank + 2) if rank < k else 0.0)
    return sum(hits) / len(hits), sum(gains) / len(gains)


# ids 0 (pad) and 1 (unknown) carry high scores on purpose: they must never compete
SCORES = torch.tensor(
    [
        [9.0, 9.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],  # target 2: rank 1
        [9.0, 9.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],  # target 9: beyond K
        [9.0, 9.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],  # target 5, items above it seen
        [9.0, 9.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],  # target 4 is itself in seen
        [0.0, 0.0, 0.5, 0.9, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1],  # target 4 ties with 2, 5, 6 across K
        [0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # constant scorer
        [9.0, 9.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],  # unknown target
    ]
)
TARGETS = torch.tensor([2, 9, 5, 4, 4, 6, 1])
SEEN = torch.tensor([[3, 4, 0], [0, 0, 0], [2, 3, 4], [4, 2, 0], [7, 0, 0], [0, 0, 0], [2, 0, 0]])


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_matches_the_naive_reference(k):
    got = rank_metrics(SCORES, TARGETS, SEEN, k)
    for row in range(len(TARGETS)):
        hr, ndcg = naive(SCORES[row].tolist(), int(TARGETS[row]), SEEN[row].tolist(), k)
        assert got[f"hr@{k}"][row].item() == pytest.approx(hr, abs=1e-6), row
        assert got[f"ndcg@{k}"][row].item() == pytest.approx(ndcg, abs=1e-6), row


def test_hand_checked_cases_at_k_3():
    got = rank_metrics(SCORES, TARGETS, SEEN, k=3)
    hr, ndcg = got["hr@3"], got["ndcg@3"]
    assert hr[0] == 1 and ndcg[0] == 1  # top of the list, ids 0 and 1 ignored
    assert hr[1] == 0 and ndcg[1] == 0  # 7 candidates above it
    assert hr[2] == 1 and ndcg[2] == 1  # 2, 3, 4 are seen: 5 moves to the top
    assert hr[3] == 1 and ndcg[3] == pytest.approx(1 / math.log2(3))  # 2 seen; 3 above; 4 still ranked
    # 3 above (rank 0), 7 seen; target ties with 2, 5, 6 (ranks 1..4, 4 orderings each): 2 of 4 in the top 3
    assert hr[4] == pytest.approx(0.5)
    assert ndcg[4] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 4)
    assert hr[5] == pytest.approx(3 / 8)  # constant scores: random, not a free hit
    assert hr[6] == 0 and ndcg[6] == 0  # an unknown item can never be recommended


def test_target_ranks_counts_strictly_above_and_ties():
    greater, ties = target_ranks(SCORES, TARGETS, SEEN)
    assert greater.tolist()[:6] == [0, 7, 0, 1, 1, 0]
    assert ties.tolist()[:6] == [0, 0, 0, 0, 3, 7]
    assert greater[6] == SCORES.shape[1]  # miss


def test_no_exclusion_and_a_nan_score_is_a_miss():
    scores = SCORES[:1].clone()
    assert rank_metrics(scores, torch.tensor([4]), None, k=2)["hr@2"].item() == 0  # 2 and 3 above
    scores[0, 4] = float("nan")
    assert rank_metrics(scores, torch.tensor([4]), None, k=10)["hr@10"].item() == 0


def test_k_must_be_positive():
    with pytest.raises(ValueError, match="k must be >= 1"):
        rank_metrics(SCORES, TARGETS, SEEN, k=0)
