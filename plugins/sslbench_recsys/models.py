"""Encoders for item sequences: ``item-embedding`` and ``item-transformer``.

Both take a batch with ``items`` (B,T) long (0 = padding) and ``mask`` (B,T)
bool, return an :class:`sslbench.EncoderOutput`, and expose the input item table
twice: ``item_embeddings()`` (V, D) tensor, so evaluators can score every item
against a user (capability ``item-embeddings``), and ``token_embeddings()``, the
``nn.Embedding`` itself, so token tasks can tie to it (capability
``token-embeddings``: ``cooccurrence``, the text plugin's ``mlm``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from sslbench import EncoderOutput, ModelContext
from sslbench.weights import load_into

from .splits import PAD
from sslbench_recsys.options import (  # noqa: F401  # torch-free: re-exported
    ItemEmbeddingOptions, ItemTransformerOptions,
)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` over the positions where ``mask`` is True; 0 for empty rows.

    Shape:
        x: (B, T, D); mask: (B, T) bool → (B, D).
    """
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def last_position(x: Tensor, mask: Tensor) -> Tensor:
    """Features at the last real position of each right-padded row; 0 for empty rows.

    Shape:
        x: (B, T, D); mask: (B, T) bool → (B, D).
    """
    lengths = mask.sum(1)
    index = (lengths - 1).clamp(min=0)
    picked = x[torch.arange(x.shape[0], device=x.device), index]
    return picked * (lengths > 0).to(x.dtype).unsqueeze(-1)


def _check(num_items: int, embed_dim: int) -> None:
    if num_items < 3:
        raise ValueError(f"num_items counts padding (0) and unknown (1), so it must be >= 3; got {num_items}")
    if embed_dim < 1:
        raise ValueError(f"embed_dim must be >= 1, got {embed_dim}")


class ItemEmbeddingEncoder(nn.Module):
    """An item embedding table; a user is the masked mean of their history's items.

    The encoder of item2vec (Barkan & Koenigstein, 2016) and of prod2vec-style
    recommenders: all capacity sits in the item table, which the
    ``cooccurrence`` task trains with skip-gram negative sampling.

    Args:
        num_items: vocabulary size V including ids 0 (padding), 1 (unknown) and V − 1 ([MASK]).
        embed_dim: D.
        init_std: std of the normal init; the padding row is zero and stays zero.

    Shape:
        batch["items"], batch["mask"]: (B, T) → sequence (B, T, D), pooled (B, D).
        item_embeddings(): (V, D).
    """

    name: ClassVar[str] = "item-embedding"

    def __init__(self, num_items: int, embed_dim: int = 64, *, init_std: float = 0.1) -> None:
        super().__init__()
        _check(num_items, embed_dim)
        self.embed_dim = embed_dim
        self.items = nn.Embedding(num_items, embed_dim, padding_idx=PAD)
        nn.init.normal_(self.items.weight, std=init_std)
        with torch.no_grad():
            self.items.weight[PAD].zero_()

    def forward(self, batch: dict[str, Tensor]) -> EncoderOutput:
        mask = batch["mask"]
        sequence = self.items(batch["items"]) * mask.unsqueeze(-1)
        return EncoderOutput(sequence=sequence, pooled=masked_mean(sequence, mask), mask=mask)

    def item_embeddings(self) -> Tensor:
        """The item table. Shape: (V, D)."""
        return self.items.weight

    def token_embeddings(self) -> nn.Embedding:
        """The item table as a module, for weight tying. Shape: weight (V, D)."""
        return self.items


class ItemTransformerEncoder(nn.Module):
    """A small SASRec / BERT4Rec-style transformer over item sequences.

    Item + learned position embeddings, a pre-norm ``nn.TransformerEncoder``
    with a key-padding mask, causal attention by default (SASRec, Kang &
    McAuley, 2018; ``causal=False`` gives BERT4Rec's bidirectional encoder,
    Sun et al., 2019). The pooled user vector is the representation at the last
    real position, which under causal attention summarises the whole history.

    Args:
        num_items: vocabulary size V including ids 0 (padding), 1 (unknown) and V − 1 ([MASK]).
        embed_dim: D; must be divisible by ``num_heads``.
        max_len: the longest T accepted (size of the position table).

    Shape:
        batch["items"], batch["mask"]: (B, T), T <= max_len → sequence (B, T, D),
        pooled (B, D). item_embeddings(): (V, D), the input item table.
    """

    name: ClassVar[str] = "item-transformer"

    def __init__(
        self,
        num_items: int,
        embed_dim: int = 64,
        *,
        num_layers: int = 2,
        num_heads: int = 2,
        max_len: int = 200,
        dropout: float = 0.1,
        causal: bool = True,
    ) -> None:
        super().__init__()
        _check(num_items, embed_dim)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.max_len, self.causal = embed_dim, max_len, causal
        self.items = nn.Embedding(num_items, embed_dim, padding_idx=PAD)
        self.positions = nn.Embedding(max_len, embed_dim)
        for table in (self.items, self.positions):
            nn.init.normal_(table.weight, std=0.02)
        with torch.no_grad():
            self.items.weight[PAD].zero_()
        layer = nn.TransformerEncoderLayer(
            embed_dim, num_heads, dim_feedforward=4 * embed_dim, dropout=dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, batch: dict[str, Tensor]) -> EncoderOutput:
        items, mask = batch["items"], batch["mask"]
        steps = items.shape[1]
        if steps > self.max_len:
            raise ValueError(f"sequence length {steps} exceeds max_len={self.max_len}; split with max_len<={self.max_len}")
        positions = torch.arange(steps, device=items.device)
        x = self.items(items) * math.sqrt(self.embed_dim) + self.positions(positions)
        x = self.dropout(x)
        # (B, T) True = ignore; an empty row attends to its position 0 so softmax stays finite
        padding = ~mask
        padding[:, 0] &= mask.any(1)
        attn = None
        if self.causal:  # (T, T) True = may not attend (a later position)
            attn = torch.ones(steps, steps, dtype=torch.bool, device=items.device).triu(1)
        sequence = self.norm(self.encoder(x, mask=attn, src_key_padding_mask=padding, is_causal=self.causal))
        sequence = sequence * mask.unsqueeze(-1)
        return EncoderOutput(sequence=sequence, pooled=last_position(sequence, mask), mask=mask)

    def item_embeddings(self) -> Tensor:
        """The item table. Shape: (V, D)."""
        return self.items.weight

    def token_embeddings(self) -> nn.Embedding:
        """The item table as a module, for weight tying. Shape: weight (V, D)."""
        return self.items


def _fact(info: Mapping[str, Any], key: str, model: str) -> int:
    if key not in info:
        raise ValueError(f"{model}: the dataset's info lacks {key!r}; a recsys dataset must provide it")
    return int(info[key])


def build_item_embedding(ctx: ModelContext, options: ItemEmbeddingOptions) -> ItemEmbeddingEncoder:
    """The ``ModelSpec.build`` factory: the table has ``info["vocab_size"]`` rows."""
    encoder = ItemEmbeddingEncoder(_fact(ctx.info, "vocab_size", "item-embedding"), options.dim, init_std=options.init_std)
    return load_into(encoder, options.weights, "[models.item-embedding] weights")


def build_item_transformer(ctx: ModelContext, options: ItemTransformerOptions) -> ItemTransformerEncoder:
    """The ``ModelSpec.build`` factory: ``info["vocab_size"]`` items, ``info["max_len"]`` positions."""
    encoder = ItemTransformerEncoder(
        _fact(ctx.info, "vocab_size", "item-transformer"), options.dim, num_layers=options.layers,
        num_heads=options.heads, max_len=_fact(ctx.info, "max_len", "item-transformer"),
        dropout=options.dropout, causal=options.causal,
    )
    return load_into(encoder, options.weights, "[models.item-transformer] weights")
