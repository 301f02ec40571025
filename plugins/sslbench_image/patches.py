"""Images as sequences of patches, so sequence tasks (masked-frames: MAE-like) run on images."""
from __future__ import annotations

from torch import Tensor

PATCH_SIZES = (16, 8, 4, 2, 1)


def default_patch_size(image_size: int) -> int:
    """The largest of 16, 8, 4, 2, 1 that divides the side and leaves at least 7 patches per side.

    224 px → 16 (ViT-B/16's 14×14), 32 → 4 (8×8), 28 → 4 (7×7), 8 → 1 (8×8).
    """
    for p in PATCH_SIZES:
        if image_size % p == 0 and image_size // p >= 7:
            return p
    return 1


def patchify(images: Tensor, patch: int) -> Tensor:
    """Non-overlapping p×p patches in raster order, each flattened channel-first (as MAE's targets).

    Shape:
        images (B, C, H, W) with H, W divisible by p → (B, (H/p)·(W/p), C·p·p).
    """
    b, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError(f"patch_size: {patch} must divide the image size {h}×{w}")
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // patch) * (w // patch), c * patch * patch)
