"""The ``image`` modality: batches ``{"image": (B, C, H, W) float in [0, 1]}`` and their views."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from sslbench import Batch, Modality

from sslbench_image import augment
from sslbench_image.patches import default_patch_size, patchify
from sslbench_image.options import ImageViewOptions  # noqa: F401  # torch-free: re-exported


CIFAR_RECIPE_SIDES = (32, 96)
"""Image sides (px) whose auto views follow SimCLR's CIFAR-10 recipe (Chen et al., 2020, appendix B.9; the
authors' CIFAR-10 command in google-research/simclr: ``--use_blur=False --color_jitter_strength=0.5``): Inception
crop of area (0.08, 1) (their ``crop_and_resize``), flip, colour jitter with hue 0.2·s, grey, and no blur."""


class ImageModality(Modality):
    """Images as (B, C, H, W) floats in [0, 1]; provides ``views`` and ``frames`` (patches).

    Args:
        info: the dataset's facts; uses ``image_size`` and ``hflip_invariant``.
        options: the augmentation settings.
    """

    name = "image"

    def __init__(self, info: Mapping[str, Any], options: ImageViewOptions) -> None:
        size = int(info.get("image_size", 32))
        cifar_like = CIFAR_RECIPE_SIDES[0] <= size <= CIFAR_RECIPE_SIDES[1]
        self.crop_scale = options.crop_scale or ((0.08, 1.0) if cifar_like else (0.2, 1.0) if size > 96 else (0.5, 1.0))
        self.crop_ratio = options.crop_ratio
        self.flip = options.flip == "on" or (options.flip == "auto" and bool(info.get("hflip_invariant", True)))
        self.jitter, self.jitter_prob, self.grayscale_prob = options.jitter, options.jitter_prob, options.grayscale_prob
        self.hue = options.hue if options.hue is not None else (0.2 * options.jitter if cifar_like else 0.0)
        self.patch_size = options.patch_size or default_patch_size(size)
        use_blur = options.blur == "on" or (options.blur == "auto" and size > CIFAR_RECIPE_SIDES[1])
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
        if self.jitter > 0 or self.hue > 0:
            s = 0.8 * self.jitter
            x = augment.color_jitter(x, None, brightness=s, contrast=s, saturation=s, p=self.jitter_prob,
                                     hue=min(self.hue, 0.5))
        x = augment.random_grayscale(x, None, self.grayscale_prob)
        if self.blur_kernel:
            x = augment.gaussian_blur(x, None, self.blur_kernel)
        return x


def build_image_modality(info: Mapping[str, Any], options: ImageViewOptions) -> ImageModality:
    """The ``ModalitySpec.build`` factory."""
    return ImageModality(info, options)
