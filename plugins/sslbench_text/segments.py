"""Tokenise documents once, cut them into fixed-length segments, build BERT inputs.

BERT (Devlin et al., 2019, §3.1 and appendix A.2) trains on ``[CLS] A [SEP] B [SEP]``
where B is A's actual continuation half the time (``next_sentence_label`` 0, "IsNext")
and a segment from another document otherwise (label 1, "NotNext"); like BERT's own
"sentences", our segments are fixed-length token spans, since 20 Newsgroups keeps no
sentence boundaries.

Everything is a tensor: ``build_segments`` tokenises the corpus once with the batched
fast tokenizer and stores a ``SegmentStore`` (cacheable with ``torch.save``);
``single_inputs`` / ``pair_inputs`` gather a batch by indexing tensors, with no
per-sample Python.

Short documents and remainders: a document of ``n`` tokens gives ``n // L`` full
segments plus one padded remainder segment of ``n % L`` tokens when that remainder
has at least ``min_tokens`` tokens. So a document shorter than one segment is kept
as one padded segment (counted in ``stats.short_documents``) unless it has fewer than
``min_tokens`` tokens, in which case it is dropped (``stats.dropped_documents``;
with the default ``min_tokens=1`` only empty documents are dropped). Tokens in
dropped remainders are counted in ``stats.dropped_tokens``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import Tensor

from .tokenizer import corpus_fingerprint

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

Batch = dict[str, Tensor]


@dataclass(frozen=True)
class SegmentStats:
    """What cutting did to the corpus."""

    documents: int  # documents given
    tokens: int  # tokens in all documents (no special tokens)
    segments: int  # segments kept
    short_documents: int  # documents shorter than one segment, kept as one padded segment
    dropped_documents: int  # documents with fewer than min_tokens tokens (no segment at all)
    dropped_tokens: int  # tokens in no segment (dropped documents and short remainders)


@dataclass
class SegmentStore:
    """Fixed-length token segments of a corpus, in document order.

    Shape:
        tokens: (S, L) long, ``pad_id`` after each segment's length
        lengths: (S,) long, real tokens per segment, in 1..L
        doc: (S,) long, index of the source document in the texts given
        position: (S,) long, segment number within its document (0 = first)
    """

    tokens: Tensor
    lengths: Tensor
    doc: Tensor
    position: Tensor
    cls_id: int
    sep_id: int
    pad_id: int
    stats: SegmentStats

    @property
    def segment_length(self) -> int:
        return self.tokens.shape[1]

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def has_next(self) -> Tensor:
        """(S,) bool: segment ``i + 1`` continues segment ``i`` in the same document."""
        same = self.doc[1:] == self.doc[:-1]
        return torch.cat([same, same.new_zeros(1)])

    def first_segments(self) -> Tensor:
        """(D',) long: index of each kept document's first segment (for probing by document)."""
        return torch.nonzero(self.position == 0).squeeze(1)

    def save(self, path: str | Path) -> None:
        """Write atomically (temporary file, then rename) with ``torch.save``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "tokens": self.tokens, "lengths": self.lengths, "doc": self.doc, "position": self.position,
            "ids": {"cls": self.cls_id, "sep": self.sep_id, "pad": self.pad_id},
            "stats": asdict(self.stats),
        }
        handle, staging = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        os.close(handle)
        torch.save(state, staging)
        os.replace(staging, path)

    @classmethod
    def load(cls, path: str | Path) -> SegmentStore:
        state = torch.load(path, weights_only=True)
        ids = state["ids"]
        return cls(
            state["tokens"], state["lengths"], state["doc"], state["position"],
            cls_id=ids["cls"], sep_id=ids["sep"], pad_id=ids["pad"], stats=SegmentStats(**state["stats"]),
        )


class NSPPairs(NamedTuple):
    """One next-sentence-prediction example per row.

    Shape:
        a, b: (N,) long segment indices
        label: (N,) long, 0 = b continues a, 1 = b is from another document
    """

    a: Tensor
    b: Tensor
    label: Tensor


def pair_segment_length(max_length: int) -> int:
    """Segment length L so that ``[CLS] A [SEP] B [SEP]`` fits ``max_length`` (2L + 3)."""
    if max_length < 5:
        raise ValueError(f"max_length={max_length} leaves no room for two segments; use max_length >= 5")
    return (max_length - 3) // 2


def single_segment_length(max_length: int) -> int:
    """Segment length L so that ``[CLS] A [SEP]`` fits ``max_length`` (L + 2)."""
    if max_length < 3:
        raise ValueError(f"max_length={max_length} leaves no room for a segment; use max_length >= 3")
    return max_length - 2


def tokenize_texts(texts: Sequence[str], tokenizer: PreTrainedTokenizerFast) -> tuple[Tensor, Tensor]:
    """Tokenise every text once (batched, in Rust), without special tokens.

    Shape:
        returns flat ids (N,) long, all documents concatenated, and lengths (D,) long
    """
    encodings = tokenizer.backend_tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
    arrays = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
    lengths = torch.tensor([len(a) for a in arrays], dtype=torch.long)
    flat = torch.from_numpy(np.concatenate(arrays)) if arrays else torch.zeros(0, dtype=torch.long)
    return flat, lengths


def cut_segments(
    flat_ids: Tensor,
    lengths: Tensor,
    segment_length: int,
    *,
    cls_id: int,
    sep_id: int,
    pad_id: int,
    min_tokens: int = 1,
) -> SegmentStore:
    """Cut concatenated documents into segments of ``segment_length`` tokens (vectorised).

    Shape:
        flat_ids: (N,) long, lengths: (D,) long with ``lengths.sum() == N``
    """
    if not 1 <= min_tokens <= segment_length:
        raise ValueError(f"min_tokens={min_tokens} must be in 1..segment_length={segment_length}")
    L = segment_length
    offsets = torch.cumsum(lengths, 0) - lengths
    remainder = lengths % L
    keep_remainder = remainder >= min_tokens
    per_doc = lengths // L + keep_remainder.long()
    if int(per_doc.sum()) == 0:
        raise ValueError(
            f"no segments: {len(lengths)} documents hold {int(lengths.sum())} tokens, none with "
            f">= min_tokens={min_tokens}; check that the texts are not empty"
        )
    doc = torch.repeat_interleave(torch.arange(len(lengths)), per_doc)
    first_of_doc = torch.repeat_interleave(torch.cumsum(per_doc, 0) - per_doc, per_doc)
    position = torch.arange(len(doc)) - first_of_doc
    start = offsets[doc] + position * L
    seg_lengths = torch.clamp(lengths[doc] - position * L, max=L)
    column = torch.arange(L)
    index = (start[:, None] + column).clamp(max=max(len(flat_ids) - 1, 0))
    tokens = torch.where(column < seg_lengths[:, None], flat_ids[index], pad_id)
    stats = SegmentStats(
        documents=len(lengths),
        tokens=int(lengths.sum()),
        segments=len(doc),
        short_documents=int(((lengths < L) & keep_remainder).sum()),
        dropped_documents=int((per_doc == 0).sum()),
        dropped_tokens=int(torch.where(keep_remainder, 0, remainder).sum()),
    )
    return SegmentStore(tokens, seg_lengths, doc, position, cls_id, sep_id, pad_id, stats)


def build_segments(
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerFast,
    segment_length: int,
    *,
    min_tokens: int = 1,
) -> SegmentStore:
    """Tokenise ``texts`` once and cut them into segments (see the module docstring)."""
    flat, lengths = tokenize_texts(texts, tokenizer)
    return cut_segments(
        flat, lengths, segment_length, min_tokens=min_tokens,
        cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id, pad_id=tokenizer.pad_token_id,
    )


def load_or_build_segments(
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerFast,
    segment_length: int,
    cache_dir: str | Path,
    *,
    min_tokens: int = 1,
) -> SegmentStore:
    """``build_segments`` cached under ``cache_dir`` by hash of (texts, tokenizer, settings)."""
    return load_or_build_stores(texts, tokenizer, [segment_length], cache_dir, min_tokens=min_tokens)[0]


def load_or_build_stores(
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerFast,
    segment_lengths: Sequence[int],
    cache_dir: str | Path,
    *,
    min_tokens: int = 1,
) -> list[SegmentStore]:
    """One cached ``SegmentStore`` per segment length, tokenising ``texts`` at most once.

    Each store is cached under ``cache_dir`` by hash of (texts, tokenizer, length, settings).
    """
    base = {
        "corpus": corpus_fingerprint(texts),
        "tokenizer": hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest(),
        "min_tokens": min_tokens,
        "format": 1,
    }
    stores: list[SegmentStore] = []
    tokenized: tuple[Tensor, Tensor] | None = None
    for length in segment_lengths:
        digest = hashlib.sha256(json.dumps({**base, "segment_length": length}, sort_keys=True).encode()).hexdigest()
        path = Path(cache_dir) / f"segments-{digest[:16]}.pt"
        if path.is_file():
            stores.append(SegmentStore.load(path))
            continue
        tokenized = tokenized or tokenize_texts(texts, tokenizer)
        store = cut_segments(
            *tokenized, length, min_tokens=min_tokens,
            cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id, pad_id=tokenizer.pad_token_id,
        )
        store.save(path)
        stores.append(store)
    return stores


def single_inputs(store: SegmentStore, index: Tensor) -> Batch:
    """``[CLS] A [SEP]`` padded to ``L + 2`` for segments ``index`` (evaluation, probing, MLM).

    Shape:
        index: (B,) long → input_ids, attention_mask, token_type_ids: (B, L + 2) long
    """
    return _bert_inputs(store, [index])


def pair_inputs(store: SegmentStore, a: Tensor, b: Tensor) -> Batch:
    """``[CLS] A [SEP] B [SEP]`` padded to ``2L + 3``; B's tokens and final [SEP] get type 1.

    Shape:
        a, b: (B,) long → input_ids, attention_mask, token_type_ids: (B, 2L + 3) long
    """
    return _bert_inputs(store, [a, b])


def nsp_batch(store: SegmentStore, pairs: NSPPairs, index: Tensor) -> Batch:
    """Pair inputs plus ``next_sentence_label`` for rows ``index`` of ``pairs``.

    Shape:
        index: (B,) long → pair inputs (B, 2L + 3) and next_sentence_label (B,) long
    """
    batch = pair_inputs(store, pairs.a[index], pairs.b[index])
    batch["next_sentence_label"] = pairs.label[index]
    return batch


def sample_nsp_pairs(store: SegmentStore, generator: torch.Generator | None = None) -> NSPPairs:
    """One NSP pair per segment that has a continuation, B true or random with p = 0.5.

    Only segments with a next segment in their document serve as A, so A alone never
    reveals the label. Call once per epoch for fresh negatives (or draw per batch
    with ``draw_pairs``).
    """
    return draw_pairs(store, nsp_anchors(store), generator)


def nsp_anchors(store: SegmentStore) -> Tensor:
    """(N,) long: the segments that have a continuation in their document (NSP's A candidates).

    Raises:
        ValueError: no segment has a continuation, or all come from one document.
    """
    a = torch.nonzero(store.has_next()).squeeze(1)
    if len(a) == 0:
        raise ValueError(
            f"no segment has a continuation ({store.stats.documents} documents, all shorter than "
            f"two segments of {store.segment_length}); NSP needs longer documents or a smaller segment_length"
        )
    if int(store.doc.min()) == int(store.doc.max()):
        raise ValueError("all segments come from one document; NSP negatives need at least two documents")
    return a


def draw_pairs(store: SegmentStore, a: Tensor, generator: torch.Generator | None = None) -> NSPPairs:
    """For each A (a segment with a continuation) draw B: its continuation or, with p = 0.5, a random
    segment of another document (label 1). Negatives are uniform over all other documents' segments,
    drawn exactly without rejection (a document's segments are contiguous).

    Shape:
        a: (N,) long segment indices → NSPPairs of (N,) tensors
    """
    doc_start = a - store.position[a]
    doc_size = torch.bincount(store.doc, minlength=int(store.doc.max()) + 1)[store.doc[a]]
    others = len(store) - doc_size
    if len(a) and int(others.min()) == 0:
        raise ValueError("all segments come from one document; NSP negatives need at least two documents")
    draw = (torch.rand(len(a), generator=generator) * others).long().clamp(max=others - 1)
    negative = torch.where(draw < doc_start, draw, draw + doc_size)
    label = (torch.rand(len(a), generator=generator) < 0.5).long()
    b = torch.where(label == 0, a + 1, negative)
    return NSPPairs(a, b, label)


def _bert_inputs(store: SegmentStore, parts: list[Tensor]) -> Batch:
    """Concatenate ``[CLS] part0 [SEP] part1 [SEP] ...`` row-wise, padded to the fixed width."""
    L = store.segment_length
    rows = len(parts[0])
    width = 1 + len(parts) * (L + 1)
    column = torch.arange(width).expand(rows, width)
    input_ids = torch.full((rows, width), store.pad_id, dtype=torch.long)
    input_ids[:, 0] = store.cls_id
    token_type_ids = torch.zeros((rows, width), dtype=torch.long)
    start = torch.ones(rows, dtype=torch.long)  # where the current part begins
    for type_id, index in enumerate(parts):
        length = store.lengths[index][:, None]
        offset = column - start[:, None]
        inside = (offset >= 0) & (offset < length)
        gathered = store.tokens[index].gather(1, offset.clamp(0, L - 1))
        input_ids = torch.where(inside, gathered, input_ids)
        input_ids = torch.where(offset == length, store.sep_id, input_ids)
        token_type_ids = torch.where(inside | (offset == length), type_id, token_type_ids)
        start = start + length.squeeze(1) + 1
    attention_mask = (column < start[:, None]).long()
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
