"""k-nearest-neighbour classification on frozen embeddings (cosine similarity).

With ``weighting = "similarity"`` each of the k neighbours votes with weight
exp(s/τ), the protocol of Wu et al. (2018, "Unsupervised Feature Learning via
Non-Parametric Instance Discrimination") that SSL libraries (lightly, solo-learn)
report as "kNN accuracy".
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from sslbench import EvalContext
from sslbench_eval.options import KNNOptions  # noqa: F401  # torch-free: re-exported


def knn_predict(
    train: Tensor, train_labels: Tensor, test: Tensor, num_classes: int, k: int,
    temperature: float, weighting: str = "similarity", chunk: int = 1024,
) -> Tensor:
    """Predicted class of each test embedding by its k most cosine-similar train embeddings.

    Ties in the vote go to the lowest class id.

    Shape:
        train (N, D), train_labels (N,) long, test (M, D); returns (M,) long.
    """
    train_n = F.normalize(train.float(), dim=1)
    k = min(k, len(train))
    preds = []
    for start in range(0, len(test), chunk):
        sims = F.normalize(test[start : start + chunk].float(), dim=1) @ train_n.T  # (m, N)
        top_sim, top_idx = sims.topk(k, dim=1)  # (m, k)
        weights = (top_sim / temperature).exp() if weighting == "similarity" else torch.ones_like(top_sim)
        votes = torch.zeros(len(sims), num_classes, device=sims.device)
        votes.scatter_add_(1, train_labels[top_idx], weights)  # (m, C)
        preds.append(votes.argmax(dim=1))
    return torch.cat(preds)


def run_knn(ctx: EvalContext, options: KNNOptions) -> dict[str, float]:
    """``top1``: accuracy of kNN on the test split with the train split as memory bank."""
    train_y, test_y = ctx.labels("train"), ctx.labels("test")
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    pred = knn_predict(ctx.embeddings("train"), train_y, ctx.embeddings("test"), num_classes,
                       options.k, options.temperature, options.weighting)
    return {"top1": (pred == test_y).float().mean().item()}
