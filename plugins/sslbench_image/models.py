"""Image encoders: a small CNN for fast CPU runs, and timm backbones (random, or from outside
weights: :mod:`sslbench_image.pretrained`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from sslbench import Batch, EncoderOutput, ModelContext
from sslbench.weights import load_into
from sslbench_image.options import (  # noqa: F401  # torch-free: re-exported
    SmallCNNOptions, TimmOptions, ResNet18Options,
)


class Normalize(nn.Module):
    """Per-channel standardisation with the dataset's mean and std (given in ``info``)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: Tensor) -> Tensor:
        """Shape: (B, C, H, W) → same."""
        return (images - self.mean) / self.std


def feature_map_output(features: Tensor) -> EncoderOutput:
    """A (B, D, h, w) feature map as per-position features and their mean.

    Shape:
        sequence (B, h·w, D), pooled (B, D).
    """
    sequence = features.flatten(2).transpose(1, 2)
    return EncoderOutput(sequence=sequence, pooled=sequence.mean(dim=1), mask=None)


class SmallCNN(nn.Module):
    """conv3×3-BN-ReLU ×4 (strides 1, 2, 2, 1); embed_dim = 4·width."""

    def __init__(self, channels: int, mean: Sequence[float], std: Sequence[float], width: int = 32) -> None:
        super().__init__()
        widths = [channels, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = [Normalize(mean, std)]
        for i, stride in enumerate([1, 2, 2, 1]):
            layers += [nn.Conv2d(widths[i], widths[i + 1], 3, stride, 1, bias=False),
                       nn.BatchNorm2d(widths[i + 1]), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.embed_dim = 4 * width

    def forward(self, batch: Batch) -> EncoderOutput:
        """Shape: batch["image"] (B, C, H, W) → sequence (B, ⌈H/4⌉·⌈W/4⌉, D), pooled (B, D)."""
        return feature_map_output(self.body(batch["image"]))


def build_small_cnn(ctx: ModelContext, options: SmallCNNOptions) -> SmallCNN:
    """The ``cnn-small`` factory."""
    channels, mean, std = image_facts(ctx.info)
    encoder = SmallCNN(channels, mean, std, options.width)
    encoder.export_facts = {"channels": channels, "image_size": int(ctx.info.get("image_size", 0)),
                            "mean": list(mean), "std": list(std)}
    return load_into(encoder, options.weights, "[models.cnn-small] weights")


class TimmEncoder(nn.Module):
    """A timm model's feature map as an encoder; the classifier head is removed.

    With the small-image stem (ResNet-family models: those with ``conv1`` and
    ``maxpool``), the 7×7 stride-2 convolution becomes 3×3 stride 1 and the max-pool is
    dropped, as for CIFAR in He et al. (2016) and SimCLR (Chen et al., 2020, B.9).
    """

    def __init__(self, arch: str, channels: int, mean: Sequence[float], std: Sequence[float], small_stem: bool,
                 input_size: int = 0) -> None:
        super().__init__()
        import timm

        self.normalize = Normalize(mean, std)
        self.body = _create_seeing_whole_input(timm, arch, channels)
        if small_stem:
            replace_stem_for_small_images(self.body, channels)
        self.embed_dim = int(self.body.num_features)
        self.channels, self.input_size = channels, input_size
        self.export_facts = {"arch": arch, "channels": channels, "small_stem": small_stem, "mean": list(mean),
                             "std": list(std), "input_size": input_size}

    def forward(self, batch: Batch) -> EncoderOutput:
        """Shape: batch["image"] (B, C, H, W) → sequence (B, h·w, D), pooled (B, D).

        Encoders built for other inputs than the dataset's (outside weights) adapt them first:
        one grey channel repeated to the weights' three, and a bilinear (antialiased) resize to the
        weights' input size; normalisation is the weights' own.
        """
        images = batch["image"]
        if images.shape[1] != self.channels:
            images = images.expand(-1, self.channels, -1, -1)
        if self.input_size and tuple(images.shape[-2:]) != (self.input_size, self.input_size):
            images = torch.nn.functional.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                                                     align_corners=False, antialias=True)
        return feature_map_output(self.body.forward_features(self.normalize(images)))


def _create_seeing_whole_input(timm: Any, arch: str, channels: int) -> nn.Module:
    """``timm.create_model`` without weights, and for ResNets with ``zero_init_last=False``.

    timm zero-initialises the last batch norm of every residual block by default (Goyal et
    al., 2017), which makes an *untrained* ResNet the identity along each block: at 28 px its
    output depends only on the top-left 12×12 pixels (the stride-2 shortcuts), so its
    random-init row is a blind baseline. Off for pretrained and random-init alike; the kit
    checks that every part of the input reaches a random-init embedding. Models without the
    argument (not ResNet-family) are built as they are.
    """
    common = dict(pretrained=False, num_classes=0, global_pool="", in_chans=channels)
    try:
        return timm.create_model(arch, zero_init_last=False, **common)
    except TypeError:  # this architecture takes no zero_init_last
        return timm.create_model(arch, **common)


def replace_stem_for_small_images(model: nn.Module, channels: int) -> None:
    """Swap a ResNet-style stem (``conv1`` + ``maxpool``) for 3×3 stride 1 without pooling."""
    conv = getattr(model, "conv1", None)
    if not isinstance(conv, nn.Conv2d) or not hasattr(model, "maxpool"):
        raise ValueError(
            f"small_stem: only ResNet-style timm models (with conv1 and maxpool) can take it; "
            f"{type(model).__name__} cannot; set small_stem = \"off\""
        )
    model.conv1 = nn.Conv2d(channels, conv.out_channels, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()


def build_timm(ctx: ModelContext, options: TimmOptions, name: str | None = None) -> TimmEncoder:
    """The ``timm`` factory (and of named shortcuts like ``resnet18``)."""
    if options.weights:
        from sslbench_image.pretrained import build_timm_from_weights

        return build_timm_from_weights(ctx, options, "timm" if name is None else name)
    channels, mean, std = image_facts(ctx.info)
    size = int(ctx.info.get("image_size", 224))
    small = options.small_stem == "on" or (options.small_stem == "auto" and size < 64)
    return TimmEncoder(options.arch, channels, mean, std, small)


def build_resnet18(ctx: ModelContext, options: ResNet18Options) -> TimmEncoder:
    """The ``resnet18`` factory: ``timm`` with ``arch = "resnet18"``."""
    return build_timm(ctx, TimmOptions(arch="resnet18", small_stem=options.small_stem, weights=options.weights),
                      name="resnet18")


def image_facts(info: Mapping[str, Any]) -> tuple[int, Sequence[float], Sequence[float]]:
    channels = int(info.get("channels", 3))
    return channels, info.get("mean", (0.5,) * channels), info.get("std", (0.25,) * channels)
