"""The text modality's no-encoder reference ``tfidf``: tf-idf of the very token ids encoders see.

Bag-of-words with tf-idf weights (Salton & Buckley, 1988; scikit-learn's
``TfidfTransformer`` defaults: raw counts, smooth IDF ln((1 + n) / (1 + df)) + 1,
rows L2-normalised) over the dataset's WordPiece vocabulary, special tokens and
padding left out. The IDF is fitted on the ``pretrain`` split only. On 20 Newsgroups
it is far ahead of every small pretrained text encoder (docs/references.md).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import Batch, EncoderOutput, LoadedDataset, TensorSplit

REFERENCE_NAME = "tfidf"
FIT_BATCH = 1024  # pretrain rows per counting step


def token_counts(batch: Batch, vocab_size: int, special: Tensor) -> Tensor:
    """How often each vocabulary id occurs among a row's real, non-special tokens.

    Shape:
        batch["input_ids"], batch["attention_mask"] (B, T); special (S,) long → (B, V) float.
    """
    ids = batch["input_ids"]
    real = batch["attention_mask"].bool() & ~torch.isin(ids, special.to(ids.device))
    counts = torch.zeros(ids.shape[0], vocab_size, device=ids.device)
    return counts.scatter_add_(1, ids, real.float())


def smooth_idf(document_frequency: Tensor, documents: int) -> Tensor:
    """scikit-learn's ``smooth_idf``: ln((1 + n) / (1 + df)) + 1, as if one extra document held every term.

    Shape:
        document_frequency (V,) → (V,) float.
    """
    return torch.log((1.0 + documents) / (1.0 + document_frequency.double())).float() + 1.0


def _batches(split: TensorSplit, size: int) -> Iterable[Batch]:
    for start in range(0, len(split), size):
        yield split.batch(torch.arange(start, min(start + size, len(split))))


def fit_idf(split: TensorSplit, vocab_size: int, special: Tensor) -> Tensor:
    """The IDF of every vocabulary id over the rows of ``split`` (the pretrain split).

    Shape:
        returns (V,) float.
    """
    df = torch.zeros(vocab_size, dtype=torch.float64)
    for batch in _batches(split, FIT_BATCH):
        df += (token_counts(batch, vocab_size, special) > 0).sum(0).double()
    return smooth_idf(df, len(split))


class TfidfReference(nn.Module):
    """L2-normalised tf-idf vectors of a batch's token ids.

    Args:
        idf: (V,) inverse document frequencies (:func:`fit_idf`).
        special_ids: ids never counted ([CLS], [SEP], [PAD], [MASK], [UNK]).

    Shape:
        batch["input_ids"], batch["attention_mask"] (B, T) → pooled (B, V); no sequence.
    """

    def __init__(self, idf: Tensor, special_ids: Iterable[int]) -> None:
        super().__init__()
        self.register_buffer("idf", idf.float())
        self.register_buffer("special", torch.tensor(sorted(set(special_ids)), dtype=torch.long))
        self.embed_dim = int(idf.shape[0])

    def forward(self, batch: Batch) -> EncoderOutput:
        weights = token_counts(batch, self.embed_dim, self.special) * self.idf
        return EncoderOutput(sequence=None, pooled=F.normalize(weights, dim=1), mask=None)


def build_tfidf(dataset: LoadedDataset, options: object) -> TfidfReference:
    """``ModalitySpec.reference_build``: the IDF from the pretrain split, the tokenizer's vocabulary."""
    vocab_size, special = int(dataset.info["vocab_size"]), [int(i) for i in dataset.info["special_ids"]]
    idf = fit_idf(dataset.pretrain, vocab_size, torch.tensor(special, dtype=torch.long))
    return TfidfReference(idf, special)
