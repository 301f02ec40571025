"""Leave-one-out next-item evaluation of a frozen encoder, with full ranking.

For each user the encoder embeds the history before the held-out item; a
scorer turns that into a score for every item; ``metrics`` ranks the target
against all items the user has not seen. Scoring is a declared setting:

- ``dot``: user embedding · item embeddings (the encoder's item table);
- ``cosine``: the same on L2-normalised vectors;
- ``linear-probe``: a linear next-item classifier trained on frozen user
  embeddings of random prefixes of the pretraining sequences.

``popularity_scorer`` is the baseline every leaderboard shows: items ranked by
pretraining interaction count. The protocol (full ranking, seen items
excluded, expected tie-breaking) belongs in every result row, since sampled
protocols change the numbers several-fold (Krichene & Rendle, 2020).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import TensorSplit, embed_split

from .metrics import rank_metrics
from .splits import FIRST_ITEM, SequenceSplit
from sslbench_recsys.options import NextItemOptions, SCORINGS  # noqa: F401  # torch-free: re-exported

Scorer = Callable[[dict[str, Tensor]], Tensor]  # batch → (B, V) scores


def evaluate_next_item(
    scorer: Scorer,
    split: SequenceSplit,
    *,
    k: int = 10,
    exclude_seen: bool = True,
    blocked: tuple[int, ...] = (),
    chunk_size: int = 256,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Mean HR@K and NDCG@K over the rows of ``split``, scored ``chunk_size`` users at a time.

    ``blocked`` ids (e.g. the [MASK] item) are never candidates, like padding and the
    unknown item. Targets the pretraining data never saw (id 1) count as misses.
    """
    if split.targets is None:
        raise ValueError("split has no targets; pass LeaveOneOut.test or .valid, not .pretrain")
    totals: dict[str, float] = {}
    with torch.no_grad():
        for start in range(0, len(split), chunk_size):
            batch = {key: value.to(device) for key, value in split.batch(slice(start, start + chunk_size)).items()}
            scores = scorer(batch).float().clone()
            scores[:, list(blocked)] = float("-inf")
            seen = batch["seen"] if exclude_seen else None
            for name, values in rank_metrics(scores, batch["targets"], seen, k).items():
                totals[name] = totals.get(name, 0.0) + float(values.sum())
    return {name: total / max(len(split), 1) for name, total in totals.items()}


def dot_scorer(encoder: nn.Module, *, cosine: bool = False) -> Scorer:
    """Scores = pooled user embedding · ``encoder.item_embeddings()``.

    Shape:
        batch → (B, V).
    """

    def score(batch: dict[str, Tensor]) -> Tensor:
        users, items = encoder(batch).pooled, encoder.item_embeddings()
        if cosine:
            users, items = F.normalize(users, dim=-1), F.normalize(items, dim=-1)
        return users @ items.T

    return score


def embedding_scorer(users: Tensor, items: Tensor, *, cosine: bool = False) -> Scorer:
    """Scores from precomputed embeddings: ``users[batch["users"]] · items``, where
    ``batch["users"]`` indexes the rows of ``users``.

    Shape:
        users: (N, D); items: (V, D); batch → (B, V).
    """
    if cosine:
        users, items = F.normalize(users, dim=-1), F.normalize(items, dim=-1)

    def score(batch: dict[str, Tensor]) -> Tensor:
        return users[batch["users"]] @ items.T

    return score


def popularity_scorer(counts: Tensor) -> Scorer:
    """Scores = pretraining interaction counts, the same for every user.

    Shape:
        counts: (V,); batch → (B, V).
    """
    counts = counts.float()

    def score(batch: dict[str, Tensor]) -> Tensor:
        return counts.to(batch["items"].device).expand(batch["items"].shape[0], -1)

    return score


class LinearProbe(nn.Module):
    """A linear next-item classifier on standardised frozen user embeddings.

    Shape:
        features: (B, D) → logits (B, V); ids 0 and 1 get −inf.
    """

    def __init__(self, features: Tensor, num_items: int) -> None:
        super().__init__()
        self.register_buffer("mean", features.mean(0))
        self.register_buffer("std", features.std(0).clamp(min=1e-6))
        self.linear = nn.Linear(features.shape[1], num_items)
        nn.init.zeros_(self.linear.weight)  # convex: a fixed start keeps the fit free of the global RNG
        nn.init.zeros_(self.linear.bias)

    def forward(self, features: Tensor) -> Tensor:
        logits = self.linear((features - self.mean) / self.std)
        return torch.cat([torch.full_like(logits[:, :FIRST_ITEM], float("-inf")), logits[:, FIRST_ITEM:]], 1)


def prefix_examples(split: SequenceSplit, per_row: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Up to ``per_row`` random (prefix → next item) examples from each row.

    A cut point c in 1 … L−1 keeps items[:c] as input and items[c] as target.

    Shape:
        split rows (N, T) → items, mask: (M, T); targets: (M,), M <= N · per_row.
    """
    items, mask = split.items, split.mask
    steps = items.shape[1]
    position = torch.arange(steps)
    usable = (position >= 1) & mask  # positions that can be a target
    keys = torch.rand(items.shape, generator=generator).masked_fill(~usable, 2.0)
    picked_keys, cuts = keys.topk(min(per_row, steps), dim=1, largest=False)
    rows = torch.arange(len(items)).unsqueeze(1).expand_as(cuts)[picked_keys < 2.0]
    cuts = cuts[picked_keys < 2.0]
    keep = position < cuts.unsqueeze(1)
    return {"items": items[rows] * keep, "mask": mask[rows] & keep, "targets": items[rows, cuts]}


def fit_linear_probe(
    encoder: nn.Module, pretrain: SequenceSplit, num_items: int, settings: NextItemOptions,
    device: torch.device | str = "cpu", seed: int = 0, chunk_size: int = 256,
) -> LinearProbe:
    """Train a :class:`LinearProbe` with cross-entropy on frozen prefix embeddings.

    Draws prefixes and batch order from its own generator seeded with ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
    examples = prefix_examples(pretrain, settings.probe_prefixes, generator)
    inputs = TensorSplit({"items": examples["items"], "mask": examples["mask"]})
    features = embed_split(encoder, inputs, torch.device(device), chunk_size)  # as the runner embeds: autocast on CUDA
    targets = examples["targets"].to(device)
    probe = LinearProbe(features, num_items).to(device)
    optimizer = torch.optim.Adam(probe.parameters(), lr=settings.probe_lr)
    for _ in range(settings.probe_epochs):
        for index in torch.randperm(len(features), generator=generator).split(settings.probe_batch_size):
            loss = F.cross_entropy(probe(features[index.to(device)]), targets[index.to(device)])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return probe.eval()


