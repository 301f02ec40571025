"""``DatasetSpec.example`` functions of the image datasets: a few synthetic samples, no files.

Its own module (imported only when the conformance kit asks for an example), so that the
plugin's hook module imports no torch.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from sslbench import DatasetContext, LoadedDataset, TensorSplit

from sslbench_image import datasets


def tiny_images(label_set: str, size: int, hflip_invariant: bool,
                channels: int = 1) -> Callable[[DatasetContext, object], LoadedDataset]:
    """``DatasetSpec.example``: 32 random uint8 images channels × size × size, 4 classes, 16 train / 8 valid / 8 test."""

    def example(ctx: DatasetContext, options: object) -> LoadedDataset:
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (32, channels, size, size), dtype=torch.uint8, generator=generator)
        labels, fit, held, score = torch.arange(32) % 4, slice(0, 16), slice(16, 24), slice(24, 32)

        def split(part: slice) -> TensorSplit:
            return TensorSplit({"image": images[part]}, {label_set: labels[part]}, finish=datasets.to_unit_float)

        return LoadedDataset(
            pretrain=TensorSplit({"image": images[fit]}, finish=datasets.to_unit_float),
            train=split(fit), test=split(score), valid=split(held),
            info=datasets.image_info(images[fit], num_classes=4, hflip_invariant=hflip_invariant),
            fingerprint="example",
        )

    return example


example_digits = tiny_images("digit", 8, False)
example_fashion_mnist = tiny_images("category", 28, True)
example_mnist_5k = tiny_images("digit", 28, False)
example_cifar10 = tiny_images("category", 32, True, channels=3)
example_cifar100 = tiny_images("category", 32, True, channels=3)
example_stl10 = tiny_images("category", 96, True, channels=3)
example_imagefolder = tiny_images("label", 32, True, channels=3)  # the default size is 64; 32 keeps the kit fast
