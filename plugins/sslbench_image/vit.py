"""A small Vision Transformer (timm's) that can mask patches: MAE-style pretraining on images.

``patch-transformer`` provides ``frame-masking``: where ``batch["frame_mask"]``
(B, N) is True, the patch embedding is replaced by a learned mask token before the
position embeddings — the SimMIM formulation (Xie et al., 2022) of masked image
modelling, which keeps every token in the encoder (MAE, He et al., 2022, drops them
instead). With the image modality's ``frames`` (its patches) the generic
``masked-frames`` task becomes masked patch reconstruction.
"""
from __future__ import annotations


import torch
from torch import nn

from sslbench import Batch, EncoderOutput, ModelContext

from sslbench.weights import load_into
from sslbench_image.models import Normalize, image_facts
from sslbench_image.patches import default_patch_size
from sslbench_image.options import PatchTransformerOptions  # noqa: F401  # torch-free: re-exported


class PatchTransformer(nn.Module):
    """timm's VisionTransformer without class token, with a learned mask token.

    ``frame_stride`` = 1: one model position per patch, in raster order, matching
    the modality's ``frames()``.
    """

    frame_stride = 1

    def __init__(self, image_size: int, channels: int, mean, std, options: PatchTransformerOptions) -> None:
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        self.patch_size = options.patch_size or default_patch_size(image_size)
        self.normalize = Normalize(mean, std)
        self.vit = VisionTransformer(
            img_size=image_size, patch_size=self.patch_size, in_chans=channels, embed_dim=options.dim,
            depth=options.depth, num_heads=options.heads, num_classes=0, class_token=False, global_pool="avg",
        )
        self.mask_token = nn.Parameter(torch.zeros(options.dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.embed_dim = options.dim

    def forward(self, batch: Batch) -> EncoderOutput:
        """Shape: batch["image"] (B, C, H, W), optional batch["frame_mask"] (B, N) bool
        → sequence (B, N, D), pooled (B, D) (mean over patches), mask (B, N) all True."""
        tokens = self.vit.patch_embed(self.normalize(batch["image"]))  # (B, N, D)
        frame_mask = batch.get("frame_mask")
        if frame_mask is not None:
            if frame_mask.shape != tokens.shape[:2]:
                raise ValueError(f"frame_mask must be (B, N) = {tuple(tokens.shape[:2])}, got {tuple(frame_mask.shape)}")
            tokens = torch.where(frame_mask.unsqueeze(-1), self.mask_token.to(tokens.dtype), tokens)
        x = self.vit.norm_pre(self.vit._pos_embed(tokens))  # timm's own order: embed, positions, pre-norm
        sequence = self.vit.norm(self.vit.blocks(x))
        mask = torch.ones(sequence.shape[:2], dtype=torch.bool, device=sequence.device)
        return EncoderOutput(sequence=sequence, pooled=sequence.mean(dim=1), mask=mask)


def build_patch_transformer(ctx: ModelContext, options: PatchTransformerOptions) -> PatchTransformer:
    """The ``patch-transformer`` factory."""
    channels, mean, std = image_facts(ctx.info)
    encoder = PatchTransformer(int(ctx.info.get("image_size", 32)), channels, mean, std, options)
    encoder.export_facts = {"channels": channels, "image_size": int(ctx.info.get("image_size", 32)),
                            "mean": list(mean), "std": list(std)}
    return load_into(encoder, options.weights, "[models.patch-transformer] weights")
