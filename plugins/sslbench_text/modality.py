"""The ``text`` modality: BERT inputs and the primitives tasks build on.

A batch holds ``input_ids``, ``attention_mask`` and ``token_type_ids``, each (B, T)
long (``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``, padded), plus
``next_sentence_label`` (B,) long in sentence-pair batches.

Capabilities:

* ``views``: span crop + token dropout (``views.SpanCropTokenDropout``), so generic
  contrastive tasks (e.g. SimCLR) run on text;
* ``tokens``: ``tokens(batch) -> (ids, maskable)``, ``with_tokens(batch, ids)``,
  ``vocab_size``, ``mask_token_id``, ``special_ids`` — what MLM needs, the same
  protocol an item-sequence modality offers for BERT4Rec.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from sslbench import Batch, Modality

from .views import SpanCropTokenDropout
from sslbench_text.options import TextViewOptions  # noqa: F401  # torch-free: re-exported


class TextModality(Modality):
    """Token-id batches of a WordPiece vocabulary; provides ``views`` and ``tokens``.

    Args:
        info: the dataset's facts: ``vocab_size``, ``pad_token_id``, ``mask_token_id``,
            ``special_ids``.
        options: view settings.
    """

    name = "text"

    def __init__(self, info: Mapping[str, Any], options: TextViewOptions) -> None:
        self.vocab_size = int(info["vocab_size"])
        self.mask_token_id = int(info["mask_token_id"])
        self.pad_token_id = int(info["pad_token_id"])
        self.special_ids = tuple(int(i) for i in info["special_ids"])
        self._special = torch.tensor(self.special_ids, dtype=torch.long)
        self._views = SpanCropTokenDropout(
            self.mask_token_id, self.pad_token_id, crop=options.crop, dropout=options.dropout, mode=options.mode
        )

    def views(self, batch: Batch) -> tuple[Batch, Batch]:
        """Two independent span-crop + token-dropout views of single-segment rows (global torch RNG).

        Shape:
            batch (B, T) → two batches (B, T)
        """
        return self._views(batch, None)

    def tokens(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The token ids and where a corruption may put its masks (real, non-special tokens).

        Shape:
            returns ids (B, T) long and maskable (B, T) bool
        """
        ids = batch["input_ids"]
        maskable = batch["attention_mask"].bool() & ~torch.isin(ids, self._special.to(ids.device))
        return ids, maskable

    def with_tokens(self, batch: Batch, ids: Tensor) -> Batch:
        """``batch`` with its token ids replaced (e.g. by a masked copy). Shape: ids (B, T) long."""
        return {**batch, "input_ids": ids}


def build_text_modality(info: Mapping[str, Any], options: TextViewOptions) -> TextModality:
    """The ``ModalitySpec.build`` factory."""
    return TextModality(info, options)
