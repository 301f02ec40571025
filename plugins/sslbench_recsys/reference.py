"""The recsys modality's no-encoder reference ``item-knn``: item-based collaborative filtering.

Item-based CF with cosine similarity (Sarwar et al., 2001, Item-Based Collaborative
Filtering Recommendation Algorithms): an item's vector is its L2-normalised column of
the binary user × item interaction matrix of the ``pretrain`` split, so the dot product
of two item vectors is their cosine similarity. A user is the mean of their history's
item vectors, as with ``item-embedding``, so the ``next-item`` evaluator's dot score of
item j is (1/|history|) Σ_{i ∈ history} cos(i, j) — the item-kNN score without a
neighbourhood cut-off, in the same ranking order as its sum. The ``genre-probe``
evaluator probes the same item table.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import Batch, EncoderOutput, LoadedDataset

from .models import masked_mean

REFERENCE_NAME = "item-knn"


def interaction_matrix(items: Tensor, mask: Tensor, users: Tensor, num_users: int, vocab_size: int) -> Tensor:
    """Binary user × item matrix: 1 where a user's rows hold the item at a real position.

    Shape:
        items, mask (N, T), users (N,) long row → user → (U, V) float.
    """
    matrix = torch.zeros(num_users, vocab_size)
    rows = users[:, None].expand_as(items)[mask]
    matrix[rows, items[mask]] = 1.0
    return matrix


def item_vectors(interactions: Tensor) -> Tensor:
    """Items as L2-normalised columns of the interaction matrix; items nobody touched are 0.

    Shape:
        interactions (U, V) → (V, U).
    """
    return F.normalize(interactions.T, dim=1)


class ItemKNN(nn.Module):
    """A fixed item table of co-occurrence vectors; a user is the masked mean of their items'.

    Shape:
        batch["items"], batch["mask"] (B, T) → sequence (B, T, U), pooled (B, U).
        item_embeddings(): (V, U).
    """

    def __init__(self, items: Tensor) -> None:
        super().__init__()
        self.register_buffer("items", items.float())
        self.embed_dim = int(items.shape[1])

    def forward(self, batch: Batch) -> EncoderOutput:
        mask = batch["mask"]
        sequence = self.items[batch["items"]] * mask.unsqueeze(-1)
        return EncoderOutput(sequence=sequence, pooled=masked_mean(sequence, mask), mask=mask)

    def item_embeddings(self) -> Tensor:
        """The item table. Shape: (V, U)."""
        return self.items


def build_item_knn(dataset: LoadedDataset, options: object) -> ItemKNN:
    """``ModalitySpec.reference_build``: the interaction matrix of the pretrain rows only.

    Rows of one user (a long history cut into ``max_len`` chunks) are one user when the
    dataset lists them in ``extras["pretrain_users"]``; otherwise each row is a user.
    """
    data = dataset.pretrain.data
    items, mask = data["items"], data["mask"].bool()
    users = dataset.extras.get("pretrain_users")
    users = torch.arange(len(items)) if users is None else torch.as_tensor(users, dtype=torch.long)
    num_users = int(users.max()) + 1 if len(users) else 0
    matrix = interaction_matrix(items, mask, users, num_users, int(dataset.info["vocab_size"]))
    return ItemKNN(item_vectors(matrix))
