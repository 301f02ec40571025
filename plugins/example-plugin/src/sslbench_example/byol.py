"""BYOL: Bootstrap Your Own Latent (Grill et al., 2020).

An online network (encoder → projector → predictor) predicts, for each view, the
projection that a target network (an exponential moving average of the online encoder
and projector) gives the other view. The loss is the normalised MSE between the two,
``2 − 2·cos(p, z)``, summed over both directions; no negatives are needed.

Scaled to the small encoders of this benchmark: projection 128 and hidden 512 units
(paper: 256 and 4096), and a constant EMA rate τ = 0.99 (paper: 0.996 rising to 1 on a
cosine schedule, which needs the total number of steps that a task here is not told).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import Batch, Modality, TaskContext
from sslbench_example.options import BYOLOptions  # noqa: F401  # torch-free: re-exported


def mlp_head(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """BYOL's projector/predictor: Linear → BatchNorm → ReLU → Linear.

    Shape:
        (B, in_dim) → (B, out_dim)
    """
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
                         nn.Linear(hidden_dim, out_dim))


def normalized_mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean over the batch of ‖p/‖p‖ − z/‖z‖‖² = 2 − 2·cos(p, z); no gradient flows into ``target``.

    Shape:
        prediction, target: (B, D) → scalar
    """
    return (2.0 - 2.0 * F.cosine_similarity(prediction, target.detach(), dim=-1)).mean()


@torch.no_grad()
def output_std(z: Tensor) -> Tensor:
    """Collapse monitor (Chen & He, 2021, SimSiam, Sec. 4.1): the std over the batch of the
    L2-normalised outputs, averaged over dimensions; ≈ 1/√D when spread out, 0 when collapsed.

    Shape:
        z: (B, D) → scalar
    """
    return F.normalize(z.float(), dim=1).std(dim=0).mean()


class BYOL(nn.Module):
    """Online encoder + projector + predictor against an EMA target; ``forward`` returns the symmetric loss.

    The target is updated at the start of every training-mode forward, i.e. once per
    optimizer step (the training loop is the runner's; a task has no after-step hook).
    """

    def __init__(self, encoder: nn.Module, modality: Modality, options: BYOLOptions) -> None:
        super().__init__()
        self.encoder, self.modality, self.momentum = encoder, modality, options.momentum
        self.projector = mlp_head(encoder.embed_dim, options.hidden_dim, options.projection_dim)
        self.predictor = mlp_head(options.projection_dim, options.hidden_dim, options.projection_dim)
        self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)

    @torch.no_grad()
    def update_target(self) -> None:
        """target ← τ·target + (1 − τ)·online for parameters; buffers (BatchNorm statistics) are copied."""
        for online, target in ((self.encoder, self.target_encoder), (self.projector, self.target_projector)):
            for p_online, p_target in zip(online.parameters(), target.parameters()):
                p_target.lerp_(p_online.detach(), 1.0 - self.momentum)
            for b_online, b_target in zip(online.buffers(), target.buffers()):
                b_target.copy_(b_online)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Two views; each view's prediction regresses the other view's target projection."""
        if self.training:
            self.update_target()
        view_a, view_b = self.modality.views(batch)
        p_a = self.predictor(self.projector(self.encoder(view_a).pooled))  # (B, P)
        p_b = self.predictor(self.projector(self.encoder(view_b).pooled))
        with torch.no_grad():
            z_a = self.target_projector(self.target_encoder(view_a).pooled)  # (B, P)
            z_b = self.target_projector(self.target_encoder(view_b).pooled)
        loss = normalized_mse(p_a, z_b) + normalized_mse(p_b, z_a)
        return {"loss": loss, "output_std": output_std(z_a)}  # an extra log: lands in curves.jsonl


def build_byol(ctx: TaskContext, options: BYOLOptions) -> BYOL:
    """The ``TaskSpec.build`` factory: BYOL around the cell's freshly built encoder."""
    return BYOL(ctx.encoder, ctx.modality, options)
