"""Skip-gram with negative sampling over item histories (item2vec).

Items that occur within ``window`` positions of each other in a user's history
are (center, context) pairs; each pair is contrasted with ``negatives`` items
drawn from the unigram distribution raised to 0.75. Mikolov et al., 2013,
"Distributed Representations of Words and Phrases and their Compositionality";
Barkan & Koenigstein, 2016, "Item2Vec: Neural Item Embedding for Collaborative
Filtering".
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import TaskContext, distributed
from sslbench_recsys.options import CooccurrenceOptions  # noqa: F401  # torch-free: re-exported


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

    Under torch.distributed the mean is over the pairs of the global batch
    (``sslbench.distributed.global_mean``): ranks hold different numbers of pairs.

    Shape:
        center, context: (P, D); negatives: (P, K, D) → scalar.
    """
    positive = (center * context).sum(-1)
    negative = (center.unsqueeze(1) * negatives).sum(-1)  # not einsum: it becomes P tiny bmm calls on CPU
    total = -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1)).sum()
    return distributed.global_mean(total, len(center))


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


def token_counts(modality: Any, split: Any, vocab_size: int, chunk: int = 4096) -> Tensor:
    """How often each token id occurs at a real position of ``split`` (the unigram counts).

    Reads the split through the ``tokens`` capability, so it counts words of a text
    corpus as well as items of user histories.

    Shape:
        → (V,) long, V = ``vocab_size``.
    """
    counts = torch.zeros(vocab_size, dtype=torch.long)
    for start in range(0, len(split), chunk):
        ids, real = modality.tokens(split.batch(torch.arange(start, min(start + chunk, len(split)))))
        counts += torch.bincount(ids[real].cpu(), minlength=vocab_size)
    return counts


class CooccurrenceTask(nn.Module):
    """item2vec pretext task: SGNS on the encoder's token (item) table.

    Written against capabilities only: token ids and real positions come from the
    modality's ``tokens(batch)``, center vectors from the encoder's
    ``token_embeddings()`` — so it runs on item histories (item2vec) and on text
    (word2vec) alike. With ``tied=True`` (default) the same table gives the context
    vectors, so the frozen encoder alone carries the trained score u·v that next-item
    ``dot`` scoring uses; with ``tied=False`` the context vectors live in this task
    (zero-initialised, as in word2vec) and are thrown away with it. On
    MovieLens-100k, tied beats untied on next-item HR@10 with both dot and cosine
    scoring.

    ``power`` shapes the negatives, count ** power: 0.75 is word2vec's NLP default;
    0 (uniform) keeps item popularity in u·v, which next-item prediction rewards
    (ml-100k, the quick grid, 2 seeds: test HR@10 0.121 with 0, 0.085 with 0.75 — a tie
    with popularity's 0.085). Caselles-Dupré et al., 2018, "Word2vec applied to recommendation:
    hyperparameters matter", show the exponent is among the settings that matter
    most for recommendation.

    Negatives are drawn from torch's global generator, which the runner seeds and
    checkpoints.

    Args:
        encoder: any module with ``token_embeddings() -> nn.Embedding`` (V, D).
        modality: any object with ``tokens(batch) -> (ids (B,T), real (B,T))``.
        counts: unigram count per token id, (V,) (:func:`token_counts`).
        options: window, negatives, power, tied.

    Shape:
        batch → {"loss": scalar, "pairs": int tensor, "pos_prob": scalar}.
    """

    name = "cooccurrence"

    def __init__(self, encoder: nn.Module, modality: Any, counts: Tensor,
                 options: CooccurrenceOptions = CooccurrenceOptions()) -> None:
        super().__init__()
        num_items, dim = encoder.token_embeddings().weight.shape
        if len(counts) != num_items:
            raise ValueError(f"counts has {len(counts)} entries but the encoder has {num_items} tokens; "
                             "count with token_counts(modality, split, vocab_size)")
        self.encoder, self.modality, self.options = encoder, modality, options
        self.sampler = UnigramSampler(counts, options.power)
        self.context = None if options.tied else nn.Embedding(num_items, dim)
        if self.context is not None:
            nn.init.zeros_(self.context.weight)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        ids, real = self.modality.tokens(batch)
        centers, contexts = skipgram_pairs(ids, real, self.options.window)
        table = self.encoder.token_embeddings().weight
        if len(centers) == 0:  # every row shorter than 2: nothing to learn, keep the graph
            zero = distributed.global_mean(table.sum() * 0.0, 0)  # every rank joins the count's all-reduce
            return {"loss": zero, "pairs": torch.tensor(0), "pos_prob": zero.detach()}
        out = table if self.context is None else self.context.weight
        negative_ids = self.sampler.sample((len(centers), self.options.negatives))
        u, v = F.embedding(centers, table), F.embedding(contexts, out)
        loss = sgns_loss(u, v, F.embedding(negative_ids, out))
        with torch.no_grad():
            pos_prob = torch.sigmoid((u * v).sum(-1)).mean()
        return {"loss": loss, "pairs": torch.tensor(len(centers)), "pos_prob": pos_prob}


def build_cooccurrence(ctx: TaskContext, options: CooccurrenceOptions) -> CooccurrenceTask:
    """The ``TaskSpec.build`` factory: unigram counts of the pretraining split, then the task.

    The counts are the dataset's ``extras["pretrain_token_counts"]`` when it has them (the
    built-in text and recsys datasets count once, when they load); else one pass here.
    """
    counts = ctx.dataset.extras.get("pretrain_token_counts")
    if counts is None:
        counts = token_counts(ctx.modality, ctx.dataset.pretrain, ctx.encoder.token_embeddings().num_embeddings)
    if counts.sum() == 0:
        raise ValueError("cooccurrence: the pretraining split has no tokens to count")
    return CooccurrenceTask(ctx.encoder, ctx.modality, counts, options)
