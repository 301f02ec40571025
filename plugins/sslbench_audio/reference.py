"""The audio modality's no-encoder reference ``frame-stats``: per-clip mean and std of its frames.

The classic utterance-level summary of frame features (mean and standard deviation
pooling, e.g. Snyder et al., 2018's x-vector statistics pooling, applied to the input
frames instead of learned ones). On FSDD's MFCCs it beats masked-frames pretraining
under the suite's kNN protocol (docs/references.md).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from sslbench import Batch, EncoderOutput, LoadedDataset

from sslbench_audio.batching import lengths_to_mask

REFERENCE_NAME = "frame-stats"


def clip_stats(features: Tensor, valid: Tensor) -> Tensor:
    """Mean and population std (ddof 0) of each clip's real frames, concatenated.

    Shape:
        features (B, T, F), valid (B, T) bool → (B, 2F): [mean (F) | std (F)]; 0 for clips without frames.
    """
    weights = valid.to(features.dtype).unsqueeze(-1)  # (B, T, 1)
    count = weights.sum(1).clamp_min(1.0)  # (B, 1)
    mean = (features * weights).sum(1) / count
    var = (((features - mean.unsqueeze(1)) ** 2) * weights).sum(1) / count
    return torch.cat([mean, var.clamp_min(0.0).sqrt()], dim=1)


class FrameStats(nn.Module):
    """Per-clip statistics of the (standardised) frames the modality hands every encoder.

    Shape:
        batch["features"] (B, T, F), batch["lengths"] (B,) → pooled (B, 2F); no sequence.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.embed_dim = 2 * num_features

    def forward(self, batch: Batch) -> EncoderOutput:
        features = batch["features"].float()
        valid = lengths_to_mask(batch["lengths"], features.shape[1]).to(features.device)
        return EncoderOutput(sequence=None, pooled=clip_stats(features, valid), mask=None)


def build_frame_stats(dataset: LoadedDataset, options: object) -> FrameStats:
    """``ModalitySpec.reference_build``: nothing is fitted; F comes from ``info["num_features"]``."""
    return FrameStats(int(dataset.info["num_features"]))
