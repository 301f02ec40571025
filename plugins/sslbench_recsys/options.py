"""The sslbench_recsys plugin's option dataclasses: torch-free, so that ``sslbench list`` describes
them without importing torch; the modules that use them re-export them under their old names."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class RecsysViewOptions:
    """CL4SRec augmentation ratios (Xie et al., 2022; RecBole's defaults)."""

    eta: float = 0.6  # crop keeps a contiguous run of ⌊η·L⌋ items
    gamma: float = 0.3  # mask replaces ⌊γ·L⌋ items by [MASK]
    beta: float = 0.6  # reorder shuffles a window of ⌊β·L⌋ items

    def __post_init__(self) -> None:
        for name in ("eta", "gamma", "beta"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class MovieLens100kOptions:
    """MovieLens-100k: 100,000 ratings (as implicit feedback) of 1,682 movies by 943 users."""

    path: str | None = None  # a folder holding ml-100k.inter/.item/.user; tried before every other source
    # Most recent items kept per row. 20, not SASRec's 200: a user embedded as the mean of
    # their items is sharper over recent ones (ml-100k validation HR@10, item2vec: 20 beat
    # 200), and a transformer over 20 positions is cheap on a CPU.
    max_len: int = 20

    def __post_init__(self) -> None:
        _check_max_len(self.max_len)


@dataclass(frozen=True)
class InteractionsCSVOptions:
    """Your own log: one interaction per line with user, item and timestamp columns."""

    path: str | None = None  # the log file (CSV, or TSV/other with sep); required
    user_col: str = "user_id"
    item_col: str = "item_id"
    time_col: str = "timestamp"  # numbers (e.g. Unix seconds); ties keep the file's order
    sep: str | None = None  # None: "," for .csv files, a tab otherwise
    labels_path: str | None = None  # optional item labels file: one row per item
    labels_item_col: str = "item_id"
    labels_col: str = "genre"  # the item's labels joined by label_sep, e.g. Action|Comedy
    label_sep: str = "|"
    label_set: str = "genre"  # the name of that item label set (genre-probe's label_set)
    max_len: int = 20  # most recent items kept per row (see movielens-100k)

    def __post_init__(self) -> None:
        _check_max_len(self.max_len)
        for name in ("user_col", "item_col", "time_col", "labels_item_col", "labels_col", "label_sep", "label_set"):
            if not getattr(self, name):
                raise ValueError(f"{name}: must be a non-empty string")


@dataclass(frozen=True)
class CooccurrenceOptions:
    """Options of the ``cooccurrence`` task (skip-gram with negative sampling)."""

    window: int = 5  # pairs up to this many positions apart, both directions (word2vec: 5)
    negatives: int = 5  # negatives per pair (word2vec: 5-20 for small data)
    power: float = 0.75  # negatives ~ count ** power; 0.75 is word2vec's, 0 uniform (see CooccurrenceTask)
    tied: bool = True  # context vectors = the encoder's own table (False: a separate task table)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window: must be >= 1, got {self.window}")
        if self.negatives < 1:
            raise ValueError(f"negatives: must be >= 1, got {self.negatives}")
        if not math.isfinite(self.power):
            raise ValueError(f"power: must be a finite number, got {self.power}")


@dataclass(frozen=True)
class NextItemOptions:
    """Options of the ``next-item`` evaluator: its protocol, stored in every result row
    (``protocol``) by the runner.

    Only full ranking with expected tie-breaking is offered: sampled candidates
    change the numbers several-fold and reorder methods (Krichene & Rendle, 2020);
    ``candidates`` and ``ties`` are fields anyway so that every row says so.
    """

    candidates: Literal["full"] = "full"  # every item of the vocabulary competes with the target
    exclude_seen: bool = True  # items of the user's history are not candidates (the target always is)
    ties: Literal["expected"] = "expected"  # the target's rank is averaged over the items tied with it
    scoring: Literal["dot", "cosine", "linear-probe"] = "dot"  # how the frozen encoder scores items (module doc)
    k: int = 10  # HR@K / NDCG@K cut-off, as SASRec and BERT4Rec report
    split: Literal["test", "valid"] = "test"  # valid: the item before the test item, for model selection
    probe_prefixes: int = 16  # linear-probe scoring: random prefixes per pretraining row
    probe_epochs: int = 10  # linear-probe scoring: passes over the prefixes
    probe_lr: float = 1e-2  # linear-probe scoring: Adam learning rate
    probe_batch_size: int = 512  # linear-probe scoring: prefixes per Adam step

    def __post_init__(self) -> None:
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring: unknown {self.scoring!r}; available: {', '.join(SCORINGS)}")
        if self.split not in ("test", "valid"):
            raise ValueError(f"split: unknown {self.split!r}; available: test, valid")
        for name in ("k", "probe_prefixes", "probe_epochs", "probe_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.probe_lr <= 0:
            raise ValueError(f"probe_lr: must be > 0, got {self.probe_lr}")


@dataclass(frozen=True)
class GenreProbeOptions:
    """Options of the ``genre-probe`` evaluator; they land in every result row as its protocol."""

    label_set: str = "genre"  # which item label set of the dataset to probe
    test_fraction: float = 0.3  # labelled items held out for scoring
    valid_fraction: float = 0.15  # labelled items held out (after test) to select l2 on; 0: no selection
    l2: float = 1e-4  # weight of (1/2)·‖w‖² added to each label's mean cross-entropy when nothing is selected
    l2_grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # L2 values tried on the validation items; empty: l2
    max_iter: int = 100  # L-BFGS iterations
    threshold: float = 0.5  # a label is predicted where its sigmoid reaches this
    seed: int = 0  # the item train/test split; fixed so that every cell scores the same items

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction: must be in (0, 1), got {self.test_fraction}")
        if not 0.0 <= self.valid_fraction < 1.0 - self.test_fraction:
            raise ValueError(f"valid_fraction: must be in [0, 1 - test_fraction), got {self.valid_fraction}")
        if self.l2 < 0:
            raise ValueError(f"l2: must be >= 0, got {self.l2}")
        if any(v < 0 for v in self.l2_grid):
            raise ValueError(f"l2_grid: must be >= 0 each, got {list(self.l2_grid)}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter: must be >= 1, got {self.max_iter}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold: must be in (0, 1), got {self.threshold}")


@dataclass(frozen=True)
class ItemEmbeddingOptions:
    """``item-embedding``: an item table; a user is the mean of their history's items."""

    dim: int = 64  # D; 64 is item2vec-sized for a few thousand items
    init_std: float = 0.1  # N(0, std) init of the table (not 0.02: SGNS needs some initial spread)
    weights: str = ""  # outside weights: a .safetensors file, a folder holding one, hf-hub:org/name; "" = none

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise ValueError(f"dim: must be >= 1, got {self.dim}")
        if self.init_std <= 0:
            raise ValueError(f"init_std: must be > 0, got {self.init_std}")


@dataclass(frozen=True)
class ItemTransformerOptions:
    """``item-transformer``: a small transformer over the item sequence."""

    dim: int = 64  # D; must be divisible by heads
    layers: int = 2  # SASRec and BERT4Rec use 2
    heads: int = 2
    dropout: float = 0.1
    causal: bool = False  # False: bidirectional (BERT4Rec, for mlm); True: causal (SASRec)
    weights: str = ""  # outside weights: a .safetensors file, a folder holding one, hf-hub:org/name; "" = none

    def __post_init__(self) -> None:
        for name in ("dim", "layers", "heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.dim % self.heads:
            raise ValueError(f"dim: must be divisible by heads ({self.heads}), got {self.dim}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")


def _check_max_len(max_len: int) -> None:
    if not 2 <= max_len <= 1000:
        raise ValueError(f"max_len: {MAX_LEN_HELP}, got {max_len}")


SCORINGS = ("dot", "cosine", "linear-probe")


MAX_LEN_HELP = "must be an integer from 2 to 1000"
