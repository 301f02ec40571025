"""The sslbench_eval plugin's option dataclasses (and data sources): torch-free, so that
``sslbench list`` describes them without importing torch; the modules that use them
re-export them under their old names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class KNNOptions:
    """kNN protocol settings; they land in every result row."""

    k: int = 20  # neighbours that vote
    temperature: float = 0.07  # τ of the exp(s/τ) vote weights
    weighting: Literal["similarity", "uniform"] = "similarity"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k: must be >= 1, got {self.k}")
        if self.temperature <= 0:
            raise ValueError(f"temperature: must be > 0, got {self.temperature}")


@dataclass(frozen=True)
class LinearProbeOptions:
    """Linear-probe protocol settings; they land in every result row."""

    l2: float = 1e-4  # weight of (1/2)·‖W‖² added to the mean cross-entropy
    max_iter: int = 200  # at most this many L-BFGS iterations
    tolerance: float = 1e-4  # stop when every gradient entry is below this (scikit-learn's default tol)
    precision: Literal["float32", "float64"] = "float32"  # float64 only matters for very tight tolerances
    standardize: bool = True  # zero mean, unit variance per feature (train statistics)

    def __post_init__(self) -> None:
        if self.l2 < 0:
            raise ValueError(f"l2: must be >= 0, got {self.l2}")
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
