"""Two augmented views of a text batch for contrastive pretext tasks (SimCLR-style).

Augmentations, applied independently per row and per view:

1. random contiguous span crop: keep a span of ``ceil(f * n)`` of the ``n`` content
   tokens, ``f ~ U(crop[0], crop[1])``, at a uniform start (CLEAR, Wu et al., 2020,
   "CLEAR: Contrastive Learning for Sentence Representation", span deletion; DeCLUTR,
   Giorgi et al., 2021, span sampling);
2. token dropout inside the span with probability ``dropout``: ``mode="mask"``
   replaces the token by ``[MASK]``, ``mode="drop"`` deletes it and closes the gap
   (CLEAR word deletion; ConSERT, Yan et al., 2021, token cutoff).

Input rows must be single segments ``[CLS] x [SEP] [PAD]...`` (as built by
``segments.single_inputs``). Views keep that layout and the input's width:
``[CLS]`` first, ``[SEP]`` right after the kept tokens, padding after, attention
mask 1 exactly up to ``[SEP]``, token types 0. A row with content keeps at least one
content token (in ``"drop"`` mode the span's first token survives if all would go).
Everything is tensor ops; randomness comes from the ``torch.Generator`` given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

Batch = dict[str, Tensor]

DROPOUT_MODES = ("mask", "drop")


@dataclass(frozen=True)
class SpanCropTokenDropout:
    """Make two views of a ``[CLS] x [SEP]`` batch: span crop, then token dropout."""

    mask_token_id: int
    pad_token_id: int
    crop: tuple[float, float] = (0.5, 1.0)  # fraction of content tokens kept, drawn uniformly
    dropout: float = 0.1  # per-token probability inside the span
    mode: str = "mask"  # "mask": replace with [MASK]; "drop": delete and shift left

    def __post_init__(self) -> None:
        low, high = self.crop
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"crop={self.crop} must satisfy 0 < low <= high <= 1 (fractions of tokens kept); e.g. (0.5, 1.0)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1); e.g. 0.1")
        if self.mode not in DROPOUT_MODES:
            raise ValueError(f"mode={self.mode!r} is not one of {list(DROPOUT_MODES)}")

    def __call__(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Batch, Batch]:
        """Two independent views.

        Shape:
            batch: input_ids, attention_mask, token_type_ids (B, T) → two batches (B, T)
        """
        return self.view(batch, generator), self.view(batch, generator)

    def view(self, batch: Batch, generator: torch.Generator | None = None) -> Batch:
        """One augmented view (see the module docstring).

        Shape:
            batch: input_ids, attention_mask, token_type_ids (B, T) → same keys (B, T)
        """
        ids, attention = batch["input_ids"], batch["attention_mask"]
        if "token_type_ids" in batch and bool((batch["token_type_ids"] != 0).any()):
            raise ValueError("views need single-segment rows [CLS] x [SEP]; got token_type_ids != 0 (sentence pairs)")
        rows, width = ids.shape
        device = ids.device
        draw_device = generator.device if generator is not None else device
        u_frac, u_start = torch.rand((2, rows), generator=generator, device=draw_device).to(device)
        u_drop = torch.rand((rows, width), generator=generator, device=draw_device).to(device)

        n = (attention.sum(1) - 2).clamp(min=0)  # content tokens between [CLS] and [SEP]
        low, high = self.crop
        kept = torch.ceil((low + (high - low) * u_frac) * n).long().clamp(min=1).minimum(n)
        start = 1 + (u_start * (n - kept + 1)).long().minimum(n - kept)  # column of the span's first token
        column = torch.arange(width, device=device).expand(rows, width)
        in_span = (column >= start[:, None]) & (column < (start + kept)[:, None])
        boundary = (column == 0) | (column == (n + 1)[:, None])  # [CLS] and [SEP]
        dropped = in_span & (u_drop < self.dropout)

        if self.mode == "mask":
            ids = torch.where(dropped, self.mask_token_id, ids)
            keep = in_span | boundary
        else:
            emptied = (kept > 0) & ~(in_span & ~dropped).any(1)
            dropped &= ~(emptied[:, None] & (column == start[:, None]))
            keep = (in_span & ~dropped) | boundary
        return _compact(ids, keep, self.pad_token_id)


def _compact(ids: Tensor, keep: Tensor, pad_id: int) -> Batch:
    """Move kept tokens to the left in order, pad the rest.

    Shape:
        ids, keep: (B, T) → input_ids, attention_mask, token_type_ids (B, T) long
    """
    rows, width = ids.shape
    target = torch.where(keep, torch.cumsum(keep.long(), 1) - 1, width)  # width = discard column
    out = torch.full((rows, width + 1), pad_id, dtype=ids.dtype, device=ids.device)
    out.scatter_(1, target, ids)
    length = keep.sum(1, keepdim=True)
    column = torch.arange(width, device=ids.device)
    return {
        "input_ids": out[:, :width],
        "attention_mask": (column < length).long(),
        "token_type_ids": torch.zeros_like(ids),
    }
