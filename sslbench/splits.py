"""Fixed, class-balanced draws that dataset plugins use to carve splits (e.g. ``valid``).

A dataset's splits are seeded by a constant the dataset chooses, never by the run's seed,
so every cell and machine sees the same samples in each split. (An evaluator's label
budget, a draw *within* the train split, is seeded from the run's seed by the evaluator.)
"""
from __future__ import annotations

import torch
from torch import Tensor

VALID_SEED = 1
"""Seed of the built-in datasets' validation draws: fixed, independent of the run's seed."""


def stratified_subset(labels: Tensor, size: int | None, seed: int = 0) -> Tensor:
    """Sorted indices of a fixed draw of ``size`` samples that keeps each class's share; all when ``None``.

    Each class gets ``size · n_c / N`` samples rounded by largest remainder, chosen by a
    seeded permutation, so a size always gives the same subset. Written here rather than
    with scikit-learn's splitters, which need a sample of every class left over.

    Shape:
        labels (N,) long → (size,) long.
    """
    n = len(labels)
    if size is None or size >= n:
        return torch.arange(n)
    classes, counts = labels.unique(return_counts=True)
    quota = counts.double() * size / n
    take = quota.floor().long()
    extra = torch.argsort(quota - take, descending=True, stable=True)[: size - int(take.sum())]
    take[extra] += 1
    return _draw(labels, classes, take, seed)


def balanced_subset(labels: Tensor, per_class: int, seed: int = 0) -> Tensor:
    """Sorted indices of ``per_class`` samples of every class, chosen by a seeded permutation.

    The draw of each class is the same one :func:`stratified_subset` makes. A class with
    fewer than ``per_class`` samples is refused (``ValueError`` naming the class): a clamped
    draw would no longer be balanced.

    Shape:
        labels (N,) long → (per_class · C,) long.
    """
    classes, counts = labels.unique(return_counts=True)
    short = torch.nonzero(counts < per_class).flatten()
    if len(short):
        c, have = int(classes[short[0]]), int(counts[short[0]])
        raise ValueError(f"labels_per_class: {per_class} is more than class {c} has ({have}); "
                         f"allowed: 1 to {int(counts.min())} on this split")
    return _draw(labels, classes, torch.full_like(counts, per_class), seed)


def _draw(labels: Tensor, classes: Tensor, take: Tensor, seed: int) -> Tensor:
    """``take[i]`` samples of class ``classes[i]`` each, by one seeded generator in class order; sorted."""
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for c, k in zip(classes.tolist(), take.tolist()):
        members = torch.nonzero(labels == c).flatten()
        picked.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.cat(picked).sort().values

def carve_valid(labels: Tensor, size: int, seed: int = VALID_SEED) -> tuple[Tensor, Tensor]:
    """A fixed class-balanced validation draw of ``size`` samples and the rest, both sorted.

    ``size = 0`` carves nothing. The draw depends only on ``labels``, ``size`` and
    ``seed``, so a dataset's ``valid`` split is the same whatever its other options.

    Shape:
        labels (N,) long → valid (size,) long, rest (N - size,) long indices.
    """
    if size <= 0:
        return torch.zeros(0, dtype=torch.long), torch.arange(len(labels))
    held = stratified_subset(labels, size, seed=seed)
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[held] = False
    return held, torch.nonzero(keep).flatten()
