"""Multi-label linear probe on frozen item embeddings (e.g. movie genres) → micro-F1.

A linear layer with per-label sigmoid (binary cross-entropy) is trained in
torch on a random train split of the labelled items and thresholded at 0.5 on
the held-out items: the linear evaluation protocol of SSL (e.g. SimCLR, Chen
et al., 2020) applied to item vectors, much as item2vec (Barkan & Koenigstein,
2016) checks its embeddings against genres.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .splits import FIRST_ITEM, ItemVocab


@dataclass(frozen=True)
class ProbeSettings:
    """Settings of the multi-label probe; they belong in the result row."""

    test_fraction: float = 0.3
    epochs: int = 300  # full-batch Adam steps; a few thousand items, so this is cheap
    lr: float = 1e-2
    weight_decay: float = 1e-4
    threshold: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


def label_matrix(labels: pd.DataFrame, vocab: ItemVocab) -> tuple[Tensor, Tensor]:
    """Align a multi-hot label frame (index: item key) with vocabulary ids.

    Returns the label matrix and which ids have a label row; padding, unknown
    and items without a row are unlabelled.

    Shape:
        → labels (V, G) float, labelled (V,) bool.
    """
    labelled = torch.zeros(len(vocab), dtype=torch.bool)
    labelled[FIRST_ITEM:] = torch.tensor(vocab.keys.isin(labels.index))
    matrix = torch.zeros(len(vocab), labels.shape[1])
    matrix[FIRST_ITEM:] = torch.tensor(labels.reindex(vocab.keys, fill_value=False).to_numpy(dtype="float32"))
    return matrix, labelled


def micro_f1(predicted: Tensor, true: Tensor) -> float:
    """Micro-averaged F1 = 2·TP / (2·TP + FP + FN) over every (item, label) cell.

    Shape:
        predicted, true: (N, G) bool.
    """
    predicted, true = predicted.bool(), true.bool()
    tp = (predicted & true).sum().item()
    wrong = (predicted ^ true).sum().item()
    return 2 * tp / (2 * tp + wrong) if tp + wrong else 0.0


def multilabel_probe(embeddings: Tensor, labels: Tensor, labelled: Tensor, settings: ProbeSettings = ProbeSettings()) -> dict[str, float]:
    """Train the linear probe on a random split of the labelled items; micro-F1 on the rest.

    Embeddings are standardised with the train items' mean and std.

    Shape:
        embeddings: (V, D); labels: (V, G) 0/1; labelled: (V,) bool.
    """
    generator = torch.Generator().manual_seed(settings.seed)
    ids = torch.nonzero(labelled).squeeze(1)
    ids = ids[torch.randperm(len(ids), generator=generator)]
    n_test = max(1, round(settings.test_fraction * len(ids)))
    test, train = ids[:n_test], ids[n_test:]
    x = embeddings.detach().float().cpu()
    mean, std = x[train].mean(0), x[train].std(0).clamp(min=1e-6)
    x = (x - mean) / std
    linear = nn.Linear(x.shape[1], labels.shape[1])
    nn.init.zeros_(linear.weight)  # convex problem: a fixed start keeps it deterministic without the global RNG
    nn.init.zeros_(linear.bias)
    optimizer = torch.optim.Adam(linear.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    for _ in range(settings.epochs):
        loss = F.binary_cross_entropy_with_logits(linear(x[train]), labels[train].float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = torch.sigmoid(linear(x[test])) >= settings.threshold
    return {"micro_f1": micro_f1(predicted, labels[test] > 0), "train_items": float(len(train)), "test_items": float(len(test))}
