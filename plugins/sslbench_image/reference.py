"""The image modality's no-encoder reference ``raw-pixels``: the pixels themselves.

The anchor every image SSL method must beat: a kNN or linear probe on the flattened,
standardised pixels. On Fashion-MNIST it matches a small CNN pretrained with SimCLR
under the suite's kNN protocol (docs/references.md).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from sslbench import Batch, EncoderOutput, LoadedDataset

from sslbench_image.models import Normalize

REFERENCE_NAME = "raw-pixels"


class RawPixels(nn.Module):
    """Flattened pixels, standardised per channel with the dataset's mean and std (``info``,
    computed on the pretraining images), exactly as every image encoder's first layer sees them.

    Shape:
        batch["image"] (B, C, H, W) → pooled (B, C·H·W); no sequence.
    """

    def __init__(self, info: Mapping[str, Any]) -> None:
        super().__init__()
        channels, size = int(info.get("channels", 3)), int(info["image_size"])
        self.normalize = Normalize(info.get("mean", (0.5,) * channels), info.get("std", (0.25,) * channels))
        self.embed_dim = channels * size * size

    def forward(self, batch: Batch) -> EncoderOutput:
        pooled = self.normalize(batch["image"].float()).flatten(1)
        if pooled.shape[1] != self.embed_dim:
            raise ValueError(f"raw-pixels: images of {pooled.shape[1]} values, info says {self.embed_dim} "
                             "(channels × image_size²)")
        return EncoderOutput(sequence=None, pooled=pooled, mask=None)


def build_raw_pixels(dataset: LoadedDataset, options: object) -> RawPixels:
    """``ModalitySpec.reference_build``: nothing is fitted; mean and std come from ``info``."""
    return RawPixels(dataset.info)
