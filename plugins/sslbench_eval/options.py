"""The sslbench_eval plugin's option dataclasses (and data sources): torch-free, so that
``sslbench list`` describes them without importing torch; the modules that use them
re-export them under their old names."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal


def check_label_budget(options: Any) -> None:
    """Refuse a label budget that is out of range or given twice (``labels_per_class`` and ``label_fraction``)."""
    per_class, fraction = options.labels_per_class, options.label_fraction
    if isinstance(per_class, bool) or per_class < 0:
        raise ValueError(f"labels_per_class: must be an integer >= 1 (0 = all labels), got {per_class!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"label_fraction: must be in (0, 1] (1 = all labels), got {fraction!r}")
    if per_class and fraction < 1:
        raise ValueError("labels_per_class and label_fraction: give one label budget, not both")


@dataclass(frozen=True)
class KNNOptions:
    """kNN protocol settings; they land in every result row."""

    k: int = 20  # neighbours that vote when nothing is selected
    k_grid: tuple[int, ...] = (5, 10, 20, 50, 100, 200)  # k values tried on valid; empty: use k
    temperature: float = 0.07  # τ of the exp(s/τ) vote weights
    weighting: Literal["similarity", "uniform"] = "similarity"
    labels_per_class: int = 0  # > 0: read the labels of only this many train samples per class (drawn per seed); 0: all
    label_fraction: float = 1.0  # < 1: read the labels of only this share of the train split (stratified, per seed)

    def __post_init__(self) -> None:
        check_label_budget(self)
        if self.k < 1:
            raise ValueError(f"k: must be >= 1, got {self.k}")
        if any(v < 1 for v in self.k_grid):
            raise ValueError(f"k_grid: every value must be >= 1, got {list(self.k_grid)}")
        if self.temperature <= 0:
            raise ValueError(f"temperature: must be > 0, got {self.temperature}")


@dataclass(frozen=True)
class LinearProbeOptions:
    """Linear-probe protocol settings; they land in every result row."""

    l2: float = 1e-4  # weight of (1/2)·‖W‖² added to the mean cross-entropy when nothing is selected
    l2_grid: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # L2 values tried on valid; empty: use l2
    max_iter: int = 200  # at most this many L-BFGS iterations per fit
    tolerance: float = 1e-4  # stop when every gradient entry is below this (scikit-learn's default tol)
    precision: Literal["float32", "float64"] = "float32"  # float64 only matters for very tight tolerances
    standardize: bool = True  # zero mean, unit variance per feature (train statistics)
    labels_per_class: int = 0  # > 0: read the labels of only this many train samples per class (drawn per seed); 0: all
    label_fraction: float = 1.0  # < 1: read the labels of only this share of the train split (stratified, per seed)

    def __post_init__(self) -> None:
        check_label_budget(self)
        if self.l2 < 0:
            raise ValueError(f"l2: must be >= 0, got {self.l2}")
        if any(v < 0 for v in self.l2_grid):
            raise ValueError(f"l2_grid: every value must be >= 0, got {list(self.l2_grid)}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter: must be >= 1, got {self.max_iter}")
        if self.tolerance <= 0:
            raise ValueError(f"tolerance: must be > 0, got {self.tolerance}")


@dataclass(frozen=True)
class SupervisedOptions:
    """Which labels the supervised reference trains on."""

    label_set: str = ""  # a class label set of the dataset; "" = its first class label set

    def __post_init__(self) -> None:
        if not isinstance(self.label_set, str):
            raise ValueError(f"label_set: must be a label-set name (a string), got {self.label_set!r}")


@dataclass(frozen=True)
class FinetuneOptions:
    """Fine-tuning protocol settings; they land in every result row."""

    steps: int = 200  # optimizer steps of fine-tuning per lr of the grid
    batch_size: int = 64
    lr_grid: tuple[float, ...] = (1e-3, 3e-4)  # selected on the valid split; the first without one
    weight_decay: float = 0.01  # AdamW's, on the encoder and the head
    warmup_fraction: float = 0.1  # linear warmup, then cosine decay to 0
    freeze_encoder: bool = False  # True: train the head only (a linear probe by SGD; the peer check)
    head_init: Literal["probe", "random"] = "probe"  # probe: the head starts from the linear probe's fit (LP-FT)
    labels_per_class: int = 0  # > 0: read the labels of only this many train samples per class (drawn per seed); 0: all
    label_fraction: float = 1.0  # < 1: read the labels of only this share of the train split (stratified, per seed)

    def __post_init__(self) -> None:
        check_label_budget(self)
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size: must be >= 1, got {self.steps} and {self.batch_size}")
        if not self.lr_grid or any(not (lr > 0 and math.isfinite(lr)) for lr in self.lr_grid):
            raise ValueError(f"lr_grid: must list learning rates > 0, got {list(self.lr_grid)}")
        if self.weight_decay < 0 or not 0 <= self.warmup_fraction < 1:
            raise ValueError("weight_decay: must be >= 0; warmup_fraction: must be in [0, 1)")
