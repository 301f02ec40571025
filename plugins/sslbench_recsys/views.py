"""CL4SRec sequence views: item crop, item mask, item reorder.

Xie et al., 2022, "Contrastive Learning for Sequential Recommendation" (ICDE).
Each function works on a whole right-padded batch at once with per-sample
random parameters (crop start, masked positions, reordered window) and keeps
padding on the right. Default ratios η = 0.6, γ = 0.3, β = 0.6 are those of
the widely used reference implementations (RecBole's CL4SRec/DuoRec).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .splits import UNKNOWN


def _floor_fraction(lengths: Tensor, ratio: float) -> Tensor:
    return torch.floor(lengths.double() * ratio).long()


def _check_ratio(name: str, ratio: float) -> None:
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {ratio}")


def crop(items: Tensor, mask: Tensor, eta: float = 0.6, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Keep a random contiguous run of max(1, ⌊η·L⌋) items, moved to the front.

    Shape:
        items, mask: (B, T) → (B, T), right-padded.
    """
    _check_ratio("eta", eta)
    lengths = mask.sum(1)
    keep = _floor_fraction(lengths, eta).clamp(min=1).minimum(lengths)
    start = (torch.rand(lengths.shape, generator=generator, device=items.device) * (lengths - keep + 1)).long()
    position = torch.arange(items.shape[1], device=items.device)
    source = (start.unsqueeze(1) + position).clamp(max=items.shape[1] - 1)
    new_mask = position < keep.unsqueeze(1)
    return items.gather(1, source) * new_mask, new_mask


def mask_items(
    items: Tensor, mask: Tensor, gamma: float = 0.3, mask_id: int = UNKNOWN, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Replace ⌊γ·L⌋ randomly chosen real items of each row with ``mask_id``.

    ``mask_id`` defaults to the unknown item (1), so the vocabulary needs no
    extra token; the mask stays True there (the position still holds an item).

    Shape:
        items, mask: (B, T) → (B, T).
    """
    _check_ratio("gamma", gamma)
    count = _floor_fraction(mask.sum(1), gamma)
    keys = torch.rand(items.shape, generator=generator, device=items.device).masked_fill(~mask, 2.0)
    order = keys.argsort(1).argsort(1)  # rank of each position among the row's random keys
    chosen = order < count.unsqueeze(1)
    return items.masked_fill(chosen, mask_id), mask.clone()


def reorder(items: Tensor, mask: Tensor, beta: float = 0.6, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Shuffle a random contiguous window of ⌊β·L⌋ items of each row in place.

    Sorting positions by a key that equals the position outside the window and
    a random value inside [start, start + n) permutes only the window.

    Shape:
        items, mask: (B, T) → (B, T).
    """
    _check_ratio("beta", beta)
    lengths = mask.sum(1)
    size = _floor_fraction(lengths, beta)
    start = (torch.rand(lengths.shape, generator=generator, device=items.device) * (lengths - size + 1)).long()
    position = torch.arange(items.shape[1], device=items.device).expand_as(items).double()
    inside = (position >= start.unsqueeze(1)) & (position < (start + size).unsqueeze(1))
    noise = torch.rand(items.shape, generator=generator, dtype=torch.float64, device=items.device)
    keys = torch.where(inside, start.unsqueeze(1) + noise * size.unsqueeze(1), position)
    return items.gather(1, keys.argsort(1)), mask.clone()


def random_view(
    items: Tensor,
    mask: Tensor,
    *,
    eta: float = 0.6,
    gamma: float = 0.3,
    beta: float = 0.6,
    mask_id: int = UNKNOWN,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """CL4SRec's view: each row gets crop, mask or reorder, chosen uniformly per row.

    Shape:
        items, mask: (B, T) → (B, T).
    """
    views = [
        crop(items, mask, eta, generator),
        mask_items(items, mask, gamma, mask_id, generator),
        reorder(items, mask, beta, generator),
    ]
    choice = torch.randint(len(views), (items.shape[0], 1), generator=generator, device=items.device)
    out_items = torch.stack([v[0] for v in views]).gather(0, choice.expand_as(items).unsqueeze(0)).squeeze(0)
    out_mask = torch.stack([v[1] for v in views]).gather(0, choice.expand_as(mask).unsqueeze(0)).squeeze(0)
    return out_items, out_mask


def two_views(batch: dict[str, Tensor], generator: torch.Generator | None = None, **ratios: float) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Two independent CL4SRec views of a batch; other keys are carried over unchanged."""
    out = []
    for _ in range(2):
        items, mask = random_view(batch["items"], batch["mask"], generator=generator, **ratios)
        out.append({**batch, "items": items, "mask": mask})
    return out[0], out[1]
