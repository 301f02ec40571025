"""SimCLR: a projection head and the NT-Xent loss on two views (Chen et al., 2020).

The task needs only the ``views`` capability, so it runs on any modality that can
make two augmented views of a batch.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import Batch, TaskContext, distributed
from sslbench_image.options import SimCLROptions  # noqa: F401  # torch-free: re-exported


def nt_xent_loss(z_a: Tensor, z_b: Tensor, temperature: float) -> Tensor:
    """Normalised temperature-scaled cross-entropy (Chen et al., 2020, eq. 1).

    Each of the 2B projections is classified against the other 2B − 1: its partner
    view is the positive, everything else in the batch a negative; the loss is the
    mean over all 2B anchors. Under torch.distributed the candidates are gathered
    from every rank (with gradients), so negatives span the global batch and the
    local anchors' mean loss, averaged by DDP, equals the one-process loss.

    Shape:
        z_a, z_b: (B, P) projections of the two views of the same B samples.
        returns a scalar.
    """
    b, world, rank = len(z_a), distributed.world_size(), distributed.rank()
    unit_a, unit_b = F.normalize(z_a.float(), dim=1), F.normalize(z_b.float(), dim=1)  # (B, P) each
    anchors = torch.cat([unit_a, unit_b])  # (2B, P), this rank's
    all_a = distributed.gather_with_grad(unit_a)  # (W·B, P)
    all_b = distributed.gather_with_grad(unit_b)
    candidates = torch.cat([all_a, all_b])  # (2·W·B, P): all view-a, then all view-b
    logits = anchors @ candidates.T / temperature  # (2B, 2WB)
    local = torch.arange(b, device=z_a.device) + rank * b  # this rank's rows among the gathered
    own = torch.cat([local, local + world * b])  # where each anchor sits among the candidates
    partner = torch.cat([local + world * b, local])
    logits = logits.masked_fill(F.one_hot(own, 2 * world * b).bool(), float("-inf"))
    return F.cross_entropy(logits, partner)


class ProjectionHead(nn.Module):
    """Linear → BatchNorm → ReLU → Linear, as in SimCLR (and lightly's SimCLRProjectionHead)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Shape: (B, in_dim) → (B, out_dim)."""
        return self.net(x)


class SimCLRTask(nn.Module):
    """Encoder + projection head trained with NT-Xent on two views of each batch."""

    def __init__(self, ctx: TaskContext, options: SimCLROptions) -> None:
        super().__init__()
        self.encoder, self.modality = ctx.encoder, ctx.modality
        self.head = ProjectionHead(ctx.encoder.embed_dim, options.hidden_dim, options.projection_dim)
        self.temperature = options.temperature

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Returns ``loss`` and ``positive_similarity`` (mean cosine of the two views)."""
        view_a, view_b = self.modality.views(batch)
        b = len(next(iter(view_a.values())))
        both = concat_batches(view_a, view_b)
        if both is not None:  # one forward pass over 2B samples when the views stack
            z_a, z_b = self.head(self.encoder(both).pooled).split(b)
        else:
            z_a, z_b = self.head(self.encoder(view_a).pooled), self.head(self.encoder(view_b).pooled)
        loss = nt_xent_loss(z_a, z_b, self.temperature)
        with torch.no_grad():
            positive = F.cosine_similarity(z_a.float(), z_b.float()).mean()
        return {"loss": loss, "positive_similarity": positive}


def concat_batches(a: Batch, b: Batch) -> Batch | None:
    """Stack two batches along dim 0 when every tensor's trailing shape agrees, else None."""
    if a.keys() != b.keys() or any(a[k].shape[1:] != b[k].shape[1:] for k in a):
        return None
    return {k: torch.cat([a[k], b[k]]) for k in a}


def build_simclr(ctx: TaskContext, options: SimCLROptions) -> SimCLRTask:
    """The ``simclr`` factory."""
    return SimCLRTask(ctx, options)
