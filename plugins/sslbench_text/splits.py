"""Segment stores → the runner's ``TensorSplit``s.

A split stores segment (or NSP-anchor) indices; its ``finish`` step turns a batch of
indices into BERT inputs by tensor indexing into the store (``segments.single_inputs``
/ ``pair_inputs``), then trims the columns that are padding in every row. So a
split costs one index per sample beyond the store, and nothing is re-tokenised.

The ``pretrain-pairs`` split draws each A's B (true continuation or, with p = 0.5,
a segment of another document) afresh for every batch from torch's global generator,
so NSP pairs are resampled over epochs and the runner's seeding makes them
reproducible (Devlin et al., 2019, §3.1).
"""
from __future__ import annotations

import torch
from torch import Tensor

from sslbench import Batch, TensorSplit

from .segments import SegmentStore, draw_pairs, nsp_anchors, pair_inputs, single_inputs


def trim_padding(batch: Batch) -> Batch:
    """Drop trailing columns that are padding in every row (the encoder ignores padding anyway).

    Shape:
        (B, T) tensors → (B, T') with T' = the batch's longest row; (B,) tensors unchanged
    """
    width = int(batch["attention_mask"].sum(1).max())
    return {k: v[:, :width] if v.ndim == 2 else v for k, v in batch.items()}


class SingleInputs:
    """``finish`` of a single-segment split: ``segment`` indices → ``[CLS] A [SEP]`` inputs."""

    def __init__(self, store: SegmentStore) -> None:
        self.store = store

    def __call__(self, batch: Batch) -> Batch:
        """Shape: segment (B,) long → input_ids, attention_mask, token_type_ids (B, T) long."""
        return trim_padding(single_inputs(self.store, batch["segment"]))


class PairInputs:
    """``finish`` of the NSP split: ``pair_a`` anchors → fresh ``[CLS] A [SEP] B [SEP]`` pairs."""

    def __init__(self, store: SegmentStore) -> None:
        self.store = store

    def __call__(self, batch: Batch) -> Batch:
        """Shape: pair_a (B,) long → input_ids, attention_mask, token_type_ids (B, T), next_sentence_label (B,)."""
        pairs = draw_pairs(self.store, batch["pair_a"], generator=None)
        out = pair_inputs(self.store, pairs.a, pairs.b)
        out["next_sentence_label"] = pairs.label
        return trim_padding(out)


def single_split(store: SegmentStore, segments: Tensor | None = None,
                 labels: dict[str, Tensor] | None = None) -> TensorSplit:
    """A split of single segments (all of ``store`` by default), optionally labelled.

    Shape:
        segments: (N,) long indices into ``store``; labels: name → (N,) long
    """
    index = torch.arange(len(store)) if segments is None else segments
    return TensorSplit({"segment": index}, labels=labels or {}, finish=SingleInputs(store))


def pairs_split(store: SegmentStore) -> TensorSplit:
    """The ``pretrain-pairs`` split: one sample per segment that has a continuation (NSP's A)."""
    return TensorSplit({"pair_a": nsp_anchors(store)}, finish=PairInputs(store))
