"""SGNS over item histories: pairs, loss and negative sampling against naive references."""

from __future__ import annotations

import math

import pytest
import torch
from sslbench_recsys.cooccurrence import (
    CooccurrenceOptions,
    CooccurrenceTask,
    UnigramSampler,
    sgns_loss,
    skipgram_pairs,
    token_counts,
)
from sslbench_recsys.modality import RecsysModality, RecsysViewOptions
from sslbench_recsys.models import ItemEmbeddingEncoder
from sslbench_recsys.splits import SequenceSplit


def modality(vocab_size: int) -> RecsysModality:
    return RecsysModality({"vocab_size": vocab_size, "mask_token_id": vocab_size - 1}, RecsysViewOptions())


def task_for(encoder, counts, **options) -> CooccurrenceTask:
    return CooccurrenceTask(encoder, modality(len(counts)), torch.as_tensor(counts), CooccurrenceOptions(**options))


def naive_pairs(items: torch.Tensor, mask: torch.Tensor, window: int) -> list[tuple[int, int]]:
    pairs = []
    for row, keep in zip(items.tolist(), mask.tolist()):
        seq = [i for i, k in zip(row, keep) if k]
        for a in range(len(seq)):
            for b in range(len(seq)):
                if a != b and abs(a - b) <= window:
                    pairs.append((seq[a], seq[b]))
    return sorted(pairs)


def random_batch(seed: int = 0, rows: int = 6, steps: int = 7, vocab: int = 9):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, steps + 1, (rows,), generator=generator)
    mask = torch.arange(steps) < lengths.unsqueeze(1)
    items = torch.randint(2, vocab, (rows, steps), generator=generator) * mask
    return items, mask


@pytest.mark.parametrize("window", [1, 2, 3, 10])
def test_pairs_equal_a_naive_loop(window):
    items, mask = random_batch()
    centers, contexts = skipgram_pairs(items, mask, window)
    assert sorted(zip(centers.tolist(), contexts.tolist())) == naive_pairs(items, mask, window)


def test_loss_equals_a_naive_per_pair_reference():
    generator = torch.Generator().manual_seed(0)
    center, context = torch.randn(5, 4, generator=generator, dtype=torch.float64), torch.randn(5, 4, generator=generator, dtype=torch.float64)
    negatives = torch.randn(5, 3, 4, generator=generator, dtype=torch.float64)

    def log_sigmoid(x: float) -> float:
        return -math.log1p(math.exp(-x))

    def dot(a, b) -> float:
        return sum(x * y for x, y in zip(a.tolist(), b.tolist()))

    naive = 0.0
    for p in range(5):
        naive -= log_sigmoid(dot(center[p], context[p]))
        naive -= sum(log_sigmoid(-dot(center[p], negatives[p, k])) for k in range(3))
    assert sgns_loss(center, context, negatives).item() == pytest.approx(naive / 5, rel=1e-12)


@pytest.mark.parametrize("tied", [False, True])
def test_task_loss_is_sgns_on_the_batch_pairs_with_drawn_negatives(tied):
    items, mask = random_batch(seed=1)
    counts = torch.tensor([0, 0, 5, 1, 3, 8, 2, 2, 1])
    encoder = ItemEmbeddingEncoder(9, 4)
    task = task_for(encoder, counts, window=2, negatives=3, tied=tied)
    if not tied:
        torch.nn.init.normal_(task.context.weight)
    torch.manual_seed(7)
    out = task({"items": items, "mask": mask})
    torch.manual_seed(7)
    centers, contexts = skipgram_pairs(items, mask, 2)
    negative_ids = task.sampler.sample((len(centers), 3))
    table = encoder.item_embeddings()
    context_table = table if tied else task.context.weight
    expected = sgns_loss(table[centers], context_table[contexts], context_table[negative_ids])
    torch.testing.assert_close(out["loss"], expected)
    assert int(out["pairs"]) == len(naive_pairs(items, mask, 2))


def test_negatives_follow_counts_to_the_three_quarters():
    counts = torch.tensor([0, 0, 1, 10, 100, 1000, 0, 50])
    sampler = UnigramSampler(counts)
    draws = sampler.sample((400_000,), generator=torch.Generator().manual_seed(0))
    frequency = torch.bincount(draws, minlength=len(counts)).double() / len(draws)
    expected = counts.double() ** 0.75 / (counts.double() ** 0.75).sum()
    torch.testing.assert_close(sampler.probabilities(), expected)
    assert (frequency - expected).abs().max() < 0.004  # ~4 standard errors of the largest bin
    assert frequency[[0, 1, 6]].sum() == 0  # padding, unknown and unseen items are never drawn


@pytest.mark.parametrize("power", [0.0, -0.5])
def test_other_powers_cover_only_counted_items(power):
    counts = torch.tensor([0, 0, 4, 0, 16])
    probabilities = UnigramSampler(counts, power).probabilities()
    expected = torch.tensor([0, 0, 4.0**power, 0, 16.0**power], dtype=torch.float64)
    torch.testing.assert_close(probabilities, expected / expected.sum())


def test_sgns_pulls_cooccurring_items_together():
    # two groups of items that never meet in a history: after training, the (tied)
    # table scores items of the same group above items of the other group
    generator = torch.Generator().manual_seed(0)
    groups = torch.tensor([[2, 3, 4, 5], [6, 7, 8, 9]])
    which = torch.randint(0, 2, (64,), generator=generator)
    order = torch.rand(64, 4, generator=generator).argsort(1)
    items = groups[which].gather(1, order)
    torch.manual_seed(0)
    encoder = ItemEmbeddingEncoder(10, 8)
    task = task_for(encoder, torch.bincount(items.flatten(), minlength=10), window=3, negatives=3, tied=True)
    optimizer = torch.optim.Adam(task.parameters(), lr=0.1)
    for _ in range(25):
        loss = task({"items": items, "mask": items > 0})["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    table = encoder.item_embeddings().detach()
    scores = table[2:] @ table[2:].T
    same = torch.block_diag(torch.ones(4, 4), torch.ones(4, 4)).bool() & ~torch.eye(8, dtype=torch.bool)
    assert scores[same].min() > scores[~same & ~torch.eye(8, dtype=torch.bool)].max()


def test_arguments_are_checked_at_construction():
    encoder = ItemEmbeddingEncoder(10, 4)
    with pytest.raises(ValueError, match="^window: must be >= 1"):
        CooccurrenceOptions(window=0)
    with pytest.raises(ValueError, match="^negatives: must be >= 1"):
        CooccurrenceOptions(negatives=0)
    with pytest.raises(ValueError, match="token_counts"):
        task_for(encoder, torch.ones(7))
    with pytest.raises(ValueError, match="non-negative"):
        UnigramSampler(torch.zeros(5))


def test_a_batch_without_pairs_gives_a_zero_loss_with_a_graph():
    encoder = ItemEmbeddingEncoder(10, 4)
    task = task_for(encoder, torch.ones(10))
    items = torch.tensor([[3, 0], [0, 0]])
    out = task({"items": items, "mask": items > 0})
    assert out["loss"].item() == 0 and out["loss"].requires_grad and int(out["pairs"]) == 0


def test_loss_on_a_hand_made_batch_equals_a_naive_loop_over_histories():
    # only item 7 has a count, so every negative is item 7 whatever the draw: the naive
    # reference needs no sampler
    histories = [[2, 3, 4, 5], [6, 2], [5]]
    items = torch.tensor([h + [0] * (4 - len(h)) for h in histories])
    counts = torch.zeros(9, dtype=torch.long)
    counts[7] = 1
    torch.manual_seed(0)
    encoder = ItemEmbeddingEncoder(9, 3)
    out = task_for(encoder, counts, window=2, negatives=4, power=0.75)({"items": items, "mask": items > 0})
    table = encoder.item_embeddings().detach().double().tolist()

    def log_sigmoid(x: float) -> float:
        return -math.log1p(math.exp(-x))

    def dot(a: int, b: int) -> float:
        return sum(x * y for x, y in zip(table[a], table[b]))

    terms = [
        -log_sigmoid(dot(h[i], h[j])) - 4 * log_sigmoid(-dot(h[i], 7))
        for h in histories for i in range(len(h)) for j in range(len(h)) if i != j and abs(i - j) <= 2
    ]
    assert len(terms) == 10 + 2 == int(out["pairs"])
    assert out["loss"].item() == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_token_counts_count_real_positions_through_the_tokens_capability():
    items = torch.tensor([[2, 3, 3, 0], [4, 0, 0, 0], [3, 1, 0, 0]])
    split = SequenceSplit(items=items, mask=items > 0, users=torch.arange(3))
    counts = token_counts(modality(6), split, 6, chunk=2)
    assert counts.tolist() == [0, 1, 1, 3, 1, 0]  # padding not counted; the unknown item (1) is
