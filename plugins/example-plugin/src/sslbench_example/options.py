"""The example plugin's option dataclasses (and its one label-set name): torch-free, so that ``sslbench list`` describes
them without importing torch; the modules that use them re-export them under their old names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


LABEL_SET = "cultivar"


@dataclass(frozen=True)
class WineOptions:
    """The split of the 178 wines."""

    test_fraction: float = 0.3  # stratified hold-out evaluators score (54 of 178)
    valid_fraction: float = 0.2  # share of the train rows held out for selection (25 of 124); 0: none

    def __post_init__(self) -> None:
        if not 0.1 <= self.test_fraction <= 0.5:
            raise ValueError(f"test_fraction: must be in [0.1, 0.5], got {self.test_fraction}")
        if self.valid_fraction != 0 and not 0.1 <= self.valid_fraction <= 0.5:
            raise ValueError(f"valid_fraction: must be 0 (no validation split) or in [0.1, 0.5], "
                             f"got {self.valid_fraction}")


@dataclass(frozen=True)
class BYOLOptions:
    """BYOL's heads and target network."""

    projection_dim: int = 128  # output of projector and predictor (paper: 256)
    hidden_dim: int = 512  # hidden units of projector and predictor (paper: 4096)
    momentum: float = 0.99  # τ: target ← τ·target + (1 − τ)·online after every step (paper: 0.996 → 1)

    def __post_init__(self) -> None:
        for name in ("projection_dim", "hidden_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be a positive integer, got {getattr(self, name)}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum: must be in [0, 1), got {self.momentum}")


@dataclass(frozen=True)
class TabularViewOptions:
    """How the two views of a row differ."""

    corruption: float = 0.6  # share of view b's features replaced from the marginal (SCARF: 0.6)
    noise: float = 0.1  # std of Gaussian noise added to both views, in standardised units (0: off)

    def __post_init__(self) -> None:
        if not 0.0 <= self.corruption < 1.0:
            raise ValueError(f"corruption: must be in [0, 1), got {self.corruption}")
        if self.noise < 0:
            raise ValueError(f"noise: must be >= 0, got {self.noise}")


@dataclass(frozen=True)
class TabularMLPOptions:
    """SCARF's encoder: a ReLU MLP."""

    width: int = 256  # units per hidden layer = embed_dim (SCARF: 256)
    depth: int = 4  # hidden layers (SCARF: 4)

    def __post_init__(self) -> None:
        if self.width < 1 or self.depth < 1:
            raise ValueError(f"{'width' if self.width < 1 else 'depth'}: must be a positive integer")


DISTANCES = ("cosine", "euclidean")


@dataclass(frozen=True)
class CentroidOptions:
    """The protocol; it lands in every result row as ``protocol``."""

    distance: Literal["cosine", "euclidean"] = "cosine"  # cosine: L2-normalise embeddings first (SimpleShot L2N)

    def __post_init__(self) -> None:
        if self.distance not in DISTANCES:
            raise ValueError(f"distance: must be one of {', '.join(DISTANCES)}, got {self.distance!r}")
