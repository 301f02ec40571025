"""k-nearest-neighbour classification on frozen embeddings (cosine similarity).

With ``weighting = "similarity"`` each of the k neighbours votes with weight
exp(s/τ), the protocol of Wu et al. (2018, "Unsupervised Feature Learning via
Non-Parametric Instance Discrimination") that SSL libraries (lightly, solo-learn)
report as "kNN accuracy".

Selection: when the dataset has a ``valid`` split, k is chosen from ``k_grid`` by
the accuracy on ``valid`` with ``train`` as the memory bank (ties go to the smaller
k); ``test`` is then scored once with that k and the same memory bank (train only,
as without a ``valid`` split). One top-k search at the largest k serves the whole
grid: the k nearest neighbours are a prefix of the largest k's. Without a ``valid``
split, or with an empty ``k_grid``, the fixed ``k`` is used. A k above the memory bank's
size (a small label budget) votes with the whole bank. The chosen k is
recorded with ``EvalContext.record_choice`` (the row's ``selected``).
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor

from sslbench import EvalContext
from sslbench_eval.budget import budget_context
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
    return knn_predict_grid(train, train_labels, test, num_classes, (k,), temperature, weighting, chunk)[k]


def knn_predict_grid(
    train: Tensor, train_labels: Tensor, test: Tensor, num_classes: int, ks: tuple[int, ...],
    temperature: float, weighting: str = "similarity", chunk: int = 1024,
) -> dict[int, Tensor]:
    """``knn_predict`` for every k of ``ks`` from one top-k search at the largest k (capped at N).

    Shape:
        train (N, D), train_labels (N,) long, test (M, D); returns k → (M,) long.
    """
    train_n = F.normalize(train.float(), dim=1)
    largest = min(max(ks), len(train))
    preds: dict[int, list[Tensor]] = {k: [] for k in ks}
    for start in range(0, len(test), chunk):
        sims = F.normalize(test[start : start + chunk].float(), dim=1) @ train_n.T  # (m, N)
        top_sim, top_idx = sims.topk(largest, dim=1)  # (m, K), sorted by similarity
        weights = (top_sim / temperature).exp() if weighting == "similarity" else torch.ones_like(top_sim)
        for k in ks:
            kk = min(k, largest)
            votes = torch.zeros(len(sims), num_classes, device=sims.device)
            votes.scatter_add_(1, train_labels[top_idx[:, :kk]], weights[:, :kk])  # (m, C)
            preds[k].append(votes.argmax(dim=1))
    return {k: torch.cat(p) for k, p in preds.items()}


def select_k(train: Tensor, train_labels: Tensor, valid: Tensor, valid_labels: Tensor, num_classes: int,
             options: KNNOptions) -> tuple[int, dict[int, float]]:
    """The k of ``options.k_grid`` with the best valid accuracy (ties: the smaller k), and every score.

    Shape:
        train (N, D), train_labels (N,) long, valid (M, D), valid_labels (M,) long.
    """
    ks = tuple(sorted(set(options.k_grid)))
    if not ks:
        raise ValueError("k_grid: empty; give at least one value or use k")
    preds = knn_predict_grid(train, train_labels, valid, num_classes, ks, options.temperature, options.weighting)
    scores = {k: (preds[k] == valid_labels).float().mean().item() for k in ks}
    return max(ks, key=lambda k: (scores[k], -k)), scores


def run_knn(ctx: EvalContext, options: KNNOptions) -> dict[str, float]:
    """``top1``: accuracy of kNN on the test split with the train split as memory bank.

    k is selected on ``valid`` when the dataset has one (module docstring) and
    recorded as ``selected.k``; test labels are read once, after k is fixed. With a label
    budget the memory bank is the budget's subset of train (:mod:`sslbench_eval.budget`).
    """
    ctx, subset = budget_context(ctx, options)
    train_x, train_y = ctx.embeddings("train"), ctx.labels("train")
    if subset is not None:
        train_x, train_y = train_x[subset.to(train_x.device)], train_y[subset.to(train_y.device)]
    k = options.k
    if ctx.has_split("valid") and options.k_grid:
        valid_y = ctx.labels("valid")
        num_classes = int(max(train_y.max(), valid_y.max())) + 1
        k, _ = select_k(train_x, train_y, ctx.embeddings("valid"), valid_y, num_classes, options)
        ctx.record_choice(k=k)
    test_y = ctx.labels("test")
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    pred = knn_predict(train_x, train_y, ctx.embeddings("test"), num_classes, k, options.temperature,
                       options.weighting)
    return {"top1": (pred == test_y).float().mean().item()}
