"""The sslbench_text plugin's option dataclasses: torch-free, so that ``sslbench list`` describes
them without importing torch; the modules that use them re-export them under their old names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from sslbench_text.tokenizer import SPECIAL_TOKENS  # torch-free


PAIRS_SPLIT = "pretrain-pairs"
"""Name of the NSP split in ``LoadedDataset.extra_splits`` (``TaskSpec(split=...)`` of nsp and mlm-nsp)."""


@dataclass(frozen=True)
class TextDataOptions:
    """Options every text dataset shares."""

    max_length: int = 128  # model length: segments of max_length - 2 tokens, NSP pairs of 2 × (max_length - 3) // 2
    vocab_size: int = 8000  # WordPiece vocabulary incl. the 5 special tokens, trained on the pretraining documents
    min_frequency: int = 2  # a WordPiece merge must occur this often
    pretrain_docs: int = 0  # documents pretrained on (fixed seeded draw from the train documents); 0 = all
    train_docs: int = 0  # labelled documents evaluators fit on: the first of the pretraining documents; 0 = all of them
    test_docs: int = 0  # held-out documents evaluators score (fixed seeded draw); 0 = all
    valid_docs: int = 500  # labelled train documents held out for selection (fixed, class-balanced; at most a fifth); 0 = none
    subset_seed: int = 0  # seed of the document draws (fixed, so every cell sees the same documents)
    short_documents: Literal["pad", "error"] = "pad"  # a document shorter than one segment: pad it, or stop
    path: str = ""  # a local folder that holds the dataset's files (skips the download)
    tokenizer: str = ""  # a Hugging Face tokenizer (folder or hub id) used instead of training WordPiece

    def __post_init__(self) -> None:
        if not 8 <= self.max_length <= 4096:
            raise ValueError(f"max_length: must be in 8..4096 tokens, got {self.max_length}")
        if self.vocab_size < len(SPECIAL_TOKENS):
            raise ValueError(f"vocab_size: must be >= {len(SPECIAL_TOKENS)}, the special tokens "
                             f"{' '.join(SPECIAL_TOKENS)}; got {self.vocab_size} (default 8000)")
        if self.min_frequency < 1:
            raise ValueError(f"min_frequency: must be >= 1, got {self.min_frequency}")
        if self.valid_docs < 0:
            raise ValueError(f"valid_docs: must be >= 0 (0 = no validation split), got {self.valid_docs}")
        for name in ("pretrain_docs", "train_docs", "test_docs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0 (0 = all documents), got {getattr(self, name)}")
        if self.pretrain_docs and self.train_docs > self.pretrain_docs:
            raise ValueError(f"train_docs: must be <= pretrain_docs ({self.pretrain_docs}): the probe's documents "
                             f"are the first pretraining documents; got {self.train_docs}")


@dataclass(frozen=True)
class TextFilesOptions(TextDataOptions):
    """A user's corpus: a folder of .txt files, or a CSV/TSV with a text and an optional label column."""

    test_path: str = ""  # a second folder/table of held-out documents; empty: hold out test_fraction of path's
    text_column: str = "text"  # column with the documents (tables only)
    label_column: str = ""  # column with the labels (tables only); empty: unlabelled
    labels_from_subfolders: bool = False  # folders only: label each file by its subfolder's name
    test_fraction: float = 0.2  # held out when test_path is empty (fixed seeded draw)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction: must be in (0, 1), got {self.test_fraction}")


@dataclass(frozen=True)
class TextViewOptions:
    """Augmentations of the two views (CLEAR, Wu et al., 2020; ConSERT, Yan et al., 2021)."""

    crop: tuple[float, float] = (0.5, 1.0)  # fraction of a segment's tokens kept as one contiguous span
    dropout: float = 0.1  # per-token probability of dropping a kept token
    mode: Literal["mask", "drop"] = "mask"  # a dropped token becomes [MASK] (mask) or is deleted (drop)

    def __post_init__(self) -> None:
        if not 0.0 < self.crop[0] <= self.crop[1] <= 1.0:
            raise ValueError(f"crop: must satisfy 0 < low <= high <= 1, got {list(self.crop)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class MLMAccuracyOptions:
    """The held-out masking protocol; it lands in every result row."""

    seed: int = 0  # masking seed, fixed across cells and seeds so every model sees the same positions
    mlm_probability: float = 0.15  # BERT's rate; 80/10/10 [MASK]/random/unchanged
    max_samples: int = 0  # score the first N held-out samples; 0 = all
    batch_size: int = 256  # samples per forward pass (does not change the result)

    def __post_init__(self) -> None:
        if not 0.0 < self.mlm_probability <= 1.0:
            raise ValueError(f"mlm_probability: must be in (0, 1], got {self.mlm_probability}")
        if self.max_samples < 0 or self.batch_size < 1:
            raise ValueError("max_samples: must be >= 0 (0 = all)" if self.max_samples < 0
                             else "batch_size: must be >= 1")


class BertSize(NamedTuple):
    layers: int
    hidden: int
    heads: int


BERT_SIZES = {
    "bert-tiny": BertSize(layers=2, hidden=128, heads=2),
    "bert-mini": BertSize(layers=4, hidden=256, heads=4),
    "bert-small": BertSize(layers=4, hidden=512, heads=8),
}


POOLINGS = ("mean", "cls")
NORMS = ("post", "pre")


@dataclass(frozen=True)
class BertOptions:
    """Options of ``bert-tiny`` / ``bert-mini`` / ``bert-small`` (sizes are fixed by the name)."""

    pooling: Literal["mean", "cls"] = "mean"  # pooled embedding for evaluators: masked mean over tokens, or [CLS]
    dropout: float = 0.1  # hidden and attention dropout during pretraining (BERT: 0.1)
    norm: Literal["post", "pre"] = "post"  # LayerNorm after each residual (BERT) or before it (pre-LN, Xiong et al., 2020)
    weights: str = ""  # outside weights: a save_pretrained folder, a hub id, a .safetensors file; "" = none

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class MLMOptions:
    """BERT's masked-LM corruption (Devlin et al., 2019, §3.1 and appendix A.1) and head."""

    mlm_probability: float = 0.15  # fraction of maskable tokens chosen for prediction
    mask_replace_prob: float = 0.8  # chosen tokens replaced by [MASK]
    random_replace_prob: float = 0.1  # chosen tokens replaced by a random token (the rest stay unchanged)
    layer_norm_eps: float = 1e-12  # of the head's transform LayerNorm (BERT: 1e-12)
    init_std: float = 0.02  # N(0, std) initialisation of the head (BERT's initializer_range)

    def __post_init__(self) -> None:
        if not 0.0 < self.mlm_probability <= 1.0:
            raise ValueError(f"mlm_probability: must be in (0, 1], got {self.mlm_probability}")
        for name in ("mask_replace_prob", "random_replace_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {getattr(self, name)}")
        if self.mask_replace_prob + self.random_replace_prob > 1.0:
            raise ValueError("mask_replace_prob: mask_replace_prob + random_replace_prob must be <= 1 "
                             f"(the rest stay unchanged), got {self.mask_replace_prob} + {self.random_replace_prob}")
        if self.layer_norm_eps <= 0 or self.init_std <= 0:
            raise ValueError("layer_norm_eps: must be > 0" if self.layer_norm_eps <= 0 else "init_std: must be > 0")


@dataclass(frozen=True)
class NSPOptions:
    """Next-sentence-prediction head settings."""

    init_std: float = 0.02  # N(0, std) initialisation of pooler and classifier (BERT's initializer_range)

    def __post_init__(self) -> None:
        if self.init_std <= 0:
            raise ValueError(f"init_std: must be > 0, got {self.init_std}")


@dataclass(frozen=True)
class MLMNSPOptions(MLMOptions):
    """BERT pretraining: the MLM options; the NSP head shares ``init_std``."""
