"""The ``image`` modality: batches ``{"image": (B, C, H, W) float in [0, 1]}`` and their views."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from sslbench import Batch, Modality

from sslbench_image import augment
from sslbench_image.patches import default_patch_size, patchify


@dataclass(frozen=True)
class ImageViewOptions:
    """Augmentations for the two views (SimCLR's recipe, Chen et al., 2020, scaled to small images)."""

    crop_scale: tuple[float, float] | None = None  # area fraction of the random crop; None: (0.2, 1) from 32 px, else (0.5, 1)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio range of the crop
    flip: Literal["auto", "on", "off"] = "auto"  # auto: on unless the dataset says mirroring changes labels
    jitter: float = 0.5  # colour jitter strength s: brightness, contrast, saturation factors in 1 ± 0.8·s
    jitter_prob: float = 0.8
    grayscale_prob: float = 0.2  # RGB images only
    blur: Literal["auto", "on", "off"] = "auto"  # auto: on from 32 px, kernel ≈ 10% of the side
    patch_size: int = 0  # side of the patches frames() cuts; 0: auto (patches.default_patch_size)

    def __post_init__(self) -> None:
        if self.crop_scale is not None and not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ValueError(f"crop_scale: must satisfy 0 < low <= high <= 1, got {list(self.crop_scale)}")
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ValueError(f"crop_ratio: must satisfy 0 < low <= high, got {list(self.crop_ratio)}")
        if self.jitter < 0:
            raise ValueError(f"jitter: must be >= 0, got {self.jitter}")
        if self.patch_size < 0:
            raise ValueError(f"patch_size: must be >= 0 (0: auto), got {self.patch_size}")
        for name in ("jitter_prob", "grayscale_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: must be a probability in [0, 1], got {getattr(self, name)}")


class ImageModality(Modality):
    """Images as (B, C, H, W) floats in [0, 1]; provides ``views`` and ``frames`` (patches).

    Args:
        info: the dataset's facts; uses ``image_size`` and ``hflip_invariant``.
        options: the augmentation settings.
    """

    name = "image"

    def __init__(self, info: Mapping[str, Any], options: ImageViewOptions) -> None:
        size = int(info.get("image_size", 32))
        self.crop_scale = options.crop_scale or ((0.2, 1.0) if size >= 32 else (0.5, 1.0))
        self.crop_ratio = options.crop_ratio
        self.flip = options.flip == "on" or (options.flip == "auto" and bool(info.get("hflip_invariant", True)))
        self.jitter, self.jitter_prob, self.grayscale_prob = options.jitter, options.jitter_prob, options.grayscale_prob
        self.patch_size = options.patch_size or default_patch_size(size)
        use_blur = options.blur == "on" or (options.blur == "auto" and size >= 32)
        self.blur_kernel = max(3, int(0.1 * size) // 2 * 2 + 1) if use_blur else 0

    def views(self, batch: Batch) -> tuple[Batch, Batch]:
        """Two independent augmentations of ``batch["image"]`` (B, C, H, W)."""
        return {"image": self.augment(batch["image"])}, {"image": self.augment(batch["image"])}

    def frames(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The image as a sequence of patches (capability ``frames``), every patch real.

        Shape:
            batch["image"] (B, C, H, W) → features (B, N, C·p·p), valid (B, N) bool.
        """
        patches = patchify(batch["image"], self.patch_size)
        return patches, torch.ones(patches.shape[:2], dtype=torch.bool, device=patches.device)

    def augment(self, images: Any) -> Any:
        """One random view of each image. Shape: (B, C, H, W) → same."""
        x = augment.random_resized_crop(images, None, self.crop_scale, self.crop_ratio)
        if self.flip:
            x = augment.random_hflip(x, None)
        if self.jitter > 0:
            s = 0.8 * self.jitter
            x = augment.color_jitter(x, None, brightness=s, contrast=s, saturation=s, p=self.jitter_prob)
        x = augment.random_grayscale(x, None, self.grayscale_prob)
        if self.blur_kernel:
            x = augment.gaussian_blur(x, None, self.blur_kernel)
        return x


def build_image_modality(info: Mapping[str, Any], options: ImageViewOptions) -> ImageModality:
    """The ``ModalitySpec.build`` factory."""
    return ImageModality(info, options)
