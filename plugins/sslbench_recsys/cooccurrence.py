"""Skip-gram with negative sampling over item histories (item2vec).

Items that occur within ``window`` positions of each other in a user's history
are (center, context) pairs; each pair is contrasted with ``negatives`` items
drawn from the unigram distribution raised to 0.75. Mikolov et al., 2013,
"Distributed Representations of Words and Phrases and their Compositionality";
Barkan & Koenigstein, 2016, "Item2Vec: Neural Item Embedding for Collaborative
Filtering".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def skipgram_pairs(items: Tensor, mask: Tensor, window: int) -> tuple[Tensor, Tensor]:
    """All (center, context) pairs at distance 1..``window`` in both directions.

    Built from the padded batch by shifting, one step per distance — never a
    Python loop over pairs. Padding never takes part.

    Shape:
        items, mask: (B, T) → centers, contexts: (P,), P = number of pairs.
    """
    centers, contexts = [], []
    for d in range(1, min(window, items.shape[1] - 1) + 1):
        left, right = items[:, :-d], items[:, d:]
        ok = mask[:, :-d] & mask[:, d:]
        centers += [left[ok], right[ok]]
        contexts += [right[ok], left[ok]]
    if not centers:
        empty = items.new_zeros(0)
        return empty, empty
    return torch.cat(centers), torch.cat(contexts)


def sgns_loss(center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
    """Mean over pairs of −log σ(u·v) − Σ_k log σ(−u·v_k).

    Shape:
        center, context: (P, D); negatives: (P, K, D) → scalar.
    """
    positive = (center * context).sum(-1)
    negative = (center.unsqueeze(1) * negatives).sum(-1)  # not einsum: it becomes P tiny bmm calls on CPU
    return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1)).mean()


class UnigramSampler(nn.Module):
    """Draws item ids with probability proportional to count ** ``power``.

    Ids with count 0 (padding, unknown, items absent from pretraining) are never
    drawn. Sampling is inverse-CDF: ``searchsorted`` on uniform draws.

    Shape:
        counts: (V,) → ``sample(shape)`` returns ids of ``shape``.
    """

    def __init__(self, counts: Tensor, power: float = 0.75) -> None:
        super().__init__()
        counts = torch.as_tensor(counts, dtype=torch.float64)
        if counts.ndim != 1 or (counts < 0).any() or counts.sum() <= 0:
            raise ValueError("counts must be a 1-d tensor of non-negative counts with a positive sum")
        weights = torch.where(counts > 0, counts.pow(power), 0.0)  # any power, even <= 0
        self.register_buffer("cdf", torch.cumsum(weights / weights.sum(), 0), persistent=False)
        self.last = int(torch.nonzero(counts > 0).max())

    def probabilities(self) -> Tensor:
        """Shape: (V,), the distribution ``sample`` draws from."""
        return torch.diff(self.cdf, prepend=self.cdf.new_zeros(1))

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> Tensor:
        draws = torch.rand(shape, dtype=torch.float64, device=self.cdf.device, generator=generator)
        return torch.searchsorted(self.cdf, draws, right=True).clamp_(max=self.last)


class CooccurrenceTask(nn.Module):
    """item2vec pretext task: SGNS on the encoder's item table.

    Center vectors are the encoder's ``item_embeddings()``. With ``tied=True``
    (default) the same table gives the context vectors, so the frozen encoder
    alone carries the trained score u·v that next-item ``dot`` scoring uses;
    with ``tied=False`` the context vectors live in this task (zero-initialised,
    as in word2vec) and are thrown away with it. On MovieLens-100k, tied beats
    untied on next-item HR@10 with both dot and cosine scoring.

    ``power`` shapes the negatives, count ** power: 0.75 is word2vec's NLP
    default; 0 (uniform) keeps item popularity in u·v, which next-item
    prediction rewards. Caselles-Dupré et al., 2018, "Word2vec applied to
    recommendation: hyperparameters matter", show the exponent is among the
    settings that matter most for recommendation.

    Args:
        encoder: any module with ``item_embeddings() -> (V, D)``.
        counts: pretraining interaction count per item id, (V,) (``vocab.counts``).
        window: pairs up to this many positions apart.
        negatives: negatives per pair.

    Shape:
        batch["items"], batch["mask"]: (B, T) → {"loss": scalar, "pairs": int tensor, "pos_prob": scalar}.
    """

    name = "cooccurrence"

    def __init__(
        self,
        encoder: nn.Module,
        counts: Tensor,
        *,
        window: int = 5,
        negatives: int = 5,
        power: float = 0.75,
        tied: bool = True,
    ) -> None:
        super().__init__()
        if window < 1 or negatives < 1:
            raise ValueError(f"window and negatives must be >= 1, got window={window}, negatives={negatives}")
        num_items, dim = encoder.item_embeddings().shape
        if len(counts) != num_items:
            raise ValueError(f"counts has {len(counts)} entries but the encoder has {num_items} items; pass vocab.counts")
        self.encoder, self.window, self.negatives, self.tied = encoder, window, negatives, tied
        self.sampler = UnigramSampler(counts, power)
        self.context = None if tied else nn.Embedding(num_items, dim)
        if self.context is not None:
            nn.init.zeros_(self.context.weight)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        centers, contexts = skipgram_pairs(batch["items"], batch["mask"], self.window)
        table = self.encoder.item_embeddings()
        if len(centers) == 0:  # every row shorter than 2: nothing to learn, keep the graph
            zero = table.sum() * 0.0
            return {"loss": zero, "pairs": torch.tensor(0), "pos_prob": zero.detach()}
        out = table if self.context is None else self.context.weight
        negative_ids = self.sampler.sample((len(centers), self.negatives))
        u, v = F.embedding(centers, table), F.embedding(contexts, out)
        loss = sgns_loss(u, v, F.embedding(negative_ids, out))
        with torch.no_grad():
            pos_prob = torch.sigmoid((u * v).sum(-1)).mean()
        return {"loss": loss, "pairs": torch.tensor(len(centers)), "pos_prob": pos_prob}
