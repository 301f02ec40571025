"""Next-item evaluation: scorers, chunking, blocked ids, the linear probe, declared options."""

from __future__ import annotations

import pytest
import torch
from sslbench_recsys.models import ItemEmbeddingEncoder
from sslbench.options import options_as_dict
from sslbench_recsys.next_item import (
    NextItemOptions,
    dot_scorer,
    embedding_scorer,
    evaluate_next_item,
    fit_linear_probe,
    popularity_scorer,
    prefix_examples,
)
from sslbench_recsys.splits import SequenceSplit

V = 12  # ids 2..11 are items


def split(rows: list[list[int]], targets: list[int] | None = None) -> SequenceSplit:
    width = max(len(r) for r in rows)
    items = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    return SequenceSplit(
        items=items,
        mask=items > 0,
        users=torch.arange(len(rows)),
        targets=None if targets is None else torch.tensor(targets),
        seen=items.clone(),
    )


def test_popularity_ranks_by_count_and_skips_seen_items():
    counts = torch.tensor([0, 0, 50, 40, 30, 20, 10, 5, 4, 3, 2, 1])
    test = split([[2], [2, 3], [9]], targets=[3, 4, 11])
    result = evaluate_next_item(popularity_scorer(counts), test, k=1)
    # row 0: 2 seen, 3 is top → hit; row 1: 2, 3 seen, 4 is top → hit; row 2: 11 is last → miss
    assert result == pytest.approx({"hr@1": 2 / 3, "ndcg@1": 2 / 3})
    # without seen-item exclusion the seen top items (2, then 3) compete: every row misses at K = 1
    assert evaluate_next_item(popularity_scorer(counts), test, k=1, exclude_seen=False)["hr@1"] == 0.0
    assert evaluate_next_item(popularity_scorer(counts), test, k=3, exclude_seen=False)["hr@3"] == pytest.approx(2 / 3)


def test_blocked_ids_are_never_candidates():
    counts = torch.tensor([0, 0, 5, 4, 3, 0, 0, 0, 0, 0, 0, 99])  # id 11 plays [MASK] with a top score
    test = split([[2]], targets=[3])
    assert evaluate_next_item(popularity_scorer(counts), test, k=1)["hr@1"] == 0.0
    assert evaluate_next_item(popularity_scorer(counts), test, k=1, blocked=(11,))["hr@1"] == 1.0


def test_embedding_scorer_reads_precomputed_rows_by_user_index():
    users, items = torch.randn(5, 3), torch.randn(V, 3)
    batch = {"users": torch.tensor([4, 0])}
    torch.testing.assert_close(embedding_scorer(users, items)(batch), users[[4, 0]] @ items.T)


def test_chunking_does_not_change_the_result():
    torch.manual_seed(0)
    encoder = ItemEmbeddingEncoder(V, 6).eval()
    generator = torch.Generator().manual_seed(1)
    rows = [torch.randint(2, V, (int(n),), generator=generator).tolist() for n in torch.randint(1, 6, (37,), generator=generator)]
    test = split(rows, targets=torch.randint(2, V, (37,), generator=generator).tolist())
    one = evaluate_next_item(dot_scorer(encoder), test, k=3, chunk_size=1)
    many = evaluate_next_item(dot_scorer(encoder), test, k=3, chunk_size=1000)
    assert one == pytest.approx(many)


def test_dot_and_cosine_scores_use_the_pooled_user_and_the_item_table():
    encoder = ItemEmbeddingEncoder(V, 6)
    batch = split([[2, 3], [4]]).batch(slice(None))
    table = encoder.item_embeddings()
    user = torch.stack([table[[2, 3]].mean(0), table[4]])
    torch.testing.assert_close(dot_scorer(encoder)(batch), user @ table.T)
    cosine = torch.nn.functional.normalize(user, dim=1) @ torch.nn.functional.normalize(table, dim=1).T
    torch.testing.assert_close(dot_scorer(encoder, cosine=True)(batch), cosine)


def test_prefix_examples_are_prefixes_followed_by_their_next_item():
    pretrain = split([[2, 3, 4, 5, 6], [7], [8, 9]])
    examples = prefix_examples(pretrain, per_row=3, generator=torch.Generator().manual_seed(0))
    assert len(examples["targets"]) == 3 + 0 + 1  # one-item rows have no prefix
    for items, mask, target in zip(examples["items"], examples["mask"], examples["targets"]):
        prefix = items[mask].tolist()
        source = next(r for r in pretrain.items.tolist() if r[: len(prefix)] == prefix)
        assert len(prefix) >= 1 and source[len(prefix)] == target
        assert torch.all(items[~mask] == 0)


def test_linear_probe_learns_a_transition_the_frozen_embeddings_separate():
    # every history ends in item i and continues with item i + 1 (a cycle over 2..11)
    torch.manual_seed(0)
    encoder = ItemEmbeddingEncoder(V, 16).eval()
    pretrain = split([[i, 2 + (i - 1) % 10] for i in range(2, V)] * 3)
    settings = NextItemOptions(scoring="linear-probe", probe_epochs=40, probe_lr=0.2, probe_batch_size=64)
    probe = fit_linear_probe(encoder, pretrain, V, settings)
    test = split([[i] for i in range(2, V)], targets=[2 + (i - 1) % 10 for i in range(2, V)])
    test = SequenceSplit(test.items, test.mask, test.users, test.targets, seen=torch.zeros_like(test.items))
    result = evaluate_next_item(lambda batch: probe(encoder(batch).pooled), test, k=1)
    assert result["hr@1"] == 1.0
    assert torch.isinf(probe(torch.zeros(1, 16))[0, :2]).all()  # padding and unknown are never predicted


def test_options_are_checked_and_carry_the_protocol():
    with pytest.raises(ValueError, match="^scoring: unknown 'sampled'; available: dot, cosine, linear-probe"):
        NextItemOptions(scoring="sampled")
    with pytest.raises(ValueError, match="^k: must be >= 1"):
        NextItemOptions(k=0)
    protocol = options_as_dict(NextItemOptions())  # what the runner writes into each row
    assert {k: protocol[k] for k in ("candidates", "exclude_seen", "ties", "scoring", "k", "split")} == {
        "candidates": "full", "exclude_seen": True, "ties": "expected", "scoring": "dot", "k": 10, "split": "test"}


def test_a_split_without_targets_is_refused():
    with pytest.raises(ValueError, match="not .pretrain"):
        evaluate_next_item(popularity_scorer(torch.ones(V)), split([[2]]))
